import type { Generated } from "kysely";
import type { PortState, Protocol } from "../scan/observation.js";

/**
 * The tables as kysely sees them. Column names are snake_case SQL; the Store API maps them to
 * camelCase records so that no caller depends on the physical schema.
 */
export type ScanStatus = "running" | "completed" | "interrupted" | "failed";

export interface MetaTable {
  key: string;
  value: string;
}

export interface ScansTable {
  /** Compact key of the scan in the observations' probe key; id is the one users see. */
  seq: Generated<number>;
  id: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  status: ScanStatus;
  command: string;
  params_json: string;
  params_hash: string;
  total_probes: number;
  checkpoint_step: number;
  probes_done: number;
  counts_json: string;
  error: string | null;
}

export interface AssetsTable {
  id: Generated<number>;
  address: string;
  address_key: string;
  family: string;
  hostnames_json: string;
  first_seen: string;
  os: string | null;
  os_confidence: number | null;
  detail_json: string | null;
}

export interface ServicesTable {
  id: Generated<number>;
  asset_id: number;
  protocol: Protocol;
  port: number;
  state: PortState;
  reason: string;
  first_seen: string;
  last_seen: string;
  /**
   * When the port last answered (open or closed); null if it never did. The latest of an
   * asset's is the asset's last sighting.
   */
  last_answered: string | null;
  last_scan_id: string;
  detail_json: string | null;
}

export interface ObservationsTable {
  id: Generated<number>;
  /** scans.seq of scan_id (a foreign key holds the pair together). */
  scan_seq: number;
  scan_id: string;
  /** Null while the address has not answered on any port (no asset yet). */
  asset_id: number | null;
  address: string;
  address_key: string;
  protocol: Protocol;
  port: number;
  state: PortState;
  reason: string;
  rtt_ms: number | null;
  observed_at: string;
  detail_json: string | null;
}

export interface FindingsTable {
  id: Generated<number>;
  asset_id: number;
  protocol: Protocol;
  port: number;
  advisory: string;
  check_id: string;
  verdict: string;
  evidence_json: string | null;
  first_seen: string;
  last_seen: string;
  /** "open" while the latest verdict is vulnerable or unknown, "closed" otherwise. */
  status: string;
  /** Since version 2: the latest run's human-readable reason (null on older rows). */
  reason: string | null;
  /** Since version 2: check_runs.id of the run that last updated the row. */
  last_run_id: number | null;
}

/** Since version 2: every run of a check against one service, as the check reported it. */
export interface CheckRunsTable {
  id: Generated<number>;
  /** Null for a standalone `ringfence check`. */
  scan_id: string | null;
  asset_id: number;
  address: string;
  protocol: Protocol;
  port: number;
  check_id: string;
  /** VULNERABLE, NOT_VULNERABLE, NOT_APPLICABLE or UNKNOWN (a check constraint holds it). */
  verdict: string;
  classification: string | null;
  reason_code: string;
  reason: string;
  evidence_json: string;
  started_at: string;
  finished_at: string;
}

/**
 * Since version 3: one row per assessment of a finding by the risk engine (src/risk), as of a
 * date under a policy. Rows are only ever added: a re-assessment is a new row, and the latest row
 * of a finding (highest id) is its current assessment.
 */
export interface AssessmentsTable {
  id: Generated<number>;
  finding_id: number;
  /** The engine's asOf (ISO instant): the date the assessment speaks for. */
  as_of: string;
  /** When the row was written (wall clock); kept out of assessment_json. */
  created_at: string;
  policy_id: string;
  policy_version: string;
  policy_sha256: string;
  /** The catalog id of the advisory the finding was assessed against. */
  advisory: string;
  /** The asset's zone as the assessment used it. */
  zone: string;
  /** Intrinsic rating level: very-high, high, moderate, low. */
  rating: string;
  /** SSVC deployer decision after floors (immediate, out-of-cycle, scheduled, defer); null when none. */
  outcome: string | null;
  protect_by: string | null;
  fix_by: string | null;
  verify_by: string | null;
  /** JSON array of the clocks already past at as_of ("protectBy", "fixBy", "verifyBy"). */
  overdue_json: string;
  /** The canonical JSON bytes of the assessment (src/risk assessmentJson). */
  assessment_json: string;
  /** Canonical JSON of the inputs the engine was given that its output does not repeat. */
  inputs_json: string | null;
}

/**
 * Since version 4: verified controls (src/risk Control), e.g. recorded by `verify-shield`. Rows are
 * only ever added: a re-verification is a new row, and the latest row of a control_id (highest
 * id) is the control as it stands.
 */
export interface ControlsTable {
  id: Generated<number>;
  /** Control.id. */
  control_id: string;
  /** When the row was written (wall clock). */
  created_at: string;
  kind: string;
  method: string;
  verified_at: string | null;
  expires_at: string | null;
  /** The control's canonical JSON. */
  control_json: string;
}

/** Since version 5: the hash-chained, append-only audit trail (src/audit). */
export interface AuditLogTable {
  /** 1, 2, ...: assigned by the writer, covered by the hash. */
  seq: number;
  at: string;
  actor: string;
  kind: string;
  subject: string;
  evidence_ref: string | null;
  /** Canonical JSON of the payload. */
  payload_json: string;
  /** hash of the entry before (64 zeros for the first). */
  prev_hash: string;
  /** sha256 of the entry's canonical JSON (src/audit/audit-hash.ts). */
  hash: string;
}

/** Since version 5: every workflow transition of a finding (src/workflow). */
export interface FindingTransitionsTable {
  id: Generated<number>;
  finding_id: number;
  from_state: string;
  to_state: string;
  actor: string;
  at: string;
  /** Canonical JSON of the evidence the transition was granted on. */
  evidence_json: string;
  audit_seq: number;
}

/** Since version 5: the current workflow state of a finding that has left "detected". */
export interface FindingStatesTable {
  finding_id: number;
  state: string;
  since: string;
  previous_state: string | null;
  /** 0/1: quarantined and not yet reconnected. */
  disconnected: number;
  accepted_until: string | null;
  last_transition_id: number;
}

/**
 * Since version 6: bearer tokens of the REST API (src/api). Only the SHA-256 of a token is
 * stored; the token itself is shown once, when it is created. Rows are never deleted: a revoked
 * token keeps its row (revoked_at set) so that the audit trail's actor names stay resolvable.
 */
export interface ApiTokensTable {
  id: Generated<number>;
  /** Unique; the actor name the audit trail records for this token's requests. */
  name: string;
  /** viewer, operator or admin (a check constraint holds it). */
  role: string;
  /** Lower-case hex SHA-256 of the token text; unique. */
  token_hash: string;
  created_at: string;
  /** ISO instant; null: never expires. */
  expires_at: string | null;
  revoked_at: string | null;
}

export interface StoreDatabase {
  ringfence_meta: MetaTable;
  scans: ScansTable;
  assets: AssetsTable;
  services: ServicesTable;
  observations: ObservationsTable;
  findings: FindingsTable;
  check_runs: CheckRunsTable;
  assessments: AssessmentsTable;
  controls: ControlsTable;
  audit_log: AuditLogTable;
  finding_transitions: FindingTransitionsTable;
  finding_states: FindingStatesTable;
  api_tokens: ApiTokensTable;
}
