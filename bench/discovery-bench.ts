/**
 * Discovery benchmark: ringfence against nmap (-sT, and -sS as root) and zmap on the same lab,
 * in one run, with accuracy measured against the lab's ground truth.
 *
 *   npm run bench                      # 65,536 hosts × TCP 135, 139, 445
 *   npm run bench -- --hosts 4096      # smaller, quicker
 *
 * Every tool scans the lab inside its network namespace (ringfence joins it itself; nmap runs
 * under `ip netns exec`). zmap cannot scan loopback, so it runs from a namespace of its own wired
 * to the lab by a veth pair (lab-and-peers.md §5), one port per run as zmap does. masscan is left
 * out: on this machine it records only part of the open ports even in a namespace pair (§5), so
 * it would be neither a correctness nor a fair speed reference.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import {
  expectedObservations,
  labAddress,
  labDown,
  labUp,
  readGroundTruth,
  type GroundTruth,
  type LabState,
} from "../src/lab/index.js";

const ROOT = resolve(import.meta.dirname, "..");
const BIN = join(ROOT, "bin", "ringfence.js");
const PORTS = [135, 139, 445];

interface Measured {
  tool: string;
  wallS: number;
  cpuS: number;
  rssMb: number;
  open: Set<string>;
  note?: string;
}

function argValue(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}

function have(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`]).status === 0;
}

/** Runs a command under GNU time; returns wall, CPU and peak RSS as the kernel accounted them. */
function timed(tool: string, argv: string[], scratch: string): Omit<Measured, "open"> {
  const timeFile = join(scratch, `${tool.replace(/\W+/g, "_")}.time`);
  const result = spawnSync("/usr/bin/time", ["-f", "%e %U %S %M", "-o", timeFile, ...argv], {
    stdio: ["ignore", "ignore", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0)
    throw new Error(`${tool} failed (${result.status}): ${result.stderr.toString().slice(-400)}`);
  const [wall, user, sys, rssKb] = readFileSync(timeFile, "utf8").trim().split(/\s+/).map(Number);
  return { tool, wallS: wall!, cpuS: user! + sys!, rssMb: rssKb! / 1024 };
}

function nmapOpen(file: string): Set<string> {
  const open = new Set<string>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const match = /^Host: (\S+) .*Ports: (.*)$/.exec(line);
    if (!match) continue;
    for (const entry of match[2]!.split(", ")) {
      const [port, state] = entry.split("/");
      if (state === "open") open.add(`${match[1]}:${port}`);
    }
  }
  return open;
}

function ringfenceOpen(db: string): Set<string> {
  const handle = new Database(db, { readonly: true });
  try {
    const rows = handle
      .prepare("select address, port from observations where state = 'open' and protocol = 'tcp'")
      .all() as { address: string; port: number }[];
    return new Set(rows.map((r) => `${r.address}:${r.port}`));
  } finally {
    handle.close();
  }
}

function accuracy(found: Set<string>, truth: Set<string>): { precision: number; recall: number } {
  let hits = 0;
  for (const key of found) if (truth.has(key)) hits++;
  return {
    precision: found.size === 0 ? 0 : hits / found.size,
    recall: truth.size === 0 ? 1 : hits / truth.size,
  };
}

/** A scanner namespace wired to the lab namespace, for zmap (which needs a real link). */
function zmapPair(
  labNs: string,
  labRange: string,
): { ns: string; gatewayMac: string; down: () => void } {
  const ns = "rf-bench-zmap";
  const run = (...argv: string[]) => execFileSync(argv[0]!, argv.slice(1), { stdio: "pipe" });
  spawnSync("ip", ["netns", "del", ns]);
  run("ip", "netns", "add", ns);
  run(
    "ip",
    "link",
    "add",
    "zs0",
    "netns",
    ns,
    "type",
    "veth",
    "peer",
    "name",
    "zl0",
    "netns",
    labNs,
  );
  run("ip", "-n", ns, "addr", "add", "198.51.100.2/30", "dev", "zs0");
  run("ip", "-n", labNs, "addr", "add", "198.51.100.1/30", "dev", "zl0");
  run("ip", "-n", ns, "link", "set", "lo", "up");
  run("ip", "-n", ns, "link", "set", "zs0", "up");
  run("ip", "-n", labNs, "link", "set", "zl0", "up");
  // The lab answers from 127.x addresses over a real link: allow 127/8 off lo on both ends, and
  // route the lab range through the link instead of the scanner namespace's own loopback.
  run("ip", "-n", ns, "route", "del", "local", "127.0.0.0/8", "dev", "lo", "table", "local");
  run("ip", "-n", ns, "route", "add", labRange, "via", "198.51.100.1", "dev", "zs0");
  for (const [space, dev] of [
    [ns, "zs0"],
    [labNs, "zl0"],
  ] as const)
    run(
      "ip",
      "netns",
      "exec",
      space,
      "sysctl",
      "-qw",
      "net.ipv4.conf.all.route_localnet=1",
      "net.ipv4.conf.all.rp_filter=0",
      `net.ipv4.conf.${dev}.route_localnet=1`,
      `net.ipv4.conf.${dev}.rp_filter=0`,
    );
  const link = JSON.parse(run("ip", "-n", labNs, "-j", "link", "show", "zl0").toString()) as {
    address: string;
  }[];
  return {
    ns,
    gatewayMac: link[0]!.address,
    down: () => void spawnSync("ip", ["netns", "del", ns]),
  };
}

async function main(): Promise<void> {
  const hosts = argValue("--hosts", 65_536);
  const root = process.getuid?.() === 0;
  const scratch = mkdtempSync(join(tmpdir(), "rf-bench-"));
  const labRef = { name: "bench", stateDir: join(scratch, "lab") };
  const results: Measured[] = [];
  console.log(`ringfence discovery benchmark: ${hosts} lab hosts × TCP ${PORTS.join(", ")}`);
  if (!root)
    console.log(
      "not root: bind-mode lab, connect scans only (nmap -sS, zmap and raw SYN need privileges)",
    );
  await labDown(labRef);
  const lab = await labUp({ ...labRef, hosts });
  let zmap: ReturnType<typeof zmapPair> | undefined;
  try {
    zmap = root && have("zmap") && lab.netns ? zmapPair(lab.netns, lab.range) : undefined;
    const truthAll = await readGroundTruth(lab);
    const truth = new Set(
      expectedObservations(truthAll, { tcpPorts: PORTS, udpPorts: [] })
        .filter((o) => o.state === "open")
        .map((o) => `${o.address}:${o.port}`),
    );
    const probes = hosts * PORTS.length;
    console.log(
      `lab ${lab.range} (${lab.mode}) up in ${Math.round(lab.timings.totalMs)} ms; ground truth: ${truth.size} open of ${probes} probes\n`,
    );
    const inLab = (argv: string[]) =>
      lab.netns ? ["ip", "netns", "exec", lab.netns, ...argv] : argv;
    const offsetPorts = PORTS.map((p) => p + lab.portOffset).join(",");
    const common = ["--lab-dir", labRef.stateDir, "--lab-name", labRef.name, "--quiet"];
    // Per-attempt timeouts comparable to nmap -T5 (max-rtt-timeout 300 ms) and one retry each.
    const timing = ["--timeout", "300ms", "--retries", "1"];

    const ringfence = (engine: string) => {
      const db = join(scratch, `ringfence-${engine}.db`);
      const m = timed(
        `ringfence (${engine})`,
        [
          process.execPath,
          BIN,
          "scan",
          lab.range,
          "-p",
          PORTS.join(","),
          "--engine",
          engine,
          "--db",
          db,
          // Discovery only here: the checks are measured on their own below.
          "--checks",
          "none",
          ...common,
          ...timing,
        ],
        scratch,
      );
      results.push({ ...m, open: ringfenceOpen(db) });
    };
    const nmap = (kind: "-sT" | "-sS") => {
      const out = join(scratch, `nmap${kind}.gnmap`);
      const m = timed(
        `nmap ${kind}`,
        inLab([
          "nmap",
          "-n",
          "-Pn",
          kind,
          "-T5",
          "--max-retries",
          "1",
          "--min-hostgroup",
          "8192",
          "-p",
          offsetPorts,
          "-oG",
          out,
          lab.range,
        ]),
        scratch,
      );
      const open = new Set(
        [...nmapOpen(out)].map((k) =>
          k.replace(/:(\d+)$/, (_, p) => `:${Number(p) - lab.portOffset}`),
        ),
      );
      results.push({ ...m, open });
    };

    ringfence(root ? "syn" : "connect");
    if (have("nmap")) nmap("-sT");
    if (root) ringfence("connect");
    if (root && have("nmap")) nmap("-sS");
    if (zmap) {
      const empty = join(scratch, "zmap-blocklist.conf");
      const allow = join(scratch, "zmap-allowlist.txt");
      writeFileSync(empty, "");
      writeFileSync(allow, `${lab.range}\n`);
      const total = {
        tool: "zmap (3 runs, 1 port each)",
        wallS: 0,
        cpuS: 0,
        rssMb: 0,
        open: new Set<string>(),
      };
      for (const port of PORTS) {
        const out = join(scratch, `zmap-${port}.txt`);
        const m = timed(
          `zmap ${port}`,
          [
            "ip",
            "netns",
            "exec",
            zmap.ns,
            "zmap",
            "-q",
            "-i",
            "zs0",
            "-S",
            "198.51.100.2",
            "-G",
            zmap.gatewayMac,
            "-p",
            String(port),
            "-b",
            empty,
            "-w",
            allow,
            "-r",
            "100000",
            "-c",
            "1",
            "-o",
            out,
            lab.range,
          ],
          scratch,
        );
        total.wallS += m.wallS;
        total.cpuS += m.cpuS;
        total.rssMb = Math.max(total.rssMb, m.rssMb);
        for (const address of readFileSync(out, "utf8").split("\n"))
          if (address.trim()) total.open.add(`${address.trim()}:${port}`);
      }
      results.push({ ...total, note: "includes 1 s cooldown per run (-c 1)" });
    }

    const rows = results.map((r) => {
      const { precision, recall } = accuracy(r.open, truth);
      return {
        tool: r.tool,
        "wall s": r.wallS.toFixed(2),
        "probes/s": Math.round(probes / r.wallS),
        "cpu s": r.cpuS.toFixed(2),
        "peak RSS MB": r.rssMb.toFixed(0),
        "open found": r.open.size,
        precision: `${(precision * 100).toFixed(2)} %`,
        recall: `${(recall * 100).toFixed(2)} %`,
        ...(r.note ? { note: r.note } : {}),
      };
    });
    console.table(rows);

    const rf = results[0]!;
    const nmapSt = results.find((r) => r.tool === "nmap -sT");
    if (nmapSt) console.log(`throughput ringfence/nmap: ${(nmapSt.wallS / rf.wallS).toFixed(2)}`);
    const nmapSs = results.find((r) => r.tool === "nmap -sS");
    if (nmapSs)
      console.log(`throughput ringfence/nmap -sS: ${(nmapSs.wallS / rf.wallS).toFixed(2)}`);

    assessmentBench(
      lab,
      labRef,
      scratch,
      truthAll,
      Math.min(hosts, argValue("--check-hosts", 8192)),
    );
    smbFingerprintBench(lab, labRef, scratch, Math.min(hosts, argValue("--smb-hosts", 4096)));
  } finally {
    zmap?.down();
    await labDown(labRef);
  }

  // Memory of iterating a /8 (16.7 M addresses) without sending anything.
  const scope = join(scratch, "slash8-scope.yaml");
  writeFileSync(scope, "name: bench-dry-run\nallow:\n  - 127.0.0.0/8\n");
  const dry = spawnSync(
    process.execPath,
    [BIN, "scan", "127.0.0.0/8", "-p", "T:135", "--dry-run", "--scope", scope],
    {
      encoding: "utf8",
    },
  );
  if (dry.status !== 0) throw new Error(`dry run failed: ${dry.stderr}`);
  const report = JSON.parse(dry.stdout) as { probes: number; seconds: number; peakRssMb: number };
  console.log(
    `dry run over 127.0.0.0/8: ${report.probes} probes walked in ${report.seconds} s, peak RSS ${report.peakRssMb} MB (no packet sent)`,
  );
  rmSync(scratch, { recursive: true, force: true });
}

/**
 * Per-host assessment: the full RPC check sequence (Windows-family binds, KB824146Scan's requests,
 * Check A where needed, the Blaster banner) over the first `count` lab hosts, in hosts/s of the
 * check phase, with its verdicts compared to the lab's. The peer is impacket's rpcdump.py, what
 * users script per host today (one endpoint-map dump, 64 in parallel): it answers less (no
 * verdict) with fewer connections (1 against our 5-8), so the ratio flatters the peer.
 */
function assessmentBench(
  lab: LabState,
  labRef: { name: string; stateDir: string },
  scratch: string,
  truth: GroundTruth,
  count: number,
): void {
  const range = `${labAddress(0)}-${labAddress(count - 1)}`;
  const db = join(scratch, "ringfence-checks.db");
  const run = spawnSync(
    process.execPath,
    [
      BIN,
      "scan",
      range,
      "-p",
      "135,593,4444",
      "--checks",
      "safe",
      "--db",
      db,
      "--progress",
      "json",
      "--lab-dir",
      labRef.stateDir,
      "--lab-name",
      labRef.name,
      "--timeout",
      "500ms",
    ],
    { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 },
  );
  if (run.status !== 0)
    throw new Error(`ringfence scan --checks failed: ${run.stderr.slice(-400)}`);
  let last: { done: number; elapsedMs: number } | undefined;
  for (const line of run.stderr.split("\n")) {
    if (!line.startsWith("{")) continue;
    const event = JSON.parse(line) as { type: string; done: number; elapsedMs: number };
    if (event.type === "check-progress") last = event;
  }
  if (last === undefined)
    throw new Error(`the scan reported no check progress: ${run.stderr.slice(-600)}`);
  const sqlite = new Database(db, { readonly: true });
  const verdicts = new Map(
    (
      sqlite
        .prepare("SELECT address, classification FROM check_runs WHERE classification IS NOT NULL")
        .all() as { address: string; classification: string }[]
    ).map((r) => [r.address, r.classification]),
  );
  sqlite.close();
  const subset = truth.hosts.slice(0, count);
  const expected = subset.filter((h) => h.expected.rpcss !== null);
  const agreeing = expected.filter((h) => verdicts.get(h.address) === h.expected.rpcss).length;
  const rfRate = last.done / (last.elapsedMs / 1000);
  console.log(
    `\nassessment ringfence: ${last.done} hosts checked in ${(last.elapsedMs / 1000).toFixed(2)} s = ${rfRate.toFixed(0)} hosts/s ` +
      `(MS03-039 + MS03-026 + Blaster sequence); verdicts equal to the lab's: ${agreeing}/${expected.length}`,
  );

  const rpcdump = "/usr/share/doc/python3-impacket/examples/rpcdump.py";
  if (!have("/usr/bin/python3") || spawnSync("test", ["-f", rpcdump]).status !== 0) {
    console.log("impacket rpcdump.py not installed: no peer figure");
    return;
  }
  // A few hundred hosts are enough for a rate; python's start-up dominates each one.
  const targets = expected.slice(0, 128).map((h) => h.address);
  const list = join(scratch, "rpcdump-targets.txt");
  writeFileSync(list, targets.join("\n") + "\n");
  const port = 135 + lab.portOffset;
  const xargs = [
    "xargs",
    "-P",
    "64",
    "-I",
    "{}",
    "/usr/bin/python3",
    rpcdump,
    "-port",
    String(port),
    "{}",
  ];
  const started = performance.now();
  const peer = spawnSync(
    lab.netns ? "ip" : xargs[0]!,
    lab.netns ? ["netns", "exec", lab.netns, ...xargs] : xargs.slice(1),
    { input: readFileSync(list), stdio: ["pipe", "ignore", "ignore"] },
  );
  const peerS = (performance.now() - started) / 1000;
  if (peer.status !== 0) {
    console.log(`impacket rpcdump.py failed (status ${peer.status}): no peer figure`);
    return;
  }
  const peerRate = targets.length / peerS;
  console.log(
    `assessment impacket rpcdump.py (64 in parallel, endpoint map only): ${targets.length} hosts in ${peerS.toFixed(2)} s = ${peerRate.toFixed(0)} hosts/s`,
  );
  console.log(`assessment ringfence/rpcdump: ${(rfRate / peerRate).toFixed(2)}`);
}

/**
 * SMB fingerprint rate: `ringfence scan -p 139,445 --checks smb-fingerprint` over the first `count`
 * lab hosts (hosts/s of the check phase) beside nmap's smb-os-discovery + smb-protocols scripts on
 * the hosts with 445 open, which is what users run for the same question today.
 */
function smbFingerprintBench(
  lab: LabState,
  labRef: { name: string; stateDir: string },
  scratch: string,
  count: number,
): void {
  const range = `${labAddress(0)}-${labAddress(count - 1)}`;
  const db = join(scratch, "ringfence-smb.db");
  const run = spawnSync(
    process.execPath,
    [
      BIN,
      "scan",
      range,
      "-p",
      "139,445",
      "--checks",
      "smb-fingerprint",
      "--db",
      db,
      "--progress",
      "json",
      "--lab-dir",
      labRef.stateDir,
      "--lab-name",
      labRef.name,
      "--timeout",
      "500ms",
    ],
    { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 },
  );
  if (run.status !== 0)
    throw new Error(`ringfence smb fingerprint failed: ${run.stderr.slice(-400)}`);
  let last: { done: number; elapsedMs: number } | undefined;
  for (const line of run.stderr.split("\n")) {
    if (!line.startsWith("{")) continue;
    const event = JSON.parse(line) as { type: string; done: number; elapsedMs: number };
    if (event.type === "check-progress") last = event;
  }
  if (last === undefined) throw new Error(`no SMB check progress: ${run.stderr.slice(-400)}`);
  const rfRate = last.done / (last.elapsedMs / 1000);
  console.log(
    `\nsmb fingerprint ringfence: ${last.done} hosts in ${(last.elapsedMs / 1000).toFixed(2)} s = ${rfRate.toFixed(0)} hosts/s (dialects, signing, NTLM/NativeOS, OS inference)`,
  );
  if (!have("nmap")) return;
  const sqlite = new Database(db, { readonly: true });
  const targets = (
    sqlite
      .prepare(
        "SELECT DISTINCT address FROM observations WHERE port = 445 AND state = 'open' LIMIT 512",
      )
      .all() as { address: string }[]
  ).map((r) => r.address);
  sqlite.close();
  const list = join(scratch, "nmap-smb-targets.txt");
  writeFileSync(list, targets.join("\n") + "\n");
  const argv = [
    "nmap",
    "-n",
    "-Pn",
    "-T5",
    "-p",
    String(445 + lab.portOffset),
    "--script",
    "smb-os-discovery,smb-protocols",
    "-iL",
    list,
    "-oN",
    join(scratch, "nmap-smb.txt"),
  ];
  const started = performance.now();
  const peer = spawnSync(
    lab.netns ? "ip" : argv[0]!,
    lab.netns ? ["netns", "exec", lab.netns, ...argv] : argv.slice(1),
    {
      stdio: ["ignore", "ignore", "ignore"],
    },
  );
  const peerS = (performance.now() - started) / 1000;
  if (peer.status !== 0) {
    console.log(`nmap smb scripts failed (status ${peer.status}): no peer figure`);
    return;
  }
  const peerRate = targets.length / peerS;
  console.log(
    `smb fingerprint nmap --script smb-os-discovery,smb-protocols: ${targets.length} hosts in ${peerS.toFixed(2)} s = ${peerRate.toFixed(0)} hosts/s`,
  );
  console.log(`smb fingerprint ringfence/nmap: ${(rfRate / peerRate).toFixed(2)}`);
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
