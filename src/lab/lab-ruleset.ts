import { labAddress, labRange } from "./address.js";
import { behaviourOf } from "./behaviour.js";
import { NBNS_PORT, PERSONAS, type Estate, type Persona } from "./personas.js";

/** The lab's nftables table, loaded inside the lab namespace only (the host's rules are never touched). */
export const LAB_NFT_TABLE = "ringfence_lab";

/**
 * Where the NBSTAT stamp goes: UDP payload bytes 8..11 (NSCOUNT and ARCOUNT of the name service
 * header), which RFC 1002 §4.2.17 requires to be zero in a NODE STATUS REQUEST. In bits from the
 * start of the UDP header: (8 header bytes + 8) × 8.
 */
export const NBSTAT_STAMP_OFFSET = 8;
const STAMP_BITS = (8 + NBSTAT_STAMP_OFFSET) * 8;
/** Offset of the IPv4 destination address in the network header, in bits (RFC 791). */
const IPV4_DADDR_BITS = 16 * 8;
/** Offset of the UDP checksum in the UDP header, in bits (RFC 768). */
const UDP_CHECKSUM_BITS = 6 * 8;

/**
 * Render the lab's firewall as an `nft -f` file.
 *
 * Design: one verdict map from lab address to persona chain, rather than sets of (address . port)
 * pairs. Measured on the 2-vCPU dev VM with nft 1.0.6: 262,144 map elements load in ~1.9 s (nft
 * itself peaks at 240 MB), 786,432 pair elements (3 ports) in ~5.1 s (760 MB); at 65,536 hosts
 * 0.44 s against 1.2 s. The per-persona chains also say in plain rules what each kind of host does.
 *
 * Everything is stateless: no `ct` expression appears, so conntrack never starts in the namespace
 * and cannot fill up under a scan (research §5). Packets to addresses outside the lab — the
 * scanner's 127.0.0.1, and so every reply the lab sends — are accepted by the first rule. (A
 * scanner must therefore not use lab addresses as its source address.)
 *
 * UDP 137: Node cannot tell which local address a datagram on a wildcard socket was sent to (no
 * IP_PKTINFO in `dgram`), and one socket per NetBIOS host would not fit the 20,000-descriptor
 * limit at 65,536 hosts. So the NetBIOS personas' chains copy the destination address into the
 * request's NSCOUNT/ARCOUNT bytes (zero in every NODE STATUS REQUEST) with a stateless payload
 * write; the daemon reads it there and restores the zeros before decoding.
 */
export function renderLabRuleset(
  estate: Estate,
  options: { readonly tcpPorts: readonly number[]; readonly portOffset: number },
): string {
  const { portOffset } = options;
  const used = new Set(estate.personaOf);
  const lines: string[] = [`table ip ${LAB_NFT_TABLE} {`];

  for (const [i, persona] of PERSONAS.entries()) {
    if (!used.has(i) || dropsEverything(persona)) continue;
    lines.push(
      `  chain ${chainName(persona)} {`,
      ...personaRules(persona, options.tcpPorts, portOffset),
      "  }",
    );
  }

  lines.push("  map persona_of {", "    type ipv4_addr : verdict", "    elements = {");
  const elements: string[] = [];
  for (let i = 0; i < estate.hosts; i++) {
    const persona = estate.persona(i);
    const verdict = dropsEverything(persona) ? "drop" : `jump ${chainName(persona)}`;
    elements.push(`      ${labAddress(i)} : ${verdict}`);
  }
  lines.push(elements.join(",\n"), "    }", "  }");

  const range = labRange(estate.hosts);
  const wirePorts = options.tcpPorts.map((port) => port + portOffset).join(", ");
  lines.push(
    "  chain input {",
    "    type filter hook input priority filter; policy accept;",
    // The daemon's wildcard sockets would otherwise accept (then drop) connections to any other
    // 127/8 address in the namespace, e.g. the rest of a /20 scanned around a 300-host lab.
    // There is no host there: refuse like a closed port. Only initial SYNs and datagrams that do
    // not come from a lab host are refused, so the lab's replies to the scanner pass untouched.
    `    ip daddr != ${range} tcp flags & (syn | ack) == syn tcp dport { ${wirePorts} } reject with tcp reset comment "not a lab host"`,
    `    ip daddr != ${range} ip saddr != ${range} udp dport ${NBNS_PORT + portOffset} reject with icmp type port-unreachable comment "not a lab host"`,
    `    ip daddr != ${range} accept comment "not a lab host: replies to the scanner"`,
    "    ip daddr vmap @persona_of",
    "  }",
    "}",
  );
  return `${lines.join("\n")}\n`;
}

function personaRules(persona: Persona, tcpPorts: readonly number[], offset: number): string[] {
  const b = behaviourOf(persona, "netns", tcpPorts);
  const wire = (state: string): number[] =>
    [...b.tcp].filter(([, s]) => s === state).map(([port]) => port + offset);
  const rules: string[] = [];
  const filtered = wire("filtered");
  const open = wire("open");
  if (filtered.length > 0) rules.push(`    tcp dport { ${filtered.join(", ")} } drop`);
  if (open.length > 0) rules.push(`    tcp dport { ${open.join(", ")} } accept`);
  // Closed = RST to every segment (a SYN gets RST|ACK), exactly what a kernel without a listener
  // does; nothing is accepted and then reset.
  rules.push(
    b.elsewhere === "filtered"
      ? "    meta l4proto tcp drop"
      : "    meta l4proto tcp reject with tcp reset",
  );
  const nbns = NBNS_PORT + offset;
  switch (b.udp137) {
    case "nbstat":
      rules.push(
        // A raw payload write does not update the UDP checksum, and the kernel verifies it for
        // datagrams from raw sockets (nmap -sU): measured as UdpInCsumErrors. Checksum 0 means
        // "not computed" in UDP over IPv4 (RFC 768), so the stamped datagram is accepted.
        `    udp dport ${nbns} udp length >= ${8 + NBSTAT_STAMP_OFFSET + 4} @th,${STAMP_BITS},32 set @nh,${IPV4_DADDR_BITS},32 @th,${UDP_CHECKSUM_BITS},16 set 0 accept comment "stamp the lab address for the NBSTAT responder"`,
        `    udp dport ${nbns} accept`,
      );
      break;
    case "closed":
      rules.push(`    udp dport ${nbns} reject with icmp type port-unreachable`);
      break;
    case "filtered":
      rules.push(`    udp dport ${nbns} drop`);
      break;
  }
  if (b.elsewhere === "filtered") rules.push("    drop");
  return rules;
}

/** A host that answers nothing at all maps straight to `drop`: one lookup, no chain. */
function dropsEverything(persona: Persona): boolean {
  return (
    persona.elsewhere === "filtered" &&
    persona.tcpOpen.length === 0 &&
    persona.udp137 === "filtered"
  );
}

function chainName(persona: Persona): string {
  return `persona_${persona.id.replace(/[^a-z0-9]/g, "_")}`;
}
