/**
 * The advisory file format (`schema: ringfence.advisory/1`), one advisory per YAML file in
 * `advisories/` or in a user's directory. Objects are strict, so that a misspelt key is an error
 * rather than a silently ignored fact. Cross-references (a check detecting a vulnerability the
 * file does not define, a derived CVSS vector attributed to NVD, ...) are checked in one
 * superRefine pass so that every problem carries its path.
 */
import { z } from "zod";
import { parseCvssVector } from "./cvss-vector.js";
import { parseDate, parseDuration } from "./time.js";
import {
  ADVISORY_KINDS,
  ATTACK_VECTORS,
  AUTOMATABLE,
  EASES,
  EXPLOITATION_EVENT_KINDS,
  EXPLOITATIONS,
  IMPACTS,
  PREVALENCES,
  PRIVILEGES,
  PROTOCOLS,
  RATING_LEVELS,
  REQUIRED_SHIELDS,
  TECHNICAL_IMPACTS,
  USER_INTERACTIONS,
  ZONES,
} from "./vocabulary.js";

export const ADVISORY_SCHEMA_ID = "ringfence.advisory/1";

export const IsoDate = z
  .string()
  .refine((text) => parseDate(text) !== undefined, { error: "expected a date YYYY-MM-DD" });
export const IsoDuration = z.string().refine((text) => parseDuration(text) !== undefined, {
  error: "expected an ISO 8601 duration such as P7D, PT4H or P9M",
});
const Text = z.string().trim().min(1, { error: "must not be empty" });
/** YAML reads `version: 2003` as a number; the catalog means the text. */
const VersionText = z.union([z.string().trim().min(1), z.number()]).transform(String);
const Port = z.number().int().min(0).max(65535);

export const ServiceRef = z.strictObject({ proto: z.enum(PROTOCOLS), port: Port });
export type ServiceRef = z.infer<typeof ServiceRef>;

const Reference = z.strictObject({
  title: Text,
  url: z.url().optional(),
  date: IsoDate.optional(),
});

const Ids = z.strictObject({
  cve: z.array(z.string().regex(/^CVE-\d{4}-\d{4,19}$/, { error: "expected CVE-YYYY-NNNN" })),
  bulletin: z
    .array(
      z.string().regex(/^(MS\d{2}-\d{3}|ADV\d{6})$/, { error: "expected MSyy-nnn or ADVnnnnnn" }),
    )
    .optional(),
  kb: z.array(z.string().regex(/^KB\d+$/, { error: "expected KBnnnnnn" })).optional(),
  cert: z
    .array(
      z.string().regex(/^(CA-\d{4}-\d{2}|VU#\d+|TA\d{2}-\d{3}[A-Z]?|AA\d{2}-\d{3}[A-Z]?)$/, {
        error: "expected a CERT id: CA-2003-20, VU#568148, TA17-132A",
      }),
    )
    .optional(),
});

const Affected = z.strictObject({
  product: Text,
  /** Normalised OS line: windows-nt, windows (clients), windows-server. */
  family: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { error: "expected a lowercase family id" }),
  versions: z.array(VersionText).min(1),
  servicePacks: z.array(VersionText).optional(),
  builds: z.array(VersionText).optional(),
  note: Text.optional(),
});

const Service = z.strictObject({
  proto: z.enum(PROTOCOLS),
  port: Port,
  name: Text,
  /** Reachable only when a feature is on (COM Internet Services on 80/443): never blocked wholesale. */
  condition: Text.optional(),
});
export type AdvisoryService = z.infer<typeof Service>;

const Check = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { error: "expected a kebab-case check id" }),
  title: Text,
  /** Vulnerability ids of this advisory that a positive verdict means are present. */
  detects: z.array(Text),
  services: z.array(ServiceRef).optional(),
  method: Text.optional(),
});
export type AdvisoryCheck = z.infer<typeof Check>;

const Facts = z.strictObject({
  attackVector: z.enum(ATTACK_VECTORS),
  privilegesRequired: z.enum(PRIVILEGES),
  userInteraction: z.enum(USER_INTERACTIONS),
  impact: z.enum(IMPACTS),
  prevalence: z.enum(PREVALENCES),
  /** Gartner G3; when absent: scriptable without user interaction, else needs-user-action. */
  ease: z.enum(EASES).optional(),
});
export type VulnerabilityFacts = z.infer<typeof Facts>;

const CVSS_SOURCES = ["nvd", "cisa-adp", "cna", "vendor", "ringfence"] as const;
const Cvss = z.strictObject({
  vector: Text,
  /** primary/secondary as NVD labels them; derived = computed by us to fill a gap (research §2.3). */
  kind: z.enum(["primary", "secondary", "derived"]),
  source: z.enum(CVSS_SOURCES),
  /** The score the source publishes, kept next to ours (research §2.4). */
  publishedScore: z.number().min(0).max(10).optional(),
  note: Text.optional(),
});
export type AdvisoryCvss = z.infer<typeof Cvss>;

const Provenanced = {
  source: Text,
  date: IsoDate,
  ref: Text.optional(),
};

const SsvcHints = z.strictObject({
  exploitation: z.enum(EXPLOITATIONS).optional(),
  automatable: z.enum(AUTOMATABLE).optional(),
  technicalImpact: z.enum(TECHNICAL_IMPACTS).optional(),
  ...Provenanced,
});
export type SsvcHints = z.infer<typeof SsvcHints>;

export const OVERRIDE_FIELDS = [
  "attackVector",
  "privilegesRequired",
  "userInteraction",
  "impact",
  "prevalence",
  "ease",
  "automatable",
  "technicalImpact",
  "rating",
] as const;
export type OverrideField = (typeof OVERRIDE_FIELDS)[number];
const OVERRIDE_VALUES: Readonly<Record<OverrideField, readonly string[]>> = {
  attackVector: ATTACK_VECTORS,
  privilegesRequired: PRIVILEGES,
  userInteraction: USER_INTERACTIONS,
  impact: IMPACTS,
  prevalence: PREVALENCES,
  ease: EASES,
  automatable: AUTOMATABLE,
  technicalImpact: TECHNICAL_IMPACTS,
  rating: RATING_LEVELS,
};

const Override = z.strictObject({
  field: z.enum(OVERRIDE_FIELDS),
  value: Text,
  reason: Text,
  ...Provenanced,
});
export type FactOverride = z.infer<typeof Override>;

const Vulnerability = z.strictObject({
  /** A CVE id, or a ringfence id for a weakness without one (RF-SMBV1-ENABLED). */
  id: z.string().regex(/^(CVE-\d{4}-\d{4,19}|RF-[A-Z0-9-]+)$/, {
    error: "expected a CVE id or an RF-... id",
  }),
  title: Text,
  published: IsoDate.optional(),
  facts: Facts,
  cvss: z.array(Cvss).default([]),
  ssvcHints: SsvcHints.optional(),
  overrides: z.array(Override).default([]),
});
export type AdvisoryVulnerability = z.infer<typeof Vulnerability>;

const ExploitationEvent = z.strictObject({
  kind: z.enum(EXPLOITATION_EVENT_KINDS),
  /** The first day the fact was public; replays "as of" a date count it from this date on. */
  date: IsoDate,
  /** Which vulnerabilities of the advisory it concerns; all of them when absent. */
  vulnerabilities: z.array(Text).optional(),
  name: Text.optional(),
  source: Text,
  refs: z.array(Text).default([]),
});
export type AdvisoryExploitationEvent = z.infer<typeof ExploitationEvent>;

const Patch = z.strictObject({
  id: Text,
  kb: z
    .string()
    .regex(/^KB\d+$/)
    .optional(),
  title: Text,
  released: IsoDate,
  supersedes: z.array(Text).default([]),
  note: Text.optional(),
});
export type AdvisoryPatch = z.infer<typeof Patch>;

const Workaround = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  title: Text,
  /** disable-service workarounds can stand in for a patch (research §5.6 step 5). */
  kind: z.enum(["block-ports", "host-firewall", "disable-feature", "disable-service", "other"]),
  steps: Text.optional(),
  caveats: z.array(Text).default([]),
  refs: z.array(Text).default([]),
});
export type AdvisoryWorkaround = z.infer<typeof Workaround>;

const Block = z.strictObject({
  proto: z.enum(PROTOCOLS),
  port: Port,
  direction: z.enum(["inbound", "outbound", "both"]),
  reason: Text.optional(),
});
export type AdvisoryBlock = z.infer<typeof Block>;

const Monitor = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  description: Text,
  proto: z.enum(PROTOCOLS).optional(),
  port: Port.optional(),
});

const Reconfigure = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  title: Text,
  steps: Text.optional(),
  caveats: z.array(Text).default([]),
  refs: z.array(Text).default([]),
});

const Remediation = z.strictObject({
  patches: z.array(Patch).default([]),
  reconfigure: z.array(Reconfigure).default([]),
  workarounds: z.array(Workaround).default([]),
  /** Ports the advisory says to block at the perimeter and on hosts (deny rules to generate). */
  block: z.array(Block).default([]),
  /** Inside-the-firewall detections to watch after the fix (research §5.6 step 11). */
  monitor: z.array(Monitor).default([]),
});
export type AdvisoryRemediation = z.infer<typeof Remediation>;

const Indicator = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  kind: z.enum(["listener", "file", "registry", "process", "traffic"]),
  description: Text,
  proto: z.enum(PROTOCOLS).optional(),
  port: Port.optional(),
});

// --- policy rules (research §5.8) ---------------------------------------------------------

/** An absolute date, or a date computed from recorded facts. */
export const NotBefore = z.union([
  IsoDate,
  z.strictObject({ afterRelease: IsoDuration }),
  z.strictObject({ milestone: Text }),
  z.strictObject({ quietPeriod: z.strictObject({ noRemoteCriticalFor: IsoDuration }) }),
]);
export type NotBefore = z.infer<typeof NotBefore>;

const Revision = z.strictObject({
  /** When the advice was given: the revision is in force from this date on. */
  date: IsoDate,
  notBefore: NotBefore,
  source: Text,
});
export type RuleRevision = z.infer<typeof Revision>;

const OnViolation = z.strictObject({
  rating: z.enum(RATING_LEVELS),
  dueIn: IsoDuration,
  actions: z.array(z.enum(["remove-exposure", "shield-perimeter", "request-exception"])).min(1),
});

const ExceptionTerms = z.strictObject({
  approverRole: Text,
  maxDuration: IsoDuration,
  requires: z.array(z.enum(REQUIRED_SHIELDS)).default([]),
});
export type ExceptionTerms = z.infer<typeof ExceptionTerms>;

const RuleId = z.string().regex(/^[a-z0-9][a-z0-9-]*(\/[a-z0-9][a-z0-9-]*)?$/, {
  error: "expected a rule id such as new-release-exposure/windows-server-2003",
});

const NewReleaseRule = z.strictObject({
  id: RuleId,
  kind: z.literal("new-release-exposure"),
  match: z.strictObject({
    os: z.strictObject({ family: Text, version: VersionText }),
    tagsAny: z.array(Text).default([]),
    zones: z.array(z.enum(ZONES)).min(1),
  }),
  /** The date in force when no revision is; must equal the latest revision's when both exist. */
  notBefore: NotBefore.optional(),
  revisions: z.array(Revision).default([]),
  /** Facts the relative forms of notBefore resolve against. */
  facts: z
    .strictObject({
      releaseDate: IsoDate.optional(),
      milestones: z.record(z.string(), IsoDate).default({}),
      remoteCritical: z.array(z.strictObject({ date: IsoDate, ref: Text })).default([]),
    })
    .default({ milestones: {}, remoteCritical: [] }),
  onViolation: OnViolation,
  exceptions: ExceptionTerms,
});
export type NewReleaseRule = z.infer<typeof NewReleaseRule>;

const AllowlistRule = z.strictObject({
  id: RuleId,
  /** "Deny all except what is explicitly allowed": the allowed services per zone are policy. */
  kind: z.literal("exposure-allowlist"),
  onViolation: OnViolation,
  exceptions: ExceptionTerms,
});
export type AllowlistRule = z.infer<typeof AllowlistRule>;

export const PolicyRule = z.discriminatedUnion("kind", [NewReleaseRule, AllowlistRule]);
export type PolicyRule = z.infer<typeof PolicyRule>;

// --- the advisory -------------------------------------------------------------------------

const AdvisoryObject = z.strictObject({
  schema: z.literal(ADVISORY_SCHEMA_ID, { error: `expected schema: ${ADVISORY_SCHEMA_ID}` }),
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { error: "expected a kebab-case advisory id" }),
  kind: z.enum(ADVISORY_KINDS),
  title: Text,
  summary: Text.optional(),
  published: IsoDate,
  revised: IsoDate.optional(),
  ids: Ids.default({ cve: [] }),
  /** Names people use: Blaster, EternalBlue, SMBGhost. Looked up like ids. */
  aliases: z.array(Text).default([]),
  /** Other advisories this one is about or caused by (not aliases: no lookup by them). */
  related: z.array(Text).default([]),
  affected: z.array(Affected).default([]),
  services: z.array(Service).default([]),
  checks: z.array(Check).min(1, { error: "an advisory needs at least one check" }),
  vulnerabilities: z.array(Vulnerability).default([]),
  exploitation: z.array(ExploitationEvent).default([]),
  remediation: Remediation.default({
    patches: [],
    reconfigure: [],
    workarounds: [],
    block: [],
    monitor: [],
  }),
  indicators: z.array(Indicator).default([]),
  rule: PolicyRule.optional(),
  references: z.array(Reference).default([]),
});

export const AdvisorySchema = AdvisoryObject.superRefine((advisory, ctx) => {
  const issue = (path: PropertyKey[], message: string): void => {
    ctx.addIssue({ code: "custom", path, message, input: undefined });
  };
  const vulnIds = new Set<string>();
  advisory.vulnerabilities.forEach((vuln, i) => {
    if (vulnIds.has(vuln.id)) issue(["vulnerabilities", i, "id"], `duplicate id ${vuln.id}`);
    vulnIds.add(vuln.id);
    vuln.cvss.forEach((entry, j) => {
      const parsed = parseCvssVector(entry.vector);
      if ("reason" in parsed) issue(["vulnerabilities", i, "cvss", j, "vector"], parsed.reason);
      // Research §2.3: derived vectors are ours and must never pass for NVD's.
      if ((entry.kind === "derived") !== (entry.source === "ringfence")) {
        issue(
          ["vulnerabilities", i, "cvss", j, "source"],
          entry.kind === "derived"
            ? "a derived vector is ours: source must be ringfence"
            : "source ringfence can only give derived vectors",
        );
      }
    });
    const overridden = new Set<string>();
    vuln.overrides.forEach((override, j) => {
      if (overridden.has(override.field)) {
        issue(
          ["vulnerabilities", i, "overrides", j, "field"],
          `${override.field} is overridden twice`,
        );
      }
      overridden.add(override.field);
      const allowed = OVERRIDE_VALUES[override.field];
      if (!allowed.includes(override.value)) {
        issue(
          ["vulnerabilities", i, "overrides", j, "value"],
          `${override.field} takes ${allowed.join(", ")}`,
        );
      }
    });
  });
  for (const [i, cve] of advisory.ids.cve.entries()) {
    if (!vulnIds.has(cve) && advisory.kind !== "indicator") {
      issue(["ids", "cve", i], `${cve} is listed but has no entry under vulnerabilities`);
    }
  }
  const checkIds = new Set<string>();
  advisory.checks.forEach((check, i) => {
    if (checkIds.has(check.id)) issue(["checks", i, "id"], `duplicate check id ${check.id}`);
    checkIds.add(check.id);
    check.detects.forEach((id, j) => {
      if (!vulnIds.has(id)) {
        issue(["checks", i, "detects", j], `${id} is not one of this advisory's vulnerabilities`);
      }
    });
  });
  advisory.exploitation.forEach((event, i) => {
    (event.vulnerabilities ?? []).forEach((id, j) => {
      if (!vulnIds.has(id)) {
        issue(
          ["exploitation", i, "vulnerabilities", j],
          `${id} is not one of this advisory's vulnerabilities`,
        );
      }
    });
  });
  const needsVulns = advisory.kind === "vulnerability" || advisory.kind === "configuration";
  if (needsVulns && advisory.vulnerabilities.length === 0) {
    issue(["vulnerabilities"], `a ${advisory.kind} advisory needs at least one entry`);
  }
  if (advisory.kind === "policy" && advisory.rule === undefined) {
    issue(["rule"], "a policy advisory needs a rule");
  }
  if (advisory.kind !== "policy" && advisory.rule !== undefined) {
    issue(["rule"], "only a policy advisory has a rule");
  }
  if (advisory.kind === "indicator" && advisory.indicators.length === 0) {
    issue(["indicators"], "an indicator advisory needs at least one indicator");
  }
  const rule = advisory.rule;
  if (rule?.kind === "new-release-exposure") {
    if (rule.notBefore === undefined && rule.revisions.length === 0) {
      issue(["rule", "notBefore"], "give notBefore, revisions, or both");
    }
    const dates = rule.revisions.map((revision) => revision.date);
    dates.forEach((date, i) => {
      if (i > 0 && date <= (dates[i - 1] ?? "")) {
        issue(["rule", "revisions", i, "date"], "revisions must be in increasing date order");
      }
    });
    // Relative forms resolve against recorded facts: make sure they are recorded.
    const needsFacts = (notBefore: NotBefore, path: PropertyKey[]): void => {
      if (typeof notBefore === "string") return;
      if ("milestone" in notBefore) {
        if (rule.facts.milestones[notBefore.milestone] === undefined) {
          issue(
            path,
            `milestone "${notBefore.milestone}" needs rule.facts.milestones.${notBefore.milestone}`,
          );
        }
      } else if (rule.facts.releaseDate === undefined) {
        issue(path, "this form needs rule.facts.releaseDate");
      }
    };
    if (rule.notBefore !== undefined) needsFacts(rule.notBefore, ["rule", "notBefore"]);
    rule.revisions.forEach((revision, i) =>
      needsFacts(revision.notBefore, ["rule", "revisions", i, "notBefore"]),
    );
    const latest = rule.revisions.at(-1);
    if (
      rule.notBefore !== undefined &&
      latest !== undefined &&
      JSON.stringify(latest.notBefore) !== JSON.stringify(rule.notBefore)
    ) {
      issue(["rule", "notBefore"], "must equal the latest revision's notBefore");
    }
  }
});

export type Advisory = z.infer<typeof AdvisorySchema>;
