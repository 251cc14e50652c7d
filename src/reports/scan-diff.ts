/**
 * What changed between two scans, as nmap's ndiff reports it (hosts up/down, port state changes,
 * OS), keyed on stable identities rather than on list positions: a host is its address, a
 * service (address, protocol, port), a verdict (address, check id, protocol/port). Both sides are
 * read from the store, so a diff works between our own scans, imports, or one of each.
 */
import type { CheckRunRow, ObservationRow, Store } from "../store/index.js";
import { compareAddresses } from "../interchange/host-builder.js";

export interface HostChange {
  readonly address: string;
  /** "new": answers in B only; "gone": answered in A only. */
  readonly change: "new" | "gone";
  readonly open: readonly string[];
}

export interface PortChange {
  readonly address: string;
  readonly service: string;
  /** null: not probed in that scan. */
  readonly before: string | null;
  readonly after: string | null;
}

export interface FingerprintChange {
  readonly address: string;
  readonly service: string;
  readonly before: string | null;
  readonly after: string | null;
}

export interface VerdictChange {
  readonly address: string;
  readonly checkId: string;
  readonly service: string;
  readonly before: string | null;
  readonly after: string | null;
}

export interface ScanDiff {
  readonly a: string;
  readonly b: string;
  readonly hosts: readonly HostChange[];
  readonly ports: readonly PortChange[];
  readonly fingerprints: readonly FingerprintChange[];
  readonly verdicts: readonly VerdictChange[];
}

function answered(rows: readonly ObservationRow[]): Map<string, string[]> {
  const hosts = new Map<string, string[]>();
  for (const row of rows) {
    if (row.state !== "open" && row.state !== "closed") continue;
    const open = hosts.get(row.address) ?? [];
    if (row.state === "open") open.push(`${row.protocol}/${row.port}`);
    hosts.set(row.address, open);
  }
  return hosts;
}

/** A check's verdict word with its classification: "VULNERABLE (VULNERABLE_MS03_026)". */
function verdictText(run: CheckRunRow): string {
  return run.classification === null ? run.verdict : `${run.verdict} (${run.classification})`;
}

/** Latest run per (address, check, service): runs come oldest first. */
function latestRuns(runs: readonly CheckRunRow[]): Map<string, CheckRunRow> {
  const latest = new Map<string, CheckRunRow>();
  for (const run of runs)
    latest.set(`${run.address}\u0000${run.checkId}\u0000${run.protocol}/${run.port}`, run);
  return latest;
}

/**
 * What a scan learnt about a service beyond its state, in a few words: NetBIOS names (NBSTAT on
 * UDP 137), or an imported nmap service name/product/version. The SMB fingerprint is stored per
 * asset (latest only), not per scan, so it cannot be compared between two scans.
 */
function detailText(detail: Record<string, unknown> | null): string | null {
  if (detail === null) return null;
  const service = detail["service"] as
    { name?: string; product?: string; version?: string } | undefined;
  if (service !== undefined)
    return [service.name, service.product, service.version]
      .filter((x) => x !== undefined)
      .join(" ");
  const names = detail["names"] as { name?: string; suffix?: number }[] | undefined;
  if (Array.isArray(names))
    return names
      .map((n) => `${n.name ?? "?"}<${(n.suffix ?? 0).toString(16).padStart(2, "0")}>`)
      .join(" ");
  const text = JSON.stringify(detail);
  return text.length > 200 ? text.slice(0, 197) + "..." : text;
}

export async function diffScans(store: Store, a: string, b: string): Promise<ScanDiff> {
  await store.requireScan(a);
  await store.requireScan(b);
  const [obsA, obsB, runsA, runsB] = await Promise.all([
    store.scanObservations(a),
    store.scanObservations(b),
    store.listCheckRuns({ scanId: a }),
    store.listCheckRuns({ scanId: b }),
  ]);

  const upA = answered(obsA);
  const upB = answered(obsB);
  const hosts: HostChange[] = [];
  for (const [address, open] of upB)
    if (!upA.has(address)) hosts.push({ address, change: "new", open });
  for (const [address, open] of upA)
    if (!upB.has(address)) hosts.push({ address, change: "gone", open });
  hosts.sort((x, y) => compareAddresses(x.address, y.address));

  const stateOf = (rows: readonly ObservationRow[]) =>
    new Map(rows.map((r) => [`${r.address}\u0000${r.protocol}/${r.port}`, r.state] as const));
  const statesA = stateOf(obsA);
  const statesB = stateOf(obsB);
  const ports: PortChange[] = [];
  for (const key of new Set([...statesA.keys(), ...statesB.keys()])) {
    const before = statesA.get(key) ?? null;
    const after = statesB.get(key) ?? null;
    if (before === after) continue;
    // A port probed in only one scan is a change only when it was seen open (ndiff lists
    // differing port sets the same way: what a reader must act on is what became reachable).
    if ((before === null && after !== "open") || (after === null && before !== "open")) continue;
    const [address, service] = key.split("\u0000") as [string, string];
    ports.push({ address, service, before, after });
  }

  const latestA = latestRuns(runsA);
  const latestB = latestRuns(runsB);
  const verdicts: VerdictChange[] = [];
  for (const key of new Set([...latestA.keys(), ...latestB.keys()])) {
    const ra = latestA.get(key);
    const rb = latestB.get(key);
    const before = ra === undefined ? null : verdictText(ra);
    const after = rb === undefined ? null : verdictText(rb);
    if (before === after) continue;
    const run = (rb ?? ra)!;
    verdicts.push({
      address: run.address,
      checkId: run.checkId,
      service: `${run.protocol}/${run.port}`,
      before,
      after,
    });
  }

  const detailOf = (rows: readonly ObservationRow[]) =>
    new Map(
      rows
        .filter((r) => r.state === "open")
        .map((r) => [`${r.address}\u0000${r.protocol}/${r.port}`, detailText(r.detail)] as const),
    );
  const detailA = detailOf(obsA);
  const detailB = detailOf(obsB);
  const fingerprints: FingerprintChange[] = [];
  for (const [key, after] of detailB) {
    // Only a service open in both scans can be compared; the rest are port changes.
    if (!detailA.has(key)) continue;
    const before = detailA.get(key) ?? null;
    if (before === after) continue;
    const [address, service] = key.split("\u0000") as [string, string];
    fingerprints.push({ address, service, before, after });
  }

  const byAddress = <T extends { address: string }>(list: T[], tail: (x: T, y: T) => number) =>
    list.sort((x, y) => compareAddresses(x.address, y.address) || tail(x, y));
  return {
    a,
    b,
    hosts,
    ports: byAddress(ports, (x, y) => (x.service < y.service ? -1 : x.service > y.service ? 1 : 0)),
    fingerprints: byAddress(fingerprints, (x, y) =>
      x.service < y.service ? -1 : x.service > y.service ? 1 : 0,
    ),
    verdicts: byAddress(verdicts, (x, y) =>
      x.checkId < y.checkId ? -1 : x.checkId > y.checkId ? 1 : 0,
    ),
  };
}

/** ndiff-style text: "-" what A had, "+" what B has. */
export function renderScanDiffText(diff: ScanDiff): string {
  const lines = [`--- scan ${diff.a}`, `+++ scan ${diff.b}`];
  const empty =
    diff.hosts.length + diff.ports.length + diff.fingerprints.length + diff.verdicts.length === 0;
  if (empty) return [...lines, "no differences"].join("\n") + "\n";
  for (const h of diff.hosts)
    lines.push(
      `${h.change === "new" ? "+" : "-"}${h.address} is ${h.change === "new" ? "up" : "gone"}${h.open.length > 0 ? ` (open: ${h.open.join(" ")})` : ""}`,
    );
  for (const p of diff.ports)
    lines.push(
      ` ${p.address} ${p.service}: ${p.before ?? "not probed"} -> ${p.after ?? "not probed"}`,
    );
  for (const f of diff.fingerprints)
    lines.push(` ${f.address} ${f.service} detail: ${f.before ?? "none"} -> ${f.after ?? "none"}`);
  for (const v of diff.verdicts)
    lines.push(
      ` ${v.address} ${v.checkId} ${v.service}: ${v.before ?? "not run"} -> ${v.after ?? "not run"}`,
    );
  return lines.join("\n") + "\n";
}
