import type { PortState, ProbeObservation, Protocol } from "../scan/observation.js";
import type { Control } from "../risk/types.js";
import type { ScanStatus } from "./schema.js";

export type { ScanStatus } from "./schema.js";

/** One scan as stored: what was asked for (`params`) and how far it got (the checkpoint). */
export interface ScanRecord {
  id: string;
  createdAt: string;
  /** Set by the first markRunning; kept across resumes. */
  startedAt: string | null;
  finishedAt: string | null;
  status: ScanStatus;
  command: string;
  params: unknown;
  /** sha256 of the canonical (sorted-keys) JSON of params: a resume must match it. */
  paramsHash: string;
  totalProbes: number;
  /** Resume watermark: the scanner's own step counter as of the last recorded batch. */
  checkpointStep: number;
  probesDone: number;
  counts: Record<string, number>;
  error: string | null;
}

export interface Checkpoint {
  step: number;
  probesDone: number;
  counts: Record<string, number>;
}

export interface HostRow {
  address: string;
  family: "ipv4" | "ipv6";
  hostnames: string[];
  os: string | null;
  osConfidence: number | null;
  /** "tcp/135", "udp/137", ...: tcp before udp, then by port. */
  openPorts: string[];
  firstSeen: string;
  lastSeen: string;
  /** The asset's detail (e.g. `smb`: the SMB/NetBIOS fingerprint); null when none is stored. */
  detail: Record<string, unknown> | null;
}

export interface ServiceRow {
  address: string;
  hostnames: string[];
  os: string | null;
  protocol: Protocol;
  port: number;
  /** The latest state, or with a scanId filter the state that scan saw. */
  state: PortState;
  reason: string;
  detail: Record<string, unknown> | null;
  firstSeen: string;
  lastSeen: string;
  lastScanId: string;
}

export interface ObservationRow {
  scanId: string;
  address: string;
  protocol: Protocol;
  port: number;
  state: PortState;
  reason: string;
  rttMs: number | null;
  observedAt: string;
  detail: Record<string, unknown> | null;
}

export interface HostFilter {
  /** Exactly this host (any spelling of the same IP address). */
  address?: string;
  port?: number;
  protocol?: Protocol;
  /** Defaults to "open" when port or protocol is given: "hosts with 445" means 445 open. */
  state?: PortState;
  /** Case-insensitive substring of the fingerprinted OS. */
  os?: string;
  /** Only what this scan observed: its hosts, and the ports it found open. */
  scanId?: string;
  limit?: number;
}

export interface ServiceFilter {
  port?: number;
  protocol?: Protocol;
  state?: PortState;
  os?: string;
  /** Exact address. */
  address?: string;
  /** Only the services this scan observed, with the state it saw. */
  scanId?: string;
  limit?: number;
}

/** One host's fingerprint to store on its asset (recordFingerprints). */
export interface FingerprintInput {
  /** Canonical IPv4/IPv6 text. */
  address: string;
  /** The inventory's one-line OS ("Windows XP SP1", "Samba 4.17.12"); null: unknown. */
  os: string | null;
  /** 0-100; null with os null. */
  osConfidence: number | null;
  /** JSON-serialisable; merged into the asset's detail under "smb". */
  detail: object;
}

/** What a vulnerability check concluded about one service. */
export type CheckVerdict = "VULNERABLE" | "NOT_VULNERABLE" | "NOT_APPLICABLE" | "UNKNOWN";

export const CHECK_VERDICTS: readonly CheckVerdict[] = [
  "VULNERABLE",
  "NOT_VULNERABLE",
  "NOT_APPLICABLE",
  "UNKNOWN",
];

/** One run of one check against one service, as the check engine reports it. */
export interface CheckRunInput {
  /** The scan the check ran in; null for a standalone `ringfence check`. */
  scanId: string | null;
  /** Canonical IPv4/IPv6 text. */
  address: string;
  protocol: Protocol;
  /** The nominal port (135, 593, 4444), not a lab's wire port. */
  port: number;
  /** e.g. "ms03-039-kb824146scan". */
  checkId: string;
  /** One finding per advisory, e.g. ["ms03-039"]; none records the run only. */
  advisories: readonly string[];
  verdict: CheckVerdict;
  /** e.g. "VULNERABLE_MS03_026"; null when the check has none. */
  classification: string | null;
  reasonCode: string;
  reason: string;
  /** JSON-serialisable: the steps the check took and what it saw. */
  evidence: unknown;
  /** ISO 8601 instants; stored as Date.toISOString() text. */
  startedAt: string;
  finishedAt: string;
}

/** A stored check run. */
export interface CheckRunRow {
  id: number;
  scanId: string | null;
  address: string;
  protocol: Protocol;
  port: number;
  checkId: string;
  verdict: CheckVerdict;
  classification: string | null;
  reasonCode: string;
  reason: string;
  /** As recorded (parsed JSON). */
  evidence: unknown;
  startedAt: string;
  finishedAt: string;
}

export interface CheckRunFilter {
  scanId?: string;
  /** The asset's address (any spelling of the same IP address). */
  address?: string;
  checkId?: string;
  limit?: number;
}

/**
 * The verdict words of the findings table (what src/risk/finding.ts reads): the check's
 * verdict in lower case with hyphens.
 */
export type FindingVerdict = "vulnerable" | "not-vulnerable" | "not-applicable" | "unknown";

/**
 * The state of one (asset, protocol, port, advisory, check) as of its latest check run. For
 * rows recorded by recordCheckRuns, evidence_json holds {classification, reasonCode, evidence},
 * which this record spreads into its fields.
 */
export interface FindingRecord {
  id: number;
  assetId: number;
  address: string;
  protocol: Protocol;
  port: number;
  advisory: string;
  checkId: string;
  /** A FindingVerdict for rows recordCheckRuns wrote; any word findingFromStoreRow reads otherwise. */
  verdict: string;
  classification: string | null;
  reasonCode: string | null;
  /** The check's evidence (parsed JSON); null when none was stored. */
  evidence: unknown;
  reason: string | null;
  /** When the first run that reported this finding finished; kept by later runs. */
  firstSeen: string;
  /** When the latest run finished. */
  lastSeen: string;
  /** "open" while the latest verdict is vulnerable or unknown, "closed" otherwise. */
  status: "open" | "closed";
  /** CheckRunRow.id of the latest run; null on rows from before schema version 2. */
  lastRunId: number | null;
}

export interface FindingFilter {
  /** One finding, by FindingRecord.id. */
  id?: number;
  /** The asset's address (any spelling of the same IP address). */
  address?: string;
  advisory?: string;
  /** A finding verdict ("not-vulnerable") or a check verdict ("NOT_VULNERABLE"). */
  verdict?: string;
  status?: "open" | "closed";
  limit?: number;
}

export const ASSESSMENT_RATINGS = ["very-high", "high", "moderate", "low"] as const;
/** Intrinsic rating levels, most severe first (the order `latestAssessments` sorts by). */
export type AssessmentRating = (typeof ASSESSMENT_RATINGS)[number];

/**
 * One assessment of a finding to store: the engine's canonical JSON bytes, and the columns the
 * listings filter and sort on, copied out of it.
 */
export interface AssessmentInput {
  /** FindingRecord.id. */
  findingId: number;
  /** The assessment's asOf, an ISO instant. */
  asOf: string;
  policyId: string;
  policyVersion: string;
  policySha256: string;
  /** The catalog id of the advisory it was assessed against. */
  advisory: string;
  zone: string;
  rating: AssessmentRating;
  /** SSVC deployer decision after floors; null when there is none (not applicable). */
  outcome: string | null;
  protectBy: string | null;
  fixBy: string | null;
  verifyBy: string | null;
  /** Clocks already past at asOf. */
  overdue: readonly string[];
  /** The assessment's canonical JSON, stored byte for byte. */
  assessmentJson: string;
  /** Canonical JSON of the engine's inputs that the assessment does not repeat (provenance). */
  inputsJson: string | null;
}

/** A stored assessment, with the finding it is about. */
export interface AssessmentRecord {
  id: number;
  findingId: number;
  asOf: string;
  /** When it was stored (wall clock). */
  createdAt: string;
  policyId: string;
  policyVersion: string;
  policySha256: string;
  advisory: string;
  zone: string;
  rating: AssessmentRating;
  outcome: string | null;
  protectBy: string | null;
  fixBy: string | null;
  verifyBy: string | null;
  overdue: string[];
  assessmentJson: string;
  inputsJson: string | null;
  // The finding, as it stands now.
  assetId: number;
  address: string;
  protocol: Protocol;
  port: number;
  /** The findings row's advisory (as the check recorded it). */
  findingAdvisory: string;
  checkId: string;
  verdict: string;
  status: "open" | "closed";
  firstSeen: string;
  lastSeen: string;
}

export interface AssessmentFilter {
  /** The asset's address (any spelling of the same IP address). */
  address?: string;
  /** The assessment's or the finding's advisory id, case-insensitive. */
  advisory?: string;
  rating?: AssessmentRating;
  zone?: string;
  /** The finding's current status; both when absent. */
  status?: "open" | "closed";
  /** Only assessments with a clock (protect-by, fix-by, verify-by) before this ISO instant. */
  overdueAt?: string;
  limit?: number;
}

/** Roles of REST API tokens, least privileged first (src/api/auth.ts says what each may do). */
export const API_ROLES = ["viewer", "operator", "admin"] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** A REST API token to store: its SHA-256, never the token itself. */
export interface ApiTokenInput {
  /** Unique among all tokens ever created; the audit trail's actor name. */
  name: string;
  role: ApiRole;
  /** Lower-case hex SHA-256 of the token text. */
  tokenHash: string;
  /** ISO instant; null: never expires. */
  expiresAt: string | null;
}

export interface ApiTokenRecord {
  id: number;
  name: string;
  role: ApiRole;
  tokenHash: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

/** The remediation workflow's states (src/workflow): the main line, then the two side states. */
export const WORKFLOW_STATES = [
  "detected",
  "quarantined",
  "shielded",
  "patched",
  "verified",
  "closed",
  "risk-accepted",
  "reopened",
] as const;
export type WorkflowState = (typeof WORKFLOW_STATES)[number];

/** One audit entry to append (appendAuditEntries assigns seq, hashes and, when absent, at). */
export interface AuditEntryInput {
  /** Who: "operator:alice", "api:token-3", "ringfence verify", ... */
  actor: string;
  /** What: "transition", "assessment", "control", or another component's kind. */
  kind: string;
  /** About what: "finding:12", "control:shield-abc", ... */
  subject: string;
  /** Where the evidence is: "check-run:45", "control:shield-abc", "attestation", ... */
  evidenceRef?: string | null;
  /** JSON-serialisable; stored as canonical JSON. */
  payload?: unknown;
  /** ISO instant; defaults to the wall clock at append. */
  at?: string;
}

/** A stored audit entry: hash = sha256(canonical JSON of every other field), prevHash chains. */
export interface AuditEntry {
  seq: number;
  at: string;
  actor: string;
  kind: string;
  subject: string;
  evidenceRef: string | null;
  payload: unknown;
  /** The hash of entry seq - 1; 64 zeros for seq 1. */
  prevHash: string;
  hash: string;
}

export interface AuditFilter {
  /** Entries at or after this ISO instant. */
  since?: string;
  subject?: string;
  kind?: string;
  limit?: number;
  /** Entries with seq greater than this (paging). */
  afterSeq?: number;
}

/** A workflow transition to record (src/workflow validated its evidence before). */
export interface TransitionInput {
  findingId: number;
  /** The state the caller saw; recordTransition refuses when the stored one differs (a race). */
  from: WorkflowState;
  to: WorkflowState;
  actor: string;
  /** ISO instant of the transition. */
  at: string;
  /** JSON-serialisable evidence the transition was granted on. */
  evidence: unknown;
  /** risk-accepted: the state to return to when the acceptance expires. */
  previousState?: WorkflowState | null;
  /** Quarantined and not reconnected since. */
  disconnected: boolean;
  /** risk-accepted: the acceptance's expiry. */
  acceptedUntil?: string | null;
}

export interface TransitionRecord {
  id: number;
  findingId: number;
  from: WorkflowState;
  to: WorkflowState;
  actor: string;
  at: string;
  evidence: unknown;
  /** The audit entry written with it. */
  auditSeq: number;
}

export interface FindingStateFilter {
  findingId?: number;
  /** The asset's address (any spelling of the same IP address). */
  address?: string;
  advisory?: string;
  state?: WorkflowState;
}

/**
 * The workflow state of a finding with the finding's identity. A finding whose verdict is
 * vulnerable and that has no transition yet is "detected" (lastTransitionId null).
 */
export interface FindingStateRow {
  findingId: number;
  address: string;
  protocol: Protocol;
  port: number;
  advisory: string;
  checkId: string;
  /** The finding's latest verdict (findings.verdict). */
  verdict: string;
  state: WorkflowState;
  since: string;
  previousState: WorkflowState | null;
  disconnected: boolean;
  acceptedUntil: string | null;
  lastTransitionId: number | null;
}

/**
 * The inventory: scans with their checkpoints, and what they found (assets, services, raw
 * observations). One implementation over kysely; the backend (SQLite today) only opens the
 * connection and guards the file.
 */
export interface Store {
  /** Absolute path (SQLite) or URL of the database. */
  readonly location: string;
  /** A new scan in status "running"; paramsHash is computed over canonical JSON of params. */
  createScan(input: { command: string; params: unknown; totalProbes: number }): Promise<ScanRecord>;
  getScan(id: string): Promise<ScanRecord | undefined>;
  /** Like getScan, but RINGFENCE_SCAN_NOT_FOUND when there is no such scan. */
  requireScan(id: string): Promise<ScanRecord>;
  /** Newest first. */
  listScans(limit?: number): Promise<ScanRecord[]>;
  /**
   * Atomic: observations (upserted on scan, address, protocol, port), assets and services, and
   * the checkpoint, in one transaction, so that a kill -9 at any instant leaves rows and
   * checkpoint from the same batches, and a resumed scan that records a probe again never
   * writes it twice. An asset is created for an address once it answered (open or closed).
   */
  recordBatch(
    scanId: string,
    observations: readonly ProbeObservation[],
    checkpoint: Checkpoint,
  ): Promise<void>;
  /** Status "running", clears finishedAt and error; startedAt is set once, on the first call. */
  markRunning(scanId: string): Promise<void>;
  finishScan(
    scanId: string,
    status: "completed" | "interrupted" | "failed",
    extra?: { error?: string; counts?: Record<string, number>; probesDone?: number },
  ): Promise<void>;
  /** One row per asset, numeric address order. */
  listHosts(filter?: HostFilter): Promise<HostRow[]>;
  /** One row per (asset, protocol, port), numeric address order, then protocol, then port. */
  listServices(filter?: ServiceFilter): Promise<ServiceRow[]>;
  /** Every observation of a scan, numeric address order, then protocol, then port. */
  scanObservations(scanId: string): Promise<ObservationRow[]>;
  /** Observations of a scan per state, exact (each probe counted once, resumed or not). */
  observationCounts(scanId: string): Promise<Record<PortState, number>>;
  /**
   * Atomic: the runs, an asset for each address that has none yet, and the findings upserted
   * on (asset, protocol, port, advisory, check id), all in one transaction. A finding keeps its
   * first_seen; a run that finished before the finding's last_seen (recorded late) is stored
   * but does not roll the finding back. Bad input (an unknown verdict, a scanId that does not
   * exist, ...) is a RingfenceError and writes nothing.
   */
  recordCheckRuns(runs: readonly CheckRunInput[]): Promise<void>;
  /**
   * Atomic: for each row, the asset's os and os_confidence are set and `detail` is stored under
   * the key "smb" of its detail (other keys kept); an asset is created for an address that has
   * none, as recordCheckRuns does. Bad input is a RingfenceError and writes nothing.
   */
  recordFingerprints(rows: readonly FingerprintInput[]): Promise<void>;
  /**
   * In recording order, oldest first (so that folding them into a map leaves each check's latest
   * run), with a limit the first that many.
   */
  listCheckRuns(filter?: CheckRunFilter): Promise<CheckRunRow[]>;
  /** Numeric address order, then protocol, port, advisory and check id. */
  listFindings(filter?: FindingFilter): Promise<FindingRecord[]>;
  /**
   * Atomic: every row or none. A finding id that does not exist, or a row whose fields are not
   * what AssessmentInput says, is a RingfenceError and writes nothing. created_at is one instant
   * for the whole call.
   */
  recordAssessments(rows: readonly AssessmentInput[], options?: { actor?: string }): Promise<void>;
  /**
   * The latest assessment (last recorded) of each finding that has one, with the finding's
   * address, service, status: rating (very-high first), then protect-by (none last), then
   * numeric address order, protocol, port, advisory and finding id.
   */
  latestAssessments(filter?: AssessmentFilter): Promise<AssessmentRecord[]>;
  /** The latest assessment of one finding, or undefined when it has none. */
  assessmentOf(findingId: number): Promise<AssessmentRecord | undefined>;
  /** Adds verified controls; a control whose id is already stored is superseded (not removed). */
  recordControls(controls: readonly Control[], options?: { actor?: string }): Promise<void>;
  /**
   * The latest version of each stored control, by id. With `validAt` (ISO instant), only those
   * verified at or before it whose explicit expiry is after it (the risk engine also applies the
   * policy's TTL).
   */
  listControls(filter?: { validAt?: string }): Promise<Control[]>;
  /**
   * Atomic: appends the entries to the hash-chained audit log in order, each chained to the one
   * before (the tail is read under the write lock). Returns them as stored.
   */
  appendAuditEntries(entries: readonly AuditEntryInput[]): Promise<AuditEntry[]>;
  /** Oldest first (seq order). */
  listAuditEntries(filter?: AuditFilter): Promise<AuditEntry[]>;
  /**
   * Atomic: the transition, the finding's new state and the transition's audit entry (kind
   * "transition", subject "finding:<id>"). RINGFENCE_TRANSITION_CONFLICT when the finding's
   * stored state is not input.from; RINGFENCE_USAGE when there is no such finding.
   */
  recordTransition(input: TransitionInput): Promise<TransitionRecord>;
  /** Oldest first. */
  listTransitions(filter?: { findingId?: number; since?: string }): Promise<TransitionRecord[]>;
  /** Findings in the workflow (a state row, or a vulnerable verdict), numeric address order. */
  findingStates(filter?: FindingStateFilter): Promise<FindingStateRow[]>;
  /** Stores a REST API token; a name already taken (even by a revoked token) is RINGFENCE_USAGE. */
  createApiToken(input: ApiTokenInput): Promise<ApiTokenRecord>;
  /** Every token, revoked and expired ones included, in creation order. */
  listApiTokens(): Promise<ApiTokenRecord[]>;
  /** The token with this hash, revoked or expired or not (the caller judges). */
  apiTokenByHash(tokenHash: string): Promise<ApiTokenRecord | undefined>;
  /** Sets revoked_at (kept if already set); undefined when no token has that name. */
  revokeApiToken(name: string, at: string): Promise<ApiTokenRecord | undefined>;
  /** Idempotent. */
  /**
   * Connects now, for good, before the process moves to another network namespace (see
   * StoreBackend.pinConnections); a no-op for SQLite.
   */
  pinConnections(): Promise<void>;
  close(): Promise<void>;
}
