/**
 * From what an unauthenticated SMB/NTLMSSP/NetBIOS exchange shows to an OS product, version,
 * build and service pack, with a confidence and the evidence behind it. Pure: no network, no
 * clock. The inputs are what issue 4's fingerprint collects (research Appendix D, §2.7).
 *
 * Source markers in the comments: [C] confirmed in a cited source, [O] observed here on a real
 * peer, [I] inferred or recalled (not from a retrieved source; revisit with a lab capture).
 */

export type OsFamily = "windows" | "samba" | "unknown";
export type Ms03026Range = "affected" | "not-affected" | "unknown";

export interface OsEvidence {
  /** NTLMSSP CHALLENGE VERSION (MS-NLMP §2.2.2.10). */
  readonly ntlmVersion?: {
    readonly major: number;
    readonly minor: number;
    readonly build: number;
    readonly ntlmRevision?: number;
  } | null;
  /** Whether the CHALLENGE TargetInfo carried MsvAvTimestamp (null: no TargetInfo seen). */
  readonly ntlmTimestamp?: boolean | null;
  /** SMB1 SESSION_SETUP_ANDX reply NativeOS, e.g. "Windows 5.1". */
  readonly nativeOs?: string | null;
  /** SMB1 SESSION_SETUP_ANDX reply NativeLanMan, e.g. "Windows 2000 LAN Manager". */
  readonly nativeLanMan?: string | null;
  /** Dialects the server accepted: "NT LM 0.12" (SMB1), "2.0.2", "2.1", "3.0", "3.0.2", "3.1.1". */
  readonly smbDialects?: readonly string[] | null;
  /** SMB2 NEGOTIATE response Capabilities (recorded; not used to choose). */
  readonly smb2Capabilities?: number | null;
  /** SMB 3.1.1 NEGOTIATE answered with a compression context (research Appendix C). */
  readonly compressionOffered?: boolean | null;
  /** NBSTAT: whether UDP 137 answered, and the MAC (UNIT_ID) it gave. */
  readonly nbstat?: { readonly answered: boolean; readonly mac?: string | null } | null;
  /** SMB NEGOTIATE ServerGuid: 32 hex digits in wire order, or GUID text (MS-DTYP §2.3.4.3). */
  readonly serverGuid?: string | null;
  readonly netbiosName?: string | null;
  readonly dnsComputerName?: string | null;
  readonly dnsDomainName?: string | null;
}

export interface OsEvidenceItem {
  /** Where the value came from, e.g. "ntlm-version", "native-os", "nbstat-mac". */
  readonly source: string;
  readonly value: string;
  /** What the value says, e.g. "build 2600 → Windows XP", or "recorded only". */
  readonly contributes: string;
}

export interface OsInference {
  readonly family: OsFamily;
  /** e.g. "Windows XP", "Windows 7 / Server 2008 R2", "Windows 10 1909", "Samba 4.x". */
  readonly product: string | null;
  /** NT version ("5.1", "10.0") for Windows; the Samba release ("4.17.12") for Samba. */
  readonly version: string | null;
  readonly build: number | null;
  /** The service pack when visible (NativeOS text or an SP-specific build); else null. */
  readonly servicePack: number | null;
  /** The service packs the evidence leaves possible, e.g. {min 0, max 3} for "Windows 5.1". */
  readonly spRange: { readonly min: number; readonly max: number } | null;
  /** Other products a shared build maps to (7601: Windows 7 SP1 and Server 2008 R2 SP1). */
  readonly candidates: readonly string[];
  /** 0–100. */
  readonly confidence: number;
  readonly evidence: readonly OsEvidenceItem[];
  /** Evidence that disagrees with the answer, each lowering the confidence. */
  readonly conflicts: readonly string[];
  /** Whether the product/SP falls in MS03-026's affected matrix (research §1.2), not patch state. */
  readonly ms03026Range: Ms03026Range;
}

// ---------------------------------------------------------------------------------------------
// Windows releases by NT build number.

interface WindowsBuild {
  readonly build: number;
  readonly version: string;
  readonly client: string | null;
  readonly server: string | null;
  /** The service pack this build number implies (Vista/7 SPs changed the build), else null. */
  readonly servicePack: number | null;
}

function release(
  build: number,
  version: string,
  client: string | null,
  server: string | null,
  servicePack: number | null = null,
): WindowsBuild {
  return { build, version, client, server, servicePack };
}

/**
 * NT build → release. Sources:
 *  - [C] Windows 10 builds 10240..19045 (1507..22H2): Microsoft "Windows 10 release information"
 *    table, as reproduced in the version charts retrieved for this work; 18362 = 1903 and
 *    18363 = 1909 also confirm research Appendix C's [I] note.
 *  - [C] Server 2016 = 14393, 2019 = 17763, 2022 = 20348, 2025 = 26100: Microsoft "Windows Server
 *    release information"; Windows 11 22000/22621/22631/26100: "Windows 11 release information".
 *  - [I] NT 4.0 1381, 2000 2195, XP 2600, 2003/XP x64 3790, Vista/2008 6000–6003, 7/2008 R2
 *    7600/7601, 8/2012 9200, 8.1/2012 R2 9600: the well-known RTM/SP builds (nmap
 *    smb-os-discovery output, Tenable plugin texts); not from a retrieved Microsoft table.
 *    6001 as "Server 2008" reflects that Server 2008 shipped as SP1; 6003 is the build Server 2008
 *    SP2 reports after its 2019 servicing-stack change [I].
 *  - NT version numbers (4.0, 5.0, 5.1, 5.2, 6.0 … 10.0): Microsoft "Operating System Version"
 *    (Win32 sysinfo docs) [I, recalled].
 */
const WINDOWS_BUILDS: readonly WindowsBuild[] = [
  release(1381, "4.0", "Windows NT 4.0", "Windows NT 4.0"),
  release(2195, "5.0", "Windows 2000", "Windows 2000"),
  release(2600, "5.1", "Windows XP", null),
  release(3790, "5.2", "Windows XP x64", "Windows Server 2003"),
  release(6000, "6.0", "Windows Vista", null, 0),
  release(6001, "6.0", "Windows Vista", "Windows Server 2008", 1),
  release(6002, "6.0", "Windows Vista", "Windows Server 2008", 2),
  release(6003, "6.0", null, "Windows Server 2008", 2),
  release(7600, "6.1", "Windows 7", "Windows Server 2008 R2", 0),
  release(7601, "6.1", "Windows 7", "Windows Server 2008 R2", 1),
  release(9200, "6.2", "Windows 8", "Windows Server 2012"),
  release(9600, "6.3", "Windows 8.1", "Windows Server 2012 R2"),
  release(10240, "10.0", "Windows 10 1507", null),
  release(10586, "10.0", "Windows 10 1511", null),
  release(14393, "10.0", "Windows 10 1607", "Windows Server 2016"),
  release(15063, "10.0", "Windows 10 1703", null),
  release(16299, "10.0", "Windows 10 1709", null),
  release(17134, "10.0", "Windows 10 1803", null),
  release(17763, "10.0", "Windows 10 1809", "Windows Server 2019"),
  release(18362, "10.0", "Windows 10 1903", null),
  release(18363, "10.0", "Windows 10 1909", null),
  release(19041, "10.0", "Windows 10 2004", null),
  release(19042, "10.0", "Windows 10 20H2", null),
  release(19043, "10.0", "Windows 10 21H1", null),
  release(19044, "10.0", "Windows 10 21H2", null),
  release(19045, "10.0", "Windows 10 22H2", null),
  release(20348, "10.0", null, "Windows Server 2022"),
  release(22000, "10.0", "Windows 11 21H2", null),
  release(22621, "10.0", "Windows 11 22H2", null),
  release(22631, "10.0", "Windows 11 23H2", null),
  release(26100, "10.0", "Windows 11 24H2", "Windows Server 2025"),
];

const BUILDS_BY_NUMBER = new Map(WINDOWS_BUILDS.map((b) => [b.build, b]));

/** NT version → family name when no build is known. [I] Microsoft "Operating System Version". */
const WINDOWS_VERSIONS: ReadonlyMap<string, string> = new Map([
  ["4.0", "Windows NT 4.0"],
  ["5.0", "Windows 2000"],
  ["5.1", "Windows XP"],
  ["5.2", "Windows Server 2003"],
  ["6.0", "Windows Vista / Server 2008"],
  ["6.1", "Windows 7 / Server 2008 R2"],
  ["6.2", "Windows 8 / Server 2012"],
  ["6.3", "Windows 8.1 / Server 2012 R2"],
  ["10.0", "Windows 10 / 11 / Server 2016+"],
]);

/** Service packs each pre-Vista version shipped (for spRange when the SP is not visible). [I] */
const MAX_SERVICE_PACK: ReadonlyMap<string, number> = new Map([
  ["4.0", 6],
  ["5.0", 4],
  ["5.1", 3],
  ["5.2", 2],
  ["6.0", 2],
  ["6.1", 1],
]);

/** The name for a known build, given what we know of the role (server/client) if anything. */
function buildName(b: WindowsBuild, role: "server" | "client" | null): string {
  if (role === "server" && b.server !== null) return b.server;
  if (role === "client" && b.client !== null) return b.client;
  if (b.client === null) return b.server!;
  if (b.server === null || b.server === b.client) return b.client;
  // "Windows 7 / Server 2008 R2"
  return `${b.client} / ${b.server.replace(/^Windows /, "")}`;
}

/** A build not in the table: name it by its neighbourhood. */
function unknownBuildName(version: string, build: number): string {
  if (version === "10.0" && build >= 22000) return `Windows 11 / Server (build ${build})`;
  if (version === "10.0") return `Windows 10 / Server (build ${build})`;
  return `${WINDOWS_VERSIONS.get(version) ?? `Windows ${version}`} (build ${build})`;
}

// ---------------------------------------------------------------------------------------------
// Claims: what each piece of evidence says, with a weight.

interface Claim {
  readonly source: string;
  readonly value: string;
  /** "other": a known non-Windows, non-Samba SMB server (impacket). */
  readonly family: "windows" | "samba" | "other";
  /** How much this claim alone is worth (0–100). */
  readonly weight: number;
  readonly contributes: string;
  readonly version?: string;
  readonly build?: number;
  readonly servicePack?: number | null;
  readonly role?: "server" | "client";
  /** NT version bounds this claim allows (inclusive), for dialect-style evidence. */
  readonly minVersion?: string;
  readonly maxVersion?: string;
  readonly minBuild?: number;
  readonly sambaVersion?: string;
  readonly name?: string;
}

/** Real NativeOS/NativeLanMan strings are under 100 characters; longer input is cut (and so
 * the regular expressions below never see more than this). */
const MAX_STRING = 256;

function clip(raw: string): string {
  return raw.slice(0, MAX_STRING).replace(/\0+$/, "").trim();
}

/** The NetBIOS announce version Samba 4.x puts in NativeOS and NTLM VERSION (6.1). [O] */
const SAMBA_ANNOUNCE_VERSION = "6.1";

function versionKey(version: string): number {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major * 100 + minor;
}

function ntlmClaim(v: NonNullable<OsEvidence["ntlmVersion"]>): Claim {
  const version = `${v.major}.${v.minor}`;
  const value = `${version}.${v.build}${v.ntlmRevision === undefined ? "" : ` rev ${v.ntlmRevision}`}`;
  // [C] impacket's smbserver.py sends VERSION ff×8 (test/ntlmssp/impacket-interop.test.ts).
  if (v.major === 0xff && v.minor === 0xff && v.build === 0xffff) {
    return {
      source: "ntlm-version",
      value,
      family: "other",
      weight: 80,
      contributes: "VERSION all 0xff: impacket's SMB server",
      name: "impacket SMB server",
    };
  }
  // [O] Samba 4.17 sends VERSION 6.1.0 revision 15; Windows never reports build 0.
  if (v.build === 0) {
    return {
      source: "ntlm-version",
      value,
      family: "samba",
      weight: version === SAMBA_ANNOUNCE_VERSION ? 70 : 40,
      contributes: "build 0: not Windows; Samba 4.x sends 6.1.0",
    };
  }
  const known = BUILDS_BY_NUMBER.get(v.build);
  if (known !== undefined && known.version === version) {
    return {
      source: "ntlm-version",
      value,
      family: "windows",
      weight: 90,
      contributes: `build ${v.build} → ${buildName(known, null)}`,
      version,
      build: v.build,
      ...(known.servicePack === null ? {} : { servicePack: known.servicePack }),
    };
  }
  return {
    source: "ntlm-version",
    value,
    family: "windows",
    weight: known === undefined ? 70 : 50,
    contributes:
      known === undefined
        ? `unlisted build → ${unknownBuildName(version, v.build)}`
        : `build ${v.build} belongs to ${known.version}, not ${version}`,
    version,
    build: v.build,
  };
}

/**
 * NativeOS strings. [C] research §2.7 / Nessus smb_nativelanman.nasl: "Windows 5.0" = 2000,
 * "Windows 5.1" = XP, "Windows Server 2003 …" = 5.2, "Windows NT …" = 4.0. [I] Vista and later
 * send "<product> <build>[ Service Pack <n>]" (nmap smb-os-discovery examples) and append the
 * service pack when one is installed, so no "Service Pack" means SP0. [O] Samba 4.17 sends
 * "Windows 6.1"; [I] older Samba sends "Unix".
 */
function nativeOsClaim(raw: string, sambaLanMan: boolean): Claim | null {
  const text = clip(raw);
  const base = { source: "native-os", value: text };
  if (text === "") return null;
  if (/^unix$/i.test(text)) {
    return {
      ...base,
      family: "samba",
      weight: 60,
      contributes: '"Unix": Samba (3.x) or another Unix SMB server',
    };
  }
  if (sambaLanMan && text === `Windows ${SAMBA_ANNOUNCE_VERSION}`) {
    return {
      ...base,
      family: "samba",
      weight: 40,
      contributes: "Samba 4.x announces itself as Windows 6.1",
    };
  }
  if (/^windows nt\b/i.test(text)) {
    return {
      ...base,
      family: "windows",
      weight: 80,
      contributes: "Windows NT → 4.0",
      version: "4.0",
      build: 1381,
    };
  }
  if (/^windows 4\.0$/i.test(text)) {
    // [I] Windows 95/98/ME answer "Windows 4.0" in NativeOS and NativeLanMan.
    return {
      ...base,
      family: "windows",
      weight: 70,
      contributes: "Windows 95/98/ME",
      name: "Windows 95/98/ME",
    };
  }
  const bare = /^windows (\d+)\.(\d+)$/i.exec(text);
  if (bare !== null) {
    const version = `${bare[1]}.${bare[2]}`;
    const name = WINDOWS_VERSIONS.get(version) ?? `Windows ${version}`;
    return {
      ...base,
      family: "windows",
      weight: 80,
      contributes: `NT ${version} → ${name}, service pack not shown`,
      version,
    };
  }
  const full = /^(windows.*?)\s+(\d{4,5})(?:\s+service pack\s+(\d+))?$/i.exec(text);
  if (full !== null) {
    const build = Number(full[2]);
    const known = BUILDS_BY_NUMBER.get(build);
    const role = /server/i.test(full[1]!) ? "server" : "client";
    const version = known?.version ?? (/2003/.test(full[1]!) ? "5.2" : undefined);
    const servicePack =
      full[3] !== undefined ? Number(full[3]) : versionKey(version ?? "10.0") < 602 ? 0 : null;
    return {
      ...base,
      family: "windows",
      weight: known === undefined ? 70 : 90,
      contributes: `${full[1]} build ${build}${servicePack === null ? "" : `, SP${servicePack}`}`,
      build,
      role,
      servicePack,
      ...(version === undefined ? {} : { version }),
    };
  }
  if (/^windows/i.test(text)) {
    return {
      ...base,
      family: "windows",
      weight: 50,
      contributes: "a Windows NativeOS of unknown form",
    };
  }
  return null;
}

/**
 * NativeLanMan. [O] Samba: "Samba 4.17.12-Debian". [I] Windows 2000 and XP: "Windows 2000 LAN
 * Manager"; 2003: "Windows Server 2003 5.2"; NT4: "NT LAN Manager 4.0"; Vista+: "<product> 6.x".
 */
function nativeLanManClaim(raw: string): Claim | null {
  const text = clip(raw);
  const base = { source: "native-lanman", value: text };
  if (text === "") return null;
  const samba = /^samba\s+(\d+\.\d+(?:\.\d+)?)/i.exec(text);
  if (samba !== null) {
    return {
      ...base,
      family: "samba",
      weight: 95,
      contributes: `Samba ${samba[1]}`,
      sambaVersion: samba[1]!,
    };
  }
  if (/^samba\b/i.test(text)) return { ...base, family: "samba", weight: 90, contributes: "Samba" };
  if (/^windows 2000 lan manager$/i.test(text)) {
    return {
      ...base,
      family: "windows",
      weight: 40,
      contributes: "Windows 2000 or XP (5.0–5.1)",
      minVersion: "5.0",
      maxVersion: "5.1",
    };
  }
  if (/^nt lan manager 4\.0$/i.test(text)) {
    return {
      ...base,
      family: "windows",
      weight: 40,
      contributes: "Windows NT 4.0",
      minVersion: "4.0",
      maxVersion: "4.0",
    };
  }
  const versioned = /^windows.*\s(\d+)\.(\d+)$/i.exec(text);
  if (versioned !== null) {
    const version = `${versioned[1]}.${versioned[2]}`;
    return {
      ...base,
      family: "windows",
      weight: 40,
      contributes: `NT ${version}`,
      minVersion: version,
      maxVersion: version,
    };
  }
  return null;
}

/** [C] MS-SMB2 §1.7 (and its product notes): the highest dialect each Windows speaks. */
const DIALECT_VERSIONS: readonly (readonly [string, string])[] = [
  ["2.0.2", "6.0"],
  ["2.1", "6.1"],
  ["3.0", "6.2"],
  ["3.0.2", "6.3"],
  ["3.1.1", "10.0"],
];

function normaliseDialect(d: string): string | null {
  const t = d.trim().toLowerCase();
  if (t === "nt lm 0.12" || t === "smb1" || t === "1") return "smb1";
  const hex: Record<string, string> = {
    "0x0202": "2.0.2",
    "0x0210": "2.1",
    "0x0300": "3.0",
    "0x0302": "3.0.2",
    "0x0311": "3.1.1",
  };
  if (t in hex) return hex[t]!;
  return DIALECT_VERSIONS.some(([name]) => name === t) ? t : null;
}

function dialectClaim(dialects: readonly string[]): Claim | null {
  const names = dialects.map(normaliseDialect).filter((d): d is string => d !== null);
  if (names.length === 0) return null;
  const value = names.join(", ");
  let highest: readonly [string, string] | undefined;
  for (const entry of DIALECT_VERSIONS) if (names.includes(entry[0])) highest = entry;
  if (highest === undefined) {
    // [I] SMB1 only: Windows before Vista (or a newer host with SMB2 turned off).
    return {
      source: "smb-dialects",
      value,
      family: "windows",
      weight: 25,
      contributes: "SMB1 only: before Vista",
      maxVersion: "5.2",
    };
  }
  const next = DIALECT_VERSIONS[DIALECT_VERSIONS.indexOf(highest) + 1];
  return {
    source: "smb-dialects",
    value,
    family: "windows",
    weight: 35,
    contributes: `highest dialect ${highest[0]}: NT ${highest[1]}${next === undefined ? " or later" : ""}`,
    minVersion: highest[1],
    ...(next === undefined ? {} : { maxVersion: highest[1] }),
  };
}

function isZeroMac(mac: string): boolean {
  return /^(00[:-]?){5}00$/i.test(mac.trim());
}

/** 16 GUID bytes in wire order from hex or MS-DTYP GUID text ({xxxxxxxx-xxxx-xxxx-…}). */
function guidBytes(guid: string): Buffer | null {
  const t = guid.trim().replace(/^\{|\}$/g, "");
  if (/^[0-9a-f]{32}$/i.test(t)) return Buffer.from(t, "hex");
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i.exec(t);
  if (m === null) return null;
  // MS-DTYP §2.3.4.2: Data1..Data3 are little-endian on the wire.
  const le = (h: string) => Buffer.from(h, "hex").reverse();
  return Buffer.concat([le(m[1]!), le(m[2]!), le(m[3]!), Buffer.from(m[4]! + m[5]!, "hex")]);
}

/** [O] Samba's SMB1 and SMB2 ServerGuid is its NetBIOS name in lower case, zero-padded. */
function sambaGuid(guid: string, netbiosName: string | null | undefined): string | null {
  const bytes = guidBytes(guid);
  if (bytes === null) return null;
  const end = bytes.indexOf(0);
  if (end <= 0 || bytes.subarray(end).some((b) => b !== 0)) return null;
  const text = bytes.subarray(0, end).toString("latin1");
  if (!/^[a-z0-9._-]+$/.test(text)) return null;
  if (netbiosName && netbiosName.trim().toLowerCase().slice(0, 16) !== text) return null;
  return text;
}

// ---------------------------------------------------------------------------------------------

/**
 * Infer the OS from SMB, NTLMSSP and NetBIOS evidence. The strongest claim picks the product
 * (NTLM VERSION build > NativeOS > NativeLanMan > dialects); every other claim either
 * corroborates it (+5 each) or conflicts with it (−20 each, listed in `conflicts`).
 */
export function inferOs(evidence: OsEvidence): OsInference {
  const items: OsEvidenceItem[] = [];
  const claims: Claim[] = [];
  const add = (claim: Claim | null) => {
    if (claim !== null) claims.push(claim);
  };

  const lanMan = evidence.nativeLanMan ? nativeLanManClaim(evidence.nativeLanMan) : null;
  if (evidence.ntlmVersion) add(ntlmClaim(evidence.ntlmVersion));
  if (evidence.nativeOs) {
    const claim = nativeOsClaim(evidence.nativeOs, lanMan?.family === "samba");
    if (claim === null) record(items, "native-os", evidence.nativeOs, "not recognised");
    add(claim);
  }
  add(lanMan);
  if (evidence.smbDialects && evidence.smbDialects.length > 0)
    add(dialectClaim(evidence.smbDialects));
  if (evidence.compressionOffered === true) {
    // [C] research Appendix C: compression is offered from Windows 10 1903 on; [I] Samba 4.17
    // offers none by default (observed: no compression context).
    add({
      source: "smb2-compression",
      value: "offered",
      family: "windows",
      weight: 30,
      contributes: "SMB 3.1.1 compression: Windows 10 1903 or later",
      minVersion: "10.0",
      minBuild: 18362,
    });
  }
  if (evidence.ntlmTimestamp === true) {
    // [I] MS-NLMP §2.2.2.1 product note: no MsvAvTimestamp from NT, 2000, XP or Server 2003.
    add({
      source: "ntlm-timestamp",
      value: "present",
      family: "windows",
      weight: 15,
      contributes: "MsvAvTimestamp: Vista or later (or Samba)",
      minVersion: "6.0",
    });
  } else if (evidence.ntlmTimestamp === false) {
    add({
      source: "ntlm-timestamp",
      value: "absent",
      family: "windows",
      weight: 15,
      contributes: "no MsvAvTimestamp: Windows Server 2003 or earlier",
      maxVersion: "5.2",
    });
  }
  if (evidence.nbstat) {
    const mac = evidence.nbstat.mac ?? null;
    if (!evidence.nbstat.answered) record(items, "nbstat", "no answer", "recorded only");
    else if (mac !== null && isZeroMac(mac)) {
      // [C] nbstat-codec.ts / research: Samba's nmbd reports an all-zero UNIT_ID.
      add({
        source: "nbstat-mac",
        value: mac,
        family: "samba",
        weight: 50,
        contributes: "all-zero MAC: Samba nmbd",
      });
    } else record(items, "nbstat-mac", mac ?? "answered", "a real MAC: recorded only");
  }
  if (evidence.serverGuid) {
    const name = sambaGuid(evidence.serverGuid, evidence.netbiosName);
    if (name !== null) {
      add({
        source: "server-guid",
        value: evidence.serverGuid,
        family: "samba",
        weight: 60,
        contributes: `ServerGuid is the name "${name}": Samba`,
      });
    } else record(items, "server-guid", evidence.serverGuid, "recorded only");
  }
  if (evidence.smb2Capabilities !== undefined && evidence.smb2Capabilities !== null) {
    record(
      items,
      "smb2-capabilities",
      `0x${evidence.smb2Capabilities.toString(16)}`,
      "recorded only",
    );
  }
  for (const [source, value] of [
    ["netbios-name", evidence.netbiosName],
    ["dns-computer-name", evidence.dnsComputerName],
    ["dns-domain-name", evidence.dnsDomainName],
  ] as const) {
    if (value) record(items, source, value, "names only");
  }

  return decide(claims, items);
}

function record(items: OsEvidenceItem[], source: string, value: string, contributes: string): void {
  items.push({ source, value, contributes });
}

function decide(claims: readonly Claim[], recorded: readonly OsEvidenceItem[]): OsInference {
  const evidence: OsEvidenceItem[] = [
    ...claims.map((c) => ({ source: c.source, value: c.value, contributes: c.contributes })),
    ...recorded,
  ];
  const total = (family: Claim["family"]) =>
    claims.filter((c) => c.family === family).reduce((sum, c) => sum + c.weight, 0);
  const windows = total("windows");
  const samba = total("samba");
  const other = claims.filter((c) => c.family === "other");
  const otherWeight = other.reduce((sum, c) => sum + c.weight, 0);
  if (otherWeight > windows && otherWeight > samba) {
    const best = strongest(other);
    return {
      family: "unknown",
      product: best.name ?? null,
      version: null,
      build: null,
      servicePack: null,
      spRange: null,
      candidates: [],
      confidence: best.weight,
      evidence,
      conflicts: [],
      // Not Windows, so not RPCSS (research §1.2).
      ms03026Range: "not-affected",
    };
  }
  if (windows === 0 && samba === 0) {
    return {
      family: "unknown",
      product: null,
      version: null,
      build: null,
      servicePack: null,
      spRange: null,
      candidates: [],
      confidence: 0,
      evidence,
      conflicts: [],
      ms03026Range: "unknown",
    };
  }
  return samba > windows ? decideSamba(claims, evidence) : decideWindows(claims, evidence);
}

function strongest(claims: readonly Claim[]): Claim {
  return claims.reduce((best, c) => (c.weight > best.weight ? c : best));
}

function finish(base: number, corroborating: number, conflicts: readonly string[]): number {
  const score = base + 5 * corroborating - 20 * conflicts.length;
  return Math.max(5, Math.min(99, score));
}

function decideSamba(claims: readonly Claim[], evidence: OsEvidenceItem[]): OsInference {
  const mine = claims.filter((c) => c.family === "samba");
  const conflicts = claims
    .filter(
      // Dialects and the timestamp fit Samba too; only Windows-naming evidence conflicts.
      (c) =>
        c.family === "other" ||
        (c.family === "windows" && c.source !== "smb-dialects" && c.source !== "ntlm-timestamp"),
    )
    .map(
      (c) =>
        `${c.source} "${c.value}" says ${c.family === "other" ? "not Samba" : "Windows"} (${c.contributes})`,
    );
  const sambaVersion = mine.find((c) => c.sambaVersion !== undefined)?.sambaVersion ?? null;
  // [O] Samba 4.x announces NT 6.1 (NativeOS "Windows 6.1", NTLM VERSION 6.1.0).
  const announces4 = mine.some(
    (c) =>
      c.value.startsWith(`${SAMBA_ANNOUNCE_VERSION}.0`) ||
      c.value === `Windows ${SAMBA_ANNOUNCE_VERSION}`,
  );
  const major = sambaVersion?.split(".")[0] ?? (announces4 ? "4" : undefined);
  const best = strongest(mine);
  return {
    family: "samba",
    product: major === undefined ? "Samba" : `Samba ${major}.x`,
    version: sambaVersion,
    build: null,
    servicePack: null,
    spRange: null,
    candidates: [],
    confidence: finish(best.weight, mine.length - 1, conflicts),
    evidence,
    conflicts,
    // research §1.2: MS03-026 is a Windows RPCSS flaw; Samba has no DCOM activation server.
    ms03026Range: "not-affected",
  };
}

function decideWindows(claims: readonly Claim[], evidence: OsEvidenceItem[]): OsInference {
  const mine = claims.filter((c) => c.family === "windows");
  const conflicts = claims
    .filter((c) => c.family !== "windows")
    .map((c) => `${c.source} "${c.value}" says not Windows (${c.contributes})`);

  // The claim that names a version (or build) most strongly picks the answer.
  const naming = mine.filter((c) => c.version !== undefined || c.build !== undefined);
  const primary = naming.length > 0 ? strongest(naming) : strongest(mine);
  const role = mine.find((c) => c.role !== undefined)?.role ?? null;
  const build = primary.build ?? mine.find((c) => c.build !== undefined)?.build ?? null;
  let version =
    primary.version ?? (build !== null ? BUILDS_BY_NUMBER.get(build)?.version : undefined) ?? null;
  const known = build !== null ? BUILDS_BY_NUMBER.get(build) : undefined;
  // A range that pins one version (2.1 → 6.1), or whose floor is the last NT version (10.0).
  if (
    version === null &&
    primary.minVersion !== undefined &&
    (primary.minVersion === primary.maxVersion || primary.minVersion === "10.0")
  ) {
    version = primary.minVersion;
  }

  let corroborating = 0;
  for (const c of mine) {
    if (c === primary) continue;
    const disagreement = disagree(c, version, build);
    if (disagreement !== null) conflicts.push(`${c.source} "${c.value}": ${disagreement}`);
    else corroborating++;
  }

  let product: string | null;
  let candidates: string[] = [];
  if (primary.name !== undefined) product = primary.name;
  else if (known !== undefined && (version === null || known.version === version)) {
    product = buildName(known, role);
    candidates = [known.client, known.server].filter(
      (n): n is string => n !== null && n !== product,
    );
    if (product.includes(" / ")) candidates = [known.client!, known.server!];
  } else if (version !== null && build !== null) product = unknownBuildName(version, build);
  else if (version !== null) product = WINDOWS_VERSIONS.get(version) ?? `Windows ${version}`;
  else if (primary.maxVersion === "5.2") product = "Windows (before Vista)";
  else product = "Windows";

  // Service pack: NativeOS text wins, then an SP-specific build.
  const spClaim = mine.find(
    (c) => c.servicePack !== undefined && c.servicePack !== null && c.source === "native-os",
  );
  let servicePack: number | null =
    spClaim?.servicePack ??
    (known !== undefined && known.version === version ? known.servicePack : null);
  const maxSp = version !== null ? MAX_SERVICE_PACK.get(version) : undefined;
  let spRange: { min: number; max: number } | null = null;
  if (servicePack !== null) spRange = { min: servicePack, max: servicePack };
  else if (maxSp !== undefined && primary.name === undefined) spRange = { min: 0, max: maxSp };
  if (version !== null && versionKey(version) >= 602) {
    servicePack = null;
    spRange = null;
  }

  return {
    family: "windows",
    product,
    version,
    build,
    servicePack,
    spRange,
    candidates,
    confidence: finish(primary.weight, corroborating, conflicts),
    evidence,
    conflicts,
    ms03026Range: primary.name === "Windows 95/98/ME" ? "not-affected" : ms03026(version, spRange),
  };
}

/** Why claim `c` disagrees with the chosen version/build, or null if it does not. */
function disagree(c: Claim, version: string | null, build: number | null): string | null {
  if (version !== null) {
    const key = versionKey(version);
    if (c.version !== undefined && c.version !== version)
      return `says NT ${c.version}, not ${version}`;
    if (c.minVersion !== undefined && key < versionKey(c.minVersion))
      return `needs NT ${c.minVersion} or later`;
    if (c.maxVersion !== undefined && key > versionKey(c.maxVersion))
      return `needs NT ${c.maxVersion} or earlier`;
  }
  if (build !== null) {
    if (c.build !== undefined && c.build !== build) return `says build ${c.build}, not ${build}`;
    if (c.minBuild !== undefined && build < c.minBuild) return `needs build ${c.minBuild} or later`;
  }
  return null;
}

/**
 * Research §1.2: NT 4.0 (SP6a) and 2000 (SP2–SP4) are affected; XP RTM/SP1 affected, SP2+ not;
 * Server 2003 RTM affected, SP1+ not; Vista and later not affected. 2000 before SP2 is outside
 * Microsoft's list only because it was unsupported; it carries the same RPCSS code, so it is
 * reported as affected [I].
 */
function ms03026(
  version: string | null,
  spRange: { min: number; max: number } | null,
): Ms03026Range {
  if (version === null) return "unknown";
  const key = versionKey(version);
  if (key >= 600) return "not-affected";
  if (key === 400 || key === 500) return "affected";
  const lastAffected = key === 501 ? 1 : key === 502 ? 0 : null;
  if (lastAffected === null || spRange === null) return "unknown";
  if (spRange.max <= lastAffected) return "affected";
  if (spRange.min > lastAffected) return "not-affected";
  return "unknown";
}
