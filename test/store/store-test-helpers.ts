import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import type { PortState, ProbeObservation, Protocol } from "../../src/scan/observation.js";
import { createKyselyStore } from "../../src/store/kysely-store.js";
import { migrateTo } from "../../src/store/migrations.js";
import type { StoreDatabase } from "../../src/store/schema.js";
import { RINGFENCE_APPLICATION_ID } from "../../src/store/sqlite/sqlite-inspector.js";
import type { Store } from "../../src/store/store.js";
import { WriteLock, type StoreBackend } from "../../src/store/store-backend.js";

/** A fresh directory per test; removed by the returned cleanup. */
export function tempDirectory(): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), "ringfence-store-"));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
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
    translateError: (error) => error,
    close: () => backend.db.destroy(),
  };
  await migrateTo(backend, version);
  return createKyselyStore(backend);
}
