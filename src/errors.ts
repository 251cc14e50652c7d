/**
 * Every failure a user can cause or meet has a stable code, a one-line message that says what
 * went wrong and, where we know it, how to fix it. The CLI maps codes to exit statuses here and
 * nowhere else; the API will map them to problem+json types the same way.
 */
export type ErrorCode =
  | "RINGFENCE_USAGE"
  | "RINGFENCE_BAD_TARGET"
  | "RINGFENCE_BAD_PORTS"
  | "RINGFENCE_TARGET_FILE"
  | "RINGFENCE_RESOLVE"
  | "RINGFENCE_TARGET_SPACE_TOO_LARGE"
  | "RINGFENCE_SCOPE_FILE"
  | "RINGFENCE_SCOPE_VIOLATION"
  | "RINGFENCE_DB_FOREIGN"
  | "RINGFENCE_DB_CORRUPT"
  | "RINGFENCE_DB_VERSION"
  | "RINGFENCE_DB_UNAVAILABLE"
  | "RINGFENCE_SCAN_NOT_FOUND"
  | "RINGFENCE_SCAN_NOT_RESUMABLE"
  | "RINGFENCE_LAB"
  | "RINGFENCE_NEEDS_PRIVILEGE"
  | "RINGFENCE_ENGINE"
  | "RINGFENCE_RPC"
  | "RINGFENCE_INTERRUPTED"
  | "RINGFENCE_ADVISORY_FILE"
  | "RINGFENCE_INTEL_FILE"
  | "RINGFENCE_SITE_FILE"
  | "RINGFENCE_POLICY_FILE"
  | "RINGFENCE_CVSS_VECTOR"
  | "RINGFENCE_RISK_INPUT"
  | "RINGFENCE_DECISION_TABLE"
  | "RINGFENCE_SHIELD_FILE"
  | "RINGFENCE_SHIELD_POLICY"
  | "RINGFENCE_SHIELD_UNRENDERABLE"
  | "RINGFENCE_IMPORT_FILE"
  | "RINGFENCE_TRANSITION_REFUSED"
  | "RINGFENCE_TRANSITION_CONFLICT";

export class RingfenceError extends Error {
  readonly code: ErrorCode;
  /** What the user can do about it, shown after the message. */
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RingfenceError";
    this.code = code;
    this.hint = options.hint;
  }
}

/** Exit statuses, grouped so that scripts can branch on the kind of failure. */
export const EXIT = {
  ok: 0,
  /** The command ran, and found what --fail-on asked to fail on. */
  findings: 1,
  usage: 2,
  scope: 3,
  store: 4,
  lab: 5,
  environment: 6,
  /** A protocol peer could not be talked to (refused, timed out, answered nonsense). */
  peer: 7,
  internal: 70,
  interrupted: 130,
} as const;

const exitByCode: Record<ErrorCode, number> = {
  RINGFENCE_USAGE: EXIT.usage,
  RINGFENCE_BAD_TARGET: EXIT.usage,
  RINGFENCE_BAD_PORTS: EXIT.usage,
  RINGFENCE_TARGET_FILE: EXIT.usage,
  RINGFENCE_RESOLVE: EXIT.usage,
  RINGFENCE_TARGET_SPACE_TOO_LARGE: EXIT.usage,
  RINGFENCE_SCOPE_FILE: EXIT.usage,
  RINGFENCE_SCOPE_VIOLATION: EXIT.scope,
  RINGFENCE_DB_FOREIGN: EXIT.store,
  RINGFENCE_DB_CORRUPT: EXIT.store,
  RINGFENCE_DB_VERSION: EXIT.store,
  RINGFENCE_DB_UNAVAILABLE: EXIT.store,
  RINGFENCE_SCAN_NOT_FOUND: EXIT.usage,
  RINGFENCE_SCAN_NOT_RESUMABLE: EXIT.usage,
  RINGFENCE_LAB: EXIT.lab,
  RINGFENCE_NEEDS_PRIVILEGE: EXIT.environment,
  RINGFENCE_ENGINE: EXIT.environment,
  RINGFENCE_RPC: EXIT.peer,
  RINGFENCE_INTERRUPTED: EXIT.interrupted,
  RINGFENCE_ADVISORY_FILE: EXIT.usage,
  RINGFENCE_INTEL_FILE: EXIT.usage,
  RINGFENCE_SITE_FILE: EXIT.usage,
  RINGFENCE_POLICY_FILE: EXIT.usage,
  RINGFENCE_CVSS_VECTOR: EXIT.usage,
  RINGFENCE_RISK_INPUT: EXIT.usage,
  // The vendored SSVC tables ship with ringfence: a broken one is a broken installation.
  RINGFENCE_DECISION_TABLE: EXIT.environment,
  // The workflow refused a transition (missing evidence) or lost a race: bad input, nothing written.
  RINGFENCE_TRANSITION_REFUSED: EXIT.usage,
  RINGFENCE_TRANSITION_CONFLICT: EXIT.usage,
  // Shield: a bad plan, exposure or ruleset file; a policy that breaks the model's rules; a term
  // the chosen firewall cannot express exactly. All are the user's input to fix.
  RINGFENCE_SHIELD_FILE: EXIT.usage,
  RINGFENCE_SHIELD_POLICY: EXIT.usage,
  RINGFENCE_SHIELD_UNRENDERABLE: EXIT.usage,
  // An import file that is not a readable nmap/masscan result (corrupt, hostile, too large).
  RINGFENCE_IMPORT_FILE: EXIT.usage,
};

export function exitCodeFor(error: RingfenceError): number {
  return exitByCode[error.code];
}

export function isRingfenceError(value: unknown): value is RingfenceError {
  return value instanceof RingfenceError;
}
