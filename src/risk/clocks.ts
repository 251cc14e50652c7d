/**
 * The two clocks of "protect, then fix" (research §0.4, §5.5): protect-by (shield or contain)
 * driven by the intrinsic rating and the exposure, fix-by (patch) driven by the SSVC outcome, and
 * verify-by after each. Durations are the policy's (defaults: §5.5).
 *
 * When does a clock start? Not at asOf, or re-assessing every day would push every deadline
 * forward for ever. A clock starts when the current level of urgency began: the engine replays
 * its decision at each date where an input changed (finding first seen, exploit published, KEV
 * listing, control verified or expired, ...) and the clock starts at the earliest date from which
 * the urgency never dropped below today's. So a worm on day 25 does not restart a clock that was
 * already at "immediate" since day 1, while a firewall rule that expires does tighten the clocks
 * from the moment it expired.
 */
import { addIsoDuration, type RatingLevel } from "../advisories/index.js";
import type { RiskPolicy } from "./policy.js";
import type { DsoiOutcome, SystemExposure } from "./ssvc.js";

export const PROTECT_URGENCIES = [
  "none",
  "high-open",
  "very-high-controlled",
  "very-high-open",
  "compromise",
] as const;
export type ProtectUrgency = (typeof PROTECT_URGENCIES)[number];

/** Which protect-by row of research §5.5 applies. */
export function protectUrgency(
  rating: RatingLevel,
  exposure: SystemExposure,
  compromise: boolean,
): ProtectUrgency {
  if (compromise) return "compromise";
  if (rating === "very-high" && exposure === "open") return "very-high-open";
  if (rating === "very-high" && exposure === "controlled") return "very-high-controlled";
  if (rating === "high" && exposure === "open") return "high-open";
  return "none";
}

export function protectDuration(policy: RiskPolicy, urgency: ProtectUrgency): string | undefined {
  const p = policy.clocks.protect;
  switch (urgency) {
    case "compromise":
      return p.compromise;
    case "very-high-open":
      return p.veryHighOpen;
    case "very-high-controlled":
      return p.veryHighControlled;
    case "high-open":
      return p.highOpen;
    case "none":
      return undefined;
  }
}

/** Fix-by per SSVC outcome (BOD 26-04 3D/14D/60D/FSU); defer has no date. */
export function fixDuration(policy: RiskPolicy, outcome: DsoiOutcome): string | undefined {
  const f = policy.clocks.fix;
  switch (outcome) {
    case "immediate":
      return f.immediate;
    case "out-of-cycle":
      return f.outOfCycle;
    case "scheduled":
      return f.scheduled;
    case "defer":
      return undefined;
  }
}

/** Verify-by after the fix: 24 h for immediate, 7 d for out-of-cycle, next scan otherwise. */
export function verifyDuration(policy: RiskPolicy, outcome: DsoiOutcome): string | undefined {
  const v = policy.clocks.verify;
  if (outcome === "immediate") return v.immediate;
  if (outcome === "out-of-cycle") return v.outOfCycle;
  return undefined;
}

export interface Sample {
  readonly t: number;
  /** Urgency rank at t (higher is more urgent). */
  readonly rank: number;
}

/**
 * The earliest sample time from which the rank never dropped below the last sample's rank.
 * `samples` are in increasing time order and end with the assessment time.
 */
export function runStart(samples: readonly Sample[]): number | undefined {
  const last = samples.at(-1);
  if (last === undefined) return undefined;
  let start = last.t;
  for (let i = samples.length - 1; i >= 0; i--) {
    const sample = samples[i];
    if (sample === undefined || sample.rank < last.rank) break;
    start = sample.t;
  }
  return start;
}

export function plus(ms: number, duration: string): number {
  return addIsoDuration(ms, duration);
}
