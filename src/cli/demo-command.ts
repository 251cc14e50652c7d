import { Command, Option } from "commander";
import { parseCheckSelection } from "../checks/index.js";
import { EXIT, RingfenceError } from "../errors.js";
import { executeScan } from "../jobs/scan-job.js";
import {
  expectedObservations,
  labDown,
  labUp,
  readGroundTruth,
  type LabState,
} from "../lab/index.js";
import { renderSummaryText, summarizeScan } from "../reports/index.js";
import { openStore, type Store } from "../store/index.js";
import { DEFAULT_PORTS } from "../targets/index.js";
import { dbOption, parseCount } from "./main.js";
import { createProgressDisplay, type ProgressMode } from "./progress-display.js";

const DEMO_LAB = "demo";

export interface GroundTruthComparison {
  readonly probes: number;
  readonly agreeing: number;
  /** Up to 20 disagreements, "address proto/port: expected X, got Y". */
  readonly mismatches: readonly string[];
  readonly mismatchCount: number;
  readonly exposedExpected: number;
  readonly exposedFound: number;
}

/** Every probe of the scan against what the lab says a perfect scanner would report. */
export async function compareWithGroundTruth(
  store: Store,
  scanId: string,
  lab: LabState,
  ports: { tcp: readonly number[]; udp: readonly number[] },
): Promise<GroundTruthComparison> {
  const truth = await readGroundTruth(lab);
  const expected = expectedObservations(truth, { tcpPorts: ports.tcp, udpPorts: ports.udp });
  const found = new Map<string, string>();
  for (const row of await store.scanObservations(scanId))
    found.set(`${row.address} ${row.protocol}/${row.port}`, row.state);
  const mismatches: string[] = [];
  let mismatchCount = 0;
  const exposedExpected = new Set<string>();
  const exposedFound = new Set<string>();
  for (const e of expected) {
    const key = `${e.address} ${e.protocol}/${e.port}`;
    const got = found.get(key);
    if (e.state === "open") exposedExpected.add(e.address);
    if (got === "open") exposedFound.add(e.address);
    if (got !== e.state) {
      mismatchCount++;
      if (mismatches.length < 20)
        mismatches.push(`${key}: expected ${e.state}, got ${got ?? "nothing"}`);
    }
  }
  return {
    probes: expected.length,
    agreeing: expected.length - mismatchCount,
    mismatches,
    mismatchCount: mismatchCount + Math.max(0, found.size - expected.length),
    exposedExpected: exposedExpected.size,
    exposedFound: exposedFound.size,
  };
}

export interface VerdictComparison {
  /** Hosts the lab expects a combined MS03-026 / MS03-039 verdict for. */
  readonly expected: number;
  readonly agreeing: number;
  readonly mismatches: readonly string[];
  readonly mismatchCount: number;
}

/** Each host's combined RPCSS verdict against the one its persona is written down with. */
export async function compareVerdictsWithGroundTruth(
  store: Store,
  scanId: string,
  lab: LabState,
): Promise<VerdictComparison> {
  const truth = await readGroundTruth(lab);
  const found = new Map<string, string>();
  for (const run of await store.listCheckRuns({ scanId }))
    if (run.classification !== null) found.set(run.address, run.classification);
  const mismatches: string[] = [];
  let mismatchCount = 0;
  let expected = 0;
  for (const host of truth.hosts) {
    const want = host.expected.rpcss;
    const got = found.get(host.address) ?? null;
    if (want !== null) expected++;
    if (want !== got) {
      mismatchCount++;
      if (mismatches.length < 20)
        mismatches.push(
          `${host.address} (${host.persona}): expected ${want ?? "no verdict"}, got ${got ?? "no verdict"}`,
        );
    }
  }
  return { expected, agreeing: expected - mismatchCount, mismatches, mismatchCount };
}

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description("lab up → scan → summary checked against the lab's ground truth → lab down")
    .option("--hosts <n>", "lab size", parseCount(1, 262_144), 4096)
    .addOption(dbOption())
    .addOption(new Option("--lab-dir <dir>", "lab state directory").env("RINGFENCE_LAB_DIR"))
    .addOption(
      new Option("--progress <mode>", "progress on stderr")
        .choices(["auto", "bar", "plain", "json", "none"])
        .default("auto"),
    )
    .option(
      "--keep",
      "leave the lab running afterwards (stop it with `ringfence lab down --name demo`)",
    )
    .action(
      async (o: {
        hosts: number;
        db: string;
        labDir?: string;
        progress: ProgressMode;
        keep?: boolean;
      }) => {
        const labRef = {
          name: DEMO_LAB,
          ...(o.labDir !== undefined ? { stateDir: o.labDir } : {}),
        };
        const say = (text: string) => process.stdout.write(text + "\n");
        // A demo lab left behind by an interrupted demo is replaced, never reused blindly.
        await labDown(labRef);
        const started = performance.now();
        const lab = await labUp({ ...labRef, hosts: o.hosts });
        say(
          `lab "${lab.name}" up: ${lab.hosts} simulated hosts at ${lab.range} (${lab.mode} mode) in ${Math.round(lab.timings.totalMs)} ms`,
        );
        const store = await openStore(o.db);
        const display = createProgressDisplay(o.progress, process.stderr);
        let checks = { done: 0, total: 0, vulnerable: 0, started: performance.now() };
        try {
          const { scan } = await executeScan(
            store,
            {
              kind: "new",
              command: `ringfence demo --hosts ${o.hosts}`,
              request: {
                targets: [lab.range],
                inputFiles: [],
                exclude: [],
                excludeFiles: [],
                ports: DEFAULT_PORTS,
                rate: 0,
                timeoutMs: 500,
                retries: 1,
                engine: "auto",
                seed: "demo",
                useLab: true,
                labName: DEMO_LAB,
                checks: parseCheckSelection("safe"),
                ...(o.labDir !== undefined ? { labStateDir: o.labDir } : {}),
              },
            },
            {
              onStart: (info) =>
                display.start({
                  scanId: info.scan.id,
                  total: info.scan.totalProbes,
                  engine: info.engine,
                  resumed: false,
                }),
              onProgress: (p) => display.update(p),
              onWarning: (w) => display.warn(w.code, w.message),
              onChecksStart: (info) => {
                display.stop();
                display.note(
                  `checking ${info.hosts} hosts for MS03-026 / MS03-039 (TCP 135/593) and the Blaster backdoor (TCP 4444)`,
                );
                checks = { done: 0, total: info.hosts, vulnerable: 0, started: performance.now() };
              },
              onHostChecked: (report) => {
                checks.done++;
                if (report.results.some((r) => r.verdict === "VULNERABLE")) checks.vulnerable++;
                display.checks({ ...checks, elapsedMs: performance.now() - checks.started });
              },
            },
            new AbortController().signal,
          );
          display.stop();
          say(renderSummaryText(await summarizeScan(store, scan.id)));
          const check = await compareWithGroundTruth(store, scan.id, lab, DEFAULT_PORTS);
          const verdicts = await compareVerdictsWithGroundTruth(store, scan.id, lab);
          const seconds = ((performance.now() - started) / 1000).toFixed(1);
          for (const line of check.mismatches) say(`  mismatch ${line}`);
          for (const line of verdicts.mismatches) say(`  verdict mismatch ${line}`);
          if (check.mismatchCount > 0)
            throw new RingfenceError(
              "RINGFENCE_LAB",
              `the scan disagrees with the lab's ground truth on ${check.mismatchCount} of ${check.probes} probes`,
            );
          if (verdicts.mismatchCount > 0)
            throw new RingfenceError(
              "RINGFENCE_LAB",
              `the checks disagree with the lab's expected verdicts on ${verdicts.mismatchCount} hosts`,
            );
          say(
            `ground truth: all ${check.probes} probes agree with the lab; ${check.exposedFound} exposed hosts found, ${check.exposedExpected} expected.`,
          );
          say(
            `verdicts: all ${verdicts.expected} hosts with RPC exposed got the MS03-026 / MS03-039 verdict the lab expects. Demo took ${seconds} s.`,
          );
          say(
            `explore: ringfence hosts --scan ${scan.id} --port 135   |   ringfence check ms03-026-remote-activation <host>   |   ringfence services --state open`,
          );
        } finally {
          display.stop();
          await store.close();
          if (!o.keep) await labDown(labRef);
        }
        process.exitCode = EXIT.ok;
      },
    );
}
