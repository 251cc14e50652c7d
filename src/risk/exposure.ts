/**
 * SSVC System Exposure per (asset, advisory) as of a time: research §5.3 D-EXPO.
 *
 * 1. Only the advisory's services that the asset actually exposes count. A service observed
 *    from the Internet (or an extranet) is open whatever the asset's zone; otherwise the zone
 *    decides: internet/extranet/roaming ⇒ open, internal ⇒ policy.internalExposure,
 *    restricted ⇒ controlled, isolated ⇒ small.
 * 2. Only controls that are verified (not merely declared), already verified at that time and
 *    not expired lower it, and only for the services they cover. SSVC's Deployer how-to lets an
 *    effective firewall rule lower open → controlled "only … until someone changes the rule",
 *    hence the expiry (research §3.1, §5.5).
 * 3. publiclyExposed (BOD 26-04's "Publicly Exposed") is computed alongside.
 */
import {
  addIsoDuration,
  compareText,
  maxOf,
  parseInstant,
  type Advisory,
  type ServiceProtocol,
  type Zone,
} from "../advisories/index.js";
import { parseAddress, parseRangeExpression, rangesContain } from "../targets/index.js";
import type { RiskPolicy } from "./policy.js";
import { SYSTEM_EXPOSURES, type SystemExposure } from "./ssvc.js";
import type { Asset, Control, ExposedService, Finding } from "./types.js";

const OUTSIDE: readonly Zone[] = ["internet", "extranet"];
const PUBLIC_ZONES: readonly Zone[] = ["internet", "extranet", "roaming"];

export type ControlState = "valid" | "expired" | "unverified" | "declared" | "not-yet-verified";

export interface ControlStatus {
  readonly control: Control;
  readonly state: ControlState;
  /** When it stops counting (verifiedAt + TTL, or expiresAt if sooner). */
  readonly validUntil?: number;
}

/** Whether the control is meant for this asset (by id, zone or address range). */
export function controlAppliesTo(control: Control, asset: Asset): boolean {
  if (control.appliesTo.assets?.includes(asset.id)) return true;
  if (control.appliesTo.zones?.includes(asset.zone.value)) return true;
  const address = parseAddress(asset.address);
  if (address === undefined) return false;
  return (control.appliesTo.ranges ?? []).some((text) => {
    const range = parseRangeExpression(text);
    return !("reason" in range) && rangesContain([range], address);
  });
}

function isRoaming(asset: Asset): boolean {
  return asset.zone.value === "roaming" || asset.role.value === "laptop";
}

/** The policy TTL of a control on this asset (research §5.5: 7 days; 24 h for laptop firewalls). */
export function controlTtl(control: Control, asset: Asset, policy: RiskPolicy): string {
  switch (control.kind) {
    case "perimeter-block":
      return policy.controlTtl.perimeterBlock;
    case "segment-acl":
      return policy.controlTtl.segmentAcl;
    case "service-disabled":
      return policy.controlTtl.serviceDisabled;
    case "host-firewall":
      return isRoaming(asset)
        ? policy.controlTtl.hostFirewallRoaming
        : policy.controlTtl.hostFirewall;
  }
}

/** A control's standing at time `t` (ms). */
export function controlStatus(
  control: Control,
  asset: Asset,
  policy: RiskPolicy,
  t: number,
): ControlStatus {
  if (control.method === "declared") return { control, state: "declared" };
  const verified = control.verifiedAt === undefined ? undefined : parseInstant(control.verifiedAt);
  if (verified === undefined) return { control, state: "unverified" };
  if (verified > t) return { control, state: "not-yet-verified" };
  const byTtl = addIsoDuration(verified, controlTtl(control, asset, policy));
  const explicit = control.expiresAt === undefined ? undefined : parseInstant(control.expiresAt);
  const validUntil = explicit === undefined ? byTtl : Math.min(byTtl, explicit);
  return { control, state: t < validUntil ? "valid" : "expired", validUntil };
}

function covers(
  control: Control,
  advisory: Advisory,
  proto: ServiceProtocol,
  port: number,
): boolean {
  if (control.mitigates?.some((id) => id.toLowerCase() === advisory.id)) return true;
  return control.covers.some((service) => service.proto === proto && service.port === port);
}

export interface ExposureResult {
  readonly level: SystemExposure;
  readonly publiclyExposed: boolean;
  readonly services: readonly ExposedService[];
  /** Ids of controls that lowered some service's exposure. */
  readonly effectiveControls: readonly string[];
  /** Controls that apply to the asset but do not count now, with why. */
  readonly ignoredControls: readonly { readonly id: string; readonly state: ControlState }[];
  /** The asset faces the Internet: its zone, or a service seen from outside. */
  readonly internetFacing: boolean;
  /** A valid perimeter block covers every exposed service. */
  readonly perimeterShielded: boolean;
  /** A valid control lowered every exposed service's exposure. */
  readonly shielded: boolean;
  /** Conditional services (CIS on 80/443) that are exposed. */
  readonly conditionalServices: readonly string[];
  readonly assumptions: readonly string[];
}

function zoneBase(zone: Zone, policy: RiskPolicy): SystemExposure {
  switch (zone) {
    case "internet":
    case "extranet":
    case "roaming":
      return "open";
    case "internal":
      return policy.internalExposure;
    case "restricted":
      return "controlled";
    case "isolated":
      return "small";
  }
}

const key = (proto: string, port: number): string => `${proto}/${port}`;

/**
 * The exposure of `asset` to `advisory` at time `t`. `finding` adds its own service (the check
 * reached it) even when the advisory does not list that port (MS03-026: "other RPC ports").
 */
export function exposureOf(
  asset: Asset,
  advisory: Advisory,
  finding: Finding,
  controls: readonly Control[],
  policy: RiskPolicy,
  t: number,
): ExposureResult {
  const assumptions: string[] = [];
  // proto/port → vantage zones it was seen from.
  const exposed = new Map<string, { proto: ServiceProtocol; port: number; from: Set<Zone> }>();
  const add = (proto: ServiceProtocol, port: number, from: Zone): void => {
    const k = key(proto, port);
    const entry = exposed.get(k) ?? { proto, port, from: new Set<Zone>() };
    entry.from.add(from);
    exposed.set(k, entry);
  };
  const conditional = new Set(
    advisory.services.filter((s) => s.condition !== undefined).map((s) => key(s.proto, s.port)),
  );
  const listed = new Set(advisory.services.map((s) => key(s.proto, s.port)));
  const findingKey = finding.port === 0 ? undefined : key(finding.protocol, finding.port);
  const conditionalSeen: string[] = [];
  for (const service of asset.reachable) {
    const k = key(service.proto, service.port);
    if (!listed.has(k) && k !== findingKey) continue;
    if (conditional.has(k) && k !== findingKey) {
      // CIS / RPC over HTTP: port 80 open says nothing about the feature (research §4.1).
      conditionalSeen.push(k);
      continue;
    }
    add(service.proto, service.port, service.from);
  }
  if (findingKey !== undefined && !exposed.has(findingKey)) {
    // The check reached the service; without a recorded vantage, assume the asset's own zone.
    add(finding.protocol, finding.port, asset.zone.value);
  }
  for (const k of [...new Set(conditionalSeen)].sort(compareText)) {
    assumptions.push(
      `${k} is open, but it carries the flaw only if its condition holds (${advisory.services.find((s) => key(s.proto, s.port) === k)?.condition ?? "conditional"}); not counted as exposed`,
    );
  }
  if (asset.reachable.length === 0 && finding.port === 0) {
    assumptions.push(
      "no port-scan data for the asset: the advisory's services are assumed reachable from its zone",
    );
    for (const service of advisory.services) {
      if (service.condition === undefined) add(service.proto, service.port, asset.zone.value);
    }
  }

  const statuses = controls
    .filter((control) => controlAppliesTo(control, asset))
    .map((control) => controlStatus(control, asset, policy, t))
    .sort((a, b) => compareText(a.control.id, b.control.id));
  const valid = statuses.filter((s) => s.state === "valid").map((s) => s.control);
  const ignored = statuses
    .filter((s) => s.state !== "valid")
    .map((s) => ({ id: s.control.id, state: s.state }));

  const zone = asset.zone.value;
  const services: ExposedService[] = [];
  const effective = new Set<string>();
  let perimeterAll = true;
  let shieldedAll = true;
  for (const entry of [...exposed.values()].sort(
    (a, b) => compareText(a.proto, b.proto) || a.port - b.port,
  )) {
    const from = [...entry.from].sort(compareText);
    const seenOutside = from.some((z) => OUTSIDE.includes(z));
    const facing = seenOutside || OUTSIDE.includes(zone);
    const base: SystemExposure = seenOutside ? "open" : zoneBase(zone, policy);
    let level = base;
    const lowered: string[] = [];
    const applicable = valid.filter((c) => covers(c, advisory, entry.proto, entry.port));
    const ofKind = (kind: Control["kind"]): Control[] => applicable.filter((c) => c.kind === kind);
    // Order matters: network controls first, then the host firewall on top (research §5.3).
    const disabled = ofKind("service-disabled");
    if (disabled.length > 0) {
      level = "small";
      lowered.push(...disabled.map((c) => c.id));
    }
    const perimeter = zone === "roaming" ? [] : ofKind("perimeter-block");
    if (facing && level === "open" && perimeter.length > 0) {
      level = "controlled";
      lowered.push(...perimeter.map((c) => c.id));
    }
    const acl = ofKind("segment-acl");
    if (!facing && level === "open" && acl.length > 0) {
      level = "controlled";
      lowered.push(...acl.map((c) => c.id));
    }
    const host = ofKind("host-firewall");
    if (host.length > 0) {
      if (zone === "roaming" && level === "open") {
        level = "controlled";
        lowered.push(...host.map((c) => c.id));
      } else if (zone !== "roaming" && level === "controlled") {
        level = "small";
        lowered.push(...host.map((c) => c.id));
      }
    }
    // BOD 26-04 "Publicly Exposed": reachable by untrusted parties over public networks, and no
    // verified block (perimeter, host, or the service off) stands in the way.
    const publicBlock = disabled.length > 0 || perimeter.length > 0 || host.length > 0;
    const publiclyExposed = (seenOutside || PUBLIC_ZONES.includes(zone)) && !publicBlock;
    if (perimeter.length === 0) perimeterAll = false;
    if (lowered.length === 0) shieldedAll = false;
    for (const id of lowered) effective.add(id);
    services.push({
      proto: entry.proto,
      port: entry.port,
      from,
      exposure: level,
      publiclyExposed,
      controls: [...new Set(lowered)].sort(compareText),
    });
  }
  const level = services.reduce<SystemExposure>(
    (acc, s) => maxOf(SYSTEM_EXPOSURES, acc, s.exposure),
    "small",
  );
  const internetFacing =
    OUTSIDE.includes(zone) || services.some((s) => s.from.some((z) => OUTSIDE.includes(z)));
  return {
    level,
    publiclyExposed: services.some((s) => s.publiclyExposed),
    services,
    effectiveControls: [...effective].sort(compareText),
    ignoredControls: ignored,
    internetFacing,
    perimeterShielded: services.length > 0 && perimeterAll,
    shielded: services.length > 0 && shieldedAll,
    conditionalServices: [...new Set(conditionalSeen)].sort(compareText),
    assumptions,
  };
}
