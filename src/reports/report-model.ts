/**
 * One result model for the inventory reports (HTML, CSV, JSONL, SARIF, nmap XML): read once from
 * the store, rendered by one reporter per format. Findings carry their stable identity (asset
 * address, protocol/port, advisory, check) and a fingerprint derived from it, so that every
 * format names the same finding the same way across rescans and re-imports.
 */
import { createHash } from "node:crypto";
import type { PortState, Protocol } from "../scan/observation.js";
import type {
  AssessmentRating,
  CheckRunRow,
  HostRow,
  ObservationRow,
  ScanRecord,
  Store,
  TransitionRecord,
  WorkflowState,
} from "../store/index.js";

export interface FindingIdentity {
  readonly address: string;
  readonly protocol: Protocol;
  readonly port: number;
  readonly advisory: string;
  readonly checkId: string;
}

/**
 * sha256 over the identity's fields joined by "|", hex: the same finding gets the same value in
 * every report, whatever its database id (SARIF partialFingerprints, CSV and JSONL columns).
 */
export function findingFingerprint(identity: FindingIdentity): string {
  return createHash("sha256")
    .update(
      [
        identity.address,
        `${identity.protocol}/${identity.port}`,
        identity.advisory.toLowerCase(),
        identity.checkId,
      ].join("|"),
    )
    .digest("hex");
}

export interface ReportFinding extends FindingIdentity {
  readonly id: number;
  readonly fingerprint: string;
  readonly hostnames: readonly string[];
  readonly verdict: string;
  readonly classification: string | null;
  readonly reason: string | null;
  /** "open" while the latest verdict is vulnerable or unknown. */
  readonly status: "open" | "closed";
  readonly firstSeen: string;
  readonly lastSeen: string;
  /** The workflow state, when the store tracks one for this finding. */
  readonly state: WorkflowState | null;
  readonly rating: AssessmentRating | null;
  readonly zone: string | null;
  readonly outcome: string | null;
  readonly protectBy: string | null;
  readonly fixBy: string | null;
  readonly verifyBy: string | null;
  /** Clocks (protect-by, fix-by, verify-by) already past at the report's asOf, open findings only. */
  readonly overdue: readonly string[];
}

export interface ReportHost extends HostRow {
  /** Check runs of the report's scan (or every stored run without one), oldest first. */
  readonly checkRuns: readonly CheckRunRow[];
}

export interface ReportModel {
  /** The instant the report describes (overdue clocks are computed against it). */
  readonly asOf: string;
  /** The scan the report is about; null for the whole inventory. */
  readonly scan: ScanRecord | null;
  readonly hosts: readonly ReportHost[];
  /** The scan's observations (empty without a scan). */
  readonly observations: readonly ObservationRow[];
  readonly findings: readonly ReportFinding[];
  readonly transitions: readonly TransitionRecord[];
  readonly checkRuns: readonly CheckRunRow[];
}

const CLOCKS = [
  ["protect-by", "protectBy"],
  ["fix-by", "fixBy"],
  ["verify-by", "verifyBy"],
] as const;

export interface ReportOptions {
  readonly scanId?: string;
  /** ISO instant; defaults to now. */
  readonly asOf?: string;
}

/** Reads everything a report needs. With a scan, hosts and findings are those the scan saw. */
export async function loadReportModel(
  store: Store,
  options: ReportOptions = {},
): Promise<ReportModel> {
  const asOf = options.asOf ?? new Date().toISOString();
  const scan = options.scanId === undefined ? null : await store.requireScan(options.scanId);
  const observations = scan === null ? [] : await store.scanObservations(scan.id);
  const checkRuns = await store.listCheckRuns(scan === null ? {} : { scanId: scan.id });
  const hostRows = await store.listHosts(scan === null ? {} : { scanId: scan.id });
  const seen = new Set(hostRows.map((h) => h.address));
  const runsByHost = new Map<string, CheckRunRow[]>();
  for (const run of checkRuns) {
    const list = runsByHost.get(run.address) ?? [];
    list.push(run);
    runsByHost.set(run.address, list);
  }
  // A host with check runs but no observation in this scan (a standalone `check`) still counts.
  const extra =
    scan === null
      ? []
      : (await store.listHosts()).filter((h) => !seen.has(h.address) && runsByHost.has(h.address));
  const hosts: ReportHost[] = [...hostRows, ...extra].map((h) => ({
    ...h,
    checkRuns: runsByHost.get(h.address) ?? [],
  }));
  const names = new Map(hosts.map((h) => [h.address, h.hostnames]));

  const inReport = (address: string) => scan === null || names.has(address);
  const assessments = new Map(
    (await store.latestAssessments()).map((a) => [a.findingId, a] as const),
  );
  const states = new Map((await store.findingStates()).map((s) => [s.findingId, s] as const));
  const findings: ReportFinding[] = (await store.listFindings())
    .filter((f) => inReport(f.address))
    .map((f) => {
      const a = assessments.get(f.id);
      const clocks = {
        protectBy: a?.protectBy ?? null,
        fixBy: a?.fixBy ?? null,
        verifyBy: a?.verifyBy ?? null,
      };
      const overdue =
        f.status === "open"
          ? CLOCKS.filter(([, key]) => clocks[key] !== null && clocks[key]! < asOf).map(
              ([name]) => name,
            )
          : [];
      return {
        id: f.id,
        address: f.address,
        protocol: f.protocol,
        port: f.port,
        advisory: f.advisory,
        checkId: f.checkId,
        fingerprint: findingFingerprint(f),
        hostnames: names.get(f.address) ?? [],
        verdict: f.verdict,
        classification: f.classification,
        reason: f.reason,
        status: f.status,
        firstSeen: f.firstSeen,
        lastSeen: f.lastSeen,
        state: states.get(f.id)?.state ?? null,
        rating: a?.rating ?? null,
        zone: a?.zone ?? null,
        outcome: a?.outcome ?? null,
        ...clocks,
        overdue,
      };
    });
  const ids = new Set(findings.map((f) => f.id));
  const transitions = (await store.listTransitions()).filter((t) => ids.has(t.findingId));
  return { asOf, scan, hosts, observations, findings, transitions, checkRuns };
}

/** nmap-services names of the ports ringfence scans (nmap's /usr/share/nmap/nmap-services). */
export const WELL_KNOWN_SERVICES: Readonly<Record<string, string>> = {
  "tcp/135": "msrpc",
  "udp/135": "msrpc",
  "udp/137": "netbios-ns",
  "udp/138": "netbios-dgm",
  "tcp/139": "netbios-ssn",
  "tcp/445": "microsoft-ds",
  "udp/445": "microsoft-ds",
  "tcp/593": "http-rpc-epmap",
  "tcp/4444": "krb524",
  "tcp/80": "http",
  "tcp/443": "https",
};

export function serviceName(protocol: Protocol, port: number): string | undefined {
  return WELL_KNOWN_SERVICES[`${protocol}/${port}`];
}

export type { PortState };
