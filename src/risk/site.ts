/**
 * Asset context from a site file (YAML, `schema: ringfence.site/1`): zones assigned by address
 * ranges or tags, criticality and sensitivity tags, mission and safety impact, and operator
 * overrides, each carrying its provenance (research §5.2). `resolveAsset` joins that context with
 * what the inventory observed and gives the engine an `Asset`.
 *
 *   schema: ringfence.site/1
 *   name: hq
 *   updated: 2003-07-17
 *   zones:
 *     - { zone: internet, ranges: [198.51.100.0/24] }
 *     - { zone: roaming, tags: [laptop] }
 *     - { zone: internal, ranges: [10.0.0.0/8] }
 *   assets:
 *     - match: { addresses: [198.51.100.10] }
 *       tags: [sensitive]
 *       role: server
 *       os: { family: windows-server, version: "2003" }
 *       humanImpact: high
 *       provenance: { source: operator, ref: CHG-1234 }
 *
 * Zone precedence: an asset entry's `zone` (operator override) > a zone rule by tag (file order)
 * > the most specific zone rule by range (ties: file order) > inferred from the address
 * (public ⇒ internet, research §5.1: "unknown exposure for an address routable from the
 * Internet ⇒ open"; private ⇒ internal). Other fields: the last matching asset entry wins.
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import {
  compareText,
  fileError,
  fsReason,
  IsoDate,
  parseYamlFile,
  pathText,
  ZONES,
  type FileIssue,
  type FileKind,
  type LocatedDocument,
  type Zone,
} from "../advisories/index.js";
import {
  parseAddress,
  parseRangeExpression,
  rangesContain,
  type AddressRange,
  type ParsedAddress,
} from "../targets/index.js";
import {
  HUMAN_IMPACTS,
  MISSION_IMPACTS,
  MISSION_PREVALENCES,
  PUBLIC_WELL_BEING_IMPACTS,
  SAFETY_IMPACTS,
} from "./ssvc.js";
import {
  ASSET_ROLES,
  type Asset,
  type AssetRole,
  type Attributed,
  type CompromiseIndicator,
  type Containment,
  type OsFacts,
  type Provenance,
  type ReachableService,
  type ZoneEvidence,
} from "./types.js";

export const SITE_SCHEMA_ID = "ringfence.site/1";

const SITE_FILE: FileKind = {
  code: "RINGFENCE_SITE_FILE",
  kind: "site file",
  hint: `a site file is YAML with schema: ${SITE_SCHEMA_ID}, zones: [...] and assets: [...]`,
};

const ProvenanceSchema = z.strictObject({
  source: z.string().min(1).optional(),
  ref: z.string().min(1).optional(),
  observedAt: IsoDate.optional(),
});

const ImpactFields = {
  missionImpact: z.enum(MISSION_IMPACTS).optional(),
  safetyImpact: z.enum(SAFETY_IMPACTS).optional(),
  humanImpact: z.enum(HUMAN_IMPACTS).optional(),
  missionPrevalence: z.enum(MISSION_PREVALENCES).optional(),
  publicWellBeing: z.enum(PUBLIC_WELL_BEING_IMPACTS).optional(),
};

const SiteSchema = z.strictObject({
  schema: z.literal(SITE_SCHEMA_ID, { error: `expected schema: ${SITE_SCHEMA_ID}` }),
  name: z.string().min(1),
  updated: IsoDate.optional(),
  zones: z
    .array(
      z
        .strictObject({
          zone: z.enum(ZONES),
          ranges: z.array(z.string()).default([]),
          tags: z.array(z.string().min(1)).default([]),
          note: z.string().optional(),
        })
        .refine((rule) => rule.ranges.length + rule.tags.length > 0, {
          error: "a zone rule needs ranges or tags",
        }),
    )
    .default([]),
  assets: z
    .array(
      z.strictObject({
        match: z
          .strictObject({
            ids: z.array(z.string().min(1)).optional(),
            addresses: z.array(z.string().min(1)).optional(),
            ranges: z.array(z.string().min(1)).optional(),
            hostnames: z.array(z.string().min(1)).optional(),
            tags: z.array(z.string().min(1)).optional(),
          })
          .refine((m) => Object.values(m).some((v) => v !== undefined && v.length > 0), {
            error: "match needs ids, addresses, ranges, hostnames or tags",
          }),
        tags: z.array(z.string().min(1)).default([]),
        role: z.enum(ASSET_ROLES).optional(),
        os: z
          .strictObject({
            family: z.string().min(1),
            version: z.union([z.string().min(1), z.number()]).transform(String),
            servicePack: z.string().optional(),
          })
          .optional(),
        zone: z.enum(ZONES).optional(),
        ...ImpactFields,
        provenance: ProvenanceSchema.optional(),
      }),
    )
    .default([]),
  /** Site-wide values for assets no entry describes (else the policy's impact defaults). */
  defaults: z.strictObject(ImpactFields).default({}),
});

type SiteDocument = z.infer<typeof SiteSchema>;

interface ZoneRule {
  readonly index: number;
  readonly zone: Zone;
  readonly ranges: readonly AddressRange[];
  readonly tags: readonly string[];
}

interface AssetRule {
  readonly index: number;
  readonly entry: SiteDocument["assets"][number];
  readonly ranges: readonly AddressRange[];
  readonly addresses: readonly string[];
}

/** A parsed site file, ready to resolve assets. */
export interface SiteContext {
  readonly name: string;
  readonly source: string;
  readonly updated?: string;
  readonly zoneRules: readonly ZoneRule[];
  readonly assetRules: readonly AssetRule[];
  readonly defaults: SiteDocument["defaults"];
}

/** No site file: every zone is inferred from the address. */
export function emptySite(): SiteContext {
  return { name: "none", source: "none", zoneRules: [], assetRules: [], defaults: {} };
}

function parseRanges(
  texts: readonly string[],
  path: readonly PropertyKey[],
  file: string,
  located: LocatedDocument,
  problems: FileIssue[],
): AddressRange[] {
  const out: AddressRange[] = [];
  texts.forEach((text, i) => {
    const range = parseRangeExpression(text.trim());
    if ("reason" in range) {
      const line = located.lineOf([...path, i]);
      problems.push({
        file,
        path: pathText([...path, i]),
        ...(line === undefined ? {} : { line }),
        reason: `bad range "${text}": ${range.reason}`,
      });
    } else {
      out.push(range);
    }
  });
  return out;
}

/** Parses a site file's text; `file` names it in errors and in provenance. */
export function parseSiteFile(text: string, file: string): SiteContext {
  const { value, located } = parseYamlFile(text, file, SiteSchema, SITE_FILE);
  const problems: FileIssue[] = [];
  const zoneRules = value.zones.map((rule, index) => ({
    index,
    zone: rule.zone,
    ranges: parseRanges(rule.ranges, ["zones", index, "ranges"], file, located, problems),
    tags: rule.tags,
  }));
  const assetRules = value.assets.map((entry, index) => {
    const addresses = entry.match.addresses ?? [];
    addresses.forEach((address, i) => {
      if (parseAddress(address) === undefined) {
        const line = located.lineOf(["assets", index, "match", "addresses", i]);
        problems.push({
          file,
          path: `assets[${index}].match.addresses[${i}]`,
          ...(line === undefined ? {} : { line }),
          reason: `"${address}" is not an IP address`,
        });
      }
    });
    return {
      index,
      entry,
      addresses: addresses.map((a) => a.toLowerCase()),
      ranges: parseRanges(
        entry.match.ranges ?? [],
        ["assets", index, "match", "ranges"],
        file,
        located,
        problems,
      ),
    };
  });
  if (problems.length > 0) throw fileError(SITE_FILE, problems);
  return {
    name: value.name,
    source: file,
    ...(value.updated === undefined ? {} : { updated: value.updated }),
    zoneRules,
    assetRules,
    defaults: value.defaults,
  };
}

/** Reads and validates a site file. */
export async function loadSiteFile(path: string): Promise<SiteContext> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw fileError(SITE_FILE, [
      { file: path, path: "", reason: `cannot read: ${fsReason(error)}` },
    ]);
  }
  return parseSiteFile(text, path);
}

/** What the inventory knows about an asset. */
export interface ObservedAsset {
  readonly id: string;
  readonly address: string;
  readonly hostnames?: readonly string[];
  readonly os?: OsFacts;
  readonly role?: AssetRole;
  readonly tags?: readonly string[];
  readonly reachable: readonly ReachableService[];
  readonly compromiseIndicators?: readonly CompromiseIndicator[];
  readonly containment?: readonly Containment[];
  /** When the inventory last saw it; provenance for observed facts. */
  readonly observedAt?: string;
}

// RFC 1918, loopback, link-local, CGNAT (RFC 6598), "this network", ULA and IPv6 link-local:
// not routable from the Internet. Everything else is (research §5.1: assume open).
const PRIVATE = [
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "100.64.0.0/10",
  "0.0.0.0/8",
  "::1/128",
  "fc00::/7",
  "fe80::/10",
].map((text) => parseRangeExpression(text) as AddressRange);

export function isInternetRoutable(address: ParsedAddress): boolean {
  return !PRIVATE.some((range) => rangesContain([range], address));
}

function rangeSize(range: AddressRange): bigint {
  return range.last - range.first;
}

/** Joins the site's context with an observed asset. Pure. */
export function resolveAsset(site: SiteContext, observed: ObservedAsset): Asset {
  const address = parseAddress(observed.address);
  const hostnames = [...(observed.hostnames ?? [])].map((h) => h.toLowerCase()).sort(compareText);
  const inventory: Provenance = {
    source: "inventory",
    ...(observed.observedAt === undefined ? {} : { observedAt: observed.observedAt }),
  };
  const entryProv = (rule: AssetRule): Provenance => {
    const p = rule.entry.provenance;
    const observedAt = p?.observedAt ?? site.updated;
    return {
      source: p?.source ?? "site-file",
      ref: `${site.source}#assets[${rule.index}]${p?.ref === undefined ? "" : ` ${p.ref}`}`,
      ...(observedAt === undefined ? {} : { observedAt }),
    };
  };
  const baseTags = new Set(observed.tags ?? []);
  const matches = (rule: AssetRule): boolean => {
    const m = rule.entry.match;
    const checks: boolean[] = [];
    if (m.ids !== undefined) checks.push(m.ids.includes(observed.id));
    if (m.addresses !== undefined) {
      checks.push(
        rule.addresses.some((a) => {
          const parsed = parseAddress(a);
          return (
            parsed !== undefined &&
            address !== undefined &&
            parsed.family === address.family &&
            parsed.value === address.value
          );
        }),
      );
    }
    if (m.ranges !== undefined) {
      checks.push(address !== undefined && rule.ranges.some((r) => rangesContain([r], address)));
    }
    if (m.hostnames !== undefined)
      checks.push(m.hostnames.some((h) => hostnames.includes(h.toLowerCase())));
    if (m.tags !== undefined) checks.push(m.tags.some((t) => baseTags.has(t)));
    return checks.length > 0 && checks.every(Boolean);
  };
  const matched = site.assetRules.filter(matches);

  // Tags: the inventory's, then every matching entry's, each with its provenance.
  const tags = new Map<string, Attributed<string>>();
  for (const tag of [...baseTags].sort(compareText)) tags.set(tag, { value: tag, prov: inventory });
  for (const rule of matched) {
    for (const tag of rule.entry.tags) {
      if (!tags.has(tag)) tags.set(tag, { value: tag, prov: entryProv(rule) });
    }
  }
  const tagList = [...tags.values()].sort((a, b) => compareText(a.value, b.value));
  const allTags = new Set(tagList.map((t) => t.value));

  /** The last matching entry that sets `field`. */
  const lastWith = <K extends keyof AssetRule["entry"]>(field: K) => {
    const rule = [...matched].reverse().find((r) => r.entry[field] !== undefined);
    return rule === undefined
      ? undefined
      : { value: rule.entry[field] as NonNullable<AssetRule["entry"][K]>, prov: entryProv(rule) };
  };

  // Zone, by precedence (see the file comment).
  let zone: Attributed<Zone> | undefined = lastWith("zone");
  let zoneEvidence: ZoneEvidence = "declared";
  if (zone === undefined) {
    const byTag = site.zoneRules.find((rule) => rule.tags.some((t) => allTags.has(t)));
    if (byTag !== undefined) {
      zone = {
        value: byTag.zone,
        prov: { source: "site-file", ref: `${site.source}#zones[${byTag.index}]` },
      };
    }
  }
  if (zone === undefined && address !== undefined) {
    const byRange = site.zoneRules
      .flatMap((rule) =>
        rule.ranges
          .filter((range) => rangesContain([range], address))
          .map((range) => ({ rule, size: rangeSize(range) })),
      )
      .sort((a, b) =>
        a.size < b.size ? -1 : a.size > b.size ? 1 : a.rule.index - b.rule.index,
      )[0];
    if (byRange !== undefined) {
      zone = {
        value: byRange.rule.zone,
        prov: { source: "site-file", ref: `${site.source}#zones[${byRange.rule.index}]` },
      };
    }
  }
  if (zone === undefined) {
    const outside = observed.reachable.some((r) => r.from === "internet" || r.from === "extranet");
    const routable = address !== undefined && isInternetRoutable(address);
    if (outside) {
      zone = { value: "internet", prov: { source: "external-scan" } };
      zoneEvidence = "external-scan";
    } else {
      zone = {
        value: routable ? "internet" : "internal",
        prov: {
          source: "inferred",
          ref: routable ? "address routable from the Internet" : "private address",
        },
      };
      zoneEvidence = "inferred";
    }
  }

  const role =
    lastWith("role") ??
    (observed.role === undefined
      ? { value: "server" as const, prov: { source: "default" } }
      : { value: observed.role, prov: inventory });
  const osEntry = lastWith("os");
  const os: Attributed<OsFacts> | undefined =
    osEntry !== undefined
      ? {
          value: {
            family: osEntry.value.family,
            version: osEntry.value.version,
            ...(osEntry.value.servicePack === undefined
              ? {}
              : { servicePack: osEntry.value.servicePack }),
          },
          prov: osEntry.prov,
        }
      : observed.os === undefined
        ? undefined
        : { value: observed.os, prov: inventory };

  const impact = <
    K extends
      "missionImpact" | "safetyImpact" | "humanImpact" | "missionPrevalence" | "publicWellBeing",
  >(
    field: K,
  ) => {
    const fromEntry = lastWith(field);
    if (fromEntry !== undefined) return fromEntry;
    const fallback = site.defaults[field];
    return fallback === undefined
      ? undefined
      : { value: fallback, prov: { source: "site-file", ref: `${site.source}#defaults.${field}` } };
  };
  const missionImpact = impact("missionImpact");
  const safetyImpact = impact("safetyImpact");
  const humanImpact = impact("humanImpact");
  const missionPrevalence = impact("missionPrevalence");
  const publicWellBeing = impact("publicWellBeing");

  return {
    id: observed.id,
    address: observed.address,
    hostnames,
    ...(os === undefined ? {} : { os }),
    role,
    zone,
    zoneEvidence,
    reachable: [...observed.reachable].sort(
      (a, b) => compareText(a.proto, b.proto) || a.port - b.port || compareText(a.from, b.from),
    ),
    tags: tagList,
    ...(missionImpact === undefined ? {} : { missionImpact }),
    ...(safetyImpact === undefined ? {} : { safetyImpact }),
    ...(humanImpact === undefined ? {} : { humanImpact }),
    ...(missionPrevalence === undefined ? {} : { missionPrevalence }),
    ...(publicWellBeing === undefined ? {} : { publicWellBeing }),
    compromiseIndicators: [...(observed.compromiseIndicators ?? [])].sort(
      (a, b) => compareText(a.observedAt, b.observedAt) || compareText(a.id, b.id),
    ),
    containment: [...(observed.containment ?? [])].sort(
      (a, b) => compareText(a.since, b.since) || compareText(a.kind, b.kind),
    ),
  };
}
