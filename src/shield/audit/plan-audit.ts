/**
 * `shield audit`: is the deployed ruleset the plan? For every host of the plan, every service the
 * plan blocks or allows toward it (and from it, for egress blocks), and every zone of the plan,
 * the plan's own policy says what should happen (evaluated with the same evaluator) and the
 * ruleset says what does. Per (host, service, zone):
 *
 * - exposed: some address of the zone reaches a service the plan blocks for it (the failure);
 * - unknown: the ruleset cannot be evaluated for some of those addresses (with the reason);
 * - blocked-allowed: a service the plan explicitly allows is blocked for some addresses;
 * - shielded / reachable: the ruleset does what the plan says;
 * - unplanned: the plan does not decide (stance unset, no term): shown, not judged.
 *
 * The deciding rule is the ruleset's (chain and handle, file line, Windows rule name), with an
 * example source address.
 */
import { formatAddress } from "../../targets/address.js";
import {
  intersectRanges,
  parseAddress,
  subtractRanges,
  type AddressFamily,
  type AddressRange,
} from "../../targets/index.js";
import { rangesOf } from "../model/address-set.js";
import { endpointRanges, termServices, type PolicyNode } from "../model/policy.js";
import type { ShieldPlan } from "../plan/shield-plan.js";
import { evaluate, type Outcome, type Path, type Question } from "./evaluator.js";
import { policyRuleset } from "./policy-ruleset.js";
import type { Ruleset } from "./ruleset-model.js";
import { evaluateWindows, type WindowsFirewall } from "./windows-export.js";

/** Something the auditor can ask questions of. */
export interface AuditTarget {
  readonly source: string;
  readonly families: readonly AddressFamily[];
  evaluate(q: Question): Outcome[];
}

export function rulesetTarget(ruleset: Ruleset): AuditTarget {
  return {
    source: ruleset.source,
    families: ruleset.families,
    evaluate: (q) => evaluate(ruleset, q),
  };
}

export function windowsTarget(firewall: WindowsFirewall): AuditTarget {
  return {
    source: firewall.source,
    families: firewall.families,
    evaluate: (q) => evaluateWindows(firewall, q),
  };
}

/** Several rulesets (iptables.rules and ip6tables.rules): each question goes to its family's. */
export function combinedTarget(targets: readonly AuditTarget[]): AuditTarget {
  return {
    source: targets.map((t) => t.source).join(", "),
    families: [...new Set(targets.flatMap((t) => t.families))].sort(),
    evaluate(q) {
      const target = targets.find((t) => t.families.includes(q.family));
      return target === undefined
        ? evaluate(
            {
              format: "none",
              source: "the rulesets given",
              families: [],
              chains: [],
              notrack: false,
              helpers: false,
            },
            q,
          )
        : target.evaluate(q);
    },
  };
}

export const AUDIT_STATUSES = [
  "exposed",
  "unknown",
  "blocked-allowed",
  "shielded",
  "reachable",
  "unplanned",
] as const;
export type AuditStatus = (typeof AUDIT_STATUSES)[number];

export interface AuditFinding {
  readonly host: string;
  /** "in": toward the host; "out": from the host (egress). */
  readonly direction: "in" | "out";
  readonly service: string;
  readonly zone: string;
  readonly status: AuditStatus;
  /** What the plan does for these packets (term name, or the stance). */
  readonly expected: string;
  /** The ruleset's deciding rule. */
  readonly decidedBy: string;
  readonly reason?: string;
  /** An address of the zone this status holds for. */
  readonly example: string;
}

export interface AuditReport {
  readonly findings: readonly AuditFinding[];
  readonly counts: Readonly<Record<AuditStatus, number>>;
}

export interface AuditOptions {
  /** Zone name → interface its traffic enters by (for rulesets that test iifname). */
  readonly zoneInterfaces?: Readonly<Record<string, string>>;
}

/** Common services a quarantine should cut, checked on quarantined hosts besides their own. */
const QUARANTINE_SAMPLE = ["tcp/22", "tcp/80", "tcp/443", "tcp/3389", "udp/53"];

/** The services checked on a plan host: its blocks (plus a quarantine sample) and the allows toward it. */
export function plannedServices(
  policy: PolicyNode,
  plan: ShieldPlan,
  address: string,
): { inbound: string[]; outbound: string[] } {
  const host = plan.hosts.find((h) => h.address === address)!;
  const parsed = parseAddress(address)!;
  const hostRange = [{ family: parsed.family, first: parsed.value, last: parsed.value }];
  const inbound = new Set(host.blockIn);
  const outbound = new Set(host.blockOut);
  if (host.quarantined) for (const s of QUARANTINE_SAMPLE) inbound.add(s);
  // Allow terms toward the host: their services must stay reachable.
  for (const t of policy.terms) {
    if (t.action !== "accept" || t.direction === "out") continue;
    if (intersectRanges(endpointRanges(policy, t.to), hostRange).length === 0) continue;
    for (const svc of termServices(policy, t) ?? [])
      for (const r of svc.ports)
        if (r.last - r.first < 16)
          for (let p = r.first; p <= r.last; p++) inbound.add(`${svc.proto}/${p}`);
  }
  const order = (a: string, b: string) => a.localeCompare(b, "en", { numeric: true });
  return { inbound: [...inbound].sort(order), outbound: [...outbound].sort(order) };
}

const RANK: Record<AuditStatus, number> = {
  exposed: 0,
  unknown: 1,
  "blocked-allowed": 2,
  shielded: 3,
  reachable: 4,
  unplanned: 5,
};

function judge(expected: Outcome["verdict"], actual: Outcome["verdict"]): AuditStatus {
  const blocks = (v: string) => v === "drop" || v === "reject";
  if (expected === "unset" || expected === "unknown") return "unplanned";
  if (blocks(expected)) {
    if (actual === "accept" || actual === "unset") return "exposed";
    if (actual === "unknown") return "unknown";
    return "shielded";
  }
  if (blocks(actual)) return "blocked-allowed";
  if (actual === "unknown") return "unknown";
  return "reachable";
}

export function auditPlan(
  plan: ShieldPlan,
  target: AuditTarget,
  options: AuditOptions = {},
): AuditReport {
  const policy = plan.policy;
  const expectedRuleset = policyRuleset(policy);
  const host = plan.placement === "host";
  const findings: AuditFinding[] = [];
  for (const planHost of plan.hosts) {
    const parsed = parseAddress(planHost.address);
    if (parsed === undefined) continue;
    const self: AddressRange[] = [
      { family: parsed.family, first: parsed.value, last: parsed.value },
    ];
    const services = plannedServices(policy, plan, planHost.address);
    for (const zone of policy.zones) {
      // A host reaching itself is not exposure: keep it out of its zone.
      const zoneRanges = subtractRanges(rangesOf(zone.addresses), self).filter(
        (r) => r.family === parsed.family,
      );
      if (zoneRanges.length === 0) continue;
      for (const [direction, list] of [
        ["in", services.inbound],
        ["out", services.outbound],
      ] as const) {
        for (const service of list) {
          const [proto, port] = service.split("/") as ["tcp" | "udp", string];
          const path: Path = host ? (direction === "in" ? "input" : "output") : "forward";
          const iface = options.zoneInterfaces?.[zone.name];
          const q: Question = {
            path,
            family: parsed.family,
            proto,
            port: Number(port),
            src: direction === "in" ? zoneRanges : self,
            dst: direction === "in" ? self : zoneRanges,
            ...(iface === undefined ? {} : direction === "in" ? { iif: iface } : { oif: iface }),
          };
          const expected = evaluate(expectedRuleset, q);
          const actual = target.evaluate(q);
          let worst: AuditFinding | undefined;
          for (const e of expected) {
            for (const a of actual) {
              const side = direction === "in" ? "src" : "dst";
              const overlap = intersectRanges(e[side], a[side]);
              if (overlap.length === 0) continue;
              const status = judge(e.verdict, a.verdict);
              if (worst !== undefined && RANK[worst.status] <= RANK[status]) continue;
              worst = {
                host: planHost.address,
                direction,
                service,
                zone: zone.name,
                status,
                expected: `${e.verdict} (${e.ref})`,
                decidedBy: a.ref,
                ...(a.reason === undefined ? {} : { reason: a.reason }),
                example: formatAddress(overlap[0]!.family, overlap[0]!.first),
              };
            }
          }
          if (worst !== undefined) findings.push(worst);
        }
      }
    }
  }
  const counts = Object.fromEntries(AUDIT_STATUSES.map((s) => [s, 0])) as Record<
    AuditStatus,
    number
  >;
  for (const f of findings) counts[f.status]++;
  return { findings, counts };
}

export function formatAuditReport(report: AuditReport, verbose = false): string {
  const lines: string[] = [];
  const shown = verbose
    ? report.findings
    : report.findings.filter(
        (f) => f.status !== "shielded" && f.status !== "reachable" && f.status !== "unplanned",
      );
  for (const f of [...shown].sort((a, b) => RANK[a.status] - RANK[b.status])) {
    const flow =
      f.direction === "in"
        ? `${f.host} ${f.service} from ${f.zone} (e.g. ${f.example})`
        : `${f.host} ${f.service} to ${f.zone} (e.g. ${f.example})`;
    lines.push(
      `${f.status.padEnd(15)} ${flow}: ${f.decidedBy}${f.reason === undefined ? "" : ` [${f.reason}]`}; plan: ${f.expected}`,
    );
  }
  const c = report.counts;
  lines.push(
    `${report.findings.length} checks: ${c.exposed} exposed, ${c.unknown} unknown, ${c["blocked-allowed"]} allowed-but-blocked, ${c.shielded} shielded, ${c.reachable} reachable as planned, ${c.unplanned} not decided by the plan`,
  );
  return lines.join("\n") + "\n";
}
