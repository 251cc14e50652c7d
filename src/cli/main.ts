import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { EXIT, exitCodeFor, isRingfenceError, RingfenceError } from "../errors.js";
import { ENGINE_CHOICES } from "../scan/index.js";
import { registerCheckCommand } from "./check-command.js";
import { registerDemoCommand } from "./demo-command.js";
import { registerHostCommand } from "./host-command.js";
import { registerInventoryCommands } from "./inventory-commands.js";
import { registerLabCommand } from "./lab-command.js";
import { PROGRESS_MODES } from "./progress-display.js";
import { registerReportCommands } from "./report-commands.js";
import { registerRiskCommands } from "./risk-commands.js";
import { registerRpcCommand } from "./rpc-command.js";
import { registerScanCommand } from "./scan-command.js";
import { registerServeCommand } from "./serve-command.js";
import { registerShieldCommand } from "./shield-command.js";
import { registerTokenCommand } from "./token-command.js";
import { registerVerifyShieldCommand } from "./verify-shield-command.js";
import { registerWorkflowCommands } from "./workflow-commands.js";

export const VERSION = "0.1.0";

/** Parses "500", "500ms", "2s", "1.5s" into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim());
  if (!match) throw new InvalidArgumentError(`"${text}" is not a duration (e.g. 500ms, 2s)`);
  const value = Number(match[1]) * (match[2] === "s" ? 1000 : 1);
  if (value <= 0 || value > 600_000)
    throw new InvalidArgumentError(`"${text}" must be between 1ms and 600s`);
  return value;
}

export function parseCount(min: number, max: number) {
  return (text: string): number => {
    if (!/^\d+$/.test(text.trim()))
      throw new InvalidArgumentError(`"${text}" is not a whole number`);
    const value = Number(text);
    if (value < min || value > max)
      throw new InvalidArgumentError(`"${text}" must be between ${min} and ${max}`);
    return value;
  };
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export const engineOption = () =>
  new Option("--engine <engine>", "probe engine: syn (raw, privileged), connect, js, or auto")
    .choices(ENGINE_CHOICES as string[])
    .default("auto");

export const progressOption = () =>
  new Option(
    "--progress <mode>",
    "progress on stderr: bar (terminal), plain lines, json events, none",
  )
    .choices(PROGRESS_MODES as string[])
    .default("auto");

export const dbOption = () =>
  new Option("--db <path>", "inventory database: a SQLite file, or postgres://user@host/db")
    .env("RINGFENCE_DB")
    .default("ringfence.db");

/** nmap spells its target-file flag -iL; commander takes single-letter short flags only. */
function normaliseArgv(argv: readonly string[]): string[] {
  return argv.map((arg) => (arg === "-iL" ? "--input-list" : arg));
}

function buildProgram(): Command {
  const program = new Command()
    .name("ringfence")
    .description(
      "Exposure response for wormable Windows network flaws (MS03-026 and its successors):\n" +
        "scan what is exposed, protect it, rate the risk, fix it, verify, reconnect.",
    )
    .version(VERSION)
    .exitOverride()
    .configureOutput({
      writeErr: (text) => process.stderr.write(text),
      // One line per error, as every other ringfence failure.
      outputError: (text, write) =>
        write(
          `ringfence: ${text
            .replace(/^error: /, "")
            .trim()
            .replace(/\s*\n\s*/g, " ")} (see --help)\n`,
        ),
    });
  registerScanCommand(program);
  registerInventoryCommands(program);
  registerHostCommand(program);
  registerLabCommand(program);
  registerDemoCommand(program);
  registerRpcCommand(program);
  registerCheckCommand(program);
  registerRiskCommands(program);
  registerShieldCommand(program);
  registerVerifyShieldCommand(program);
  registerWorkflowCommands(program);
  registerReportCommands(program);
  registerServeCommand(program);
  registerTokenCommand(program);
  program.addHelpText(
    "after",
    `
Examples:
  ringfence demo                                  lab up, scan, summary, lab down
  ringfence lab up --hosts 4096                   start the simulated Windows estate
  ringfence scan 127.20.0.0/20                    scan the lab for the advisory's ports
  ringfence scan -p T:135,445,U:137 127.20.0.1-200 --jsonl
  ringfence scan --scope scope.yaml -iL targets.txt --exclude 10.0.5.0/24
  ringfence scan --resume <scan-id>               continue an interrupted scan
  ringfence hosts --port 135                      hosts with TCP 135 open
  ringfence host 127.20.0.5                       one host: services, SMB fingerprint and OS, verdicts
  ringfence services --state open --json
  ringfence check --list                          the checks and their safety category
  ringfence check ms03-026-remote-activation 127.20.0.5

Exit status: 0 ok, 1 open ports found with --fail-on-open (or a VULNERABLE verdict with
--fail-on-vulnerable, or from \`check\`), 2 bad input, 3 target outside
the authorized scope, 4 inventory database problem, 5 lab problem, 6 missing privilege or
engine, 7 a protocol peer failed (rpc dump), 130 interrupted (resume with --resume).`,
  );
  return program;
}

/** Runs the CLI; returns the exit status. Every known failure is one line on stderr. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(normaliseArgv(argv));
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors were already printed.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (isRingfenceError(error)) {
      const hint = error.hint ? ` (${error.hint})` : "";
      process.stderr.write(`ringfence: ${error.message}${hint}\n`);
      return exitCodeFor(error);
    }
    throw error;
  }
}

export { RingfenceError };
