import {
  NT_STATUS,
  SMB1_CAPABILITIES,
  SMB2_CAPABILITIES,
  SMB2_COMPRESSION_ALGORITHM,
  SMB2_DIALECT,
} from "../protocols/smb/index.js";
import { MECH_OID } from "../protocols/spnego/index.js";

/**
 * What answers SMB on a persona's TCP 139 and 445: one profile per Windows release and patch
 * level, Samba, and the hostile peers. The lab's SMB server (smb-handler.ts and the SMB1/SMB2
 * servers) is driven by these values, never by a persona's id, as the RPCSS emulation is driven by
 * its RpcssProfile.
 *
 * Sources, with the same markers as src/smb/os-inference.ts: [C] confirmed in a cited source,
 * [O] observed by the colleague on a real peer (Samba 4.17, test/ntlmssp/samba-challenge.test.ts),
 * [I] inferred or recalled. The strings every check and fingerprint reads are [C]:
 *  - NativeOS / NativeLanMan: nmap smb-os-discovery.nse's "observed OS strings" ("Windows 5.0"
 *    is 2000, "Windows 5.1" is XP, "Windows Server 2003 3790 Service Pack 2", "Windows 7
 *    Professional 7601 Service Pack 1"), smbclient banners of real hosts
 *    ("OS=[Windows NT 4.0] Server=[NT LAN Manager 4.0]", "OS=[Windows Server 2003 3790 Service
 *    Pack 1] Server=[Windows Server 2003 5.2]"), nmap output "Windows 7 Professional 7601 Service
 *    Pack 1 (Windows 7 Professional 6.1)"; research Appendix D / Nessus smb_nativelanman.
 *  - NTLMSSP VERSION: MS-NLMP §2.2.2.5 product note <21> "The NTLMSSP_NEGOTIATE_VERSION flag is
 *    not supported in Windows NT and Windows 2000" [C]; the revision it carries is named
 *    NTLMSSP_REVISION_W2K3 (15), with an older NTLMSSP_REVISION_W2K3_RC1 (10) (MS-NLMP §2.2.2.10,
 *    Wireshark, Samba), i.e. Server 2003 shipped with VERSION [C for the names, I for RTM]; XP
 *    gained it with SP2, which took 2003's security code (SIPE's NTLM decoder labels VERSION 5.1
 *    "Windows XP SP2") [I]. So: 2000 and XP RTM/SP1 without VERSION; XP SP2 5.1.2600; Server
 *    2003 RTM and SP1 5.2.3790 (the brief suggested none for 2003 RTM; the sources above say it
 *    had one). Builds: 7601, 17763, 18362, 18363 [C] (os-inference.ts build table).
 *  - MS17-010 (research Appendix A): STATUS_INSUFF_SERVER_RESOURCES from an unpatched srv.sys,
 *    STATUS_INVALID_HANDLE from a patched one ("others" in nmap/Metasploit).
 *  - SMBGhost (research Appendix C): 1903/1909 answer a 3.1.1 negotiate with a compression context;
 *    the ADV200005 workaround (DisableCompression=1) removes it; Server 2019 (build 17763)
 *    predates SMB compression.
 */

/** How a hostile SMB peer misbehaves (hostile-smb.ts). */
export type HostileSmbBehaviour =
  /** A session header announcing 0x1FFFF bytes, a plausible negotiate reply, then silence. */
  | "netbios-oversize"
  /** A complete SMB2 NEGOTIATE response whose sizes, offsets and counts all lie. */
  | "structure-lie"
  /** A session header promising more bytes than follow, then silence. */
  | "truncated"
  /** SMB2 compounds whose NextCommand chains run into junk or past any sane count. */
  | "compound-garbage"
  /** STATUS_PENDING interim responses for every request, never the final one, until a cap. */
  | "endless-pending";

export type SmbSigning = "disabled" | "enabled" | "required";

/** SMB1 (NT LM 0.12) as the persona's srv.sys / smbd / VSERVER speaks it. */
export interface Smb1Profile {
  /** SESSION_SETUP_ANDX reply strings (research Appendix D). */
  readonly nativeOs: string;
  readonly nativeLanMan: string;
  /** Whether the server answers with extended security when the client asks (2000 and later). */
  readonly extendedSecurity: boolean;
  /** NEGOTIATE Capabilities, CAP_EXTENDED_SECURITY excluded (added when negotiated). */
  readonly capabilities: number;
  readonly maxBufferSize: number;
  readonly maxMpxCount: number;
  /** False for share-level security (Windows 9x): SecurityMode lacks NEGOTIATE_USER_SECURITY. */
  readonly userSecurity: boolean;
}

/** The NTLMSSP CHALLENGE the persona sends (MS-NLMP §2.2.1.2). */
export interface NtlmProfile {
  /** VERSION (MS-NLMP §2.2.2.10), or null for releases that never send it. */
  readonly version: {
    readonly major: number;
    readonly minor: number;
    readonly build: number;
    readonly ntlmRevision: number;
  } | null;
  /** MsvAvTimestamp in TargetInfo: Vista and later, and Samba (MS-NLMP §2.2.2.1 note). */
  readonly timestamp: boolean;
  /** Samba's TargetInfo layout [O]: NetBIOS domain = its own name, empty DNS domain. */
  readonly style: "windows" | "samba";
}

export interface SmbServerProfile {
  readonly kind: "server";
  /** null: SMB1 is off (Windows 10 1709+, Server 2019): an SMB1-only NEGOTIATE is dropped. */
  readonly smb1: Smb1Profile | null;
  /** SMB2 DialectRevisions spoken, ascending; empty before Vista. */
  readonly smb2Dialects: readonly number[];
  /** SMB2 NEGOTIATE Capabilities at the highest dialect (masked down for lower ones). */
  readonly smb2Capabilities: number;
  /**
   * Message signing: SMB1 SecurityMode bits (disabled = neither bit, MS-CIFS §2.2.4.52.2) and,
   * for SMB2, SIGNING_ENABLED always (SMB2 cannot turn it off) plus SIGNING_REQUIRED.
   */
  readonly smb1Signing: SmbSigning;
  readonly smb2Signing: Exclude<SmbSigning, "disabled">;
  /** null: no NTLMSSP (NT4 and Windows 9x only do challenge/response in the NEGOTIATE). */
  readonly ntlm: NtlmProfile | null;
  /** SPNEGO mechTypes in the NEGOTIATE hint (no negHints: see smb-auth.ts). */
  readonly mechTypes: readonly string[];
  /** COMPRESSION_CAPABILITIES algorithms echoed to a 3.1.1 client that asks; empty: none. */
  readonly compression: readonly number[];
  /** The status TRANS_PEEK_NMPIPE on FID 0 gets (MS17-010, research Appendix A). */
  readonly peekFid0Status: number;
  /** Named pipes open to a null session (the hardened releases refuse them: see smb-pipes.ts). */
  readonly anonymousPipes: boolean;
  /** Logons with a user name: refused (Windows, guest off) or mapped to guest (Samba's "Bad User"). */
  readonly namedLogon: "refuse" | "guest";
  /** ServerGuid: a stable per-host GUID, or Samba's NetBIOS name in lower case, zero padded [O]. */
  readonly serverGuid: "per-host" | "netbios-name";
  /** NetBIOS SESSION REQUEST called names accepted on 139 (others: "called name not present"). */
  readonly calledNames: "smbserver-or-own" | "own" | "any";
  /** ServerStartTime in the SMB2 NEGOTIATE: Windows 7 sends its boot time, 10 and Samba 0 [I]. */
  readonly reportsBootTime: boolean;
}

export type SmbProfile =
  SmbServerProfile | { readonly kind: "hostile"; readonly behaviour: HostileSmbBehaviour };

// ---- shared values ----------------------------------------------------------------------------

const C = SMB1_CAPABILITIES;
/** NT 4.0 SP6a's NEGOTIATE capabilities [I]: raw, Unicode, large files, NT SMBs, RPC, NT status. */
const NT4_CAPS =
  C.RAW_MODE |
  C.UNICODE |
  C.LARGE_FILES |
  C.NT_SMBS |
  C.RPC_REMOTE_APIS |
  C.STATUS32 |
  C.LEVEL_II_OPLOCKS |
  C.LOCK_AND_READ |
  C.NT_FIND |
  C.LARGE_READX;
/** 2000/XP/2003 add DFS, pass-through info levels and large WRITEX (0x8000F3FD with ext sec) [I]. */
const NT5_CAPS = NT4_CAPS | C.DFS | C.INFOLEVEL_PASSTHRU | C.LARGE_WRITEX;
/** Windows 7 / 2008 R2 add LWIO (0x8001F3FD) [I]. */
const NT6_CAPS = NT5_CAPS | C.LWIO;
/** Samba 4.17 adds CAP_UNIX (SMB1 unix extensions are on by default) [I]. */
const SAMBA_CAPS = NT5_CAPS | C.UNIX;
/** Windows 98's VSERVER: no Unicode, no NT status codes [I]. */
const WIN9X_CAPS = C.RAW_MODE | C.LARGE_FILES | C.NT_SMBS | C.NT_FIND;

/** MaxBufferSize: NT4 4356, 2000 and later 16644 (0x4104) [I, common captures]. */
const NT4_MAX_BUFFER = 4356;
const NT5_MAX_BUFFER = 16644;

const D = SMB2_DIALECT;
const S2 = SMB2_CAPABILITIES;
/** Windows 7 / 2008 R2 (SMB 2.1): DFS, leasing, multi-credit [C: MS-SMB2 §2.2.4 per dialect]. */
const WIN7_SMB2_CAPS = S2.DFS | S2.LEASING | S2.LARGE_MTU;
/**
 * Windows 10 / 2019 at 3.x: + multichannel and encryption (3.0/3.0.2 only) [I]. Directory
 * leasing is left out: impacket 0.10's SMB3 CREATE crashes on it (smb3.py `parentDir`), and the
 * lab must stay usable with the Debian impacket the tests and users have.
 */
const WIN10_SMB2_CAPS = S2.DFS | S2.LEASING | S2.LARGE_MTU | S2.MULTI_CHANNEL | S2.ENCRYPTION;
/** What nmap's smb2-capabilities reads from Samba 4.17 at 2.1-3.1.1 (lab-and-peers.md §2) [O]. */
const SAMBA_SMB2_CAPS = S2.DFS | S2.LEASING | S2.LARGE_MTU;

/** Windows before Vista (and Samba standalone) offer NTLMSSP only; 7 and later NEGOEX first [I]. */
const MECHS_NTLMSSP: readonly string[] = Object.freeze([MECH_OID.ntlmssp]);
const MECHS_NT6: readonly string[] = Object.freeze([MECH_OID.negoex, MECH_OID.ntlmssp]);

/** Windows 10 1903/1909 srv2.sys: LZNT1, LZ77, LZ77+Huffman (MS-SMB2 §3.3.5.3.1 note) [I]. */
const WIN10_COMPRESSION: readonly number[] = Object.freeze([
  SMB2_COMPRESSION_ALGORITHM.LZNT1,
  SMB2_COMPRESSION_ALGORITHM.LZ77,
  SMB2_COMPRESSION_ALGORITHM.LZ77_HUFFMAN,
]);

function windowsSmb1(nativeOs: string, nativeLanMan: string, capabilities: number): Smb1Profile {
  return {
    nativeOs,
    nativeLanMan,
    extendedSecurity: true,
    capabilities,
    maxBufferSize: NT5_MAX_BUFFER,
    maxMpxCount: 50,
    userSecurity: true,
  };
}

/** The 2003-era defaults every NT-family profile below starts from. */
const NT_BASE = {
  kind: "server",
  smb2Dialects: [],
  smb2Capabilities: 0,
  // Workstations and member servers: SMB1 signing off unless a policy turns it on; only domain
  // controllers require it [C: nmap smb-security-mode "disabled (dangerous, but default)"].
  smb1Signing: "disabled",
  smb2Signing: "enabled",
  mechTypes: MECHS_NTLMSSP,
  compression: [],
  peekFid0Status: NT_STATUS.INSUFF_SERVER_RESOURCES,
  anonymousPipes: true,
  namedLogon: "refuse",
  serverGuid: "per-host",
  calledNames: "smbserver-or-own",
  reportsBootTime: false,
} as const satisfies Omit<SmbServerProfile, "smb1" | "ntlm">;

const NO_VERSION_NTLM: NtlmProfile = { version: null, timestamp: false, style: "windows" };

// ---- the profiles -----------------------------------------------------------------------------

/** NT 4.0 SP6a: TCP 139 only, no extended security: challenge + domain in the NEGOTIATE. */
export const SMB_NT4: SmbServerProfile = {
  ...NT_BASE,
  smb1: {
    nativeOs: "Windows NT 4.0",
    nativeLanMan: "NT LAN Manager 4.0",
    extendedSecurity: false,
    capabilities: NT4_CAPS,
    maxBufferSize: NT4_MAX_BUFFER,
    maxMpxCount: 50,
    userSecurity: true,
  },
  ntlm: null,
};

/** Windows 2000 SP2-SP4: extended security, NTLMSSP without VERSION (MS-NLMP <21>). */
export const SMB_W2K: SmbServerProfile = {
  ...NT_BASE,
  smb1: windowsSmb1("Windows 5.0", "Windows 2000 LAN Manager", NT5_CAPS),
  ntlm: NO_VERSION_NTLM,
};

/** Windows XP RTM / SP1: like 2000, NativeOS "Windows 5.1". */
export const SMB_XP: SmbServerProfile = {
  ...NT_BASE,
  smb1: windowsSmb1("Windows 5.1", "Windows 2000 LAN Manager", NT5_CAPS),
  ntlm: NO_VERSION_NTLM,
};

/** XP SP2: VERSION 5.1.2600; anonymous pipe access restricted (research §2.3 [I]). */
export const SMB_XP_SP2: SmbServerProfile = {
  ...SMB_XP,
  ntlm: {
    version: { major: 5, minor: 1, build: 2600, ntlmRevision: 15 },
    timestamp: false,
    style: "windows",
  },
  anonymousPipes: false,
};

const W2K3_NTLM: NtlmProfile = {
  version: { major: 5, minor: 2, build: 3790, ntlmRevision: 15 },
  timestamp: false,
  style: "windows",
};

/** Server 2003 RTM: "Windows Server 2003 3790" / "Windows Server 2003 5.2". */
export const SMB_W2K3_RTM: SmbServerProfile = {
  ...NT_BASE,
  smb1: windowsSmb1("Windows Server 2003 3790", "Windows Server 2003 5.2", NT5_CAPS),
  ntlm: W2K3_NTLM,
};

/** Server 2003 SP1: the NativeOS names the service pack; pipes restricted like XP SP2. */
export const SMB_W2K3_SP1: SmbServerProfile = {
  ...SMB_W2K3_RTM,
  smb1: windowsSmb1("Windows Server 2003 3790 Service Pack 1", "Windows Server 2003 5.2", NT5_CAPS),
  anonymousPipes: false,
};

/** Windows 98 SE with file sharing: share-level security, OEM strings, DOS error codes [I]. */
export const SMB_WIN98: SmbServerProfile = {
  ...NT_BASE,
  smb1: {
    nativeOs: "Windows 4.0",
    nativeLanMan: "Windows 4.0",
    extendedSecurity: false,
    capabilities: WIN9X_CAPS,
    maxBufferSize: NT4_MAX_BUFFER,
    maxMpxCount: 50,
    userSecurity: false,
  },
  ntlm: null,
  // Not an NT srv.sys: MS17-010 does not apply; its VSERVER has no FID 0 either (ERRbadfid).
  peekFid0Status: NT_STATUS.INVALID_HANDLE,
  // Windows 9x cannot be a named-pipe server (rpc-endpoints.ts), and answers its own name only.
  anonymousPipes: false,
  calledNames: "own",
};

function nt6(
  nativeOs: string,
  nativeLanMan: string,
  build: number,
  patchedMs17010: boolean,
): SmbServerProfile {
  return {
    ...NT_BASE,
    smb1: windowsSmb1(nativeOs, nativeLanMan, NT6_CAPS),
    smb2Dialects: [D.SMB_2_0_2, D.SMB_2_1],
    smb2Capabilities: WIN7_SMB2_CAPS,
    ntlm: {
      version: { major: 6, minor: 1, build, ntlmRevision: 15 },
      timestamp: true,
      style: "windows",
    },
    mechTypes: MECHS_NT6,
    peekFid0Status: patchedMs17010 ? NT_STATUS.INVALID_HANDLE : NT_STATUS.INSUFF_SERVER_RESOURCES,
    anonymousPipes: false,
    reportsBootTime: true,
  };
}

/** Windows 7 Professional SP1, without / with MS17-010 (KB4012212/KB4012215). */
export const SMB_WIN7_SP1 = nt6(
  "Windows 7 Professional 7601 Service Pack 1",
  "Windows 7 Professional 6.1",
  7601,
  false,
);
export const SMB_WIN7_SP1_MS17_010 = nt6(
  "Windows 7 Professional 7601 Service Pack 1",
  "Windows 7 Professional 6.1",
  7601,
  true,
);
/** Windows Server 2008 R2 Standard SP1, without / with MS17-010. */
export const SMB_W2K8R2_SP1 = nt6(
  "Windows Server 2008 R2 Standard 7601 Service Pack 1",
  "Windows Server 2008 R2 Standard 6.1",
  7601,
  false,
);
export const SMB_W2K8R2_SP1_MS17_010 = nt6(
  "Windows Server 2008 R2 Standard 7601 Service Pack 1",
  "Windows Server 2008 R2 Standard 6.1",
  7601,
  true,
);

function win10(build: number, compression: readonly number[]): SmbServerProfile {
  return {
    ...NT_BASE,
    // SMB1 is not installed on 1709 and later clean installs (KB 4034314) [C, Microsoft].
    smb1: null,
    smb2Dialects: [D.SMB_2_0_2, D.SMB_2_1, D.SMB_3_0, D.SMB_3_0_2, D.SMB_3_1_1],
    smb2Capabilities: WIN10_SMB2_CAPS,
    ntlm: {
      version: { major: 10, minor: 0, build, ntlmRevision: 15 },
      timestamp: true,
      style: "windows",
    },
    mechTypes: MECHS_NT6,
    compression,
    // No SMB1: the PeekNamedPipe check has nothing to ask; this value is never sent.
    peekFid0Status: NT_STATUS.ACCESS_DENIED,
    anonymousPipes: false,
  };
}

/** Windows 10 1903 / 1909, SMB compression offered: the SMBGhost surface (CVE-2020-0796). */
export const SMB_WIN10_1903 = win10(18362, WIN10_COMPRESSION);
export const SMB_WIN10_1909 = win10(18363, WIN10_COMPRESSION);
/** 1909 with ADV200005's DisableCompression=1: no compression context. */
export const SMB_WIN10_1909_ADV200005 = win10(18363, []);
/** Server 2019 (1809, build 17763): SMB2/3 only, signing required (a DC-like policy). */
export const SMB_W2K19: SmbServerProfile = {
  ...win10(17763, []),
  smb1Signing: "required",
  smb2Signing: "required",
};

/**
 * Samba 4.17 as measured on Debian 12 with `server min protocol = NT1` (lab-and-peers.md §2,
 * test/ntlmssp/samba-challenge.test.ts) [O]: NT LM 0.12 and 2.0.2-3.1.1, signing enabled but not
 * required for SMB2 (and off for SMB1: nmap's smb-security-mode "disabled"), NativeOS
 * "Windows 6.1", NTLM VERSION 6.1.0 revision 15, ServerGuid = NetBIOS name, logons with an
 * unknown user mapped to guest ("map to guest = Bad User").
 */
export const SMB_SAMBA: SmbServerProfile = {
  ...NT_BASE,
  smb1: {
    nativeOs: "Windows 6.1",
    nativeLanMan: "Samba 4.17.12-Debian",
    extendedSecurity: true,
    capabilities: SAMBA_CAPS,
    maxBufferSize: 65535,
    maxMpxCount: 50,
    userSecurity: true,
  },
  smb2Dialects: [D.SMB_2_0_2, D.SMB_2_1, D.SMB_3_0, D.SMB_3_0_2, D.SMB_3_1_1],
  smb2Capabilities: SAMBA_SMB2_CAPS,
  ntlm: {
    version: { major: 6, minor: 1, build: 0, ntlmRevision: 15 },
    timestamp: true,
    style: "samba",
  },
  // Samba has no srv.sys: a FID it never issued is an invalid handle [I].
  peekFid0Status: NT_STATUS.INVALID_HANDLE,
  // The lab's Samba runs no RPC services (personas.ts): no pipe to open.
  anonymousPipes: false,
  namedLogon: "guest",
  serverGuid: "netbios-name",
  // smbd takes any called name (source3 reply_special records it, refuses none) [I].
  calledNames: "any",
};

export function hostileSmb(behaviour: HostileSmbBehaviour): SmbProfile {
  return { kind: "hostile", behaviour };
}

/** SMB dialect names as os-inference.ts and the ground truth spell them. */
export function dialectName(dialect: number): string {
  switch (dialect) {
    case D.SMB_2_0_2:
      return "2.0.2";
    case D.SMB_2_1:
      return "2.1";
    case D.SMB_3_0:
      return "3.0";
    case D.SMB_3_0_2:
      return "3.0.2";
    case D.SMB_3_1_1:
      return "3.1.1";
    default:
      return `0x${dialect.toString(16).padStart(4, "0")}`;
  }
}

/** The dialects a profile accepts, SMB1 first: what nmap's smb-protocols should list. */
export function profileDialects(profile: SmbServerProfile): string[] {
  return [
    ...(profile.smb1 === null ? [] : ["NT LM 0.12"]),
    ...profile.smb2Dialects.map(dialectName),
  ];
}

/** The signing a client negotiating the highest dialect sees (the ground truth's `signing`). */
export function profileSigning(profile: SmbServerProfile): SmbSigning {
  return profile.smb2Dialects.length > 0 ? profile.smb2Signing : profile.smb1Signing;
}
