import type { PortState } from "../observation.js";

/** One TCP probe handed to an engine. `tag` comes back with the result. */
export interface TcpProbe {
  readonly tag: number;
  /** IPv4 address as an unsigned 32-bit integer, or -1 when `address` is IPv6. */
  readonly v4: number;
  readonly address: string;
  /** The port on the wire (the lab's port offset is already applied). */
  readonly port: number;
}

export interface TcpProbeResult {
  readonly tag: number;
  readonly state: Exclude<PortState, "open|filtered">;
  readonly reason: string;
  readonly rttMs: number | null;
}

export interface EngineStats {
  readonly sent: number;
  readonly retries: number;
  readonly inFlight: number;
  readonly concurrencyLimit: number;
  /** Times a socket could not be opened because the process hit its open-file limit. */
  readonly fdLimitHits: number;
  /** Times a connect found no free ephemeral port towards its destination. */
  readonly portLimitHits: number;
}

export interface EngineOptions {
  readonly concurrency: number;
  readonly timeoutMs: number;
  /** Extra attempts after a timeout; answers (RST, ICMP) are never retried. */
  readonly retries: number;
  /** Attempts per second across the whole run; 0 = no limit. */
  readonly rate: number;
}

export interface EngineIo {
  /** Returns up to `max` probes, or an empty array when the run has no more. */
  pull(max: number): TcpProbe[];
  onResults(results: readonly TcpProbeResult[]): void;
  onStats(stats: EngineStats): void;
}

/** A TCP probe loop. Implementations: native SYN, native connect, JavaScript connect. */
export interface TcpProbeEngine {
  readonly name: "native-syn" | "native-connect" | "js-connect";
  readonly supportsIPv6: boolean;
  run(io: EngineIo, signal: AbortSignal): Promise<EngineStats>;
}

/** nmap's --reason words for the reason codes the native engine reports. */
export const REASONS = [
  "syn-ack",
  "conn-refused",
  "reset",
  "no-response",
  "host-unreach",
  "net-unreach",
  "admin-prohibited",
] as const;
