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

export const CHECKS: readonly CheckMetadata[] = [
  {
    id: MS03_039_KB824146SCAN,
    title:
      "MS03-039 (KB 824146): Windows-family binds, then Microsoft KB824146Scan's RemoteCreateInstance pair",
    advisories: ["ms03-039"],
    cves: ["CVE-2003-0715", "CVE-2003-0528", "CVE-2003-0605"],
    safety: "safe",
    transports: ["ncacn_ip_tcp", "ncacn_http"],
    ports: [135, 593],
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
    transports: ["ncacn_ip_tcp", "ncacn_http"],
    ports: [135, 593],
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
    transports: ["ncacn_ip_tcp", "ncacn_http"],
    ports: [135, 593],
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
];

export const CHECK_PROFILES: Readonly<Record<string, string>> = {
  safe: "every safe check (the default)",
  aggressive: "every check, including intrusive fallbacks",
  none: "no checks (discovery only)",
};

export function checkById(id: string): CheckMetadata | undefined {
  return CHECKS.find((c) => c.id === id);
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
