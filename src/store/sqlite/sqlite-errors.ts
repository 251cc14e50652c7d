import { RingfenceError, isRingfenceError } from "../../errors.js";

/** better-sqlite3's SqliteError carries SQLite's extended result code name, e.g. SQLITE_BUSY_SNAPSHOT. */
function sqliteCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === "string" && code.startsWith("SQLITE_") ? code : undefined;
}

function detail(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function corruptError(location: string, why: string, cause?: unknown): RingfenceError {
  return new RingfenceError("RINGFENCE_DB_CORRUPT", `${location} is damaged: ${why}`, {
    hint: "ringfence did not touch it. Restore it from a backup, or pass another --db.",
    cause,
  });
}

export function foreignError(location: string, why: string): RingfenceError {
  return new RingfenceError(
    "RINGFENCE_DB_FOREIGN",
    `${location} is not a ringfence database (${why})`,
    { hint: "ringfence did not touch it. Pass another --db, or a path that does not exist yet." },
  );
}

export function unavailableError(location: string, why: string, cause?: unknown): RingfenceError {
  return new RingfenceError("RINGFENCE_DB_UNAVAILABLE", `cannot use ${location}: ${why}`, {
    hint: "Check that the file and its directory exist and are writable, or pass another --db.",
    cause,
  });
}

/**
 * SQLite result codes the user can act on, as RingfenceErrors; anything else (a constraint
 * violation, a bad statement) is our bug and stays as thrown. Codes:
 * https://www.sqlite.org/rescode.html
 */
export function translateSqliteError(error: unknown, location: string): unknown {
  if (isRingfenceError(error)) return error;
  const code = sqliteCode(error);
  if (code === undefined) return error;
  if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") {
    return corruptError(location, detail(error), error);
  }
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new RingfenceError(
      "RINGFENCE_DB_UNAVAILABLE",
      `${location} is locked by another process (${detail(error)})`,
      {
        hint: "Wait for the other ringfence command to finish, or pass another --db.",
        cause: error,
      },
    );
  }
  const unavailable = ["SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_PERM"];
  if (code === "SQLITE_FULL") return unavailableError(location, "the disk is full", error);
  if (unavailable.some((prefix) => code.startsWith(prefix))) {
    return unavailableError(location, detail(error), error);
  }
  return error;
}
