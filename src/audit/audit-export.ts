import type { AuditEntry } from "../store/index.js";

export const AUDIT_EXPORT_FORMATS = ["jsonl"] as const;
export type AuditExportFormat = (typeof AUDIT_EXPORT_FORMATS)[number];

/**
 * One JSON object per line, every field of the entry including its hashes, so that a reader can
 * re-verify the chain without ringfence (sha256 of the canonical JSON of the entry minus "hash").
 * The "schema" field versions the line format.
 */
export function auditJsonl(entries: readonly AuditEntry[]): string {
  return entries
    .map((e) =>
      JSON.stringify({
        schema: "ringfence-audit/1",
        seq: e.seq,
        at: e.at,
        actor: e.actor,
        kind: e.kind,
        subject: e.subject,
        evidenceRef: e.evidenceRef,
        payload: e.payload,
        prevHash: e.prevHash,
        hash: e.hash,
      }),
    )
    .map((line) => `${line}\n`)
    .join("");
}
