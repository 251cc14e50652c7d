import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import pg from "pg";
import type { PortState, ProbeObservation, Protocol } from "../../src/scan/observation.js";
import { createKyselyStore } from "../../src/store/kysely-store.js";
import { migrateTo } from "../../src/store/migrations.js";
import { createPostgresBackend } from "../../src/store/postgres/postgres-backend.js";
import type { StoreDatabase } from "../../src/store/schema.js";
import { reserveSqliteIds } from "../../src/store/sqlite/sqlite-backend.js";
import { RINGFENCE_APPLICATION_ID } from "../../src/store/sqlite/sqlite-inspector.js";
import type { Store } from "../../src/store/store.js";
import { WriteLock, type StoreBackend } from "../../src/store/store-backend.js";

/** A fresh directory per test; removed by the returned cleanup. */
export function tempDirectory(): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), "ringfence-store-"));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** A location from createTestStoreLocation() on PostgreSQL (else a SQLite path). */
export function isPostgresLocation(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/**
 * Runs one SQL statement directly on the database behind `location`, past the Store API, on
 * either backend. Placeholders are `?` (rewritten to $1, $2, ... for PostgreSQL); bigint
 * results come back as numbers on both.
 */
export async function sqlRows<T = Record<string, unknown>>(
  location: string,
  text: string,
  params: readonly unknown[] = [],
): Promise<T[]> {
  if (isPostgresLocation(location)) {
    let n = 0;
    const client = new pg.Client({
      connectionString: location,
      types: {
        getTypeParser: ((oid: number, format?: "text" | "binary") =>
          oid === 20
            ? (value: string) => Number(value)
            : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser,
      },
    });
    await client.connect();
    try {
      const result = await client.query(
        text.replace(/\?/g, () => `$${++n}`),
        [...params],
      );
      return result.rows as T[];
    } finally {
      await client.end();
    }
  }
  const db = new Database(location);
  try {
    const statement = db.prepare(text);
    if (statement.reader) return statement.all(...params) as T[];
    statement.run(...params);
    return [];
  } finally {
    db.close();
  }
}

/** The first column of the first row, as a number (a count(*)). */
export async function sqlCount(
  location: string,
  text: string,
  ...params: unknown[]
): Promise<number> {
  const [row] = await sqlRows(location, text, params);
  return Number(Object.values(row ?? {})[0]);
}

/** The names of the database's tables, sorted. */
export async function tableNames(location: string): Promise<string[]> {
  const rows = await sqlRows<{ name: string }>(
    location,
    isPostgresLocation(location)
      ? "select table_name as name from information_schema.tables where table_schema = current_schema() order by 1"
      : "select name from sqlite_schema where type = 'table' order by name",
  );
  return rows.map((row) => row.name);
}

/** schema_version as ringfence_meta records it (both backends keep it there). */
export async function metaSchemaVersion(location: string): Promise<number> {
  const [row] = await sqlRows<{ value: string }>(
    location,
    "select value from ringfence_meta where key = 'schema_version'",
  );
  return Number(row?.value);
}

/** sha256 of a file's bytes, or "absent". */
export function fileHash(path: string): string {
  if (!existsSync(path)) return "absent";
  if (statSync(path).isDirectory()) return "directory";
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** The directory listing and every file's hash: "unchanged" means this is equal before and after. */
export function directorySnapshot(directory: string): Record<string, string> {
  const snapshot: Record<string, string> = {};
  for (const name of readdirSync(directory).sort())
    snapshot[name] = fileHash(join(directory, name));
  return snapshot;
}

export function probe(
  address: string,
  port: number,
  state: PortState,
  extra: Partial<ProbeObservation> & { protocol?: Protocol } = {},
): ProbeObservation {
  const reasons: Record<PortState, string> = {
    open: "syn-ack",
    closed: "reset",
    filtered: "no-response",
    "open|filtered": "no-response",
  };
  return {
    address,
    protocol: extra.protocol ?? "tcp",
    port,
    state,
    reason: extra.reason ?? reasons[state],
    rttMs: extra.rttMs ?? (state === "open" || state === "closed" ? 1.25 : null),
    ...(extra.hostnames === undefined ? {} : { hostnames: extra.hostnames }),
    ...(extra.detail === undefined ? {} : { detail: extra.detail }),
  };
}

/**
 * A new database at an older schema `version`, as that ringfence would have created it (same
 * migrations, same header stamps), with a Store on it to fill in. Only the operations whose
 * tables existed at that version work; close it before openStore migrates the file.
 */
export async function openStoreAtVersion(path: string, version: number): Promise<Store> {
  if (isPostgresLocation(path)) {
    const backend = createPostgresBackend(path, path);
    await migrateTo(backend, version);
    return createKyselyStore(backend);
  }
  const database = new Database(path);
  database.pragma("journal_mode = WAL");
  database.pragma("foreign_keys = ON");
  const backend: StoreBackend = {
    dialect: "sqlite",
    location: path,
    db: new Kysely<StoreDatabase>({ dialect: new SqliteDialect({ database }) }),
    beginWriteSql: "begin immediate",
    writeLock: new WriteLock(),
    async stampVersion(trx, stamped) {
      await sql.raw(`pragma application_id = ${RINGFENCE_APPLICATION_ID}`).execute(trx);
      await sql.raw(`pragma user_version = ${stamped}`).execute(trx);
    },
    reserveIds: reserveSqliteIds,
    translateError: (error) => error,
    close: () => backend.db.destroy(),
  };
  await migrateTo(backend, version);
  return createKyselyStore(backend);
}
