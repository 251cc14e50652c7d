import type { HostCheckReport } from "../checks/index.js";
import { renderSmbFingerprint } from "./smb-output.js";

/**
 * Text for one host: the combined RPCSS verdict, each check's verdict and reason, and with
 * `evidence` every exchange it was drawn from (what a reviewer needs to trust an UNKNOWN or a
 * VULNERABLE).
 */
export function renderHostReport(report: HostCheckReport, options: { evidence: boolean }): string {
  const lines: string[] = [];
  const head = report.rpcss
    ? `${report.address}  tcp/${report.rpcss.port}  ${report.rpcss.classification}`
    : `${report.address}`;
  lines.push(head);
  if (report.smb !== null)
    lines.push("  SMB fingerprint:", ...renderSmbFingerprint(report.smb, "    "));
  if (report.results.length === 0 && report.smb === null)
    lines.push("  no selected check applies (no matching open port)");
  let evidencePrinted = false;
  for (const result of report.results) {
    lines.push(`  ${result.checkId}: ${result.verdict} — ${result.reason.message}`);
    // The RPC checks share one sequence: print its evidence once.
    const rpcSequence =
      report.rpcss !== null && result.classification === report.rpcss.classification;
    if (options.evidence && (!evidencePrinted || !rpcSequence)) {
      for (const step of result.evidence) {
        const facts = [
          step.outcome,
          step.status,
          step.stubLength !== undefined ? `${step.stubLength}-byte stub` : undefined,
        ].filter((x) => x !== undefined);
        lines.push(`    #${step.connection ?? "-"} ${step.step}: ${facts.join(", ")}`);
      }
      if (rpcSequence) evidencePrinted = true;
    }
  }
  return lines.join("\n") + "\n";
}
