import { RingfenceError, isRingfenceError } from "../../errors.js";

/**
 * node-postgres errors carry PostgreSQL's SQLSTATE in `code` (five characters, e.g. 40001);
 * socket errors carry Node's errno name (ECONNREFUSED). Both are strings.
 */
function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

function detail(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    // "localhost" tries ::1 and 127.0.0.1: one message per address, the first says enough.
    return detail(error.errors[0]);
  }
  const message = error instanceof Error ? error.message : String(error);
  // Messages from the server and from Node never contain the password; keep them one line.
  return message.split("\n")[0] ?? message;
}

export function postgresForeignError(location: string, why: string): RingfenceError {
  return new RingfenceError(
    "RINGFENCE_DB_FOREIGN",
    `${location} is not a ringfence database (${why})`,
    {
      hint: "ringfence did not touch it. Pass another --db, e.g. a new, empty database.",
    },
  );
}

export function postgresUnavailableError(
  location: string,
  why: string,
  cause?: unknown,
): RingfenceError {
  return new RingfenceError("RINGFENCE_DB_UNAVAILABLE", `cannot use ${location}: ${why}`, {
    hint: "Check that the PostgreSQL server runs, the database exists and the user may log in to it and create tables, or pass another --db.",
    cause,
  });
}

/** Node's errno names for a server that cannot be reached at all. */
const NETWORK_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENOENT", // a Unix socket path that does not exist
  "EACCES",
  "EPIPE",
]);

/**
 * SQLSTATE classes the user can act on (PostgreSQL 15 manual, Appendix A "PostgreSQL Error
 * Codes"), as RingfenceErrors; anything else (a constraint violation, a bad statement) is our
 * bug and stays as thrown.
 */
export function translatePostgresError(error: unknown, location: string): unknown {
  if (isRingfenceError(error)) return error;
  if (error instanceof AggregateError) {
    const codes = error.errors.map(errorCode);
    if (codes.some((code) => code !== undefined && NETWORK_ERRORS.has(code))) {
      return postgresUnavailableError(location, detail(error), error);
    }
    return error;
  }
  const code = errorCode(error);
  if (code === undefined) {
    // node-postgres' and pg-pool's own connection failures have no code: "Connection terminated
    // unexpectedly", "timeout expired" (pg/lib/client.js), "timeout exceeded when trying to
    // connect", "Connection terminated due to connection timeout" (pg-pool/index.js).
    const message = detail(error);
    if (/connection terminated|timeout expired|timeout exceeded|connection error/i.test(message)) {
      return postgresUnavailableError(location, message, error);
    }
    return error;
  }
  if (NETWORK_ERRORS.has(code)) return postgresUnavailableError(location, detail(error), error);
  switch (code) {
    case "40001": // serialization_failure
    case "40P01": // deadlock_detected
    case "55P03": // lock_not_available: lock_timeout (see beginWriteSql) ran out
      return new RingfenceError(
        "RINGFENCE_DB_UNAVAILABLE",
        `${location} is busy: another ringfence holds the write lock (${detail(error)})`,
        {
          hint: "Wait for the other ringfence command to finish, or pass another --db.",
          cause: error,
        },
      );
    case "53100": // disk_full
      return postgresUnavailableError(location, "the server's disk is full", error);
    case "25006": // read_only_sql_transaction: a hot standby or default_transaction_read_only
      return postgresUnavailableError(
        location,
        `the database is read-only (${detail(error)})`,
        error,
      );
    case "3D000": // invalid_catalog_name: the database does not exist
    case "3F000": // invalid_schema_name
    case "42501": // insufficient_privilege
      return postgresUnavailableError(location, detail(error), error);
  }
  // Whole classes: 08 connection exception, 28 invalid authorization (wrong password: the
  // message names the user, never the password), 53 insufficient resources (too many
  // connections, out of memory), 57 operator intervention (shutdown, cannot connect now).
  if (["08", "28", "53", "57"].includes(code.slice(0, 2))) {
    return postgresUnavailableError(location, detail(error), error);
  }
  return error;
}
