import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ProbeObservation } from "../../src/scan/observation.js";
import { openStore, RINGFENCE_APPLICATION_ID, type Store } from "../../src/store/index.js";
import pg from "pg";
import { createTestStoreLocation, type TestStoreLocation } from "../helpers/test-store.js";
import { isPostgresLocation, probe, sqlCount } from "./store-test-helpers.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

let where: TestStoreLocation;
let path: string;
let store: Store;
beforeEach(async () => {
  where = await createTestStoreLocation();
  path = where.location;
  store = await openStore(path);
});
afterEach(async () => {
  await store.close();
  await where.cleanup();
});

function count(sql: string, ...params: unknown[]): Promise<number> {
  return sqlCount(path, sql, ...params);
}

/** What a scan of `addresses` x `ports` records, with every fifth address answering. */
function sweep(addresses: string[], ports: number[]): ProbeObservation[] {
  return ports.flatMap((port) =>
    addresses.map((address, i) =>
      probe(address, port, i % 5 === 0 ? "open" : i % 5 === 1 ? "closed" : "filtered"),
    ),
  );
}

const hosts = Array.from({ length: 300 }, (_, i) => `192.0.2.${i % 250}`).slice(0, 250);

describe("createScan and the scan lifecycle", () => {
  it("stores params canonically and hashes them", async () => {
    const a = await store.createScan({
      command: "scan",
      params: { ports: [445, 135], targets: { include: ["10.0.0.0/24"], exclude: [] } },
      totalProbes: 512,
    });
    const b = await store.createScan({
      command: "scan",
      params: { targets: { exclude: [], include: ["10.0.0.0/24"] }, ports: [445, 135] },
      totalProbes: 512,
    });
    const c = await store.createScan({
      command: "scan",
      params: { targets: { exclude: [], include: ["10.0.0.0/24"] }, ports: [135, 445] },
      totalProbes: 512,
    });
    expect(a.paramsHash).toMatch(/^[0-9a-f]{64}$/);
    expect(b.paramsHash).toBe(a.paramsHash);
    expect(c.paramsHash).not.toBe(a.paramsHash);
    expect(a).toMatchObject({
      status: "running",
      startedAt: null,
      finishedAt: null,
      checkpointStep: 0,
      probesDone: 0,
      counts: {},
      error: null,
      totalProbes: 512,
    });
    expect(a.id).toMatch(/^s-[0-9a-z]+$/);
    expect(await store.getScan(a.id)).toEqual(a);
    expect(new Date(a.createdAt).toISOString()).toBe(a.createdAt);
  });

  it("lists scans newest first and honours the limit", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await store.createScan({ command: "scan", params: { i }, totalProbes: 1 })).id);
    }
    expect((await store.listScans()).map((scan) => scan.id)).toEqual([...ids].reverse());
    expect((await store.listScans(2)).map((scan) => scan.id)).toEqual([ids[4], ids[3]]);
  });

  it("marks running once, finishes, and resumes", async () => {
    const scan = await store.createScan({ command: "scan", params: {}, totalProbes: 10 });
    await store.markRunning(scan.id);
    const started = await store.requireScan(scan.id);
    expect(started.startedAt).not.toBeNull();
    await store.finishScan(scan.id, "interrupted", { probesDone: 4, counts: { open: 1 } });
    expect(await store.requireScan(scan.id)).toMatchObject({
      status: "interrupted",
      probesDone: 4,
      counts: { open: 1 },
    });
    await store.markRunning(scan.id);
    const resumed = await store.requireScan(scan.id);
    expect(resumed).toMatchObject({ status: "running", finishedAt: null, error: null });
    expect(resumed.startedAt).toBe(started.startedAt);
    await store.finishScan(scan.id, "failed", { error: "engine died" });
    expect(await store.requireScan(scan.id)).toMatchObject({
      status: "failed",
      error: "engine died",
      probesDone: 4,
    });
  });

  it("reports unknown scans with RINGFENCE_SCAN_NOT_FOUND and a hint", async () => {
    expect(await store.getScan("s-nope")).toBeUndefined();
    await expect(store.requireScan("s-nope")).rejects.toMatchObject({
      code: "RINGFENCE_SCAN_NOT_FOUND",
      hint: expect.stringContaining("ringfence scans"),
    });
    const checkpoint = { step: 1, probesDone: 1, counts: {} };
    for (const call of [
      () => store.markRunning("s-nope"),
      () => store.finishScan("s-nope", "completed"),
      () => store.recordBatch("s-nope", [probe("192.0.2.1", 445, "open")], checkpoint),
      () => store.scanObservations("s-nope"),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: "RINGFENCE_SCAN_NOT_FOUND" });
    }
    expect(await count("select count(*) from observations")).toBe(0);
  });
});

describe("recordBatch", () => {
  it("records observations, assets for answering hosts, services and the checkpoint", async () => {
    const scan = await store.createScan({ command: "scan", params: {}, totalProbes: 4 });
    await store.recordBatch(
      scan.id,
      [
        probe("192.0.2.1", 445, "open", { hostnames: ["dc1.example"] }),
        probe("192.0.2.1", 135, "filtered"),
        probe("192.0.2.2", 445, "filtered"),
        probe("192.0.2.3", 137, "open|filtered", { protocol: "udp" }),
      ],
      { step: 7, probesDone: 4, counts: { open: 1, filtered: 2, "open|filtered": 1 } },
    );
    expect(await store.requireScan(scan.id)).toMatchObject({
      checkpointStep: 7,
      probesDone: 4,
      counts: { open: 1, filtered: 2, "open|filtered": 1 },
    });
    expect(await count("select count(*) from observations")).toBe(4);
    // Only 192.0.2.1 answered; filtered and open|filtered prove nothing about a host.
    expect(await count("select count(*) from assets")).toBe(1);
    expect(await count("select count(*) from services")).toBe(2);
    const [host] = await store.listHosts();
    expect(host).toMatchObject({
      address: "192.0.2.1",
      family: "ipv4",
      hostnames: ["dc1.example"],
      openPorts: ["tcp/445"],
      os: null,
    });
  });

  it("is idempotent: recording the same batches again (a resume) writes nothing twice", async () => {
    const scan = await store.createScan({ command: "scan", params: {}, totalProbes: 750 });
    const observations = sweep(hosts, [135, 139, 445]);
    const batches = [
      observations.slice(0, 300),
      observations.slice(300, 600),
      observations.slice(600),
    ];
    let done = 0;
    for (const [step, batch] of batches.entries()) {
      done += batch.length;
      await store.recordBatch(scan.id, batch, { step, probesDone: done, counts: {} });
    }
    const first = await store.scanObservations(scan.id);
    const firstHosts = await store.listHosts();
    const firstServices = await store.listServices();
    expect(first).toHaveLength(750);

    // The resumed scan restarts from the second batch, and re-records everything from there.
    await store.recordBatch(scan.id, batches[1] ?? [], { step: 1, probesDone: 600, counts: {} });
    await store.recordBatch(scan.id, batches[2] ?? [], { step: 2, probesDone: 750, counts: {} });
    await store.recordBatch(scan.id, observations, { step: 2, probesDone: 750, counts: {} });

    const again = await store.scanObservations(scan.id);
    const strip = (rows: typeof first) => rows.map(({ observedAt: _o, ...rest }) => rest);
    expect(strip(again)).toEqual(strip(first));
    expect(await count("select count(*) from observations")).toBe(750);
    expect(await count("select count(*) from assets")).toBe(100);
    expect(await count("select count(*) from services")).toBe(300);
    expect((await store.listHosts()).map(({ lastSeen: _l, ...rest }) => rest)).toEqual(
      firstHosts.map(({ lastSeen: _l, ...rest }) => rest),
    );
    expect((await store.listServices()).length).toBe(firstServices.length);
    expect(await store.requireScan(scan.id)).toMatchObject({ checkpointStep: 2, probesDone: 750 });
  });

  it("keeps the last of duplicate probes within one batch", async () => {
    const scan = await store.createScan({ command: "scan", params: {}, totalProbes: 1 });
    await store.recordBatch(
      scan.id,
      [probe("192.0.2.9", 445, "filtered"), probe("192.0.2.9", 445, "open")],
      { step: 1, probesDone: 1, counts: {} },
    );
    const rows = await store.scanObservations(scan.id);
    expect(rows.map((row) => row.state)).toEqual(["open"]);
  });

  it("writes batches larger than one statement's parameter budget", async () => {
    const scan = await store.createScan({ command: "scan", params: {}, totalProbes: 5000 });
    const many = Array.from({ length: 5000 }, (_, i) =>
      probe(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 445, "open"),
    );
    await store.recordBatch(scan.id, many, { step: 1, probesDone: 5000, counts: { open: 5000 } });
    expect(await count("select count(*) from observations")).toBe(5000);
    expect(await count("select count(*) from assets")).toBe(5000);
    expect(await count("select count(*) from services")).toBe(5000);
    expect((await store.listHosts({ limit: 3 })).map((h) => h.address)).toEqual([
      "10.0.0.0",
      "10.0.0.1",
      "10.0.0.2",
    ]);
  });

  it("gives a host that answers late the services it was already observed on", async () => {
    // Port-major order: 192.0.2.7 is filtered on 135 in one batch, and answers on 445 later.
    const scan = await store.createScan({ command: "scan", params: {}, totalProbes: 3 });
    await store.recordBatch(scan.id, [probe("192.0.2.7", 135, "filtered")], {
      step: 1,
      probesDone: 1,
      counts: {},
    });
    expect(await store.listHosts()).toEqual([]);
    await store.recordBatch(scan.id, [probe("192.0.2.7", 445, "open")], {
      step: 2,
      probesDone: 2,
      counts: {},
    });
    expect(
      (await store.listServices({ address: "192.0.2.7" })).map((s) => `${s.port} ${s.state}`),
    ).toEqual(["135 filtered", "445 open"]);
    expect(await count("select count(*) from observations where asset_id is null")).toBe(0);
  });

  it("keeps services at their latest state, merges hostnames and keeps detail", async () => {
    const first = await store.createScan({ command: "scan", params: {}, totalProbes: 1 });
    await store.recordBatch(
      first.id,
      [
        probe("192.0.2.5", 137, "open", {
          protocol: "udp",
          hostnames: ["fs1"],
          detail: { netbiosNames: ["FS1"] },
        }),
      ],
      { step: 1, probesDone: 1, counts: {} },
    );
    const second = await store.createScan({ command: "scan", params: {}, totalProbes: 1 });
    await store.recordBatch(
      second.id,
      [probe("192.0.2.5", 137, "closed", { protocol: "udp", hostnames: ["fs1.corp"] })],
      { step: 1, probesDone: 1, counts: {} },
    );
    const [service] = await store.listServices();
    expect(service).toMatchObject({
      state: "closed",
      lastScanId: second.id,
      detail: { netbiosNames: ["FS1"] },
      hostnames: ["fs1", "fs1.corp"],
    });
    expect(service && service.firstSeen <= service.lastSeen).toBe(true);
    // Each scan still answers for what it saw.
    const [asFirstSaw] = await store.listServices({ scanId: first.id });
    expect(asFirstSaw?.state).toBe("open");
  });

  it("dates a host's last sighting by its latest answer, on any port", async () => {
    const scan = await store.createScan({ command: "scan", params: {}, totalProbes: 5 });
    const at = (time: string) => vi.setSystemTime(new Date(`2026-01-01T${time}Z`));
    const record = (step: number, batch: ProbeObservation[]) =>
      store.recordBatch(scan.id, batch, { step, probesDone: step, counts: {} });
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      at("10:00:00.000");
      await record(1, [probe("192.0.2.8", 445, "open"), probe("192.0.2.9", 445, "filtered")]);
      at("10:01:00.000");
      // Silence proves nothing: the host was last seen when it last answered.
      await record(2, [probe("192.0.2.8", 135, "filtered"), probe("192.0.2.8", 445, "filtered")]);
      let [host] = await store.listHosts();
      expect(host).toMatchObject({
        address: "192.0.2.8",
        firstSeen: "2026-01-01T10:00:00.000Z",
        lastSeen: "2026-01-01T10:00:00.000Z",
        openPorts: [],
      });
      at("10:02:00.000");
      await record(3, [probe("192.0.2.8", 139, "closed")]);
      [host] = await store.listHosts();
      expect(host?.lastSeen).toBe("2026-01-01T10:02:00.000Z");
      expect(host?.firstSeen).toBe("2026-01-01T10:00:00.000Z");
      const services = await store.listServices({ address: "192.0.2.8" });
      expect(services.map((s) => `${s.port} ${s.state} ${s.lastSeen.slice(11, 16)}`)).toEqual([
        "135 filtered 10:01",
        "139 closed 10:02",
        "445 filtered 10:01",
      ]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("takes two spellings of one IPv6 address for one address", async () => {
    const scan = await store.createScan({ command: "scan", params: {}, totalProbes: 3 });
    await store.recordBatch(
      scan.id,
      [
        probe("2001:db8::a", 445, "filtered"),
        probe("2001:DB8:0::A", 445, "open"),
        probe("2001:db8:0:0:0:0:0:a", 135, "closed"),
      ],
      { step: 1, probesDone: 3, counts: {} },
    );
    const rows = await store.scanObservations(scan.id);
    expect(rows.map((row) => `${row.port} ${row.state}`)).toEqual(["135 closed", "445 open"]);
    expect(await store.listHosts()).toMatchObject([
      { address: "2001:db8::a", openPorts: ["tcp/445"] },
    ]);
  });

  it("keeps concurrent scans apart, in one store and across connections", async () => {
    const other = await openStore(path);
    try {
      const a = await store.createScan({ command: "scan", params: { n: "a" }, totalProbes: 600 });
      const b = await store.createScan({ command: "scan", params: { n: "b" }, totalProbes: 600 });
      const c = await other.createScan({ command: "scan", params: { n: "c" }, totalProbes: 600 });
      const work = (s: Store, id: string, ports: number[]) =>
        (async () => {
          const all = sweep(hosts.slice(0, 200), ports);
          for (let i = 0; i < all.length; i += 100) {
            await s.recordBatch(id, all.slice(i, i + 100), {
              step: i / 100 + 1,
              probesDone: i + 100,
              counts: { [id]: i + 100 },
            });
          }
        })();
      await Promise.all([
        work(store, a.id, [135, 445, 3389]),
        work(store, b.id, [139, 445, 5985]),
        work(other, c.id, [80, 443, 445]),
      ]);
      for (const [scan, ports] of [
        [a, [135, 445, 3389]],
        [b, [139, 445, 5985]],
        [c, [80, 443, 445]],
      ] as const) {
        const rows = await store.scanObservations(scan.id);
        expect(rows).toHaveLength(600);
        expect(new Set(rows.map((row) => row.port))).toEqual(new Set(ports));
        expect(rows.every((row) => row.scanId === scan.id)).toBe(true);
        expect(await store.requireScan(scan.id)).toMatchObject({
          checkpointStep: 6,
          probesDone: 600,
          counts: { [scan.id]: 600 },
        });
      }
      expect(await count("select count(*) from observations")).toBe(1800);
      // 445 is shared: one service row per (asset, port) whatever the number of scans.
      expect(await count("select count(*) from services where port = 445")).toBe(80);
    } finally {
      await other.close();
    }
  });

  it("waits for another process's write lock instead of failing", async () => {
    const scan = await store.createScan({ command: "scan", params: {}, totalProbes: 1 });
    const release = await holdWriteLock(path, 400);
    await store.recordBatch(scan.id, [probe("192.0.2.1", 445, "open")], {
      step: 1,
      probesDone: 1,
      counts: {},
    });
    await release;
    expect(await count("select count(*) from observations")).toBe(1);
  });

  it("closes twice harmlessly and refuses use after close", async () => {
    const extra = await openStore(path);
    await extra.close();
    await extra.close();
    await expect(extra.listScans()).rejects.toMatchObject({ code: "RINGFENCE_DB_UNAVAILABLE" });
  });
});

/**
 * Another process takes the store's write lock and holds it for `ms`: SQLite's with BEGIN
 * IMMEDIATE in a child process, PostgreSQL's (the advisory lock every write transaction takes
 * first, see postgres-backend.ts) in a session of its own. Resolves once the lock is held, to a
 * promise of its release.
 */
async function holdWriteLock(location: string, ms: number): Promise<Promise<unknown>> {
  if (isPostgresLocation(location)) {
    const client = new pg.Client({ connectionString: location });
    await client.connect();
    await client.query("begin");
    await client.query(`select pg_advisory_xact_lock(${RINGFENCE_APPLICATION_ID})`);
    return new Promise((resolve) => setTimeout(resolve, ms)).then(async () => {
      await client.query("commit");
      await client.end();
    });
  }
  const holder = spawn(
    process.execPath,
    [
      "-e",
      `const db = new (require("better-sqlite3"))(process.argv[1]);
       db.exec("begin immediate");
       console.log("locked");
       setTimeout(() => { db.exec("commit"); db.close(); }, ${ms});`,
      location,
    ],
    { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = once(holder, "exit");
  await once(holder.stdout, "data");
  return exited;
}
