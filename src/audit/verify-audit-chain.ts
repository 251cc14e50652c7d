import { auditEntryHash, GENESIS_HASH, type AuditEntry } from "../store/index.js";

export type AuditChainProblem = "hash-mismatch" | "broken-link" | "sequence-gap";

export type AuditChainResult =
  | { readonly ok: true; readonly entries: number; readonly head: string }
  | {
      readonly ok: false;
      readonly entries: number;
      /** The first entry that does not hold. */
      readonly seq: number;
      readonly problem: AuditChainProblem;
      readonly message: string;
    };

/**
 * Walks the chain from the first entry: each must hash to its stored hash (nothing in it was
 * edited), name the previous entry's hash (nothing was removed or reordered before it) and carry
 * the next seq (nothing was cut out at the end of a gap). The entries must be the whole log in
 * seq order (Store.listAuditEntries() without a filter).
 */
export function verifyAuditChain(entries: readonly AuditEntry[]): AuditChainResult {
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  for (const entry of entries) {
    const fail = (problem: AuditChainProblem, message: string): AuditChainResult => ({
      ok: false,
      entries: entries.length,
      seq: entry.seq,
      problem,
      message: `audit entry ${entry.seq} (${entry.kind} ${entry.subject}): ${message}`,
    });
    if (entry.seq !== expectedSeq)
      return fail("sequence-gap", `expected entry ${expectedSeq} here; entries are missing`);
    if (entry.prevHash !== prevHash)
      return fail(
        "broken-link",
        `its previous-entry hash ${entry.prevHash.slice(0, 12)}… does not match entry ${expectedSeq - 1}'s ${prevHash.slice(0, 12)}…`,
      );
    const actual = auditEntryHash(entry);
    if (actual !== entry.hash)
      return fail("hash-mismatch", "its content does not match its hash (it was altered)");
    prevHash = entry.hash;
    expectedSeq += 1;
  }
  return { ok: true, entries: entries.length, head: prevHash };
}
