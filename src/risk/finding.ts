/**
 * Adapters at the engine's edge: a store findings row to a `Finding`, and an assessment to its
 * canonical JSON bytes (what the store keeps and what determinism is tested on).
 */
import { parseInstant, PROTOCOLS, type ServiceProtocol } from "../advisories/index.js";
import { RingfenceError } from "../errors.js";
import { canonicalJson } from "./canonical-json.js";
import type { Asset, Assessment, Finding, Verdict } from "./types.js";

/** The columns of the store's findings table (src/store/schema.ts FindingsTable), structurally. */
export interface FindingRow {
  readonly id?: number;
  readonly asset_id: number | string;
  readonly protocol: string;
  readonly port: number;
  readonly advisory: string;
  readonly check_id: string;
  readonly verdict: string;
  readonly evidence_json: string | null;
  readonly first_seen: string;
  readonly last_seen: string;
  readonly status?: string;
}

// nmap's vulns.lua words are accepted too, so a check written in that style needs no mapping.
const VERDICT_WORDS: Readonly<Record<string, Verdict>> = {
  vulnerable: "vulnerable",
  vuln: "vulnerable",
  "likely-vulnerable": "likely-vulnerable",
  likely_vuln: "likely-vulnerable",
  "not-vulnerable": "not-vulnerable",
  not_vuln: "not-vulnerable",
  // The store's word for a check that did not apply to the service: nothing to fix there.
  "not-applicable": "not-vulnerable",
  unknown: "unknown",
};

/** A store row (plus the asset it belongs to) as a Finding; throws RINGFENCE_RISK_INPUT on bad data. */
export function findingFromStoreRow(
  row: FindingRow,
  asset: Pick<Asset, "id" | "address">,
): Finding {
  const bad = (what: string): never => {
    throw new RingfenceError("RINGFENCE_RISK_INPUT", `findings row ${row.id ?? "?"}: ${what}`);
  };
  if (String(row.asset_id) !== asset.id) bad(`asset_id ${row.asset_id} is not asset ${asset.id}`);
  if (!(PROTOCOLS as readonly string[]).includes(row.protocol)) bad(`protocol "${row.protocol}"`);
  const verdict = VERDICT_WORDS[row.verdict.toLowerCase()] ?? bad(`verdict "${row.verdict}"`);
  if (parseInstant(row.first_seen) === undefined) bad(`first_seen "${row.first_seen}"`);
  if (parseInstant(row.last_seen) === undefined) bad(`last_seen "${row.last_seen}"`);
  let evidence: Record<string, unknown> = {};
  if (row.evidence_json !== null && row.evidence_json !== "") {
    try {
      const parsed: unknown = JSON.parse(row.evidence_json);
      evidence =
        parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
          ? (parsed as Record<string, unknown>)
          : { value: parsed };
    } catch {
      bad("evidence_json is not JSON");
    }
  }
  return {
    ...(row.id === undefined ? {} : { id: String(row.id) }),
    assetId: asset.id,
    address: asset.address,
    protocol: row.protocol as ServiceProtocol,
    port: row.port,
    advisory: row.advisory,
    checkId: row.check_id,
    verdict,
    evidence,
    observedAt: row.last_seen,
    firstSeen: row.first_seen,
  };
}

/** The canonical JSON text of an assessment: same assessment, same bytes. */
export function assessmentJson(assessment: Assessment): string {
  return canonicalJson(assessment);
}
