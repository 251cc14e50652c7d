import type { Kysely, RawBuilder, Selectable, SqlBool } from "kysely";
import { RingfenceError } from "../errors.js";
import { canonicalJson, sha256Hex } from "./canonical-json.js";
import type { AuditLogTable, FindingTransitionsTable, StoreDatabase } from "./schema.js";
import {
  WORKFLOW_STATES,
  type AuditEntry,
  type AuditEntryInput,
  type AuditFilter,
  type FindingStateFilter,
  type FindingStateRow,
  type TransitionInput,
  type TransitionRecord,
  type WorkflowState,
} from "./store.js";
import type { Protocol } from "../scan/observation.js";

/**
 * The audit log and the workflow's rows (schema version 5), as functions over a kysely handle so
 * that the store can run them inside the transaction of the data they describe (an assessment and
 * its audit entry commit together or not at all).
 */

type Db = Kysely<StoreDatabase>;

/** prevHash of the first entry. */
export const GENESIS_HASH = "0".repeat(64);

/** The fields an entry's hash covers: everything but the hash itself. */
export interface HashedAuditFields {
  seq: number;
  at: string;
  actor: string;
  kind: string;
  subject: string;
  evidenceRef: string | null;
  payload: unknown;
  prevHash: string;
}

/**
 * sha256 (hex) of the canonical JSON (sorted keys, src/store/canonical-json.ts) of the entry
 * without its hash. Covering seq and prevHash makes deleting, reordering or inserting an entry
 * as visible as editing one.
 */
export function auditEntryHash(entry: HashedAuditFields): string {
  return sha256Hex(
    canonicalJson({
      seq: entry.seq,
      at: entry.at,
      actor: entry.actor,
      kind: entry.kind,
      subject: entry.subject,
      evidenceRef: entry.evidenceRef,
      payload: entry.payload ?? null,
      prevHash: entry.prevHash,
    }),
  );
}

function checkEntry(entry: AuditEntryInput, index: number): void {
  for (const field of ["actor", "kind", "subject"] as const) {
    const value: unknown = entry[field];
    if (typeof value !== "string" || value.length === 0 || value.length > 1000)
      throw new RingfenceError(
        "RINGFENCE_USAGE",
        `audit entry ${index}: ${field} must be a non-empty string of at most 1000 characters`,
      );
  }
  const ref: unknown = entry.evidenceRef;
  if (ref !== undefined && ref !== null && (typeof ref !== "string" || ref.length > 1000))
    throw new RingfenceError(
      "RINGFENCE_USAGE",
      `audit entry ${index}: evidenceRef must be a string of at most 1000 characters`,
    );
  if (entry.at !== undefined && Number.isNaN(Date.parse(entry.at)))
    throw new RingfenceError("RINGFENCE_USAGE", `audit entry ${index}: at is not an ISO instant`);
}

/** Appends in order after the current tail; the caller holds the write transaction. */
export async function appendAuditEntriesIn(
  trx: Db,
  entries: readonly AuditEntryInput[],
): Promise<AuditEntry[]> {
  entries.forEach(checkEntry);
  if (entries.length === 0) return [];
  const tail = await trx
    .selectFrom("audit_log")
    .select(["seq", "hash"])
    .orderBy("seq", "desc")
    .limit(1)
    .executeTakeFirst();
  let seq = tail === undefined ? 0 : Number(tail.seq);
  let prevHash = tail?.hash ?? GENESIS_HASH;
  const now = new Date().toISOString();
  const stored: AuditEntry[] = [];
  for (const input of entries) {
    seq += 1;
    // Round-trip the payload through canonical JSON so that what we hash is what a reader parses.
    const payloadJson = canonicalJson(input.payload ?? null);
    const fields: HashedAuditFields = {
      seq,
      at: input.at ?? now,
      actor: input.actor,
      kind: input.kind,
      subject: input.subject,
      evidenceRef: input.evidenceRef ?? null,
      payload: JSON.parse(payloadJson) as unknown,
      prevHash,
    };
    const hash = auditEntryHash(fields);
    await trx
      .insertInto("audit_log")
      .values({
        seq,
        at: fields.at,
        actor: fields.actor,
        kind: fields.kind,
        subject: fields.subject,
        evidence_ref: fields.evidenceRef,
        payload_json: payloadJson,
        prev_hash: prevHash,
        hash,
      })
      .execute();
    stored.push({ ...fields, hash });
    prevHash = hash;
  }
  return stored;
}

export async function listAuditEntriesIn(db: Db, filter: AuditFilter = {}): Promise<AuditEntry[]> {
  let query = db.selectFrom("audit_log").selectAll();
  if (filter.since !== undefined) query = query.where("at", ">=", filter.since);
  if (filter.subject !== undefined) query = query.where("subject", "=", filter.subject);
  if (filter.kind !== undefined) query = query.where("kind", "=", filter.kind);
  if (filter.afterSeq !== undefined) query = query.where("seq", ">", filter.afterSeq);
  query = query.orderBy("seq");
  if (filter.limit !== undefined) query = query.limit(filter.limit);
  return (await query.execute()).map(toAuditEntry);
}

/**
 * A row as an entry. A payload that is not JSON (someone edited the table by hand) is kept as
 * its text under "$unparsed": the hash then fails to match, which is the point, and nothing
 * throws while reading a damaged log.
 */
function toAuditEntry(row: Selectable<AuditLogTable>): AuditEntry {
  let payload: unknown;
  try {
    payload = JSON.parse(row.payload_json) as unknown;
  } catch {
    payload = { $unparsed: row.payload_json };
  }
  return {
    seq: Number(row.seq),
    at: row.at,
    actor: row.actor,
    kind: row.kind,
    subject: row.subject,
    evidenceRef: row.evidence_ref,
    payload,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function isState(value: unknown): value is WorkflowState {
  return typeof value === "string" && (WORKFLOW_STATES as readonly string[]).includes(value);
}

/** The evidence's own reference ("check-run:12", "control:x"), when it names one. */
function evidenceRefOf(evidence: unknown): string | null {
  if (typeof evidence !== "object" || evidence === null) return null;
  const ref = (evidence as { ref?: unknown }).ref;
  return typeof ref === "string" ? ref : null;
}

export async function recordTransitionIn(
  trx: Db,
  input: TransitionInput,
  location: string,
): Promise<TransitionRecord> {
  if (!isState(input.from) || !isState(input.to))
    throw new RingfenceError(
      "RINGFENCE_USAGE",
      `unknown workflow state in ${String(input.from)} → ${String(input.to)}`,
    );
  if (typeof input.actor !== "string" || input.actor.length === 0)
    throw new RingfenceError("RINGFENCE_USAGE", "a transition needs an actor");
  if (Number.isNaN(Date.parse(input.at)))
    throw new RingfenceError("RINGFENCE_USAGE", `transition time ${input.at} is not an instant`);
  const finding = await trx
    .selectFrom("findings")
    .innerJoin("assets", "assets.id", "findings.asset_id")
    .select([
      "findings.id",
      "assets.address",
      "findings.protocol",
      "findings.port",
      "findings.advisory",
      "findings.check_id",
    ])
    .where("findings.id", "=", input.findingId)
    .executeTakeFirst();
  if (finding === undefined)
    throw new RingfenceError("RINGFENCE_USAGE", `no finding ${input.findingId} in ${location}`);
  const current = await trx
    .selectFrom("finding_states")
    .select("state")
    .where("finding_id", "=", input.findingId)
    .executeTakeFirst();
  const stored = (current?.state ?? "detected") as WorkflowState;
  if (stored !== input.from)
    throw new RingfenceError(
      "RINGFENCE_TRANSITION_CONFLICT",
      `finding ${input.findingId} is ${stored}, not ${input.from}: it changed since it was read`,
      { hint: "read its state again and retry" },
    );
  const evidenceJson = canonicalJson(input.evidence ?? null);
  const [entry] = await appendAuditEntriesIn(trx, [
    {
      actor: input.actor,
      kind: "transition",
      subject: `finding:${input.findingId}`,
      evidenceRef: evidenceRefOf(input.evidence),
      at: input.at,
      payload: {
        finding: {
          id: input.findingId,
          address: finding.address,
          protocol: finding.protocol,
          port: Number(finding.port),
          advisory: finding.advisory,
          checkId: finding.check_id,
        },
        from: input.from,
        to: input.to,
        evidence: JSON.parse(evidenceJson) as unknown,
      },
    },
  ]);
  if (entry === undefined) throw new Error("unreachable: one audit entry appended");
  const inserted = await trx
    .insertInto("finding_transitions")
    .values({
      finding_id: input.findingId,
      from_state: input.from,
      to_state: input.to,
      actor: input.actor,
      at: input.at,
      evidence_json: evidenceJson,
      audit_seq: entry.seq,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  const id = Number(inserted.id);
  const state = {
    state: input.to,
    since: input.at,
    previous_state: input.previousState ?? null,
    disconnected: input.disconnected ? 1 : 0,
    accepted_until: input.acceptedUntil ?? null,
    last_transition_id: id,
  };
  await trx
    .insertInto("finding_states")
    .values({ finding_id: input.findingId, ...state })
    .onConflict((oc) => oc.column("finding_id").doUpdateSet(state))
    .execute();
  return {
    id,
    findingId: input.findingId,
    from: input.from,
    to: input.to,
    actor: input.actor,
    at: input.at,
    evidence: JSON.parse(evidenceJson) as unknown,
    auditSeq: entry.seq,
  };
}

export async function listTransitionsIn(
  db: Db,
  filter: { findingId?: number; since?: string } = {},
): Promise<TransitionRecord[]> {
  let query = db.selectFrom("finding_transitions").selectAll();
  if (filter.findingId !== undefined) query = query.where("finding_id", "=", filter.findingId);
  if (filter.since !== undefined) query = query.where("at", ">=", filter.since);
  return (await query.orderBy("id").execute()).map(toTransitionRecord);
}

function toTransitionRecord(row: Selectable<FindingTransitionsTable>): TransitionRecord {
  return {
    id: Number(row.id),
    findingId: Number(row.finding_id),
    from: row.from_state as WorkflowState,
    to: row.to_state as WorkflowState,
    actor: row.actor,
    at: row.at,
    evidence: JSON.parse(row.evidence_json) as unknown,
    auditSeq: Number(row.audit_seq),
  };
}

export async function findingStatesIn(
  db: Db,
  filter: FindingStateFilter,
  assetKeyIs: (address: string) => RawBuilder<SqlBool>,
): Promise<FindingStateRow[]> {
  let query = db
    .selectFrom("findings")
    .innerJoin("assets", "assets.id", "findings.asset_id")
    .leftJoin("finding_states", "finding_states.finding_id", "findings.id")
    .select([
      "findings.id",
      "assets.address",
      "findings.protocol",
      "findings.port",
      "findings.advisory",
      "findings.check_id",
      "findings.verdict",
      "findings.first_seen",
      "finding_states.state",
      "finding_states.since",
      "finding_states.previous_state",
      "finding_states.disconnected",
      "finding_states.accepted_until",
      "finding_states.last_transition_id",
    ])
    // In the workflow: it has a state row, or it is vulnerable (implicitly detected).
    .where((eb) =>
      eb.or([
        eb("finding_states.state", "is not", null),
        eb("findings.verdict", "=", "vulnerable"),
      ]),
    );
  if (filter.findingId !== undefined) query = query.where("findings.id", "=", filter.findingId);
  if (filter.address !== undefined) query = query.where(assetKeyIs(filter.address));
  if (filter.advisory !== undefined) query = query.where("findings.advisory", "=", filter.advisory);
  if (filter.state !== undefined) {
    const state = filter.state;
    query =
      state === "detected"
        ? query.where((eb) =>
            eb.or([
              eb("finding_states.state", "=", "detected"),
              eb("finding_states.state", "is", null),
            ]),
          )
        : query.where("finding_states.state", "=", state);
  }
  const rows = await query
    .orderBy("assets.address_key")
    .orderBy("findings.protocol")
    .orderBy("findings.port")
    .orderBy("findings.advisory")
    .orderBy("findings.check_id")
    .execute();
  return rows.map((row) => ({
    findingId: Number(row.id),
    address: row.address,
    protocol: row.protocol as Protocol,
    port: Number(row.port),
    advisory: row.advisory,
    checkId: row.check_id,
    verdict: row.verdict,
    state: (row.state ?? "detected") as WorkflowState,
    since: row.since ?? row.first_seen,
    previousState: (row.previous_state ?? null) as WorkflowState | null,
    disconnected: Number(row.disconnected ?? 0) === 1,
    acceptedUntil: row.accepted_until ?? null,
    lastTransitionId: row.last_transition_id === null ? null : Number(row.last_transition_id),
  }));
}
