/** Result models and renderers: scans (text, JSON, JSON lines), inventory reports, scan diffs. */
export { summarizeScan, type ExposedHost, type ScanSummary } from "./scan-summary.js";
export type { OutputFormat, ScanReporter } from "./scan-reporter.js";
export { renderSummaryText, TextReporter } from "./text-reporter.js";
export { JsonLinesReporter, JsonReporter } from "./json-reporter.js";
export {
  findingFingerprint,
  loadReportModel,
  serviceName,
  type FindingIdentity,
  type ReportFinding,
  type ReportHost,
  type ReportModel,
  type ReportOptions,
} from "./report-model.js";
export { burndown, escapeHtml, renderHtmlReport } from "./html-reporter.js";
export {
  REPORT_FORMATS,
  REPORT_RENDERERS,
  type ReportContext,
  type ReportFormat,
  type ReportRenderer,
} from "./report-formats.js";
export { diffScans, renderScanDiffText, type ScanDiff } from "./scan-diff.js";

import type { OutputFormat, ScanReporter } from "./scan-reporter.js";
import { JsonLinesReporter, JsonReporter } from "./json-reporter.js";
import { TextReporter } from "./text-reporter.js";

export function createReporter(format: OutputFormat, write: (text: string) => void): ScanReporter {
  switch (format) {
    case "json":
      return new JsonReporter(write);
    case "jsonl":
      return new JsonLinesReporter(write);
    case "text":
      return new TextReporter(write);
  }
}
