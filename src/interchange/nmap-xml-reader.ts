/**
 * Reads nmap's XML output (-oX; element and attribute names from nmap's DTD, docs/nmap.dtd,
 * shipped as /usr/share/nmap/nmap.dtd) and masscan's nmap-flavoured XML (-oX; masscan
 * src/out-xml.c: one <host> per open port). Any nmap file is accepted, not only ours; what we
 * read: addresses, hostnames, ports with state and reason, service names, the best OS match.
 * Script output (including ringfence's own check verdicts) is not imported: a finding must come
 * from a check ringfence ran, never from a file's claim.
 */
import type { Protocol } from "../scan/observation.js";
import { canonicalAddress, HostBuilder, portStateOf } from "./host-builder.js";
import type { ImportedPort, ImportedScan } from "./imported-scan.js";
import { importError, parseUntrustedXml, type XmlLimits } from "./xml-input.js";

type XmlNode = Record<string, unknown>;

function node(value: unknown): XmlNode | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as XmlNode)
    : undefined;
}

/** The element(s) of that name: parseUntrustedXml gives arrays for repeated ones. */
function children(parent: XmlNode | undefined, name: string): XmlNode[] {
  const value = parent?.[name];
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  // An empty element (<hostnames/>) comes back as "": no attributes, no children.
  return list.map((item) => node(item) ?? {});
}

function attr(element: XmlNode | undefined, name: string): string | undefined {
  const value = element?.[`@${name}`];
  return typeof value === "string" ? value : undefined;
}

function epochToIso(text: string | undefined): string | null {
  if (text === undefined || !/^\d{1,12}$/.test(text)) return null;
  const date = new Date(Number(text) * 1000);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

export function readNmapXml(text: string, file: string, limits?: XmlLimits): ImportedScan {
  const document = parseUntrustedXml(text, file, limits);
  const run = node(document["nmaprun"]);
  if (run === undefined)
    throw importError(file, "has no <nmaprun> root element: not nmap or masscan XML output");
  // ringfence writes scanner="nmap" (the DTD allows nothing else) and names itself in profile_name.
  const scanner =
    attr(run, "profile_name") === "ringfence" ? "ringfence" : (attr(run, "scanner") ?? "nmap");
  const builder = new HostBuilder();
  let skippedPorts = 0;
  for (const host of children(run, "host")) {
    const status = children(host, "status")[0];
    // nmap lists down hosts only with -v or -Pn; they have nothing to import.
    if (
      status !== undefined &&
      attr(status, "state") !== undefined &&
      attr(status, "state") !== "up"
    )
      continue;
    const ip = children(host, "address").find((a) => {
      const type = attr(a, "addrtype") ?? "ipv4";
      return type === "ipv4" || type === "ipv6";
    });
    const addrText = attr(ip, "addr");
    if (addrText === undefined) throw importError(file, "a <host> has no IPv4/IPv6 <address>");
    const address = canonicalAddress(addrText);
    if (address === undefined)
      throw importError(file, `"${addrText.slice(0, 80)}" is not an IP address`);
    const hostnames = children(host, "hostnames")
      .flatMap((h) => children(h, "hostname"))
      .map((h) => attr(h, "name") ?? "");
    builder.addHost(address, hostnames);
    for (const port of children(host, "ports").flatMap((p) => children(p, "port"))) {
      const imported = portOf(port, file);
      if (imported === undefined) skippedPorts++;
      else builder.addPort(address, imported);
    }
    const best = children(host, "os")
      .flatMap((os) => children(os, "osmatch"))
      .map((m) => ({ name: attr(m, "name") ?? "", accuracy: Number(attr(m, "accuracy") ?? "0") }))
      .filter((m) => m.name !== "" && Number.isFinite(m.accuracy))
      .sort((a, b) => b.accuracy - a.accuracy)[0];
    if (best !== undefined)
      builder.setOs(address, {
        name: best.name,
        accuracy: Math.min(100, Math.max(0, best.accuracy)),
      });
  }
  return {
    format: attr(run, "scanner") === "masscan" ? "masscan-xml" : "nmap-xml",
    scanner,
    scannerVersion: attr(run, "version") ?? null,
    args: attr(run, "args") ?? null,
    startedAt: epochToIso(attr(run, "start")),
    hosts: builder.build(),
    skippedPorts,
  };
}

function portOf(port: XmlNode, file: string): ImportedPort | undefined {
  const protocol = attr(port, "protocol");
  const portText = attr(port, "portid") ?? "";
  // nmap also writes sctp and ip (protocol scan) ports; the inventory holds TCP and UDP.
  if (protocol !== "tcp" && protocol !== "udp") return undefined;
  const number = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(number >= 0 && number <= 65535))
    throw importError(file, `port "${portText.slice(0, 20)}" is not a port number`);
  const stateElement = children(port, "state")[0];
  const state = portStateOf(attr(stateElement, "state") ?? "");
  if (state === undefined) return undefined;
  const service = children(port, "service")[0];
  const name = attr(service, "name");
  const product = attr(service, "product");
  const version = attr(service, "version");
  const extrainfo = attr(service, "extrainfo");
  return {
    protocol: protocol as Protocol,
    port: number,
    state,
    reason: attr(stateElement, "reason") ?? "unknown",
    ...(name !== undefined && name !== ""
      ? {
          service: {
            name,
            ...(product !== undefined ? { product } : {}),
            ...(version !== undefined ? { version } : {}),
            ...(extrainfo !== undefined ? { extrainfo } : {}),
          },
        }
      : {}),
  };
}
