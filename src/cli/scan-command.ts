import { randomBytes } from "node:crypto";
import { Command, Option } from "commander";
import { parseCheckSelection } from "../checks/index.js";
import { EXIT, RingfenceError } from "../errors.js";
import { executeScan, prepareScan, type ScanRequest } from "../jobs/scan-job.js";
import { createReporter, summarizeScan, type OutputFormat } from "../reports/index.js";
import type { EngineChoice } from "../scan/index.js";
import { openStore } from "../store/index.js";
import { CyclicOrder, DEFAULT_PORTS, formatPortSpec, parsePortSpec } from "../targets/index.js";
import {
  collect,
  dbOption,
  engineOption,
  parseCount,
  parseDuration,
  progressOption,
} from "./main.js";
import { createProgressDisplay, type ProgressMode } from "./progress-display.js";

interface ScanCliOptions {
  ports?: string;
  inputList?: string[];
  exclude?: string[];
  excludeFile?: string[];
  scope?: string;
  rate: number;
  concurrency?: number;
  timeout: number;
  retries: number;
  engine: EngineChoice;
  seed?: string;
  db: string;
  json?: boolean;
  jsonl?: boolean;
  progress: ProgressMode;
  quiet?: boolean;
  resume?: string;
  lab: boolean;
  labDir?: string;
  labName?: string;
  dryRun?: boolean;
  failOnOpen?: boolean;
  checks: string;
  checkTimeout?: number;
  failOnVulnerable?: boolean;
}

function outputFormat(options: ScanCliOptions): OutputFormat {
  if (options.json && options.jsonl)
    throw new RingfenceError("RINGFENCE_USAGE", "--json and --jsonl are exclusive; pick one");
  return options.json ? "json" : options.jsonl ? "jsonl" : "text";
}

/**
 * Walks the whole order without sending anything: proves the target space, the scope and the
 * order, and shows that memory does not grow with the space (the benchmark's /8 figure).
 */
async function dryRun(request: ScanRequest, write: (text: string) => void): Promise<number> {
  const { params, space, scope } = await prepareScan(request);
  const started = performance.now();
  let probes = 0;
  let refused = 0;
  for (const orderParams of [params.tcpOrder, params.udpOrder]) {
    if (!orderParams) continue;
    const order = CyclicOrder.restore(orderParams, 0);
    for (let element = order.next(); element >= 0; element = order.next()) {
      // The same per-probe work as a real run: address lookup and the scope check.
      const index = element % space.size;
      const v4 = space.v4At(index);
      if (!(v4 >= 0 ? scope.allowsV4(v4) : scope.allows(space.at(index)))) refused++;
      probes++;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const rssMb = process.resourceUsage().maxRSS / 1024;
  write(
    JSON.stringify({
      type: "dry-run",
      addresses: space.size,
      probes,
      seconds: Math.round(seconds * 1000) / 1000,
      peakRssMb: Math.round(rssMb * 10) / 10,
      refusedByScope: refused,
    }) + "\n",
  );
  return EXIT.ok;
}

export function registerScanCommand(program: Command): void {
  program
    .command("scan")
    .description(
      "discover exposed RPC/NetBIOS/SMB services on the targets (TCP connect or SYN, UDP NBSTAT)",
    )
    .argument(
      "[targets...]",
      "addresses, CIDR blocks, ranges (a-b), hostnames, IPv6 literals/prefixes",
    )
    .option(
      "-p, --ports <spec>",
      `ports, nmap syntax (e.g. 135,445 or T:135,U:137); default: the advisory's ${formatPortSpec(DEFAULT_PORTS)}`,
    )
    .option("--input-list <file>", "read targets from a file (also -iL); repeatable", collect)
    .option("--exclude <targets>", "comma-separated targets to skip; repeatable", collect)
    .option("--exclude-file <file>", "read targets to skip from a file; repeatable", collect)
    .option("--scope <file>", "authorized scope (YAML); default: the built-in lab's range only")
    .option(
      "--rate <n>",
      "probe attempts per second, all targets together (0 = no limit)",
      parseCount(0, 10_000_000),
      0,
    )
    .option(
      "--concurrency <n>",
      "probes in flight at once (default: 16384 SYN, 4096 connect, capped by the open-file limit)",
      parseCount(1, 1_000_000),
    )
    .addOption(
      new Option("--timeout <duration>", "per-attempt timeout, e.g. 500ms or 2s")
        .argParser(parseDuration)
        .default(1000, "1s"),
    )
    .option(
      "--retries <n>",
      "extra attempts after a timeout (never after an answer)",
      parseCount(0, 10),
      1,
    )
    .addOption(engineOption())
    .option("--seed <seed>", "seed of the probe order (default: random, stored with the scan)")
    .addOption(dbOption())
    .option("--json", "print one JSON document at the end")
    .option("--jsonl", "print one JSON object per result as it arrives, then a summary line")
    .addOption(progressOption())
    .option("-q, --quiet", "no progress and no summary; exit status and stored results only")
    .option("--resume <scan-id>", "continue an interrupted scan with its stored options")
    .option("--no-lab", "do not route lab targets into a running `ringfence lab`")
    .addOption(new Option("--lab-dir <dir>", "lab state directory").env("RINGFENCE_LAB_DIR"))
    .option("--lab-name <name>", "which running lab to route lab targets into", "default")
    .option(
      "--checks <list>",
      "checks to run where their ports are open: safe (default), aggressive, none, or check ids (ringfence check --list)",
      "safe",
    )
    .addOption(
      new Option(
        "--check-timeout <duration>",
        "per-connection deadline of the checks (RPC and SMB)",
      )
        .argParser(parseDuration)
        .default(undefined, "5s"),
    )
    .option("--dry-run", "walk the targets and probe order without sending anything")
    .option("--fail-on-open", "exit with status 1 when any port is open")
    .option("--fail-on-vulnerable", "exit with status 1 when any check says VULNERABLE")
    .action(async (targets: string[], options: ScanCliOptions, command: Command) => {
      const format = outputFormat(options);
      const write = (text: string) => process.stdout.write(text);
      if (options.resume !== undefined && (targets.length > 0 || options.inputList))
        throw new RingfenceError(
          "RINGFENCE_USAGE",
          "--resume takes its targets and options from the stored scan; give no targets with it",
        );
      const request: ScanRequest = {
        targets,
        inputFiles: options.inputList ?? [],
        exclude: options.exclude ?? [],
        excludeFiles: options.excludeFile ?? [],
        ports: options.ports !== undefined ? parsePortSpec(options.ports) : DEFAULT_PORTS,
        ...(options.scope !== undefined ? { scopeFile: options.scope } : {}),
        rate: options.rate,
        ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
        timeoutMs: options.timeout,
        retries: options.retries,
        engine: options.engine,
        seed: options.seed ?? randomBytes(8).toString("hex"),
        useLab: options.lab,
        checks: parseCheckSelection(options.checks),
        ...(options.checkTimeout !== undefined
          ? { checkTimeouts: { connectMs: options.checkTimeout, readMs: options.checkTimeout } }
          : {}),
        ...(options.labDir !== undefined ? { labStateDir: options.labDir } : {}),
        ...(options.labName !== undefined ? { labName: options.labName } : {}),
      };
      if (options.dryRun) {
        process.exitCode = await dryRun(request, write);
        return;
      }

      const store = await openStore(options.db);
      const display = createProgressDisplay(
        options.quiet ? "none" : options.progress,
        process.stderr,
      );
      const reporter = createReporter(format, write);
      const controller = new AbortController();
      let interrupts = 0;
      const onSignal = (signal: NodeJS.Signals) => {
        interrupts++;
        if (interrupts > 1) process.exit(EXIT.interrupted);
        process.stderr.write(
          `\nringfence: ${signal}: stopping; saving what was found (again to force)\n`,
        );
        controller.abort();
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      let scanId = options.resume ?? "";
      let checksStarted: number | undefined;
      let hostsChecked = 0;
      let checksTotal = 0;
      let vulnerableHosts = 0;
      try {
        const result = await executeScan(
          store,
          options.resume !== undefined
            ? { kind: "resume", scanId: options.resume }
            : { kind: "new", request, command: ["ringfence", ...command.parent!.args].join(" ") },
          {
            onStart(info) {
              scanId = info.scan.id;
              for (const note of info.notes) display.note(note);
              if (info.lab)
                display.note(
                  `scanning lab "${info.lab.name}"${info.lab.netnsPath ? ` in ${info.lab.netnsPath}` : ""}${info.lab.portOffset ? ` (port offset ${info.lab.portOffset})` : ""}`,
                );
              display.start({
                scanId: info.scan.id,
                total: info.scan.totalProbes,
                engine: info.engine,
                resumed: info.resumed,
              });
            },
            onObservations: (observations) => reporter.observations(scanId, observations),
            onProgress: (progress) => display.update(progress),
            onWarning: (warning) => display.warn(warning.code, warning.message),
            onChecksStart: (info) => {
              display.stop();
              checksStarted = performance.now();
              checksTotal = info.hosts;
              if (info.hosts > 0 || info.alreadyChecked > 0)
                display.note(
                  `checking ${info.hosts} host(s) with a port the selected checks need${info.alreadyChecked > 0 ? ` (${info.alreadyChecked} already checked before the resume)` : ""}`,
                );
            },
            onHostChecked: (report) => {
              hostsChecked++;
              if (report.results.some((r) => r.verdict === "VULNERABLE")) vulnerableHosts++;
              display.checks({
                done: hostsChecked,
                total: checksTotal,
                vulnerable: vulnerableHosts,
                elapsedMs: performance.now() - (checksStarted ?? performance.now()),
              });
              reporter.hostChecked?.(scanId, report);
            },
          },
          controller.signal,
        );
        display.stop();
        if (checksStarted !== undefined && hostsChecked > 0)
          display.note(
            `checked ${hostsChecked} host(s) in ${((performance.now() - checksStarted) / 1000).toFixed(1)} s: ${vulnerableHosts} with a VULNERABLE verdict`,
          );
        // The summary reads every observation back: skip it when nothing will use it.
        const summary =
          !options.quiet || options.failOnOpen
            ? await summarizeScan(store, result.scan.id)
            : undefined;
        if (summary && !options.quiet) reporter.finish(summary);
        if (result.interrupted) {
          process.stderr.write(
            `ringfence: scan ${result.scan.id} interrupted after ${result.scan.probesDone}/${result.scan.totalProbes} probes; resume with: ringfence scan --resume ${result.scan.id}\n`,
          );
          process.exitCode = EXIT.interrupted;
        } else {
          const openFound = options.failOnOpen === true && (summary?.counts.open ?? 0) > 0;
          const vulnerableFound = options.failOnVulnerable === true && vulnerableHosts > 0;
          process.exitCode = openFound || vulnerableFound ? EXIT.findings : EXIT.ok;
        }
      } finally {
        display.stop();
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        await store.close();
      }
    });
}
