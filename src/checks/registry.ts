import { RingfenceError } from "../errors.js";
import type { CheckMetadata } from "./types.js";

/**
 * Every check ringfence ships, with what it is allowed to do. `--checks` selects by id or profile;
 * a selected check brings the checks it requires (Check A is meaningless without the MS03-039
 * probe before it, research §0).
 */

const RPC_TIMEOUTS = { connectMs: 3_000, readMs: 5_000, hostMs: 30_000 } as const;

export const MS03_039_KB824146SCAN = "ms03-039-kb824146scan";
export const MS03_026_REMOTE_ACTIVATION = "ms03-026-remote-activation";
export const MS03_039_GET_CLASS_OBJECT = "ms03-039-get-class-object";
export const BLASTER_BACKDOOR = "blaster-backdoor-4444";
/** Pseudo-check: the SMB/NetBIOS fingerprint, stored on the asset (no verdict, no finding). */
export const SMB_FINGERPRINT = "smb-fingerprint";
export const SMBV1_ENABLED = "smbv1-enabled";
export const MS17_010_PEEKNAMEDPIPE = "ms17-010-peeknamedpipe";
export const SMBGHOST_COMPRESSION = "smbghost-compression-capability";
export const SMB_SIGNING_NOT_REQUIRED = "smb-signing-not-required";

/** research §3.3's limits, as for RPC: connect 3 s, 5 s per answer, 30 s for a whole host. */
const SMB_TIMEOUTS = { connectMs: 3_000, readMs: 5_000, hostMs: 30_000 } as const;
const SMB_PORTS = [445, 139] as const;

export const CHECKS: readonly CheckMetadata[] = [
  {
    id: MS03_039_KB824146SCAN,
    title:
      "MS03-039 (KB 824146): Windows-family binds, then Microsoft KB824146Scan's RemoteCreateInstance pair",
    advisories: ["ms03-039"],
    cves: ["CVE-2003-0715", "CVE-2003-0528", "CVE-2003-0605"],
    safety: "safe",
    transports: ["ncacn_ip_tcp", "ncacn_http", "ncacn_np"],
    // 445/139: \pipe\epmapper, only when 135 and 593 are filtered (research §2.3 [R]).
    ports: [135, 593, 445, 139],
    timeouts: RPC_TIMEOUTS,
    requires: [],
    source:
      "Microsoft KB824146Scan (KB 827363: 'does not affect the stability'), as replicated by Nessus 11835 v1.23 (research §2.6.4, errata §2.10a)",
  },
  {
    id: MS03_026_REMOTE_ACTIVATION,
    title:
      "MS03-026 (KB 823980): RemoteActivation with a one-character UNC server name and an embedded NUL",
    advisories: ["ms03-026"],
    cves: ["CVE-2003-0352"],
    // Its authors filed it ACT_ATTACK; the name it sends is 10 UTF-16 units with a one-character
    // server component, far below the overflow (research §2.4.1 "why this is safe", §3.1).
    safety: "safe",
    transports: ["ncacn_ip_tcp", "ncacn_http", "ncacn_np"],
    // 445/139: \pipe\epmapper, only when 135 and 593 are filtered (research §2.3 [R]).
    ports: [135, 593, 445, 139],
    timeouts: RPC_TIMEOUTS,
    requires: [MS03_039_KB824146SCAN],
    source: "eEye MSRPC scanner 1.03 via Nessus 11808 / Tenable msrpc_dcom.nasl (research §2.4)",
  },
  {
    id: MS03_039_GET_CLASS_OBJECT,
    title:
      "MS03-039 fallback: RemoteGetClassObject with a junk OBJREF (runs only when KB824146Scan is indeterminate)",
    advisories: ["ms03-039"],
    cves: ["CVE-2003-0715", "CVE-2003-0528", "CVE-2003-0605"],
    // Touches __RemoteGetClassObject, CVE-2003-0605's DoS entry point, on the very hosts it finds.
    safety: "intrusive",
    transports: ["ncacn_ip_tcp", "ncacn_http", "ncacn_np"],
    // 445/139: \pipe\epmapper, only when 135 and 593 are filtered (research §2.3 [R]).
    ports: [135, 593, 445, 139],
    timeouts: RPC_TIMEOUTS,
    requires: [MS03_039_KB824146SCAN],
    source: "Tenable msrpc_dcom2.nasl rev 1.47+ (research §2.5)",
  },
  {
    id: BLASTER_BACKDOOR,
    title: "Blaster backdoor: a Windows command shell greeting on TCP 4444 (read only)",
    advisories: ["blaster-backdoor"],
    cves: [],
    safety: "safe",
    transports: ["tcp"],
    ports: [4444],
    timeouts: { connectMs: 3_000, readMs: 3_000, hostMs: 6_000 },
    requires: [],
    source: "CERT CA-2003-19; Graham's annotated blaster.c (research §4.1)",
  },
  {
    id: SMB_FINGERPRINT,
    title:
      "SMB/NetBIOS fingerprint: dialects, signing, GUID, NTLMSSP CHALLENGE, NativeOS, NBSTAT → OS (stored on the asset)",
    advisories: [],
    cves: [],
    safety: "safe",
    transports: ["smb"],
    ports: [...SMB_PORTS],
    timeouts: SMB_TIMEOUTS,
    requires: [],
    pseudo: true,
    source:
      "nmap smb-protocols / smb-os-discovery / smb2-security-mode methods (research Appendices B, D), anonymous NTLMSSP",
  },
  {
    id: SMBV1_ENABLED,
    title: "SMBv1 enabled: SMB_COM_NEGOTIATE offering only the NT LM 0.12 dialect",
    advisories: ["smbv1-enabled"],
    cves: [],
    safety: "safe",
    transports: ["smb"],
    ports: [...SMB_PORTS],
    timeouts: SMB_TIMEOUTS,
    requires: [],
    source: "nmap smb-protocols negotiate_v1 (research Appendix B)",
  },
  {
    id: MS17_010_PEEKNAMEDPIPE,
    title:
      "MS17-010 (EternalBlue): TRANS_PEEK_NMPIPE on FID 0 after a null session and IPC$ (read-only, SMB1)",
    advisories: ["ms17-010"],
    aliases: ["ms17-010"],
    cves: [
      "CVE-2017-0143",
      "CVE-2017-0144",
      "CVE-2017-0145",
      "CVE-2017-0146",
      "CVE-2017-0147",
      "CVE-2017-0148",
    ],
    safety: "safe",
    transports: ["smb"],
    ports: [...SMB_PORTS],
    timeouts: SMB_TIMEOUTS,
    requires: [],
    source: "nmap smb-vuln-ms17-010, Metasploit smb_ms17_010 (research Appendix A)",
  },
  {
    id: SMBGHOST_COMPRESSION,
    title:
      "SMBGhost (CVE-2020-0796) capability: SMB 3.1.1 NEGOTIATE with compression offered, and the build (no compressed message is sent)",
    advisories: ["smbghost"],
    aliases: ["smbghost"],
    cves: ["CVE-2020-0796"],
    safety: "safe",
    transports: ["smb"],
    ports: [445],
    timeouts: SMB_TIMEOUTS,
    requires: [],
    source: "ollypwn/ly4k scanner.py negotiate method (research Appendix C)",
  },
  {
    id: SMB_SIGNING_NOT_REQUIRED,
    title: "SMB message signing not required (informational; no advisory, so no finding)",
    advisories: [],
    cves: [],
    safety: "safe",
    transports: ["smb"],
    ports: [...SMB_PORTS],
    timeouts: SMB_TIMEOUTS,
    requires: [],
    source: "nmap smb2-security-mode / smb-security-mode",
  },
];

/** Every SMB check (they share one fingerprint per host). */
export const SMB_CHECKS: readonly string[] = [
  SMB_FINGERPRINT,
  SMBV1_ENABLED,
  MS17_010_PEEKNAMEDPIPE,
  SMBGHOST_COMPRESSION,
  SMB_SIGNING_NOT_REQUIRED,
];

export const CHECK_PROFILES: Readonly<Record<string, string>> = {
  safe: "every safe check (the default)",
  aggressive: "every check, including intrusive fallbacks",
  none: "no checks (discovery only)",
};

/** A check by its id or one of its aliases ("ms17-010" for ms17-010-peeknamedpipe). */
export function checkById(id: string): CheckMetadata | undefined {
  return CHECKS.find((c) => c.id === id) ?? CHECKS.find((c) => c.aliases?.includes(id) === true);
}

/** A resolved `--checks` value: the checks to run, requirements included, in catalogue order. */
export interface CheckSelection {
  readonly ids: readonly string[];
  /** True when an intrusive check was selected (it then runs as the procedure allows). */
  readonly aggressive: boolean;
}

/** `safe` (default), `aggressive`, `none`, or a comma list of check ids and profiles. */
export function parseCheckSelection(spec: string | undefined): CheckSelection {
  const wanted = new Set<string>();
  for (const raw of (spec ?? "safe").split(",")) {
    const token = raw.trim();
    if (token === "") continue;
    if (token === "none") continue;
    if (token === "safe" || token === "aggressive") {
      for (const c of CHECKS) if (token === "aggressive" || c.safety === "safe") wanted.add(c.id);
      continue;
    }
    const check = checkById(token);
    if (check === undefined) {
      throw new RingfenceError("RINGFENCE_USAGE", `unknown check "${token}"`, {
        hint: `checks: ${CHECKS.map((c) => c.id).join(", ")}; profiles: ${Object.keys(CHECK_PROFILES).join(", ")}`,
      });
    }
    wanted.add(check.id);
  }
  // Requirements are transitive but shallow here; loop until nothing is added.
  for (let added = true; added;) {
    added = false;
    for (const id of [...wanted]) {
      for (const required of checkById(id)?.requires ?? []) {
        if (!wanted.has(required)) {
          wanted.add(required);
          added = true;
        }
      }
    }
  }
  const ids = CHECKS.filter((c) => wanted.has(c.id)).map((c) => c.id);
  return { ids, aggressive: ids.some((id) => checkById(id)?.safety === "intrusive") };
}

/** The nominal TCP ports any selected check needs: what to look for in a scan's results. */
export function portsOfSelection(selection: CheckSelection): Set<number> {
  return new Set(selection.ids.flatMap((id) => checkById(id)?.ports ?? []));
}
