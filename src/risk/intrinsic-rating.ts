/**
 * The intrinsic rating: OUR RECONSTRUCTION of Gartner's "Internet Vulnerability Risk Rating
 * Methodology" (research §1.4). Gartner's method is not public; only its name and the level
 * "Very High" are attested. The factors G1–G7 are the ones Gartner's 2003–2004 notes cite, the
 * levels below Very High parallel Microsoft's November 2002 severity scale, and the rules are
 * ours. The rating concerns the flaw as seen from the Internet, before any asset's context.
 *
 * Rules, first match wins (each cited in the output):
 * - GR-VH-WORM: a worm has been observed and the flaw gives full control;
 * - GR-VH: network-reachable without credentials, scriptable, full control, and the affected
 *   software is ubiquitous or widespread (exploit status is not required: MS03-026 was rated
 *   Very High before any public exploit);
 * - GR-H: full control over the network with one brake (credentials, user action, limited
 *   prevalence, not reliably scriptable), or full control with public exploit code;
 * - GR-M: remote denial of service or information disclosure, or local privilege escalation;
 * - GR-L: everything else.
 * Then GR-RAISE: a KEV listing or active exploitation raises the level to at least High
 * (research §5.3 D-RATE), and a curated `rating` override has the last word, with its reason.
 */
import {
  maxOf,
  RATING_LEVELS,
  type Ease,
  type RatingLevel,
  type VulnerabilityFacts,
} from "../advisories/index.js";

export const RATING_METHOD =
  "ringfence reconstruction of Gartner's Internet Vulnerability Risk Rating Methodology (ours, not Gartner's text; research §1.4)";

export interface RatingStatus {
  readonly publicExploit: boolean;
  readonly wormObserved: boolean;
  /** Active exploitation or a KEV listing, as of the assessment date. */
  readonly exploited: boolean;
}

export interface GartnerFactors {
  readonly G1: VulnerabilityFacts["prevalence"];
  readonly G2:
    "network-unauthenticated" | "network-authenticated" | "adjacent" | "local-or-physical";
  readonly G3: Ease;
  readonly G4: "full-control" | "partial";
  readonly G5: "none" | "exploit-public" | "attacks-observed" | "worm-observed";
}

export interface RatingResult {
  readonly level: RatingLevel;
  readonly rule: string;
  readonly factors: GartnerFactors;
  readonly text: string;
  /** Set when GR-RAISE or an override changed the level the rules gave. */
  readonly adjusted?: { readonly rule: string; readonly from: RatingLevel; readonly text: string };
}

/** G1–G5 from the curated facts and the exploitation status (G6/G7 do not change the level). */
export function gartnerFactors(facts: VulnerabilityFacts, status: RatingStatus): GartnerFactors {
  const G2 =
    facts.attackVector === "network"
      ? facts.privilegesRequired === "none"
        ? "network-unauthenticated"
        : "network-authenticated"
      : facts.attackVector === "adjacent"
        ? "adjacent"
        : "local-or-physical";
  const G3: Ease =
    facts.ease ?? (facts.userInteraction === "required" ? "needs-user-action" : "scriptable");
  const G4 =
    facts.impact === "rce-system" || facts.impact === "rce-user" ? "full-control" : "partial";
  const G5 = status.wormObserved
    ? "worm-observed"
    : status.exploited
      ? "attacks-observed"
      : status.publicExploit
        ? "exploit-public"
        : "none";
  return { G1: facts.prevalence, G2, G3, G4, G5 };
}

/** The reconstruction's rules applied to one vulnerability. */
export function intrinsicRating(
  facts: VulnerabilityFacts,
  status: RatingStatus,
  override?: { readonly value: RatingLevel; readonly reason: string },
): RatingResult {
  const f = gartnerFactors(facts, status);
  const full = f.G4 === "full-control";
  const networked = f.G2 !== "local-or-physical";
  let level: RatingLevel;
  let rule: string;
  let text: string;
  if (f.G5 === "worm-observed" && full) {
    [level, rule, text] = [
      "very-high",
      "GR-VH-WORM",
      "a worm exploits it and it gives full control",
    ];
  } else if (
    f.G2 === "network-unauthenticated" &&
    f.G3 === "scriptable" &&
    full &&
    f.G1 !== "limited"
  ) {
    [level, rule, text] = [
      "very-high",
      "GR-VH",
      `reachable over the network without credentials, scriptable, full control, ${f.G1} software`,
    ];
  } else if (full && networked) {
    const brakes = [
      f.G2 !== "network-unauthenticated" ? "needs credentials or adjacency" : undefined,
      f.G3 !== "scriptable" ? f.G3 : undefined,
      f.G1 === "limited" ? "limited prevalence" : undefined,
    ].filter((b) => b !== undefined);
    [level, rule, text] = [
      "high",
      "GR-H",
      `full control over the network, but ${brakes.join(", ")}`,
    ];
  } else if (full && f.G5 !== "none") {
    [level, rule, text] = ["high", "GR-H", "full control and exploit code is public"];
  } else if (
    (networked && (facts.impact === "dos" || facts.impact === "info-disclosure")) ||
    facts.impact === "privilege-escalation"
  ) {
    [level, rule, text] = [
      "moderate",
      "GR-M",
      facts.impact === "privilege-escalation"
        ? "local privilege escalation"
        : `network-reachable ${facts.impact === "dos" ? "denial of service" : "information disclosure"}`,
    ];
  } else {
    [level, rule, text] = [
      "low",
      "GR-L",
      "no rule above applies (hard to reach or minimal impact)",
    ];
  }
  let result: RatingResult = { level, rule, factors: f, text };
  if (status.exploited && maxOf(RATING_LEVELS, level, "high") !== level) {
    result = {
      ...result,
      level: "high",
      adjusted: {
        rule: "GR-RAISE",
        from: level,
        text: "exploited in the wild (or listed in KEV): at least High",
      },
    };
  }
  if (override !== undefined && override.value !== result.level) {
    result = {
      ...result,
      level: override.value,
      adjusted: { rule: "GR-OVERRIDE", from: result.level, text: override.reason },
    };
  }
  return result;
}
