/**
 * The shield's failures, each a RingfenceError with a stable code (exit status 2 in the CLI):
 * a policy that breaks the model's rules, and a policy a firewall cannot express exactly. The
 * second is the "fail closed" rule of the generators: a term that would need an approximation is
 * refused with the term, the target and the reason, never rendered approximately (the silently
 * wrong output that Capirca and Aerleon users kept finding: aerleon #478, #480; capirca #271).
 */
import { RingfenceError } from "../errors.js";

/** A policy or plan that the model refuses: a bad name, a duplicate, a dangling reference. */
export class ShieldPolicyError extends RingfenceError {
  /** Where in the policy: `terms[3].name`, `addressSets.hosts`. */
  readonly path: string;

  constructor(path: string, reason: string, hint?: string) {
    super(
      "RINGFENCE_SHIELD_POLICY",
      `policy ${path}: ${reason}`,
      hint === undefined ? {} : { hint },
    );
    this.name = "ShieldPolicyError";
    this.path = path;
  }
}

/**
 * A term (or a policy-wide setting, named in parentheses: `(stateful)`, `(stance in)`) that the
 * target firewall cannot express exactly.
 */
export class UnrenderableTermError extends RingfenceError {
  readonly term: string;
  readonly target: string;
  readonly reason: string;

  constructor(target: string, term: string, reason: string, hint?: string) {
    super(
      "RINGFENCE_SHIELD_UNRENDERABLE",
      `${target} cannot express term ${term} exactly: ${reason}`,
      hint === undefined ? {} : { hint },
    );
    this.name = "UnrenderableTermError";
    this.term = term;
    this.target = target;
    this.reason = reason;
  }
}
