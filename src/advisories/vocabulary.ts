/**
 * The shared words of the advisory catalog and the risk engine. Each list is ordered from least
 * to most severe where that means something, so that `rank()` can compare values.
 */

export const ZONES = [
  "internet",
  "extranet",
  "roaming",
  "internal",
  "restricted",
  "isolated",
] as const;
/** Network zones (research §5.2). `roaming` is a laptop on broadband or a hot spot (Gartner 2003). */
export type Zone = (typeof ZONES)[number];

export const PROTOCOLS = ["tcp", "udp"] as const;
export type ServiceProtocol = (typeof PROTOCOLS)[number];

export const ADVISORY_KINDS = ["vulnerability", "configuration", "indicator", "policy"] as const;
/**
 * vulnerability: a flaw with a fix (MS03-026); configuration: a weakness fixed by reconfiguring
 * (SMBv1 enabled); indicator: evidence of compromise (Blaster's 4444/tcp shell); policy: a rule
 * about what may be exposed (default deny, new OS releases), evaluated by the same engine.
 */
export type AdvisoryKind = (typeof ADVISORY_KINDS)[number];

export const ATTACK_VECTORS = ["physical", "local", "adjacent", "network"] as const;
export type AttackVector = (typeof ATTACK_VECTORS)[number];
export const PRIVILEGES = ["high", "low", "none"] as const;
export type PrivilegesRequired = (typeof PRIVILEGES)[number];
export const USER_INTERACTIONS = ["required", "none"] as const;
export type UserInteraction = (typeof USER_INTERACTIONS)[number];
export const IMPACTS = [
  "other",
  "info-disclosure",
  "dos",
  "privilege-escalation",
  "rce-user",
  "rce-system",
] as const;
export type Impact = (typeof IMPACTS)[number];
/** Gartner factor G1 (research §1.4). */
export const PREVALENCES = ["limited", "widespread", "ubiquitous"] as const;
export type Prevalence = (typeof PREVALENCES)[number];
/** Gartner factor G3: scriptable means no user action and reliable enough to script. */
export const EASES = ["hard", "needs-user-action", "scriptable"] as const;
export type Ease = (typeof EASES)[number];

export const EXPLOITATIONS = ["none", "public-poc", "active"] as const;
/** SSVC Exploitation 1.1.0 (research §3.1), in our kebab-case spelling. */
export type Exploitation = (typeof EXPLOITATIONS)[number];
export const EXPLOITATION_EVENT_KINDS = ["public-exploit", "in-the-wild", "worm"] as const;
export type ExploitationEventKind = (typeof EXPLOITATION_EVENT_KINDS)[number];
export const AUTOMATABLE = ["no", "yes"] as const;
export type Automatable = (typeof AUTOMATABLE)[number];
export const TECHNICAL_IMPACTS = ["partial", "total"] as const;
export type TechnicalImpact = (typeof TECHNICAL_IMPACTS)[number];

export const RATING_LEVELS = ["low", "moderate", "high", "very-high"] as const;
/** Intrinsic rating levels of our reconstruction of Gartner's methodology (research §1.4). */
export type RatingLevel = (typeof RATING_LEVELS)[number];

export const CONTROL_KINDS = [
  "perimeter-block",
  "segment-acl",
  "host-firewall",
  "service-disabled",
] as const;
export type ControlKind = (typeof CONTROL_KINDS)[number];

export const REQUIRED_SHIELDS = ["shield-perimeter", "shield-host", "mitigate-service"] as const;
/** Which verified controls an exception requires, named by the action that creates them. */
export type RequiredShield = (typeof REQUIRED_SHIELDS)[number];

/** Position of `value` in an ordered vocabulary; -1 if absent. */
export function rank<T extends string>(order: readonly T[], value: T): number {
  return order.indexOf(value);
}

/** The more severe of two values of an ordered vocabulary. */
export function maxOf<T extends string>(order: readonly T[], a: T, b: T): T {
  return rank(order, a) >= rank(order, b) ? a : b;
}

/** Plain code-point comparison: never localeCompare, whose order depends on the machine's ICU. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
