/**
 * `ringfence assess`, `ringfence findings` and `ringfence explain`: rate the inventory's findings
 * and say what to do, by when and why (research §5). src/jobs/assess-job.ts does the work; this
 * file parses options and prints.
 */
import Table from "cli-table3";
import { Command, InvalidArgumentError, Option } from "commander";
import { RATING_LEVELS, ZONES, type Zone } from "../advisories/index.js";
import { RingfenceError } from "../errors.js";
import {
  DEFAULT_VANTAGE,
  decisionOf,
  runAssessJob,
  type AssessJobResult,
} from "../jobs/assess-job.js";
import type { Action, Assessment, Reason } from "../risk/index.js";
import {
  type AssessmentRating,
  type AssessmentRecord,
  type FindingRecord,
  type Store,
  withStore,
} from "../store/index.js";
import { collect, dbOption, parseCount } from "./main.js";

const out = (text: string): void => {
  process.stdout.write(text.endsWith("\n") ? text : text + "\n");
};

/** `2003-08-12T04:00:00.000Z` as `2003-08-12 04:00Z` (tables); full ISO in JSON and explain. */
function shortTime(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return "-";
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::(\d{2})(?:\.(\d+))?)?Z$/.exec(iso);
  if (!m) return iso;
  const seconds = m[3] !== undefined && m[3] !== "00" ? `:${m[3]}` : "";
  return `${m[1]} ${m[2]}${seconds}Z`;
}

function table(head: string[]): Table.Table {
  return new Table({ head, style: { head: [], border: [], compact: true } });
}

function serviceOf(f: { protocol: string; port: number }): string {
  return f.port === 0 ? "host" : `${f.protocol}/${f.port}`;
}

// --- assess -----------------------------------------------------------------------------------

interface AssessCliOptions {
  db: string;
  asOf?: string;
  site?: string;
  policy?: string;
  kev: string[];
  epss: string[];
  advisories: string[];
  vantage: Zone;
  json?: boolean;
}

function renderAssessTable(result: AssessJobResult): string {
  if (result.assessed.length === 0) {
    return `no open findings to assess (as of ${result.asOf}); run a scan with checks first\n`;
  }
  const t = table([
    "finding",
    "address",
    "advisory",
    "verdict",
    "rating",
    "decision",
    "protect by",
    "fix by",
    "first action",
  ]);
  for (const { finding, assessment: a } of result.assessed) {
    t.push([
      String(finding.id),
      `${finding.address} ${serviceOf(finding)}`,
      a.subject.advisory,
      a.subject.verdict,
      a.rating.level,
      decisionOf(a) ?? "-",
      shortTime(a.clocks.protectBy),
      shortTime(a.clocks.fixBy),
      a.actions[0]?.kind ?? "-",
    ]);
  }
  const counts = [...RATING_LEVELS]
    .reverse()
    .map((level) => ({
      level,
      n: result.assessed.filter((x) => x.assessment.rating.level === level).length,
    }))
    .filter(({ n }) => n > 0)
    .map(({ level, n }) => `${n} ${level}`);
  return (
    `${t.toString()}\n` +
    `${result.assessed.length} findings assessed as of ${result.asOf} (${counts.join(", ")}); ` +
    `policy ${result.policy.id}@${result.policy.version}, scans taken from zone ${result.vantage}; ` +
    `ringfence explain <finding> says why\n`
  );
}

// --- findings ---------------------------------------------------------------------------------

interface FindingsCliOptions {
  db: string;
  advisory?: string;
  rating?: AssessmentRating;
  zone?: Zone;
  status: "open" | "closed" | "all";
  overdue?: boolean;
  address?: string;
  limit?: number;
  json?: boolean;
}

interface FindingRow {
  readonly finding: FindingRecord | AssessmentRecord;
  readonly assessment: AssessmentRecord | null;
}

function overdueNow(record: AssessmentRecord, now: string): string[] {
  const clocks: [string, string | null][] = [
    ["protect", record.protectBy],
    ["fix", record.fixBy],
    ["verify", record.verifyBy],
  ];
  return clocks.filter(([, at]) => at !== null && at < now).map(([name]) => name);
}

async function listFindingRows(
  store: Store,
  options: FindingsCliOptions,
  now: string,
): Promise<FindingRow[]> {
  const status = options.status === "all" ? undefined : options.status;
  const assessed = await store.latestAssessments({
    ...(options.address === undefined ? {} : { address: options.address }),
    ...(options.advisory === undefined ? {} : { advisory: options.advisory }),
    ...(options.rating === undefined ? {} : { rating: options.rating }),
    ...(options.zone === undefined ? {} : { zone: options.zone }),
    ...(status === undefined ? {} : { status }),
    ...(options.overdue ? { overdueAt: now } : {}),
  });
  const rows: FindingRow[] = assessed.map((a) => ({ finding: a, assessment: a }));
  // Findings never assessed (recorded after the last `ringfence assess`) come last, unless a
  // filter on the assessment excludes them anyway.
  if (options.rating === undefined && options.zone === undefined && !options.overdue) {
    const seen = new Set(assessed.map((a) => a.findingId));
    const all = await store.listFindings({
      ...(options.address === undefined ? {} : { address: options.address }),
      ...(status === undefined ? {} : { status }),
    });
    const wanted = options.advisory?.toLowerCase();
    for (const finding of all) {
      if (seen.has(finding.id)) continue;
      if (wanted !== undefined && finding.advisory.toLowerCase() !== wanted) continue;
      rows.push({ finding, assessment: null });
    }
  }
  return options.limit === undefined ? rows : rows.slice(0, options.limit);
}

function findingIdOfRow(row: FindingRow): number {
  return "findingId" in row.finding ? row.finding.findingId : row.finding.id;
}

function renderFindingsTable(rows: readonly FindingRow[], now: string): string {
  if (rows.length === 0) return "no findings match\n";
  const t = table([
    "finding",
    "address",
    "advisory",
    "verdict",
    "status",
    "zone",
    "rating",
    "decision",
    "protect by",
    "fix by",
    "overdue",
    "as of",
  ]);
  for (const row of rows) {
    const f = row.finding;
    const a = row.assessment;
    t.push([
      String(findingIdOfRow(row)),
      `${f.address} ${serviceOf(f)}`,
      a?.advisory ?? ("findingAdvisory" in f ? f.findingAdvisory : f.advisory),
      f.verdict,
      f.status,
      a?.zone ?? "-",
      a?.rating ?? "not assessed",
      a?.outcome ?? "-",
      shortTime(a?.protectBy),
      shortTime(a?.fixBy),
      a === null ? "-" : overdueNow(a, now).join(",") || "-",
      a === null ? "-" : shortTime(a.asOf),
    ]);
  }
  return `${t.toString()}\n${rows.length} findings\n`;
}

function findingsJson(rows: readonly FindingRow[], now: string): string {
  return JSON.stringify(
    rows.map((row) => {
      const f = row.finding;
      const a = row.assessment;
      return {
        finding: {
          id: findingIdOfRow(row),
          address: f.address,
          protocol: f.protocol,
          port: f.port,
          advisory: "findingAdvisory" in f ? f.findingAdvisory : f.advisory,
          checkId: f.checkId,
          verdict: f.verdict,
          status: f.status,
          firstSeen: f.firstSeen,
          lastSeen: f.lastSeen,
        },
        assessment:
          a === null
            ? null
            : {
                id: a.id,
                asOf: a.asOf,
                createdAt: a.createdAt,
                policy: { id: a.policyId, version: a.policyVersion, sha256: a.policySha256 },
                advisory: a.advisory,
                zone: a.zone,
                rating: a.rating,
                outcome: a.outcome,
                protectBy: a.protectBy,
                fixBy: a.fixBy,
                verifyBy: a.verifyBy,
                overdueAtAsOf: a.overdue,
                overdueNow: overdueNow(a, now),
                firstAction: (JSON.parse(a.assessmentJson) as Assessment).actions[0]?.kind ?? null,
              },
      };
    }),
    null,
    2,
  );
}

// --- explain ----------------------------------------------------------------------------------

interface Attributed {
  readonly value: unknown;
  readonly prov?: { readonly source?: string; readonly ref?: string; readonly observedAt?: string };
}

/** What inputs_json holds (assess-job.ts); every field optional, for older or foreign rows. */
interface StoredInputs {
  readonly asset?: {
    readonly zone?: Attributed;
    readonly zoneEvidence?: string;
    readonly hostnames?: readonly string[];
    readonly humanImpact?: Attributed;
    readonly missionImpact?: Attributed;
    readonly safetyImpact?: Attributed;
    readonly compromiseIndicators?: readonly {
      id: string;
      observedAt: string;
      prov?: Attributed["prov"];
    }[];
  };
  readonly vantage?: string;
  readonly site?: { readonly name: string; readonly source: string } | null;
  readonly advisory?: { readonly id: string; readonly source: string | null };
  readonly intel?: {
    readonly kev?: readonly { file: string; sha256: string; catalogVersion: string }[];
    readonly epss?: readonly { file: string; sha256: string; scoreDate: string }[];
  };
}

function provText(prov: Attributed["prov"] | undefined): string {
  if (prov === undefined) return "unknown source";
  return [prov.source, prov.ref].filter((x) => x !== undefined && x !== "").join(" ");
}

function valueText(value: unknown): string {
  if (value === null || value === undefined) return "-";
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.length === 0) return "none";
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value.join(", ");
  return JSON.stringify(value);
}

function inputsText(inputs: Readonly<Record<string, unknown>>): string {
  return Object.entries(inputs)
    .map(([key, value]) => `${key}=${valueText(value)}`)
    .join("; ");
}

function reasonFor(
  reasons: readonly Reason[],
  rule: string,
  vulnerability?: string,
): Reason | undefined {
  return reasons.find(
    (r) =>
      r.rule === rule && (vulnerability === undefined || r.inputs.vulnerability === vulnerability),
  );
}

function cite(reason: Reason | undefined): string {
  return reason === undefined ? "" : `  [${reason.id} ${reason.rule}]`;
}

function actionLine(action: Action): string[] {
  const head = `  ${String(action.seq).padStart(2)}. ${action.kind.padEnd(20)} due ${action.due ?? "-"}`;
  const lines = [head];
  if (action.gate.length > 0) lines.push(`        gated on: ${action.gate.join(", ")}`);
  for (const [key, value] of Object.entries(action.detail)) {
    if (key === "deny" && Array.isArray(value)) {
      const rules = (value as { proto: string; port: number; direction: string }[]).map(
        (b) => `${b.proto}/${b.port} ${b.direction}`,
      );
      lines.push(`        deny: ${rules.join(", ")}`);
      continue;
    }
    lines.push(`        ${key}: ${valueText(value)}`);
  }
  lines.push(`        because: ${action.because.join(", ") || "-"}`);
  return lines;
}

function renderExplanation(record: AssessmentRecord): string {
  const a = JSON.parse(record.assessmentJson) as Assessment;
  const inputs: StoredInputs =
    record.inputsJson === null ? {} : (JSON.parse(record.inputsJson) as StoredInputs);
  const s = a.subject;
  const lines: string[] = [];
  const asset = inputs.asset;
  const zoneProv =
    asset?.zone === undefined
      ? ""
      : ` (${provText(asset.zone.prov)}; evidence ${asset.zoneEvidence ?? "?"})`;

  lines.push(
    `Finding ${record.findingId}: ${s.advisory} (${s.advisoryKind}) on ${s.address} ${serviceOf(s)}`,
  );
  lines.push(
    `  check ${s.checkId} said ${s.verdict}; first seen ${s.firstSeen}, last seen ${s.observedAt}; finding now ${record.status}`,
  );
  const names = asset?.hostnames !== undefined && asset.hostnames.length > 0;
  lines.push(
    `  asset ${s.assetId}${names ? ` (${asset.hostnames!.join(", ")})` : ""}, zone ${a.exposure.zone}${zoneProv}` +
      (inputs.vantage === undefined ? "" : `; scans taken from zone ${inputs.vantage}`),
  );
  lines.push(
    `Assessed as of ${a.asOf} (recorded ${record.createdAt}) under policy ${a.policy.id}@${a.policy.version}, sha256 ${a.policy.sha256}`,
  );
  if (inputs.site !== undefined && inputs.site !== null) {
    lines.push(`  site file ${inputs.site.source} (${inputs.site.name})`);
  }
  for (const kev of inputs.intel?.kev ?? []) {
    lines.push(`  KEV ${kev.file} (catalog ${kev.catalogVersion}, sha256 ${kev.sha256})`);
  }
  for (const epss of inputs.intel?.epss ?? []) {
    lines.push(`  EPSS ${epss.file} (scores of ${epss.scoreDate}, sha256 ${epss.sha256})`);
  }
  if (!a.applicable) {
    lines.push(
      "",
      "Not applicable: the check found the asset not vulnerable; no decision, no action.",
    );
  }

  // Rating.
  const ratingReason = a.reasons.find(
    (r) =>
      r.rule === a.rating.rule &&
      (a.rating.vulnerability === undefined || r.inputs.vulnerability === a.rating.vulnerability),
  );
  lines.push(
    "",
    `Rating: ${a.rating.level.toUpperCase()} by rule ${a.rating.rule}${a.rating.vulnerability === undefined ? "" : ` (${a.rating.vulnerability})`}${cite(ratingReason)}`,
  );
  if (ratingReason !== undefined) lines.push(`  ${ratingReason.text}`);
  lines.push(`  method: ${a.rating.method}`);

  // Decision and the inputs that drove it.
  const decision = decisionOf(a);
  lines.push("");
  if (a.ssvc !== undefined) {
    const v = a.ssvc.vulnerability;
    const raised = a.ssvc.outcome !== a.ssvc.rawOutcome;
    const raisers = a.reasons
      .filter((r) => ["D-FLOOR", "D-EPSS", "D-COMP"].includes(r.rule))
      .filter((r) => r.inputs.vulnerability === undefined || r.inputs.vulnerability === v);
    lines.push(
      `Decision: ${a.ssvc.outcome.toUpperCase()} (SSVC deployer decision; ${a.ssvc.table} gives ${a.ssvc.rawOutcome} for ${v}${raised ? `, raised by ${raisers.map((r) => r.rule).join(", ")}` : ""})`,
    );
    for (const r of raisers) lines.push(`  ${r.rule}: ${r.text}  [${r.id}]`);
    lines.push("  Inputs that drove it:");
    const expl = reasonFor(a.reasons, "D-EXPL", v);
    const expo = reasonFor(a.reasons, "D-EXPO");
    const auto = reasonFor(a.reasons, "D-AUTO", v);
    const hi = reasonFor(a.reasons, "D-HI");
    const ti = reasonFor(a.reasons, "D-TI", v);
    const row = (name: string, value: string, text: string, reason: Reason | undefined) =>
      `    ${name.padEnd(17)}${value.padEnd(11)}${text}${cite(reason)}`;
    lines.push(row("exploitation", a.ssvc.exploitation, expl?.text ?? "", expl));
    lines.push(
      row(
        "exposure",
        a.ssvc.exposure,
        `${expo?.text ?? ""}; zone ${a.exposure.zone} from ${asset?.zone === undefined ? "?" : provText(asset.zone.prov)}${a.exposure.publiclyExposed ? "; publicly exposed" : ""}`,
        expo,
      ),
    );
    lines.push(row("automatable", a.ssvc.automatable, auto?.text ?? "", auto));
    const hiProv = [asset?.humanImpact, asset?.safetyImpact, asset?.missionImpact]
      .filter((x): x is Attributed => x !== undefined)
      .map((x) => `${valueText(x.value)} from ${provText(x.prov)}`);
    lines.push(
      row(
        "human impact",
        a.ssvc.humanImpact,
        `${hi?.text ?? ""}${hiProv.length > 0 ? ` (${hiProv.join("; ")})` : " (policy defaults)"}`,
        hi,
      ),
    );
    lines.push(row("technical impact", a.ssvc.technicalImpact, ti?.text ?? "", ti));
  } else if (decision !== undefined) {
    const comp = reasonFor(a.reasons, "D-COMP");
    lines.push(`Decision: ${decision.toUpperCase()}${cite(comp)}`);
    if (comp !== undefined) lines.push(`  ${comp.text}`);
    lines.push("  No SSVC inputs: the finding is evidence of compromise, not a flaw to rate.");
  } else {
    lines.push("Decision: none");
  }
  for (const indicator of asset?.compromiseIndicators ?? []) {
    const seen = indicator.prov?.observedAt;
    lines.push(
      `  compromise indicator ${indicator.id}, counted from ${indicator.observedAt}${seen !== undefined && seen !== indicator.observedAt ? ` (observed ${seen}; a replay counts it from asOf)` : ""}: ${provText(indicator.prov)}`,
    );
  }
  const views: string[] = [];
  if (a.views.cisaCoordinator !== undefined) {
    views.push(`CISA Coordinator ${a.views.cisaCoordinator.level}`);
  }
  if (a.views.bod2604 !== undefined) {
    views.push(`BOD 26-04 ${a.views.bod2604.code} (${a.views.bod2604.timeline})`);
  }
  if (views.length > 0) lines.push(`  For comparison only: ${views.join("; ")}`);

  // Clocks.
  lines.push("", "Clocks:");
  const clock = (name: string, at: string | undefined, text: string | undefined) => {
    const why = at === undefined ? (text ?? "no deadline") : (text ?? "");
    lines.push(`  ${name.padEnd(11)}${(at ?? "-").padEnd(26)}${why}`.trimEnd());
  };
  // The fix clock's reason is the last rule that set it (the KEV due date and BOD 26-04 3DF
  // only ever bring it closer).
  const fixReason = ["D-KEV-DUE", "D-CLOCK-3DF", "D-CLOCK-FIX"]
    .map((rule) => reasonFor(a.reasons, rule))
    .find((r) => r !== undefined);
  clock("protect by", a.clocks.protectBy, reasonFor(a.reasons, "D-CLOCK-PROTECT")?.text);
  clock("fix by", a.clocks.fixBy, fixReason?.text);
  clock(
    "verify by",
    a.clocks.verifyBy,
    a.clocks.verifyBy === undefined ? undefined : "the fix verified by a rescan with the check",
  );
  if (a.clocks.forensicTriage !== undefined) {
    const f = a.clocks.forensicTriage;
    lines.push(
      `  forensic triage: scope by ${f.scopeBy}, volatile evidence by ${f.evidenceBy}, decision by ${f.decisionBy}`,
    );
  }
  lines.push(
    `  overdue at as-of: ${a.clocks.overdue.length === 0 ? "none" : a.clocks.overdue.join(", ")}`,
  );

  // Plan.
  lines.push("", "Action plan, in order:");
  if (a.actions.length === 0) lines.push("  none");
  for (const action of a.actions) lines.push(...actionLine(action));

  // Reasons.
  lines.push("", "Reasons:");
  for (const r of a.reasons) {
    lines.push(`  ${r.id.padEnd(4)} ${r.rule}: ${r.text}`);
    lines.push(`        inputs: ${inputsText(r.inputs)}`);
    lines.push(`        gives: ${valueText(r.output)}`);
  }

  lines.push("", "Assumptions:");
  if (a.assumptions.length === 0) lines.push("  none");
  for (const assumption of a.assumptions) lines.push(`  - ${assumption}`);
  return lines.join("\n") + "\n";
}

function parseFindingId(text: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new RingfenceError("RINGFENCE_USAGE", `"${text}" is not a finding id`, {
      hint: "finding ids are the numbers `ringfence findings` lists",
    });
  }
  return Number(text);
}

// --- registration -----------------------------------------------------------------------------

function zoneArg(text: string): Zone {
  const zone = ZONES.find((z) => z === text);
  if (zone === undefined) {
    throw new InvalidArgumentError(`"${text}" is not a zone (${ZONES.join(", ")})`);
  }
  return zone;
}

export function registerRiskCommands(program: Command): void {
  program
    .command("assess")
    .description(
      "rate every open finding, decide (SSVC), set the protect-by and fix-by clocks and plan the actions; store the assessments",
    )
    .option("--as-of <date>", "assess as of this ISO date or date-time (default: now)")
    .option("--site <file>", "site file: zones by address range or tag, asset context (YAML)")
    .option("--policy <file>", "risk policy (YAML); default: the built-in ringfence-default@1")
    .option("--kev <file>", "CISA KEV catalog JSON (repeatable)", collect, [])
    .option("--epss <file>", "FIRST EPSS scores CSV, .gz allowed (repeatable)", collect, [])
    .option("--advisories <dir>", "extra advisory directory (repeatable)", collect, [])
    .addOption(
      new Option(
        "--vantage <zone>",
        "the zone the scans were run from: internal (inside the network) or internet (an external scan)",
      )
        .argParser(zoneArg)
        .default(DEFAULT_VANTAGE),
    )
    .option("--json", "print the assessments as JSON")
    .addOption(dbOption())
    .action(async (options: AssessCliOptions) => {
      const result = await runAssessJob({
        db: options.db,
        ...(options.asOf === undefined ? {} : { asOf: options.asOf }),
        ...(options.site === undefined ? {} : { site: options.site }),
        ...(options.policy === undefined ? {} : { policy: options.policy }),
        kev: options.kev,
        epss: options.epss,
        advisoryDirs: options.advisories,
        vantage: options.vantage,
      });
      for (const { finding, reason } of result.skipped) {
        process.stderr.write(
          `ringfence: finding ${finding.id} (${finding.advisory} on ${finding.address} ${serviceOf(finding)}) not assessed: ${reason}\n`,
        );
      }
      if (options.json) {
        out(
          JSON.stringify(
            result.assessed.map((x) => x.assessment),
            null,
            2,
          ),
        );
        return;
      }
      out(renderAssessTable(result));
    });

  program
    .command("findings")
    .description(
      "list findings with their latest assessment: rating (very-high first), then protect-by, then address",
    )
    .option("--advisory <id>", "only this advisory")
    .addOption(
      new Option("--rating <level>", "only this rating").choices([...RATING_LEVELS].reverse()),
    )
    .addOption(new Option("--zone <zone>", "only assets in this zone").choices([...ZONES]))
    .addOption(
      new Option("--status <status>", "finding status")
        .choices(["open", "closed", "all"])
        .default("open"),
    )
    .option("--overdue", "only findings with a clock (protect, fix, verify) already past")
    .option("--address <address>", "only this asset")
    .option("--limit <n>", "at most this many rows", parseCount(1, 10_000_000))
    .option("--json", "print JSON")
    .addOption(dbOption())
    .action((options: FindingsCliOptions) =>
      withStore(options.db, async (store) => {
        const now = new Date().toISOString();
        const rows = await listFindingRows(store, options, now);
        out(options.json ? findingsJson(rows, now) : renderFindingsTable(rows, now));
      }),
    );

  program
    .command("explain")
    .description(
      "explain a finding's latest assessment: rating, decision and its inputs, clocks, plan, reasons",
    )
    .argument("<finding-id>", "the finding's id (see `ringfence findings`)")
    .option("--json", "print the stored assessment (canonical JSON)")
    .addOption(dbOption())
    .action((id: string, options: { db: string; json?: boolean }) => {
      const findingId = parseFindingId(id);
      return withStore(options.db, async (store) => {
        const record = await store.assessmentOf(findingId);
        if (record === undefined) {
          const exists = (await store.listFindings({ id: findingId })).length > 0;
          throw new RingfenceError(
            "RINGFENCE_USAGE",
            exists
              ? `finding ${findingId} has not been assessed yet in ${store.location}`
              : `no finding ${findingId} in ${store.location}`,
            { hint: exists ? "run `ringfence assess`" : "`ringfence findings` lists them" },
          );
        }
        out(options.json ? record.assessmentJson : renderExplanation(record));
      });
    });
}
