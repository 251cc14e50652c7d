import { execFile } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readNmapXml } from "../../src/interchange/index.js";
import { openStore } from "../../src/store/index.js";
import { isOneLineError, runCli } from "../helpers/cli.js";
import { createTestStoreLocation, type TestStoreLocation } from "../helpers/test-store.js";

/**
 * Issue 7 acceptance: a file from a real `nmap -oX` scan of loopback listeners this test opens
 * imports with the same hosts and ports; re-importing creates no duplicates; the scope applies to
 * every address (refused whole by default, skipped and counted with --skip-out-of-scope).
 */

const NMAP = existsSync("/usr/bin/nmap") ? "/usr/bin/nmap" : null;
const run = promisify(execFile);

function listen(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("not listening");
  return address.port;
}

describe.skipIf(NMAP === null)("import of a real nmap -oX scan", () => {
  let store: TestStoreLocation;
  let servers: Server[] = [];
  let open: number[];
  let closed: number;
  let xmlFile: string;
  let scopeFile: string;

  beforeAll(async () => {
    store = await createTestStoreLocation("rf-import-nmap-");
    servers = await Promise.all([listen(), listen(), listen()]);
    open = servers.map(portOf).sort((a, b) => a - b);
    // A port we just freed: nothing listens there, so the kernel refuses the connect.
    const spare = await listen();
    closed = portOf(spare);
    await new Promise((resolve) => spare.close(resolve));
    xmlFile = join(store.dir, "nmap.xml");
    await run(NMAP!, [
      "-sT",
      "-Pn",
      "-n",
      "--reason",
      "-p",
      [...open, closed].join(","),
      "-oX",
      xmlFile,
      "127.0.0.1",
    ]);
    scopeFile = join(store.dir, "scope.yaml");
    writeFileSync(scopeFile, "name: loopback-one\nallow:\n  - 127.0.0.1\n");
  }, 60_000);

  afterAll(async () => {
    for (const server of servers) await new Promise((resolve) => server.close(resolve));
    await store?.cleanup();
  });

  it("records the same hosts and ports nmap found, as a scan of kind import", async () => {
    const result = await runCli([
      "import",
      xmlFile,
      "--scope",
      scopeFile,
      "--db",
      store.location,
      "--json",
    ]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as {
      scan: string;
      hosts: number;
      observations: number;
      format: string;
    };
    expect(summary).toMatchObject({ hosts: 1, observations: 4, format: "nmap-xml" });

    const s = await openStore(store.location);
    try {
      const scan = await s.requireScan(summary.scan);
      expect(scan.status).toBe("completed");
      expect(scan.params).toMatchObject({ kind: "import", scanner: "nmap", format: "nmap-xml" });
      const hosts = await s.listHosts();
      expect(hosts.map((h) => h.address)).toEqual(["127.0.0.1"]);
      expect(hosts[0]!.openPorts).toEqual(open.map((p) => `tcp/${p}`));
      const services = await s.listServices({ scanId: summary.scan });
      expect(services.map((x) => `${x.port} ${x.state} ${x.reason}`)).toEqual(
        [...open.map((p) => `${p} open syn-ack`), `${closed} closed conn-refused`].sort(
          (a, b) => Number(a.split(" ")[0]) - Number(b.split(" ")[0]),
        ),
      );
      // What the reader makes of the file is what nmap wrote, port for port.
      const parsed = readNmapXml((await import("node:fs")).readFileSync(xmlFile, "utf8"), xmlFile);
      expect(parsed.scannerVersion).toMatch(/^\d+\.\d+/);
      expect(parsed.args).toContain("-sT");
    } finally {
      await s.close();
    }
  });

  it("re-importing the same file records nothing new and duplicates no host or service", async () => {
    const again = await runCli(["import", xmlFile, "--scope", scopeFile, "--db", store.location]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already imported as scan s-/);
    // The same results in a different file (nmap rewritten, other timestamps) is a new scan
    // with the same identities: still one host, four services.
    const copy = join(store.dir, "nmap-copy.xml");
    const { readFileSync } = await import("node:fs");
    writeFileSync(copy, readFileSync(xmlFile, "utf8").replace(/start="\d+"/, 'start="1"'));
    const second = await runCli(["import", copy, "--scope", scopeFile, "--db", store.location]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^imported /);
    const s = await openStore(store.location);
    try {
      expect((await s.listScans()).length).toBe(2);
      expect(await s.listHosts()).toHaveLength(1);
      expect(await s.listServices()).toHaveLength(4);
    } finally {
      await s.close();
    }
  });

  it("refuses a file with an address outside the scope, storing nothing", async () => {
    const other = await createTestStoreLocation("rf-import-scope-");
    try {
      // The default scope is the lab's 127.20.0.0/14: 127.0.0.1 lies outside it.
      const refused = await runCli(["import", xmlFile, "--db", other.location]);
      expect(refused.code).toBe(3);
      expect(isOneLineError(refused.stderr)).toBe(true);
      expect(refused.stderr).toContain("1 of 1 hosts are outside the authorized scope");
      expect(refused.stderr).toContain("127.0.0.1");
      const skipped = await runCli([
        "import",
        xmlFile,
        "--skip-out-of-scope",
        "--db",
        other.location,
      ]);
      expect(skipped.code).toBe(0);
      expect(skipped.stdout).toContain("skipped 1 hosts outside the scope");
      const s = await openStore(other.location);
      try {
        expect(await s.listHosts()).toEqual([]);
        expect(await s.listServices()).toEqual([]);
      } finally {
        await s.close();
      }
    } finally {
      await other.cleanup();
    }
  });
});
