/** What one probe of one (address, protocol, port) found. Shared by the engines, the store and the reporters. */
export type Protocol = "tcp" | "udp";

/**
 * nmap's vocabulary, so that users and tools that read nmap output read ours the same way:
 * open (handshake completed / UDP answer), closed (RST / ICMP port unreachable), filtered (no answer
 * after retries, or ICMP unreachable other than port), open|filtered (UDP without any answer).
 */
export type PortState = "open" | "closed" | "filtered" | "open|filtered";

export interface ProbeObservation {
  readonly address: string;
  readonly protocol: Protocol;
  readonly port: number;
  readonly state: PortState;
  /** Why we concluded the state, in nmap's --reason words: syn-ack, conn-refused, reset, no-response, host-unreach, udp-response, port-unreach. */
  readonly reason: string;
  /** Round trip of the deciding exchange in milliseconds, when one happened. */
  readonly rttMs: number | null;
  /** Names the address was reached under (from the target list), if any. */
  readonly hostnames?: readonly string[];
  /** Protocol detail learned by the probe (e.g. NetBIOS names from NBSTAT), JSON-serialisable. */
  readonly detail?: Readonly<Record<string, unknown>>;
}
