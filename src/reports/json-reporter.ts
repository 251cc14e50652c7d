import type { HostCheckReport } from "../checks/index.js";
import type { ProbeObservation } from "../scan/index.js";
import type { ScanReporter } from "./scan-reporter.js";
import type { ScanSummary } from "./scan-summary.js";

/** One JSON document at the end (`--json`), for tools that read a whole result. */
export class JsonReporter implements ScanReporter {
  constructor(private readonly write: (text: string) => void) {}

  observations(): void {}

  finish(summary: ScanSummary): void {
    this.write(JSON.stringify({ type: "ringfence.scan", version: 1, ...summary }, null, 2) + "\n");
  }
}

/**
 * One JSON object per line as results arrive (`--jsonl`): an interrupted scan still leaves every
 * result it printed, and `jq`/log shippers read it line by line. Ends with a summary line.
 */
export class JsonLinesReporter implements ScanReporter {
  constructor(private readonly write: (text: string) => void) {}

  observations(scanId: string, observations: readonly ProbeObservation[]): void {
    if (observations.length === 0) return;
    let out = "";
    for (const o of observations)
      out += JSON.stringify({ type: "observation", scan: scanId, ...o }) + "\n";
    this.write(out);
  }

  hostChecked(scanId: string, report: HostCheckReport): void {
    this.write(JSON.stringify({ type: "check", scan: scanId, ...report }) + "\n");
  }

  finish(summary: ScanSummary): void {
    this.write(JSON.stringify({ type: "summary", ...summary }) + "\n");
  }
}
