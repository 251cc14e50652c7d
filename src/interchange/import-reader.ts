import { IMPORT_FORMATS, type ImportFormat, type ImportedScan } from "./imported-scan.js";
import { readMasscanJson, readMasscanList } from "./masscan-reader.js";
import { readNmapXml } from "./nmap-xml-reader.js";
import { importError } from "./xml-input.js";

export type ImportFormatChoice = ImportFormat | "auto";
export const IMPORT_FORMAT_CHOICES: readonly ImportFormatChoice[] = ["auto", ...IMPORT_FORMATS];

/** Guesses the format from the first bytes, as `file` would: XML, JSON, or masscan's list. */
export function detectImportFormat(text: string): ImportFormat | undefined {
  const head = text
    .slice(0, 4096)
    .replace(/^\uFEFF/, "")
    .trimStart();
  if (head.startsWith("<")) return /scanner="masscan"/.test(head) ? "masscan-xml" : "nmap-xml";
  if (head.startsWith("[") || head.startsWith("{")) return "masscan-json";
  if (head.startsWith("#masscan") || /^(open|closed) (tcp|udp) \d+ /.test(head))
    return "masscan-list";
  return undefined;
}

/** Reads one result file; throws RINGFENCE_IMPORT_FILE (one line) on anything it cannot read. */
export function readImport(text: string, file: string, choice: ImportFormatChoice): ImportedScan {
  const format = choice === "auto" ? detectImportFormat(text) : choice;
  if (format === undefined)
    throw importError(
      file,
      "is not a format ringfence recognises (nmap -oX, masscan -oJ/-oD/-oX/-oL); name it with --format",
    );
  switch (format) {
    case "nmap-xml":
    case "masscan-xml":
      return readNmapXml(text.replace(/^\uFEFF/, ""), file);
    case "masscan-json":
      return readMasscanJson(text, file);
    case "masscan-list":
      return readMasscanList(text, file);
  }
}
