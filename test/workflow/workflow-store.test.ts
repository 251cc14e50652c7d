import Database from "better-sqlite3";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../../src/audit/index.js";
import type { Control } from "../../src/risk/types.js";
import {
  openStore,
  type AssessmentInput,
  type CheckRunInput,
  type CheckVerdict,
  type Store,
} from "../../src/store/index.js";
import { applyTransition, evaluateFindings, workflowStatus } from "../../src/workflow/index.js";
import { createTestStoreLocation, type TestStoreLocation } from "../helpers/test-store.js";

/** A raw SQL statement on the store's database, behind the store's back (tampering). */
async function rawSql(loc: TestStoreLocation, text: string): Promise<void> {
  if (loc.dialect === "sqlite") {
    const db = new Database(loc.location);
    try {
      db.exec(text);
    } finally {
      db.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: loc.location });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

const ADDRESS = "127.20.0.4";
const CHECK = "ms03-026-remote-activation";

function checkRun(
  verdict: CheckVerdict,
  startedAt: string,
  over: Partial<CheckRunInput> = {},
): CheckRunInput {
  return {
    scanId: null,
    address: ADDRESS,
    protocol: "tcp",
    port: 135,
    checkId: CHECK,
    advisories: ["ms03-026"],
    verdict,
    classification: null,
    reasonCode: verdict,
    reason: `the check said ${verdict}`,
    evidence: { steps: [] },
    startedAt,
    finishedAt: new Date(Date.parse(startedAt) + 1000).toISOString(),
    ...over,
  };
}

function assessment(findingId: number, over: Partial<AssessmentInput> = {}): AssessmentInput {
  return {
    findingId,
    asOf: "2026-01-01T00:00:00.000Z",
    policyId: "ringfence-default",
    policyVersion: "1",
    policySha256: "0".repeat(64),
    advisory: "ms03-026",
    zone: "internal",
    rating: "very-high",
    outcome: "out-of-cycle",
    protectBy: "2026-01-02T00:00:00.000Z",
    fixBy: "2026-01-14T00:00:00.000Z",
    verifyBy: "2026-01-21T00:00:00.000Z",
    overdue: [],
    assessmentJson: "{}",
    inputsJson: null,
    ...over,
  };
}

/** Everything the workflow writes, to compare before and after a refusal. */
async function snapshot(store: Store) {
  return {
    audit: await store.listAuditEntries(),
    transitions: await store.listTransitions(),
    states: await store.findingStates(),
  };
}

const operator = { kind: "attestation", by: "alice", statement: "switch port 12 disabled" };

let loc: TestStoreLocation;
let store: Store;
let findingId: number;

beforeEach(async () => {
  loc = await createTestStoreLocation("rf-workflow-");
  store = await openStore(loc.location);
  await store.recordCheckRuns([checkRun("VULNERABLE", "2026-01-01T00:00:00.000Z")]);
  const [finding] = await store.listFindings({ advisory: "ms03-026" });
  findingId = finding!.id;
});

afterEach(async () => {
  await store.close();
  await loc.cleanup();
});

describe("audit trail", () => {
  it("chains appended entries and verifies them", async () => {
    const stored = await store.appendAuditEntries([
      { actor: "a", kind: "note", subject: "x", payload: { n: 1, nested: { b: 2, a: 1 } } },
      { actor: "b", kind: "note", subject: "y", evidenceRef: "ref:1" },
    ]);
    expect(stored.map((e) => e.seq)).toEqual([1, 2]);
    expect(stored[0]!.prevHash).toBe("0".repeat(64));
    expect(stored[1]!.prevHash).toBe(stored[0]!.hash);
    const listed = await store.listAuditEntries();
    expect(listed).toEqual(stored);
    expect(verifyAuditChain(listed)).toMatchObject({ ok: true, entries: 2, head: stored[1]!.hash });
    expect(await store.listAuditEntries({ subject: "y" })).toHaveLength(1);
    expect(await store.listAuditEntries({ afterSeq: 1 })).toEqual([stored[1]]);
  });

  it("records every assessment and control in the same transaction as the data", async () => {
    await store.recordAssessments([assessment(findingId)], { actor: "api:alice" });
    const control: Control = {
      id: "fw-1",
      kind: "host-firewall",
      appliesTo: { ranges: [ADDRESS] },
      covers: [{ proto: "tcp", port: 135 }],
      verifiedAt: "2026-01-01T00:00:00.000Z",
      method: "rescan-external",
      expiresAt: "2026-01-08T00:00:00.000Z",
      prov: { source: "test", observedAt: "2026-01-01T00:00:00.000Z" },
    };
    await store.recordControls([control]);
    const entries = await store.listAuditEntries();
    expect(entries.map((e) => [e.kind, e.subject, e.actor])).toEqual([
      ["assessment", `finding:${findingId}`, "api:alice"],
      ["control", "control:fw-1", "ringfence"],
    ]);
    expect(entries[0]!.evidenceRef).toMatch(/^assessment:\d+$/);
    // A bad assessment writes neither the row nor its entry.
    await expect(store.recordAssessments([assessment(999_999)])).rejects.toMatchObject({
      code: "RINGFENCE_USAGE",
    });
    expect(await store.listAuditEntries()).toHaveLength(2);
    expect(verifyAuditChain(await store.listAuditEntries()).ok).toBe(true);
  });

  it.each([
    ["an edited field", "update audit_log set actor = 'mallory' where seq = 2", 2, "hash-mismatch"],
    [
      "an edited payload",
      `update audit_log set payload_json = '{"n":9}' where seq = 3`,
      3,
      "hash-mismatch",
    ],
    [
      "a payload that is no JSON",
      "update audit_log set payload_json = 'garbage' where seq = 1",
      1,
      "hash-mismatch",
    ],
    ["a deleted entry", "delete from audit_log where seq = 2", 3, "sequence-gap"],
  ] as const)(
    "detects %s and names the first broken entry",
    async (_label, statement, seq, problem) => {
      for (let n = 1; n <= 4; n++)
        await store.appendAuditEntries([
          { actor: "a", kind: "note", subject: `s${n}`, payload: { n } },
        ]);
      expect(verifyAuditChain(await store.listAuditEntries()).ok).toBe(true);
      await rawSql(loc, statement);
      const result = verifyAuditChain(await store.listAuditEntries());
      expect(result).toMatchObject({ ok: false, seq, problem });
      if (!result.ok) expect(result.message).toContain(`audit entry ${seq}`);
    },
  );

  it("detects a rewritten entry whose own hash was recomputed (the next link breaks)", async () => {
    for (let n = 1; n <= 3; n++)
      await store.appendAuditEntries([
        { actor: "a", kind: "note", subject: `s${n}`, payload: { n } },
      ]);
    const entries = await store.listAuditEntries();
    const forged = { ...entries[1]!, actor: "mallory" };
    const { auditEntryHash } = await import("../../src/audit/index.js");
    const hash = auditEntryHash(forged);
    await rawSql(loc, `update audit_log set actor = 'mallory', hash = '${hash}' where seq = 2`);
    expect(verifyAuditChain(await store.listAuditEntries())).toMatchObject({
      ok: false,
      seq: 3,
      problem: "broken-link",
    });
  });
});

describe("transitions", () => {
  it("an implicit detected finding moves with evidence and each move is audited", async () => {
    expect(await store.findingStates()).toMatchObject([
      { findingId, state: "detected", lastTransitionId: null, disconnected: false },
    ]);
    const q = await applyTransition(store, {
      findingId,
      to: "quarantined",
      actor: "operator:alice",
      evidence: operator,
      at: "2026-01-02T00:00:00.000Z",
    });
    expect(q).toMatchObject({ from: "detected", to: "quarantined", findingId });
    const [row] = await store.findingStates({ findingId });
    expect(row).toMatchObject({ state: "quarantined", disconnected: true, lastTransitionId: q.id });
    const [entry] = await store.listAuditEntries({ kind: "transition" });
    expect(entry).toMatchObject({
      seq: q.auditSeq,
      actor: "operator:alice",
      subject: `finding:${findingId}`,
      evidenceRef: "attestation",
      payload: { from: "detected", to: "quarantined", finding: { address: ADDRESS, port: 135 } },
    });
  });

  it("a refused transition changes nothing", async () => {
    await applyTransition(store, {
      findingId,
      to: "quarantined",
      actor: "a",
      evidence: operator,
      at: "2026-01-02T00:00:00.000Z",
    });
    const before = await snapshot(store);
    const refusals: [string, unknown][] = [
      ["closed", { kind: "reconnect", by: "a", statement: "b" }],
      ["patched", { kind: "control", controlId: "nope" }],
      ["verified", { kind: "check-run", checkRunId: 1 }],
      ["shielded", { kind: "control", controlId: "nope" }],
      [
        "risk-accepted",
        { kind: "risk-acceptance", approver: "x", reason: "y", expires: "2020-01-01T00:00:00Z" },
      ],
    ];
    for (const [to, evidence] of refusals) {
      await expect(
        applyTransition(store, {
          findingId,
          to: to as never,
          actor: "a",
          evidence,
          at: "2026-01-03T00:00:00.000Z",
        }),
      ).rejects.toMatchObject({ code: "RINGFENCE_TRANSITION_REFUSED" });
    }
    await expect(
      applyTransition(store, {
        findingId,
        to: "patched",
        actor: "a",
        evidence: { kind: "attestation" },
      }),
    ).rejects.toMatchObject({ code: "RINGFENCE_USAGE" });
    await expect(
      applyTransition(store, { findingId: 424242, to: "patched", actor: "a", evidence: operator }),
    ).rejects.toMatchObject({ code: "RINGFENCE_USAGE" });
    expect(await snapshot(store)).toEqual(before);
  });

  it("recordTransition refuses a stale from-state (a race) and writes nothing", async () => {
    const before = await snapshot(store);
    await expect(
      store.recordTransition({
        findingId,
        from: "patched",
        to: "verified",
        actor: "a",
        at: "2026-01-02T00:00:00.000Z",
        evidence: {},
        disconnected: false,
      }),
    ).rejects.toMatchObject({ code: "RINGFENCE_TRANSITION_CONFLICT" });
    expect(await snapshot(store)).toEqual(before);
  });
});

describe("evaluation after a rescan", () => {
  async function toPatched(): Promise<void> {
    await applyTransition(store, {
      findingId,
      to: "shielded",
      actor: "a",
      evidence: operator,
      at: "2026-01-02T00:00:00.000Z",
    });
    await applyTransition(store, {
      findingId,
      to: "patched",
      actor: "a",
      evidence: { kind: "attestation", source: "patch-system", by: "wsus", statement: "KB824146" },
      at: "2026-01-03T00:00:00.000Z",
    });
  }

  it("UNKNOWN changes nothing; NOT_VULNERABLE verifies; VULNERABLE reopens", async () => {
    await toPatched();
    await store.recordCheckRuns([checkRun("UNKNOWN", "2026-01-04T00:00:00.000Z")]);
    const unknown = await evaluateFindings(store, { at: "2026-01-04T01:00:00.000Z" });
    expect(unknown).toMatchObject([
      { kind: "unchanged", reason: expect.stringMatching(/UNKNOWN/) },
    ]);
    expect((await store.findingStates())[0]!.state).toBe("patched");

    // A run of another check on the same service is not evidence for this finding.
    await store.recordCheckRuns([
      checkRun("NOT_VULNERABLE", "2026-01-05T00:00:00.000Z", {
        checkId: "ms03-039-kb824146scan",
        advisories: ["ms03-039"],
      }),
    ]);
    expect(
      await evaluateFindings(store, { at: "2026-01-05T01:00:00.000Z", findingIds: [findingId] }),
    ).toMatchObject([{ kind: "unchanged" }]);

    await store.recordCheckRuns([checkRun("NOT_VULNERABLE", "2026-01-06T00:00:00.000Z")]);
    const verified = await evaluateFindings(store, {
      at: "2026-01-06T01:00:00.000Z",
      findingIds: [findingId],
    });
    expect(verified).toMatchObject([
      {
        kind: "transition",
        record: { from: "patched", to: "verified", actor: "ringfence verify" },
      },
    ]);
    // Evaluating again without a new run changes nothing.
    expect(
      await evaluateFindings(store, { at: "2026-01-06T02:00:00.000Z", findingIds: [findingId] }),
    ).toMatchObject([{ kind: "unchanged" }]);

    await store.recordCheckRuns([checkRun("VULNERABLE", "2026-01-07T00:00:00.000Z")]);
    const reopened = await evaluateFindings(store, {
      at: "2026-01-07T01:00:00.000Z",
      findingIds: [findingId],
    });
    expect(reopened).toMatchObject([
      { kind: "transition", record: { from: "verified", to: "reopened" } },
    ]);
    expect(verifyAuditChain(await store.listAuditEntries()).ok).toBe(true);
    expect((await store.listTransitions({ findingId })).map((t) => t.to)).toEqual([
      "shielded",
      "patched",
      "verified",
      "reopened",
    ]);
  });

  it("an expired risk acceptance returns to the state it suspended", async () => {
    await applyTransition(store, {
      findingId,
      to: "shielded",
      actor: "a",
      evidence: operator,
      at: "2026-01-02T00:00:00.000Z",
    });
    await applyTransition(store, {
      findingId,
      to: "risk-accepted",
      actor: "a",
      evidence: {
        kind: "risk-acceptance",
        approver: "ciso",
        reason: "legacy HMI",
        expires: "2026-01-10T00:00:00Z",
      },
      at: "2026-01-03T00:00:00.000Z",
    });
    // Before the expiry, and a VULNERABLE rescan of an accepted risk, change nothing.
    await store.recordCheckRuns([checkRun("VULNERABLE", "2026-01-04T00:00:00.000Z")]);
    expect(await evaluateFindings(store, { at: "2026-01-05T00:00:00.000Z" })).toMatchObject([
      { kind: "unchanged" },
    ]);
    expect((await store.findingStates())[0]).toMatchObject({
      state: "risk-accepted",
      previousState: "shielded",
    });
    const after = await evaluateFindings(store, { at: "2026-01-11T00:00:00.000Z" });
    expect(after[0]).toMatchObject({
      kind: "transition",
      record: { from: "risk-accepted", to: "shielded", evidence: { kind: "expiry" } },
    });
    expect((await store.findingStates())[0]).toMatchObject({
      state: "shielded",
      acceptedUntil: null,
    });
  });
});

describe("workflowStatus", () => {
  it("counts per state and rating, flags overdue clocks the state does not meet, lists the next", async () => {
    await store.recordCheckRuns([
      checkRun("VULNERABLE", "2026-01-01T00:00:00.000Z", { address: "127.20.0.5" }),
      checkRun("NOT_VULNERABLE", "2026-01-01T00:00:00.000Z", { address: "127.20.0.6" }),
    ]);
    const findings = await store.listFindings({ advisory: "ms03-026" });
    const other = findings.find((f) => f.address === "127.20.0.5")!.id;
    await store.recordAssessments([assessment(findingId), assessment(other, { rating: "high" })]);
    await applyTransition(store, {
      findingId,
      to: "shielded",
      actor: "a",
      evidence: operator,
      at: "2026-01-01T12:00:00.000Z",
    });

    const status = await workflowStatus(store, { asOf: "2026-01-03T00:00:00.000Z" });
    // The not-vulnerable finding on .6 is not in the workflow.
    expect(status.total).toBe(2);
    expect(status.counts.shielded["very-high"]).toBe(1);
    expect(status.counts.detected.high).toBe(1);
    expect(status.counts.closed.unrated).toBe(0);
    // .5 missed its protect-by; .4 is shielded, which meets protect-by but not fix-by.
    expect(status.overdue.map((d) => [d.findingId, d.clock])).toEqual([[other, "protectBy"]]);
    expect(status.next.map((d) => [d.findingId, d.clock])).toEqual([
      [findingId, "fixBy"],
      [other, "fixBy"],
      [findingId, "verifyBy"],
      [other, "verifyBy"],
    ]);
    const later = await workflowStatus(store, { asOf: "2026-02-01T00:00:00.000Z" });
    expect(later.overdue).toHaveLength(5);
    expect(later.next).toEqual([]);
  });
});
