/**
 * `ringfence verify-shield`: rescan a shield plan's blocked and allowed services from a vantage
 * and record verified controls when the shield holds (src/jobs/verify-shield-job.ts).
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { IsoDuration } from "../advisories/index.js";
import type { ControlMethod } from "../risk/types.js";
import type { EngineChoice } from "../scan/index.js";
import { formatVerification, readPlanFile } from "../shield/index.js";
import { runVerifyShield } from "../jobs/verify-shield-job.js";
import { engineOption, parseCount, parseDuration } from "./main.js";

interface VerifyCliOptions {
  plan: string;
  from?: string;
  db?: string;
  engine: EngineChoice;
  timeout: number;
  retries: number;
  rate: number;
  scope?: string;
  method: "external" | "peer";
  ttl?: string;
  policy?: string;
  json?: boolean;
  verbose?: boolean;
}

function parseTtl(text: string): string {
  if (!IsoDuration.safeParse(text).success)
    throw new InvalidArgumentError(`"${text}" is not an ISO 8601 duration (e.g. P7D, PT24H)`);
  return text;
}

async function verifyCommand(options: VerifyCliOptions): Promise<void> {
  const plan = await readPlanFile(options.plan);
  const method: ControlMethod = options.method === "peer" ? "rescan-peer" : "rescan-external";
  const { verification, controls } = await runVerifyShield({
    plan,
    ...(options.from === undefined ? {} : { from: options.from }),
    ...(options.db === undefined ? {} : { db: options.db }),
    engine: options.engine,
    timeoutMs: options.timeout,
    retries: options.retries,
    rate: options.rate,
    ...(options.scope === undefined ? {} : { scopeFile: options.scope }),
    method,
    ...(options.ttl === undefined ? {} : { ttl: options.ttl }),
    ...(options.policy === undefined ? {} : { policyFile: options.policy }),
  });
  if (options.json)
    process.stdout.write(JSON.stringify({ verification, controls }, null, 2) + "\n");
  else {
    process.stdout.write(formatVerification(verification, options.verbose === true));
    for (const c of controls)
      process.stdout.write(
        `recorded control ${c.id} (${c.kind}, ${c.method}, expires ${c.expiresAt})\n`,
      );
    if (verification.verified && options.db === undefined)
      process.stdout.write("no --db: controls not recorded\n");
  }
  if (!verification.verified) process.exitCode = 1;
}

export function registerVerifyShieldCommand(program: Command): void {
  program
    .command("verify-shield")
    .description(
      "rescan a shield plan's blocked and allowed services from a vantage; record a verified control per host when every blocked service is closed/filtered and every allowed one open, else list what is exposed and exit 1",
    )
    .requiredOption("--plan <file>", "the shield plan (ringfence shield plan)")
    .option(
      "--from <namespace>",
      "network namespace to scan from (ip netns name; needs root); default: the current one",
    )
    .addOption(
      new Option("--db <path>", "record the verified controls in this inventory database").env(
        "RINGFENCE_DB",
      ),
    )
    .addOption(engineOption())
    .addOption(
      new Option("--timeout <duration>", "per-attempt timeout, e.g. 500ms or 2s")
        .argParser(parseDuration)
        .default(1000, "1s"),
    )
    .option("--retries <n>", "extra attempts after a timeout", parseCount(0, 10), 1)
    .option("--rate <n>", "probe attempts per second (0 = no limit)", parseCount(0, 10_000_000), 0)
    .option("--scope <file>", "authorized scope (YAML); default: the built-in lab's range only")
    .addOption(
      new Option("--method <vantage>", "how the control was verified: from outside, or from a peer")
        .choices(["external", "peer"])
        .default("external"),
    )
    .option(
      "--ttl <duration>",
      "control lifetime, ISO 8601 (default: the risk policy's TTL for the control kind)",
      parseTtl,
    )
    .option("--policy <file>", "risk policy file (for its control TTLs)")
    .option("--json", "print the verification and the controls as JSON")
    .option("--verbose", "list every probe, not only the failures")
    .action(async (options: VerifyCliOptions) => verifyCommand(options));
}
