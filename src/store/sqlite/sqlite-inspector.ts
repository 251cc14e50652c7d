import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  readSync,
  statSync,
  unlinkSync,
  type Stats,
} from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { APPLICATION_NAME, META_TABLE, newerVersionError } from "../migrations.js";
import { parseSqliteHeader, sizeProblem, SQLITE_HEADER_BYTES } from "./sqlite-header.js";
import {
  corruptError,
  foreignError,
  translateSqliteError,
  unavailableError,
} from "./sqlite-errors.js";

/** "RFNC": marks the file as ours in the SQLite header, where `file(1)` and we can read it. */
export const RINGFENCE_APPLICATION_ID = 0x52464e43;

export type Inspection = { kind: "new" } | { kind: "ringfence"; schemaVersion: number };

interface Sidecars {
  wal: boolean;
  shm: boolean;
  journal: boolean;
}

/**
 * Decides, without writing a byte, whether `path` may be opened read-write: a file that does
 * not exist yet (or is empty), or a ringfence database this build can read. Everything else is
 * refused with the error the user needs, and the file is left exactly as it was.
 *
 * Most of the decision is made on the raw header: a read-only SQLite connection to a WAL-mode
 * file creates -wal and -shm files next to it, which would be litter next to someone else's
 * database. SQLite is only asked to look inside files that carry our application id, or that
 * already have a -wal file (a write in flight, or a crash before the first checkpoint).
 */
export function inspectSqliteFile(path: string, latestVersion: number): Inspection {
  const stat = statIfExists(path);
  if (stat === undefined) {
    checkDirectoryWritable(path);
    return { kind: "new" };
  }
  if (!stat.isFile()) throw unavailableError(path, "not a regular file");
  const size = stat.size;

  const sidecars: Sidecars = {
    wal: existsSync(`${path}-wal`),
    shm: existsSync(`${path}-shm`),
    journal: existsSync(`${path}-journal`),
  };
  // What the file is comes before whether we may write it: "not a ringfence database" helps
  // more than "not writable" when it is both.
  if (size > 0) {
    const header = parseSqliteHeader(readHead(path));
    if (typeof header === "string") throw corruptError(path, header);
    if (header.applicationId !== 0 && header.applicationId !== RINGFENCE_APPLICATION_ID) {
      throw foreignError(path, `application id 0x${hex32(header.applicationId)}`);
    }
    if (!sidecars.wal && !sidecars.journal) {
      // Nothing pending anywhere: the main file is the whole database and its header is current.
      const problem = sizeProblem(header, size);
      if (problem !== undefined) throw corruptError(path, problem);
      if (header.applicationId === 0) {
        // We stamp the id in the same transaction as the first migration, so a committed
        // ringfence database always has it once checkpointed.
        if (!header.schemaEmpty) {
          throw foreignError(path, "it holds tables and no ringfence application id");
        }
        // A valid database with nothing in it (sqlite3 x.db "vacuum"): nothing to lose.
        checkFileWritable(path);
        return { kind: "new" };
      }
      if (header.userVersion > latestVersion) throw newerVersionError(path, header.userVersion);
    }
  }
  checkFileWritable(path);
  // SQLite itself treats a 0-byte file as an empty database, and there is nothing in it to lose:
  // `touch ringfence.db` followed by a scan should work. Unless a -wal holds its content.
  if (size === 0 && !sidecars.wal) return { kind: "new" };
  return inspectWithSqlite(path, latestVersion, sidecars);
}

function inspectWithSqlite(path: string, latestVersion: number, before: Sidecars): Inspection {
  let connection: Database.Database | undefined;
  try {
    connection = new Database(path, { readonly: true, fileMustExist: true, timeout: 5000 });
    const applicationId = connection.pragma("application_id", { simple: true }) as number;
    if (applicationId !== 0 && applicationId !== RINGFENCE_APPLICATION_ID) {
      throw foreignError(path, `application id 0x${hex32(applicationId)}`);
    }
    const tables = connection
      .prepare("select name from sqlite_schema where type = 'table'")
      .pluck()
      .all() as string[];
    if (!tables.includes(META_TABLE)) {
      if (tables.length === 0) return { kind: "new" };
      if (applicationId === RINGFENCE_APPLICATION_ID) {
        throw corruptError(path, "ringfence application id but no ringfence_meta table");
      }
      throw foreignError(path, "it holds tables and no ringfence_meta table");
    }
    const meta = new Map(
      (
        connection.prepare(`select key, value from ${META_TABLE}`).all() as {
          key: string;
          value: string;
        }[]
      ).map((row) => [row.key, row.value]),
    );
    if (meta.get("application") !== APPLICATION_NAME) {
      throw foreignError(path, "its ringfence_meta table was not written by ringfence");
    }
    const version = Number(meta.get("schema_version"));
    if (!Number.isInteger(version) || version < 1) {
      throw corruptError(path, `unreadable schema version ${meta.get("schema_version")}`);
    }
    if (version > latestVersion) throw newerVersionError(path, version);
    // Reads every b-tree page once (no index cross-check, which integrity_check adds): damage
    // anywhere is found now, while we can still refuse without having written.
    const problems = connection.pragma("quick_check(5)", { simple: false }) as {
      quick_check: string;
    }[];
    if (problems.length !== 1 || problems[0]?.quick_check !== "ok") {
      throw corruptError(path, problems.map((row) => row.quick_check).join("; "));
    }
    return { kind: "ringfence", schemaVersion: version };
  } catch (error) {
    connection?.close();
    connection = undefined;
    removeSidecarsWeCreated(path, before);
    throw translateSqliteError(error, path);
  } finally {
    connection?.close();
  }
}

/**
 * A read-only connection to a WAL database creates an empty -wal and a -shm when they are
 * missing, and cannot remove them (that takes a write lock). When we refuse the file, take back
 * what we created: only files that did not exist before and a -wal that is still empty, so a
 * writer that appeared meanwhile cannot lose anything.
 */
function removeSidecarsWeCreated(path: string, before: Sidecars): void {
  if (before.wal || before.shm) return;
  try {
    if (statSync(`${path}-wal`).size !== 0) return;
    unlinkSync(`${path}-wal`);
    unlinkSync(`${path}-shm`);
  } catch {
    // Not created (rollback-journal file) or already gone: nothing to take back.
  }
}

function statIfExists(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return undefined;
    // ENOTDIR (a parent is a file), EACCES (a parent is not searchable), ELOOP, ...
    throw unavailableError(path, error instanceof Error ? error.message : String(error), error);
  }
}

function readHead(path: string): Buffer {
  const buffer = Buffer.alloc(SQLITE_HEADER_BYTES);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    throw unavailableError(path, error instanceof Error ? error.message : String(error), error);
  }
  try {
    const read = readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/** SQLite needs the file and, in WAL mode, its directory (for -wal and -shm) writable. */
function checkFileWritable(path: string): void {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
  } catch (error) {
    throw unavailableError(path, "the file is not readable and writable", error);
  }
  checkDirectoryWritable(path);
}

function checkDirectoryWritable(path: string): void {
  const directory = dirname(path);
  let isDirectory: boolean;
  try {
    isDirectory = statSync(directory).isDirectory();
  } catch (error) {
    throw unavailableError(path, `directory ${directory} does not exist`, error);
  }
  if (!isDirectory) throw unavailableError(path, `${directory} is not a directory`);
  try {
    accessSync(directory, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw unavailableError(path, `directory ${directory} is not writable`, error);
  }
}

function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function hex32(value: number): string {
  return (value >>> 0).toString(16).padStart(8, "0");
}
