/**
 * Threat intelligence from files, offline: the CISA KEV catalog (JSON, research §3.7) and FIRST
 * EPSS daily scores (CSV, research §3.8). Nothing here touches the network; the user downloads
 * the files and names them. A malformed file fails with the file, the path or line, and why.
 *
 * KEV absence is not evidence of no exploitation (research §0.3: none of the 2003 CVEs is in
 * KEV), so exploitation facts also come from the advisory catalog and from `exploitation`
 * reports; EPSS never sets exploitation (research §5.3 D-EXPL).
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { z } from "zod";
import {
  compareText,
  fileError,
  fsReason,
  IsoDate,
  LocatedDocument,
  parseInstant,
  zodIssues,
  type ExploitationEventKind,
  type FileIssue,
  type FileKind,
} from "../advisories/index.js";
import { parseCsv } from "./csv.js";

const INTEL_FILE: FileKind = {
  code: "RINGFENCE_INTEL_FILE",
  kind: "threat-intel file",
  hint: "KEV: known_exploited_vulnerabilities.json from cisa.gov or cisagov/kev-data; EPSS: epss_scores-YYYY-MM-DD.csv(.gz)",
};

const CVE_ID = /^CVE-[0-9]{4}-[0-9]{4,19}$/;

// The 2025-08-25 KEV schema (draft-07), plus the BOD 26-04 field forensicTriage, which newer
// files carry and some third-party fixtures leave empty (research §3.7). Unknown fields are kept.
const KevEntrySchema = z.looseObject({
  cveID: z.string().regex(CVE_ID, { error: "expected CVE-YYYY-NNNN" }),
  vendorProject: z.string(),
  product: z.string(),
  vulnerabilityName: z.string(),
  dateAdded: IsoDate,
  shortDescription: z.string(),
  requiredAction: z.string(),
  dueDate: IsoDate,
  knownRansomwareCampaignUse: z.string().optional(),
  notes: z.string().optional(),
  cwes: z.array(z.string().regex(/^CWE-([0-9])+$/, { error: "expected CWE-NNN" })).optional(),
  forensicTriage: z.enum(["Yes", "No", ""]).optional(),
});

const KevCatalogSchema = z.looseObject({
  title: z.string().optional(),
  catalogVersion: z.string().min(1),
  dateReleased: z.string().refine((text) => parseInstant(text) !== undefined, {
    error: "expected an ISO date-time",
  }),
  count: z.number().int().min(0),
  vulnerabilities: z.array(KevEntrySchema),
});

export interface KevEntry {
  readonly cveID: string;
  readonly vendorProject: string;
  readonly product: string;
  readonly vulnerabilityName: string;
  readonly dateAdded: string;
  readonly dueDate: string;
  readonly requiredAction: string;
  readonly knownRansomwareCampaignUse?: string;
  readonly forensicTriage?: "Yes" | "No";
}

export interface IntelSource {
  readonly file: string;
  readonly sha256: string;
}

export interface KevCatalog {
  readonly catalogVersion: string;
  readonly dateReleased: string;
  readonly entries: readonly KevEntry[];
  readonly source: IntelSource;
}

export interface EpssEntry {
  readonly cve: string;
  /** Probability of exploitation activity in the next 30 days, 0–1. */
  readonly epss: number;
  /** Rank among all scored CVEs, 0–1. */
  readonly percentile: number;
}

export interface EpssSnapshot {
  readonly modelVersion: string;
  /** ISO instant of the scores. Replays use only snapshots dated on or before asOf. */
  readonly scoreDate: string;
  readonly entries: readonly EpssEntry[];
  readonly source: IntelSource;
}

/** An exploitation fact from outside the catalog: an operator, a vendor note, a CERT advisory. */
export interface ExploitationReport {
  readonly vulnerability: string;
  readonly kind: ExploitationEventKind;
  readonly date: string;
  readonly source: string;
  readonly refs: readonly string[];
}

/** Everything the engine knows about threats; arrays in any order. */
export interface ThreatIntel {
  readonly kev: readonly KevCatalog[];
  readonly epss: readonly EpssSnapshot[];
  readonly exploitation: readonly ExploitationReport[];
}

export function emptyIntel(): ThreatIntel {
  return { kev: [], epss: [], exploitation: [] };
}

function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function lineAtOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Parses KEV catalog JSON text; `file` names it in errors. */
export function parseKevCatalog(text: string, file: string): KevCatalog {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const position = /position (\d+)/.exec(message);
    const lineMatch = /line (\d+)/.exec(message);
    const line =
      position?.[1] !== undefined
        ? lineAtOffset(text, Number(position[1]))
        : lineMatch?.[1] !== undefined
          ? Number(lineMatch[1])
          : undefined;
    throw fileError(INTEL_FILE, [
      {
        file,
        path: "",
        ...(line === undefined ? {} : { line }),
        reason: `not valid JSON: ${message.split("\n")[0] ?? ""}`,
      },
    ]);
  }
  const parsed = KevCatalogSchema.safeParse(raw);
  if (!parsed.success) {
    // Only on failure: a YAML parse of the JSON text gives each path its line.
    const located = new LocatedDocument(text);
    const issues = zodIssues(file, parsed.error.issues, raw, (path, key) =>
      key === undefined ? located.lineOf(path) : located.keyLine(path, key),
    );
    throw fileError(INTEL_FILE, issues);
  }
  const data = parsed.data;
  const problems: FileIssue[] = [];
  if (data.count !== data.vulnerabilities.length) {
    problems.push({
      file,
      path: "count",
      reason: `says ${data.count} but the file lists ${data.vulnerabilities.length} vulnerabilities (truncated download?)`,
    });
  }
  const seen = new Map<string, number>();
  data.vulnerabilities.forEach((entry, i) => {
    const previous = seen.get(entry.cveID);
    if (previous !== undefined) {
      problems.push({
        file,
        path: `vulnerabilities[${i}].cveID`,
        reason: `${entry.cveID} is listed twice (also vulnerabilities[${previous}])`,
      });
    }
    seen.set(entry.cveID, i);
  });
  if (problems.length > 0) {
    const located = new LocatedDocument(text);
    throw fileError(
      INTEL_FILE,
      problems.map((problem) => {
        const path = problem.path
          .split(/[.[\]]+/)
          .filter((part) => part !== "")
          .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
        const line = located.lineOf(path);
        return line === undefined ? problem : { ...problem, line };
      }),
    );
  }
  const entries: KevEntry[] = data.vulnerabilities.map((entry) => ({
    cveID: entry.cveID,
    vendorProject: entry.vendorProject,
    product: entry.product,
    vulnerabilityName: entry.vulnerabilityName,
    dateAdded: entry.dateAdded,
    dueDate: entry.dueDate,
    requiredAction: entry.requiredAction,
    ...(entry.knownRansomwareCampaignUse === undefined
      ? {}
      : { knownRansomwareCampaignUse: entry.knownRansomwareCampaignUse }),
    ...(entry.forensicTriage === "Yes" || entry.forensicTriage === "No"
      ? { forensicTriage: entry.forensicTriage }
      : {}),
  }));
  return {
    catalogVersion: data.catalogVersion,
    dateReleased: data.dateReleased,
    entries,
    source: { file, sha256: sha256(text) },
  };
}

async function readBytes(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw fileError(INTEL_FILE, [
      { file: path, path: "", reason: `cannot read: ${fsReason(error)}` },
    ]);
  }
}

/** Reads a KEV catalog JSON file. */
export async function loadKevCatalog(path: string): Promise<KevCatalog> {
  return parseKevCatalog((await readBytes(path)).toString("utf8"), path);
}

export interface EpssOptions {
  /**
   * The scores' date, for files without the `#model_version:...,score_date:...` comment line
   * (older EPSS files). Ignored when the file has the line.
   */
  readonly scoreDate?: string;
  readonly modelVersion?: string;
}

/** Parses an EPSS daily CSV (research §3.8). */
export function parseEpssCsv(text: string, file: string, options: EpssOptions = {}): EpssSnapshot {
  const issue = (line: number | undefined, reason: string, path = ""): never => {
    throw fileError(INTEL_FILE, [{ file, path, ...(line === undefined ? {} : { line }), reason }]);
  };
  let body = text;
  let modelVersion = options.modelVersion;
  let scoreDate = options.scoreDate;
  let firstLine = 1;
  if (text.startsWith("#")) {
    const end = text.indexOf("\n");
    const comment = (end === -1 ? text : text.slice(0, end)).replace(/\r$/, "").slice(1);
    const fields = new Map(
      comment.split(",").map((pair) => {
        const colon = pair.indexOf(":");
        return [pair.slice(0, colon).trim(), pair.slice(colon + 1).trim()] as const;
      }),
    );
    modelVersion = fields.get("model_version") ?? modelVersion;
    scoreDate = fields.get("score_date") ?? scoreDate;
    body = end === -1 ? "" : text.slice(end + 1);
    firstLine = 2;
  }
  if (modelVersion === undefined || modelVersion === "") modelVersion = "unknown";
  if (scoreDate === undefined) {
    return issue(1, "no #model_version:...,score_date:... line; give the scores' date (scoreDate)");
  }
  const scoreMs = parseInstant(scoreDate);
  if (scoreMs === undefined) return issue(1, `score_date "${scoreDate}" is not an ISO date`);
  let records;
  try {
    records = parseCsv(body);
  } catch (error) {
    return issue(undefined, error instanceof Error ? error.message : String(error));
  }
  const [header, ...rows] = records;
  const headerLine = (header?.line ?? 1) + firstLine - 1;
  if (header === undefined || header.fields.join(",").trim() !== "cve,epss,percentile") {
    return issue(
      headerLine,
      `header is "${header?.fields.join(",") ?? ""}", expected "cve,epss,percentile"`,
    );
  }
  const entries: EpssEntry[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    const line = row.line + firstLine - 1;
    const [cve = "", epssText = "", percentileText = ""] = row.fields;
    if (row.fields.length !== 3) issue(line, `expected 3 fields, found ${row.fields.length}`);
    if (!CVE_ID.test(cve)) issue(line, `"${cve}" is not a CVE id`, "cve");
    if (seen.has(cve)) issue(line, `${cve} appears twice`, "cve");
    seen.add(cve);
    const epss = Number(epssText);
    const percentile = Number(percentileText);
    for (const [name, value, textValue] of [
      ["epss", epss, epssText],
      ["percentile", percentile, percentileText],
    ] as const) {
      if (textValue.trim() === "" || !Number.isFinite(value) || value < 0) {
        issue(line, `"${textValue}" is not a number between 0 and 1`, name);
      }
      if (value > 1) {
        issue(
          line,
          `${value} is above 1: EPSS files hold probabilities; a percentage (as EUVD shows) must be divided by 100`,
          name,
        );
      }
    }
    entries.push({ cve, epss, percentile });
  }
  return {
    modelVersion,
    scoreDate: new Date(scoreMs).toISOString(),
    entries,
    source: { file, sha256: sha256(text) },
  };
}

/** Reads an EPSS CSV file, gunzipping `.gz` files (the form FIRST serves). */
export async function loadEpssCsv(path: string, options: EpssOptions = {}): Promise<EpssSnapshot> {
  let bytes = await readBytes(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (error) {
      throw fileError(INTEL_FILE, [
        { file: path, path: "", reason: `bad gzip data: ${fsReason(error)}` },
      ]);
    }
  }
  return parseEpssCsv(bytes.toString("utf8"), path, options);
}

// --- lookups (memoised per catalog object; results never depend on array order) ------------

const kevIndex = new WeakMap<KevCatalog, ReadonlyMap<string, KevEntry>>();
const epssIndex = new WeakMap<EpssSnapshot, ReadonlyMap<string, EpssEntry>>();

function kevMap(catalog: KevCatalog): ReadonlyMap<string, KevEntry> {
  let map = kevIndex.get(catalog);
  if (map === undefined) {
    map = new Map(catalog.entries.map((entry) => [entry.cveID, entry]));
    kevIndex.set(catalog, map);
  }
  return map;
}

function epssMap(snapshot: EpssSnapshot): ReadonlyMap<string, EpssEntry> {
  let map = epssIndex.get(snapshot);
  if (map === undefined) {
    map = new Map(snapshot.entries.map((entry) => [entry.cve, entry]));
    epssIndex.set(snapshot, map);
  }
  return map;
}

export interface KevListing {
  readonly entry: KevEntry;
  readonly catalogVersion: string;
}

/**
 * The KEV listing of a CVE as of `asOfMs`: the earliest `dateAdded` on or before it across all
 * imported catalogs (ties broken by catalog version, then due date), or undefined.
 */
export function kevListing(
  intel: ThreatIntel,
  cve: string,
  asOfMs: number,
): KevListing | undefined {
  let best: KevListing | undefined;
  for (const catalog of intel.kev) {
    const entry = kevMap(catalog).get(cve);
    if (entry === undefined) continue;
    const added = parseInstant(entry.dateAdded);
    if (added === undefined || added > asOfMs) continue;
    const candidate = { entry, catalogVersion: catalog.catalogVersion };
    if (
      best === undefined ||
      compareText(entry.dateAdded, best.entry.dateAdded) < 0 ||
      (entry.dateAdded === best.entry.dateAdded &&
        (compareText(catalog.catalogVersion, best.catalogVersion) ||
          compareText(entry.dueDate, best.entry.dueDate)) < 0)
    ) {
      best = candidate;
    }
  }
  return best;
}

export interface EpssReading extends EpssEntry {
  readonly scoreDate: string;
  readonly modelVersion: string;
}

/** The newest EPSS score of a CVE dated on or before `asOfMs` (never a score from the future). */
export function epssReading(
  intel: ThreatIntel,
  cve: string,
  asOfMs: number,
): EpssReading | undefined {
  let best: EpssReading | undefined;
  for (const snapshot of intel.epss) {
    const scoreMs = parseInstant(snapshot.scoreDate);
    if (scoreMs === undefined || scoreMs > asOfMs) continue;
    const entry = epssMap(snapshot).get(cve);
    if (entry === undefined) continue;
    const candidate = {
      ...entry,
      scoreDate: snapshot.scoreDate,
      modelVersion: snapshot.modelVersion,
    };
    const order =
      best === undefined
        ? 1
        : compareText(candidate.scoreDate, best.scoreDate) ||
          compareText(candidate.modelVersion, best.modelVersion) ||
          candidate.epss - best.epss;
    if (order > 0) best = candidate;
  }
  return best;
}
