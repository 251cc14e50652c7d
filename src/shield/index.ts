/**
 * The shield: from findings to firewall rules and back. One policy model (model/), a plan builder
 * that turns findings or an exposure list into a policy (plan/), one generator per firewall
 * (generators/), and an offline auditor that reads deployed rulesets and says, per host, service
 * and zone, whether the plan holds (audit/).
 *
 *   const plan = buildShieldPlan(catalog, exposures, openServices, { source: "findings", scope: "affected" });
 *   const files = GENERATORS.nftables.render(plan.policy);
 *   const report = auditPlan(plan, rulesetTarget(parseNftJson(text, file)));
 */
export { ShieldPolicyError, UnrenderableTermError } from "./errors.js";
export {
  formatPrefix,
  formatPrefixShort,
  prefixesOf,
  rangesOf,
  type Prefix,
} from "./model/address-set.js";
export { formatPortRange, parsePortRange, type PortRange } from "./model/port-set.js";
export {
  addressSet,
  createPolicy,
  DIRECTIONS,
  endpointRanges,
  NAME_PATTERN,
  service,
  SERVICE_PROTOCOLS,
  STANCES,
  term,
  TERM_ACTIONS,
  zone,
  type AddressSetNode,
  type Direction,
  type Endpoint,
  type PolicyInput,
  type PolicyNode,
  type ServiceNode,
  type Stance,
  type TermAction,
  type TermInput,
  type TermNode,
  type ZoneNode,
} from "./model/policy.js";
export {
  policyFromDocument,
  policyToDocument,
  PolicyDocumentSchema,
} from "./model/policy-document.js";
export {
  GENERATORS,
  TARGETS,
  WINDOWS_PROFILES,
  type FirewallGenerator,
  type RenderedFile,
  type RenderOptions,
  type TargetId,
  type WindowsProfile,
} from "./generators/index.js";
export {
  PLACEMENTS,
  PLAN_SCHEMA_ID,
  SCOPES,
  type PlanFlag,
  type PlanHost,
  type ShieldPlacement,
  type ShieldPlan,
  type ShieldScope,
} from "./plan/shield-plan.js";
export {
  buildShieldPlan,
  DEFAULT_INTERNAL,
  parseAllowSpec,
  parseZoneSpec,
  addressOrZone,
  type AllowSpec,
  type Exposure,
  type OpenService,
  type PlanOptions,
  type ZoneSpec,
} from "./plan/plan-builder.js";
export { formatPlan, parsePlanText, readPlanFile, type PlanFormat } from "./plan/plan-file.js";
export { diffPlans, formatPlanDiff, type PlanChange } from "./plan/plan-diff.js";
export { parseExposureText, readExposureFile, type ExposureList } from "./plan/exposure-file.js";
export { exposuresFromInventory, type InventoryExposures } from "./plan/findings-exposures.js";
export { evaluate, type Outcome, type Path, type Question } from "./audit/evaluator.js";
export type { Ruleset } from "./audit/ruleset-model.js";
export { parseNftJson } from "./audit/nft-json-parser.js";
export { parseIptablesSave } from "./audit/iptables-save-parser.js";
export {
  evaluateWindows,
  parseWindowsExport,
  WINDOWS_EXPORT_SCHEMA,
  type WindowsFirewall,
} from "./audit/windows-export.js";
export { policyRuleset } from "./audit/policy-ruleset.js";
export {
  AUDIT_STATUSES,
  auditPlan,
  combinedTarget,
  plannedServices,
  formatAuditReport,
  rulesetTarget,
  windowsTarget,
  type AuditFinding,
  type AuditReport,
  type AuditStatus,
  type AuditTarget,
} from "./audit/plan-audit.js";
export {
  formatVerification,
  judgeVerification,
  verificationProbes,
  verifiedControls,
  type Expectation,
  type HostVerification,
  type ShieldVerification,
  type VerifyProbe,
  type VerifyResult,
} from "./verify/verify-shield.js";
