import { sql, type Kysely } from "kysely";
import type { StoreDatabase } from "./schema.js";

export type DialectName = "sqlite" | "postgres";

/** Tables whose rows the store inserts with ids it reserved first (see reserveIds). */
export type ReservedIdTable = "check_runs";

/**
 * What a database backend gives the portable store: a kysely instance on a guarded, migrated
 * database, and the few statements that differ by dialect. Everything else is shared SQL.
 */
export interface StoreBackend {
  readonly dialect: DialectName;
  readonly location: string;
  readonly db: Kysely<StoreDatabase>;
  /**
   * Opens a transaction that holds the write lock from its first statement (SQLite: BEGIN
   * IMMEDIATE). A deferred BEGIN that reads and then writes can fail at once with SQLITE_BUSY
   * when another process wrote in between, instead of waiting for the busy timeout.
   */
  readonly beginWriteSql: string;
  /** Serialises this process's write transactions on the database (see WriteLock). */
  readonly writeLock: WriteLock;
  /** Records the schema version where this backend's file-level guard reads it (SQLite header). */
  stampVersion(trx: Kysely<StoreDatabase>, version: number): Promise<void>;
  /**
   * Opens now every connection the backend will use and keeps them: the process is about to
   * move into another network namespace (a lab, a vantage) where a database server on this
   * namespace's loopback cannot be reached, and a socket keeps the namespace it was opened in.
   * Absent where there is nothing to connect to (SQLite files).
   */
  pinConnections?(): Promise<void>;
  /**
   * `count` unused ids of `table`, ascending, for rows that the write transaction `trx` then
   * inserts with these ids. Only within a write transaction: the write lock keeps other writers
   * from taking the same ids (SQLite) or from interleaving theirs (PostgreSQL).
   */
  reserveIds(trx: Kysely<StoreDatabase>, table: ReservedIdTable, count: number): Promise<number[]>;
  /** Driver errors to RingfenceErrors where the user can act on them; anything else unchanged. */
  translateError(error: unknown): unknown;
  close(): Promise<void>;
}

/**
 * An async mutex. better-sqlite3 waits for a busy database synchronously, blocking the event
 * loop: if two Store instances in one process interleave their write transactions, the second
 * BEGIN IMMEDIATE would wait for a lock the first can never release. So writers in one process
 * queue here, and SQLite's busy timeout only ever waits for other processes.
 */
export class WriteLock {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/**
 * Runs fn in one write transaction on one connection. kysely's own transaction() cannot choose
 * the BEGIN statement, hence the raw begin/commit here.
 */
export async function writeTransaction<T>(
  backend: StoreBackend,
  fn: (trx: Kysely<StoreDatabase>) => Promise<T>,
): Promise<T> {
  return backend.writeLock.run(() =>
    backend.db.connection().execute(async (conn) => {
      await sql.raw(backend.beginWriteSql).execute(conn);
      try {
        const result = await fn(conn);
        await sql`commit`.execute(conn);
        return result;
      } catch (error) {
        // Some errors (SQLITE_FULL, SQLITE_IOERR) already rolled the transaction back; a failing
        // ROLLBACK must not hide the error that caused it.
        await sql`rollback`.execute(conn).catch(() => undefined);
        throw error;
      }
    }),
  );
}
