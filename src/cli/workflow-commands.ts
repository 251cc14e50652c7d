/**
 * The remediation workflow on the command line: `ringfence status`, `ringfence finding <selector>
 * <action>`, `ringfence audit verify|export` and `ringfence verify` (src/workflow, src/audit,
 * src/jobs/verify-job.ts).
 */
import { writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import Table from "cli-table3";
import { Command, Option } from "commander";
import { AUDIT_EXPORT_FORMATS, auditJsonl, verifyAuditChain } from "../audit/index.js";
import { RingfenceError } from "../errors.js";
import { runVerify } from "../jobs/verify-job.js";
import {
  WORKFLOW_STATES,
  type FindingStateRow,
  type Store,
  type TransitionRecord,
  type WorkflowState,
  withStore,
} from "../store/index.js";
import {
  ALLOWED_FROM,
  applyTransitions,
  findingState,
  normaliseInstant,
  sameAddress,
  workflowStatus,
  type WorkflowStatus,
} from "../workflow/index.js";
import { dbOption, parseCount, parseDuration } from "./main.js";

const out = (text: string): void => {
  process.stdout.write(text.endsWith("\n") ? text : text + "\n");
};

function defaultActor(): string {
  let name = process.env["USER"] ?? "";
  try {
    name = userInfo().username;
  } catch {
    // No passwd entry (containers): the environment's name, if any.
  }
  return `operator:${name === "" ? "unknown" : name}`;
}

// --- status -------------------------------------------------------------------------------------

function formatStatus(status: WorkflowStatus): string {
  const ratings = ["very-high", "high", "moderate", "low", "unrated"] as const;
  const table = new Table({
    head: ["state", ...ratings, "total"],
    style: { head: [], border: [], compact: true },
  });
  for (const state of WORKFLOW_STATES) {
    const row = status.counts[state];
    const total = ratings.reduce((sum, r) => sum + row[r], 0);
    table.push([state, ...ratings.map((r) => String(row[r])), String(total)]);
  }
  const lines = [
    `estate as of ${status.asOf}: ${status.total} finding(s) in the workflow`,
    table.toString(),
  ];
  const item = (d: WorkflowStatus["overdue"][number]) =>
    `  finding ${d.findingId}  ${d.address} ${d.protocol}/${d.port} ${d.advisory}  ${d.state}, ${d.rating}  ${d.clock} ${d.due}`;
  lines.push(
    status.overdue.length === 0
      ? "overdue: none"
      : `OVERDUE (${status.overdue.length}):\n${status.overdue.map(item).join("\n")}`,
  );
  lines.push(
    status.next.length === 0
      ? "next deadlines: none"
      : `next deadlines:\n${status.next.map(item).join("\n")}`,
  );
  return lines.join("\n");
}

// --- finding ------------------------------------------------------------------------------------

const ACTIONS = [
  "show",
  "quarantine",
  "shield",
  "patch",
  "reconnect",
  "close",
  "accept-risk",
  "reopen",
] as const;
type Action = (typeof ACTIONS)[number];

const TARGET_STATE: Record<Exclude<Action, "show">, WorkflowState> = {
  quarantine: "quarantined",
  shield: "shielded",
  patch: "patched",
  reconnect: "closed",
  close: "closed",
  "accept-risk": "risk-accepted",
  reopen: "reopened",
};

interface FindingCliOptions {
  db: string;
  attest?: string;
  source: "operator" | "patch-system";
  control?: string;
  approver?: string;
  expires?: string;
  reason?: string;
  actor?: string;
  at?: string;
  json?: boolean;
}

/** "alice: unplugged switch port 12" → by alice; without "who:" the actor is who attests. */
function attestation(text: string, actor: string): { by: string; statement: string } {
  const match = /^([^:]{1,200}):\s*(.+)$/s.exec(text.trim());
  if (match !== null) return { by: match[1]!.trim(), statement: match[2]!.trim() };
  return { by: actor, statement: text.trim() };
}

function need(value: string | undefined, option: string, action: Action): string {
  if (value === undefined || value.trim() === "")
    throw new RingfenceError("RINGFENCE_USAGE", `finding … ${action} needs ${option}`, {
      hint: "see `ringfence finding --help`",
    });
  return value;
}

function evidenceFor(
  action: Exclude<Action, "show">,
  o: FindingCliOptions,
  actor: string,
): unknown {
  switch (action) {
    case "quarantine":
    case "shield":
      if (o.control !== undefined && o.attest !== undefined)
        throw new RingfenceError(
          "RINGFENCE_USAGE",
          `${action}: give --control or --attest, not both`,
        );
      if (o.control !== undefined) return { kind: "control", controlId: o.control };
      return {
        kind: "attestation",
        source: "operator",
        ...attestation(need(o.attest, "--control <id> or --attest <who: what>", action), actor),
      };
    case "patch":
      return {
        kind: "attestation",
        source: o.source,
        ...attestation(need(o.attest, "--attest <who: what>", action), actor),
      };
    case "reconnect":
      return {
        kind: "reconnect",
        ...attestation(need(o.attest, "--attest <who: what>", action), actor),
      };
    case "close":
      return {
        kind: "attestation",
        source: "operator",
        ...attestation(need(o.attest, "--attest <who: what>", action), actor),
      };
    case "accept-risk":
      return {
        kind: "risk-acceptance",
        approver: need(o.approver, "--approver", action),
        reason: need(o.reason, "--reason", action),
        expires: need(o.expires, "--expires", action),
      };
    case "reopen":
      return {
        kind: "attestation",
        source: "operator",
        ...attestation(need(o.attest ?? o.reason, "--attest <who: why>", action), actor),
      };
  }
}

/**
 * `12` (a finding id), `127.20.0.5` (every workflow finding of the host), `127.20.0.5/ms03-026`
 * (one advisory on the host).
 */
async function selectFindings(store: Store, selector: string): Promise<FindingStateRow[]> {
  if (/^\d+$/.test(selector)) {
    const row = await findingState(store, Number(selector));
    if (row === undefined)
      throw new RingfenceError("RINGFENCE_USAGE", `no finding ${selector} in ${store.location}`, {
        hint: "`ringfence status` or `ringfence findings` lists them",
      });
    return [row];
  }
  const slash = selector.indexOf("/");
  const address = slash < 0 ? selector : selector.slice(0, slash);
  const advisory = slash < 0 ? undefined : selector.slice(slash + 1).toLowerCase();
  const rows = (await store.findingStates()).filter(
    (row) =>
      sameAddress(row.address, address) &&
      (advisory === undefined || row.advisory.toLowerCase() === advisory),
  );
  if (rows.length === 0)
    throw new RingfenceError("RINGFENCE_USAGE", `no finding in the workflow matches ${selector}`, {
      hint: "a selector is a finding id, an address, or address/advisory",
    });
  return rows;
}

function formatRow(row: FindingStateRow): string {
  const extra = [
    row.disconnected ? "disconnected" : "",
    row.acceptedUntil !== null ? `accepted until ${row.acceptedUntil}` : "",
  ].filter((s) => s !== "");
  return `finding ${row.findingId}  ${row.address} ${row.protocol}/${row.port} ${row.advisory} (${row.checkId})  ${row.state} since ${row.since}${extra.length > 0 ? ` (${extra.join(", ")})` : ""}`;
}

async function findingCommand(
  selector: string,
  action: Action,
  o: FindingCliOptions,
): Promise<void> {
  await withStore(o.db, async (store) => {
    const rows = await selectFindings(store, selector);
    if (action === "show") {
      const history = await Promise.all(
        rows.map((row) => store.listTransitions({ findingId: row.findingId })),
      );
      if (o.json) {
        out(
          JSON.stringify(
            rows.map((row, i) => ({ ...row, transitions: history[i] })),
            null,
            2,
          ),
        );
        return;
      }
      rows.forEach((row, i) => {
        out(formatRow(row));
        for (const t of history[i] ?? [])
          out(`  ${t.at}  ${t.from} → ${t.to}  by ${t.actor}  (${describeEvidence(t.evidence)})`);
      });
      return;
    }
    const to = TARGET_STATE[action];
    const actor = o.actor ?? defaultActor();
    // A host selector applies the step to those of its findings where it can apply; an id names
    // exactly one finding, which is refused if the step does not fit it.
    const eligible =
      rows.length === 1 ? rows : rows.filter((row) => ALLOWED_FROM[to].includes(row.state));
    if (eligible.length === 0)
      throw new RingfenceError(
        "RINGFENCE_TRANSITION_REFUSED",
        `no finding matching ${selector} can become ${to} (they are ${[...new Set(rows.map((r) => r.state))].join(", ")}; ${to} only from ${ALLOWED_FROM[to].join(", ")})`,
      );
    const records = await applyTransitions(store, {
      findingIds: eligible.map((row) => row.findingId),
      to,
      actor,
      evidence: evidenceFor(action, o, actor),
      ...(o.at !== undefined ? { at: normaliseInstant(o.at) } : {}),
    });
    if (o.json) out(JSON.stringify(records, null, 2));
    else for (const r of records) out(formatTransition(r, eligible));
  });
}

function describeEvidence(evidence: unknown): string {
  if (typeof evidence !== "object" || evidence === null) return "no evidence";
  const e = evidence as Record<string, unknown>;
  switch (e["kind"]) {
    case "attestation":
      return `attestation by ${String(e["by"])} (${String(e["source"])}): ${String(e["statement"])}`;
    case "reconnect":
      return `reconnect recorded by ${String(e["by"])}: ${String(e["statement"])}`;
    case "control":
      return `verified control ${String(e["controlId"])}`;
    case "check-run":
      return `check run ${String(e["checkRunId"])}`;
    case "risk-acceptance":
      return `risk accepted by ${String(e["approver"])} until ${String(e["expires"])}: ${String(e["reason"])}`;
    case "expiry":
      return `risk acceptance expired ${String(e["acceptedUntil"])}`;
    default:
      return String(e["kind"]);
  }
}

function formatTransition(r: TransitionRecord, rows: readonly FindingStateRow[]): string {
  const row = rows.find((x) => x.findingId === r.findingId);
  const what =
    row === undefined ? "" : ` ${row.address} ${row.protocol}/${row.port} ${row.advisory}`;
  return `finding ${r.findingId}${what}: ${r.from} → ${r.to} (${describeEvidence(r.evidence)}; audit entry ${r.auditSeq})`;
}

// --- registration -------------------------------------------------------------------------------

export function registerWorkflowCommands(program: Command): void {
  program
    .command("status")
    .description(
      "the estate at a glance: findings per workflow state and rating, overdue protect-by/fix-by/verify-by clocks, the next deadlines",
    )
    .option("--as-of <instant>", "the clock to judge deadlines by (ISO 8601; default now)")
    .option("--next <n>", "how many upcoming deadlines to list", parseCount(0, 10_000), 10)
    .option("--json", "print JSON")
    .option("--fail-on-overdue", "exit with status 1 when anything is overdue")
    .addOption(dbOption())
    .action(
      async (o: {
        asOf?: string;
        next: number;
        json?: boolean;
        failOnOverdue?: boolean;
        db: string;
      }) => {
        const asOf = o.asOf === undefined ? new Date().toISOString() : normaliseInstant(o.asOf);
        const status = await withStore(o.db, (store) =>
          workflowStatus(store, { asOf, nextLimit: o.next }),
        );
        out(o.json ? JSON.stringify(status, null, 2) : formatStatus(status));
        if (o.failOnOverdue && status.overdue.length > 0) process.exitCode = 1;
      },
    );

  program
    .command("finding")
    .description("show a finding's workflow state and history, or move it one evidence-gated step")
    .argument("<selector>", "a finding id, a host address (its findings), or address/advisory")
    .addArgument(
      new Command().createArgument("[action]", "what to record").choices(ACTIONS).default("show"),
    )
    .option(
      "--attest <who: what>",
      "an attestation: who vouches, and for what (quarantine, shield, patch, reconnect, close, reopen)",
    )
    .addOption(
      new Option("--source <source>", "who attests a patch")
        .choices(["operator", "patch-system"])
        .default("operator"),
    )
    .option(
      "--control <id>",
      "a verified control (ringfence verify-shield) as evidence (quarantine, shield)",
    )
    .option("--approver <name>", "accept-risk: who approves")
    .option("--expires <instant>", "accept-risk: when the acceptance ends (ISO 8601)")
    .option("--reason <text>", "accept-risk: why; reopen: why")
    .option("--actor <name>", "who records this (default operator:<login>)")
    .option("--at <instant>", "when it happened (ISO 8601; default now)")
    .option("--json", "print JSON")
    .addOption(dbOption())
    .addHelpText(
      "after",
      `
Actions and their evidence:
  show                                   state and transition history (default)
  quarantine  --attest "<who: what>" | --control <id>     detected/reopened → quarantined
  shield      --attest "<who: what>" | --control <id>     → shielded
  patch       --attest "<who: what>" [--source patch-system]  → patched
  reconnect   --attest "<who: what>"     verified → closed, for a host that was quarantined
  close       --attest "<who: what>"     verified → closed, for a host never disconnected
  accept-risk --approver <name> --expires <instant> --reason <text>
  reopen      --attest "<who: why>"
verified is reached only by a rescan: \`ringfence verify\`.

Examples:
  ringfence finding 127.20.0.5 quarantine --attest "alice: switch port 12 disabled"
  ringfence finding 7 patch --attest "wsus: KB824146 installed" --source patch-system
  ringfence finding 127.20.0.5/ms03-026 accept-risk --approver ciso --expires 2026-12-31T00:00:00Z --reason "legacy HMI"`,
    )
    .action(findingCommand);

  const audit = program
    .command("audit")
    .description("the tamper-evident audit trail of transitions, assessments and controls");
  audit
    .command("verify")
    .description("check the hash chain; exit 0 when intact, 1 naming the first broken entry")
    .option("--json", "print JSON")
    .addOption(dbOption())
    .action(async (o: { json?: boolean; db: string }) => {
      const result = await withStore(o.db, async (store) =>
        verifyAuditChain(await store.listAuditEntries()),
      );
      if (o.json) out(JSON.stringify(result));
      else if (result.ok) out(`audit trail intact: ${result.entries} entries, head ${result.head}`);
      else process.stderr.write(`ringfence: audit trail broken: ${result.message}\n`);
      if (!result.ok) process.exitCode = 1;
    });
  audit
    .command("export")
    .description("write the audit trail, one JSON object per entry with its hashes")
    .addOption(
      new Option("--format <format>", "output format")
        .choices(AUDIT_EXPORT_FORMATS)
        .default("jsonl"),
    )
    .option("--out <file>", "write to a file instead of stdout")
    .option("--since <instant>", "entries at or after this instant")
    .option("--subject <subject>", "entries about this subject (e.g. finding:12)")
    .option("--kind <kind>", "entries of this kind (transition, assessment, control, ...)")
    .addOption(dbOption())
    .action(
      async (o: {
        format: string;
        out?: string;
        since?: string;
        subject?: string;
        kind?: string;
        db: string;
      }) => {
        const entries = await withStore(o.db, (store) =>
          store.listAuditEntries({
            ...(o.since !== undefined ? { since: normaliseInstant(o.since) } : {}),
            ...(o.subject !== undefined ? { subject: o.subject } : {}),
            ...(o.kind !== undefined ? { kind: o.kind } : {}),
          }),
        );
        const text = auditJsonl(entries);
        if (o.out === undefined) process.stdout.write(text);
        else {
          await writeFile(o.out, text);
          process.stderr.write(`wrote ${entries.length} audit entries to ${o.out}\n`);
        }
      },
    );

  program
    .command("verify")
    .description(
      "rescan what is open in the workflow (shielded and patched first), run the detecting checks, and apply exactly the transitions the results support (verified, reopened); UNKNOWN changes nothing",
    )
    .argument(
      "[targets...]",
      "only findings on these addresses, CIDR blocks or a-b ranges (closed ones included: a flaw found again reopens)",
    )
    .option(
      "--checks <list>",
      "checks to run (default: the checks that detected the open findings)",
    )
    .option("--scope <file>", "authorized scope (YAML); default: the built-in lab's range only")
    .addOption(
      new Option("--timeout <duration>", "per-attempt timeout of the port probes")
        .argParser(parseDuration)
        .default(1000, "1s"),
    )
    .option("--retries <n>", "extra attempts after a timeout", parseCount(0, 10), 1)
    .addOption(
      new Option("--check-timeout <duration>", "per-connection deadline of the checks").argParser(
        parseDuration,
      ),
    )
    .option("--no-lab", "do not route lab targets into a running `ringfence lab`")
    .addOption(new Option("--lab-dir <dir>", "lab state directory").env("RINGFENCE_LAB_DIR"))
    .option("--lab-name <name>", "which running lab to route lab targets into", "default")
    .option("--actor <name>", "who the transitions are recorded as", "ringfence verify")
    .option("--json", "print JSON")
    .addOption(dbOption())
    .action(
      async (
        targets: string[],
        o: {
          checks?: string;
          scope?: string;
          timeout: number;
          retries: number;
          checkTimeout?: number;
          lab: boolean;
          labDir?: string;
          labName: string;
          actor: string;
          json?: boolean;
          db: string;
        },
      ) => {
        const controller = new AbortController();
        const onSignal = () => controller.abort();
        process.once("SIGINT", onSignal);
        try {
          const result = await withStore(o.db, (store) =>
            runVerify(
              store,
              {
                targets,
                ...(o.checks !== undefined ? { checks: o.checks } : {}),
                ...(o.scope !== undefined ? { scopeFile: o.scope } : {}),
                useLab: o.lab,
                labName: o.labName,
                ...(o.labDir !== undefined ? { labStateDir: o.labDir } : {}),
                timeoutMs: o.timeout,
                retries: o.retries,
                ...(o.checkTimeout !== undefined
                  ? { checkTimeouts: { connectMs: o.checkTimeout, readMs: o.checkTimeout } }
                  : {}),
                actor: o.actor,
              },
              {},
              controller.signal,
            ),
          );
          if (o.json) {
            out(JSON.stringify(result, null, 2));
            return;
          }
          if (result.scan === null) {
            out("nothing open to verify");
            return;
          }
          out(
            `rescan ${result.scan.id}: ${result.findings.length} open finding(s) on ${new Set(result.findings.map((f) => f.address)).size} host(s)`,
          );
          const changed = result.outcomes.filter((x) => x.kind === "transition");
          for (const x of result.outcomes) {
            if (x.kind === "transition") out(formatTransition(x.record, [x.finding]));
            else out(`${formatRow(x.finding)}: unchanged (${x.reason})`);
          }
          out(`${changed.length} transition(s) applied`);
        } finally {
          process.off("SIGINT", onSignal);
        }
      },
    );
}
