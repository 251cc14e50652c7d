import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import pg from "pg";

/**
 * A throwaway PostgreSQL 15 cluster from Debian's packages, for tests and the store bench:
 * initdb with trust authentication, listening on 127.0.0.1 only (and a Unix socket in its own
 * directory), fsync off, removed when stopped. Recipe: /work/shared/research/lab-and-peers.md §6.
 */
export const POSTGRES_BIN = "/usr/lib/postgresql/15/bin";

/** The superuser initdb creates (-U); trust authentication, so no password. */
const SUPERUSER = "ringfence";

/** The OS account the server runs as: initdb and postgres refuse to run as root. */
const OS_USER = "postgres";

/** Why a cluster cannot be started here, or undefined when it can. */
export function postgresUnavailableReason(): string | undefined {
  if (!existsSync(join(POSTGRES_BIN, "initdb")) || !existsSync(join(POSTGRES_BIN, "pg_ctl"))) {
    return `PostgreSQL 15 binaries not found in ${POSTGRES_BIN} (apt-get install postgresql-15)`;
  }
  if (process.getuid?.() !== 0) {
    // Root is needed to run the server as the postgres user (setpriv); running it as the
    // current user would also work, but the CI and this machine run the suite as root.
    return `starting PostgreSQL needs root (to run it as the ${OS_USER} user); running as ${userInfo().username}`;
  }
  if (spawnSync("id", ["-u", OS_USER]).status !== 0) {
    return `no ${OS_USER} user (it comes with Debian's postgresql package)`;
  }
  return undefined;
}

export interface PostgresCluster {
  readonly port: number;
  /** postgres://ringfence@127.0.0.1:port/ (no database): append a database name. */
  readonly serverUrl: string;
  /** URL of `database` on this server. */
  url(database: string): string;
  /** Creates an empty database (a fresh name when none is given) and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  dropDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

function asPostgres(args: string[]): { status: number | null; output: string } {
  const result = spawnSync(
    "setpriv",
    [`--reuid=${OS_USER}`, `--regid=${OS_USER}`, "--init-groups", ...args],
    { encoding: "utf8", timeout: 120_000 },
  );
  return { status: result.status, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}

/** A loopback TCP port nobody listens on at the moment of asking. */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

let databaseCounter = 0;

/**
 * Starts a new cluster in a scratch directory. Throws with the reason when it cannot (see
 * postgresUnavailableReason); callers that may skip check that first.
 */
export async function startPostgresCluster(
  options: { prefix?: string } = {},
): Promise<PostgresCluster> {
  const reason = postgresUnavailableReason();
  if (reason !== undefined) throw new Error(`cannot start PostgreSQL: ${reason}`);
  const dir = mkdtempSync(join(tmpdir(), options.prefix ?? "rf-pg-"));
  chownSync(dir, ...ownerIds());
  const data = join(dir, "data");
  const log = join(dir, "postgres.log");

  const init = asPostgres([
    join(POSTGRES_BIN, "initdb"),
    "-D",
    data,
    "-A",
    "trust",
    "-U",
    SUPERUSER,
    "--no-sync",
    "-E",
    "UTF8",
    "--locale=C.UTF-8",
  ]);
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status}): ${init.output.slice(-2000)}`);
  }

  // A free port can be taken between the probe and the server's bind: try a few.
  let port = 0;
  let started = false;
  let lastOutput = "";
  for (let attempt = 0; attempt < 5 && !started; attempt++) {
    port = await freeLoopbackPort();
    const serverOptions = [
      "-c listen_addresses=127.0.0.1",
      `-p ${port}`,
      `-k ${dir}`,
      // Durability is not what a test measures: these skip the disk flushes.
      "-c fsync=off",
      "-c synchronous_commit=off",
      "-c full_page_writes=off",
      // Tests open many short-lived stores (a pool each) at once.
      "-c max_connections=200",
    ].join(" ");
    const start = asPostgres([
      join(POSTGRES_BIN, "pg_ctl"),
      "-D",
      data,
      "-l",
      log,
      "-w",
      "-t",
      "60",
      "-o",
      serverOptions,
      "start",
    ]);
    started = start.status === 0;
    lastOutput = start.output;
  }
  if (!started) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`pg_ctl start failed: ${lastOutput.slice(-2000)}`);
  }

  const serverUrl = `postgres://${SUPERUSER}@127.0.0.1:${port}/`;
  const url = (database: string) => `${serverUrl}${encodeURIComponent(database)}`;
  const admin = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: url("postgres") });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  let stopped = false;
  const stopNow = () => {
    if (stopped) return;
    stopped = true;
    // Immediate: the cluster is thrown away, nothing needs a clean shutdown checkpoint.
    asPostgres([join(POSTGRES_BIN, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"]);
    rmSync(dir, { recursive: true, force: true });
  };
  // A run that ends without its teardown (an uncaught error, process.exit) still stops the
  // server: everything here is synchronous, as an exit handler must be.
  process.once("exit", stopNow);

  return {
    port,
    serverUrl,
    url,
    async createDatabase(name) {
      const database = name ?? `rf_${process.pid}_${Date.now().toString(36)}_${databaseCounter++}`;
      // CREATE DATABASE takes no parameters: the name is an identifier, quoted here.
      await admin((client) => client.query(`create database ${quoteIdentifier(database)}`));
      return url(database);
    },
    async dropDatabase(name) {
      // WITH (FORCE) ends connections a test left open (PostgreSQL 13+).
      await admin((client) =>
        client.query(`drop database if exists ${quoteIdentifier(name)} with (force)`),
      );
    },
    async stop() {
      process.removeListener("exit", stopNow);
      stopNow();
    },
  };
}

/** The database name in a URL made by url()/createDatabase(). */
export function databaseOf(location: string): string {
  return decodeURIComponent(new URL(location).pathname.slice(1));
}

export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function ownerIds(): [number, number] {
  const uid = Number(spawnSync("id", ["-u", OS_USER], { encoding: "utf8" }).stdout.trim());
  const gid = Number(spawnSync("id", ["-g", OS_USER], { encoding: "utf8" }).stdout.trim());
  return [uid, gid];
}
