import { RingfenceError } from "../errors.js";
import type {
  CheckRunRow,
  FindingStateRow,
  Store,
  TransitionRecord,
  WorkflowState,
} from "../store/index.js";
import { WORKFLOW_STATES } from "../store/index.js";
import {
  decideTransition,
  sameAddress,
  type CurrentState,
  type Decision,
  type Evidence,
  type FindingIdentity,
} from "./evidence-rules.js";
import { parseEvidence } from "./evidence-schema.js";

export interface TransitionRequest {
  readonly findingId: number;
  readonly to: WorkflowState;
  /** Who asks: "operator:alice", "api:<token name>", "ringfence verify". */
  readonly actor: string;
  /** Unchecked evidence (from the CLI or an API payload); see evidence-schema.ts. */
  readonly evidence: unknown;
  /** ISO instant; default now. */
  readonly at?: string;
}

/** The finding's workflow row, or its implicit "detected" state; undefined when no such finding. */
export async function findingState(
  store: Store,
  findingId: number,
): Promise<FindingStateRow | undefined> {
  const [row] = await store.findingStates({ findingId });
  if (row !== undefined) return row;
  // A finding outside the workflow (never vulnerable) is still addressable: it is "detected".
  const [finding] = await store.listFindings({ id: findingId });
  if (finding === undefined) return undefined;
  return {
    findingId: finding.id,
    address: finding.address,
    protocol: finding.protocol,
    port: finding.port,
    advisory: finding.advisory,
    checkId: finding.checkId,
    verdict: finding.verdict,
    state: "detected",
    since: finding.firstSeen,
    previousState: null,
    disconnected: false,
    acceptedUntil: null,
    lastTransitionId: null,
  };
}

export function identityOf(row: FindingStateRow): FindingIdentity {
  return {
    id: row.findingId,
    address: row.address,
    protocol: row.protocol,
    port: row.port,
    advisory: row.advisory,
    checkId: row.checkId,
  };
}

export function currentOf(row: FindingStateRow): CurrentState {
  return {
    state: row.state,
    since: row.since,
    previousState: row.previousState,
    disconnected: row.disconnected,
    acceptedUntil: row.acceptedUntil,
  };
}

async function checkRunById(
  store: Store,
  row: FindingStateRow,
  id: number,
): Promise<CheckRunRow | undefined> {
  // The store lists runs by asset and check; the run named must be among the finding's own or it
  // is not evidence for it (decideTransition then says which run it was).
  const own = await store.listCheckRuns({ address: row.address, checkId: row.checkId });
  return (
    own.find((run) => run.id === id) ?? (await store.listCheckRuns()).find((run) => run.id === id)
  );
}

/**
 * Validates the evidence, decides, and records the transition with its audit entry (one
 * transaction). A refusal is RINGFENCE_TRANSITION_REFUSED naming the missing evidence, and writes
 * nothing.
 */
export async function applyTransition(
  store: Store,
  request: TransitionRequest,
): Promise<TransitionRecord> {
  if (!(WORKFLOW_STATES as readonly string[]).includes(request.to))
    throw new RingfenceError("RINGFENCE_USAGE", `unknown workflow state "${String(request.to)}"`, {
      hint: `states: ${WORKFLOW_STATES.join(", ")}`,
    });
  if (typeof request.actor !== "string" || request.actor.trim() === "")
    throw new RingfenceError("RINGFENCE_USAGE", "a transition needs an actor");
  const evidence: Evidence = parseEvidence(request.evidence);
  const at = request.at === undefined ? new Date().toISOString() : normaliseInstant(request.at);
  const row = await findingState(store, request.findingId);
  if (row === undefined)
    throw new RingfenceError(
      "RINGFENCE_USAGE",
      `no finding ${request.findingId} in ${store.location}`,
      { hint: "`ringfence status` or `ringfence findings` lists them" },
    );
  return decideAndRecord(store, row, request.to, evidence, at, request.actor);
}

/** Looks up the evidence the decision needs and decides, without writing anything. */
export async function decideFor(
  store: Store,
  row: FindingStateRow,
  to: WorkflowState,
  evidence: Evidence,
  at: string,
): Promise<Decision> {
  const control =
    evidence.kind === "control"
      ? (await store.listControls()).find((c) => c.id === evidence.controlId)
      : undefined;
  const checkRun =
    evidence.kind === "check-run" ? await checkRunById(store, row, evidence.checkRunId) : undefined;
  return decideTransition({
    finding: identityOf(row),
    current: currentOf(row),
    to,
    evidence,
    at,
    control,
    checkRun,
  });
}

export function refusal(row: FindingStateRow, to: WorkflowState, reason: string): RingfenceError {
  return new RingfenceError(
    "RINGFENCE_TRANSITION_REFUSED",
    `finding ${row.findingId} (${row.address} ${row.protocol}/${row.port} ${row.advisory}) cannot become ${to}: ${reason}`,
  );
}

/** Shared by applyTransition and the rescan evaluation: look up, decide, record. */
export async function decideAndRecord(
  store: Store,
  row: FindingStateRow,
  to: WorkflowState,
  evidence: Evidence,
  at: string,
  actor: string,
): Promise<TransitionRecord> {
  const decision = await decideFor(store, row, to, evidence, at);
  if (!decision.ok) throw refusal(row, to, decision.reason);
  return store.recordTransition({
    findingId: row.findingId,
    from: row.state,
    to: decision.next.state,
    actor,
    at,
    evidence,
    previousState: decision.next.previousState,
    disconnected: decision.next.disconnected,
    acceptedUntil: decision.next.acceptedUntil,
  });
}

/**
 * One transition for several findings (a host's, from the CLI): every decision is made first, and
 * nothing is written unless all are granted.
 */
export async function applyTransitions(
  store: Store,
  request: Omit<TransitionRequest, "findingId"> & { readonly findingIds: readonly number[] },
): Promise<TransitionRecord[]> {
  const evidence: Evidence = parseEvidence(request.evidence);
  const at = request.at === undefined ? new Date().toISOString() : normaliseInstant(request.at);
  const rows: FindingStateRow[] = [];
  for (const id of request.findingIds) {
    const row = await findingState(store, id);
    if (row === undefined)
      throw new RingfenceError("RINGFENCE_USAGE", `no finding ${id} in ${store.location}`);
    const decision = await decideFor(store, row, request.to, evidence, at);
    if (!decision.ok) throw refusal(row, request.to, decision.reason);
    rows.push(row);
  }
  const records: TransitionRecord[] = [];
  for (const row of rows)
    records.push(await decideAndRecord(store, row, request.to, evidence, at, request.actor));
  return records;
}

export function normaliseInstant(text: string): string {
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw new RingfenceError("RINGFENCE_USAGE", `"${text}" is not an ISO 8601 instant`);
  return new Date(t).toISOString();
}

export { sameAddress };
