/**
 * Store benchmark: the inventory at scale on SQLite and on PostgreSQL, through the Store API the
 * scanner and the checks use (issue 7, "Store at scale").
 *
 *   npm run bench                                   # discovery bench, then this one
 *   npx tsx bench/store-bench.ts                    # 1,000,000 observations and findings
 *   npx tsx bench/store-bench.ts --observations 100000 --findings 100000 --backends sqlite
 *
 * Phases, per backend, each in a child process of its own so that its peak RSS (maxRSS from
 * process.resourceUsage(), the kernel's high-water mark of that process) is the phase's alone:
 *   insert observations  recordBatch in scanner-sized batches, port-major, addresses shuffled
 *   query observations   scanObservations (every row), observationCounts, hosts and services
 *                        with 445 open
 *   insert findings      recordCheckRuns in batches of 256 (the scan job's check batch): one
 *                        check run and one finding per service
 *   query findings       listFindings (every row), the vulnerable ones, listCheckRuns of a check
 * PostgreSQL is a throwaway Debian PostgreSQL 15 cluster started here (fsync off, as in the
 * tests; test/helpers/postgres.ts); its server processes' memory is not in the RSS column, which
 * is the ringfence process's. The "idle" row is a child that loads the code and does nothing:
 * the floor under every other RSS figure.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import type { ProbeObservation } from "../src/scan/observation.js";
import { openStore, type CheckRunInput, type Store } from "../src/store/index.js";
import {
  postgresUnavailableReason,
  startPostgresCluster,
  type PostgresCluster,
} from "../test/helpers/postgres.js";

const SELF = fileURLToPath(import.meta.url);
const PORTS = [135, 139, 445, 3389];
/** Probes per recordBatch: what the scan engine hands the store per checkpoint, roughly. */
const OBSERVATION_BATCH = 4096;
/** Check runs per recordCheckRuns: CHECK_BATCH in src/jobs/scan-job.ts. */
const CHECK_BATCH = 256;
const PHASES = [
  "idle",
  "insert observations",
  "query observations",
  "insert findings",
  "query findings",
] as const;
type Phase = (typeof PHASES)[number];

interface PhaseResult {
  phase: Phase;
  wallS: number;
  cpuS: number;
  rssMb: number;
  rows: number;
  detail: string;
}

function argValue(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
}

/** The i-th address of the bench's estate (10.0.0.0/8 upwards: data only, nothing is sent). */
function address(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

/**
 * A permutation of 0..n-1 (i * step mod n, step coprime with n): the scanner's probe order is a
 * random permutation of the addresses, which is what makes the store's index writes scattered.
 */
function permuted(i: number, n: number): number {
  let step = Math.floor(n * 0.618_033_988_7) | 1;
  while (gcd(step, n) !== 1) step += 2;
  return Number((BigInt(i) * BigInt(step)) % BigInt(n));
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Every tenth host answers: open on 445 and 135, closed on the rest; the others are filtered. */
function observationAt(index: number, hosts: number): ProbeObservation {
  const port = PORTS[Math.floor(index / hosts) % PORTS.length]!;
  const host = permuted(index % hosts, hosts);
  const addr = address(host);
  if (host % 10 !== 0) {
    return {
      address: addr,
      protocol: "tcp",
      port,
      state: "filtered",
      reason: "no-response",
      rttMs: null,
    };
  }
  return port === 445 || port === 135
    ? { address: addr, protocol: "tcp", port, state: "open", reason: "syn-ack", rttMs: 0.4 }
    : { address: addr, protocol: "tcp", port, state: "closed", reason: "reset", rttMs: 0.3 };
}

const VERDICTS: CheckRunInput["verdict"][] = [
  "NOT_VULNERABLE",
  "VULNERABLE",
  "NOT_VULNERABLE",
  "UNKNOWN",
];

function checkRunAt(index: number, scanId: string): CheckRunInput {
  const port = PORTS[index % PORTS.length]!;
  const at = new Date(Date.UTC(2026, 0, 1) + index).toISOString();
  return {
    scanId,
    address: address(Math.floor(index / PORTS.length)),
    protocol: "tcp",
    port,
    checkId: `bench-check-${port}`,
    advisories: ["ms17-010"],
    verdict: VERDICTS[index % VERDICTS.length]!,
    classification: null,
    reasonCode: "bench",
    reason: "benchmark row",
    evidence: [{ step: "negotiate", ok: true }],
    startedAt: at,
    finishedAt: at,
  };
}

/** One phase, in this (child) process. Prints its result as one JSON line. */
async function runPhase(
  phase: Phase,
  db: string,
  observations: number,
  findings: number,
): Promise<void> {
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  let rows = 0;
  let detail = "";
  if (phase !== "idle") {
    const store = await openStore(db);
    try {
      ({ rows, detail } = await PHASE_WORK[phase](store, observations, findings));
    } finally {
      await store.close();
    }
  }
  const cpu = process.cpuUsage(cpu0);
  const result: PhaseResult = {
    phase,
    wallS: (performance.now() - started) / 1000,
    cpuS: (cpu.user + cpu.system) / 1e6,
    // maxRSS is in kilobytes (getrusage ru_maxrss).
    rssMb: process.resourceUsage().maxRSS / 1024,
    rows,
    detail,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

const PHASE_WORK: Record<
  Exclude<Phase, "idle">,
  (
    store: Store,
    observations: number,
    findings: number,
  ) => Promise<{ rows: number; detail: string }>
> = {
  async "insert observations"(store, observations) {
    const hosts = Math.ceil(observations / PORTS.length);
    const scan = await store.createScan({
      command: "store-bench",
      params: { observations },
      totalProbes: observations,
    });
    await store.markRunning(scan.id);
    for (let offset = 0; offset < observations; offset += OBSERVATION_BATCH) {
      const size = Math.min(OBSERVATION_BATCH, observations - offset);
      const batch = Array.from({ length: size }, (_, i) => observationAt(offset + i, hosts));
      await store.recordBatch(scan.id, batch, {
        step: offset + size,
        probesDone: offset + size,
        counts: {},
      });
    }
    await store.finishScan(scan.id, "completed", { probesDone: observations });
    return {
      rows: observations,
      detail: `${hosts} addresses × ${PORTS.length} ports, batches of ${OBSERVATION_BATCH}`,
    };
  },
  async "query observations"(store, observations) {
    const [scan] = await store.listScans(1);
    if (scan === undefined) throw new Error("no scan: run the insert phase first");
    const all = await store.scanObservations(scan.id);
    if (all.length !== observations)
      throw new Error(`read ${all.length} observations, expected ${observations}`);
    const counts = await store.observationCounts(scan.id);
    const hosts = await store.listHosts({ port: 445 });
    const services = await store.listServices({ port: 445, state: "open" });
    return {
      rows: all.length,
      detail: `all rows; counts ${counts.open} open/${counts.closed} closed/${counts.filtered} filtered; ${hosts.length} hosts and ${services.length} services with 445 open`,
    };
  },
  async "insert findings"(store, _observations, findings) {
    const [scan] = await store.listScans(1);
    if (scan === undefined) throw new Error("no scan: run the insert phase first");
    for (let offset = 0; offset < findings; offset += CHECK_BATCH) {
      const size = Math.min(CHECK_BATCH, findings - offset);
      await store.recordCheckRuns(
        Array.from({ length: size }, (_, i) => checkRunAt(offset + i, scan.id)),
      );
    }
    return {
      rows: findings,
      detail: `recordCheckRuns × ${Math.ceil(findings / CHECK_BATCH)} (${CHECK_BATCH} runs, 1 finding each)`,
    };
  },
  async "query findings"(store, _observations, findings) {
    const all = await store.listFindings();
    if (all.length !== findings)
      throw new Error(`read ${all.length} findings, expected ${findings}`);
    const vulnerable = await store.listFindings({ verdict: "vulnerable" });
    const runs = await store.listCheckRuns({ checkId: "bench-check-445" });
    return {
      rows: all.length,
      detail: `all rows; ${vulnerable.length} vulnerable; ${runs.length} runs of bench-check-445`,
    };
  },
};

function runChild(phase: Phase, db: string, observations: number, findings: number): PhaseResult {
  const child = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      SELF,
      "--child",
      phase,
      "--db",
      db,
      "--observations",
      String(observations),
      "--findings",
      String(findings),
    ],
    { encoding: "utf8", maxBuffer: 16 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] },
  );
  if (child.status !== 0) {
    throw new Error(
      `${phase} failed (${child.status ?? child.signal}): ${child.stderr.slice(-1200)}`,
    );
  }
  const line = child.stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(line) as PhaseResult;
}

async function main(): Promise<void> {
  const child = argValue("--child") as Phase | undefined;
  const observations = Number(argValue("--observations") ?? 1_000_000);
  const findings = Number(argValue("--findings") ?? 1_000_000);
  if (child !== undefined) {
    await runPhase(child, argValue("--db")!, observations, findings);
    return;
  }
  if (findings > observations)
    throw new Error("--findings cannot exceed --observations (one finding per service)");
  const backends = (argValue("--backends") ?? "sqlite,postgres").split(",");

  console.log(
    `\nringfence store benchmark: ${observations.toLocaleString("en")} observations (recordBatch), ${findings.toLocaleString("en")} findings (recordCheckRuns)`,
  );
  const scratch = mkdtempSync(join(tmpdir(), "rf-store-bench-"));
  let cluster: PostgresCluster | undefined;
  const rows: Record<string, string | number>[] = [];
  try {
    for (const backend of backends) {
      let db: string;
      if (backend === "sqlite") {
        db = join(scratch, "bench.db");
      } else if (backend === "postgres") {
        const reason = postgresUnavailableReason();
        if (reason !== undefined) {
          console.log(`postgres: skipped (${reason})`);
          continue;
        }
        cluster = await startPostgresCluster({ prefix: "rf-store-bench-pg-" });
        db = await cluster.createDatabase("bench");
        console.log(`postgres: PostgreSQL 15 on 127.0.0.1:${cluster.port} (fsync off)`);
      } else {
        throw new Error(`unknown backend ${backend}: sqlite or postgres`);
      }
      for (const phase of PHASES) {
        const r = runChild(phase, db, observations, findings);
        rows.push({
          backend,
          phase,
          "wall s": r.wallS.toFixed(2),
          "rows/s": r.rows === 0 ? "" : Math.round(r.rows / r.wallS),
          "cpu s": r.cpuS.toFixed(2),
          "peak RSS MB": r.rssMb.toFixed(0),
          detail: r.detail,
        });
        console.log(
          `${backend} ${phase}: ${r.wallS.toFixed(2)} s, peak RSS ${r.rssMb.toFixed(0)} MB`,
        );
      }
      await cluster?.stop();
      cluster = undefined;
    }
    console.table(rows);
  } finally {
    await cluster?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
