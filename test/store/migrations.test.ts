import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LATEST_SCHEMA_VERSION, openStore } from "../../src/store/index.js";
import { probe, tempDirectory, openStoreAtVersion } from "./store-test-helpers.js";

let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDirectory();
});
afterEach(() => dir.cleanup());

function schemaOf(path: string): unknown[] {
  const db = new Database(path, { readonly: true });
  try {
    return db
      .prepare("select type, name, tbl_name, sql from sqlite_schema order by type, name")
      .all();
  } finally {
    db.close();
  }
}

function header(path: string): { userVersion: unknown; schemaVersion: string | undefined } {
  const db = new Database(path, { readonly: true });
  try {
    return {
      userVersion: db.pragma("user_version", { simple: true }),
      schemaVersion: (
        db.prepare("select value from ringfence_meta where key = 'schema_version'").get() as
          { value: string } | undefined
      )?.value,
    };
  } finally {
    db.close();
  }
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

  const db = new Database(path);
  db.prepare(
    `insert into findings (asset_id, protocol, port, advisory, check_id, verdict, evidence_json,
                           first_seen, last_seen, status)
     select id, 'tcp', 135, 'ms03-039', 'ms03-039-kb824146scan', 'vulnerable', '{"legacy":true}',
            '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', 'open'
     from assets where address = '10.7.0.2'`,
  ).run();
  db.close();
  return { scans: [first.id, second.id] };
}

describe("migrations", () => {
  it("is at version 4", () => {
    expect(LATEST_SCHEMA_VERSION).toBe(4);
  });

  it("migrates a version-1 database in place to the latest version, keeping every row", async () => {
    const path = join(dir.path, "v1.db");
    const { scans } = await versionOneInventory(path);
    expect(header(path)).toEqual({ userVersion: 1, schemaVersion: "1" });
    const v1Tables = (schemaOf(path) as { type: string; name: string }[])
      .filter((row) => row.type === "table")
      .map((row) => row.name);
    expect(v1Tables).not.toContain("check_runs");

    // What the version-1 store answered, read through the same queries after the migration.
    const store = await openStore(path);
    try {
      expect(header(path)).toEqual({
        userVersion: LATEST_SCHEMA_VERSION,
        schemaVersion: String(LATEST_SCHEMA_VERSION),
      });
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
    const migrated = join(dir.path, "v1.db");
    await versionOneInventory(migrated);
    await (await openStore(migrated)).close();
    const fresh = join(dir.path, "new.db");
    await (await openStore(fresh)).close();
    expect(schemaOf(migrated)).toEqual(schemaOf(fresh));
  });

  it("leaves a version-1 database untouched when it cannot be migrated", async () => {
    const path = join(dir.path, "v1.db");
    await versionOneInventory(path);
    // Another table called check_runs makes migration 2 fail halfway through its transaction.
    const db = new Database(path);
    db.exec("create table check_runs (x)");
    db.close();
    const before = schemaOf(path);
    await expect(openStore(path)).rejects.toThrow(/check_runs/);
    expect(schemaOf(path)).toEqual(before);
    expect(header(path)).toEqual({ userVersion: 1, schemaVersion: "1" });
  });
});
