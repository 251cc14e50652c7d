import { realpathSync } from "node:fs";
import Database from "better-sqlite3";
import { Kysely, SqliteDialect, sql, type SqliteDatabase, type SqliteStatement } from "kysely";
import { LATEST_SCHEMA_VERSION, migrateToLatest } from "../migrations.js";
import type { StoreDatabase } from "../schema.js";
import { WriteLock, type ReservedIdTable, type StoreBackend } from "../store-backend.js";
import { translateSqliteError } from "./sqlite-errors.js";
import { inspectSqliteFile, RINGFENCE_APPLICATION_ID } from "./sqlite-inspector.js";

/** How long a statement waits for another process's write lock before RINGFENCE_DB_UNAVAILABLE. */
const BUSY_TIMEOUT_MS = 10_000;

/** For new databases; measured against 4 KiB and 8 KiB on the scan replay (see recordBatch). */
const PAGE_SIZE = 16_384;

/** WAL size that triggers a checkpoint (SQLite's default is 1000 pages, 4 MiB at 4 KiB). */
const WAL_CHECKPOINT_BYTES = 64 * 2 ** 20;

/**
 * Opens (creating if needed) the SQLite inventory at `path`: inspect read-only first, refuse
 * anything that is not ours, then reopen read-write, set the connection up and migrate.
 */
export async function openSqliteBackend(path: string): Promise<StoreBackend> {
  const inspection = inspectSqliteFile(path, LATEST_SCHEMA_VERSION);

  let database: Database.Database | undefined;
  try {
    database = new Database(path, { timeout: BUSY_TIMEOUT_MS });
    // WAL: readers (`ringfence hosts` during a scan) never block the scanner's writes, and a
    // commit is one append. synchronous=NORMAL in WAL mode loses at most the last commits on
    // power loss, never consistency; a kill -9 loses nothing committed.
    // Only a new file can take it (WAL mode fixes the page size). A scan's batch rewrites most
    // pages of the indexes keyed by address (it probes in random address order): fewer, larger
    // pages mean fewer page lookups, splits and WAL frames for the same bytes.
    if (inspection.kind === "new") database.pragma(`page_size = ${PAGE_SIZE}`);
    database.pragma("journal_mode = WAL");
    database.pragma("synchronous = NORMAL");
    database.pragma("cache_size = -131072");
    // Statement journals (a multi-row upsert keeps one, to undo just that statement) and temp
    // b-trees stay in memory instead of spilling to temporary files.
    database.pragma("temp_store = MEMORY");
    // The default checkpoints after every commit larger than 4 MiB, i.e. after each batch of a
    // scan, copying the same index pages into the file again and again. Checkpointing every
    // 64 MiB copies each page once for several batches; the WAL file stays at that size until
    // the last connection closes (and checkpoints it away).
    const pageSize = database.pragma("page_size", { simple: true }) as number;
    database.pragma(`wal_autocheckpoint = ${Math.ceil(WAL_CHECKPOINT_BYTES / pageSize)}`);
    database.pragma("foreign_keys = ON");
  } catch (error) {
    database?.close();
    throw translateSqliteError(error, path);
  }

  const backend: StoreBackend = {
    dialect: "sqlite",
    location: path,
    db: new Kysely<StoreDatabase>({
      dialect: new SqliteDialect({ database: new StatementCache(database) }),
    }),
    beginWriteSql: "begin immediate",
    writeLock: writeLockFor(path),
    async stampVersion(trx, version) {
      // Both live in the header, inside the transaction: readable without opening the file
      // through SQLite (see sqlite-inspector.ts), and committed together with the schema.
      await sql.raw(`pragma application_id = ${RINGFENCE_APPLICATION_ID}`).execute(trx);
      await sql.raw(`pragma user_version = ${Math.trunc(version)}`).execute(trx);
    },
    reserveIds: reserveSqliteIds,
    translateError: (error) => translateSqliteError(error, path),
    close: () => backend.db.destroy(),
  };

  if (inspection.kind === "new" || inspection.schemaVersion < LATEST_SCHEMA_VERSION) {
    try {
      await migrateToLatest(backend);
    } catch (error) {
      await backend.close();
      throw translateSqliteError(error, path);
    }
  }
  return backend;
}

/**
 * The ids after the table's largest, which is what SQLite itself would give the rows: an INTEGER
 * PRIMARY KEY without AUTOINCREMENT takes max(rowid) + 1 (SQLite manual, "Rowids and the
 * AUTOINCREMENT Keyword"). BEGIN IMMEDIATE holds the database's write lock from the start of the
 * transaction, so no other connection can insert between this read and the caller's insert.
 */
export async function reserveSqliteIds(
  trx: Kysely<StoreDatabase>,
  table: ReservedIdTable,
  count: number,
): Promise<number[]> {
  const row = await trx
    .selectFrom(table)
    .select((eb) => eb.fn.max("id").as("max"))
    .executeTakeFirst();
  const first = Number(row?.max ?? 0) + 1;
  return Array.from({ length: count }, (_, i) => first + i);
}

/** One lock per database file in this process, shared by every Store opened on it. */
const writeLocks = new Map<string, WriteLock>();

function writeLockFor(path: string): WriteLock {
  // The file exists once opened; its real path folds symlinks and ./ spellings together.
  const key = realpathSync(path);
  let lock = writeLocks.get(key);
  if (lock === undefined) {
    lock = new WriteLock();
    writeLocks.set(key, lock);
  }
  return lock;
}

/**
 * Prepared statements kept per connection: the batch writers alone use ~80 (eight statements at
 * up to nine row counts each, see BatchStatement), and the queries must not push them out.
 */
const MAX_STATEMENTS = 160;

/**
 * kysely's SQLite driver prepares every statement anew. The batch writer sends the same few
 * multi-row statements hundreds of times per scan; preparing each once saves the parse.
 */
class StatementCache implements SqliteDatabase {
  readonly #database: Database.Database;
  readonly #statements = new Map<string, SqliteStatement>();

  constructor(database: Database.Database) {
    this.#database = database;
  }

  prepare(text: string): SqliteStatement {
    const cached = this.#statements.get(text);
    if (cached !== undefined) {
      // Map keeps insertion order: re-inserting makes this the most recently used.
      this.#statements.delete(text);
      this.#statements.set(text, cached);
      return cached;
    }
    const statement = this.#database.prepare(text) as unknown as SqliteStatement;
    this.#statements.set(text, statement);
    if (this.#statements.size > MAX_STATEMENTS) {
      const oldest = this.#statements.keys().next().value;
      if (oldest !== undefined) this.#statements.delete(oldest);
    }
    return statement;
  }

  /**
   * No PRAGMA optimize here: after a first small session it records statistics for tiny
   * tables, and with those SQLite plans full scans for the batch writer's lookups later on.
   * Without statistics it picks the indexes, which is what every query here is built for.
   */
  close(): void {
    this.#database.close();
  }
}
