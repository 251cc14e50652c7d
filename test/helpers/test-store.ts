import { rmSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { scratchDir } from "./cli.js";
import { quoteIdentifier } from "./postgres.js";

/**
 * A fresh, empty store location for one test: a SQLite file in a scratch directory by default.
 * When RINGFENCE_TEST_DB names a PostgreSQL server (the "postgres" test project sets it), the
 * location is a new database on that server instead, so the same test runs on both backends.
 */
export interface TestStoreLocation {
  /** What `--db` and openStore() take. */
  readonly location: string;
  readonly dialect: "sqlite" | "postgres";
  /** A directory the test may also use for its own files. */
  readonly dir: string;
  cleanup(): Promise<void>;
}

export async function createTestStoreLocation(prefix = "rf-store-"): Promise<TestStoreLocation> {
  const { dir, cleanup } = scratchDir(prefix);
  const server = process.env["RINGFENCE_TEST_DB"];
  if (server === undefined || server === "" || server === "sqlite") {
    return {
      location: join(dir, "ringfence.db"),
      dialect: "sqlite",
      dir,
      cleanup: async () => {
        cleanup();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  if (!/^postgres(ql)?:\/\//i.test(server)) {
    cleanup();
    throw new Error(`RINGFENCE_TEST_DB=${server}: expected sqlite or a postgres:// server URL`);
  }
  const database = await createTestDatabase(server);
  return {
    location: databaseUrl(server, database),
    dialect: "postgres",
    dir,
    cleanup: async () => {
      cleanup();
      await dropTestDatabase(server, database);
    },
  };
}

let databaseCounter = 0;

/** The server URL with `database` as its path (any database in the URL is replaced). */
function databaseUrl(server: string, database: string): string {
  const url = new URL(server);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

async function withAdmin<T>(server: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl(server, "postgres") });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function createTestDatabase(server: string): Promise<string> {
  // Unique across the worker processes that share the server.
  const database = `rf_test_${process.pid}_${Date.now().toString(36)}_${databaseCounter++}`;
  await withAdmin(server, (client) => client.query(`create database ${quoteIdentifier(database)}`));
  return database;
}

async function dropTestDatabase(server: string, database: string): Promise<void> {
  // WITH (FORCE): a test that failed may have left a store open (PostgreSQL 13+).
  await withAdmin(server, (client) =>
    client.query(`drop database if exists ${quoteIdentifier(database)} with (force)`),
  );
}
