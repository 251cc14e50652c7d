import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readImport, type ImportedScan } from "../../src/interchange/index.js";
import { openStore } from "../../src/store/index.js";
import { BIN, IS_ROOT, runCli } from "../helpers/cli.js";
import { createTestStoreLocation, type TestStoreLocation } from "../helpers/test-store.js";

/**
 * masscan's three output formats import alike. The fixtures are real masscan 1.3.2 runs (Debian's
 * package) against listeners on TCP 135, 445 and 4444 of 198.51.100.1, ports 139 and 593 closed
 * (masscan reports open ports only); as root the test makes the same run itself.
 *
 * masscan cannot scan loopback (research lab-and-peers.md, "masscan"), so the live run uses two
 * namespaces this test creates, joined by a veth pair on 198.51.100.0/24 (TEST-NET-2 inside our
 * own namespaces only), with the workarounds recorded there: a source port the scanner's kernel
 * drops (so it does not reset the SYN-ACKs), and a trickle of packets that wakes masscan's
 * libpcap reader at the end (masscan issue #144). The import runs inside the scanner namespace:
 * the TEST-NET guard refuses 198.51.100.0/24 from the initial namespace, also for imports.
 */

const FIXTURES = join(import.meta.dirname, "fixtures");
const MASSCAN = existsSync("/usr/bin/masscan") ? "/usr/bin/masscan" : null;
const run = promisify(execFile);
const OPEN = ["tcp/135", "tcp/445", "tcp/4444"];

function hostsAndPorts(scan: ImportedScan): string[] {
  return scan.hosts.flatMap((h) =>
    h.ports.map((p) => `${h.address} ${p.protocol}/${p.port} ${p.state} ${p.reason}`),
  );
}

describe("masscan output", () => {
  const files = {
    "masscan-json": "masscan-1.3.2.json",
    "masscan-xml": "masscan-1.3.2.xml",
    "masscan-list": "masscan-1.3.2.list",
  } as const;

  it("-oJ, -oX and -oL of the same scan read as the same hosts and ports, in auto and explicit mode", () => {
    const expected = OPEN.map((p) => `198.51.100.1 ${p} open syn-ack`);
    for (const [format, name] of Object.entries(files)) {
      const text = readFileSync(join(FIXTURES, name), "utf8");
      const auto = readImport(text, name, "auto");
      expect(auto.format, name).toBe(format);
      expect(auto.scanner).toBe("masscan");
      expect(hostsAndPorts(auto), name).toEqual(expected);
      expect(hostsAndPorts(readImport(text, name, format as keyof typeof files))).toEqual(expected);
      expect(auto.startedAt).toMatch(/^2026-/);
    }
  });

  it("accepts masscan's older trailing-comma JSON and the line-per-record -oD form", () => {
    const json = readFileSync(join(FIXTURES, files["masscan-json"]), "utf8");
    const records = JSON.parse(json) as unknown[];
    const trailing = "[\n" + records.map((r) => JSON.stringify(r) + ",\n").join("") + "]\n";
    const ndjson = records.map((r) => JSON.stringify(r)).join("\n") + "\n";
    const expected = hostsAndPorts(readImport(json, "a", "auto"));
    expect(hostsAndPorts(readImport(trailing, "b", "masscan-json"))).toEqual(expected);
    expect(hostsAndPorts(readImport(ndjson, "c", "auto"))).toEqual(expected);
  });
});

describe.skipIf(!IS_ROOT || MASSCAN === null)("a live masscan run, imported (root)", () => {
  const tag = process.pid.toString(36);
  const scanNs = `rfim-s${tag}`;
  const labNs = `rfim-l${tag}`;
  let store: TestStoreLocation;
  let listener: ChildProcess | undefined;
  let trickle: ChildProcess | undefined;
  const outputs: Record<string, string> = {};

  const ip = (...args: string[]) => run("ip", args);
  const inNs = (ns: string, ...args: string[]) => run("ip", ["netns", "exec", ns, ...args]);

  beforeAll(async () => {
    store = await createTestStoreLocation("rf-import-masscan-");
    // The import runs inside the scanner namespace, whose loopback cannot reach a PostgreSQL
    // server in the initial namespace: the live run is SQLite-only.
    if (store.dialect !== "sqlite") return;
    await ip("netns", "add", scanNs);
    await ip("netns", "add", labNs);
    await ip("link", "add", `rfv${tag}a`, "type", "veth", "peer", "name", `rfv${tag}b`);
    await ip("link", "set", `rfv${tag}a`, "netns", scanNs);
    await ip("link", "set", `rfv${tag}b`, "netns", labNs);
    await ip("-n", scanNs, "addr", "add", "198.51.100.2/24", "dev", `rfv${tag}a`);
    await ip("-n", labNs, "addr", "add", "198.51.100.1/24", "dev", `rfv${tag}b`);
    for (const [ns, dev] of [
      [scanNs, `rfv${tag}a`],
      [labNs, `rfv${tag}b`],
    ] as const) {
      await ip("-n", ns, "link", "set", dev, "up");
      await ip("-n", ns, "link", "set", "lo", "up");
    }
    await inNs(labNs, "sysctl", "-qw", "net.ipv4.tcp_synack_retries=1");
    // Listeners on 135, 445 and 4444 in the target namespace (node, as the lab does).
    listener = spawn(
      "ip",
      [
        "netns",
        "exec",
        labNs,
        process.execPath,
        "-e",
        'const net=require("net");for(const p of [135,445,4444])net.createServer(s=>s.destroy()).listen(p,"198.51.100.1");setInterval(()=>{},1e6);',
      ],
      { stdio: "ignore" },
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { stdout } = await run("ip", ["-n", labNs, "-br", "link", "show", `rfv${tag}b`]);
    const mac = stdout.trim().split(/\s+/)[2]!;
    await inNs(
      scanNs,
      "nft",
      "add table ip rfim; add chain ip rfim in { type filter hook input priority 0; }; add rule ip rfim in tcp dport 61000-61999 drop",
    );
    trickle = spawn(
      "ip",
      [
        "netns",
        "exec",
        scanNs,
        "bash",
        "-c",
        "while sleep 0.05; do echo > /dev/udp/198.51.100.1/9; done 2>/dev/null",
      ],
      { stdio: "ignore" },
    );
    let sourcePort = 61000 + (process.pid % 300);
    for (const [flag, name] of [
      ["-oJ", "json"],
      ["-oX", "xml"],
      ["-oL", "list"],
    ] as const) {
      const file = join(store.dir, `masscan.${name}`);
      await inNs(
        scanNs,
        MASSCAN!,
        "-e",
        `rfv${tag}a`,
        "--adapter-ip",
        "198.51.100.2",
        "--router-mac",
        mac,
        "--source-port",
        String(sourcePort++),
        "-p135,139,445,593,4444",
        "198.51.100.1",
        "--rate",
        "100",
        "--wait",
        "2",
        flag,
        file,
      );
      outputs[name] = file;
    }
  }, 120_000);

  afterAll(async () => {
    trickle?.kill("SIGKILL");
    listener?.kill("SIGKILL");
    await ip("netns", "delete", scanNs).catch(() => undefined);
    await ip("netns", "delete", labNs).catch(() => undefined);
    await store?.cleanup();
  });

  it("each output format imports the three open ports; re-imports add no host or service", async (context) => {
    if (store.dialect !== "sqlite") {
      context.skip("the scanner namespace cannot reach the PostgreSQL test server");
      return;
    }
    const scope = join(store.dir, "scope.yaml");
    writeFileSync(scope, "name: masscan-veth\nallow:\n  - 198.51.100.1\n");
    for (const name of ["json", "xml", "list"]) {
      // In the scanner's namespace: the TEST-NET guard applies in the initial one.
      const result = await run("ip", [
        "netns",
        "exec",
        scanNs,
        process.execPath,
        BIN,
        "import",
        outputs[name]!,
        "--scope",
        scope,
        "--db",
        store.location,
        "--json",
      ]);
      const summary = JSON.parse(result.stdout) as {
        format: string;
        hosts: number;
        observations: number;
      };
      expect(summary.format).toBe(`masscan-${name}`);
      expect(summary.hosts).toBe(1);
      // masscan misses ports now and then (research: "records only part of the open ports");
      // what it reports must be a subset of what listens, and in practice all three.
      expect(summary.observations).toBeGreaterThan(0);
    }
    const s = await openStore(store.location);
    try {
      const hosts = await s.listHosts();
      expect(hosts.map((h) => h.address)).toEqual(["198.51.100.1"]);
      expect(OPEN).toEqual(expect.arrayContaining(hosts[0]!.openPorts));
      expect(hosts[0]!.openPorts.length).toBeGreaterThan(0);
      expect((await s.listServices()).length).toBe(hosts[0]!.openPorts.length);
      expect(await s.listScans()).toHaveLength(3);
    } finally {
      await s.close();
    }
    // Outside the namespace the guard refuses TEST-NET, and nothing is stored.
    const refused = await runCli([
      "import",
      outputs["json"]!,
      "--scope",
      scope,
      "--db",
      store.location,
    ]);
    expect(refused.code).toBe(3);
  });
});
