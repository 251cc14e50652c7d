/**
 * What `assess()` and the policy assessment share: the context of one assessment, the reason
 * log, input checks, and the dates at which inputs change (for the clocks' replay, clocks.ts).
 */
import { parseInstant, type Advisory, type AdvisoryVulnerability } from "../advisories/index.js";
import { RingfenceError } from "../errors.js";
import { canonicalize } from "./canonical-json.js";
import { controlAppliesTo, controlStatus } from "./exposure.js";
import type { ThreatIntel } from "./intel.js";
import type { RiskPolicy } from "./policy.js";
import type { HumanImpact, MissionWellBeingImpact } from "./ssvc.js";
import type { Asset, Assessment, Control, Finding, Reason } from "./types.js";
import { vulnerabilityEventTimes } from "./vulnerability-inputs.js";

/** Reasons in derivation order, numbered r1, r2, ... */
export class ReasonLog {
  readonly list: Reason[] = [];

  add(rule: string, inputs: Record<string, unknown>, output: unknown, text: string): string {
    const id = `r${this.list.length + 1}`;
    this.list.push({ id, rule, inputs: canonicalize(inputs), output: canonicalize(output), text });
    return id;
  }
}

/** The first reason of every assessment: what the check reported, with its evidence. */
export function findingReason(reasons: ReasonLog, finding: Finding): string {
  const service = finding.port === 0 ? "the asset" : `${finding.protocol}/${finding.port}`;
  const applicable = finding.verdict !== "not-vulnerable";
  return reasons.add(
    "D-FINDING",
    { check: finding.checkId, service, verdict: finding.verdict, evidence: finding.evidence },
    applicable ? "applicable" : "not-applicable",
    applicable
      ? `check ${finding.checkId} reported ${finding.verdict} on ${service}`
      : `check ${finding.checkId} found ${service} not vulnerable: no decision, no action`,
  );
}

export function inputError(message: string): RingfenceError {
  return new RingfenceError("RINGFENCE_RISK_INPUT", message);
}

export function instant(text: string, what: string): number {
  const ms = parseInstant(text);
  if (ms === undefined)
    throw inputError(`${what} "${text}" is not an ISO date or date-time with a zone`);
  return ms;
}

export interface Context {
  readonly finding: Finding;
  readonly asset: Asset;
  readonly advisory: Advisory;
  readonly intel: ThreatIntel;
  readonly controls: readonly Control[];
  readonly policy: RiskPolicy;
  readonly vulns: readonly AdvisoryVulnerability[];
  readonly humanImpact: HumanImpact;
  readonly missionWellBeing: MissionWellBeingImpact;
  readonly startMs: number;
  readonly positive: boolean;
}

/** The part of an assessment that does not depend on the advisory's kind. */
export type AssessmentBase = Pick<
  Assessment,
  "schema" | "findingId" | "asOf" | "subject" | "policy"
>;

/** The times at which any input can change the decision, within [start, asOf]. */
export function eventTimes(ctx: Context, asOfMs: number, extra: readonly number[] = []): number[] {
  const times = new Set<number>([ctx.startMs, asOfMs, ...extra]);
  for (const vuln of ctx.vulns)
    for (const t of vulnerabilityEventTimes(ctx.advisory, vuln, ctx.intel)) times.add(t);
  for (const control of ctx.controls) {
    if (!controlAppliesTo(control, ctx.asset)) continue;
    const status = controlStatus(control, ctx.asset, ctx.policy, asOfMs);
    const verified =
      control.verifiedAt === undefined ? undefined : parseInstant(control.verifiedAt);
    if (verified !== undefined) times.add(verified);
    if (status.validUntil !== undefined) times.add(status.validUntil);
  }
  for (const indicator of ctx.asset.compromiseIndicators) {
    const ms = parseInstant(indicator.observedAt);
    if (ms !== undefined) times.add(ms);
  }
  // Compromise is a fact about the asset: its clock may start before this finding was seen.
  const compromiseTimes = ctx.asset.compromiseIndicators
    .map((c) => parseInstant(c.observedAt) ?? Infinity)
    .filter((t) => t <= asOfMs);
  const from = Math.min(ctx.startMs, ...compromiseTimes);
  return [...times].filter((t) => t >= from && t <= asOfMs).sort((a, b) => a - b);
}

export function dedupe(list: readonly string[]): string[] {
  return [...new Set(list)];
}
