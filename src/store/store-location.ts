import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { RingfenceError } from "../errors.js";

export const DEFAULT_STORE_LOCATION = "./ringfence.db";

export type StoreLocation =
  | { kind: "sqlite"; path: string }
  /** url is what the driver connects with; display is it without the password, for messages. */
  | { kind: "postgres"; url: string; display: string };

/**
 * `--db` accepts a path, `sqlite:PATH` or `file:PATH` (also `file:///abs/path`), or a
 * PostgreSQL URL (`postgres://user[:password]@host[:port]/database`, also `postgresql://`).
 * Other URL schemes are refused by name so that they are never taken for a file called
 * "mysql:"; a Windows drive letter (C:\...) is a path, not a scheme.
 */
export function parseStoreLocation(location: string = DEFAULT_STORE_LOCATION): StoreLocation {
  if (location.trim() === "") {
    throw new RingfenceError("RINGFENCE_DB_UNAVAILABLE", "the database location is empty", {
      hint: `Pass a file path, e.g. --db ${DEFAULT_STORE_LOCATION}`,
    });
  }
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(location)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: "sqlite", path: resolve(location) };
  const rest = location.slice(scheme.length + 1);
  switch (scheme) {
    case "sqlite":
      return { kind: "sqlite", path: resolve(stripSlashes(rest)) };
    case "file":
      return {
        kind: "sqlite",
        path: rest.startsWith("//") ? fileUrlPath(location) : resolve(rest),
      };
    case "postgres":
    case "postgresql":
      return { kind: "postgres", url: location, display: redactedUrl(location) };
    default:
      throw new RingfenceError(
        "RINGFENCE_DB_UNAVAILABLE",
        `unsupported database URL scheme "${scheme}:"`,
        {
          hint: `Pass a file path, sqlite:PATH, file:PATH or postgres://user@host/database, e.g. --db ${DEFAULT_STORE_LOCATION}`,
        },
      );
  }
}

/**
 * The URL as messages may show it: no password, neither in the userinfo nor in a `password`
 * query parameter (libpq and node-postgres accept both, libpq §34.1.1). A URL that does not
 * parse is refused here, without echoing it: it may hold a password we cannot find.
 */
export function redactedUrl(location: string): string {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    // No cause: Node's URL error carries the input, password and all.
    throw new RingfenceError("RINGFENCE_DB_UNAVAILABLE", "the PostgreSQL URL is malformed", {
      hint: "Pass --db postgres://user@host:port/database (percent-encode special characters).",
    });
  }
  if (url.password !== "") url.password = "";
  for (const key of [...url.searchParams.keys()]) {
    if (key.toLowerCase() === "password") url.searchParams.set(key, "redacted");
  }
  return url.toString();
}

function fileUrlPath(location: string): string {
  try {
    return fileURLToPath(location);
  } catch (error) {
    // file://otherhost/path and the like: not a file we can open here.
    throw new RingfenceError("RINGFENCE_DB_UNAVAILABLE", `cannot open ${location} as a file`, {
      hint: `Pass a file path, e.g. --db ${DEFAULT_STORE_LOCATION}`,
      cause: error,
    });
  }
}

/** sqlite:///abs/path and sqlite://./rel keep one leading slash or none, like file URLs. */
function stripSlashes(rest: string): string {
  return rest.startsWith("//") ? rest.slice(2) : rest;
}
