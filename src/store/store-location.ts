import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { RingfenceError } from "../errors.js";

export const DEFAULT_STORE_LOCATION = "./ringfence.db";

export type StoreLocation = { kind: "sqlite"; path: string };

/**
 * `--db` accepts a path, `sqlite:PATH` or `file:PATH` (also `file:///abs/path`). Other URL
 * schemes are refused by name so that a PostgreSQL URL is never taken for a file called
 * "postgres:"; a Windows drive letter (C:\...) is a path, not a scheme.
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
      throw new RingfenceError(
        "RINGFENCE_DB_UNAVAILABLE",
        "PostgreSQL support is not built yet: ringfence stores its inventory in SQLite for now",
        { hint: `Pass a file path, e.g. --db ${DEFAULT_STORE_LOCATION}` },
      );
    default:
      throw new RingfenceError(
        "RINGFENCE_DB_UNAVAILABLE",
        `unsupported database URL scheme "${scheme}:"`,
        { hint: `Pass a file path, sqlite:PATH or file:PATH, e.g. --db ${DEFAULT_STORE_LOCATION}` },
      );
  }
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
