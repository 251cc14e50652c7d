/** Builders shared by the risk tests: assets, findings and controls with sensible provenance. */
import {
  loadAdvisoryCatalog,
  type AdvisoryCatalog,
  type Zone,
} from "../../src/advisories/index.js";
import {
  loadRiskPolicy,
  type Asset,
  type AssetRole,
  type Control,
  type Finding,
  type ReachableService,
  type RiskPolicy,
} from "../../src/risk/index.js";

let policy: Promise<RiskPolicy> | undefined;
let catalog: Promise<AdvisoryCatalog> | undefined;

export function defaultPolicy(): Promise<RiskPolicy> {
  policy ??= loadRiskPolicy();
  return policy;
}

export function builtinCatalog(): Promise<AdvisoryCatalog> {
  catalog ??= loadAdvisoryCatalog();
  return catalog;
}

const operator = { source: "operator", ref: "test" };

export interface AssetSpec {
  id?: string;
  address?: string;
  zone: Zone;
  role?: AssetRole;
  os?: { family: string; version: string };
  reachable?: ReachableService[];
  tags?: string[];
  humanImpact?: "low" | "medium" | "high" | "very-high";
  missionImpact?: "degraded" | "mef-support-crippled" | "mef-failure" | "mission-failure";
  safetyImpact?: "negligible" | "marginal" | "critical" | "catastrophic";
  missionPrevalence?: "minimal" | "support" | "essential";
  publicWellBeing?: "minimal" | "material" | "irreversible";
  compromise?: { id: string; observedAt: string }[];
  containment?: Asset["containment"];
}

export function makeAsset(spec: AssetSpec): Asset {
  return {
    id: spec.id ?? "web-1",
    address: spec.address ?? "198.51.100.10",
    hostnames: [],
    ...(spec.os === undefined ? {} : { os: { value: spec.os, prov: operator } }),
    role: { value: spec.role ?? "server", prov: operator },
    zone: { value: spec.zone, prov: operator },
    zoneEvidence: "declared",
    reachable: spec.reachable ?? [],
    tags: (spec.tags ?? []).map((value) => ({ value, prov: operator })),
    ...(spec.humanImpact === undefined
      ? {}
      : { humanImpact: { value: spec.humanImpact, prov: operator } }),
    ...(spec.missionImpact === undefined
      ? {}
      : { missionImpact: { value: spec.missionImpact, prov: operator } }),
    ...(spec.safetyImpact === undefined
      ? {}
      : { safetyImpact: { value: spec.safetyImpact, prov: operator } }),
    ...(spec.missionPrevalence === undefined
      ? {}
      : { missionPrevalence: { value: spec.missionPrevalence, prov: operator } }),
    ...(spec.publicWellBeing === undefined
      ? {}
      : { publicWellBeing: { value: spec.publicWellBeing, prov: operator } }),
    compromiseIndicators: (spec.compromise ?? []).map((c) => ({ ...c, prov: { source: "scan" } })),
    containment: spec.containment ?? [],
  };
}

export function tcp(port: number, from: Zone): ReachableService {
  return { proto: "tcp", port, from };
}

export function makeFinding(
  asset: Asset,
  advisory: string,
  checkId: string,
  observedAt: string,
  options: Partial<Pick<Finding, "protocol" | "port" | "verdict" | "firstSeen" | "evidence">> = {},
): Finding {
  return {
    assetId: asset.id,
    address: asset.address,
    protocol: options.protocol ?? "tcp",
    port: options.port ?? 135,
    advisory,
    checkId,
    verdict: options.verdict ?? "vulnerable",
    evidence: options.evidence ?? { status: "0x1c010003" },
    observedAt,
    ...(options.firstSeen === undefined ? {} : { firstSeen: options.firstSeen }),
  };
}

export function perimeterBlock(
  id: string,
  verifiedAt: string,
  ports: number[],
  extra: Partial<Control> = {},
): Control {
  return {
    id,
    kind: "perimeter-block",
    appliesTo: { zones: ["internet"] },
    covers: ports.map((port) => ({ proto: "tcp" as const, port })),
    verifiedAt,
    method: "rescan-external",
    prov: { source: "scan" },
    ...extra,
  };
}

export const kinds = (a: { actions: readonly { kind: string }[] }): string[] =>
  a.actions.map((x) => x.kind);
