import type { HostCheckReport } from "../checks/index.js";
import type { ProbeObservation } from "../scan/index.js";
import type { ScanSummary } from "./scan-summary.js";

/** One reporter per output format; the scan command never branches on the format itself. */
export interface ScanReporter {
  /** Called as results arrive (streaming formats write here). */
  observations(scanId: string, observations: readonly ProbeObservation[]): void;
  /** Called as each host's checks complete. */
  hostChecked?(scanId: string, report: HostCheckReport): void;
  /** Called once, after the scan ended and everything is stored. */
  finish(summary: ScanSummary): void;
}

export type OutputFormat = "text" | "json" | "jsonl";
