import Table from "cli-table3";
import type { ScanReporter } from "./scan-reporter.js";
import type { ScanSummary } from "./scan-summary.js";

/** How many exposed hosts the text summary lists before pointing to `ringfence hosts`. */
const HOSTS_SHOWN = 25;

function netbiosName(details: Readonly<Record<string, unknown>>): string {
  const nbstat = details["udp/137"] as {
    names?: { name: string; suffix: number; group: boolean }[];
  };
  const unique = nbstat?.names?.find((n) => n.suffix === 0 && !n.group);
  return unique?.name ?? "";
}

export function renderSummaryText(summary: ScanSummary): string {
  const { scan, counts } = summary;
  const lines: string[] = [];
  lines.push(
    `scan ${scan.id} ${scan.status}: ${scan.probesDone}/${scan.totalProbes} probes, ` +
      `${summary.hostsAnswering} hosts answered, ${summary.exposedHosts.length} exposed`,
  );
  lines.push(
    `  open ${counts.open}  closed ${counts.closed}  filtered ${counts.filtered}  open|filtered ${counts["open|filtered"]}`,
  );
  if (summary.openByService.length > 0) {
    const byService = new Table({
      head: ["service", "hosts open"],
      style: { head: [], border: [], compact: true },
    });
    for (const row of summary.openByService) byService.push([row.service, String(row.hosts)]);
    lines.push(byService.toString());
  }
  const checked = new Map(summary.checks.hosts.map((h) => [h.address, h]));
  if (summary.checks.hostsChecked > 0) {
    const verdicts = new Table({
      head: ["MS03-026 / MS03-039 verdict", "hosts"],
      style: { head: [], border: [], compact: true },
    });
    for (const row of summary.checks.byClassification)
      verdicts.push([row.classification, String(row.hosts)]);
    if (summary.checks.backdoors > 0)
      verdicts.push(["BLASTER BACKDOOR (cmd.exe on TCP 4444)", String(summary.checks.backdoors)]);
    lines.push(verdicts.toString());
  }
  if (summary.exposedHosts.length > 0) {
    const withChecks = summary.checks.hostsChecked > 0;
    const hosts = new Table({
      head: ["host", "open", "netbios name", ...(withChecks ? ["verdict"] : [])],
      style: { head: [], border: [], compact: true },
    });
    for (const host of summary.exposedHosts.slice(0, HOSTS_SHOWN)) {
      const verdict = checked.get(host.address);
      const words = [verdict?.classification ?? "", verdict?.backdoor === true ? "BACKDOOR" : ""];
      hosts.push([
        host.address,
        host.open.join(" "),
        netbiosName(host.details),
        ...(withChecks ? [words.filter((w) => w !== "").join(" + ") || "-"] : []),
      ]);
    }
    lines.push(hosts.toString());
    const more = summary.exposedHosts.length - HOSTS_SHOWN;
    if (more > 0)
      lines.push(
        `… and ${more} more exposed hosts: ringfence hosts --scan ${scan.id} --state open`,
      );
  }
  return lines.join("\n");
}

export class TextReporter implements ScanReporter {
  constructor(private readonly write: (text: string) => void) {}

  observations(): void {
    // The text format is a summary at the end; live progress goes to stderr.
  }

  finish(summary: ScanSummary): void {
    this.write(renderSummaryText(summary) + "\n");
  }
}
