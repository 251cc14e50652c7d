import type { AssessmentRating, Store, WorkflowState } from "../store/index.js";
import { ASSESSMENT_RATINGS, WORKFLOW_STATES } from "../store/index.js";

/** The clocks of an assessment (src/risk): protect, fix, verify. */
export type Clock = "protectBy" | "fixBy" | "verifyBy";

/**
 * Which states meet each clock. Protecting means disconnecting or shielding (or more); fixing
 * means patched or beyond; verifying means a rescan confirmed it. A risk acceptance suspends all
 * three until it expires (then the finding's own state counts again).
 */
const MEETS: Readonly<Record<Clock, readonly WorkflowState[]>> = {
  protectBy: ["quarantined", "shielded", "patched", "verified", "closed", "risk-accepted"],
  fixBy: ["patched", "verified", "closed", "risk-accepted"],
  verifyBy: ["verified", "closed", "risk-accepted"],
};

export type RatingOrUnrated = AssessmentRating | "unrated";

export interface DeadlineItem {
  readonly findingId: number;
  readonly address: string;
  readonly protocol: string;
  readonly port: number;
  readonly advisory: string;
  readonly state: WorkflowState;
  readonly rating: RatingOrUnrated;
  readonly clock: Clock;
  readonly due: string;
}

export interface WorkflowStatus {
  readonly asOf: string;
  readonly total: number;
  /** Every state × every rating (zeros included), so a reader never guesses a missing key. */
  readonly counts: Record<WorkflowState, Record<RatingOrUnrated, number>>;
  /** Clocks already past at asOf that the finding's state does not meet, most overdue first. */
  readonly overdue: readonly DeadlineItem[];
  /** Unmet clocks still ahead, soonest first (at most `nextLimit`). */
  readonly next: readonly DeadlineItem[];
}

const RATINGS: readonly RatingOrUnrated[] = [...ASSESSMENT_RATINGS, "unrated"];

/**
 * The estate at a glance as of `asOf` (the caller's clock: status never reads the wall clock), from
 * each finding's workflow state and its latest assessment's clocks.
 */
export async function workflowStatus(
  store: Store,
  options: { asOf: string; nextLimit?: number },
): Promise<WorkflowStatus> {
  const asOf = Date.parse(options.asOf);
  const rows = await store.findingStates();
  const assessments = new Map(
    (await store.latestAssessments()).map((a) => [a.findingId, a] as const),
  );
  const counts = Object.fromEntries(
    WORKFLOW_STATES.map((s) => [s, Object.fromEntries(RATINGS.map((r) => [r, 0]))]),
  ) as Record<WorkflowState, Record<RatingOrUnrated, number>>;
  const overdue: DeadlineItem[] = [];
  const upcoming: DeadlineItem[] = [];
  for (const row of rows) {
    const assessment = assessments.get(row.findingId);
    const rating: RatingOrUnrated = assessment?.rating ?? "unrated";
    counts[row.state][rating] += 1;
    if (assessment === undefined) continue;
    // An acceptance that has run out no longer meets anything (evaluation will move it back).
    const state =
      row.state === "risk-accepted" &&
      row.acceptedUntil !== null &&
      Date.parse(row.acceptedUntil) <= asOf
        ? (row.previousState ?? "detected")
        : row.state;
    const clocks: [Clock, string | null][] = [
      ["protectBy", assessment.protectBy],
      ["fixBy", assessment.fixBy],
      ["verifyBy", assessment.verifyBy],
    ];
    for (const [clock, due] of clocks) {
      if (due === null || MEETS[clock].includes(state)) continue;
      const item: DeadlineItem = {
        findingId: row.findingId,
        address: row.address,
        protocol: row.protocol,
        port: row.port,
        advisory: row.advisory,
        state: row.state,
        rating,
        clock,
        due,
      };
      (Date.parse(due) < asOf ? overdue : upcoming).push(item);
    }
  }
  const byDue = (a: DeadlineItem, b: DeadlineItem) =>
    Date.parse(a.due) - Date.parse(b.due) || a.findingId - b.findingId;
  overdue.sort(byDue);
  upcoming.sort(byDue);
  return {
    asOf: new Date(asOf).toISOString(),
    total: rows.length,
    counts,
    overdue,
    next: upcoming.slice(0, options.nextLimit ?? 10),
  };
}
