/** Formats other tools read and write: nmap XML, masscan output, SARIF, CSV, JSON Lines. */
export {
  IMPORT_FORMATS,
  type ImportedHost,
  type ImportedPort,
  type ImportedScan,
  type ImportFormat,
} from "./imported-scan.js";
export {
  detectImportFormat,
  IMPORT_FORMAT_CHOICES,
  readImport,
  type ImportFormatChoice,
} from "./import-reader.js";
export { readNmapXml } from "./nmap-xml-reader.js";
export { readMasscanJson, readMasscanList } from "./masscan-reader.js";
export { DEFAULT_XML_LIMITS, importError, parseUntrustedXml, type XmlLimits } from "./xml-input.js";
export { NMAP_XML_PROFILE, renderNmapXml, type NmapXmlOptions } from "./nmap-xml-writer.js";
export { CSV_COLUMNS, csvField, csvRow, renderFindingsCsv } from "./csv-writer.js";
export { JSONL_SCHEMAS, renderJsonLines } from "./jsonl-writer.js";
export {
  renderSarif,
  SARIF_FINGERPRINT_KEY,
  SARIF_SCHEMA_URI,
  type SarifCheckInfo,
  type SarifOptions,
} from "./sarif-writer.js";
