import { createWriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { PortState, Protocol } from "../scan/observation.js";
import { RingfenceError } from "../errors.js";
import { LAB_BASE, labRange } from "./address.js";
import { behaviourOf, type LabMode } from "./behaviour.js";
import {
  instantiateRpcEndpoint,
  rpcEndpointTemplates,
  type LabRpcEndpoint,
} from "./rpc-endpoints.js";
import {
  LAB_UDP_PORTS,
  NBNS_PORT,
  PERSONAS,
  personaById,
  type Estate,
  type ExpectedVerdicts,
  type LabLayout,
  type PatchState,
  type Persona,
} from "./personas.js";

/** Ports of one protocol of one host, as wire port numbers (nominal + portOffset). */
export interface PortLists {
  readonly open: readonly number[];
  readonly closed: readonly number[];
  /** Dropped without an answer. */
  readonly filtered: readonly number[];
}

export interface GroundTruthHost {
  readonly index: number;
  readonly address: string;
  readonly persona: string;
  readonly label: string;
  readonly os: Persona["os"];
  readonly patches: { readonly ms03_026: PatchState; readonly ms03_039: PatchState };
  /** What the host answers to NBSTAT; null when the lab does not answer NBSTAT for it. */
  readonly netbios: {
    readonly computerName: string;
    readonly workgroup: string;
    readonly mac: string;
  } | null;
  readonly tcp: PortLists;
  readonly udp: PortLists;
  /** Every port outside the lab's universe, TCP and UDP: RST / port unreachable, or dropped. */
  readonly elsewhere: "closed" | "filtered";
  /** Set when this mode cannot show the persona as designed (bind mode and firewalled personas). */
  readonly degraded: string | null;
  /**
   * What a correct MS03-026/MS03-039 check, Blaster check, SMB fingerprint and SMB checks conclude
   * on this host (the persona's hand-written `expected`), each null when its port (TCP 135, TCP
   * 4444, TCP 139 and 445) is not open in this lab's mode: a check that cannot connect has no
   * verdict to compare. Files written before the lab emulated DCOM activation lack it, those
   * before it spoke SMB lack `smb`; readGroundTruth fills both in from the catalogue.
   */
  readonly expected: ExpectedVerdicts;
}

/**
 * What the lab does, host by host, as it actually behaves in its mode: the reference our tests,
 * benchmarks and users' CI pipelines compare scan results with.
 */
export interface GroundTruth {
  readonly format: "ringfence-lab-ground-truth/1";
  readonly name: string;
  readonly mode: LabMode;
  readonly seed: string;
  /** How hosts got personas (personas.ts LabLayout); readGroundTruth reads older files as "estate". */
  readonly layout: LabLayout;
  readonly base: string;
  readonly range: string;
  readonly hostCount: number;
  readonly portOffset: number;
  /** The universe, nominal port → wire port. */
  readonly tcpPorts: readonly { readonly nominal: number; readonly port: number }[];
  readonly udpPorts: readonly { readonly nominal: number; readonly port: number }[];
  readonly personaCounts: Readonly<Record<string, number>>;
  /**
   * Per persona id, the endpoint mapper table (what `rpcdump` lists) with `{address}` and `{name}`
   * placeholders; personas without a reachable mapper are absent. One table per persona rather
   * than per host keeps a /14's file small; rpcEndpointsOf fills it in for a host. Absent in
   * files written before the lab served DCE/RPC.
   */
  readonly rpcEndpoints?: Readonly<Record<string, readonly LabRpcEndpoint[]>>;
  readonly hosts: readonly GroundTruthHost[];
}

export function groundTruthHost(
  estate: Estate,
  index: number,
  mode: LabMode,
  tcpPorts: readonly number[],
  portOffset: number,
): GroundTruthHost {
  const host = estate.host(index);
  const b = behaviourOf(host.persona, mode, tcpPorts);
  const tcp: Record<"open" | "closed" | "filtered", number[]> = {
    open: [],
    closed: [],
    filtered: [],
  };
  for (const [port, state] of b.tcp) tcp[state].push(port + portOffset);
  const udp: Record<"open" | "closed" | "filtered", number[]> = {
    open: [],
    closed: [],
    filtered: [],
  };
  udp[b.udp137 === "nbstat" ? "open" : b.udp137].push(NBNS_PORT + portOffset);
  const { persona } = host;
  return {
    index,
    address: host.address,
    persona: persona.id,
    label: persona.label,
    os: persona.os,
    patches: persona.patches,
    netbios:
      b.udp137 === "nbstat" && host.netbios !== null
        ? {
            computerName: host.netbios.computerName,
            workgroup: host.netbios.workgroup,
            mac: host.netbios.mac,
          }
        : null,
    tcp,
    udp,
    elsewhere: b.elsewhere,
    degraded: b.degraded,
    expected: {
      rpcss: b.tcp.get(135) === "open" ? persona.expected.rpcss : null,
      blaster: b.tcp.get(4444) === "open" ? persona.expected.blaster : null,
      smb: b.tcp.get(139) === "open" || b.tcp.get(445) === "open" ? persona.expected.smb : null,
    },
  };
}

export interface GroundTruthHeader {
  readonly name: string;
  readonly mode: LabMode;
  readonly tcpPorts: readonly number[];
  readonly portOffset: number;
}

/**
 * Write the ground truth as JSON, one host per line, streamed: a /14 is ~100 MB and must not be
 * built as one string.
 */
export async function writeGroundTruth(
  file: string,
  estate: Estate,
  header: GroundTruthHeader,
): Promise<void> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < estate.hosts; i++) {
    const id = estate.persona(i).id;
    counts[id] = (counts[id] ?? 0) + 1;
  }
  const head = {
    format: "ringfence-lab-ground-truth/1",
    name: header.name,
    mode: header.mode,
    seed: estate.seed,
    layout: estate.layout,
    base: LAB_BASE,
    range: labRange(estate.hosts),
    hostCount: estate.hosts,
    portOffset: header.portOffset,
    tcpPorts: header.tcpPorts.map((nominal) => ({ nominal, port: nominal + header.portOffset })),
    udpPorts: LAB_UDP_PORTS.map((nominal) => ({ nominal, port: nominal + header.portOffset })),
    personaCounts: counts,
    rpcEndpoints: rpcEndpointTable(header),
  };
  const { mode, tcpPorts, portOffset } = header;
  const CHUNK = 2_048;
  async function* chunks(): AsyncGenerator<string> {
    yield `${JSON.stringify(head).slice(0, -1)},"hosts":[\n`;
    for (let start = 0; start < estate.hosts; start += CHUNK) {
      const lines: string[] = [];
      for (let i = start; i < Math.min(estate.hosts, start + CHUNK); i++) {
        lines.push(JSON.stringify(groundTruthHost(estate, i, mode, tcpPorts, portOffset)));
      }
      yield lines.join(",\n") + (start + CHUNK < estate.hosts ? ",\n" : "\n");
    }
    yield "]}\n";
  }
  await pipeline(Readable.from(chunks()), createWriteStream(file, { encoding: "utf8" }));
}

/** Every persona's endpoint mapper table in this lab's mode and port universe. */
export function rpcEndpointTable(header: GroundTruthHeader): Record<string, LabRpcEndpoint[]> {
  const table: Record<string, LabRpcEndpoint[]> = {};
  for (const persona of PERSONAS) {
    const templates = rpcEndpointTemplates(
      persona,
      header.mode,
      header.tcpPorts,
      header.portOffset,
    );
    if (templates !== null) table[persona.id] = templates;
  }
  return table;
}

/**
 * The endpoints `rpcdump` should list for a host (ept_lookup, all elements), in the mapper's order;
 * null when the host has no reachable endpoint mapper.
 */
export function rpcEndpointsOf(
  groundTruth: Pick<GroundTruth, "rpcEndpoints">,
  host: Pick<GroundTruthHost, "address" | "index" | "persona">,
): LabRpcEndpoint[] | null {
  const templates = groundTruth.rpcEndpoints?.[host.persona];
  if (templates === undefined) return null;
  return templates.map((t) => instantiateRpcEndpoint(t, host));
}

/** Read a lab's ground truth file (`state.groundTruthFile`). */
export async function readGroundTruth(state: {
  readonly groundTruthFile: string;
}): Promise<GroundTruth> {
  let text: string;
  try {
    text = await readFile(state.groundTruthFile, "utf8");
  } catch (error) {
    throw new RingfenceError(
      "RINGFENCE_LAB",
      `cannot read the lab's ground truth ${state.groundTruthFile}`,
      {
        hint: "is the lab still up? `ringfence lab status`",
        cause: error,
      },
    );
  }
  const value = JSON.parse(text) as GroundTruth;
  if (value.format !== "ringfence-lab-ground-truth/1") {
    throw new RingfenceError(
      "RINGFENCE_LAB",
      `${state.groundTruthFile} is not a lab ground truth file`,
    );
  }
  return withAdditiveFields(value);
}

/**
 * The format string stayed "/1" when `layout`, the hosts' `expected` and `expected.smb` were
 * added (all additive), so a file from an older lab that is still up may lack them: it was an
 * estate layout, and a host's expected verdicts follow from its persona and its open ports as
 * groundTruthHost computes them.
 */
function withAdditiveFields(value: GroundTruth): GroundTruth {
  type OldExpected = Omit<ExpectedVerdicts, "smb"> & { readonly smb?: ExpectedVerdicts["smb"] };
  const partial = value as Omit<GroundTruth, "layout" | "hosts"> & {
    readonly layout?: LabLayout;
    readonly hosts: readonly (Omit<GroundTruthHost, "expected"> & {
      readonly expected?: OldExpected;
    })[];
  };
  if (
    partial.layout !== undefined &&
    partial.hosts.every((h) => h.expected !== undefined && h.expected.smb !== undefined)
  ) {
    return value;
  }
  const offset = partial.portOffset;
  return {
    ...partial,
    layout: partial.layout ?? "estate",
    hosts: partial.hosts.map((host): GroundTruthHost => {
      const persona = personaById(host.persona);
      const open = (port: number): boolean => host.tcp.open.includes(port + offset);
      const expected = host.expected ?? {
        rpcss: open(135) ? (persona?.expected.rpcss ?? null) : null,
        blaster: open(4444) ? (persona?.expected.blaster ?? null) : null,
      };
      return {
        ...host,
        expected: {
          rpcss: expected.rpcss,
          blaster: expected.blaster,
          smb: expected.smb ?? (open(139) || open(445) ? (persona?.expected.smb ?? null) : null),
        },
      };
    }),
  };
}

export interface ExpectedObservation {
  readonly address: string;
  readonly protocol: Protocol;
  /** The nominal port, as scanned and reported (135 even when the wire port is 20135). */
  readonly port: number;
  /** The port on the wire (port + portOffset). */
  readonly wirePort: number;
  readonly state: PortState;
}

/**
 * What a perfect scanner reports for these (nominal) ports on every lab host, in nmap's vocabulary:
 * TCP open / closed (RST) / filtered (dropped); UDP open (an NBSTAT answer), closed (ICMP port
 * unreachable) or open|filtered (dropped: a UDP scanner cannot tell silence from a silent service).
 * UDP ports other than 137 are expected closed (or open|filtered on dropping hosts): a scanner that
 * sends nothing to ports without a probe reports them however it documents.
 */
export function expectedObservations(
  groundTruth: GroundTruth,
  ports: { readonly tcpPorts: readonly number[]; readonly udpPorts: readonly number[] },
): ExpectedObservation[] {
  const offset = groundTruth.portOffset;
  const out: ExpectedObservation[] = [];
  for (const host of groundTruth.hosts) {
    for (const port of ports.tcpPorts) {
      const wirePort = port + offset;
      out.push({
        address: host.address,
        protocol: "tcp",
        port,
        wirePort,
        state: stateIn(host.tcp, wirePort, host.elsewhere),
      });
    }
    for (const port of ports.udpPorts) {
      const wirePort = port + offset;
      const state = stateIn(host.udp, wirePort, host.elsewhere);
      out.push({
        address: host.address,
        protocol: "udp",
        port,
        wirePort,
        state: state === "filtered" ? "open|filtered" : state,
      });
    }
  }
  return out;
}

function stateIn(
  lists: PortLists,
  port: number,
  elsewhere: "closed" | "filtered",
): "open" | "closed" | "filtered" {
  if (lists.open.includes(port)) return "open";
  if (lists.closed.includes(port)) return "closed";
  if (lists.filtered.includes(port)) return "filtered";
  return elsewhere;
}
