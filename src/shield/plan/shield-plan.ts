/**
 * A shield plan: the policy that protects the exposures a scan found, with what it was built
 * from (hosts, advisories, findings), the services it flags instead of blocking, and warnings.
 * Plans are deterministic: the same findings and options give the same bytes, so a plan can be
 * reviewed, diffed (`--diff`) and audited against what is deployed (`shield audit`).
 *
 * Later steps read plans as they are: live verification (`verify-shield`) takes `hosts`, their
 * `blockIn` services and the policy's zones as the probes to send and the expected outcome of
 * each, and the perimeter lab loads `policy` rendered by a generator into its firewall namespace.
 */
import type { PolicyNode } from "../model/policy.js";

export const PLAN_SCHEMA_ID = "ringfence.shield-plan/1";

export const SCOPES = ["affected", "perimeter"] as const;
/** affected: block the ports on the affected hosts only; perimeter: for everything behind it. */
export type ShieldScope = (typeof SCOPES)[number];

export const PLACEMENTS = ["host", "network"] as const;
/** host: host firewalls (in/out terms); network: a router or perimeter firewall (forward). */
export type ShieldPlacement = (typeof PLACEMENTS)[number];

export interface PlanHost {
  /** Canonical address text. */
  readonly address: string;
  /** Advisory ids (catalog ids), sorted. */
  readonly advisories: readonly string[];
  /** Store finding ids the host is in the plan for; empty for an exposure list. */
  readonly findings: readonly number[];
  readonly role?: "domain-controller";
  readonly quarantined: boolean;
  /** Why: "--quarantine", "assessment plan: quarantine", "compromise indicator blaster-backdoor". */
  readonly quarantineReason?: string;
  /** Services blocked toward the host (`tcp/135`), tcp first then udp, by port. */
  readonly blockIn: readonly string[];
  /** Services blocked from the host (egress: worm propagation, backdoor traffic). */
  readonly blockOut: readonly string[];
}

/** A service the advisory says not to block wholesale (RPC over HTTP on 80/443): flagged. */
export interface PlanFlag {
  readonly host: string;
  readonly service: string;
  readonly advisory: string;
  readonly reason: string;
}

export interface ShieldPlan {
  readonly schema: typeof PLAN_SCHEMA_ID;
  readonly name: string;
  /** Where the exposures came from. */
  readonly source: "findings" | "exposures";
  readonly scope: ShieldScope;
  readonly placement: ShieldPlacement;
  readonly advisories: readonly string[];
  readonly hosts: readonly PlanHost[];
  readonly flags: readonly PlanFlag[];
  readonly warnings: readonly string[];
  readonly policy: PolicyNode;
}
