/**
 * The advisory catalog: advisories as data (YAML in `advisories/`, plus user directories),
 * validated at load time, and the shared vocabulary and file-error helpers of the risk engine.
 */
export type {
  Advisory,
  AdvisoryBlock,
  AdvisoryCheck,
  AdvisoryCvss,
  AdvisoryExploitationEvent,
  AdvisoryPatch,
  AdvisoryRemediation,
  AdvisoryService,
  AdvisoryVulnerability,
  AdvisoryWorkaround,
  AllowlistRule,
  ExceptionTerms,
  FactOverride,
  NewReleaseRule,
  NotBefore,
  OverrideField,
  PolicyRule,
  RuleRevision,
  ServiceRef,
  SsvcHints,
  VulnerabilityFacts,
} from "./advisory-schema.js";
export {
  ADVISORY_SCHEMA_ID,
  AdvisorySchema,
  IsoDate,
  IsoDuration,
  NotBefore as NotBeforeSchema,
  ServiceRef as ServiceRefSchema,
} from "./advisory-schema.js";
export { AdvisoryCatalog, lookupKeys, type CatalogEntry } from "./advisory-catalog.js";
export {
  BUILTIN_ADVISORY_DIR,
  loadAdvisoryCatalog,
  loadAdvisoryDirectory,
  parseAdvisoryFile,
  type LoadCatalogOptions,
} from "./advisory-loader.js";
export {
  cvssVersionOf,
  parseCvssVector,
  type CvssVersion,
  type ParsedCvssVector,
} from "./cvss-vector.js";
export {
  fileError,
  fsReason,
  LocatedDocument,
  parseYamlFile,
  pathText,
  RingfenceFileError,
  zodIssues,
  type FileIssue,
  type FileKind,
} from "./file-issues.js";
export {
  addDuration,
  addIsoDuration,
  formatDate,
  formatInstant,
  parseDate,
  parseDuration,
  parseInstant,
  type Duration,
} from "./time.js";
export * from "./vocabulary.js";
