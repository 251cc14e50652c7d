/**
 * Live verification of a shield (`ringfence verify-shield`): from one vantage (a network
 * namespace, or the current one), rescan each plan host's blocked services and the services the
 * plan explicitly allows toward it, and compare with what the plan says for packets from the
 * vantage's source address. A host is verified when every service the plan blocks is closed or
 * filtered and every service it allows is open; only then does it get a verified control
 * (src/risk Control), which the risk engine counts until it expires.
 *
 * UDP has no handshake: a dropped probe and a silent service both read "open|filtered". A
 * blocked UDP service that reads open|filtered counts as blocked (nothing answered), one that
 * answers counts as exposed; an allowed UDP service must answer to count as open.
 */
import { formatAddress } from "../../targets/address.js";
import { parseAddress } from "../../targets/index.js";
import type { ProbeObservation } from "../../scan/index.js";
import type { Control, ControlMethod } from "../../risk/types.js";
import { evaluate, type Question } from "../audit/evaluator.js";
import { plannedServices } from "../audit/plan-audit.js";
import { policyRuleset } from "../audit/policy-ruleset.js";
import type { ShieldPlan } from "../plan/shield-plan.js";

export type Expectation = "blocked" | "open";

export interface VerifyProbe {
  readonly host: string;
  readonly proto: "tcp" | "udp";
  readonly port: number;
  readonly expect: Expectation;
  /** The plan's deciding term (or policy) for packets from the vantage. */
  readonly planRef: string;
}

export interface VerifyResult extends VerifyProbe {
  readonly state: ProbeObservation["state"] | "not-probed";
  readonly reason: string;
  /** ok: as the plan says; exposed: blocked by the plan but open; blocked-allowed: allowed but not open. */
  readonly verdict: "ok" | "exposed" | "blocked-allowed";
}

export interface HostVerification {
  readonly host: string;
  readonly verified: boolean;
  readonly results: readonly VerifyResult[];
}

export interface ShieldVerification {
  readonly plan: string;
  readonly vantage: string;
  readonly sourceAddress: string;
  readonly verifiedAt: string;
  readonly hosts: readonly HostVerification[];
  /** Services the plan leaves undecided for the vantage (not probed, not judged). */
  readonly undecided: readonly string[];
  readonly verified: boolean;
}

/**
 * What to probe on each plan host from `sourceAddress`, and what the plan expects: the plan's
 * own policy, evaluated for a packet from that address (forward path for a network placement,
 * input for host firewalls).
 */
export function verificationProbes(
  plan: ShieldPlan,
  sourceAddress: string,
): { probes: VerifyProbe[]; undecided: string[] } {
  const source = parseAddress(sourceAddress);
  if (source === undefined) throw new RangeError(`not an IP address: ${sourceAddress}`);
  const ruleset = policyRuleset(plan.policy);
  const probes: VerifyProbe[] = [];
  const undecided: string[] = [];
  for (const host of plan.hosts) {
    const parsed = parseAddress(host.address);
    if (parsed === undefined || parsed.family !== source.family) continue;
    const { inbound } = plannedServices(plan.policy, plan, host.address);
    for (const service of inbound) {
      const [proto, portText] = service.split("/") as ["tcp" | "udp", string];
      const port = Number(portText);
      const q: Question = {
        path: plan.placement === "host" ? "input" : "forward",
        family: parsed.family,
        proto,
        port,
        src: [{ family: source.family, first: source.value, last: source.value }],
        dst: [{ family: parsed.family, first: parsed.value, last: parsed.value }],
      };
      const outcome = evaluate(ruleset, q)[0];
      const verdict = outcome?.verdict ?? "unset";
      if (verdict === "accept")
        probes.push({ host: host.address, proto, port, expect: "open", planRef: outcome!.ref });
      else if (verdict === "drop" || verdict === "reject")
        probes.push({ host: host.address, proto, port, expect: "blocked", planRef: outcome!.ref });
      else undecided.push(`${host.address} ${service}`);
    }
  }
  return { probes, undecided };
}

function judge(probe: VerifyProbe, o: ProbeObservation | undefined): VerifyResult {
  if (o === undefined)
    return { ...probe, state: "not-probed", reason: "no observation", verdict: "exposed" };
  const base = { ...probe, state: o.state, reason: o.reason };
  if (probe.expect === "blocked")
    return { ...base, verdict: o.state === "open" ? "exposed" : "ok" };
  return { ...base, verdict: o.state === "open" ? "ok" : "blocked-allowed" };
}

/** Compares the observations of a rescan with the probes' expectations, host by host. */
export function judgeVerification(
  plan: ShieldPlan,
  probes: readonly VerifyProbe[],
  undecided: readonly string[],
  observations: readonly ProbeObservation[],
  context: { vantage: string; sourceAddress: string; verifiedAt: string },
): ShieldVerification {
  const seen = new Map<string, ProbeObservation>();
  for (const o of observations) {
    const parsed = parseAddress(o.address);
    const address = parsed === undefined ? o.address : formatAddress(parsed.family, parsed.value);
    seen.set(`${address} ${o.protocol}/${o.port}`, o);
  }
  const hosts: HostVerification[] = [];
  for (const host of plan.hosts) {
    const mine = probes.filter((p) => p.host === host.address);
    if (mine.length === 0) continue;
    const results = mine.map((p) => judge(p, seen.get(`${p.host} ${p.proto}/${p.port}`)));
    hosts.push({
      host: host.address,
      verified: results.every((r) => r.verdict === "ok"),
      results,
    });
  }
  return {
    plan: plan.name,
    ...context,
    hosts,
    undecided: [...undecided],
    verified: hosts.length > 0 && hosts.every((h) => h.verified),
  };
}

/**
 * One verified control per host of a successful verification: it covers the services found
 * blocked, for that host's address, verified now and expiring at `expiresAt`.
 */
export function verifiedControls(
  plan: ShieldPlan,
  verification: ShieldVerification,
  method: ControlMethod,
  expiresAt: (kind: Control["kind"]) => string,
): Control[] {
  if (!verification.verified) return [];
  const kind: Control["kind"] = plan.placement === "host" ? "host-firewall" : "perimeter-block";
  return verification.hosts.map((h) => ({
    id: `verify-shield:${plan.name}:${h.host}:${verification.vantage}`,
    kind,
    appliesTo: { ranges: [h.host] },
    covers: h.results
      .filter((r) => r.expect === "blocked")
      .map((r) => ({ proto: r.proto, port: r.port })),
    verifiedAt: verification.verifiedAt,
    method,
    expiresAt: expiresAt(kind),
    prov: {
      source: "ringfence verify-shield",
      observedAt: verification.verifiedAt,
      ref: `plan ${plan.name}, from ${verification.vantage} (${verification.sourceAddress})`,
    },
  }));
}

export function formatVerification(v: ShieldVerification, verbose = false): string {
  const lines: string[] = [];
  for (const h of v.hosts) {
    for (const r of h.results) {
      if (!verbose && r.verdict === "ok") continue;
      const what =
        r.verdict === "exposed"
          ? "EXPOSED"
          : r.verdict === "blocked-allowed"
            ? "ALLOWED-BUT-BLOCKED"
            : "ok";
      lines.push(
        `${what.padEnd(19)} ${h.host} ${r.proto}/${r.port}: ${r.state} (${r.reason}); plan: ${r.expect} (${r.planRef})`,
      );
    }
  }
  for (const u of v.undecided) lines.push(`not decided by the plan for this vantage: ${u}`);
  const ok = v.hosts.filter((h) => h.verified).length;
  lines.push(
    `${v.verified ? "verified" : "NOT verified"}: ${ok}/${v.hosts.length} hosts as planned from ${v.vantage} (${v.sourceAddress}) at ${v.verifiedAt}`,
  );
  return lines.join("\n") + "\n";
}
