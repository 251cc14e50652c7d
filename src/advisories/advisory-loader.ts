/**
 * Reads advisory files: the built-in ones shipped in `advisories/` at the package root, plus any
 * directories the user names. Files are read in sorted name order and every file is validated in
 * full before the catalog is built, so a bad file fails with its name, the path inside it and the
 * reason, and never half-loads.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AdvisorySchema, type Advisory } from "./advisory-schema.js";
import { AdvisoryCatalog, type CatalogEntry } from "./advisory-catalog.js";
import { fileError, fsReason, parseYamlFile, type FileKind } from "./file-issues.js";
import { compareText } from "./vocabulary.js";

const ADVISORY_FILE: FileKind = {
  code: "RINGFENCE_ADVISORY_FILE",
  kind: "advisory file",
  hint: "advisory files follow advisories/README.md (schema: ringfence.advisory/1)",
};

/**
 * The built-in advisories. The path is the same from `src/advisories/` (tests, tsx) and from
 * `dist/advisories/` (the build), both two levels below the package root.
 */
export const BUILTIN_ADVISORY_DIR = fileURLToPath(new URL("../../advisories/", import.meta.url));

/** Validates one advisory file's text; `file` names it in errors. */
export function parseAdvisoryFile(text: string, file: string): Advisory {
  return parseYamlFile(text, file, AdvisorySchema, ADVISORY_FILE).value;
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw fileError(ADVISORY_FILE, [{ file, path: "", reason: `cannot read: ${fsReason(error)}` }]);
  }
}

/** The `.yaml`/`.yml` files of a directory, sorted; hidden files are skipped. */
async function advisoryFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw fileError(ADVISORY_FILE, [
      { file: dir, path: "", reason: `cannot read the directory: ${fsReason(error)}` },
    ]);
  }
  return names
    .filter((name) => !name.startsWith(".") && /\.ya?ml$/.test(name))
    .sort(compareText)
    .map((name) => join(dir, name));
}

/** Reads and validates every advisory file of `dir`. */
export async function loadAdvisoryDirectory(dir: string): Promise<CatalogEntry[]> {
  const entries: CatalogEntry[] = [];
  for (const file of await advisoryFiles(dir)) {
    entries.push({ advisory: parseAdvisoryFile(await readText(file), file), source: file });
  }
  return entries;
}

export interface LoadCatalogOptions {
  /** User directories, read after the built-in one. */
  readonly extraDirs?: readonly string[];
  /** Set false to load only `extraDirs` (tests, air-gapped custom catalogs). */
  readonly builtin?: boolean;
}

/** The built-in advisories plus the user's; throws RINGFENCE_ADVISORY_FILE on any bad file. */
export async function loadAdvisoryCatalog(
  options: LoadCatalogOptions = {},
): Promise<AdvisoryCatalog> {
  const dirs = [
    ...(options.builtin === false ? [] : [BUILTIN_ADVISORY_DIR]),
    ...(options.extraDirs ?? []),
  ];
  const entries: CatalogEntry[] = [];
  for (const dir of dirs) entries.push(...(await loadAdvisoryDirectory(dir)));
  return AdvisoryCatalog.create(entries);
}
