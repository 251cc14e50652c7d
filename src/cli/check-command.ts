import { Command, Option } from "commander";
import {
  CHECKS,
  CHECK_PROFILES,
  checkById,
  checkHosts,
  parseCheckSelection,
  type HostCheckReport,
} from "../checks/index.js";
import { EXIT, RingfenceError } from "../errors.js";
import { enterLab, labHolding } from "../jobs/lab-routing.js";
import { loadScope, scopeViolation } from "../scope/index.js";
import { openStore } from "../store/index.js";
import { buildTargetSpace } from "../targets/index.js";
import { checkRunInputs, fingerprintInputs } from "../jobs/check-records.js";
import { renderHostReport } from "./check-output.js";
import { dbOption, parseCount, parseDuration } from "./main.js";

/**
 * `ringfence check <id> <targets...>`: run one check (with the checks it requires) against hosts
 * without a discovery scan first: the port is taken from --port or the check's first port. Results
 * are printed with their evidence and stored as findings, like a scan's.
 */

interface CheckCliOptions {
  port?: number;
  scope?: string;
  timeout: number;
  hostTimeout: number;
  concurrency: number;
  json?: boolean;
  db: string;
  store: boolean;
  list?: boolean;
  lab: boolean;
  labDir?: string;
  labName: string;
}

/** A check of a few thousand hosts is a scan's job; past this, use `scan --checks`. */
const MAX_CHECK_TARGETS = 65_536;

function listChecks(): string {
  const rows = CHECKS.map((c) => [
    c.id,
    c.safety,
    c.ports.join(","),
    c.advisories.join(","),
    c.title,
  ]);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
  const lines = rows.map((r) =>
    r.map((cell, i) => (i < 4 ? cell.padEnd(widths[i] ?? 0) : cell)).join("  "),
  );
  const profiles = Object.entries(CHECK_PROFILES).map(
    ([name, what]) => `  ${name.padEnd(11)}${what}`,
  );
  return [...lines, "", "profiles (for scan --checks):", ...profiles].join("\n") + "\n";
}

export function registerCheckCommand(program: Command): void {
  program
    .command("check")
    .description(
      "run one vulnerability check against hosts (MS03-026/MS03-039, Blaster backdoor, SMB: smb-fingerprint, smbv1-enabled, ms17-010, smbghost, smb-signing-not-required)",
    )
    .argument("[check-id]", "check to run (see --list)")
    .argument("[targets...]", "addresses, ranges or host names")
    .option("--list", "list the checks, their safety category, ports and advisories")
    .option(
      "--port <port>",
      "the service's TCP port (default: the check's ports in order, e.g. 135, or 445 then 139)",
      parseCount(1, 65535),
    )
    .option("--scope <file>", "authorized scope (YAML); default: the built-in lab's range only")
    .addOption(
      new Option("--timeout <duration>", "per-connection connect and read deadline")
        .argParser(parseDuration)
        .default(5000, "5s"),
    )
    .addOption(
      new Option("--host-timeout <duration>", "budget for one host's whole check sequence")
        .argParser(parseDuration)
        .default(30_000, "30s"),
    )
    .option("--concurrency <n>", "hosts checked at once", parseCount(1, 4096), 64)
    .option("--json", "print one JSON document")
    .addOption(dbOption())
    .option("--no-store", "do not record the results in the inventory")
    .option("--no-lab", "do not route lab addresses into a running `ringfence lab`")
    .addOption(new Option("--lab-dir <dir>", "lab state directory").env("RINGFENCE_LAB_DIR"))
    .option("--lab-name <name>", "which running lab to route lab addresses into", "default")
    .addHelpText(
      "after",
      `
Exit status: 0 no host vulnerable, 1 at least one VULNERABLE verdict, 2 bad input,
3 a target outside the authorized scope. UNKNOWN verdicts always carry their reason.`,
    )
    .action(async (checkId: string | undefined, targets: string[], options: CheckCliOptions) => {
      if (options.list === true || checkId === undefined) {
        if (checkId === undefined && options.list !== true) {
          throw new RingfenceError("RINGFENCE_USAGE", "name a check and at least one target", {
            hint: "ringfence check --list",
          });
        }
        process.stdout.write(listChecks());
        return;
      }
      const check = checkById(checkId);
      if (check === undefined) {
        throw new RingfenceError("RINGFENCE_USAGE", `unknown check "${checkId}"`, {
          hint: `ringfence check --list shows: ${CHECKS.map((c) => c.id).join(", ")}`,
        });
      }
      if (targets.length === 0) throw new RingfenceError("RINGFENCE_USAGE", "no targets given");
      const selection = parseCheckSelection(check.id);
      const scope = await loadScope(options.scope);
      const space = await buildTargetSpace({ targets });
      const outside = scope.firstOutside(space);
      if (outside !== undefined) throw scopeViolation(outside, scope);
      if (space.size > MAX_CHECK_TARGETS) {
        throw new RingfenceError(
          "RINGFENCE_USAGE",
          `${space.size} targets; check takes at most ${MAX_CHECK_TARGETS}`,
          {
            hint: "scan them with `ringfence scan --checks ...`, which checks only hosts with the port open",
          },
        );
      }
      const lab = options.lab
        ? await labHolding(space.ranges, {
            name: options.labName,
            ...(options.labDir !== undefined ? { stateDir: options.labDir } : {}),
          })
        : undefined;
      // The store connects before the move into the lab's namespace (a database server on this
      // namespace's loopback is out of reach from there).
      const store = options.store ? await openStore(options.db) : undefined;
      if (lab?.netnsPath) {
        await store?.pinConnections();
        enterLab(lab);
      }
      // Without --port, every port the check can use: each check takes its own order (RPC: 135
      // first; SMB: 445, then 139 with a NetBIOS session when 445 is refused).
      const ports = options.port !== undefined ? [options.port] : [...check.ports];
      const reports: HostCheckReport[] = [];
      try {
        const hosts = (function* () {
          for (let i = 0; i < space.size; i++) yield { address: space.at(i), openTcpPorts: ports };
        })();
        for await (const report of checkHosts(hosts, selection, {
          scope,
          portOffset: lab?.portOffset ?? 0,
          rpcTimeouts: {
            connectMs: options.timeout,
            readMs: options.timeout,
            hostMs: options.hostTimeout,
          },
          smbTimeouts: {
            connectMs: options.timeout,
            readMs: options.timeout,
            hostMs: options.hostTimeout,
          },
          // No scan gave NBSTAT names: ask UDP 137 once per host.
          queryNbstat: true,
          concurrency: options.concurrency,
        })) {
          reports.push(report);
          if (store !== undefined) {
            await store.recordCheckRuns(checkRunInputs(null, report));
            await store.recordFingerprints(fingerprintInputs(report));
          }
          if (options.json !== true)
            process.stdout.write(renderHostReport(report, { evidence: true }));
        }
      } finally {
        await store?.close();
      }
      if (options.json === true)
        process.stdout.write(JSON.stringify({ check: check.id, hosts: reports }, null, 2) + "\n");
      const vulnerable = reports.some((r) => r.results.some((x) => x.verdict === "VULNERABLE"));
      process.exitCode = vulnerable ? EXIT.findings : EXIT.ok;
    });
}
