export { openStore } from "./open-store.js";
export { DEFAULT_STORE_LOCATION, parseStoreLocation } from "./store-location.js";
export type { StoreLocation } from "./store-location.js";
export { LATEST_SCHEMA_VERSION } from "./migrations.js";
export { RINGFENCE_APPLICATION_ID } from "./sqlite/sqlite-inspector.js";
export { ASSESSMENT_RATINGS, CHECK_VERDICTS } from "./store.js";
export type {
  AssessmentFilter,
  AssessmentInput,
  AssessmentRating,
  AssessmentRecord,
  Checkpoint,
  CheckRunFilter,
  CheckRunInput,
  CheckRunRow,
  CheckVerdict,
  FindingFilter,
  FindingRecord,
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
} from "./store.js";
