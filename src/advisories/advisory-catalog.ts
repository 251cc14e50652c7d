/**
 * The loaded advisories, looked up by id, by any alias (CVE, bulletin, KB, CERT id, name) and by
 * check id. Built once from a list, sorted by id, so that the catalog does not depend on the
 * order files were read in.
 */
import { RingfenceError } from "../errors.js";
import type { Advisory } from "./advisory-schema.js";
import { fileError, type FileIssue } from "./file-issues.js";
import { compareText } from "./vocabulary.js";

export interface CatalogEntry {
  readonly advisory: Advisory;
  /** The file it came from, for error messages and provenance. */
  readonly source: string;
}

/** Every key an advisory can be looked up by, upper-cased (MS03-026 = ms03-026). */
export function lookupKeys(advisory: Advisory): string[] {
  const keys = [
    advisory.id,
    ...advisory.ids.cve,
    ...(advisory.ids.bulletin ?? []),
    ...(advisory.ids.kb ?? []),
    ...(advisory.ids.cert ?? []),
    ...advisory.aliases,
  ];
  return [...new Set(keys.map((key) => key.toUpperCase()))];
}

export class AdvisoryCatalog {
  private readonly entries: readonly CatalogEntry[];
  private readonly byKey = new Map<string, CatalogEntry>();
  private readonly byCheck = new Map<string, CatalogEntry>();

  private constructor(entries: readonly CatalogEntry[]) {
    this.entries = entries;
  }

  /**
   * Throws RINGFENCE_ADVISORY_FILE naming both files when two advisories share an id, an alias
   * or a check id: a user advisory must not silently shadow a built-in one.
   */
  static create(input: readonly CatalogEntry[]): AdvisoryCatalog {
    const entries = [...input].sort(
      (a, b) => compareText(a.advisory.id, b.advisory.id) || compareText(a.source, b.source),
    );
    const catalog = new AdvisoryCatalog(entries);
    // Clashes are checked in load order (built-in first, then the user's directories), so the
    // error blames the file that came later; lookups do not depend on that order.
    const inLoadOrder = input;
    const clash = (entry: CatalogEntry, other: CatalogEntry, what: string): never => {
      const issue: FileIssue = {
        file: entry.source,
        path: "",
        reason: `${what} is already defined by ${other.source} (advisory ${other.advisory.id}); give this advisory its own id, aliases and check ids`,
      };
      throw fileError(
        {
          code: "RINGFENCE_ADVISORY_FILE",
          kind: "advisory file",
          hint: "remove or rename one of the two advisories",
        },
        [issue],
      );
    };
    for (const entry of inLoadOrder) {
      for (const key of lookupKeys(entry.advisory)) {
        const other = catalog.byKey.get(key);
        if (other !== undefined && other !== entry) clash(entry, other, `id or alias ${key}`);
        catalog.byKey.set(key, entry);
      }
      for (const check of entry.advisory.checks) {
        const other = catalog.byCheck.get(check.id);
        if (other !== undefined) clash(entry, other, `check id ${check.id}`);
        catalog.byCheck.set(check.id, entry);
      }
    }
    return catalog;
  }

  /** All advisories, sorted by id. */
  list(): readonly Advisory[] {
    return this.entries.map((entry) => entry.advisory);
  }

  /** By id or alias, case-insensitively. */
  get(idOrAlias: string): Advisory | undefined {
    return this.byKey.get(idOrAlias.toUpperCase())?.advisory;
  }

  /** Like get(), but a missing advisory is a usage error. */
  require(idOrAlias: string): Advisory {
    const advisory = this.get(idOrAlias);
    if (advisory === undefined) {
      throw new RingfenceError(
        "RINGFENCE_RISK_INPUT",
        `no advisory "${idOrAlias}" in the catalog`,
        {
          hint: "list the catalog's advisories, or add a directory with --advisories",
        },
      );
    }
    return advisory;
  }

  /** The advisory a check belongs to. */
  forCheck(checkId: string): Advisory | undefined {
    return this.byCheck.get(checkId)?.advisory;
  }

  /** The file an advisory was loaded from. */
  sourceOf(id: string): string | undefined {
    return this.byKey.get(id.toUpperCase())?.source;
  }

  /** The policy advisories (rules), sorted by id. */
  policies(): readonly Advisory[] {
    return this.list().filter((advisory) => advisory.kind === "policy");
  }
}
