/**
 * The CLI on whichever backend the project gives (SQLite by default, PostgreSQL in the
 * "postgres" project): a connect scan of a listener on loopback is stored, and `hosts` reads it
 * back, through `--db` as a user would pass it. Needs `npm run build` (bin/ringfence.js runs dist/).
 */
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isOneLineError, runCli } from "../helpers/cli.js";
import { freeLoopbackPort } from "../helpers/postgres.js";
import { labUp, readGroundTruth, type LabState } from "../../src/lab/index.js";
import { openStore } from "../../src/store/index.js";
import { cleanupLab, NEEDS_ROOT, privileged, uniqueLabName } from "../lab/helpers.js";
import { createTestStoreLocation, type TestStoreLocation } from "../helpers/test-store.js";

describe("CLI with --db from createTestStoreLocation()", () => {
  let where: TestStoreLocation;
  let server: Server;
  let openPort: number;
  let closedPort: number;
  let scope: string;

  beforeAll(async () => {
    where = await createTestStoreLocation("rf-store-cli-");
    server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    openPort = (server.address() as { port: number }).port;
    closedPort = await freeLoopbackPort();
    scope = join(where.dir, "scope.yaml");
    writeFileSync(scope, "allow:\n  - 127.0.0.1/32\n");
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await where.cleanup();
  });

  it("scans a loopback listener into the store and lists it with hosts", async () => {
    const scan = await runCli([
      "scan",
      "127.0.0.1",
      "-p",
      `${openPort},${closedPort}`,
      "--engine",
      "connect",
      "--scope",
      scope,
      "--checks",
      "none",
      "--progress",
      "none",
      "--json",
      "--db",
      where.location,
    ]);
    expect(scan.stderr).toBe("");
    expect(scan.code).toBe(0);
    const summary = JSON.parse(scan.stdout) as {
      scan: { id: string; status: string; probesDone: number };
      counts: Record<string, number>;
    };
    expect(summary.scan).toMatchObject({ status: "completed", probesDone: 2 });
    expect(summary.counts).toEqual({ open: 1, closed: 1, filtered: 0, "open|filtered": 0 });

    const hosts = await runCli(["hosts", "--json", "--db", where.location]);
    expect(hosts.code).toBe(0);
    expect(JSON.parse(hosts.stdout)).toEqual([
      expect.objectContaining({ address: "127.0.0.1", openPorts: [`tcp/${openPort}`] }),
    ]);
    const scans = await runCli(["scans", "--json", "--db", where.location]);
    expect(scans.code).toBe(0);
    expect(JSON.parse(scans.stdout)).toEqual([
      expect.objectContaining({ id: summary.scan.id, status: "completed", probesDone: 2 }),
    ]);
  });

  it("reports an unreachable PostgreSQL server in one line, exit 4, without the password", async () => {
    const port = await freeLoopbackPort();
    const result = await runCli([
      "hosts",
      "--db",
      `postgres://scanner:s3cret-pw@127.0.0.1:${port}/rf`,
    ]);
    expect(result.code).toBe(4);
    expect(isOneLineError(result.stderr)).toBe(true);
    expect(result.stderr).toContain(`cannot use postgres://scanner@127.0.0.1:${port}/rf`);
    expect(result.stderr).not.toContain("s3cret-pw");
    expect(result.stdout).toBe("");
  });
});

/**
 * A namespaced lab moves the scanning process into the lab's network namespace, where a database
 * server on this namespace's loopback is out of reach: the store must connect before the move
 * (Store.pinConnections) and keep its connections, for the scan with its checks and for `check`.
 */
describe.skipIf(!privileged)(`CLI with --db and a namespaced lab [${NEEDS_ROOT}]`, () => {
  let where: TestStoreLocation;
  const labRef = { name: uniqueLabName("storecli"), stateDir: "" };
  let lab: LabState;

  beforeAll(async () => {
    where = await createTestStoreLocation("rf-store-lab-");
    labRef.stateDir = join(where.dir, "lab");
    lab = await labUp({ ...labRef, hosts: 16, layout: "catalogue", mode: "netns" });
  }, 60_000);
  afterAll(async () => {
    await cleanupLab(labRef.name, labRef.stateDir, lab?.netns ?? null);
    await where.cleanup();
  });

  const labArgs = () => ["--lab-dir", labRef.stateDir, "--lab-name", labRef.name];

  it("scans the lab with checks into the store, and check stores its run too", async () => {
    const truth = await readGroundTruth(lab);
    const scan = await runCli(
      [
        "scan",
        lab.range,
        "--db",
        where.location,
        "--json",
        "--progress",
        "none",
        "--timeout",
        "1s",
        "--check-timeout",
        "2s",
        ...labArgs(),
      ],
      { timeoutMs: 120_000 },
    );
    expect(scan.stderr).toBe("");
    expect(scan.code === 0 || scan.code === 1).toBe(true);
    const summary = JSON.parse(scan.stdout) as { scan: { id: string; status: string } };
    expect(summary.scan.status).toBe("completed");
    const xp = truth.hosts.find((h) => h.persona === "xp-sp1")!;
    const check = await runCli(
      ["check", "ms03-039-kb824146scan", xp.address, "--db", where.location, ...labArgs()],
      { timeoutMs: 60_000 },
    );
    expect(check.stderr).toBe("");
    expect(check.code).toBe(1);
    const store = await openStore(where.location);
    try {
      const hosts = await store.listHosts();
      const expectedUp = truth.hosts.filter((h) => h.tcp.open.length > 0).map((h) => h.address);
      for (const address of expectedUp) expect(hosts.map((h) => h.address)).toContain(address);
      const runs = await store.listCheckRuns({ address: xp.address });
      // One from the scan's check phase, one from `check`; both VULNERABLE.
      expect(runs.filter((r) => r.checkId === "ms03-039-kb824146scan").length).toBe(2);
      expect(
        (await store.listFindings({ address: xp.address })).some(
          (f) => f.advisory === "ms03-026" && f.verdict === "vulnerable",
        ),
      ).toBe(true);
    } finally {
      await store.close();
    }
  }, 180_000);
});
