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
  /** Idempotent. */
  close(): Promise<void>;
}
