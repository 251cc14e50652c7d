import { createHash } from "node:crypto";
import {
  NAME_FLAG_ACTIVE,
  NAME_FLAG_GROUP,
  type NodeStatusName,
} from "../protocols/netbios/index.js";
import { labAddress } from "./address.js";
import {
  SMB_NT4,
  SMB_SAMBA,
  SMB_W2K,
  SMB_W2K19,
  SMB_W2K3_RTM,
  SMB_W2K3_SP1,
  SMB_W2K8R2_SP1,
  SMB_W2K8R2_SP1_MS17_010,
  SMB_WIN10_1903,
  SMB_WIN10_1909,
  SMB_WIN10_1909_ADV200005,
  SMB_WIN7_SP1,
  SMB_WIN7_SP1_MS17_010,
  SMB_WIN98,
  SMB_XP,
  SMB_XP_SP2,
  hostileSmb,
  type HostileSmbBehaviour,
  type SmbProfile,
  type SmbServerProfile,
} from "./smb-profiles.js";

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

/**
 * The RPCSS generation of an NT-family host: which DCOM interfaces and endpoints it has. "nt6" is
 * every release from Vista on (7, 2008 R2, 10, 2019): the RPC hardening of XP SP2 / 2003 SP1 is
 * built in, and they are 64-bit (NDR64, rpc-endpoints.ts).
 */
export type WindowsGeneration = "nt4" | "w2k" | "xp" | "w2k3" | "nt6";

/**
 * How a hostile DCE/RPC peer on TCP 135 misbehaves (see hostile-rpc.ts). They exist so that the
 * checks' defensive parsing (research §2.1 reading rule, §3.3 "parse defensively") has something
 * to be tested against; a real estate has them too (middleboxes, half-dead services, tarpits).
 */
export type HostileRpcBehaviour =
  /** bind_ack whose frag_length promises more bytes than are sent, then silence. */
  | "truncated"
  /** a bind_ack header whose frag_length is below the 16-byte header or absurdly large. */
  | "frag-lie"
  /** a valid bind_ack, then response fragments without PFC_LAST_FRAG until a cap. */
  | "endless-fragments"
  /** a valid bind_ack, one byte every ~500 ms. */
  | "slow-drip"
  /** a bind_ack answering another call_id; otherwise an unpatched Windows 2000. */
  | "wrong-call-id"
  /** a valid bind_ack, then random non-RPC bytes in answer to a request. */
  | "garbage-after-bind";

/**
 * What answers on TCP 135 (and 593) and how its DCOM activation service behaves; the patch level
 * comes from `Persona.patches`. The lab's RPCSS emulation (rpcss-model.ts) is driven by this, never
 * by the persona's id or label.
 */
export type RpcssProfile =
  | {
      readonly kind: "windows";
      readonly generation: WindowsGeneration;
      /**
       * XP SP2 / Server 2003 SP1 RPC hardening (RestrictRemoteClients): anonymous activation
       * requests are refused by the runtime (research §2.10a, third bullet).
       */
      readonly hardened: boolean;
      /** "disabled": HKLM\Software\Microsoft\Ole EnableDCOM=N (research §2.4.3, §2.8). */
      readonly dcom: "enabled" | "disabled";
    }
  /** Windows 95/98/ME with DCOM9x: an RPCSS without the NT activation server (research §1.2). */
  | { readonly kind: "win9x" }
  /** A non-Windows DCE runtime (HP-UX dced): endpoint mapper and mgmt, no DCOM (research §2.6.3). */
  | { readonly kind: "dce" }
  | { readonly kind: "hostile"; readonly behaviour: HostileRpcBehaviour }
  /** Nothing speaks DCE/RPC here (a port 135 that is open only holds the connection). */
  | { readonly kind: "none" };

/**
 * The verdicts of research §2.7 a correct MS03-026/MS03-039 check reaches on a persona, as the
 * lab's ground truth states them (written by hand per persona, never derived from the emulation).
 * VULNERABLE_MS03_039_ONLY_OR_WORSE is deliberately absent: no persona is built to be ambiguous.
 */
export type ExpectedRpcssVerdict =
  | "VULNERABLE_MS03_026"
  | "VULNERABLE_MS03_039_ONLY"
  | "PATCHED_MS03_039"
  | "DCOM_RESTRICTED"
  | "NOT_APPLICABLE_WIN9X"
  | "NOT_APPLICABLE_NON_WINDOWS"
  | "UNKNOWN";

export const EXPECTED_RPCSS_VERDICTS: readonly ExpectedRpcssVerdict[] = [
  "VULNERABLE_MS03_026",
  "VULNERABLE_MS03_039_ONLY",
  "PATCHED_MS03_039",
  "DCOM_RESTRICTED",
  "NOT_APPLICABLE_WIN9X",
  "NOT_APPLICABLE_NON_WINDOWS",
  "UNKNOWN",
];

/** A check's verdict in the shared verdict model (src/checks/types.ts). */
export type ExpectedCheckVerdict = "VULNERABLE" | "NOT_VULNERABLE" | "NOT_APPLICABLE" | "UNKNOWN";

/**
 * The SMB checks' ids, as the advisories name them (advisories/*.yaml `checks:`), plus the
 * informational signing check, which no advisory carries.
 */
export const SMB_CHECK_IDS = [
  "smbv1-enabled",
  "ms17-010-peeknamedpipe",
  "smbghost-compression-capability",
  "smb-signing-not-required",
] as const;
export type SmbCheckId = (typeof SMB_CHECK_IDS)[number];

/**
 * What a correct SMB fingerprint and the SMB checks conclude on a persona (issue 4), written by
 * hand like the RPCSS verdicts:
 *  - os: the product src/smb/os-inference.ts's inferOs names from what the persona shows (its
 *    NativeOS/NativeLanMan, NTLM VERSION, dialects); null when nothing can be concluded;
 *  - dialects: what nmap's smb-protocols lists ("NT LM 0.12", "2.0.2" … "3.1.1");
 *  - signing: at the highest dialect the server speaks (SMB2 when it has it); null for hostile;
 *  - checks: smbv1-enabled VULNERABLE when NT LM 0.12 is accepted; ms17-010-peeknamedpipe
 *    NOT_APPLICABLE without SMB1; smbghost-compression-capability NOT_APPLICABLE without SMB2,
 *    VULNERABLE (reported as POTENTIALLY_VULNERABLE_SMBGHOST) when 3.1.1 comes with compression;
 *    smb-signing-not-required VULNERABLE unless signing is required. Hostile peers: UNKNOWN.
 */
export interface ExpectedSmb {
  readonly os: string | null;
  readonly dialects: readonly string[];
  readonly signing: "required" | "enabled" | "disabled" | null;
  readonly checks: Readonly<Record<SmbCheckId, ExpectedCheckVerdict>>;
}

/** What the checks should conclude; null = the check has nothing to run against (port not open). */
export interface ExpectedVerdicts {
  /** The MS03-026/MS03-039 verdict over TCP 135; null when the persona's 135 is not open. */
  readonly rpcss: ExpectedRpcssVerdict | null;
  /** The Blaster backdoor (research §4.1): a cmd.exe banner on TCP 4444; null when 4444 is not open. */
  readonly blaster: "present" | "absent" | null;
  /** The SMB fingerprint and checks over 445 (or 139); null when neither port is open. */
  readonly smb: ExpectedSmb | null;
}

/** What a persona's TCP 4444 says on connect (research §4.1). */
export type Tcp4444Service =
  /** A bound cmd.exe (Blaster's exploit): the console banner and a prompt; input is never run. */
  | { readonly kind: "cmd-shell"; readonly banner: string }
  /** Some other service that happens to use 4444 and speaks first. */
  | { readonly kind: "banner"; readonly banner: string };

/**
 * The banners a cmd.exe bound to a socket prints on connect (the console's version header, a blank
 * line and the prompt in %SystemRoot%\system32, RPCSS's working directory).
 */
export const CMD_BANNER_XP =
  "Microsoft Windows XP [Version 5.1.2600]\r\n(C) Copyright 1985-2001 Microsoft Corp.\r\n\r\nC:\\WINDOWS\\system32>";
export const CMD_BANNER_W2K =
  "Microsoft Windows 2000 [Version 5.00.2195]\r\n(C) Copyright 1985-2000 Microsoft Corp.\r\n\r\nC:\\WINNT\\system32>";

export interface Persona {
  readonly id: string;
  readonly label: string;
  readonly os: {
    readonly family: "windows" | "linux" | "unix" | "unknown";
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
  /**
   * Relative frequency in an estate layout (a share of the catalogue's total weight). Weight 0:
   * never drawn by the seeded estate; present only in the catalogue layout.
   */
  readonly weight: number;
  /** What speaks DCE/RPC on 135/593 and how its activation service answers. */
  readonly rpcss: RpcssProfile;
  /** What TCP 4444 says on connect when it is open (null: it only holds the connection). */
  readonly tcp4444: Tcp4444Service | null;
  /** What speaks SMB on 139/445 when they are open (null: they only hold the connection). */
  readonly smb: SmbProfile | null;
  /** The verdicts a correct check reaches, written by hand (see ExpectedVerdicts). */
  readonly expected: ExpectedVerdicts;
}

/** Where the two bulletins' fixes stand: none, KB823980 (MS03-026) only, or KB824146 (MS03-039). */
type Fix = "none" | "kb823980" | "kb824146";

const PATCHES: Record<Fix, Persona["patches"]> = {
  none: { ms03_026: "vulnerable", ms03_039: "vulnerable" },
  kb823980: { ms03_026: "patched", ms03_039: "vulnerable" },
  // 824146 supersedes 823980 (research §1.1, KB 823980 technical update).
  kb824146: { ms03_026: "patched", ms03_039: "patched" },
};

const WIN_RPC = [135, 139, 445];
const WIN_2003 = [135, 139, 445, 593];
/** NT4 has no SMB over TCP 445 (direct hosting arrived with Windows 2000). */
const NT4_RPC = [135, 139];

/** Windows 7 / 2008 R2 / 10 / 2019 listen on 135, 139, 445 (no RPC over HTTP on 593). */
const NT6_RPC = [135, 139, 445];

/** What the MS03-026/039 and Blaster checks conclude; the SMB half comes with the SmbFlavour. */
type RpcExpected = Omit<ExpectedVerdicts, "smb">;

/** An SMB server profile (smb-profiles.ts) with the hand-written verdicts a correct client reaches. */
interface SmbFlavour {
  readonly profile: SmbServerProfile;
  readonly expected: ExpectedSmb;
}

type WindowsProduct =
  | "Windows NT 4.0"
  | "Windows 2000"
  | "Windows XP"
  | "Windows Server 2003"
  | "Windows 7"
  | "Windows Server 2008 R2"
  | "Windows 10 1903"
  | "Windows 10 1909"
  | "Windows Server 2019";

interface WindowsOptions {
  readonly id: string;
  readonly label: string;
  readonly product: WindowsProduct;
  readonly sp: string | null;
  readonly fix: Fix | "n/a";
  readonly tcpOpen: readonly number[];
  readonly weight: number;
  readonly expected: RpcExpected;
  readonly smb: SmbFlavour;
  readonly hardened?: boolean;
  readonly dcom?: "enabled" | "disabled";
  readonly tcp4444?: Tcp4444Service;
}

const GENERATION: Record<WindowsProduct, WindowsGeneration> = {
  "Windows NT 4.0": "nt4",
  "Windows 2000": "w2k",
  "Windows XP": "xp",
  "Windows Server 2003": "w2k3",
  "Windows 7": "nt6",
  "Windows Server 2008 R2": "nt6",
  "Windows 10 1903": "nt6",
  "Windows 10 1909": "nt6",
  "Windows Server 2019": "nt6",
};

/** Releases after the two bulletins: outside MS03-026/MS03-039 altogether (research §1.2). */
const NOT_AFFECTED: Persona["patches"] = { ms03_026: "n/a", ms03_039: "n/a" };

function windows(o: WindowsOptions): Persona {
  const generation = GENERATION[o.product];
  return {
    id: o.id,
    label: o.label,
    os: { family: "windows", product: o.product, sp: o.sp },
    patches: o.fix === "n/a" ? NOT_AFFECTED : PATCHES[o.fix],
    tcpOpen: o.tcpOpen,
    tcpFiltered: [],
    udp137: "nbstat",
    nameTable: "windows",
    elsewhere: "closed",
    weight: o.weight,
    rpcss: {
      kind: "windows",
      generation,
      // Vista and later carry XP SP2's RestrictRemoteClients hardening by default.
      hardened: o.hardened ?? generation === "nt6",
      dcom: o.dcom ?? "enabled",
    },
    tcp4444: o.tcp4444 ?? null,
    smb: o.smb.profile,
    expected: { ...o.expected, smb: o.smb.expected },
  };
}

function hostile(behaviour: HostileRpcBehaviour, label: string): Persona {
  return {
    id: `rpc-${behaviour}`,
    label,
    os: { family: "unknown", product: "hostile DCE/RPC peer", sp: null },
    patches: { ms03_026: "n/a", ms03_039: "n/a" },
    tcpOpen: [135],
    tcpFiltered: [],
    udp137: "closed",
    nameTable: null,
    elsewhere: "closed",
    weight: 0,
    rpcss: { kind: "hostile", behaviour },
    tcp4444: null,
    smb: null,
    // Research §2.7: transport errors, unexpected lengths and timeouts are UNKNOWN.
    expected: { rpcss: "UNKNOWN", blaster: null, smb: null },
  };
}

/** A hostile SMB peer on 139 and 445 (hostile-smb.ts): every SMB verdict is UNKNOWN. */
function hostileSmbPeer(behaviour: HostileSmbBehaviour, label: string): Persona {
  return {
    id: `smb-${behaviour}`,
    label,
    os: { family: "unknown", product: "hostile SMB peer", sp: null },
    patches: { ms03_026: "n/a", ms03_039: "n/a" },
    tcpOpen: [139, 445],
    tcpFiltered: [],
    udp137: "closed",
    nameTable: null,
    elsewhere: "closed",
    weight: 0,
    rpcss: { kind: "none" },
    tcp4444: null,
    smb: hostileSmb(behaviour),
    expected: { rpcss: null, blaster: null, smb: HOSTILE_SMB },
  };
}

// The expected verdicts, spelled out once so the table below reads like the research's §2.7.
const VULN_026: RpcExpected = { rpcss: "VULNERABLE_MS03_026", blaster: null };
const VULN_039: RpcExpected = { rpcss: "VULNERABLE_MS03_039_ONLY", blaster: null };
const PATCHED: RpcExpected = { rpcss: "PATCHED_MS03_039", blaster: null };
const NOT_RUN: ExpectedVerdicts = { rpcss: null, blaster: null, smb: null };

// ---- The SMB half, by hand (see ExpectedSmb for the rules) ----

const SMB1_ONLY = ["NT LM 0.12"] as const;
/** NT-family SMB1-only hosts before 2017: SMB1 on, MS17-010 missing, no SMB2, signing off. */
const SMB1_UNPATCHED: ExpectedSmb["checks"] = {
  "smbv1-enabled": "VULNERABLE",
  "ms17-010-peeknamedpipe": "VULNERABLE",
  "smbghost-compression-capability": "NOT_APPLICABLE",
  "smb-signing-not-required": "VULNERABLE",
};
const smb1Era = (os: string): ExpectedSmb => ({
  os,
  dialects: SMB1_ONLY,
  signing: "disabled",
  checks: SMB1_UNPATCHED,
});
const NT4_SMB: SmbFlavour = { profile: SMB_NT4, expected: smb1Era("Windows NT 4.0") };
const W2K_SMB: SmbFlavour = { profile: SMB_W2K, expected: smb1Era("Windows 2000") };
const XP_SMB: SmbFlavour = { profile: SMB_XP, expected: smb1Era("Windows XP") };
const XP_SP2_SMB: SmbFlavour = { profile: SMB_XP_SP2, expected: smb1Era("Windows XP") };
const W2K3_RTM_SMB: SmbFlavour = {
  profile: SMB_W2K3_RTM,
  expected: smb1Era("Windows Server 2003"),
};
const W2K3_SP1_SMB: SmbFlavour = {
  profile: SMB_W2K3_SP1,
  expected: smb1Era("Windows Server 2003"),
};
/**
 * Windows 98's VSERVER answers PeekNamedPipe with a DOS error (ERRDOS/ERRbadfid: no NT status
 * codes), which research Appendix A's table reads as "anything else: unknown".
 */
const WIN98_SMB: SmbFlavour = {
  profile: SMB_WIN98,
  expected: {
    os: "Windows 95/98/ME",
    dialects: SMB1_ONLY,
    signing: "disabled",
    checks: { ...SMB1_UNPATCHED, "ms17-010-peeknamedpipe": "UNKNOWN" },
  },
};
const nt6Smb = (
  profile: SmbServerProfile,
  os: string,
  ms17010: ExpectedCheckVerdict,
): SmbFlavour => ({
  profile,
  expected: {
    os,
    dialects: ["NT LM 0.12", "2.0.2", "2.1"],
    signing: "enabled",
    checks: {
      "smbv1-enabled": "VULNERABLE",
      "ms17-010-peeknamedpipe": ms17010,
      "smbghost-compression-capability": "NOT_VULNERABLE",
      "smb-signing-not-required": "VULNERABLE",
    },
  },
});
const SMB3_DIALECTS = ["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"] as const;
const win10Smb = (
  profile: SmbServerProfile,
  os: string,
  smbghost: ExpectedCheckVerdict,
  signing: "enabled" | "required",
): SmbFlavour => ({
  profile,
  expected: {
    os,
    dialects: SMB3_DIALECTS,
    signing,
    checks: {
      "smbv1-enabled": "NOT_VULNERABLE",
      "ms17-010-peeknamedpipe": "NOT_APPLICABLE",
      "smbghost-compression-capability": smbghost,
      "smb-signing-not-required": signing === "required" ? "NOT_VULNERABLE" : "VULNERABLE",
    },
  },
});
/** Samba: no srv.sys, so FID 0 is an invalid handle (NOT_VULNERABLE); 3.1.1 without compression. */
const SAMBA_SMB: ExpectedSmb = {
  os: "Samba 4.x",
  dialects: ["NT LM 0.12", ...SMB3_DIALECTS],
  signing: "enabled",
  checks: {
    "smbv1-enabled": "VULNERABLE",
    "ms17-010-peeknamedpipe": "NOT_VULNERABLE",
    "smbghost-compression-capability": "NOT_VULNERABLE",
    "smb-signing-not-required": "VULNERABLE",
  },
};
const HOSTILE_SMB: ExpectedSmb = {
  os: null,
  dialects: [],
  signing: null,
  checks: {
    "smbv1-enabled": "UNKNOWN",
    "ms17-010-peeknamedpipe": "UNKNOWN",
    "smbghost-compression-capability": "UNKNOWN",
    "smb-signing-not-required": "UNKNOWN",
  },
};

/**
 * The catalogue, in a fixed order: a persona's position and weight are part of the seed → persona
 * mapping, so new personas are appended at the end, as a new generation (CATALOGUE_GENERATIONS)
 * when they carry weight: a seeded estate then keeps the persona of every host the new generation
 * does not take (80% of hosts for the 14 → 40 step). Changing an existing weight redraws estates.
 * Weight-0 personas are never drawn; the catalogue layout shows them.
 *
 * Expected verdicts (research §2.7): unpatched → VULNERABLE_MS03_026, KB823980 only →
 * VULNERABLE_MS03_039_ONLY, KB824146 → PATCHED_MS03_039; "-" = 135 not open, no check runs.
 *
 * |    | persona                | wt | TCP open              | UDP 137 | 026 / 039  | RPCSS           | expected rpcss / blaster  |
 * |----|------------------------|---:|-----------------------|---------|------------|-----------------|---------------------------|
 * |  0 | nt4-sp6a               |  4 | 135 139               | nbstat  | vuln/vuln  | nt4             | VULNERABLE_MS03_026 / -   |
 * |  1 | w2k-sp4                | 13 | 135 139 445           | nbstat  | vuln/vuln  | w2k             | VULNERABLE_MS03_026 / -   |
 * |  2 | w2k-sp4-kb823980       |  3 | 135 139 445           | nbstat  | patch/vuln | w2k             | VULNERABLE_MS03_039_ONLY  |
 * |  3 | w2k-sp4-patched        | 10 | 135 139 445           | nbstat  | patch/patch| w2k             | PATCHED_MS03_039 / -      |
 * |  4 | xp-sp1                 | 13 | 135 139 445           | nbstat  | vuln/vuln  | xp              | VULNERABLE_MS03_026 / -   |
 * |  5 | xp-sp2-shielded        | 10 | (135 139 445 dropped) | dropped | patch/patch| xp hardened     | - / -                     |
 * |  6 | w2k3-rtm               |  6 | 135 139 445 593       | nbstat  | vuln/vuln  | w2k3            | VULNERABLE_MS03_026 / -   |
 * |  7 | w2k3-sp1               |  8 | 135 139 445 593       | nbstat  | patch/patch| w2k3 hardened   | PATCHED_MS03_039 / -      |
 * |  8 | blaster-xp             |  3 | 135 139 445 4444      | nbstat  | vuln/vuln  | xp              | VULNERABLE_MS03_026 / present |
 * |  9 | blaster-w2k            |  2 | 135 139 445 4444      | nbstat  | vuln/vuln  | w2k             | VULNERABLE_MS03_026 / present |
 * | 10 | linux-server           | 10 | 22 80                 | closed  | n/a        | none            | - / -                     |
 * | 11 | linux-samba            |  5 | 22 139 445            | nbstat  | n/a        | none            | - / -                     |
 * | 12 | closed                 |  8 | —                     | closed  | n/a        | none            | - / -                     |
 * | 13 | filtered               |  5 | — (all dropped)       | dropped | n/a        | none            | - / -                     |
 * | 14 | nt4-sp6a-kb823980      |  1 | 135 139               | nbstat  | patch/vuln | nt4             | VULNERABLE_MS03_039_ONLY  |
 * | 15 | nt4-sp6a-patched       |  1 | 135 139               | nbstat  | patch/patch| nt4             | PATCHED_MS03_039 / -      |
 * | 16 | w2k-sp2                |  1 | 135 139 445           | nbstat  | vuln/vuln  | w2k             | VULNERABLE_MS03_026 / -   |
 * | 17 | w2k-sp2-kb823980       |  1 | 135 139 445           | nbstat  | patch/vuln | w2k             | VULNERABLE_MS03_039_ONLY  |
 * | 18 | w2k-sp2-patched        |  1 | 135 139 445           | nbstat  | patch/patch| w2k             | PATCHED_MS03_039 / -      |
 * | 19 | w2k-sp3                |  2 | 135 139 445           | nbstat  | vuln/vuln  | w2k             | VULNERABLE_MS03_026 / -   |
 * | 20 | w2k-sp3-kb823980       |  1 | 135 139 445           | nbstat  | patch/vuln | w2k             | VULNERABLE_MS03_039_ONLY  |
 * | 21 | w2k-sp3-patched        |  1 | 135 139 445           | nbstat  | patch/patch| w2k             | PATCHED_MS03_039 / -      |
 * | 22 | xp-rtm                 |  2 | 135 139 445           | nbstat  | vuln/vuln  | xp              | VULNERABLE_MS03_026 / -   |
 * | 23 | xp-rtm-kb823980        |  1 | 135 139 445           | nbstat  | patch/vuln | xp              | VULNERABLE_MS03_039_ONLY  |
 * | 24 | xp-rtm-patched         |  1 | 135 139 445           | nbstat  | patch/patch| xp              | PATCHED_MS03_039 / -      |
 * | 25 | xp-sp1-kb823980        |  1 | 135 139 445           | nbstat  | patch/vuln | xp              | VULNERABLE_MS03_039_ONLY  |
 * | 26 | xp-sp1-patched         |  2 | 135 139 445           | nbstat  | patch/patch| xp              | PATCHED_MS03_039 / -      |
 * | 27 | w2k3-rtm-kb823980      |  1 | 135 139 445 593       | nbstat  | patch/vuln | w2k3            | VULNERABLE_MS03_039_ONLY  |
 * | 28 | w2k3-rtm-patched       |  2 | 135 139 445 593       | nbstat  | patch/patch| w2k3            | PATCHED_MS03_039 / -      |
 * | 29 | xp-sp2-open            |  2 | 135 139 445           | nbstat  | patch/patch| xp hardened     | PATCHED_MS03_039 / -      |
 * | 30 | w2k-sp4-dcom-disabled  |  1 | 135 139 445           | nbstat  | vuln/vuln  | w2k, DCOM off   | DCOM_RESTRICTED / -       |
 * | 31 | win98-dcom             |  1 | 135 139               | nbstat  | n/a        | win9x           | NOT_APPLICABLE_WIN9X / -  |
 * | 32 | hpux-dced              |  1 | 22 135                | closed  | n/a        | dce             | NOT_APPLICABLE_NON_WINDOWS|
 * | 33 | linux-dev-4444         |  1 | 22 80 4444            | closed  | n/a        | none            | - / absent                |
 * | 34 | rpc-truncated          |  0 | 135                   | closed  | n/a        | hostile         | UNKNOWN / -               |
 * | 35 | rpc-frag-lie           |  0 | 135                   | closed  | n/a        | hostile         | UNKNOWN / -               |
 * | 36 | rpc-endless-fragments  |  0 | 135                   | closed  | n/a        | hostile         | UNKNOWN / -               |
 * | 37 | rpc-slow-drip          |  0 | 135                   | closed  | n/a        | hostile         | UNKNOWN / -               |
 * | 38 | rpc-wrong-call-id      |  0 | 135                   | closed  | n/a        | hostile         | UNKNOWN / -               |
 * | 39 | rpc-garbage-after-bind |  0 | 135                   | closed  | n/a        | hostile         | UNKNOWN / -               |
 * | 40 | win7-sp1               |  3 | 135 139 445           | nbstat  | n/a        | nt6 hardened    | PATCHED_MS03_039 / -      |
 * | 41 | win7-sp1-ms17-010      |  3 | 135 139 445           | nbstat  | n/a        | nt6 hardened    | PATCHED_MS03_039 / -      |
 * | 42 | w2k8r2-sp1             |  1 | 135 139 445           | nbstat  | n/a        | nt6 hardened    | PATCHED_MS03_039 / -      |
 * | 43 | w2k8r2-sp1-ms17-010    |  1 | 135 139 445           | nbstat  | n/a        | nt6 hardened    | PATCHED_MS03_039 / -      |
 * | 44 | win10-1903             |  1 | 135 139 445           | nbstat  | n/a        | nt6 hardened    | PATCHED_MS03_039 / -      |
 * | 45 | win10-1909             |  1 | 135 139 445           | nbstat  | n/a        | nt6 hardened    | PATCHED_MS03_039 / -      |
 * | 46 | win10-1909-adv200005   |  1 | 135 139 445           | nbstat  | n/a        | nt6 hardened    | PATCHED_MS03_039 / -      |
 * | 47 | w2k19                  |  1 | 135 139 445           | nbstat  | n/a        | nt6 hardened    | PATCHED_MS03_039 / -      |
 * | 48 | smb-netbios-oversize   |  0 | 139 445               | closed  | n/a        | none            | - / -                     |
 * | 49 | smb-structure-lie      |  0 | 139 445               | closed  | n/a        | none            | - / -                     |
 * | 50 | smb-truncated          |  0 | 139 445               | closed  | n/a        | none            | - / -                     |
 * | 51 | smb-compound-garbage   |  0 | 139 445               | closed  | n/a        | none            | - / -                     |
 * | 52 | smb-endless-pending    |  0 | 139 445               | closed  | n/a        | none            | - / -                     |
 *
 * Expected SMB (ExpectedSmb; smb-profiles.ts for the wire): OS as inferOs names it, dialects,
 * signing at the highest dialect, and the checks smbv1-enabled / ms17-010-peeknamedpipe /
 * smbghost-compression-capability / smb-signing-not-required (V vulnerable, N not vulnerable,
 * - not applicable, ? unknown). "-" in the first column: 139/445 not open, no SMB verdict.
 *
 * | persona(s)                         | os                           | dialects            | signing  | v1 17 gh sg |
 * |------------------------------------|------------------------------|---------------------|----------|-------------|
 * | nt4-sp6a*                          | Windows NT 4.0               | NT LM 0.12 (139)    | disabled | V  V  -  V  |
 * | w2k-*, blaster-w2k                 | Windows 2000                 | NT LM 0.12          | disabled | V  V  -  V  |
 * | xp-rtm*, xp-sp1*, blaster-xp, xp-sp2-open | Windows XP            | NT LM 0.12          | disabled | V  V  -  V  |
 * | w2k3-rtm*, w2k3-sp1                | Windows Server 2003          | NT LM 0.12          | disabled | V  V  -  V  |
 * | win98-dcom                         | Windows 95/98/ME             | NT LM 0.12 (139)    | disabled | V  ?  -  V  |
 * | linux-samba                        | Samba 4.x                    | NT LM 0.12, 2.0.2-3.1.1 | enabled | V N N V  |
 * | win7-sp1 / -ms17-010               | Windows 7                    | NT LM 0.12, 2.0.2, 2.1 | enabled | V V/N N V |
 * | w2k8r2-sp1 / -ms17-010             | Windows Server 2008 R2       | NT LM 0.12, 2.0.2, 2.1 | enabled | V V/N N V |
 * | win10-1903, win10-1909             | Windows 10 1903 / 1909       | 2.0.2-3.1.1         | enabled  | N  -  V  V  |
 * | win10-1909-adv200005               | Windows 10 1909              | 2.0.2-3.1.1         | enabled  | N  -  N  V  |
 * | w2k19                              | Windows 10 1809 / Server 2019 | 2.0.2-3.1.1        | required | N  -  N  N  |
 * | smb-* (hostile)                    | null                         | —                   | null     | ?  ?  ?  ?  |
 * | - xp-sp2-shielded, linux-server, closed, filtered, hpux-dced, linux-dev-4444, rpc-* |
 */
export const PERSONAS: readonly Persona[] = [
  windows({
    id: "nt4-sp6a",
    label: "Windows NT 4.0 SP6a, unpatched",
    product: "Windows NT 4.0",
    sp: "SP6a",
    fix: "none",
    tcpOpen: NT4_RPC,
    weight: 4,
    expected: VULN_026,
    smb: NT4_SMB,
  }),
  windows({
    id: "w2k-sp4",
    label: "Windows 2000 SP4, unpatched",
    product: "Windows 2000",
    sp: "SP4",
    fix: "none",
    tcpOpen: WIN_RPC,
    weight: 13,
    expected: VULN_026,
    smb: W2K_SMB,
  }),
  windows({
    id: "w2k-sp4-kb823980",
    label: "Windows 2000 SP4 with KB823980 only",
    product: "Windows 2000",
    sp: "SP4",
    fix: "kb823980",
    tcpOpen: WIN_RPC,
    weight: 3,
    expected: VULN_039,
    smb: W2K_SMB,
  }),
  windows({
    id: "w2k-sp4-patched",
    label: "Windows 2000 SP4, patched (KB824146)",
    product: "Windows 2000",
    sp: "SP4",
    fix: "kb824146",
    tcpOpen: WIN_RPC,
    weight: 10,
    expected: PATCHED,
    smb: W2K_SMB,
  }),
  windows({
    id: "xp-sp1",
    label: "Windows XP SP1, unpatched",
    product: "Windows XP",
    sp: "SP1",
    fix: "none",
    tcpOpen: WIN_RPC,
    weight: 13,
    expected: VULN_026,
    smb: XP_SMB,
  }),
  {
    // XP SP2's Windows Firewall without the File and Printer Sharing exception: RPC, NetBIOS and
    // SMB are dropped (filtered), which is the "shielded" state our shield feature aims for.
    id: "xp-sp2-shielded",
    label: "Windows XP SP2, firewall on (shielded)",
    os: { family: "windows", product: "Windows XP", sp: "SP2" },
    patches: PATCHES.kb824146,
    tcpOpen: [],
    tcpFiltered: WIN_RPC,
    udp137: "filtered",
    nameTable: null,
    elsewhere: "closed",
    weight: 10,
    rpcss: { kind: "windows", generation: "xp", hardened: true, dcom: "enabled" },
    tcp4444: null,
    smb: SMB_XP_SP2,
    expected: NOT_RUN,
  },
  windows({
    id: "w2k3-rtm",
    label: "Windows Server 2003 RTM, unpatched",
    product: "Windows Server 2003",
    sp: null,
    fix: "none",
    tcpOpen: WIN_2003,
    weight: 6,
    expected: VULN_026,
    smb: W2K3_RTM_SMB,
  }),
  windows({
    // Server 2003 SP1 carries the XP SP2 RPC hardening (research §1.2, §2.10a).
    id: "w2k3-sp1",
    label: "Windows Server 2003 SP1, patched",
    product: "Windows Server 2003",
    sp: "SP1",
    fix: "kb824146",
    tcpOpen: WIN_2003,
    weight: 8,
    hardened: true,
    expected: PATCHED,
    smb: W2K3_SP1_SMB,
  }),
  // Blaster's exploit leaves a cmd.exe bound to TCP 4444 (CERT CA-2003-19, research §4.1).
  windows({
    id: "blaster-xp",
    label: "Windows XP SP1, Blaster-infected",
    product: "Windows XP",
    sp: "SP1",
    fix: "none",
    tcpOpen: [...WIN_RPC, 4444],
    weight: 3,
    tcp4444: { kind: "cmd-shell", banner: CMD_BANNER_XP },
    expected: { rpcss: "VULNERABLE_MS03_026", blaster: "present" },
    smb: XP_SMB,
  }),
  windows({
    id: "blaster-w2k",
    label: "Windows 2000 SP4, Blaster-infected",
    product: "Windows 2000",
    sp: "SP4",
    fix: "none",
    tcpOpen: [...WIN_RPC, 4444],
    weight: 2,
    tcp4444: { kind: "cmd-shell", banner: CMD_BANNER_W2K },
    expected: { rpcss: "VULNERABLE_MS03_026", blaster: "present" },
    smb: W2K_SMB,
  }),
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
    rpcss: { kind: "none" },
    tcp4444: null,
    smb: null,
    expected: NOT_RUN,
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
    rpcss: { kind: "none" },
    tcp4444: null,
    smb: SMB_SAMBA,
    expected: { rpcss: null, blaster: null, smb: SAMBA_SMB },
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
    rpcss: { kind: "none" },
    tcp4444: null,
    smb: null,
    expected: NOT_RUN,
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
    rpcss: { kind: "none" },
    tcp4444: null,
    smb: null,
    expected: NOT_RUN,
  },
  // ---- The rest of the research §1.2 matrix: every affected OS/SP in its three patch states ----
  windows({
    id: "nt4-sp6a-kb823980",
    label: "Windows NT 4.0 SP6a with KB823980 only",
    product: "Windows NT 4.0",
    sp: "SP6a",
    fix: "kb823980",
    tcpOpen: NT4_RPC,
    weight: 1,
    expected: VULN_039,
    smb: NT4_SMB,
  }),
  windows({
    id: "nt4-sp6a-patched",
    label: "Windows NT 4.0 SP6a, patched (KB824146)",
    product: "Windows NT 4.0",
    sp: "SP6a",
    fix: "kb824146",
    tcpOpen: NT4_RPC,
    weight: 1,
    expected: PATCHED,
    smb: NT4_SMB,
  }),
  windows({
    id: "w2k-sp2",
    label: "Windows 2000 SP2, unpatched",
    product: "Windows 2000",
    sp: "SP2",
    fix: "none",
    tcpOpen: WIN_RPC,
    weight: 1,
    expected: VULN_026,
    smb: W2K_SMB,
  }),
  windows({
    id: "w2k-sp2-kb823980",
    label: "Windows 2000 SP2 with KB823980 only",
    product: "Windows 2000",
    sp: "SP2",
    fix: "kb823980",
    tcpOpen: WIN_RPC,
    weight: 1,
    expected: VULN_039,
    smb: W2K_SMB,
  }),
  windows({
    id: "w2k-sp2-patched",
    label: "Windows 2000 SP2, patched (KB824146)",
    product: "Windows 2000",
    sp: "SP2",
    fix: "kb824146",
    tcpOpen: WIN_RPC,
    weight: 1,
    expected: PATCHED,
    smb: W2K_SMB,
  }),
  windows({
    id: "w2k-sp3",
    label: "Windows 2000 SP3, unpatched",
    product: "Windows 2000",
    sp: "SP3",
    fix: "none",
    tcpOpen: WIN_RPC,
    weight: 2,
    expected: VULN_026,
    smb: W2K_SMB,
  }),
  windows({
    id: "w2k-sp3-kb823980",
    label: "Windows 2000 SP3 with KB823980 only",
    product: "Windows 2000",
    sp: "SP3",
    fix: "kb823980",
    tcpOpen: WIN_RPC,
    weight: 1,
    expected: VULN_039,
    smb: W2K_SMB,
  }),
  windows({
    id: "w2k-sp3-patched",
    label: "Windows 2000 SP3, patched (KB824146)",
    product: "Windows 2000",
    sp: "SP3",
    fix: "kb824146",
    tcpOpen: WIN_RPC,
    weight: 1,
    expected: PATCHED,
    smb: W2K_SMB,
  }),
  windows({
    id: "xp-rtm",
    label: "Windows XP RTM (SP0), unpatched",
    product: "Windows XP",
    sp: null,
    fix: "none",
    tcpOpen: WIN_RPC,
    weight: 2,
    expected: VULN_026,
    smb: XP_SMB,
  }),
  windows({
    id: "xp-rtm-kb823980",
    label: "Windows XP RTM (SP0) with KB823980 only",
    product: "Windows XP",
    sp: null,
    fix: "kb823980",
    tcpOpen: WIN_RPC,
    weight: 1,
    expected: VULN_039,
    smb: XP_SMB,
  }),
  windows({
    id: "xp-rtm-patched",
    label: "Windows XP RTM (SP0), patched (KB824146)",
    product: "Windows XP",
    sp: null,
    fix: "kb824146",
    tcpOpen: WIN_RPC,
    weight: 1,
    expected: PATCHED,
    smb: XP_SMB,
  }),
  windows({
    id: "xp-sp1-kb823980",
    label: "Windows XP SP1 with KB823980 only",
    product: "Windows XP",
    sp: "SP1",
    fix: "kb823980",
    tcpOpen: WIN_RPC,
    weight: 1,
    expected: VULN_039,
    smb: XP_SMB,
  }),
  windows({
    id: "xp-sp1-patched",
    label: "Windows XP SP1, patched (KB824146)",
    product: "Windows XP",
    sp: "SP1",
    fix: "kb824146",
    tcpOpen: WIN_RPC,
    weight: 2,
    expected: PATCHED,
    smb: XP_SMB,
  }),
  windows({
    id: "w2k3-rtm-kb823980",
    label: "Windows Server 2003 RTM with KB823980 only",
    product: "Windows Server 2003",
    sp: null,
    fix: "kb823980",
    tcpOpen: WIN_2003,
    weight: 1,
    expected: VULN_039,
    smb: W2K3_RTM_SMB,
  }),
  windows({
    id: "w2k3-rtm-patched",
    label: "Windows Server 2003 RTM, patched (KB824146)",
    product: "Windows Server 2003",
    sp: null,
    fix: "kb824146",
    tcpOpen: WIN_2003,
    weight: 2,
    expected: PATCHED,
    smb: W2K3_RTM_SMB,
  }),
  // ---- Neighbours the checks must classify without a false positive ----
  windows({
    // XP SP2 with the Windows Firewall turned off: reachable, but its RPC runtime refuses anonymous
    // activation (research §2.10a: req1/req2 access denied, req4 nca_s_unk_if ⇒ patched).
    id: "xp-sp2-open",
    label: "Windows XP SP2, firewall off",
    product: "Windows XP",
    sp: "SP2",
    fix: "kb824146",
    tcpOpen: WIN_RPC,
    weight: 2,
    hardened: true,
    expected: PATCHED,
    smb: XP_SP2_SMB,
  }),
  windows({
    // Unpatched, but EnableDCOM=N: every activation answers E_ACCESSDENIED, which the 2003 checks
    // call "DCOM disabled" (research §2.4.3, §2.6.3, §2.7).
    id: "w2k-sp4-dcom-disabled",
    label: "Windows 2000 SP4, unpatched, DCOM disabled (EnableDCOM=N)",
    product: "Windows 2000",
    sp: "SP4",
    fix: "none",
    tcpOpen: WIN_RPC,
    weight: 1,
    dcom: "disabled",
    expected: { rpcss: "DCOM_RESTRICTED", blaster: null },
    smb: W2K_SMB,
  }),
  {
    // Windows 98 SE ships DCOM98, whose RPCSS listens on 135 but has no NT activation server;
    // the 2003 checks recognise it by a rejected ILocalObjectExporter v2.0 bind (research §2.4.4).
    id: "win98-dcom",
    label: "Windows 98 SE with DCOM98 (file sharing on)",
    os: { family: "windows", product: "Windows 98", sp: "SE" },
    patches: { ms03_026: "n/a", ms03_039: "n/a" },
    tcpOpen: [135, 139],
    tcpFiltered: [],
    udp137: "nbstat",
    nameTable: "windows",
    elsewhere: "closed",
    weight: 1,
    rpcss: { kind: "win9x" },
    tcp4444: null,
    smb: WIN98_SMB.profile,
    expected: { rpcss: "NOT_APPLICABLE_WIN9X", blaster: null, smb: WIN98_SMB.expected },
  },
  {
    // A non-Windows DCE host: HP-UX's dced is the endpoint mapper on 135 the 2003 checks name
    // (research §2.6.3 "HP-UX dced"); it has no DCOM activation interfaces at all.
    id: "hpux-dced",
    label: "HP-UX 11i with DCE (dced endpoint mapper, no DCOM)",
    os: { family: "unix", product: "HP-UX 11i", sp: null },
    patches: { ms03_026: "n/a", ms03_039: "n/a" },
    tcpOpen: [22, 135],
    tcpFiltered: [],
    udp137: "closed",
    nameTable: null,
    elsewhere: "closed",
    weight: 1,
    rpcss: { kind: "dce" },
    tcp4444: null,
    smb: null,
    expected: { rpcss: "NOT_APPLICABLE_NON_WINDOWS", blaster: null, smb: null },
  },
  {
    // 4444 open is not Blaster (research §4.1: read the banner): a developer's debug console that
    // speaks first and even ends in a prompt, but is no cmd.exe.
    id: "linux-dev-4444",
    label: "Linux developer box (debug console on 4444)",
    os: { family: "linux", product: "Linux", sp: null },
    patches: { ms03_026: "n/a", ms03_039: "n/a" },
    tcpOpen: [22, 80, 4444],
    tcpFiltered: [],
    udp137: "closed",
    nameTable: null,
    elsewhere: "closed",
    weight: 1,
    rpcss: { kind: "none" },
    tcp4444: {
      kind: "banner",
      banner: "devbox debug console 0.3 (type 'help' for commands)\r\n> ",
    },
    smb: null,
    expected: { rpcss: null, blaster: "absent", smb: null },
  },
  // ---- Hostile DCE/RPC peers: weight 0, catalogue layout only (hostile-rpc.ts) ----
  hostile("truncated", "Hostile RPC peer: bind_ack shorter than its frag_length, then silence"),
  hostile("frag-lie", "Hostile RPC peer: bind_ack frag_length below 16 or absurdly large"),
  hostile(
    "endless-fragments",
    "Hostile RPC peer: response fragments without PFC_LAST_FRAG, until a cap",
  ),
  hostile("slow-drip", "Hostile RPC peer: bind_ack dripped one byte every 500 ms"),
  hostile("wrong-call-id", "Hostile RPC peer: bind_ack for another call_id"),
  hostile("garbage-after-bind", "Hostile RPC peer: random bytes in answer to a request"),
  // ---- Generation 40: the SMB era (issue 4). Modern releases carry RPCSS's hardening (135 is
  // open, every anonymous activation is refused, req4 reads nca_s_unk_if ⇒ PATCHED_MS03_039 by
  // research §2.10a) and 64-bit runtimes; their SMB profiles are in smb-profiles.ts ----
  windows({
    id: "win7-sp1",
    label: "Windows 7 Professional SP1 x64, without MS17-010",
    product: "Windows 7",
    sp: "SP1",
    fix: "n/a",
    tcpOpen: NT6_RPC,
    weight: 3,
    expected: PATCHED,
    smb: nt6Smb(SMB_WIN7_SP1, "Windows 7", "VULNERABLE"),
  }),
  windows({
    id: "win7-sp1-ms17-010",
    label: "Windows 7 Professional SP1 x64, MS17-010 installed (KB4012215)",
    product: "Windows 7",
    sp: "SP1",
    fix: "n/a",
    tcpOpen: NT6_RPC,
    weight: 3,
    expected: PATCHED,
    smb: nt6Smb(SMB_WIN7_SP1_MS17_010, "Windows 7", "NOT_VULNERABLE"),
  }),
  windows({
    id: "w2k8r2-sp1",
    label: "Windows Server 2008 R2 Standard SP1, without MS17-010",
    product: "Windows Server 2008 R2",
    sp: "SP1",
    fix: "n/a",
    tcpOpen: NT6_RPC,
    weight: 1,
    expected: PATCHED,
    smb: nt6Smb(SMB_W2K8R2_SP1, "Windows Server 2008 R2", "VULNERABLE"),
  }),
  windows({
    id: "w2k8r2-sp1-ms17-010",
    label: "Windows Server 2008 R2 Standard SP1, MS17-010 installed (KB4012215)",
    product: "Windows Server 2008 R2",
    sp: "SP1",
    fix: "n/a",
    tcpOpen: NT6_RPC,
    weight: 1,
    expected: PATCHED,
    smb: nt6Smb(SMB_W2K8R2_SP1_MS17_010, "Windows Server 2008 R2", "NOT_VULNERABLE"),
  }),
  windows({
    id: "win10-1903",
    label: "Windows 10 1903, SMB compression offered (SMBGhost surface)",
    product: "Windows 10 1903",
    sp: null,
    fix: "n/a",
    tcpOpen: NT6_RPC,
    weight: 1,
    expected: PATCHED,
    smb: win10Smb(SMB_WIN10_1903, "Windows 10 1903", "VULNERABLE", "enabled"),
  }),
  windows({
    id: "win10-1909",
    label: "Windows 10 1909, SMB compression offered (SMBGhost surface)",
    product: "Windows 10 1909",
    sp: null,
    fix: "n/a",
    tcpOpen: NT6_RPC,
    weight: 1,
    expected: PATCHED,
    smb: win10Smb(SMB_WIN10_1909, "Windows 10 1909", "VULNERABLE", "enabled"),
  }),
  windows({
    id: "win10-1909-adv200005",
    label: "Windows 10 1909 with the ADV200005 workaround (SMB compression disabled)",
    product: "Windows 10 1909",
    sp: null,
    fix: "n/a",
    tcpOpen: NT6_RPC,
    weight: 1,
    expected: PATCHED,
    smb: win10Smb(SMB_WIN10_1909_ADV200005, "Windows 10 1909", "NOT_VULNERABLE", "enabled"),
  }),
  windows({
    // Build 17763 is both Windows 10 1809 and Server 2019, and with SMB1 off no NativeOS says
    // which: the fingerprint can only name both (os-inference.ts buildName).
    id: "w2k19",
    label: "Windows Server 2019 (SMB2/3 only, signing required)",
    product: "Windows Server 2019",
    sp: null,
    fix: "n/a",
    tcpOpen: NT6_RPC,
    weight: 1,
    expected: PATCHED,
    smb: win10Smb(SMB_W2K19, "Windows 10 1809 / Server 2019", "NOT_VULNERABLE", "required"),
  }),
  // ---- Hostile SMB peers: weight 0, catalogue layout only (hostile-smb.ts) ----
  hostileSmbPeer(
    "netbios-oversize",
    "Hostile SMB peer: session header announcing 0x1FFFF bytes, then silence",
  ),
  hostileSmbPeer(
    "structure-lie",
    "Hostile SMB peer: SMB2 NEGOTIATE response whose sizes and offsets lie",
  ),
  hostileSmbPeer("truncated", "Hostile SMB peer: a frame shorter than its length, then silence"),
  hostileSmbPeer(
    "compound-garbage",
    "Hostile SMB peer: SMB2 compound chains running into junk or past any sane count",
  ),
  hostileSmbPeer(
    "endless-pending",
    "Hostile SMB peer: STATUS_PENDING interim responses, never a final one",
  ),
];

export function personaById(id: string): Persona | undefined {
  return PERSONAS.find((p) => p.id === id);
}

/**
 * Where each generation of the catalogue starts in PERSONAS: 0, the 2003 estate the lab started
 * with; 14, the personas the DCOM checks added (the rest of the research §1.2 matrix, the hardened
 * and restricted hosts, Windows 98, HP-UX, the 4444 negative case, the hostile peers); 40, the
 * SMB era (Windows 7 / 2008 R2 with and without MS17-010, Windows 10 1903/1909, Server 2019, the
 * hostile SMB peers). A block of
 * weighted personas appended later starts a new generation here, so that seeded estates keep the
 * persona of every host the new block does not take (see Estate).
 */
const CATALOGUE_GENERATIONS: readonly number[] = [0, 14, 40];

function weightOf(start: number, end: number): number {
  let total = 0;
  for (let k = start; k < end; k++) total += PERSONAS[k]?.weight ?? 0;
  return total;
}

/**
 * The persona of PERSONAS[start, end) whose cumulative-weight interval holds `point` (a point in
 * [0, weight of the range)); weight-0 personas have empty intervals and are never picked, not even
 * by the fallback for a point rounded up to the end.
 */
function pick(start: number, end: number, point: number): number {
  let cumulative = 0;
  let lastDrawable = start;
  for (let k = start; k < end; k++) {
    const weight = PERSONAS[k]?.weight ?? 0;
    if (weight === 0) continue;
    lastDrawable = k;
    cumulative += weight;
    if (point < cumulative) return k;
  }
  return lastDrawable;
}

/**
 * How hosts get personas. "estate" (the default): drawn from the seed by weight, a realistic mix.
 * "catalogue": host i is PERSONAS[i % PERSONAS.length], every persona including the weight-0 ones,
 * so a lab of PERSONAS.length hosts has exactly one host per persona (what the checks' conformance
 * tests scan).
 */
export type LabLayout = "estate" | "catalogue";
export const LAB_LAYOUTS: readonly LabLayout[] = ["estate", "catalogue"];

/**
 * The deterministic estate: sha256(seed) gives 32-bit keys, each host index is hashed with them
 * (lowbias32, a splitmix-style integer finaliser) and the hash picks a persona by weight. No global
 * RNG: the same seed and layout give the same estate on every machine and in every process (the
 * CLI, the daemon and the tests each recompute it), and any host can be computed alone in O(1).
 * The seed still matters in the catalogue layout: it derives the MAC addresses.
 */
export class Estate {
  readonly seed: string;
  readonly hosts: number;
  readonly layout: LabLayout;
  /** Persona of every host as an index into PERSONAS (one byte per host: 256 KiB at /14). */
  readonly personaOf: Uint8Array;
  private readonly keys: readonly [number, number, number];

  constructor(seed: string, hosts: number, layout: LabLayout = "estate") {
    const digest = createHash("sha256").update(seed, "utf8").digest();
    this.seed = seed;
    this.hosts = hosts;
    this.layout = layout;
    this.keys = [digest.readUInt32LE(0), digest.readUInt32LE(4), digest.readUInt32LE(8)];
    this.personaOf = new Uint8Array(hosts);
    if (layout === "catalogue") {
      for (let i = 0; i < hosts; i++) this.personaOf[i] = i % PERSONAS.length;
      return;
    }
    const generations = CATALOGUE_GENERATIONS.map((start, g) => {
      const end = CATALOGUE_GENERATIONS[g + 1] ?? PERSONAS.length;
      return { start, end, weight: weightOf(start, end), upTo: weightOf(0, end) };
    });
    for (let i = 0; i < hosts; i++) {
      let chosen: number | null = null;
      // Newest generation first: it takes host i with probability (its weight) / (weight of it and
      // every older generation); otherwise the next older one gets to decide, down to generation
      // 0, which draws exactly as the catalogue did before anything was appended. Each generation
      // g ≥ 1 draws from its own hash stream (purpose 2 + g), so appending a generation never
      // changes a host it does not take, and P(persona) = weight / total weight overall.
      for (let g = generations.length - 1; g >= 1 && chosen === null; g--) {
        const gen = generations[g];
        if (gen === undefined || gen.weight === 0) continue;
        const point = (this.hash(i, 2 + g) / 2 ** 32) * gen.upTo;
        if (point < gen.weight) chosen = pick(gen.start, gen.end, point);
      }
      const base = generations[0];
      if (chosen === null && base !== undefined) {
        chosen = pick(base.start, base.end, (this.hash(i, 0) / 2 ** 32) * base.weight);
      }
      this.personaOf[i] = chosen ?? 0;
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

  /**
   * Independent 32-bit streams per (host, purpose): purpose 0 picks the persona in generation 0,
   * 1 the MAC, 2 + g whether generation g takes the host (and which of its personas).
   */
  private hash(index: number, purpose: number): number {
    const [k0, k1, k2] = this.keys;
    const key =
      purpose === 0 ? k0 : purpose === 1 ? k2 : lowbias32(k0 ^ Math.imul(purpose, 0x9e3779b9));
    return lowbias32(key ^ lowbias32((index + k1) >>> 0));
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
