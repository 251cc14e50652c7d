import { createHash } from "node:crypto";
import {
  NAME_FLAG_ACTIVE,
  NAME_FLAG_GROUP,
  type NodeStatusName,
} from "../protocols/netbios/index.js";
import { labAddress } from "./address.js";

/**
 * The simulated estate: which kind of machine sits at each lab address.
 *
 * Personas model the 2003 Windows landscape MS03-026 (Blaster) hit, plus the neighbours a real scan
 * meets. Patch states follow the affected-version matrix in /work/shared/research/ms03-026-detection.md
 * §1.2: NT4 SP6a, 2000 SP2-SP4, XP RTM/SP1 and 2003 RTM are affected; XP SP2 and 2003 SP1 ship the
 * fix. MS03-039 (KB 824146) supersedes MS03-026 (KB 823980), so "823980 only" hosts exist: patched
 * for MS03-026, still vulnerable to MS03-039 — the case the detection logic must not call patched.
 */

/** The lab's port universe: everything the daemon listens on and the firewall decides about. */
export const LAB_TCP_PORTS = [22, 80, 135, 139, 445, 593, 4444] as const;
export const LAB_UDP_PORTS = [137] as const;
/** NetBIOS name service: the only UDP port of the universe. */
export const NBNS_PORT = 137;

export const LAB_WORKGROUP = "LABGROUP";

export type PatchState = "vulnerable" | "patched" | "n/a";

/** What UDP 137 does: answer NBSTAT, refuse (ICMP port unreachable) or stay silent (dropped). */
export type NetbiosBehaviour = "nbstat" | "closed" | "filtered";

export interface Persona {
  readonly id: string;
  readonly label: string;
  readonly os: {
    readonly family: "windows" | "linux" | "unknown";
    readonly product: string;
    readonly sp: string | null;
  };
  readonly patches: { readonly ms03_026: PatchState; readonly ms03_039: PatchState };
  /** Nominal TCP ports that complete a handshake. */
  readonly tcpOpen: readonly number[];
  /** Nominal TCP ports whose SYNs are dropped (a host firewall). */
  readonly tcpFiltered: readonly number[];
  readonly udp137: NetbiosBehaviour;
  /** Which NBSTAT name table the host answers with (only when udp137 is "nbstat"). */
  readonly nameTable: "windows" | "samba" | null;
  /** Every other port, TCP and UDP: closed (RST / port unreachable) or filtered (dropped). */
  readonly elsewhere: "closed" | "filtered";
  /** Relative frequency in a lab; the catalogue's weights sum to 100 (read: percent). */
  readonly weight: number;
}

const WIN_RPC = [135, 139, 445];
const WIN_2003 = [135, 139, 445, 593];

function windows(
  id: string,
  label: string,
  product: string,
  sp: string | null,
  ms03_026: PatchState,
  ms03_039: PatchState,
  tcpOpen: readonly number[],
  weight: number,
): Persona {
  return {
    id,
    label,
    os: { family: "windows", product, sp },
    patches: { ms03_026, ms03_039 },
    tcpOpen,
    tcpFiltered: [],
    udp137: "nbstat",
    nameTable: "windows",
    elsewhere: "closed",
    weight,
  };
}

/**
 * The catalogue, in a fixed order (a persona's position is part of the seed → persona mapping, so
 * append new personas at the end and renormalise weights only in a new lab format version).
 *
 * | persona            | weight | TCP open              | UDP 137 | MS03-026 / MS03-039   |
 * |--------------------|-------:|-----------------------|---------|-----------------------|
 * | nt4-sp6a           |      4 | 135 139               | nbstat  | vulnerable/vulnerable |
 * | w2k-sp4            |     13 | 135 139 445           | nbstat  | vulnerable/vulnerable |
 * | w2k-sp4-kb823980   |      3 | 135 139 445           | nbstat  | patched/vulnerable    |
 * | w2k-sp4-patched    |     10 | 135 139 445           | nbstat  | patched/patched       |
 * | xp-sp1             |     13 | 135 139 445           | nbstat  | vulnerable/vulnerable |
 * | xp-sp2-shielded    |     10 | (135 139 445 dropped) | dropped | patched/patched       |
 * | w2k3-rtm           |      6 | 135 139 445 593       | nbstat  | vulnerable/vulnerable |
 * | w2k3-sp1           |      8 | 135 139 445 593       | nbstat  | patched/patched       |
 * | blaster-xp         |      3 | 135 139 445 4444      | nbstat  | vulnerable/vulnerable |
 * | blaster-w2k        |      2 | 135 139 445 4444      | nbstat  | vulnerable/vulnerable |
 * | linux-server       |     10 | 22 80                 | closed  | n/a                   |
 * | linux-samba        |      5 | 22 139 445            | nbstat  | n/a                   |
 * | closed             |      8 | —                     | closed  | n/a                   |
 * | filtered           |      5 | — (all dropped)       | dropped | n/a                   |
 */
export const PERSONAS: readonly Persona[] = [
  windows(
    "nt4-sp6a",
    "Windows NT 4.0 SP6a, unpatched",
    "Windows NT 4.0",
    "SP6a",
    "vulnerable",
    "vulnerable",
    [135, 139],
    4,
  ),
  windows(
    "w2k-sp4",
    "Windows 2000 SP4, unpatched",
    "Windows 2000",
    "SP4",
    "vulnerable",
    "vulnerable",
    WIN_RPC,
    13,
  ),
  windows(
    "w2k-sp4-kb823980",
    "Windows 2000 SP4 with KB823980 only",
    "Windows 2000",
    "SP4",
    "patched",
    "vulnerable",
    WIN_RPC,
    3,
  ),
  windows(
    "w2k-sp4-patched",
    "Windows 2000 SP4, patched (KB824146)",
    "Windows 2000",
    "SP4",
    "patched",
    "patched",
    WIN_RPC,
    10,
  ),
  windows(
    "xp-sp1",
    "Windows XP SP1, unpatched",
    "Windows XP",
    "SP1",
    "vulnerable",
    "vulnerable",
    WIN_RPC,
    13,
  ),
  {
    // XP SP2's Windows Firewall without the File and Printer Sharing exception: RPC, NetBIOS and
    // SMB are dropped (filtered), which is the "shielded" state our shield feature aims for.
    id: "xp-sp2-shielded",
    label: "Windows XP SP2, firewall on (shielded)",
    os: { family: "windows", product: "Windows XP", sp: "SP2" },
    patches: { ms03_026: "patched", ms03_039: "patched" },
    tcpOpen: [],
    tcpFiltered: WIN_RPC,
    udp137: "filtered",
    nameTable: null,
    elsewhere: "closed",
    weight: 10,
  },
  windows(
    "w2k3-rtm",
    "Windows Server 2003 RTM, unpatched",
    "Windows Server 2003",
    null,
    "vulnerable",
    "vulnerable",
    WIN_2003,
    6,
  ),
  windows(
    "w2k3-sp1",
    "Windows Server 2003 SP1, patched",
    "Windows Server 2003",
    "SP1",
    "patched",
    "patched",
    WIN_2003,
    8,
  ),
  // Blaster's exploit leaves a cmd.exe bound to TCP 4444 (CERT CA-2003-19).
  windows(
    "blaster-xp",
    "Windows XP SP1, Blaster-infected",
    "Windows XP",
    "SP1",
    "vulnerable",
    "vulnerable",
    [...WIN_RPC, 4444],
    3,
  ),
  windows(
    "blaster-w2k",
    "Windows 2000 SP4, Blaster-infected",
    "Windows 2000",
    "SP4",
    "vulnerable",
    "vulnerable",
    [...WIN_RPC, 4444],
    2,
  ),
  {
    id: "linux-server",
    label: "Linux server (SSH, HTTP)",
    os: { family: "linux", product: "Linux", sp: null },
    patches: { ms03_026: "n/a", ms03_039: "n/a" },
    tcpOpen: [22, 80],
    tcpFiltered: [],
    udp137: "closed",
    nameTable: null,
    elsewhere: "closed",
    weight: 10,
  },
  {
    // Samba answers SMB and NetBIOS but has no RPC endpoint mapper on 135 by default, which is
    // exactly what fools naive "445 open ⇒ Windows" logic.
    id: "linux-samba",
    label: "Linux with Samba (SMB, NetBIOS, no RPC)",
    os: { family: "linux", product: "Samba", sp: null },
    patches: { ms03_026: "n/a", ms03_039: "n/a" },
    tcpOpen: [22, 139, 445],
    tcpFiltered: [],
    udp137: "nbstat",
    nameTable: "samba",
    elsewhere: "closed",
    weight: 5,
  },
  {
    id: "closed",
    label: "Host with no services (every port refuses)",
    os: { family: "unknown", product: "unknown", sp: null },
    patches: { ms03_026: "n/a", ms03_039: "n/a" },
    tcpOpen: [],
    tcpFiltered: [],
    udp137: "closed",
    nameTable: null,
    elsewhere: "closed",
    weight: 8,
  },
  {
    id: "filtered",
    label: "Host behind a dropping firewall (nothing answers)",
    os: { family: "unknown", product: "unknown", sp: null },
    patches: { ms03_026: "n/a", ms03_039: "n/a" },
    tcpOpen: [],
    tcpFiltered: [...LAB_TCP_PORTS],
    udp137: "filtered",
    nameTable: null,
    elsewhere: "filtered",
    weight: 5,
  },
];

export function personaById(id: string): Persona | undefined {
  return PERSONAS.find((p) => p.id === id);
}

/**
 * Deterministic host → persona assignment: sha256(seed) gives two 32-bit keys, each host index is
 * hashed with them (lowbias32, a splitmix-style integer finaliser) and the hash picks a persona by
 * weight. No global RNG: the same seed gives the same estate on every machine and in every
 * process (the CLI, the daemon and the tests each recompute it).
 */
/**
 * The deterministic estate: sha256(seed) gives 32-bit keys, each host index is hashed with them
 * (lowbias32, a splitmix-style integer finaliser) and the hash picks a persona by weight. No global
 * RNG: the same seed gives the same estate on every machine and in every process (the CLI, the
 * daemon and the tests each recompute it), and any host can be computed alone in O(1).
 */
export class Estate {
  readonly seed: string;
  readonly hosts: number;
  /** Persona of every host as an index into PERSONAS (one byte per host: 256 KiB at /14). */
  readonly personaOf: Uint8Array;
  private readonly keys: readonly [number, number, number];

  constructor(seed: string, hosts: number) {
    const digest = createHash("sha256").update(seed, "utf8").digest();
    this.seed = seed;
    this.hosts = hosts;
    this.keys = [digest.readUInt32LE(0), digest.readUInt32LE(4), digest.readUInt32LE(8)];
    const cumulative: number[] = [];
    let total = 0;
    for (const p of PERSONAS) cumulative.push((total += p.weight));
    this.personaOf = new Uint8Array(hosts);
    for (let i = 0; i < hosts; i++) {
      const point = (this.hash(i, 0) / 2 ** 32) * total;
      let chosen = cumulative.length - 1;
      for (let k = 0; k < cumulative.length; k++) {
        if (point < (cumulative[k] ?? 0)) {
          chosen = k;
          break;
        }
      }
      this.personaOf[i] = chosen;
    }
  }

  persona(index: number): Persona {
    const persona = PERSONAS[this.personaOf[index] ?? -1];
    if (persona === undefined) throw new RangeError(`lab host ${index} is outside the lab`);
    return persona;
  }

  host(index: number): LabHost {
    const persona = this.persona(index);
    return { index, address: labAddress(index), persona, netbios: this.netbios(index, persona) };
  }

  /**
   * The NBSTAT name table a host answers with, or null if it does not speak NetBIOS. Windows
   * registers <00> (workstation), <03> (messenger), <20> (server) and the workgroup's <00>/<1E>
   * groups; Samba the same set but reports an all-zero MAC (observed from nmbd 4.17, research §2).
   */
  netbios(index: number, persona: Persona = this.persona(index)): NetbiosIdentity | null {
    if (persona.nameTable === null) return null;
    const name = computerName(index);
    const names: NodeStatusName[] = [
      { name, suffix: 0x00, group: false, flags: UNIQUE },
      { name: LAB_WORKGROUP, suffix: 0x00, group: true, flags: GROUP },
      { name, suffix: 0x03, group: false, flags: UNIQUE },
      { name, suffix: 0x20, group: false, flags: UNIQUE },
      { name: LAB_WORKGROUP, suffix: 0x1e, group: true, flags: GROUP },
    ];
    return { computerName: name, workgroup: LAB_WORKGROUP, mac: this.mac(index, persona), names };
  }

  /** A locally administered unicast MAC (02:4c:…) per host, so nobody mistakes it for hardware. */
  private mac(index: number, persona: Persona): string {
    if (persona.nameTable === "samba") return "00:00:00:00:00:00";
    const h = this.hash(index, 1);
    const bytes = [0x02, 0x4c, h >>> 24, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff];
    return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
  }

  /** Independent 32-bit streams per (host, purpose): purpose 0 picks the persona, 1 the MAC. */
  private hash(index: number, purpose: number): number {
    const [k0, k1, k2] = this.keys;
    return lowbias32((purpose === 0 ? k0 : k2) ^ lowbias32((index + k1) >>> 0));
  }
}

export interface NetbiosIdentity {
  readonly computerName: string;
  readonly workgroup: string;
  readonly mac: string;
  readonly names: readonly NodeStatusName[];
}

/** "LAB-0001A3" for host 0x1A3: unique, ≤ 15 characters up to the /14 limit, easy to map back. */
export function computerName(index: number): string {
  return `LAB-${index.toString(16).toUpperCase().padStart(6, "0")}`;
}

const UNIQUE = NAME_FLAG_ACTIVE;
const GROUP = NAME_FLAG_GROUP | NAME_FLAG_ACTIVE;

function lowbias32(value: number): number {
  let x = value >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Everything the lab knows about one host. */
export interface LabHost {
  readonly index: number;
  readonly address: string;
  readonly persona: Persona;
  readonly netbios: NetbiosIdentity | null;
}
