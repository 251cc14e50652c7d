import type { Control } from "../risk/types.js";
import type { CheckRunRow, WorkflowState } from "../store/index.js";
import {
  formatAddress,
  parseAddress,
  parseRangeExpression,
  rangesContain,
} from "../targets/index.js";

/**
 * The remediation state machine's evidence rules (issue 7 item 1), pure: no store, no clock.
 * The order follows the advisory's sequence — disconnect, shield, patch, verify, reconnect — and
 * Greenbone's rule that a ticket closes only on "Fix Verified" after a rescan: nothing moves on a
 * claim alone except where only a person can know (a patch was installed, a host reconnected),
 * and those claims are recorded as attestations, never as verified facts.
 */

/** Who vouches for an attestation: a person, or the patch-management system's record. */
export type AttestationSource = "operator" | "patch-system";

export type Evidence =
  /** A verified control (verify-shield, Store.listControls) that covers the finding's service. */
  | { readonly kind: "control"; readonly ref: string; readonly controlId: string }
  /** Someone's word, recorded as such. */
  | {
      readonly kind: "attestation";
      readonly ref: "attestation";
      readonly source: AttestationSource;
      readonly by: string;
      readonly statement: string;
    }
  /** A stored run of a check (Store.listCheckRuns). */
  | { readonly kind: "check-run"; readonly ref: string; readonly checkRunId: number }
  /** The host was reconnected (an operator's record). */
  | {
      readonly kind: "reconnect";
      readonly ref: "reconnect";
      readonly by: string;
      readonly statement: string;
    }
  | {
      readonly kind: "risk-acceptance";
      readonly ref: "risk-acceptance";
      readonly approver: string;
      readonly reason: string;
      readonly expires: string;
    }
  /** A risk acceptance ran out (the workflow's own evaluation). */
  | { readonly kind: "expiry"; readonly ref: "expiry"; readonly acceptedUntil: string };

/** The finding's identity: (asset, protocol/port, advisory, check). */
export interface FindingIdentity {
  readonly id: number;
  readonly address: string;
  readonly protocol: string;
  readonly port: number;
  readonly advisory: string;
  readonly checkId: string;
}

export interface CurrentState {
  readonly state: WorkflowState;
  /** When it entered the state. */
  readonly since: string;
  readonly previousState: WorkflowState | null;
  readonly disconnected: boolean;
  readonly acceptedUntil: string | null;
}

/** Everything a decision needs, resolved by the caller (the store lookups happen outside). */
export interface TransitionContext {
  readonly finding: FindingIdentity;
  readonly current: CurrentState;
  readonly to: WorkflowState;
  readonly evidence: Evidence;
  /** The transition's instant (ISO). */
  readonly at: string;
  /** For control evidence: the stored control of that id, if any (any validity). */
  readonly control?: Control | undefined;
  /** For check-run evidence: the stored run of that id, if any. */
  readonly checkRun?: CheckRunRow | undefined;
}

/** The state after a granted transition (what Store.recordTransition stores). */
export interface NextState {
  readonly state: WorkflowState;
  readonly previousState: WorkflowState | null;
  readonly disconnected: boolean;
  readonly acceptedUntil: string | null;
}

export type Decision =
  { readonly ok: true; readonly next: NextState } | { readonly ok: false; readonly reason: string };

/** Which states each target state may be entered from (before evidence is looked at). */
export const ALLOWED_FROM: Readonly<Record<WorkflowState, readonly WorkflowState[]>> = {
  detected: [],
  quarantined: ["detected", "reopened"],
  shielded: ["detected", "reopened", "quarantined"],
  patched: ["detected", "reopened", "quarantined", "shielded", "risk-accepted"],
  // "Later than the patch/shield": the run must follow the state it verifies.
  verified: ["patched", "shielded"],
  closed: ["verified"],
  "risk-accepted": ["detected", "reopened", "quarantined", "shielded", "patched"],
  // Any state past detected (issue 7); risk-accepted only by an expiry or a person, see below.
  reopened: ["quarantined", "shielded", "patched", "verified", "closed", "risk-accepted"],
};

/** Which evidence kinds can carry each target state. */
const EVIDENCE_FOR: Readonly<Record<WorkflowState, readonly Evidence["kind"][]>> = {
  detected: ["expiry"],
  quarantined: ["control", "attestation", "expiry"],
  shielded: ["control", "attestation", "expiry"],
  patched: ["attestation", "expiry"],
  verified: ["check-run", "expiry"],
  closed: ["reconnect", "attestation"],
  "risk-accepted": ["risk-acceptance"],
  reopened: ["check-run", "attestation", "expiry"],
};

const refuse = (reason: string): Decision => ({ ok: false, reason });

function time(text: string | null | undefined): number {
  return text === null || text === undefined ? Number.NaN : Date.parse(text);
}

/** Whether a control is meant for the finding's host and blocks its service (or its advisory). */
export function controlCovers(control: Control, finding: FindingIdentity): boolean {
  const forService =
    control.covers.some((c) => c.proto === finding.protocol && c.port === finding.port) ||
    (control.mitigates ?? []).some((a) => a.toLowerCase() === finding.advisory.toLowerCase());
  if (!forService) return false;
  if (control.appliesTo.assets?.includes(finding.address) === true) return true;
  const address = parseAddress(finding.address);
  if (address === undefined) return false;
  return (control.appliesTo.ranges ?? []).some((text) => {
    const range = parseRangeExpression(text);
    return !("reason" in range) && rangesContain([range], address);
  });
}

function describe(f: FindingIdentity): string {
  return `${f.address} ${f.protocol}/${f.port} ${f.advisory} (${f.checkId})`;
}

/** A verified control for the finding, valid at `at`; the refusal sentence otherwise. */
function checkControl(ctx: TransitionContext, controlId: string): string | null {
  const control = ctx.control;
  if (control === undefined || control.id !== controlId)
    return `no stored control ${controlId}: a verified control (ringfence verify-shield) or an attestation is required`;
  if (control.method === "declared" || control.verifiedAt === undefined)
    return `control ${controlId} is declared, not verified: verify it (ringfence verify-shield) or attest instead`;
  const at = time(ctx.at);
  if (!(time(control.verifiedAt) <= at))
    return `control ${controlId} was verified at ${control.verifiedAt}, after ${ctx.at}`;
  if (control.expiresAt !== undefined && !(at < time(control.expiresAt)))
    return `control ${controlId} expired at ${control.expiresAt}: verify it again`;
  if (!controlCovers(control, ctx.finding))
    return `control ${controlId} does not cover ${describe(ctx.finding)}`;
  return null;
}

/** The run must be of the detecting check, on the finding's asset and service. */
function runMismatch(ctx: TransitionContext, checkRunId: number): string | null {
  const run = ctx.checkRun;
  const f = ctx.finding;
  if (run === undefined || run.id !== checkRunId) return `no stored check run ${checkRunId}`;
  if (run.checkId !== f.checkId)
    return `check run ${run.id} is of ${run.checkId}, not of the detecting check ${f.checkId}`;
  if (!sameAddress(run.address, f.address) || run.protocol !== f.protocol || run.port !== f.port)
    return `check run ${run.id} is of ${run.address} ${run.protocol}/${run.port}, not of ${describe(f)}`;
  return null;
}

/** Any two spellings of one IP address (IPv6 has many) are one host. */
export function sameAddress(a: string, b: string): boolean {
  const pa = parseAddress(a);
  const pb = parseAddress(b);
  if (pa === undefined || pb === undefined) return a === b;
  return formatAddress(pa.family, pa.value) === formatAddress(pb.family, pb.value);
}

function nonEmpty(text: unknown): boolean {
  return typeof text === "string" && text.trim().length > 0;
}

/**
 * Decides one transition. Every refusal names what is missing, in a sentence an operator can act
 * on; a granted transition says what the finding's state becomes.
 */
export function decideTransition(ctx: TransitionContext): Decision {
  const { current, to, evidence } = ctx;
  const from = current.state;
  if (Number.isNaN(time(ctx.at))) return refuse(`the transition time ${ctx.at} is not an instant`);
  if (!(time(current.since) <= time(ctx.at)))
    return refuse(
      `the transition time ${ctx.at} is before the finding entered ${from} (${current.since})`,
    );
  if (to === "detected" && evidence.kind !== "expiry")
    return refuse("a finding returns to detected only when a risk acceptance expires");
  if (!EVIDENCE_FOR[to].includes(evidence.kind))
    return refuse(
      `${to} needs ${EVIDENCE_FOR[to].filter((k) => k !== "expiry").join(" or ")} evidence, not ${evidence.kind}`,
    );

  // An expiry returns a risk acceptance to the state it suspended, and nothing else.
  if (evidence.kind === "expiry") {
    if (from !== "risk-accepted")
      return refuse(`only a risk acceptance expires; the finding is ${from}`);
    if (current.previousState !== to)
      return refuse(
        `an expired acceptance returns to ${current.previousState ?? "detected"}, not ${to}`,
      );
    if (!(time(current.acceptedUntil) <= time(ctx.at)))
      return refuse(
        `the risk acceptance runs until ${current.acceptedUntil ?? "?"}; it has not expired at ${ctx.at}`,
      );
    return {
      ok: true,
      next: {
        state: to,
        previousState: null,
        disconnected: current.disconnected,
        acceptedUntil: null,
      },
    };
  }

  if (!ALLOWED_FROM[to].includes(from))
    return refuse(
      `a finding cannot go from ${from} to ${to}${ALLOWED_FROM[to].length > 0 ? ` (only from ${ALLOWED_FROM[to].join(", ")})` : ""}`,
    );
  const keep = (over: Partial<NextState> = {}): Decision => ({
    ok: true,
    next: {
      state: to,
      previousState: null,
      disconnected: current.disconnected,
      acceptedUntil: null,
      ...over,
    },
  });

  switch (to) {
    case "quarantined":
    case "shielded": {
      if (evidence.kind === "control") {
        const problem = checkControl(ctx, evidence.controlId);
        if (problem !== null) return refuse(problem);
      } else if (evidence.kind === "attestation") {
        if (evidence.source !== "operator")
          return refuse(`${to} on an attestation needs an operator's, not a ${evidence.source}'s`);
        if (!nonEmpty(evidence.by) || !nonEmpty(evidence.statement))
          return refuse(`${to} needs an attestation that says who and what`);
      }
      return keep(to === "quarantined" ? { disconnected: true } : {});
    }
    case "patched": {
      if (evidence.kind !== "attestation") return refuse("patched needs an attestation");
      if (!nonEmpty(evidence.by) || !nonEmpty(evidence.statement))
        return refuse(
          "patched needs an operator or patch-system attestation that says who and what",
        );
      return keep();
    }
    case "verified": {
      if (evidence.kind !== "check-run") return refuse("verified needs a check run");
      const mismatch = runMismatch(ctx, evidence.checkRunId);
      if (mismatch !== null) return refuse(mismatch);
      const run = ctx.checkRun as CheckRunRow;
      if (run.verdict !== "NOT_VULNERABLE")
        return refuse(
          `verified needs the detecting check to return NOT_VULNERABLE; check run ${run.id} returned ${run.verdict}`,
        );
      if (!(time(run.startedAt) > time(current.since)))
        return refuse(
          `check run ${run.id} started at ${run.startedAt}, not after the finding became ${from} (${current.since}): rescan`,
        );
      if (!(time(run.finishedAt) <= time(ctx.at)))
        return refuse(`check run ${run.id} finished after ${ctx.at}`);
      return keep();
    }
    case "closed": {
      if (current.disconnected && evidence.kind !== "reconnect")
        return refuse(
          "the host was quarantined: closing needs a reconnect record (finding … reconnect)",
        );
      if (evidence.kind !== "reconnect" && evidence.kind !== "attestation")
        return refuse("closing needs a reconnect record or an operator's attestation");
      if (evidence.kind === "attestation" && evidence.source !== "operator")
        return refuse("closing on an attestation needs an operator's");
      if (!nonEmpty(evidence.by) || !nonEmpty(evidence.statement))
        return refuse("closing needs a record that says who and what");
      return keep({ disconnected: false });
    }
    case "risk-accepted": {
      if (evidence.kind !== "risk-acceptance")
        return refuse("risk-accepted needs a risk acceptance");
      if (!nonEmpty(evidence.approver)) return refuse("a risk acceptance needs an approver");
      if (!nonEmpty(evidence.reason)) return refuse("a risk acceptance needs a reason");
      if (Number.isNaN(time(evidence.expires)))
        return refuse(`a risk acceptance needs an expiry instant, not ${evidence.expires}`);
      if (!(time(evidence.expires) > time(ctx.at)))
        return refuse(`the risk acceptance's expiry ${evidence.expires} is not after ${ctx.at}`);
      return keep({ previousState: from, acceptedUntil: evidence.expires });
    }
    case "reopened": {
      if (evidence.kind === "check-run") {
        // An accepted risk is a known flaw: a rescan that finds it again is no news.
        if (from === "risk-accepted")
          return refuse(
            "a risk-accepted finding is not reopened by a rescan (its flaw is accepted)",
          );
        const mismatch = runMismatch(ctx, evidence.checkRunId);
        if (mismatch !== null) return refuse(mismatch);
        const run = ctx.checkRun as CheckRunRow;
        if (run.verdict !== "VULNERABLE")
          return refuse(
            `reopening needs a VULNERABLE check run; check run ${run.id} returned ${run.verdict}`,
          );
        if (!(time(run.startedAt) > time(current.since)))
          return refuse(`check run ${run.id} is older than the finding's ${from} state`);
        return keep();
      }
      if (evidence.kind === "attestation") {
        if (evidence.source !== "operator")
          return refuse("reopening by hand needs an operator's attestation");
        if (!nonEmpty(evidence.by) || !nonEmpty(evidence.statement))
          return refuse("reopening needs an attestation that says who and why");
      }
      return keep();
    }
    case "detected":
      return refuse("a finding enters detected only by a rescan (or an expired acceptance)");
  }
}
