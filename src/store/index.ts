export { openStore, withStore } from "./open-store.js";
export { DEFAULT_STORE_LOCATION, parseStoreLocation } from "./store-location.js";
export type { StoreLocation } from "./store-location.js";
export { LATEST_SCHEMA_VERSION } from "./migrations.js";
export { RINGFENCE_APPLICATION_ID } from "./sqlite/sqlite-inspector.js";
export { ASSESSMENT_RATINGS, CHECK_VERDICTS, WORKFLOW_STATES } from "./store.js";
export { auditEntryHash, GENESIS_HASH } from "./audit-records.js";
export { API_ROLES } from "./store.js";
export type { ApiRole, ApiTokenInput, ApiTokenRecord } from "./store.js";
export type {
  AssessmentFilter,
  AssessmentInput,
  AssessmentRating,
  AssessmentRecord,
  AuditEntry,
  AuditEntryInput,
  AuditFilter,
  Checkpoint,
  CheckRunFilter,
  CheckRunInput,
  CheckRunRow,
  CheckVerdict,
  FindingFilter,
  FindingRecord,
  FindingStateFilter,
  FindingStateRow,
  FindingVerdict,
  FingerprintInput,
  HostFilter,
  HostRow,
  ObservationRow,
  ScanRecord,
  ScanStatus,
  ServiceFilter,
  ServiceRow,
  Store,
  TransitionInput,
  TransitionRecord,
  WorkflowState,
} from "./store.js";
