/** Result model and renderers for scans (text, JSON, JSON lines). */
export { summarizeScan, type ExposedHost, type ScanSummary } from "./scan-summary.js";
export type { OutputFormat, ScanReporter } from "./scan-reporter.js";
export { renderSummaryText, TextReporter } from "./text-reporter.js";
export { JsonLinesReporter, JsonReporter } from "./json-reporter.js";

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
