import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { LATEST_SCHEMA_VERSION, openStore } from "../../src/store/index.js";
import { createTestStoreLocation, type TestStoreLocation } from "../helpers/test-store.js";
import {
  isPostgresLocation,
  metaSchemaVersion,
  openStoreAtVersion,
  probe,
  sqlRows,
} from "./store-test-helpers.js";

let locations: TestStoreLocation[] = [];
afterEach(async () => {
  for (const where of locations) await where.cleanup();
  locations = [];
});

/** A fresh store location (a SQLite file, or a PostgreSQL database in the postgres project). */
async function newLocation(): Promise<string> {
  const where = await createTestStoreLocation();
  locations.push(where);
  return where.location;
}

/** Every table, column, index and constraint, as the database describes them. */
async function schemaOf(location: string): Promise<unknown[]> {
  if (!isPostgresLocation(location)) {
    return sqlRows(
      location,
      "select type, name, tbl_name, sql from sqlite_schema order by type, name",
    );
  }
  const columns = await sqlRows(
    location,
    `select table_name, ordinal_position, column_name, data_type, is_nullable, column_default,
            is_identity
     from information_schema.columns where table_schema = current_schema()
     order by table_name, ordinal_position`,
  );
  const indexes = await sqlRows(
    location,
    "select tablename, indexname, indexdef from pg_indexes where schemaname = current_schema() order by indexname",
  );
  const constraints = await sqlRows(
    location,
    `select conrelid::regclass::text as table_name, conname, pg_get_constraintdef(oid) as def
     from pg_constraint where connamespace = current_schema()::regnamespace order by conname`,
  );
  return [...columns, ...indexes, ...constraints];
}

async function tablesOf(location: string): Promise<string[]> {
  const schema = (await schemaOf(location)) as {
    type?: string;
    name?: string;
    table_name?: string;
  }[];
  return isPostgresLocation(location)
    ? [...new Set(schema.flatMap((row) => (row.table_name === undefined ? [] : [row.table_name])))]
    : schema.filter((row) => row.type === "table").map((row) => row.name as string);
}

/**
 * The schema version as both places record it: ringfence_meta, and for SQLite the file
 * header's user_version (what the read-only guard reads).
 */
async function versionOf(location: string): Promise<{ meta: number; header?: unknown }> {
  const meta = await metaSchemaVersion(location);
  if (isPostgresLocation(location)) return { meta };
  const db = new Database(location, { readonly: true });
  try {
    return { meta, header: db.pragma("user_version", { simple: true }) };
  } finally {
    db.close();
  }
}

function version(n: number, location: string): { meta: number; header?: unknown } {
  return isPostgresLocation(location) ? { meta: n } : { meta: n, header: n };
}

/**
 * A version-1 inventory as ringfence 0.1 left it: two scans through the batch writer, and a
 * findings row as a version-1 writer would have put it (no reason, no last_run_id then).
 */
async function versionOneInventory(path: string): Promise<{ scans: string[] }> {
  const store = await openStoreAtVersion(path, 1);
  const first = await store.createScan({ command: "scan a", params: { n: 1 }, totalProbes: 4 });
  await store.recordBatch(
    first.id,
    [
      probe("10.7.0.2", 135, "open", { hostnames: ["dc1"] }),
      probe("10.7.0.2", 137, "open", { protocol: "udp", detail: { names: ["DC1"] } }),
      probe("10.7.0.3", 445, "closed"),
      probe("10.7.0.4", 445, "filtered"),
    ],
    { step: 4, probesDone: 4, counts: { open: 2, closed: 1, filtered: 1 } },
  );
  await store.finishScan(first.id, "completed");
  const second = await store.createScan({ command: "scan b", params: { n: 2 }, totalProbes: 1 });
  await store.recordBatch(second.id, [probe("2001:db8::5", 135, "open")], {
    step: 1,
    probesDone: 1,
    counts: { open: 1 },
  });
  await store.finishScan(second.id, "interrupted");
  await store.close();

  await sqlRows(
    path,
    `insert into findings (asset_id, protocol, port, advisory, check_id, verdict, evidence_json,
                           first_seen, last_seen, status)
     select id, 'tcp', 135, 'ms03-039', 'ms03-039-kb824146scan', 'vulnerable', '{"legacy":true}',
            '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', 'open'
     from assets where address = '10.7.0.2'`,
  );
  return { scans: [first.id, second.id] };
}

describe("migrations", () => {
  it("is at version 6", () => {
    expect(LATEST_SCHEMA_VERSION).toBe(6);
  });

  it("migrates a version-1 database in place to the latest version, keeping every row", async () => {
    const path = await newLocation();
    const { scans } = await versionOneInventory(path);
    expect(await versionOf(path)).toEqual(version(1, path));
    expect(await tablesOf(path)).not.toContain("check_runs");

    // What the version-1 store answered, read through the same queries after the migration.
    const store = await openStore(path);
    try {
      expect(await versionOf(path)).toEqual(version(LATEST_SCHEMA_VERSION, path));
      const listed = await store.listScans();
      expect(listed.map((s) => [s.id, s.command, s.status, s.probesDone, s.counts])).toEqual([
        [scans[1], "scan b", "interrupted", 1, { open: 1 }],
        [scans[0], "scan a", "completed", 4, { open: 2, closed: 1, filtered: 1 }],
      ]);
      expect(await store.listHosts()).toEqual([
        expect.objectContaining({
          address: "10.7.0.2",
          hostnames: ["dc1"],
          openPorts: ["tcp/135", "udp/137"],
        }),
        expect.objectContaining({ address: "10.7.0.3", openPorts: [] }),
        expect.objectContaining({ address: "2001:db8::5", openPorts: ["tcp/135"] }),
      ]);
      const services = await store.listServices();
      expect(services.map((s) => `${s.address} ${s.protocol}/${s.port} ${s.state}`)).toEqual([
        "10.7.0.2 tcp/135 open",
        "10.7.0.2 udp/137 open",
        "10.7.0.3 tcp/445 closed",
        "2001:db8::5 tcp/135 open",
      ]);
      expect(services[1]?.detail).toEqual({ names: ["DC1"] });
      expect((await store.scanObservations(scans[0]!)).map((o) => o.state)).toEqual([
        "open",
        "open",
        "closed",
        "filtered",
      ]);

      // The version-1 finding, with the new columns empty.
      const [legacy] = await store.listFindings();
      expect(legacy).toMatchObject({
        address: "10.7.0.2",
        advisory: "ms03-039",
        verdict: "vulnerable",
        classification: null,
        reasonCode: null,
        evidence: { legacy: true },
        reason: null,
        firstSeen: "2024-01-01T00:00:00.000Z",
        status: "open",
        lastRunId: null,
      });

      // And the new API works on it: a check run updates that finding and keeps its first_seen.
      await store.recordCheckRuns([
        {
          scanId: scans[0]!,
          address: "10.7.0.2",
          protocol: "tcp",
          port: 135,
          checkId: "ms03-039-kb824146scan",
          advisories: ["ms03-039"],
          verdict: "NOT_VULNERABLE",
          classification: null,
          reasonCode: "patched",
          reason: "the KB824146 fix answers",
          evidence: [],
          startedAt: "2024-02-01T00:00:00.000Z",
          finishedAt: "2024-02-01T00:00:01.000Z",
        },
      ]);
      expect(await store.listFindings()).toEqual([
        expect.objectContaining({
          firstSeen: "2024-01-01T00:00:00.000Z",
          lastSeen: "2024-02-01T00:00:01.000Z",
          verdict: "not-vulnerable",
          status: "closed",
          lastRunId: 1,
        }),
      ]);
    } finally {
      await store.close();
    }
  });

  it("gives a migrated database the same schema as a new one", async () => {
    const migrated = await newLocation();
    await versionOneInventory(migrated);
    await (await openStore(migrated)).close();
    const fresh = await newLocation();
    await (await openStore(fresh)).close();
    expect(await schemaOf(migrated)).toEqual(await schemaOf(fresh));
  });

  it("leaves a version-1 database untouched when it cannot be migrated", async () => {
    const path = await newLocation();
    await versionOneInventory(path);
    // Another table called check_runs makes migration 2 fail halfway through its transaction.
    await sqlRows(path, "create table check_runs (x integer)");
    const before = await schemaOf(path);
    await expect(openStore(path)).rejects.toThrow(/check_runs/);
    expect(await schemaOf(path)).toEqual(before);
    expect(await versionOf(path)).toEqual(version(1, path));
  });
});
