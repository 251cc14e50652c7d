import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { storedEndpoint } from "../../src/cli/rpc-command.js";
import { labDown, labUp, readGroundTruth, type LabState } from "../../src/lab/index.js";
import type { EndpointEntry } from "../../src/rpc/index.js";
import { openStore, type ServiceRow } from "../../src/store/index.js";
import { isOneLineError, runCli, scratchDir } from "../helpers/cli.js";
import { miniMapper, startServer, type TestServer } from "./peer-server.js";

// Loopback outside the lab's 127.20.0.0/14, allowed by a scope file of our own.
const PEER = "127.99.0.2";

/** The inventory at `db`, read back through the Store API. */
async function inventory(db: string) {
  const store = await openStore(db);
  try {
    const scans = await store.listScans();
    return {
      scans,
      services: await store.listServices(),
      observations: scans.length === 1 ? await store.scanObservations(scans[0]!.id) : [],
    };
  } finally {
    await store.close();
  }
}

function rpcEndpointsOf(service: ServiceRow | undefined): unknown {
  return service?.detail?.rpcEndpoints;
}

describe("ringfence rpc dump stores the endpoint map", () => {
  let listener: TestServer;
  let tmp: { dir: string; cleanup: () => void };
  let scope: string;
  let db: string;
  let args: string[];

  beforeAll(async () => {
    listener = await startServer(PEER, (s) => miniMapper(s, false));
  });
  afterAll(() => listener.close());
  beforeEach(() => {
    tmp = scratchDir();
    scope = join(tmp.dir, "scope.yaml");
    writeFileSync(scope, "allow: [127.99.0.0/16]\n");
    db = join(tmp.dir, "inv.db");
    args = ["rpc", "dump", PEER, "--port", String(listener.port), "--scope", scope, "--no-lab"];
  });
  afterEach(() => tmp.cleanup());

  it("records a one-probe scan whose service detail is the printed map (--json)", async () => {
    const result = await runCli([...args, "--json", "--db", db]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as {
      entries: EndpointEntry[];
      stored: { scanId: string; db: string };
    };
    expect(printed.entries).toHaveLength(3);

    const { scans, services, observations } = await inventory(db);
    expect(scans).toHaveLength(1);
    const [scan] = scans;
    expect(printed.stored).toEqual({ scanId: scan!.id, db });
    expect(scan).toMatchObject({
      command: "rpc dump",
      status: "completed",
      totalProbes: 1,
      probesDone: 1,
      counts: { open: 1 },
      error: null,
      params: {
        protseq: "ncacn_ip_tcp",
        host: PEER,
        endpoint: String(listener.port),
        address: PEER,
        endpointCount: 3,
        pages: 2,
        complete: true,
      },
    });
    expect(scan!.startedAt).not.toBeNull();
    expect(observations).toEqual([
      expect.objectContaining({
        address: PEER,
        protocol: "tcp",
        port: listener.port,
        state: "open",
        reason: "rpc-bind",
        rttMs: null,
      }),
    ]);

    expect(services).toHaveLength(1);
    expect(services[0]).toMatchObject({
      address: PEER,
      protocol: "tcp",
      port: listener.port,
      state: "open",
      reason: "rpc-bind",
      lastScanId: scan!.id,
    });
    const stored = rpcEndpointsOf(services[0]);
    expect(stored).toEqual(printed.entries.map(storedEndpoint));
    expect(stored).toEqual([
      {
        uuid: "e1af8308-5d1f-11c9-91a4-08002b14a0fa",
        version: "3.0",
        name: "epmapper",
        annotation: "page 1",
        binding: "ncacn_ip_tcp:127.0.0.9[135]",
        protseq: "ncacn_ip_tcp",
      },
      expect.objectContaining({ annotation: "page 2", binding: "ncacn_ip_tcp:127.0.0.9[49152]" }),
      expect.objectContaining({ annotation: "page 2", binding: "ncacn_ip_tcp:127.0.0.9[49153]" }),
    ]);
  });

  it("prints where it stored, and `services` shows the host with its endpoints", async () => {
    const result = await runCli([...args, "--db", db]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    const { scans, services } = await inventory(db);
    expect(lines.at(-1)).toBe(`stored as scan ${scans[0]!.id} in ${db}`);
    // Table rows (between the header and the summary line) are the stored endpoints in order.
    const rows = lines.slice(1, -2);
    const stored = rpcEndpointsOf(services[0]) as ReturnType<typeof storedEndpoint>[];
    expect(rows).toHaveLength(stored.length);
    stored.forEach((endpoint, i) => {
      expect(rows[i]).toContain(`${endpoint.uuid} v${endpoint.version}`);
      expect(rows[i]).toContain(endpoint.binding);
      expect(rows[i]!.endsWith(endpoint.annotation)).toBe(true);
    });

    const table = await runCli(["services", "--port", String(listener.port), "--db", db]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(PEER);
    expect(table.stdout).toContain(`tcp/${listener.port}`);
    expect(table.stdout).toContain("rpc-bind");
    expect(table.stdout).toContain("1 services");

    const json = await runCli(["services", "--json", "--db", db]);
    expect(json.code).toBe(0);
    const listed = JSON.parse(json.stdout) as ServiceRow[];
    expect(listed).toHaveLength(1);
    expect(listed[0]?.detail).toEqual({ rpcEndpoints: stored });
  });

  it("uses the default inventory location and RINGFENCE_DB, as scan does", async () => {
    const inCwd = await runCli(args, { cwd: tmp.dir });
    expect(inCwd.code).toBe(0);
    expect((await inventory(join(tmp.dir, "ringfence.db"))).scans).toHaveLength(1);

    const fromEnv = join(tmp.dir, "env.db");
    const viaEnv = await runCli(args, { cwd: tmp.dir, env: { RINGFENCE_DB: fromEnv } });
    expect(viaEnv.code).toBe(0);
    expect((await inventory(fromEnv)).scans).toHaveLength(1);
    // A second dump is a second scan of the same service; the service row stays one.
    expect((await inventory(join(tmp.dir, "ringfence.db"))).scans).toHaveLength(1);
    const again = await runCli([...args, "--db", fromEnv]);
    expect(again.code).toBe(0);
    const after = await inventory(fromEnv);
    expect(after.scans).toHaveLength(2);
    expect(after.services).toHaveLength(1);
    expect(after.services[0]?.lastScanId).toBe(after.scans[0]?.id);
  });

  it("stores nothing with --no-store, and prints the map unchanged", async () => {
    const stored = await runCli([...args, "--json", "--db", db]);
    const result = await runCli([...args, "--json", "--no-store"], { cwd: tmp.dir });
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(printed.stored).toBeUndefined();
    const { stored: _where, ...rest } = JSON.parse(stored.stdout) as Record<string, unknown>;
    expect(printed).toEqual(rest);
    expect(existsSync(join(tmp.dir, "ringfence.db"))).toBe(false);

    const text = await runCli([...args, "--no-store", "--db", join(tmp.dir, "never.db")]);
    expect(text.code).toBe(0);
    expect(text.stdout).not.toContain("stored as scan");
    expect(existsSync(join(tmp.dir, "never.db"))).toBe(false);
  });

  it("stores nothing when the dump fails", async () => {
    // In scope, nothing listens on port 1: connection refused.
    const refused = await runCli(
      ["rpc", "dump", PEER, "--port", "1", "--scope", scope, "--no-lab", "--timeout", "1s"],
      { cwd: tmp.dir },
    );
    expect(refused.code).toBe(7);
    expect(isOneLineError(refused.stderr)).toBe(true);
    // Out of scope (the default scope): refused before any connection.
    const outside = await runCli(["rpc", "dump", PEER, "--port", String(listener.port)], {
      cwd: tmp.dir,
    });
    expect(outside.code).toBe(3);
    expect(readdirSync(tmp.dir)).toEqual(["scope.yaml"]);
  });

  it("refuses a --db it can never use before connecting", async () => {
    const before = listener.connections();
    // A scheme no backend takes (no connection to anything is attempted, not even a DNS lookup).
    const result = await runCli([...args, "--db", "mysql://127.0.0.1/ringfence"]);
    expect(result.code).toBe(4);
    expect(isOneLineError(result.stderr)).toBe(true);
    expect(listener.connections()).toBe(before);
  });

  it("leaves a database it must refuse untouched, and fails", async () => {
    const text = "not a database\n".repeat(100);
    writeFileSync(db, text);
    const result = await runCli([...args, "--db", db]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("is damaged");
    expect(result.stdout).toBe("");
    expect(readFileSync(db, "utf8")).toBe(text);
    expect(readdirSync(tmp.dir).sort()).toEqual(["inv.db", "scope.yaml"]);
  });
});

describe("rpc dump of a lab host with a port offset stores the nominal port", () => {
  // Bind mode needs no privilege: the lab listens on its loopback addresses at port + offset.
  const OFFSET = 31_000;
  const tmp = scratchDir();
  const labRef = { name: "rpcstore", stateDir: join(tmp.dir, "lab") };
  let lab: LabState;
  beforeAll(async () => {
    await labDown(labRef);
    lab = await labUp({ ...labRef, hosts: 16, mode: "bind", portOffset: OFFSET });
  });
  afterAll(async () => {
    await labDown(labRef);
    tmp.cleanup();
  });

  it("files the dump under tcp/135, not the wire port", async () => {
    expect(lab.portOffset).toBe(OFFSET);
    const truth = await readGroundTruth(lab);
    const host = truth.hosts.find((h) => h.tcp.open.includes(135 + OFFSET));
    expect(host).toBeDefined();
    const db = join(tmp.dir, "inv.db");
    const labArgs = ["--lab-dir", labRef.stateDir, "--lab-name", labRef.name, "--db", db];
    const result = await runCli(["rpc", "dump", host!.address, "--json", ...labArgs]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as { target: string; entries: EndpointEntry[] };
    expect(printed.target).toBe(`ncacn_ip_tcp:${host!.address}[${135 + OFFSET}]`);

    const { scans, services } = await inventory(db);
    expect(scans[0]?.params).toMatchObject({ host: host!.address, endpoint: "135" });
    expect(services.map((s) => `${s.address} ${s.protocol}/${s.port} ${s.state}`)).toEqual([
      `${host!.address} tcp/135 open`,
    ]);
    expect(rpcEndpointsOf(services[0])).toEqual(printed.entries.map(storedEndpoint));

    const listed = await runCli(["services", "--port", "135", "--db", db]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(host!.address);
  });
});
