/**
 * The shield's policy model: one immutable tree that every firewall generator compiles, the way
 * kysely compiles one operation-node tree to several SQL dialects (kysely-org/kysely,
 * src/operation-node/). Nodes are discriminated on `kind` and deep-frozen by their factories;
 * `createPolicy` checks the whole tree (names, references, families) once, so generators can
 * trust what they are given.
 *
 * Semantics, which every generator must render exactly or refuse (UnrenderableTermError):
 * - A packet is filtered at one of three points: `in` (addressed to the filtering device),
 *   `out` (sent by it) or `forward` (routed through it).
 * - The terms of that direction are tried in order; the first whose source, destination and
 *   service all match decides (accept, drop silently, or reject: TCP RST for TCP, ICMP/ICMPv6
 *   port unreachable for everything else). No match: the direction's stance (STANCES).
 * - `stateful`: packets of an established or related flow are accepted before any term, so terms
 *   decide new flows only (nftables `ct state established,related accept`). Stateless: every
 *   packet goes through the terms.
 * - A term matches a packet of family F only if both its source and destination admit F ("any"
 *   admits both): a term from IPv4 zones to IPv6 hosts matches nothing and is refused.
 */
import { ShieldPolicyError } from "../errors.js";
import type { AddressFamily } from "../../targets/index.js";
import {
  ALL_RANGES,
  familiesOf,
  parseAddressList,
  prefixesOf,
  rangesOf,
  type Prefix,
} from "./address-set.js";
import { normalizePorts, parsePortRange, type PortRange } from "./port-set.js";

export const DIRECTIONS = ["in", "out", "forward"] as const;
export type Direction = (typeof DIRECTIONS)[number];
export const TERM_ACTIONS = ["accept", "drop", "reject"] as const;
export type TermAction = (typeof TERM_ACTIONS)[number];
/**
 * What happens to a packet no term matched: deny (drop), allow, or unset: this policy does not
 * decide. Targets with a device-wide default (Windows profiles, the Junos default policy) leave
 * it as it is; targets whose rendering is a closed list of their own (an nftables table, the
 * iptables filter table, a pf ruleset, an IOS ACL) pass the packet on, as allow does.
 */
export const STANCES = ["deny", "allow", "unset"] as const;
export type Stance = (typeof STANCES)[number];
export const SERVICE_PROTOCOLS = ["tcp", "udp"] as const;
export type ServiceProtocol = (typeof SERVICE_PROTOCOLS)[number];

/**
 * Names of zones, address sets, services, terms and the policy: lower-case kebab, at most 24
 * characters, so that every target can use them as identifiers without quoting (pf table names
 * stop at 31 bytes, iptables log prefixes at 29) and nothing can be injected through one.
 */
export const NAME_PATTERN = /^[a-z][a-z0-9-]{0,23}$/;
/** Comments are free text (hostnames, titles); generators encode what they cannot quote. */
export const MAX_COMMENT_LENGTH = 1024;

export interface ZoneNode {
  readonly kind: "zone";
  readonly name: string;
  readonly addresses: readonly Prefix[];
  readonly comment?: string;
}

export interface AddressSetNode {
  readonly kind: "address-set";
  readonly name: string;
  readonly addresses: readonly Prefix[];
  readonly comment?: string;
}

export interface ServiceNode {
  readonly kind: "service";
  readonly name: string;
  readonly proto: ServiceProtocol;
  /** Canonical; `[0-65535]` is every port of the protocol. */
  readonly ports: readonly PortRange[];
  readonly comment?: string;
}

/** "any", or the names of zones and address sets (one namespace), matched as their union. */
export type Endpoint = "any" | readonly string[];

export interface TermNode {
  readonly kind: "term";
  readonly name: string;
  readonly action: TermAction;
  readonly direction: Direction;
  readonly from: Endpoint;
  readonly to: Endpoint;
  /** "any" (every protocol, ICMP included) or service names, matched as their union. */
  readonly services: "any" | readonly string[];
  readonly log: boolean;
  readonly comment?: string;
}

export interface PolicyNode {
  readonly kind: "policy";
  readonly name: string;
  readonly comment?: string;
  readonly stateful: boolean;
  readonly stance: Readonly<Record<Direction, Stance>>;
  readonly zones: readonly ZoneNode[];
  readonly addressSets: readonly AddressSetNode[];
  readonly services: readonly ServiceNode[];
  readonly terms: readonly TermNode[];
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    for (const inner of Object.values(value as object)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function checkName(path: string, name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new ShieldPolicyError(
      path,
      `name ${JSON.stringify(name)} is not a lower-case kebab-case name of at most 24 characters`,
      "use letters, digits and hyphens, starting with a letter",
    );
  }
}

function checkComment(path: string, comment: string | undefined): void {
  if (comment === undefined) return;
  if (comment.length > MAX_COMMENT_LENGTH)
    throw new ShieldPolicyError(path, `comment longer than ${MAX_COMMENT_LENGTH} characters`);
}

/** Addresses given as prefixes or as address expressions (`10.0.0.0/8`, `a-b`, an address). */
export type AddressInput = readonly (Prefix | string)[];

function canonicalAddresses(path: string, input: AddressInput): Prefix[] {
  const texts = input.filter((a): a is string => typeof a === "string");
  const parsed = parseAddressList(texts);
  if ("bad" in parsed) throw new ShieldPolicyError(path, `${parsed.bad}: ${parsed.reason}`);
  const prefixes = input.filter((a): a is Prefix => typeof a !== "string");
  return prefixesOf([...parsed.ranges, ...rangesOf(prefixes)]);
}

const optionalComment = (comment: string | undefined) =>
  comment === undefined || comment === "" ? {} : { comment };

export function zone(name: string, addresses: AddressInput, comment?: string): ZoneNode {
  checkName(`zones.${name}`, name);
  checkComment(`zones.${name}.comment`, comment);
  return deepFreeze({
    kind: "zone",
    name,
    addresses: canonicalAddresses(`zones.${name}`, addresses),
    ...optionalComment(comment),
  });
}

export function addressSet(
  name: string,
  addresses: AddressInput,
  comment?: string,
): AddressSetNode {
  checkName(`addressSets.${name}`, name);
  checkComment(`addressSets.${name}.comment`, comment);
  return deepFreeze({
    kind: "address-set",
    name,
    addresses: canonicalAddresses(`addressSets.${name}`, addresses),
    ...optionalComment(comment),
  });
}

/** Ports as numbers, `"137-139"` strings or ranges; none means every port. */
export function service(
  name: string,
  proto: ServiceProtocol,
  ports: readonly (number | string | PortRange)[] = [],
  comment?: string,
): ServiceNode {
  checkName(`services.${name}`, name);
  checkComment(`services.${name}.comment`, comment);
  if (!SERVICE_PROTOCOLS.includes(proto))
    throw new ShieldPolicyError(`services.${name}.proto`, `unknown protocol ${String(proto)}`);
  const ranges: PortRange[] = [];
  for (const port of ports) {
    const range = typeof port === "object" ? port : parsePortRange(port);
    if (range === undefined || range.first < 0 || range.last > 65535 || range.first > range.last)
      throw new ShieldPolicyError(
        `services.${name}.ports`,
        `${JSON.stringify(port)} is not a port (0-65535) or a range of ports (137-139)`,
      );
    ranges.push(range);
  }
  return deepFreeze({
    kind: "service",
    name,
    proto,
    ports: ranges.length === 0 ? [{ first: 0, last: 65535 }] : normalizePorts(ranges),
    ...optionalComment(comment),
  });
}

export interface TermInput {
  readonly name: string;
  readonly action: TermAction;
  readonly direction: Direction;
  readonly from?: Endpoint;
  readonly to?: Endpoint;
  readonly services?: "any" | readonly string[];
  readonly log?: boolean;
  readonly comment?: string;
}

function endpointOf(path: string, endpoint: Endpoint | undefined): Endpoint {
  if (endpoint === undefined || endpoint === "any") return "any";
  if (endpoint.length === 0) throw new ShieldPolicyError(path, `empty list (write "any")`);
  const names = [...new Set(endpoint)];
  if (names.length !== endpoint.length) throw new ShieldPolicyError(path, "a name is listed twice");
  return names;
}

export function term(input: TermInput): TermNode {
  const path = `terms.${input.name}`;
  checkName(path, input.name);
  checkComment(`${path}.comment`, input.comment);
  if (!TERM_ACTIONS.includes(input.action))
    throw new ShieldPolicyError(`${path}.action`, `unknown action ${String(input.action)}`);
  if (!DIRECTIONS.includes(input.direction))
    throw new ShieldPolicyError(
      `${path}.direction`,
      `unknown direction ${String(input.direction)}`,
    );
  return deepFreeze({
    kind: "term",
    name: input.name,
    action: input.action,
    direction: input.direction,
    from: endpointOf(`${path}.from`, input.from),
    to: endpointOf(`${path}.to`, input.to),
    services:
      input.services === undefined || input.services === "any"
        ? "any"
        : (endpointOf(`${path}.services`, input.services) as readonly string[]),
    log: input.log ?? false,
    ...optionalComment(input.comment),
  });
}

export interface PolicyInput {
  readonly name: string;
  readonly comment?: string;
  /** Default true. */
  readonly stateful?: boolean;
  /** Default deny in every direction: "deny all except what is explicitly allowed". */
  readonly stance?: Partial<Record<Direction, Stance>>;
  readonly zones?: readonly ZoneNode[];
  readonly addressSets?: readonly AddressSetNode[];
  readonly services?: readonly ServiceNode[];
  readonly terms?: readonly TermNode[];
}

/** Builds and checks a whole policy; throws ShieldPolicyError on the first problem. */
export function createPolicy(input: PolicyInput): PolicyNode {
  checkName("name", input.name);
  checkComment("comment", input.comment);
  const zones = input.zones ?? [];
  const sets = input.addressSets ?? [];
  const services = input.services ?? [];
  const terms = input.terms ?? [];
  const addressNames = new Map<string, ZoneNode | AddressSetNode>();
  for (const node of [...zones, ...sets]) {
    const where = node.kind === "zone" ? "zones" : "addressSets";
    if (addressNames.has(node.name))
      throw new ShieldPolicyError(
        `${where}.${node.name}`,
        "zones and address sets share one namespace; this name is used twice",
      );
    if (node.addresses.length === 0)
      throw new ShieldPolicyError(`${where}.${node.name}`, "has no addresses");
    addressNames.set(node.name, node);
  }
  const serviceNames = new Map<string, ServiceNode>();
  for (const node of services) {
    if (serviceNames.has(node.name))
      throw new ShieldPolicyError(`services.${node.name}`, "this name is used twice");
    serviceNames.set(node.name, node);
  }
  const termNames = new Set<string>();
  const families = (endpoint: Endpoint): Set<AddressFamily> =>
    endpoint === "any"
      ? new Set<AddressFamily>([4, 6])
      : familiesOf(endpoint.flatMap((name) => addressNames.get(name)?.addresses ?? []));
  for (const node of terms) {
    const path = `terms.${node.name}`;
    if (termNames.has(node.name)) throw new ShieldPolicyError(path, "this name is used twice");
    termNames.add(node.name);
    for (const side of ["from", "to"] as const) {
      const endpoint = node[side];
      if (endpoint === "any") continue;
      for (const name of endpoint) {
        if (!addressNames.has(name))
          throw new ShieldPolicyError(`${path}.${side}`, `no zone or address set named ${name}`);
      }
    }
    if (node.services !== "any") {
      for (const name of node.services) {
        if (!serviceNames.has(name))
          throw new ShieldPolicyError(`${path}.services`, `no service named ${name}`);
      }
    }
    const from = families(node.from);
    const both = [...families(node.to)].filter((f) => from.has(f));
    if (both.length === 0)
      throw new ShieldPolicyError(
        path,
        "matches no packet: its source and destination share no address family",
      );
  }
  return deepFreeze({
    kind: "policy",
    name: input.name,
    ...optionalComment(input.comment),
    stateful: input.stateful ?? true,
    stance: {
      in: input.stance?.in ?? "deny",
      out: input.stance?.out ?? "deny",
      forward: input.stance?.forward ?? "deny",
    },
    zones: [...zones],
    addressSets: [...sets],
    services: [...services],
    terms: [...terms],
  });
}

// --- reading a policy, for generators and evaluators ------------------------------------------

/** The prefixes an endpoint stands for; undefined for "any". */
export function endpointPrefixes(policy: PolicyNode, endpoint: Endpoint): Prefix[] | undefined {
  if (endpoint === "any") return undefined;
  const byName = new Map<string, readonly Prefix[]>();
  for (const node of [...policy.zones, ...policy.addressSets])
    byName.set(node.name, node.addresses);
  return prefixesOf(endpoint.flatMap((name) => rangesOf(byName.get(name) ?? [])));
}

/** The ranges an endpoint stands for, "any" as the whole IPv4 and IPv6 spaces. */
export function endpointRanges(policy: PolicyNode, endpoint: Endpoint) {
  const prefixes = endpointPrefixes(policy, endpoint);
  return prefixes === undefined ? [...ALL_RANGES] : rangesOf(prefixes);
}

export function termServices(policy: PolicyNode, node: TermNode): ServiceNode[] | undefined {
  if (node.services === "any") return undefined;
  const byName = new Map(policy.services.map((s) => [s.name, s]));
  return node.services.map((name) => byName.get(name)!);
}

/**
 * The address families a term can match: both sides must admit the family. Generators that
 * render one rule per family use this so that no rule is emitted twice or for nothing.
 */
export function termFamilies(policy: PolicyNode, node: TermNode): AddressFamily[] {
  const of = (endpoint: Endpoint): Set<AddressFamily> => {
    const prefixes = endpointPrefixes(policy, endpoint);
    return prefixes === undefined ? new Set<AddressFamily>([4, 6]) : familiesOf(prefixes);
  };
  const from = of(node.from);
  const to = of(node.to);
  return ([4, 6] as const).filter((f) => from.has(f) && to.has(f));
}

/** Prefixes of one family, or undefined for "any". */
export function endpointFamilyPrefixes(
  policy: PolicyNode,
  endpoint: Endpoint,
  family: AddressFamily,
): Prefix[] | undefined {
  const prefixes = endpointPrefixes(policy, endpoint);
  return prefixes?.filter((p) => p.family === family);
}
