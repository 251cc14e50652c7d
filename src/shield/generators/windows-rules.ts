/**
 * Windows Defender Firewall has no rule order: a matching block rule wins over any allow rule,
 * an allow rule over the profile's default. An ordered policy is compiled to that model exactly:
 * each drop term becomes block rules for its packets minus those of every earlier accept term of
 * its direction (the packets that term would really see), each accept term an allow rule as is.
 * Then a packet whose first matching term drops it is blocked (no earlier accept covers it), a
 * packet whose first matching term accepts it is in no block rule (every later drop excludes it,
 * every earlier drop missed it), and an unmatched packet meets the profile default.
 *
 * The difference of two rules is a union of boxes over (remote addresses, local addresses,
 * protocol/ports); a piece that would need "every protocol but TCP and UDP" cannot be one rule,
 * and is refused. So are reject (Windows only blocks silently), per-rule logging (Windows logs
 * per profile), forward terms and stateless policies (the firewall is a stateful host filter).
 */
import { formatAddress } from "../../targets/address.js";
import { formatRange } from "../../targets/address-range.js";
import {
  intersectRanges,
  subtractRanges,
  unionRanges,
  type AddressFamily,
  type AddressRange,
} from "../../targets/index.js";
import { ALL_RANGES } from "../model/address-set.js";
import {
  ALL_PORTS,
  intersectPorts,
  isAllPorts,
  subtractPorts,
  type PortRange,
} from "../model/port-set.js";
import { endpointRanges, termServices, type PolicyNode, type TermNode } from "../model/policy.js";
import { unrenderable, type TargetId } from "./generator.js";

interface ServiceSet {
  readonly tcp: readonly PortRange[];
  readonly udp: readonly PortRange[];
  /** Every protocol other than TCP and UDP (ICMP, GRE, ...). */
  readonly other: boolean;
}

interface Box {
  readonly remote: readonly AddressRange[];
  readonly local: readonly AddressRange[];
  readonly services: ServiceSet;
}

export interface WindowsRule {
  readonly term: TermNode;
  readonly direction: "Inbound" | "Outbound";
  readonly action: "Allow" | "Block";
  readonly protocol: "TCP" | "UDP" | "Any";
  /** Destination ports: LocalPort inbound, RemotePort outbound; undefined = any. */
  readonly ports?: readonly PortRange[];
  /** Address tokens; undefined = Any. */
  readonly remote?: readonly string[];
  readonly local?: readonly string[];
}

function servicesOf(policy: PolicyNode, node: TermNode): ServiceSet {
  const services = termServices(policy, node);
  if (services === undefined) return { tcp: ALL_PORTS, udp: ALL_PORTS, other: true };
  const ports = (proto: string) =>
    services.filter((s) => s.proto === proto).flatMap((s) => s.ports);
  return {
    tcp: intersectPorts(ports("tcp"), ALL_PORTS),
    udp: intersectPorts(ports("udp"), ALL_PORTS),
    other: false,
  };
}

function families(ranges: readonly AddressRange[]): Set<AddressFamily> {
  return new Set(ranges.map((r) => r.family));
}

function isEmpty(box: Box): boolean {
  const s = box.services;
  if (s.tcp.length === 0 && s.udp.length === 0 && !s.other) return true;
  const remote = families(box.remote);
  return ![...families(box.local)].some((f) => remote.has(f));
}

function subtractServices(a: ServiceSet, b: ServiceSet): ServiceSet {
  return {
    tcp: subtractPorts(a.tcp, b.tcp),
    udp: subtractPorts(a.udp, b.udp),
    other: a.other && !b.other,
  };
}

function intersectServices(a: ServiceSet, b: ServiceSet): ServiceSet {
  return {
    tcp: intersectPorts(a.tcp, b.tcp),
    udp: intersectPorts(a.udp, b.udp),
    other: a.other && b.other,
  };
}

/** a minus b, as disjoint boxes. */
function subtractBox(a: Box, b: Box): Box[] {
  const remoteBoth = intersectRanges(a.remote, b.remote);
  const localBoth = intersectRanges(a.local, b.local);
  const servicesBoth = intersectServices(a.services, b.services);
  if (isEmpty({ remote: remoteBoth, local: localBoth, services: servicesBoth })) return [a];
  const pieces: Box[] = [
    { remote: subtractRanges(a.remote, b.remote), local: a.local, services: a.services },
    { remote: remoteBoth, local: subtractRanges(a.local, b.local), services: a.services },
    {
      remote: remoteBoth,
      local: localBoth,
      services: subtractServices(a.services, b.services),
    },
  ];
  return pieces.filter((box) => !isEmpty(box) && box.remote.length > 0 && box.local.length > 0);
}

function addressTokens(ranges: readonly AddressRange[]): string[] | undefined {
  const all = ALL_RANGES.every((full) =>
    ranges.some((r) => r.family === full.family && r.first === full.first && r.last === full.last),
  );
  if (all) return undefined;
  return ranges.map((r) =>
    // A whole family as a range: "0.0.0.0/0" is not a Windows subnet spelling.
    r.first === 0n && ALL_RANGES.some((f) => f.family === r.family && f.last === r.last)
      ? `${formatAddress(r.family, r.first)}-${formatAddress(r.family, r.last)}`
      : formatRange(r),
  );
}

function chunks<T>(items: readonly T[] | undefined, size: number): (readonly T[] | undefined)[] {
  if (items === undefined) return [undefined];
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The Windows rules of a policy, in policy order; throws for what Windows cannot express. */
export function windowsRules(
  policy: PolicyNode,
  target: TargetId,
  maxAddresses: number,
): WindowsRule[] {
  if (!policy.stateful)
    throw unrenderable(
      target,
      "(stateless)",
      "Windows Defender Firewall is stateful: replies to an allowed connection always pass",
      "plan without --stateless",
    );
  const rules: WindowsRule[] = [];
  const accepted: Record<"in" | "out", Box[]> = { in: [], out: [] };
  for (const node of policy.terms) {
    if (node.direction === "forward")
      throw unrenderable(
        target,
        node,
        "Windows Defender Firewall filters the host's own traffic; forward terms have no rendering",
        "plan with --placement host",
      );
    if (node.action === "reject")
      throw unrenderable(
        target,
        node,
        "Windows blocks silently; it has no rule that answers with a TCP reset or ICMP",
        "use --action drop",
      );
    if (node.log)
      throw unrenderable(
        target,
        node,
        "Windows logs dropped and allowed packets per profile, not per rule",
        "plan without --log, and turn on the profile's log (Set-NetFirewallProfile -LogBlocked True)",
      );
    const from = endpointRanges(policy, node.from);
    const to = endpointRanges(policy, node.to);
    const box: Box = {
      remote: node.direction === "in" ? from : to,
      local: node.direction === "in" ? to : from,
      services: servicesOf(policy, node),
    };
    let boxes = [box];
    if (node.action === "accept") accepted[node.direction].push(box);
    else
      for (const allow of accepted[node.direction])
        boxes = boxes.flatMap((b) => subtractBox(b, allow));
    const single = boxes.flatMap((b) => perProtocol(node, b, target));
    for (const piece of mergeBoxes(single)) rules.push(...boxRules(node, piece, maxAddresses));
  }
  return rules;
}

/** One box per protocol rule: every protocol at once, or TCP, or UDP. */
function perProtocol(node: TermNode, box: Box, target: TargetId): Box[] {
  const s = box.services;
  if (s.other && isAllPorts(s.tcp) && isAllPorts(s.udp)) return [box];
  if (s.other)
    throw unrenderable(
      target,
      node,
      "an earlier accept term carves TCP or UDP ports out of this every-protocol term; Windows block rules win over allow rules, and the rest (every other protocol) is not one rule",
      "give the accept and the drop disjoint sources or destinations",
    );
  const out: Box[] = [];
  if (s.tcp.length > 0) out.push({ ...box, services: { tcp: s.tcp, udp: [], other: false } });
  if (s.udp.length > 0) out.push({ ...box, services: { tcp: [], udp: s.udp, other: false } });
  return out;
}

const rangesKey = (ranges: readonly AddressRange[]) =>
  ranges.map((r) => `${r.family}:${r.first}-${r.last}`).join(",");
const servicesKey = (s: ServiceSet) => JSON.stringify([s.tcp, s.udp, s.other]);

/**
 * Boxes of one term that differ in one address side only become one rule (the pieces of a
 * subtraction are disjoint, so the union is exact).
 */
function mergeBoxes(boxes: readonly Box[]): Box[] {
  let current = [...boxes];
  for (const side of ["remote", "local"] as const) {
    const other = side === "remote" ? "local" : "remote";
    const groups = new Map<string, Box>();
    for (const box of current) {
      const key = `${servicesKey(box.services)}|${rangesKey(box[other])}`;
      const prev = groups.get(key);
      groups.set(
        key,
        prev === undefined ? box : { ...prev, [side]: unionRanges(prev[side], box[side]) },
      );
    }
    current = [...groups.values()];
  }
  return current;
}

function boxRules(node: TermNode, box: Box, maxAddresses: number): WindowsRule[] {
  const s = box.services;
  const protocols: ["TCP" | "UDP" | "Any", readonly PortRange[] | undefined][] = [];
  if (s.other) protocols.push(["Any", undefined]);
  if (s.tcp.length > 0 && !s.other) protocols.push(["TCP", isAllPorts(s.tcp) ? undefined : s.tcp]);
  if (s.udp.length > 0 && !s.other) protocols.push(["UDP", isAllPorts(s.udp) ? undefined : s.udp]);
  const remote = addressTokens(box.remote);
  const local = addressTokens(box.local);
  const rules: WindowsRule[] = [];
  for (const [protocol, ports] of protocols) {
    for (const r of chunks(remote, maxAddresses)) {
      for (const l of chunks(local, maxAddresses)) {
        rules.push({
          term: node,
          direction: node.direction === "in" ? "Inbound" : "Outbound",
          action: node.action === "accept" ? "Allow" : "Block",
          protocol,
          ...(ports === undefined ? {} : { ports }),
          ...(r === undefined ? {} : { remote: r }),
          ...(l === undefined ? {} : { local: l }),
        });
      }
    }
  }
  return rules;
}
