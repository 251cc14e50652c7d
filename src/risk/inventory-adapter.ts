/**
 * Adapters from the inventory (src/store) to the engine's inputs, for `ringfence assess`:
 *
 * - `findingRowOf`: a FindingRecord (the store's API shape) as the findings row that
 *   `findingFromStoreRow` reads. The check's classification, reason code and reason become the
 *   finding's evidence, with the id of the check run that holds the full exchange log.
 * - `observedAssetOf`: what the inventory knows about one asset, as an `ObservedAsset` for
 *   `resolveAsset`: its address and names, the services the scans found open (reachable from the
 *   scanner's vantage zone), and compromise indicators from its positive indicator findings
 *   (advisory kind "indicator", e.g. blaster-backdoor).
 *
 * Pure: the same records give the same values (every list sorted here, times from the store).
 */
import {
  compareText,
  formatInstant,
  parseInstant,
  type AdvisoryCatalog,
  type Zone,
} from "../advisories/index.js";
import type { FindingRecord, ServiceRow } from "../store/index.js";
import type { FindingRow } from "./finding.js";
import type { ObservedAsset } from "./site.js";
import type { CompromiseIndicator, ReachableService } from "./types.js";

/** The findings row of a FindingRecord, as `findingFromStoreRow` reads it. */
export function findingRowOf(record: FindingRecord): FindingRow {
  // Rows written by recordCheckRuns carry {classification, reasonCode, evidence}; the steps of
  // the exchange stay in check_runs (lastRunId), the assessment cites the conclusion.
  const evidence =
    record.reasonCode === null
      ? record.evidence
      : {
          classification: record.classification,
          reasonCode: record.reasonCode,
          ...(record.reason === null ? {} : { reason: record.reason }),
          ...(record.lastRunId === null ? {} : { checkRun: record.lastRunId }),
        };
  return {
    id: record.id,
    asset_id: record.assetId,
    protocol: record.protocol,
    port: record.port,
    advisory: record.advisory,
    check_id: record.checkId,
    verdict: record.verdict,
    evidence_json: evidence === null || evidence === undefined ? null : JSON.stringify(evidence),
    first_seen: record.firstSeen,
    last_seen: record.lastSeen,
    status: record.status,
  };
}

const POSITIVE = new Set(["vulnerable", "likely-vulnerable", "vuln", "likely_vuln"]);

/** Whether a finding says the host is compromised: a positive verdict of an indicator advisory. */
export function isCompromiseIndicator(record: FindingRecord, catalog: AdvisoryCatalog): boolean {
  return (
    catalog.get(record.advisory)?.kind === "indicator" && POSITIVE.has(record.verdict.toLowerCase())
  );
}

export interface InventoryAssetInput {
  readonly assetId: number;
  readonly address: string;
  /** The asset's services in the inventory; only those whose latest state is open count. */
  readonly services: readonly ServiceRow[];
  /** The asset's findings; positive indicator findings become compromise indicators. */
  readonly findings: readonly FindingRecord[];
  /** The zone the scans were run from (every open service is reachable from there). */
  readonly vantage: Zone;
  readonly catalog: AdvisoryCatalog;
  /**
   * The assessment's asOf (ms). An indicator first seen after it counts as seen at asOf: the
   * engine replays a finding first seen after asOf "as if seen at asOf", and the indicator's own
   * finding is assessed that way, so every finding of the host must see the compromise too.
   */
  readonly asOfMs: number;
}

/** An ObservedAsset for `resolveAsset` from what the inventory holds about one asset. */
export function observedAssetOf(input: InventoryAssetInput): ObservedAsset {
  const open = input.services.filter((s) => s.state === "open");
  const reachable: ReachableService[] = open
    .map((s) => ({ proto: s.protocol, port: s.port, from: input.vantage, observedAt: s.lastSeen }))
    .sort((a, b) => compareText(a.proto, b.proto) || a.port - b.port);
  const hostnames = [...new Set(input.services.flatMap((s) => s.hostnames))].sort(compareText);

  const indicators: CompromiseIndicator[] = [];
  for (const finding of input.findings) {
    if (finding.status !== "open" || !isCompromiseIndicator(finding, input.catalog)) continue;
    const advisory = input.catalog.get(finding.advisory);
    const named = advisory?.indicators.find(
      (i) => i.proto === finding.protocol && i.port === finding.port,
    );
    const seen = parseInstant(finding.firstSeen) ?? input.asOfMs;
    indicators.push({
      id: `${advisory?.id ?? finding.advisory}/${named?.id ?? finding.checkId}`,
      observedAt: formatInstant(Math.min(seen, input.asOfMs)),
      prov: {
        source: "scan",
        observedAt: finding.firstSeen,
        ref: `finding ${finding.id}: ${finding.checkId} ${finding.verdict} on ${finding.protocol}/${finding.port}`,
      },
    });
  }
  indicators.sort((a, b) => compareText(a.observedAt, b.observedAt) || compareText(a.id, b.id));

  const times = [...open.map((s) => s.lastSeen), ...input.findings.map((f) => f.lastSeen)].sort(
    compareText,
  );
  const observedAt = times.at(-1);
  return {
    id: String(input.assetId),
    address: input.address,
    hostnames,
    reachable,
    compromiseIndicators: indicators,
    ...(observedAt === undefined ? {} : { observedAt }),
  };
}
