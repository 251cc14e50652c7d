/**
 * One renderer per report format over one model (src/reports/report-model.ts); the CLI and the
 * API pick a renderer from this table and never branch on the format themselves.
 */
import { checkById } from "../checks/index.js";
import type { AdvisoryCatalog } from "../advisories/index.js";
// The writers' own modules, not the interchange index: that also loads the import readers and
// their XML parser, which every command that prints a report would pay for at start-up.
import { renderFindingsCsv } from "../interchange/csv-writer.js";
import { renderJsonLines } from "../interchange/jsonl-writer.js";
import { renderNmapXml } from "../interchange/nmap-xml-writer.js";
import { renderSarif, type SarifCheckInfo } from "../interchange/sarif-writer.js";
import { renderHtmlReport } from "./html-reporter.js";
import type { ReportModel } from "./report-model.js";

export const REPORT_FORMATS = ["html", "csv", "jsonl", "nmap-xml", "sarif"] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface ReportContext {
  readonly version: string;
  /** For rule metadata (titles, CVEs, help URIs); reports without it name checks by id only. */
  readonly catalog?: AdvisoryCatalog;
}

export interface ReportRenderer {
  /** The format needs a scan (nmap XML is one scan's result). */
  readonly needsScan: boolean;
  readonly mediaType: string;
  render(model: ReportModel, context: ReportContext): string;
}

function describeCheck(catalog: AdvisoryCatalog | undefined) {
  return (checkId: string): SarifCheckInfo | undefined => {
    const check = checkById(checkId);
    if (check === undefined) return undefined;
    const advisories = check.advisories.map((id) => catalog?.get(id));
    const helpUri = advisories
      .flatMap((a) => a?.references ?? [])
      .map((r) => r.url)
      .find((url) => url !== undefined);
    return {
      title: check.title,
      cves: check.cves,
      ...(helpUri !== undefined ? { helpUri } : {}),
      advisories: check.advisories.map((id, i) => ({ id, title: advisories[i]?.title ?? id })),
      safety: check.safety,
    };
  };
}

export const REPORT_RENDERERS: Readonly<Record<ReportFormat, ReportRenderer>> = {
  html: {
    needsScan: false,
    mediaType: "text/html; charset=utf-8",
    render: (model, context) => renderHtmlReport(model, { version: context.version }),
  },
  csv: {
    needsScan: false,
    mediaType: "text/csv; charset=utf-8; header=present",
    render: (model) => renderFindingsCsv(model),
  },
  jsonl: {
    needsScan: false,
    mediaType: "application/jsonl",
    render: (model, context) => renderJsonLines(model, { version: context.version }),
  },
  "nmap-xml": {
    needsScan: true,
    mediaType: "application/xml",
    render: (model, context) => renderNmapXml(model, { version: context.version }),
  },
  sarif: {
    needsScan: false,
    mediaType: "application/sarif+json",
    render: (model, context) =>
      renderSarif(model, {
        version: context.version,
        describeCheck: describeCheck(context.catalog),
      }),
  },
};
