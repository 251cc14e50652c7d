import type { PortState, Protocol } from "../scan/observation.js";
import { formatAddress, parseAddress } from "../targets/index.js";
import type { ImportedHost, ImportedPort } from "./imported-scan.js";

/** Canonical text of an IPv4/IPv6 address, or undefined when it is not one. */
export function canonicalAddress(text: string): string | undefined {
  const parsed = parseAddress(text.trim());
  return parsed === undefined ? undefined : formatAddress(parsed.family, parsed.value);
}

/** Numeric order: IPv4 before IPv6, then by value (the store's address order). */
export function compareAddresses(a: string, b: string): number {
  const pa = parseAddress(a);
  const pb = parseAddress(b);
  if (pa === undefined || pb === undefined) return a < b ? -1 : a > b ? 1 : 0;
  if (pa.family !== pb.family) return pa.family - pb.family;
  return pa.value < pb.value ? -1 : pa.value > pb.value ? 1 : 0;
}

export function comparePorts(
  a: { protocol: Protocol; port: number },
  b: { protocol: Protocol; port: number },
): number {
  return a.protocol === b.protocol ? a.port - b.port : a.protocol < b.protocol ? -1 : 1;
}

/**
 * nmap's port states (nmap.org/book/man-port-scanning-basics.html) in ours: closed|filtered
 * (idle scan) is as undecided as filtered; unfiltered (ACK scan) says nothing about open or
 * closed, so it has no equivalent and is skipped.
 */
export function portStateOf(text: string): PortState | undefined {
  switch (text) {
    case "open":
    case "closed":
    case "filtered":
    case "open|filtered":
      return text;
    case "closed|filtered":
      return "filtered";
    default:
      return undefined;
  }
}

/**
 * Collects hosts as a file lists them (masscan lists one host per port, nmap may list a host
 * twice across runs appended to one file) into one entry per address; a port seen twice keeps
 * its last state.
 */
export class HostBuilder {
  readonly #hosts = new Map<
    string,
    {
      hostnames: Set<string>;
      ports: Map<string, ImportedPort>;
      os?: { name: string; accuracy: number };
    }
  >();

  #entry(address: string) {
    let entry = this.#hosts.get(address);
    if (entry === undefined) {
      entry = { hostnames: new Set(), ports: new Map() };
      this.#hosts.set(address, entry);
    }
    return entry;
  }

  addHost(address: string, hostnames: readonly string[] = []): void {
    const entry = this.#entry(address);
    for (const name of hostnames) if (name !== "") entry.hostnames.add(name);
  }

  addPort(address: string, port: ImportedPort): void {
    this.#entry(address).ports.set(`${port.protocol}/${port.port}`, port);
  }

  setOs(address: string, os: { name: string; accuracy: number }): void {
    const entry = this.#entry(address);
    if (entry.os === undefined || os.accuracy > entry.os.accuracy) entry.os = os;
  }

  build(): ImportedHost[] {
    return [...this.#hosts]
      .sort(([a], [b]) => compareAddresses(a, b))
      .map(([address, entry]) => ({
        address,
        hostnames: [...entry.hostnames].sort(),
        ports: [...entry.ports.values()].sort(comparePorts),
        ...(entry.os !== undefined ? { os: entry.os } : {}),
      }));
  }
}
