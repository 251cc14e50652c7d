import type {
  CheckRunRow,
  FindingStateRow,
  Store,
  TransitionRecord,
  WorkflowState,
} from "../store/index.js";
import { isRingfenceError } from "../errors.js";
import { decideAndRecord } from "./apply-transition.js";
import { sameAddress } from "./evidence-rules.js";

/** What the evaluation did with one finding. */
export type EvaluationOutcome =
  | {
      readonly kind: "transition";
      readonly finding: FindingStateRow;
      readonly record: TransitionRecord;
    }
  | { readonly kind: "unchanged"; readonly finding: FindingStateRow; readonly reason: string };

/** States a VULNERABLE rescan reopens: every state past detected (issue 7), but see below. */
const REOPENABLE: readonly WorkflowState[] = [
  "quarantined",
  "shielded",
  "patched",
  "verified",
  "closed",
];

/** The latest recorded run of the finding's detecting check on its service, if any. */
function latestRun(runs: readonly CheckRunRow[], row: FindingStateRow): CheckRunRow | undefined {
  let latest: CheckRunRow | undefined;
  for (const run of runs) {
    if (run.checkId !== row.checkId || run.port !== row.port || run.protocol !== row.protocol)
      continue;
    if (!sameAddress(run.address, row.address)) continue;
    // Recording order is listCheckRuns' order: the last one wins.
    latest = run;
  }
  return latest;
}

/**
 * Applies exactly the transitions the stored evidence supports, as of `at`: expired risk
 * acceptances return to their previous state; a detecting-check run newer than the finding's
 * state verifies a patched or shielded finding when it says NOT_VULNERABLE, reopens a finding
 * past detected when it says VULNERABLE; anything else (UNKNOWN, NOT_APPLICABLE, no run) changes
 * nothing. Every change goes through decideTransition, the same rules an operator faces.
 */
export async function evaluateFindings(
  store: Store,
  options: { at?: string; actor?: string; findingIds?: readonly number[] } = {},
): Promise<EvaluationOutcome[]> {
  const at = options.at ?? new Date().toISOString();
  const actor = options.actor ?? "ringfence verify";
  const wanted = options.findingIds === undefined ? undefined : new Set(options.findingIds);
  const rows = (await store.findingStates()).filter(
    (row) => wanted === undefined || wanted.has(row.findingId),
  );
  const runsByAddress = new Map<string, CheckRunRow[]>();
  const outcomes: EvaluationOutcome[] = [];
  for (let row of rows) {
    if (
      row.state === "risk-accepted" &&
      row.acceptedUntil !== null &&
      Date.parse(row.acceptedUntil) <= Date.parse(at)
    ) {
      const back = row.previousState ?? "detected";
      const record = await decideAndRecord(
        store,
        row,
        back,
        { kind: "expiry", ref: "expiry", acceptedUntil: row.acceptedUntil },
        at,
        actor,
      );
      outcomes.push({ kind: "transition", finding: row, record });
      row = { ...row, state: back, since: at, previousState: null, acceptedUntil: null };
    }
    const key = `${row.address}\u0000${row.checkId}`;
    let runs = runsByAddress.get(key);
    if (runs === undefined) {
      runs = await store.listCheckRuns({ address: row.address, checkId: row.checkId });
      runsByAddress.set(key, runs);
    }
    const run = latestRun(runs, row);
    if (run === undefined || !(Date.parse(run.startedAt) > Date.parse(row.since))) {
      outcomes.push({
        kind: "unchanged",
        finding: row,
        reason: "no check run since its last change",
      });
      continue;
    }
    let to: WorkflowState | null = null;
    if (run.verdict === "VULNERABLE" && REOPENABLE.includes(row.state)) to = "reopened";
    else if (
      run.verdict === "NOT_VULNERABLE" &&
      (row.state === "patched" || row.state === "shielded")
    )
      to = "verified";
    if (to === null) {
      outcomes.push({
        kind: "unchanged",
        finding: row,
        reason: `check run ${run.id} returned ${run.verdict}; nothing follows for a ${row.state} finding`,
      });
      continue;
    }
    try {
      const record = await decideAndRecord(
        store,
        row,
        to,
        { kind: "check-run", ref: `check-run:${run.id}`, checkRunId: run.id },
        // The decision needs the run finished by the transition's instant.
        Date.parse(run.finishedAt) > Date.parse(at) ? run.finishedAt : at,
        actor,
      );
      outcomes.push({ kind: "transition", finding: row, record });
    } catch (error) {
      // Refused by the rules, or changed by someone else meanwhile: this finding stays as it is
      // and the others are still evaluated.
      if (
        !isRingfenceError(error) ||
        (error.code !== "RINGFENCE_TRANSITION_REFUSED" &&
          error.code !== "RINGFENCE_TRANSITION_CONFLICT")
      )
        throw error;
      outcomes.push({ kind: "unchanged", finding: row, reason: error.message });
    }
  }
  return outcomes;
}
