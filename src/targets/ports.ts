/**
 * Port specifications in nmap's -p syntax (https://nmap.org/book/port-scanning-options.html):
 * "135,139,445", ranges "1-1024", open-ended ranges "-1024" and "60000-", and protocol prefixes
 * "T:135,445,U:137" where a prefix holds until the next one and no prefix means TCP.
 * Not supported: "-" alone (all 65535 ports is not what an exposure check wants), service names,
 * "[...]" and wildcards, SCTP ("S:") and IP protocols ("P:").
 */
import { RingfenceError } from "../errors.js";

export interface PortSpec {
  readonly tcp: readonly number[];
  readonly udp: readonly number[];
}

/**
 * The ports of the 2003 RPC DCOM response. Microsoft bulletin MS03-026 told sites to block TCP 135,
 * 139, 445 and 593 (593 is RPC over HTTP); CERT advisory CA-2003-19 lists 135, 139 and 445 and
 * warns that the exploits leave a backdoor shell, "in some cases 4444/TCP", the port Blaster
 * used (CA-2003-20). UDP 137 is NetBIOS name service, whose NBSTAT answer names the host.
 */
export const DEFAULT_PORTS: PortSpec = Object.freeze({
  tcp: Object.freeze([135, 139, 445, 593, 4444]),
  udp: Object.freeze([137]),
});

const PORT_PATTERN = /^\d{1,5}$/;

function badPorts(token: string, reason: string): RingfenceError {
  return new RingfenceError("RINGFENCE_BAD_PORTS", `bad port entry "${token}": ${reason}`, {
    hint: 'use nmap -p syntax, e.g. "135,139,445" or "T:135,445,U:137"',
  });
}

function parsePort(text: string, token: string): number {
  if (!PORT_PATTERN.test(text)) return failPort(token, `"${text}" is not a port number`);
  const port = Number(text);
  if (port === 0) return failPort(token, "port 0 cannot be probed");
  if (port > 65535) return failPort(token, `${port} is above 65535`);
  return port;
}

function failPort(token: string, reason: string): never {
  throw badPorts(token, reason);
}

export function parsePortSpec(spec: string): { tcp: number[]; udp: number[] } {
  const tcp = new Set<number>();
  const udp = new Set<number>();
  let current = tcp;
  const entries = spec.split(",").map((entry) => entry.trim());
  if (entries.every((entry) => entry === "")) {
    throw new RingfenceError("RINGFENCE_BAD_PORTS", "the port list is empty");
  }
  for (const entry of entries) {
    let body = entry;
    const prefix = /^([a-z]):/i.exec(entry);
    if (prefix !== null) {
      const letter = (prefix[1] ?? "").toUpperCase();
      if (letter === "T") current = tcp;
      else if (letter === "U") current = udp;
      else throw badPorts(entry, `protocol prefix "${letter}:" is not supported (use T: or U:)`);
      body = entry.slice(2);
    }
    if (body === "") throw badPorts(entry, "no port given");
    if (body === "-") throw badPorts(entry, 'all ports ("-") is not supported; write 1-65535');
    const dash = body.indexOf("-");
    if (dash < 0) {
      current.add(parsePort(body, entry));
      continue;
    }
    // nmap: a missing start means 1, a missing end means 65535.
    const start = dash === 0 ? 1 : parsePort(body.slice(0, dash), entry);
    const end = dash === body.length - 1 ? 65535 : parsePort(body.slice(dash + 1), entry);
    if (end < start) throw badPorts(entry, "range end is below its start");
    for (let port = start; port <= end; port++) current.add(port);
  }
  return { tcp: sorted(tcp), udp: sorted(udp) };
}

function sorted(ports: Set<number>): number[] {
  return [...ports].sort((a, b) => a - b);
}

/** The shortest -p text for `spec`: runs become ranges, UDP after "U:". Parses back to `spec`. */
export function formatPortSpec(spec: PortSpec): string {
  const parts: string[] = [];
  if (spec.tcp.length > 0) parts.push(`${spec.udp.length > 0 ? "T:" : ""}${runs(spec.tcp)}`);
  if (spec.udp.length > 0) parts.push(`U:${runs(spec.udp)}`);
  return parts.join(",");
}

function runs(ports: readonly number[]): string {
  const unique = [...new Set(ports)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < unique.length;) {
    let j = i;
    while (j + 1 < unique.length && unique[j + 1] === (unique[j] as number) + 1) j++;
    out.push(i === j ? `${unique[i]}` : `${unique[i]}-${unique[j]}`);
    i = j + 1;
  }
  return out.join(",");
}
