import type { PortState, ProbeObservation, Protocol } from "../scan/observation.js";
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
  /** The asset's address (any spelling of the same IP address). */
  address?: string;
  advisory?: string;
  /** A finding verdict ("not-vulnerable") or a check verdict ("NOT_VULNERABLE"). */
  verdict?: string;
  status?: "open" | "closed";
  limit?: number;
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
   * In recording order, oldest first (so that folding them into a map leaves each check's latest
   * run), with a limit the first that many.
   */
  listCheckRuns(filter?: CheckRunFilter): Promise<CheckRunRow[]>;
  /** Numeric address order, then protocol, port, advisory and check id. */
  listFindings(filter?: FindingFilter): Promise<FindingRecord[]>;
  /** Idempotent. */
  close(): Promise<void>;
}
