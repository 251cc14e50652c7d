import { randomBytes } from "node:crypto";
import { rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Command, Option } from "commander";
import { loadAdvisoryCatalog } from "../advisories/index.js";
import { RingfenceError } from "../errors.js";
import { IMPORT_FORMATS } from "../interchange/imported-scan.js";
import type { ImportFormatChoice } from "../interchange/index.js";
import {
  diffScans,
  loadReportModel,
  renderScanDiffText,
  REPORT_FORMATS,
  REPORT_RENDERERS,
  type ReportFormat,
} from "../reports/index.js";
import { withStore } from "../store/index.js";
import { dbOption, VERSION } from "./main.js";

/** Write-then-rename in the same directory: a reader never sees half a report. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeFile(temporary, text, { flag: "wx" });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new RingfenceError(
      "RINGFENCE_USAGE",
      `cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
}

function parseInstant(text: string): string {
  const ms = Date.parse(text);
  if (Number.isNaN(ms))
    throw new RingfenceError("RINGFENCE_USAGE", `--as-of "${text}" is not a date or ISO instant`);
  return new Date(ms).toISOString();
}

export function registerReportCommands(program: Command): void {
  program
    .command("report")
    .description(
      "write a report of the inventory or of one scan: html, csv, jsonl, nmap-xml, sarif",
    )
    .addOption(
      new Option("--format <format>", "report format")
        .choices(REPORT_FORMATS as unknown as string[])
        .makeOptionMandatory(),
    )
    .option("--scan <scan-id>", "only this scan (nmap-xml: default the latest scan)")
    .option("--out <file>", "write to this file (atomically) instead of stdout")
    .option("--as-of <instant>", "the instant overdue clocks are measured against (default now)")
    .addOption(dbOption())
    .addHelpText(
      "after",
      `
Formats:
  html      one self-contained page: exposure by rating and zone, burndown, overdue, findings
  csv       findings, RFC 4180, spreadsheet-formula safe
  jsonl     one object per line, each with a versioned "schema" (ringfence.finding/1, ...)
  nmap-xml  one scan as nmap -oX (valid against nmap.dtd), checks as <hostscript> scripts
  sarif     findings as SARIF 2.1.0 with host/service logical locations`,
    )
    .action(
      (options: { format: ReportFormat; scan?: string; out?: string; asOf?: string; db: string }) =>
        withStore(options.db, async (store) => {
          const renderer = REPORT_RENDERERS[options.format];
          let scanId = options.scan;
          if (scanId === undefined && renderer.needsScan) {
            const [latest] = await store.listScans(1);
            if (latest === undefined)
              throw new RingfenceError("RINGFENCE_USAGE", "no scan stored yet: nothing to report", {
                hint: "run ringfence scan or ringfence import first",
              });
            scanId = latest.id;
          }
          const model = await loadReportModel(store, {
            ...(scanId !== undefined ? { scanId } : {}),
            ...(options.asOf !== undefined ? { asOf: parseInstant(options.asOf) } : {}),
          });
          const catalog = options.format === "sarif" ? await loadAdvisoryCatalog() : undefined;
          const text = renderer.render(model, {
            version: VERSION,
            ...(catalog !== undefined ? { catalog } : {}),
          });
          if (options.out === undefined) process.stdout.write(text);
          else await writeAtomically(options.out, text);
        }),
    );

  program
    .command("import")
    .description(
      "record another scanner's results (nmap -oX, masscan -oJ/-oD/-oX/-oL) as an import scan",
    )
    .argument("<file>", "the result file")
    .addOption(
      new Option("--format <format>", "the file's format")
        .choices(["auto", ...IMPORT_FORMATS])
        .default("auto"),
    )
    .option("--scope <file>", "authorized scope (YAML); default: the built-in lab's range only")
    .option(
      "--skip-out-of-scope",
      "leave out hosts outside the scope (counted) instead of refusing the file",
    )
    .option("--json", "print the result as JSON")
    .addOption(dbOption())
    .addHelpText(
      "after",
      `
Every address is checked against the scope: by default a file with any address outside it is
refused whole (exit 3) and nothing is stored. Importing the same file again records nothing new;
hosts and services are identified by address and protocol/port, never duplicated. Script output
(check verdicts) is not imported: findings come only from checks ringfence runs.`,
    )
    .action(
      (
        file: string,
        options: {
          format: ImportFormatChoice;
          scope?: string;
          skipOutOfScope?: boolean;
          json?: boolean;
          db: string;
        },
      ) =>
        withStore(options.db, async (store) => {
          // The XML parser and the readers load only for `import` (CLI start-up time).
          const { importScanFile } = await import("../jobs/import-job.js");
          const result = await importScanFile(store, {
            file,
            format: options.format,
            ...(options.scope !== undefined ? { scopeFile: options.scope } : {}),
            skipOutOfScope: options.skipOutOfScope === true,
          });
          if (options.json) {
            const { scan, ...rest } = result;
            process.stdout.write(JSON.stringify({ scan: scan.id, ...rest }, null, 2) + "\n");
            return;
          }
          const lines = [
            result.alreadyImported
              ? `${file} was already imported as scan ${result.scan.id}: nothing recorded`
              : `imported ${file} (${result.format}) as scan ${result.scan.id}: ${result.hosts} hosts, ${result.observations} ports (open ${result.counts["open"] ?? 0}, closed ${result.counts["closed"] ?? 0}, filtered ${result.counts["filtered"] ?? 0})`,
          ];
          if (result.outOfScope > 0)
            lines.push(`  skipped ${result.outOfScope} hosts outside the scope`);
          if (result.hostsWithoutPorts > 0)
            lines.push(`  ${result.hostsWithoutPorts} hosts listed without ports (not stored)`);
          if (result.skippedPorts > 0)
            lines.push(
              `  ${result.skippedPorts} ports in states or protocols ringfence does not record (unfiltered, sctp, ip)`,
            );
          process.stdout.write(lines.join("\n") + "\n");
        }),
    );

  program
    .command("diff")
    .description(
      "what changed between two scans: hosts, ports, service details, check verdicts (like ndiff)",
    )
    .argument("<scan-a>", "the earlier scan")
    .argument("<scan-b>", "the later scan")
    .option("--json", "print JSON")
    .addOption(dbOption())
    .action((a: string, b: string, options: { json?: boolean; db: string }) =>
      withStore(options.db, async (store) => {
        const diff = await diffScans(store, a, b);
        process.stdout.write(
          options.json ? JSON.stringify(diff, null, 2) + "\n" : renderScanDiffText(diff),
        );
      }),
    );
}
