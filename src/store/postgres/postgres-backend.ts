import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import {
  APPLICATION_NAME,
  LATEST_SCHEMA_VERSION,
  META_TABLE,
  migrateToLatest,
  newerVersionError,
} from "../migrations.js";
import type { StoreDatabase } from "../schema.js";
import { WriteLock, type ReservedIdTable, type StoreBackend } from "../store-backend.js";
import { RINGFENCE_APPLICATION_ID } from "../sqlite/sqlite-inspector.js";
import {
  postgresForeignError,
  postgresUnavailableError,
  translatePostgresError,
} from "./postgres-errors.js";

/** Connections per store: a writer, a reader (listHosts' read transaction) and some slack. */
const POOL_SIZE = 4;

/** How long to wait for the server to accept a connection before RINGFENCE_DB_UNAVAILABLE. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * The write lock's key: one advisory lock per database (the lock tag includes the database's
 * OID, PostgreSQL 15 manual §20.3.5 "Advisory Locks"), with the number our SQLite files carry.
 */
const WRITE_LOCK_KEY = RINGFENCE_APPLICATION_ID;

/** How long a writer waits for another process's write lock, like SQLite's busy timeout. */
const LOCK_TIMEOUT = "10s";

/**
 * Every write transaction of the store reads and then writes (recordBatch looks up the assets of
 * its addresses and inserts those missing; recordCheckRuns, migrations likewise). Two writers
 * that interleave would both find an address missing, and the second insert would fail on the
 * unique key (READ COMMITTED) or the commit would fail with a serialization error (SERIALIZABLE,
 * then to be retried by a caller that no longer has its batch). SQLite answers this with one
 * writer at a time (BEGIN IMMEDIATE); so do we, with a transaction-scoped advisory lock taken as
 * the first statement. It is released at COMMIT or ROLLBACK. Readers never take it (MVCC).
 *
 * READ COMMITTED on purpose: each statement sees everything committed before it started, so the
 * reads after the lock see the previous writer's rows. Under REPEATABLE READ the snapshot would
 * be taken by the first statement, i.e. before the lock was granted, and the reads would miss
 * them (PostgreSQL 15 manual §13.2.1 and §13.2.2).
 *
 * One text, several statements: node-postgres sends a query without parameters in the simple
 * query protocol, which runs them in order (PostgreSQL 15 manual §55.2.2). SET LOCAL ends with
 * the transaction.
 */
const BEGIN_WRITE_SQL = [
  "begin isolation level read committed",
  `set local lock_timeout = '${LOCK_TIMEOUT}'`,
  `select pg_advisory_xact_lock(${WRITE_LOCK_KEY})`,
].join("; ");

/**
 * int8 (oid 20) as a number: ids are identity bigints and count(*) is bigint, and the Store's
 * records carry numbers, as SQLite returns them. Node-postgres returns int8 as a string, since
 * it may exceed 2^53; ours never come near that, and a value that does fails loudly instead of
 * being rounded.
 */
const INT8_OID = 20;

function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`integer ${text} exceeds 2^53`);
  return value;
}

const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary"
      ? parseInt8
      : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser,
};

/**
 * Opens the ringfence inventory in the PostgreSQL database `url` (in the connection's current
 * schema, normally public): connect, inspect without writing, refuse a database that holds
 * someone else's tables or a newer schema, then migrate. `display` is the URL without its
 * password, for messages.
 */
export async function openPostgresBackend(url: string, display: string): Promise<StoreBackend> {
  const backend = createPostgresBackend(url, display);
  try {
    const schemaVersion = await inspect(backend.db, display);
    if (schemaVersion < LATEST_SCHEMA_VERSION) await migrateToLatest(backend);
  } catch (error) {
    await backend.close().catch(() => undefined);
    throw translatePostgresError(error, display);
  }
  return backend;
}

/**
 * The backend on `url` without inspecting or migrating anything: openPostgresBackend's first
 * step, and for tests that need a database at an older schema version (migrateTo).
 */
export function createPostgresBackend(url: string, display: string): StoreBackend {
  const pool = new pg.Pool({
    connectionString: url,
    max: POOL_SIZE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    // Idle connections stay open: after pinConnections() the process may be in a network
    // namespace where a new connection to this server cannot be made.
    idleTimeoutMillis: 0,
    application_name: APPLICATION_NAME,
    types,
  });
  // An idle connection that the server drops (restart, idle timeout) emits "error" on the pool;
  // unhandled, that would end the process. The next query gets a new connection or the error.
  pool.on("error", () => undefined);

  const backend: StoreBackend = {
    dialect: "postgres",
    location: display,
    db: new Kysely<StoreDatabase>({ dialect: new PostgresDialect({ pool }) }),
    beginWriteSql: BEGIN_WRITE_SQL,
    writeLock: writeLockFor(url),
    // The version lives in ringfence_meta only: there is no file header to stamp.
    stampVersion: async () => undefined,
    reserveIds: reservePostgresIds,
    translateError: (error) => translatePostgresError(error, display),
    async pinConnections() {
      // Checked out together, so the pool opens all of them, then kept idle in the pool.
      const clients = await Promise.all(Array.from({ length: POOL_SIZE }, () => pool.connect()));
      for (const client of clients) client.release();
    },
    close: () => backend.db.destroy(),
  };
  return backend;
}

/**
 * Ids from the identity column's own sequence (pg_get_serial_sequence finds it for identity
 * columns too), so that inserts that leave the id to its default (an older ringfence, psql) never
 * collide with them. The column is GENERATED BY DEFAULT, which accepts explicit ids. The advisory
 * write lock orders our writers; anyone else calling nextval meanwhile only leaves gaps, and the
 * ids are sorted because the order of a set-returning query's rows is not defined.
 */
async function reservePostgresIds(
  trx: Kysely<StoreDatabase>,
  table: ReservedIdTable,
  count: number,
): Promise<number[]> {
  if (count === 0) return [];
  const result = await sql<{
    id: number;
  }>`select nextval(pg_get_serial_sequence(${table}, 'id')) as id
    from generate_series(1, ${count}::integer)`.execute(trx);
  return result.rows.map((row) => Number(row.id)).sort((a, b) => a - b);
}

/**
 * Decides, with reads only, whether the database may be used: 0 for an empty schema (new), the
 * schema version of a ringfence database this build can read; everything else is refused.
 */
async function inspect(db: Kysely<StoreDatabase>, display: string): Promise<number> {
  return db.connection().execute(async (conn) => {
    const schema = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(
      conn,
    );
    const current = schema.rows[0]?.schema ?? null;
    if (current === null) {
      throw postgresUnavailableError(
        display,
        "no schema on the search_path to create the inventory in",
      );
    }
    // Tables, views and foreign tables alike (information_schema.tables lists them all) that
    // this user can see in the schema the inventory would go to.
    const tables = await sql<{
      table_name: string;
    }>`select table_name from information_schema.tables where table_schema = ${current}`.execute(
      conn,
    );
    const names = tables.rows.map((row) => row.table_name);
    if (names.length === 0) return 0;
    if (!names.includes(META_TABLE)) {
      const shown = names.slice(0, 3).join(", ") + (names.length > 3 ? ", ..." : "");
      throw postgresForeignError(display, `schema ${current} holds other tables: ${shown}`);
    }
    const meta = await conn.selectFrom("ringfence_meta").select(["key", "value"]).execute();
    const value = (key: string) => meta.find((row) => row.key === key)?.value;
    if (value("application") !== APPLICATION_NAME) {
      throw postgresForeignError(display, `${META_TABLE} does not name ${APPLICATION_NAME}`);
    }
    const version = Number(value("schema_version"));
    if (!Number.isInteger(version) || version < 1) {
      throw postgresForeignError(display, `${META_TABLE} has no valid schema_version`);
    }
    if (version > LATEST_SCHEMA_VERSION) throw newerVersionError(display, version);
    return version;
  });
}

/** One lock per database URL in this process, shared by every Store opened on it. */
const writeLocks = new Map<string, WriteLock>();

/**
 * Writers of one process queue here rather than each holding a pooled connection while it
 * waits for the advisory lock; the advisory lock orders them against other processes.
 */
function writeLockFor(url: string): WriteLock {
  let lock = writeLocks.get(url);
  if (lock === undefined) {
    lock = new WriteLock();
    writeLocks.set(url, lock);
  }
  return lock;
}
