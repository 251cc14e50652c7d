/**
 * A term flattened for rule-list targets: per address family, the source and destination
 * prefixes, and per protocol the union of the ports of its services. Every generator that emits
 * one rule per (family, protocol) starts here, so none of them emits a rule twice or for a family
 * the term cannot match (the duplicate IPv4/IPv6 rules of aerleon #478).
 */
import type { AddressFamily } from "../../targets/index.js";
import type { Prefix } from "../model/address-set.js";
import { isAllPorts, normalizePorts, type PortRange } from "../model/port-set.js";
import {
  endpointFamilyPrefixes,
  termFamilies,
  termServices,
  type Endpoint,
  type PolicyNode,
  type ServiceProtocol,
  type TermNode,
} from "../model/policy.js";

export interface FamilyMatch {
  /** "both" only when source and destination are both "any". */
  readonly family: AddressFamily | "both";
  /** undefined: any address. */
  readonly src?: readonly Prefix[];
  readonly dst?: readonly Prefix[];
}

export interface ProtoMatch {
  readonly proto: ServiceProtocol;
  /** undefined: every port. */
  readonly ports?: readonly PortRange[];
}

export function familyMatches(policy: PolicyNode, node: TermNode): FamilyMatch[] {
  if (node.from === "any" && node.to === "any") return [{ family: "both" }];
  return termFamilies(policy, node).map((family) => {
    const src = endpointFamilyPrefixes(policy, node.from, family);
    const dst = endpointFamilyPrefixes(policy, node.to, family);
    return {
      family,
      ...(src === undefined ? {} : { src }),
      ...(dst === undefined ? {} : { dst }),
    };
  });
}

/** The families a match covers, "both" expanded. */
export function familiesOfMatch(match: FamilyMatch): AddressFamily[] {
  return match.family === "both" ? [4, 6] : [match.family];
}

/** Per protocol (tcp, then udp), the union of the ports; "any" for a term on every protocol. */
export function protoMatches(policy: PolicyNode, node: TermNode): ProtoMatch[] | "any" {
  const services = termServices(policy, node);
  if (services === undefined) return "any";
  const out: ProtoMatch[] = [];
  for (const proto of ["tcp", "udp"] as const) {
    const ports = normalizePorts(services.filter((s) => s.proto === proto).flatMap((s) => s.ports));
    if (ports.length === 0) continue;
    out.push(isAllPorts(ports) ? { proto } : { proto, ports });
  }
  return out;
}

/** The single zone or address-set name of an endpoint, when it names exactly one. */
export function singleName(endpoint: Endpoint): string | undefined {
  return endpoint !== "any" && endpoint.length === 1 ? endpoint[0] : undefined;
}
