import type { HostCheckReport } from "../checks/index.js";
import type { CheckRunInput } from "../store/index.js";

/** Store rows for one host's results (one run per check; findings per advisory). */
export function checkRunInputs(scanId: string | null, report: HostCheckReport): CheckRunInput[] {
  return report.results.map((result) => ({
    scanId,
    address: report.address,
    protocol: result.protocol,
    port: result.port,
    checkId: result.checkId,
    advisories: result.advisories,
    verdict: result.verdict,
    classification: result.classification,
    reasonCode: result.reason.code,
    reason: result.reason.message,
    evidence: result.evidence,
    startedAt: result.startedAt,
    finishedAt: result.finishedAt,
  }));
}
