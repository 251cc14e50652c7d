/**
 * What changed between two plans, in the terms a reviewer approves a firewall change in: hosts
 * added, released from quarantine; terms added, removed or changed field by field; addresses and
 * ports added to or removed from a set; the order of the terms (order decides in a firewall).
 */
import { formatPrefixShort, type Prefix } from "../model/address-set.js";
import { formatPortRange } from "../model/port-set.js";
import type { PolicyNode, TermNode } from "../model/policy.js";
import type { PlanHost, ShieldPlan } from "./shield-plan.js";

export interface PlanChange {
  readonly change: "+" | "-" | "~";
  readonly what: "setting" | "host" | "zone" | "address-set" | "service" | "term" | "order";
  readonly name: string;
  readonly detail: string;
}

function listDelta(before: readonly string[], after: readonly string[]): string {
  const removed = before.filter((x) => !after.includes(x)).map((x) => `-${x}`);
  const added = after.filter((x) => !before.includes(x)).map((x) => `+${x}`);
  return [...added, ...removed].join(" ");
}

function byName<T extends { readonly name: string }>(items: readonly T[]): Map<string, T> {
  return new Map(items.map((item) => [item.name, item]));
}

function keyed<T>(
  what: PlanChange["what"],
  before: Map<string, T>,
  after: Map<string, T>,
  describe: (item: T) => string,
  compare: (a: T, b: T) => string,
): PlanChange[] {
  const out: PlanChange[] = [];
  for (const [name, item] of after) {
    const old = before.get(name);
    if (old === undefined) out.push({ change: "+", what, name, detail: describe(item) });
    else {
      const detail = compare(old, item);
      if (detail !== "") out.push({ change: "~", what, name, detail });
    }
  }
  for (const [name, item] of before)
    if (!after.has(name)) out.push({ change: "-", what, name, detail: describe(item) });
  return out;
}

function termText(node: TermNode): string {
  const list = (e: TermNode["from"]) => (e === "any" ? "any" : e.join(","));
  return `${node.action} ${node.direction} from ${list(node.from)} to ${list(node.to)} services ${list(node.services)}${node.log ? " log" : ""}`;
}

function hostText(h: PlanHost): string {
  return `${h.advisories.join(",") || "-"}${h.role === undefined ? "" : ` ${h.role}`}${h.quarantined ? " quarantined" : ""} in:${h.blockIn.join(",") || "-"} out:${h.blockOut.join(",") || "-"}`;
}

function policyChanges(before: PolicyNode, after: PolicyNode): PlanChange[] {
  const out: PlanChange[] = [];
  if (before.stateful !== after.stateful)
    out.push({
      change: "~",
      what: "setting",
      name: "stateful",
      detail: `${before.stateful} -> ${after.stateful}`,
    });
  for (const d of ["in", "out", "forward"] as const)
    if (before.stance[d] !== after.stance[d])
      out.push({
        change: "~",
        what: "setting",
        name: `stance ${d}`,
        detail: `${before.stance[d]} -> ${after.stance[d]}`,
      });
  const addresses = (n: { readonly addresses: readonly Prefix[] }) =>
    n.addresses.map(formatPrefixShort);
  for (const what of ["zone", "address-set"] as const) {
    const pick = (p: PolicyNode) =>
      byName<{ readonly name: string; readonly addresses: readonly Prefix[] }>(
        what === "zone" ? p.zones : p.addressSets,
      );
    out.push(
      ...keyed(
        what,
        pick(before),
        pick(after),
        (n) => addresses(n).join(" "),
        (a, b) => listDelta(addresses(a), addresses(b)),
      ),
    );
  }
  const ports = (s: PolicyNode["services"][number]) =>
    s.ports.map((r) => `${s.proto}/${formatPortRange(r)}`);
  out.push(
    ...keyed(
      "service",
      byName(before.services),
      byName(after.services),
      (s) => ports(s).join(" "),
      (a, b) => listDelta(ports(a), ports(b)),
    ),
  );
  out.push(
    ...keyed("term", byName(before.terms), byName(after.terms), termText, (a, b) => {
      const fields: string[] = [];
      if (termText(a) !== termText(b)) fields.push(`${termText(a)} -> ${termText(b)}`);
      if ((a.comment ?? "") !== (b.comment ?? "")) fields.push("comment changed");
      return fields.join("; ");
    }),
  );
  const common = (p: PolicyNode, other: PolicyNode) =>
    p.terms.map((t) => t.name).filter((n) => other.terms.some((t) => t.name === n));
  const oldOrder = common(before, after);
  const newOrder = common(after, before);
  if (oldOrder.join(",") !== newOrder.join(","))
    out.push({
      change: "~",
      what: "order",
      name: "terms",
      detail: `${oldOrder.join(", ")} -> ${newOrder.join(", ")}`,
    });
  return out;
}

export function diffPlans(before: ShieldPlan, after: ShieldPlan): PlanChange[] {
  const out: PlanChange[] = [];
  for (const key of ["scope", "placement", "source"] as const)
    if (before[key] !== after[key])
      out.push({
        change: "~",
        what: "setting",
        name: key,
        detail: `${before[key]} -> ${after[key]}`,
      });
  const hosts = (p: ShieldPlan) => new Map(p.hosts.map((h) => [h.address, h]));
  out.push(
    ...keyed("host", hosts(before), hosts(after), hostText, (a, b) =>
      hostText(a) === hostText(b) ? "" : `${hostText(a)} -> ${hostText(b)}`,
    ),
  );
  out.push(...policyChanges(before.policy, after.policy));
  return out;
}

export function formatPlanDiff(changes: readonly PlanChange[]): string {
  if (changes.length === 0) return "no changes\n";
  return changes.map((c) => `${c.change} ${c.what} ${c.name}: ${c.detail}`).join("\n") + "\n";
}
