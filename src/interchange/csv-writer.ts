/**
 * Findings as CSV: RFC 4180 (CRLF line ends, a header row, fields with a comma, quote, CR or LF
 * quoted and their quotes doubled, §2), and safe to open in a spreadsheet: a cell that starts with
 * = + - @ (or a tab or CR, which some spreadsheets skip before a formula) is prefixed with a
 * single quote, as OWASP's "CSV Injection" guidance recommends.
 */
import type { ReportFinding, ReportModel } from "../reports/report-model.js";

const FORMULA_START = /^[=+\-@\t\r]/;

/** One RFC 4180 field, formula-neutralised. */
export function csvField(value: string | number | null | undefined): string {
  let text = value === null || value === undefined ? "" : String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(fields: readonly (string | number | null | undefined)[]): string {
  return fields.map(csvField).join(",") + "\r\n";
}

const COLUMNS: readonly [string, (f: ReportFinding) => string | number | null][] = [
  ["address", (f) => f.address],
  ["hostnames", (f) => f.hostnames.join(" ")],
  ["protocol", (f) => f.protocol],
  ["port", (f) => f.port],
  ["advisory", (f) => f.advisory],
  ["check", (f) => f.checkId],
  ["verdict", (f) => f.verdict],
  ["classification", (f) => f.classification],
  ["status", (f) => f.status],
  ["state", (f) => f.state],
  ["rating", (f) => f.rating],
  ["zone", (f) => f.zone],
  ["outcome", (f) => f.outcome],
  ["protect_by", (f) => f.protectBy],
  ["fix_by", (f) => f.fixBy],
  ["verify_by", (f) => f.verifyBy],
  ["overdue", (f) => f.overdue.join(" ")],
  ["first_seen", (f) => f.firstSeen],
  ["last_seen", (f) => f.lastSeen],
  ["reason", (f) => f.reason],
  ["fingerprint", (f) => f.fingerprint],
];

export const CSV_COLUMNS: readonly string[] = COLUMNS.map(([name]) => name);

export function renderFindingsCsv(model: ReportModel): string {
  let out = csvRow(CSV_COLUMNS);
  for (const finding of model.findings) out += csvRow(COLUMNS.map(([, get]) => get(finding)));
  return out;
}
