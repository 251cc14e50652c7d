import type { PortState } from "../scan/index.js";
import type { ObservationRow, ScanRecord, Store } from "../store/index.js";

export interface ExposedHost {
  readonly address: string;
  /** "tcp/135", "udp/137", ... in protocol then port order. */
  readonly open: readonly string[];
  /** NetBIOS names and other details probes learned, keyed by service. */
  readonly details: Readonly<Record<string, unknown>>;
}

/** One result model for every output format (text, JSON, JSONL): the reporters only render it. */
export interface ScanSummary {
  readonly scan: Pick<
    ScanRecord,
    "id" | "status" | "startedAt" | "finishedAt" | "totalProbes" | "probesDone" | "command"
  >;
  readonly counts: Readonly<Record<PortState, number>>;
  /** Hosts that answered at all (an open or closed port). */
  readonly hostsAnswering: number;
  readonly exposedHosts: readonly ExposedHost[];
  /** Per service, how many hosts have it open, in protocol then port order. */
  readonly openByService: readonly { readonly service: string; readonly hosts: number }[];
  /** What the checks concluded, per host (absent: the scan ran no checks). */
  readonly checks: ChecksSummary;
}

export interface CheckedHost {
  readonly address: string;
  /** The combined MS03-026 / MS03-039 verdict (research §2.7), if the RPC checks ran. */
  readonly classification: string | null;
  readonly reason: string | null;
  /** Check id → verdict. */
  readonly verdicts: Readonly<Record<string, string>>;
  /** The Blaster backdoor check found a command shell on TCP 4444. */
  readonly backdoor: boolean;
}

export interface ChecksSummary {
  readonly hostsChecked: number;
  /** Hosts per combined verdict, most urgent first. */
  readonly byClassification: readonly { readonly classification: string; readonly hosts: number }[];
  readonly backdoors: number;
  readonly hosts: readonly CheckedHost[];
}

/** Most urgent first: what the reader must act on leads the table. */
const CLASSIFICATION_ORDER = [
  "VULNERABLE_MS03_026",
  "VULNERABLE_MS03_039_ONLY_OR_WORSE",
  "VULNERABLE_MS03_039_ONLY",
  "UNKNOWN",
  "DCOM_RESTRICTED",
  "PATCHED_MS03_039",
  "NOT_APPLICABLE_WIN9X",
  "NOT_APPLICABLE_NON_WINDOWS",
];

async function summarizeChecks(store: Store, scanId: string): Promise<ChecksSummary> {
  const runs = await store.listCheckRuns({ scanId });
  const hosts = new Map<
    string,
    {
      classification: string | null;
      reason: string | null;
      verdicts: Record<string, string>;
      backdoor: boolean;
    }
  >();
  for (const run of runs) {
    const host = hosts.get(run.address) ?? {
      classification: null,
      reason: null,
      verdicts: {},
      backdoor: false,
    };
    host.verdicts[run.checkId] = run.verdict;
    // The combined verdict column is MS03-026 / MS03-039's (research §2.7); other checks'
    // classifications (SMBGhost's) stay with their own runs.
    if (
      run.classification !== null &&
      host.classification === null &&
      run.checkId.startsWith("ms03-")
    ) {
      host.classification = run.classification;
      host.reason = run.reason;
    }
    if (run.checkId === "blaster-backdoor-4444" && run.verdict === "VULNERABLE")
      host.backdoor = true;
    hosts.set(run.address, host);
  }
  const counts = new Map<string, number>();
  for (const host of hosts.values()) {
    if (host.classification !== null)
      counts.set(host.classification, (counts.get(host.classification) ?? 0) + 1);
  }
  const rank = (c: string) => {
    const i = CLASSIFICATION_ORDER.indexOf(c);
    return i < 0 ? CLASSIFICATION_ORDER.length : i;
  };
  return {
    hostsChecked: hosts.size,
    byClassification: [...counts]
      .sort(([a], [b]) => rank(a) - rank(b))
      .map(([classification, n]) => ({ classification, hosts: n })),
    backdoors: [...hosts.values()].filter((h) => h.backdoor).length,
    hosts: [...hosts].map(([address, h]) => ({ address, ...h })),
  };
}

function serviceKey(row: Pick<ObservationRow, "protocol" | "port">): string {
  return `${row.protocol}/${row.port}`;
}

export async function summarizeScan(store: Store, scanId: string): Promise<ScanSummary> {
  const scan = await store.requireScan(scanId);
  const rows = await store.scanObservations(scanId);
  const counts: Record<PortState, number> = {
    open: 0,
    closed: 0,
    filtered: 0,
    "open|filtered": 0,
  };
  const answering = new Set<string>();
  const exposed = new Map<string, { open: string[]; details: Record<string, unknown> }>();
  const byService = new Map<string, number>();
  for (const row of rows) {
    counts[row.state]++;
    if (row.state === "open" || row.state === "closed") answering.add(row.address);
    if (row.state !== "open") continue;
    const key = serviceKey(row);
    const host = exposed.get(row.address) ?? { open: [], details: {} };
    host.open.push(key);
    if (row.detail) host.details[key] = row.detail;
    exposed.set(row.address, host);
    byService.set(key, (byService.get(key) ?? 0) + 1);
  }
  const order = (a: string, b: string) => {
    const [pa, na] = a.split("/") as [string, string];
    const [pb, nb] = b.split("/") as [string, string];
    return pa === pb ? Number(na) - Number(nb) : pa < pb ? -1 : 1;
  };
  return {
    scan: {
      id: scan.id,
      status: scan.status,
      startedAt: scan.startedAt,
      finishedAt: scan.finishedAt,
      totalProbes: scan.totalProbes,
      probesDone: scan.probesDone,
      command: scan.command,
    },
    counts,
    hostsAnswering: answering.size,
    // Rows come in numeric address order, and Map keeps insertion order.
    exposedHosts: [...exposed].map(([address, host]) => ({
      address,
      open: host.open.sort(order),
      details: host.details,
    })),
    openByService: [...byService]
      .sort(([a], [b]) => order(a, b))
      .map(([service, hosts]) => ({ service, hosts })),
    checks: await summarizeChecks(store, scanId),
  };
}
