/**
 * Builds a shield plan from exposures (open findings, or a plain exposure list) and the advisory
 * catalog. Pure: the CLI reads the store and the files and passes plain data in.
 *
 * Term order, the same for every plan (research ms03-026-detection.md §1.4, risk-and-policy §5.6):
 * 1. the user's allow terms (`--allow mgmt:tcp/445`), ahead of every block, so a management
 *    network keeps its path to quarantined and shielded hosts;
 * 2. domain controllers: their clients keep the advisory ports (restrict sources instead of
 *    closing 135 and 445, which breaks Active Directory: KB 828189; the risk engine's shield-host
 *    action says restrict-sources for them too);
 * 3. quarantine: everything between the quarantine zones (the Internet by default) and the
 *    host dropped, both ways: the advisory's "disconnect until protected" as one reversible,
 *    verifiable rule set;
 * 4. inbound blocks: the advisory's block list (`remediation.block`, inbound and both), per group
 *    of hosts with the same list; never the services the advisory marks conditional (COM Internet
 *    Services / RPC over HTTP on 80 and 443): those are flagged, not blocked;
 * 5. egress blocks: the block entries marked outbound or both, and worm propagation (TCP 135 for
 *    Blaster: research §1.4 [R]; TCP 445 for WannaCry).
 */
import type { Advisory, AdvisoryCatalog } from "../../advisories/index.js";
import { compareText } from "../../advisories/index.js";
import {
  formatAddress,
  parseAddress,
  subtractRanges,
  unionRanges,
  type AddressRange,
} from "../../targets/index.js";
import { RingfenceError } from "../../errors.js";
import { ALL_RANGES, parseAddressList } from "../model/address-set.js";
import { parsePortRange, type PortRange } from "../model/port-set.js";
import {
  addressSet,
  createPolicy,
  NAME_PATTERN,
  service,
  term,
  type AddressSetNode,
  type Direction,
  type ServiceNode,
  type ServiceProtocol,
  type TermNode,
  type ZoneNode,
  zone,
} from "../model/policy.js";
import {
  PLAN_SCHEMA_ID,
  type PlanFlag,
  type PlanHost,
  type ShieldPlacement,
  type ShieldPlan,
  type ShieldScope,
} from "./shield-plan.js";

/** One thing to shield: an open finding, or a line of an exposure list. */
export interface Exposure {
  readonly address: string;
  /** Catalog id or alias. */
  readonly advisory: string;
  readonly findingId?: number;
  readonly role?: "domain-controller";
  /** Set when this exposure alone puts the host in quarantine (a compromise, an assessment). */
  readonly quarantine?: string;
}

/** An open service seen on a host (inventory or exposure list), for the flags. */
export interface OpenService {
  readonly address: string;
  readonly proto: ServiceProtocol;
  readonly port: number;
}

/** `--allow <zone|cidr>:<proto>/<ports>[@<zone|cidr>]`. */
export interface AllowSpec {
  readonly text: string;
  /** A zone name, or address expressions. */
  readonly from: string | readonly AddressRange[];
  readonly proto: ServiceProtocol;
  readonly ports: readonly PortRange[];
  readonly to?: string | readonly AddressRange[];
}

export interface ZoneSpec {
  readonly name: string;
  readonly ranges: readonly AddressRange[];
  readonly comment?: string;
}

export interface PlanOptions {
  readonly name?: string;
  readonly source: "findings" | "exposures";
  readonly scope: ShieldScope;
  /** Default: host for the affected scope, network for the perimeter. */
  readonly placement?: ShieldPlacement;
  /** unset (default): the plan blocks and allows only; deny: deny in and forward by default. */
  readonly stance?: "unset" | "deny";
  readonly action?: "drop" | "reject";
  readonly log?: boolean;
  readonly stateful?: boolean;
  /** Only these advisories (ids or aliases); default: every advisory of the exposures. */
  readonly advisories?: readonly string[];
  readonly zones?: readonly ZoneSpec[];
  readonly allows?: readonly AllowSpec[];
  /** Addresses to quarantine (besides the exposures that ask for it). */
  readonly quarantine?: readonly string[];
  /** Zone names quarantine cuts off, or ["any"]; default ["internet"]. */
  readonly quarantineZones?: readonly string[];
  readonly domainControllers?: readonly string[];
  /** Who may still reach a domain controller's advisory ports: zone names or address lists. */
  readonly dcClients?: readonly (string | readonly AddressRange[])[];
}

/**
 * Not routable from the Internet (the risk engine's list, src/risk/site.ts): the default
 * "internal" zone when the user declares none. For IPv6 the whole reserved ::/8 (loopback,
 * unspecified, IPv4-mapped: never the source of a routed packet) rather than ::1 alone, which
 * keeps the Internet zone a dozen prefixes instead of a hundred.
 */
export const DEFAULT_INTERNAL = [
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "100.64.0.0/10",
  "0.0.0.0/8",
  "::/8",
  "fc00::/7",
  "fe80::/10",
];

/**
 * Egress blocks that stop a compromised host from spreading, beyond the advisory's own
 * `direction: both` entries: the worm's scan port (research ms03-026-detection.md §1.4 [R]:
 * "egress deny TCP 135 and TCP 4444 from the host (stops propagation)"; WannaCry scanned 445,
 * US-CERT TA17-132A).
 */
const PROPAGATION_EGRESS: Readonly<Record<string, readonly string[]>> = {
  "ms03-026": ["tcp/135"],
  "blaster-backdoor": ["tcp/135"],
  "ms17-010": ["tcp/445"],
};

function usage(message: string, hint?: string): RingfenceError {
  return new RingfenceError("RINGFENCE_USAGE", message, hint === undefined ? {} : { hint });
}

function canonicalAddress(text: string): {
  key: string;
  text: string;
  family: 4 | 6;
  value: bigint;
} {
  const parsed = parseAddress(text.trim());
  if (parsed === undefined) throw usage(`${JSON.stringify(text)} is not an IP address`);
  return {
    key: `${parsed.family}:${parsed.value.toString(16)}`,
    text: formatAddress(parsed.family, parsed.value),
    family: parsed.family,
    value: parsed.value,
  };
}

function serviceKey(proto: string, port: number): string {
  return `${proto}/${port}`;
}

function sortServices(keys: Iterable<string>): string[] {
  return [...new Set(keys)].sort((a, b) => {
    const [pa, na] = a.split("/");
    const [pb, nb] = b.split("/");
    return compareText(pa!, pb!) || Number(na) - Number(nb);
  });
}

/** The advisory's block lists, without the conditional services (80/443 for RPC over HTTP). */
function blocksOf(advisory: Advisory): {
  inbound: string[];
  outbound: string[];
  skipped: string[];
} {
  const conditional = new Set(
    advisory.services
      .filter((s) => s.condition !== undefined)
      .map((s) => serviceKey(s.proto, s.port)),
  );
  const inbound: string[] = [];
  const outbound: string[] = [...(PROPAGATION_EGRESS[advisory.id] ?? [])];
  const skipped: string[] = [];
  for (const block of advisory.remediation.block) {
    const key = serviceKey(block.proto, block.port);
    if (conditional.has(key)) {
      skipped.push(key);
      continue;
    }
    if (block.direction !== "outbound") inbound.push(key);
    if (block.direction !== "inbound") outbound.push(key);
  }
  return { inbound: sortServices(inbound), outbound: sortServices(outbound), skipped };
}

/** Services (one per protocol) for a list of `proto/port` keys. */
function servicesFor(prefix: string, keys: readonly string[], comment: string): ServiceNode[] {
  const out: ServiceNode[] = [];
  for (const proto of ["tcp", "udp"] as const) {
    const ports = keys.filter((k) => k.startsWith(`${proto}/`)).map((k) => Number(k.slice(4)));
    if (ports.length > 0) out.push(service(`${prefix}-${proto}`, proto, ports, comment));
  }
  return out;
}

interface HostState {
  address: string;
  family: 4 | 6;
  value: bigint;
  advisories: Set<string>;
  findings: Set<number>;
  dc: boolean;
  quarantine?: string;
}

function advisoryTitle(ids: readonly string[]): string {
  return ids.join(", ");
}

export function buildShieldPlan(
  catalog: AdvisoryCatalog,
  exposures: readonly Exposure[],
  openServices: readonly OpenService[],
  options: PlanOptions,
): ShieldPlan {
  const name = options.name ?? "shield";
  if (!NAME_PATTERN.test(name))
    throw usage(
      `plan name ${JSON.stringify(name)} must be lower-case kebab-case, at most 24 characters`,
    );
  const scope = options.scope;
  const placement = options.placement ?? (scope === "affected" ? "host" : "network");
  const inward: Direction = placement === "host" ? "in" : "forward";
  const outward: Direction = placement === "host" ? "out" : "forward";
  const action = options.action ?? "drop";
  const log = options.log ?? false;
  const warnings: string[] = [];

  // Advisories: resolve ids and aliases once, keep the ones asked for.
  const wanted =
    options.advisories === undefined || options.advisories.length === 0
      ? undefined
      : new Set(options.advisories.map((id) => catalog.require(id).id));
  const advisories = new Map<string, Advisory>();

  const hosts = new Map<string, HostState>();
  const hostOf = (address: string): HostState => {
    const canonical = canonicalAddress(address);
    let state = hosts.get(canonical.key);
    if (state === undefined) {
      state = {
        address: canonical.text,
        family: canonical.family,
        value: canonical.value,
        advisories: new Set(),
        findings: new Set(),
        dc: false,
      };
      hosts.set(canonical.key, state);
    }
    return state;
  };
  for (const exposure of exposures) {
    const advisory = catalog.require(exposure.advisory);
    if (wanted !== undefined && !wanted.has(advisory.id)) continue;
    if (advisory.remediation.block.length === 0 && exposure.quarantine === undefined) {
      warnings.push(
        `${exposure.address}: advisory ${advisory.id} lists no ports to block; not shielded by this plan`,
      );
      continue;
    }
    advisories.set(advisory.id, advisory);
    const host = hostOf(exposure.address);
    if (advisory.remediation.block.length > 0) host.advisories.add(advisory.id);
    if (exposure.findingId !== undefined) host.findings.add(exposure.findingId);
    if (exposure.role === "domain-controller") host.dc = true;
    if (exposure.quarantine !== undefined && host.quarantine === undefined)
      host.quarantine = exposure.quarantine;
  }
  for (const address of options.quarantine ?? []) {
    const host = hostOf(address);
    host.quarantine = "--quarantine";
  }
  for (const address of options.domainControllers ?? []) hostOf(address).dc = true;

  const sortedHosts = [...hosts.values()].sort(
    (a, b) => a.family - b.family || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0),
  );

  // Per host: the services blocked toward it and from it.
  const planHosts: PlanHost[] = [];
  const profiles = new Map<
    string,
    { inbound: string[]; outbound: string[]; ids: Set<string>; hosts: HostState[] }
  >();
  const skippedConditional = new Set<string>();
  for (const host of sortedHosts) {
    const inbound: string[] = [];
    const outbound: string[] = [];
    for (const id of [...host.advisories].sort(compareText)) {
      const blocks = blocksOf(advisories.get(id)!);
      inbound.push(...blocks.inbound);
      outbound.push(...blocks.outbound);
      for (const s of blocks.skipped) skippedConditional.add(`${id} ${s}`);
    }
    const blockIn = sortServices(inbound);
    const blockOut = sortServices(outbound);
    planHosts.push({
      address: host.address,
      advisories: [...host.advisories].sort(compareText),
      findings: [...host.findings].sort((a, b) => a - b),
      ...(host.dc ? { role: "domain-controller" as const } : {}),
      quarantined: host.quarantine !== undefined,
      ...(host.quarantine === undefined ? {} : { quarantineReason: host.quarantine }),
      blockIn,
      blockOut,
    });
    if (blockIn.length === 0 && blockOut.length === 0) continue;
    const key = `${blockIn.join(",")}|${blockOut.join(",")}`;
    const profile = profiles.get(key) ?? {
      inbound: blockIn,
      outbound: blockOut,
      ids: new Set(),
      hosts: [],
    };
    for (const id of host.advisories) profile.ids.add(id);
    profile.hosts.push(host);
    profiles.set(key, profile);
  }
  for (const skipped of [...skippedConditional].sort(compareText))
    warnings.push(
      `${skipped}: conditional service (RPC over HTTP / COM Internet Services) not blocked wholesale; see flags`,
    );

  // Flags: conditional services (80/443) open on an affected host.
  const flags: PlanFlag[] = [];
  const openByHost = new Map<string, Set<string>>();
  for (const s of openServices) {
    const key = canonicalAddress(s.address).key;
    const set = openByHost.get(key) ?? new Set<string>();
    set.add(serviceKey(s.proto, s.port));
    openByHost.set(key, set);
  }
  for (const host of sortedHosts) {
    const open = openByHost.get(canonicalAddress(host.address).key) ?? new Set<string>();
    for (const id of [...host.advisories].sort(compareText)) {
      const advisory = advisories.get(id)!;
      const feature = [...advisory.remediation.workarounds]
        .sort((a, b) => compareText(a.id, b.id))
        .find((w) => w.kind === "disable-feature");
      for (const s of advisory.services) {
        if (s.condition === undefined || !open.has(serviceKey(s.proto, s.port))) continue;
        flags.push({
          host: host.address,
          service: serviceKey(s.proto, s.port),
          advisory: id,
          reason: `${s.name} (${s.condition}): not blocked wholesale; ${feature === undefined ? "disable the feature" : `${feature.title} (${feature.refs.join(", ") || feature.id})`}`,
        });
      }
    }
  }

  // Zones: the user's and the site's, then internal and internet by default.
  const zoneSpecs = new Map<string, ZoneSpec>();
  for (const spec of options.zones ?? []) {
    if (zoneSpecs.has(spec.name)) {
      const prev = zoneSpecs.get(spec.name)!;
      zoneSpecs.set(spec.name, { ...prev, ranges: unionRanges(prev.ranges, spec.ranges) });
    } else zoneSpecs.set(spec.name, spec);
  }
  if (!zoneSpecs.has("internal")) {
    const parsed = parseAddressList(DEFAULT_INTERNAL);
    if ("ranges" in parsed)
      zoneSpecs.set("internal", {
        name: "internal",
        ranges: subtractRanges(
          parsed.ranges,
          [...zoneSpecs.values()].flatMap((z) => z.ranges),
        ),
        comment:
          "not routable from the Internet (RFC 1918, loopback, link-local, CGNAT, ULA, ::/8)",
      });
  }
  if (!zoneSpecs.has("internet")) {
    zoneSpecs.set("internet", {
      name: "internet",
      ranges: subtractRanges(
        ALL_RANGES,
        [...zoneSpecs.values()].flatMap((z) => z.ranges),
      ),
      comment: "every address outside the other zones",
    });
  }
  const zones: ZoneNode[] = [...zoneSpecs.values()]
    .filter((z) => z.ranges.length > 0)
    .sort((a, b) => compareText(a.name, b.name))
    .map((z) => zone(z.name, z.ranges.map(rangeText), z.comment));
  const zoneNames = new Set(zones.map((z) => z.name));

  const sets: AddressSetNode[] = [];
  const services: ServiceNode[] = [];
  const terms: TermNode[] = [];
  const endpointOf = (
    spec: string | readonly AddressRange[],
    setName: string,
    what: string,
  ): readonly string[] | "any" => {
    if (typeof spec === "string") {
      if (spec === "any") return "any";
      if (!zoneNames.has(spec))
        throw usage(
          `${what}: no zone named ${spec}`,
          `declare it with --zone ${spec}=<cidr>[,<cidr>...], or use an address`,
        );
      return [spec];
    }
    sets.push(addressSet(setName, spec.map(rangeText)));
    return [setName];
  };

  const protectedHosts = sortedHosts.filter(
    (h) => h.advisories.size > 0 || h.quarantine !== undefined,
  );
  if (scope === "affected" && protectedHosts.length > 0)
    sets.push(
      addressSet(
        "protected",
        protectedHosts.map((h) => h.address),
        "every host this plan shields or quarantines",
      ),
    );

  // 1. The user's allow terms.
  (options.allows ?? []).forEach((allow, index) => {
    const n = index + 1;
    const from = endpointOf(allow.from, `allow-${n}-from`, `--allow ${allow.text}`);
    const to =
      allow.to !== undefined
        ? endpointOf(allow.to, `allow-${n}-to`, `--allow ${allow.text}`)
        : scope === "affected"
          ? protectedHosts.length > 0
            ? ["protected"]
            : "any"
          : "any";
    services.push(service(`allow-${n}`, allow.proto, [...allow.ports], `--allow ${allow.text}`));
    terms.push(
      term({
        name: `allow-${n}`,
        action: "accept",
        direction: inward,
        from,
        to,
        services: [`allow-${n}`],
        comment: `kept by the user: --allow ${allow.text}`,
      }),
    );
  });

  // 2. Domain controllers: their clients keep the advisory's inbound ports.
  const dcs = protectedHosts.filter((h) => h.dc && h.advisories.size > 0);
  if (dcs.length > 0 && scope === "affected") {
    // Only the services Active Directory uses (the advisory's services), never the worm's extras
    // (the 4444 shell, TFTP): those stay closed on a DC like anywhere else.
    const dcPorts = sortServices(
      dcs.flatMap((h) => {
        const blocked = new Set(planHosts.find((p) => p.address === h.address)?.blockIn ?? []);
        return [...h.advisories].flatMap((id) =>
          advisories
            .get(id)!
            .services.filter((s) => s.condition === undefined)
            .map((s) => serviceKey(s.proto, s.port))
            .filter((key) => blocked.has(key)),
        );
      }),
    );
    const clients =
      options.dcClients ?? [...zoneNames].filter((z) => z !== "internet").sort(compareText);
    const from: string[] = [];
    clients.forEach((client, index) => {
      const endpoint = endpointOf(client, `dc-clients-${index + 1}`, "--dc-clients");
      if (endpoint !== "any") from.push(...endpoint);
    });
    sets.push(
      addressSet(
        "domain-controllers",
        dcs.map((h) => h.address),
        "restrict sources instead of closing 135 and 445 (KB 828189)",
      ),
    );
    const dcServices = servicesFor(
      "dc-clients",
      dcPorts,
      "the advisory ports of domain controllers",
    );
    services.push(...dcServices);
    if (from.length > 0 && dcServices.length > 0)
      terms.push(
        term({
          name: "dc-clients",
          action: "accept",
          direction: inward,
          from,
          to: ["domain-controllers"],
          services: dcServices.map((s) => s.name),
          comment:
            "domain controllers: clients keep RPC/SMB (blocking 135 breaks Active Directory, KB 828189)",
        }),
      );
    else
      warnings.push(
        "domain controllers: no client zone to keep their ports open to; they are closed like any host",
      );
  }

  // 3. Quarantine.
  const quarantined = sortedHosts.filter((h) => h.quarantine !== undefined);
  if (quarantined.length > 0) {
    sets.push(
      addressSet(
        "quarantined",
        quarantined.map((h) => h.address),
        "disconnected until protected: every packet to or from the quarantine zones dropped",
      ),
    );
    const qzones = options.quarantineZones ?? ["internet"];
    const peers: readonly string[] | "any" = qzones.includes("any")
      ? "any"
      : qzones.map((z) => {
          if (!zoneNames.has(z)) throw usage(`--quarantine-zone: no zone named ${z}`);
          return z;
        });
    const label = peers === "any" ? "every zone" : peers.join(", ");
    terms.push(
      term({
        name: "quarantine-in",
        action,
        direction: inward,
        from: peers,
        to: ["quarantined"],
        log,
        comment: `quarantine: nothing from ${label} reaches the host (management paths above are kept)`,
      }),
      term({
        name: "quarantine-out",
        action,
        direction: outward,
        from: ["quarantined"],
        to: peers,
        log,
        comment: `quarantine: nothing from the host reaches ${label}`,
      }),
    );
  }

  // 4 and 5. Blocks, per profile of hosts (affected) or for the whole perimeter.
  const profileList = [...profiles.values()];
  if (scope === "affected") {
    profileList.forEach((profile, index) => {
      const suffix = profileList.length === 1 ? "" : `-${index + 1}`;
      const setName = `affected${suffix}`;
      const ids = [...profile.ids].sort(compareText);
      sets.push(
        addressSet(
          setName,
          profile.hosts.map((h) => h.address),
          `hosts affected by ${advisoryTitle(ids)}`,
        ),
      );
      const inServices = servicesFor(`block-in${suffix}`, profile.inbound, advisoryTitle(ids));
      const outServices = servicesFor(`block-out${suffix}`, profile.outbound, advisoryTitle(ids));
      services.push(...inServices, ...outServices);
      if (inServices.length > 0)
        terms.push(
          term({
            name: `block-in${suffix}`,
            action,
            direction: inward,
            to: [setName],
            services: inServices.map((s) => s.name),
            log,
            comment: `${advisoryTitle(ids)}: block ${profile.inbound.join(" ")} toward the affected hosts`,
          }),
        );
      if (outServices.length > 0)
        terms.push(
          term({
            name: `block-out${suffix}`,
            action,
            direction: outward,
            from: [setName],
            services: outServices.map((s) => s.name),
            log,
            comment: `${advisoryTitle(ids)}: block ${profile.outbound.join(" ")} from the affected hosts (propagation, backdoors)`,
          }),
        );
    });
  } else if (profileList.length > 0) {
    const ids = [...new Set(profileList.flatMap((p) => [...p.ids]))].sort(compareText);
    const inbound = sortServices(profileList.flatMap((p) => p.inbound));
    const outbound = sortServices(profileList.flatMap((p) => p.outbound));
    const inServices = servicesFor("block-in", inbound, advisoryTitle(ids));
    const outServices = servicesFor("block-out", outbound, advisoryTitle(ids));
    services.push(...inServices, ...outServices);
    if (!zoneNames.has("internet"))
      throw usage("the perimeter scope needs an internet zone with addresses");
    if (inServices.length > 0)
      terms.push(
        term({
          name: "block-in",
          action,
          direction: inward,
          from: ["internet"],
          services: inServices.map((s) => s.name),
          log,
          comment: `${advisoryTitle(ids)}: block ${inbound.join(" ")} from the Internet at the perimeter`,
        }),
      );
    if (outServices.length > 0)
      terms.push(
        term({
          name: "block-out",
          action,
          direction: outward,
          to: ["internet"],
          services: outServices.map((s) => s.name),
          log,
          comment: `${advisoryTitle(ids)}: block ${outbound.join(" ")} toward the Internet (propagation, backdoors)`,
        }),
      );
  }
  if (terms.length === 0)
    warnings.push("nothing to shield: no exposure with ports to block, no quarantine, no allow");

  const stance = options.stance ?? "unset";
  if (stance === "deny")
    warnings.push(
      "stance deny: every packet no term accepts is dropped, IPv6 neighbour discovery included on hosts; list what must stay reachable with --allow",
    );
  const policy = createPolicy({
    name,
    comment: `ringfence shield plan (${scope} scope, ${placement} placement)`,
    stateful: options.stateful ?? true,
    stance: {
      in: placement === "host" ? stance : "unset",
      out: "unset",
      forward: placement === "network" ? stance : "unset",
    },
    zones,
    addressSets: sets,
    services,
    terms,
  });
  return {
    schema: PLAN_SCHEMA_ID,
    name,
    source: options.source,
    scope,
    placement,
    advisories: [...advisories.keys()].sort(compareText),
    hosts: planHosts,
    flags,
    warnings,
    policy,
  };
}

/** A range as the model's address input: exact, re-canonicalised by the factories. */
function rangeText(range: AddressRange): string {
  const fmt = (v: bigint) => formatAddress(range.family, v);
  return range.first === range.last ? fmt(range.first) : `${fmt(range.first)}-${fmt(range.last)}`;
}

// --- parsing the CLI's allow and zone specs ------------------------------------------------------

/** `mgmt:tcp/445`, `10.9.0.0/24:tcp/135,137-139@203.0.113.10`, `[2001:db8::/32]:udp/137`. */
export function parseAllowSpec(text: string): AllowSpec {
  const match = /^(.+):(tcp|udp)\/([0-9,-]+)(?:@(.+))?$/.exec(text.trim());
  if (match === null)
    throw usage(
      `--allow ${JSON.stringify(text)}: expected <zone|cidr>:<tcp|udp>/<ports>[@<zone|cidr>]`,
      "e.g. --allow mgmt:tcp/445 or --allow 10.9.0.0/24:tcp/3389@203.0.113.12",
    );
  const ports: PortRange[] = [];
  for (const part of match[3]!.split(",")) {
    const range = parsePortRange(part);
    if (range === undefined)
      throw usage(`--allow ${text}: ${JSON.stringify(part)} is not a port or a port range`);
    ports.push(range);
  }
  return {
    text: text.trim(),
    from: addressOrZone(match[1]!, `--allow ${text}`),
    proto: match[2] as ServiceProtocol,
    ports,
    ...(match[4] === undefined ? {} : { to: addressOrZone(match[4], `--allow ${text}`) }),
  };
}

/** A zone name stays a name; anything else must be address expressions (comma separated). */
export function addressOrZone(text: string, what: string): string | readonly AddressRange[] {
  const trimmed = text.trim().replace(/^\[(.*)\]$/, "$1");
  if (NAME_PATTERN.test(trimmed) || trimmed === "any") return trimmed;
  const parsed = parseAddressList(trimmed.split(","));
  if ("bad" in parsed)
    throw usage(`${what}: ${parsed.bad} is neither a zone name nor an address (${parsed.reason})`);
  return parsed.ranges;
}

/** `--zone mgmt=10.9.0.0/24,2001:db8:9::/48`. */
export function parseZoneSpec(text: string): ZoneSpec {
  const eq = text.indexOf("=");
  const name = eq < 0 ? "" : text.slice(0, eq).trim();
  if (!NAME_PATTERN.test(name))
    throw usage(
      `--zone ${JSON.stringify(text)}: expected <name>=<cidr>[,<cidr>...] with a kebab-case name`,
    );
  const parsed = parseAddressList(
    text
      .slice(eq + 1)
      .split(",")
      .filter((s) => s.trim() !== ""),
  );
  if ("bad" in parsed) throw usage(`--zone ${text}: ${parsed.bad}: ${parsed.reason}`);
  if (parsed.ranges.length === 0) throw usage(`--zone ${text}: no addresses`);
  return { name, ranges: parsed.ranges };
}
