/**
 * The risk policy: the organisation's parameters of the model (research §5.3, §5.5), the
 * per-zone allowlist of "deny all except what is explicitly allowed", approved exceptions to
 * policy rules, and the SSVC decision tables it decides with. Every assessment records the
 * policy's id, version and a sha256 over the document and the tables' hashes (research §5.1).
 *
 * The defaults are the suggestions of research §5.5 (clocks, TTLs) and §5.1 (unknown impact ⇒
 * mission "MEF support crippled", safety "negligible"); they are our proposal, not a standard.
 */
import { readFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import { z } from "zod";
import {
  fileError,
  fsReason,
  IsoDate,
  IsoDuration,
  parseYamlFile,
  PROTOCOLS,
  ZONES,
  type FileKind,
} from "../advisories/index.js";
import { canonicalJson } from "./canonical-json.js";
import {
  loadSsvcTables,
  MISSION_IMPACTS,
  MISSION_PREVALENCES,
  PUBLIC_WELL_BEING_IMPACTS,
  SAFETY_IMPACTS,
  type SsvcTables,
} from "./ssvc.js";

export const POLICY_SCHEMA_ID = "ringfence.policy/1";

const POLICY_FILE: FileKind = {
  code: "RINGFENCE_POLICY_FILE",
  kind: "policy file",
  hint: `a policy file is YAML with schema: ${POLICY_SCHEMA_ID}, id and version; every other key has a default`,
};

const Port = z.number().int().min(1).max(65535);
const Service = z.strictObject({
  proto: z.enum(PROTOCOLS),
  port: Port,
  name: z.string().optional(),
});

const PolicyException = z.strictObject({
  id: z.string().min(1),
  /** The rule id it is an exception to (new-release-exposure/windows-server-2003). */
  rule: z.string().min(1),
  assets: z.array(z.string()).default([]),
  ranges: z.array(z.string()).default([]),
  /** For the allowlist rule: which services it allows; all of the asset's when absent. */
  services: z.array(Service.omit({ name: true })).optional(),
  approver: z.strictObject({ name: z.string().min(1), role: z.string().min(1) }),
  approvedAt: IsoDate,
  expiresAt: IsoDate,
  reason: z.string().min(1),
});
export type PolicyException = z.infer<typeof PolicyException>;

const DEFAULTS = {
  internalExposure: "controlled" as const,
  epssPercentile: 0.95,
  honourKevDueDate: false,
  monitorDays: 30,
  impactDefaults: {
    missionImpact: "mef-support-crippled" as const,
    safetyImpact: "negligible" as const,
    missionPrevalence: "support" as const,
    publicWellBeing: "minimal" as const,
  },
  controlTtl: {
    perimeterBlock: "P7D",
    segmentAcl: "P7D",
    hostFirewall: "P7D",
    hostFirewallRoaming: "PT24H",
    serviceDisabled: "P7D",
  },
  clocks: {
    protect: {
      compromise: "PT0H",
      veryHighOpen: "PT4H",
      veryHighControlled: "PT24H",
      highOpen: "PT72H",
    },
    fix: { immediate: "P3D", outOfCycle: "P14D", scheduled: "P60D" },
    verify: { afterProtect: "PT24H", immediate: "PT24H", outOfCycle: "P7D" },
    forensicTriage: { scope: "PT2H", evidence: "PT24H", decision: "PT72H" },
  },
};

export const PolicyDocumentSchema = z.strictObject({
  schema: z.literal(POLICY_SCHEMA_ID, { error: `expected schema: ${POLICY_SCHEMA_ID}` }),
  id: z.string().min(1),
  version: z.union([z.string().min(1), z.number()]).transform(String),
  /** research §5.3 D-EXPO: controlled by default; open for flat networks where worms spread. */
  internalExposure: z.enum(["controlled", "open"]).default(DEFAULTS.internalExposure),
  /** research §5.3 D-EPSS: a defer becomes scheduled at or above this EPSS percentile. */
  epssPercentile: z.number().min(0).max(1).default(DEFAULTS.epssPercentile),
  /** research §5.3 D-KEV-DUE: cap fix-by at the KEV due date (BOD 22-01 practice). */
  honourKevDueDate: z.boolean().default(DEFAULTS.honourKevDueDate),
  monitorDays: z.number().int().min(0).default(DEFAULTS.monitorDays),
  impactDefaults: z
    .strictObject({
      missionImpact: z.enum(MISSION_IMPACTS).default(DEFAULTS.impactDefaults.missionImpact),
      safetyImpact: z.enum(SAFETY_IMPACTS).default(DEFAULTS.impactDefaults.safetyImpact),
      missionPrevalence: z
        .enum(MISSION_PREVALENCES)
        .default(DEFAULTS.impactDefaults.missionPrevalence),
      publicWellBeing: z
        .enum(PUBLIC_WELL_BEING_IMPACTS)
        .default(DEFAULTS.impactDefaults.publicWellBeing),
    })
    .default(DEFAULTS.impactDefaults),
  controlTtl: z
    .strictObject({
      perimeterBlock: IsoDuration.default(DEFAULTS.controlTtl.perimeterBlock),
      segmentAcl: IsoDuration.default(DEFAULTS.controlTtl.segmentAcl),
      hostFirewall: IsoDuration.default(DEFAULTS.controlTtl.hostFirewall),
      hostFirewallRoaming: IsoDuration.default(DEFAULTS.controlTtl.hostFirewallRoaming),
      serviceDisabled: IsoDuration.default(DEFAULTS.controlTtl.serviceDisabled),
    })
    .default(DEFAULTS.controlTtl),
  clocks: z
    .strictObject({
      protect: z
        .strictObject({
          compromise: IsoDuration.default(DEFAULTS.clocks.protect.compromise),
          veryHighOpen: IsoDuration.default(DEFAULTS.clocks.protect.veryHighOpen),
          veryHighControlled: IsoDuration.default(DEFAULTS.clocks.protect.veryHighControlled),
          highOpen: IsoDuration.default(DEFAULTS.clocks.protect.highOpen),
        })
        .default(DEFAULTS.clocks.protect),
      fix: z
        .strictObject({
          immediate: IsoDuration.default(DEFAULTS.clocks.fix.immediate),
          outOfCycle: IsoDuration.default(DEFAULTS.clocks.fix.outOfCycle),
          scheduled: IsoDuration.default(DEFAULTS.clocks.fix.scheduled),
        })
        .default(DEFAULTS.clocks.fix),
      verify: z
        .strictObject({
          afterProtect: IsoDuration.default(DEFAULTS.clocks.verify.afterProtect),
          immediate: IsoDuration.default(DEFAULTS.clocks.verify.immediate),
          outOfCycle: IsoDuration.default(DEFAULTS.clocks.verify.outOfCycle),
        })
        .default(DEFAULTS.clocks.verify),
      forensicTriage: z
        .strictObject({
          scope: IsoDuration.default(DEFAULTS.clocks.forensicTriage.scope),
          evidence: IsoDuration.default(DEFAULTS.clocks.forensicTriage.evidence),
          decision: IsoDuration.default(DEFAULTS.clocks.forensicTriage.decision),
        })
        .default(DEFAULTS.clocks.forensicTriage),
    })
    .default(DEFAULTS.clocks),
  /**
   * "Deny all except what is explicitly allowed" (Gartner 2003): for each governed zone, the
   * services that may be reachable. Zones not listed are not governed by the rule.
   */
  exposureAllowlist: z
    .array(z.strictObject({ zone: z.enum(ZONES), allow: z.array(Service) }))
    .default([
      {
        zone: "internet",
        allow: [
          { proto: "tcp", port: 80, name: "http" },
          { proto: "tcp", port: 443, name: "https" },
        ],
      },
      {
        zone: "extranet",
        allow: [
          { proto: "tcp", port: 80, name: "http" },
          { proto: "tcp", port: 443, name: "https" },
        ],
      },
      // Gartner 2003: personal firewalls on laptops, inbound closed.
      { zone: "roaming", allow: [] },
    ]),
  exceptions: z.array(PolicyException).default([]),
  /** Rule id → revision date: evaluate a revisable rule under that revision, not the latest. */
  pinRevisions: z.record(z.string(), IsoDate).default({}),
});

export type PolicyDocument = z.infer<typeof PolicyDocumentSchema>;

/** A policy ready for the engine: the document, its tables and its hash. */
export interface RiskPolicy extends PolicyDocument {
  readonly sha256: string;
  readonly tables: SsvcTables;
}

/** The default policy document (research §5.5 suggestions). */
export function defaultPolicyDocument(): PolicyDocument {
  return PolicyDocumentSchema.parse({
    schema: POLICY_SCHEMA_ID,
    id: "ringfence-default",
    version: "1",
  });
}

/** Validates a policy document given as data (e.g. built by the API). */
export function policyDocumentFrom(value: unknown, file = "<policy>"): PolicyDocument {
  return parseYamlFile(JSON.stringify(value), file, PolicyDocumentSchema, POLICY_FILE).value;
}

/** Parses a policy YAML file's text; `file` names it in errors. */
export function parsePolicyFile(text: string, file: string): PolicyDocument {
  return parseYamlFile(text, file, PolicyDocumentSchema, POLICY_FILE).value;
}

/**
 * Binds a document to decision tables. The hash covers the document (canonical JSON) and each
 * table's id and file hash, so a changed table changes every assessment's policy hash.
 */
export function createRiskPolicy(document: PolicyDocument, tables: SsvcTables): RiskPolicy {
  const tableHashes = Object.fromEntries(
    Object.values(tables).map((table) => [table.id, table.sha256]),
  );
  const sha256 = createHash("sha256")
    .update(canonicalJson({ document, tables: tableHashes }))
    .digest("hex");
  return { ...document, sha256, tables };
}

export interface LoadPolicyOptions {
  /** A policy YAML file; the default policy when absent. */
  readonly path?: string;
  /** Where the SSVC CSVs are; the vendored copies when absent. */
  readonly ssvcDir?: string;
}

/** Reads the policy file (or takes the default) and the SSVC tables. */
export async function loadRiskPolicy(options: LoadPolicyOptions = {}): Promise<RiskPolicy> {
  let document = defaultPolicyDocument();
  if (options.path !== undefined) {
    let text: string;
    try {
      text = await readFile(options.path, "utf8");
    } catch (error) {
      throw fileError(POLICY_FILE, [
        { file: options.path, path: "", reason: `cannot read: ${fsReason(error)}` },
      ]);
    }
    document = parsePolicyFile(text, options.path);
  }
  const tables = await loadSsvcTables(options.ssvcDir);
  return createRiskPolicy(document, tables);
}
