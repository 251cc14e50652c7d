import {
  decodeNodeStatusResponse,
  encodeNodeStatusRequest,
} from "../../protocols/netbios/index.js";

/**
 * A UDP service probe: what to send to a port, and how to read an answer. UDP has no handshake,
 * so a port is only "open" when the service answers a request it understands (nmap's
 * nmap-service-probes / nmap-payloads idea); silence is "open|filtered".
 */
export interface UdpProbe {
  readonly name: string;
  readonly port: number;
  request(transactionId: number): Uint8Array;
  /** Decoded detail for the store, or undefined when the bytes are not an answer to `request`. */
  parse(bytes: Uint8Array, transactionId: number): Record<string, unknown> | undefined;
}

/** NetBIOS name service node status (RFC 1002 §4.2.17/§4.2.18), as nbtscan and nmap's nbstat do. */
export const nbstatProbe: UdpProbe = {
  name: "netbios-ns nbstat",
  port: 137,
  request: (transactionId) => encodeNodeStatusRequest(transactionId),
  parse(bytes, transactionId) {
    const status = decodeNodeStatusResponse(bytes);
    if ("kind" in status) return undefined; // a DecodeIssue: not an NBSTAT answer
    if (status.transactionId !== transactionId) return undefined;
    return {
      service: "netbios-ns",
      names: status.names.map((n) => ({
        name: n.name,
        suffix: n.suffix,
        group: n.group,
      })),
      mac: status.mac,
    };
  },
};

const probesByPort = new Map<number, UdpProbe>([[nbstatProbe.port, nbstatProbe]]);

/** The probe for a UDP port, or undefined: ports without a probe are not scanned blind. */
export function udpProbeFor(port: number): UdpProbe | undefined {
  return probesByPort.get(port);
}

export function udpPortsWithProbes(): number[] {
  return [...probesByPort.keys()].sort((a, b) => a - b);
}
