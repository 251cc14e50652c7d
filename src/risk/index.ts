/**
 * The risk engine: rate a finding, decide with SSVC, set the protect and fix clocks and plan the
 * actions (research §5). Everything here is pure except the `load*` functions, which read the
 * files the user names (threat intel, site, policy) and the vendored SSVC tables.
 *
 * Wiring, in order:
 *   const catalog = await loadAdvisoryCatalog({ extraDirs });          // src/advisories
 *   const policy = await loadRiskPolicy({ path: policyFile });         // + SSVC tables
 *   const site = siteFile ? await loadSiteFile(siteFile) : emptySite();
 *   const intel = { kev: [await loadKevCatalog(kevFile)], epss: [await loadEpssCsv(epssFile)], exploitation: [] };
 *   const asset = resolveAsset(site, observedAssetOf({ ...inventory })); // inventory-adapter.ts
 *   const finding = findingFromStoreRow(findingRowOf(record), asset);  // or a check's result
 *   const assessment = assess(finding, asset, catalog.require(finding.advisory), intel, controls, policy, asOf);
 *   assessmentJson(assessment)                                        // canonical bytes
 *
 * src/jobs/assess-job.ts does exactly this for every open finding of the inventory and stores
 * the results (`ringfence assess`).
 */
export { assess, assessAll } from "./assess.js";
export { newestPatch, planActions, type PlanInput } from "./action-plan.js";
export { canonicalize, canonicalJson } from "./canonical-json.js";
export {
  fixDuration,
  PROTECT_URGENCIES,
  protectDuration,
  protectUrgency,
  verifyDuration,
  type ProtectUrgency,
} from "./clocks.js";
export { scoreCvss, validateCvssVector, type CvssScore, type CvssSeverity } from "./cvss.js";
export {
  controlAppliesTo,
  controlStatus,
  exposureOf,
  type ControlState,
  type ControlStatus,
  type ExposureResult,
} from "./exposure.js";
export { findingFromStoreRow, assessmentJson, type FindingRow } from "./finding.js";
export {
  findingRowOf,
  isCompromiseIndicator,
  observedAssetOf,
  type InventoryAssetInput,
} from "./inventory-adapter.js";
export {
  emptyIntel,
  epssReading,
  kevListing,
  loadEpssCsv,
  loadKevCatalog,
  parseEpssCsv,
  parseKevCatalog,
  type EpssEntry,
  type EpssOptions,
  type EpssReading,
  type EpssSnapshot,
  type ExploitationReport,
  type IntelSource,
  type KevCatalog,
  type KevEntry,
  type KevListing,
  type ThreatIntel,
} from "./intel.js";
export {
  gartnerFactors,
  intrinsicRating,
  RATING_METHOD,
  type GartnerFactors,
  type RatingResult,
  type RatingStatus,
} from "./intrinsic-rating.js";
export {
  createRiskPolicy,
  defaultPolicyDocument,
  loadRiskPolicy,
  parsePolicyFile,
  POLICY_SCHEMA_ID,
  PolicyDocumentSchema,
  policyDocumentFrom,
  type LoadPolicyOptions,
  type PolicyDocument,
  type PolicyException,
  type RiskPolicy,
} from "./policy.js";
export {
  checkException,
  evaluateAllowlistRule,
  evaluateNewReleaseRule,
  evaluatePolicyRule,
  findingIdOf,
  policyFindings,
  resolveNotBefore,
  revisionAt,
  type ExceptionCheck,
  type RuleEvaluation,
  type RuleState,
} from "./policy-rules.js";
export {
  emptySite,
  isInternetRoutable,
  loadSiteFile,
  parseSiteFile,
  resolveAsset,
  SITE_SCHEMA_ID,
  type ObservedAsset,
  type SiteContext,
} from "./site.js";
export * from "./ssvc.js";
export * from "./types.js";
