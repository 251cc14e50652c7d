import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Control } from "../../src/risk/types.js";
import {
  CHECK_VERDICTS,
  WORKFLOW_STATES,
  type CheckRunRow,
  type CheckVerdict,
  type WorkflowState,
} from "../../src/store/index.js";
import {
  ALLOWED_FROM,
  decideTransition,
  parseEvidence,
  type CurrentState,
  type Evidence,
  type FindingIdentity,
  type TransitionContext,
} from "../../src/workflow/index.js";

const FINDING: FindingIdentity = {
  id: 7,
  address: "127.20.0.4",
  protocol: "tcp",
  port: 135,
  advisory: "ms03-026",
  checkId: "ms03-026-remote-activation",
};
const SINCE = "2026-01-10T00:00:00.000Z";
const AT = "2026-01-12T00:00:00.000Z";

function current(state: WorkflowState, over: Partial<CurrentState> = {}): CurrentState {
  return {
    state,
    since: SINCE,
    previousState: null,
    disconnected: false,
    acceptedUntil: null,
    ...over,
  };
}

function run(over: Partial<CheckRunRow> = {}): CheckRunRow {
  return {
    id: 41,
    scanId: "s-1",
    address: FINDING.address,
    protocol: "tcp",
    port: 135,
    checkId: FINDING.checkId,
    verdict: "NOT_VULNERABLE",
    classification: null,
    reasonCode: "X",
    reason: "x",
    evidence: {},
    startedAt: "2026-01-11T00:00:00.000Z",
    finishedAt: "2026-01-11T00:00:05.000Z",
    ...over,
  };
}

function control(over: Partial<Control> = {}): Control {
  return {
    id: "verify-shield:p:127.20.0.4:ns",
    kind: "host-firewall",
    appliesTo: { ranges: ["127.20.0.4"] },
    covers: [{ proto: "tcp", port: 135 }],
    verifiedAt: "2026-01-11T00:00:00.000Z",
    method: "rescan-external",
    expiresAt: "2026-01-18T00:00:00.000Z",
    prov: { source: "test", observedAt: "2026-01-11T00:00:00.000Z" },
    ...over,
  } as Control;
}

const attest: Evidence = {
  kind: "attestation",
  ref: "attestation",
  source: "operator",
  by: "alice",
  statement: "switch port 12 disabled",
};
const patchSystem: Evidence = {
  ...attest,
  source: "patch-system",
  by: "wsus",
  statement: "KB824146",
} as Evidence;
const runEvidence = (id = 41): Evidence => ({
  kind: "check-run",
  ref: `check-run:${id}`,
  checkRunId: id,
});
const controlEvidence: Evidence = {
  kind: "control",
  ref: "control:x",
  controlId: "verify-shield:p:127.20.0.4:ns",
};
const reconnect: Evidence = {
  kind: "reconnect",
  ref: "reconnect",
  by: "alice",
  statement: "port 12 on",
};
const acceptance = (expires = "2026-02-01T00:00:00.000Z"): Evidence => ({
  kind: "risk-acceptance",
  ref: "risk-acceptance",
  approver: "ciso",
  reason: "legacy HMI",
  expires,
});

function ctx(
  state: CurrentState,
  to: WorkflowState,
  evidence: Evidence,
  extra: Partial<TransitionContext> = {},
): TransitionContext {
  return { finding: FINDING, current: state, to, evidence, at: AT, ...extra };
}

describe("decideTransition: the main line and its evidence", () => {
  const cases: [string, TransitionContext, true | RegExp][] = [
    [
      "quarantine on an operator attestation",
      ctx(current("detected"), "quarantined", attest),
      true,
    ],
    [
      "quarantine on a verified covering control",
      ctx(current("detected"), "quarantined", controlEvidence, { control: control() }),
      true,
    ],
    [
      "quarantine on a patch-system attestation",
      ctx(current("detected"), "quarantined", patchSystem),
      /operator/,
    ],
    [
      "quarantine on a control that is not stored",
      ctx(current("detected"), "quarantined", controlEvidence),
      /no stored control/,
    ],
    [
      "quarantine on a declared control",
      ctx(current("detected"), "quarantined", controlEvidence, {
        control: control({ method: "declared" }),
      }),
      /declared, not verified/,
    ],
    [
      "shield on an expired control",
      ctx(current("quarantined"), "shielded", controlEvidence, {
        control: control({ expiresAt: "2026-01-11T12:00:00.000Z" }),
      }),
      /expired/,
    ],
    [
      "shield on a control for another host",
      ctx(current("detected"), "shielded", controlEvidence, {
        control: control({ appliesTo: { ranges: ["127.20.0.9"] } }),
      }),
      /does not cover/,
    ],
    [
      "shield on a control for another port",
      ctx(current("detected"), "shielded", controlEvidence, {
        control: control({ covers: [{ proto: "tcp", port: 445 }] }),
      }),
      /does not cover/,
    ],
    [
      "shield on a control that mitigates the advisory",
      ctx(current("detected"), "shielded", controlEvidence, {
        control: control({ covers: [], mitigates: ["MS03-026"] }),
      }),
      true,
    ],
    [
      "shield on a control verified after the transition",
      ctx(current("detected"), "shielded", controlEvidence, {
        control: control({ verifiedAt: "2026-01-13T00:00:00.000Z" }),
      }),
      /after/,
    ],
    [
      "shield on a check run",
      ctx(current("detected"), "shielded", runEvidence(), { checkRun: run() }),
      /needs control or attestation/,
    ],
    ["patch on an attestation", ctx(current("shielded"), "patched", patchSystem), true],
    [
      "patch on a control",
      ctx(current("shielded"), "patched", controlEvidence, { control: control() }),
      /needs attestation/,
    ],
    [
      "verify on a later NOT_VULNERABLE run",
      ctx(current("patched"), "verified", runEvidence(), { checkRun: run() }),
      true,
    ],
    [
      "verify on a shielded finding",
      ctx(current("shielded"), "verified", runEvidence(), { checkRun: run() }),
      true,
    ],
    [
      "verify on an UNKNOWN run",
      ctx(current("patched"), "verified", runEvidence(), { checkRun: run({ verdict: "UNKNOWN" }) }),
      /returned UNKNOWN/,
    ],
    [
      "verify on a VULNERABLE run",
      ctx(current("patched"), "verified", runEvidence(), {
        checkRun: run({ verdict: "VULNERABLE" }),
      }),
      /returned VULNERABLE/,
    ],
    [
      "verify on a run older than the patch",
      ctx(current("patched"), "verified", runEvidence(), {
        checkRun: run({ startedAt: "2026-01-09T00:00:00.000Z" }),
      }),
      /not after/,
    ],
    [
      "verify on another check's run",
      ctx(current("patched"), "verified", runEvidence(), {
        checkRun: run({ checkId: "ms03-039-kb824146scan" }),
      }),
      /not of the detecting check/,
    ],
    [
      "verify on another host's run",
      ctx(current("patched"), "verified", runEvidence(), {
        checkRun: run({ address: "127.20.0.5" }),
      }),
      /not of 127\.20\.0\.4/,
    ],
    [
      "verify on another port's run",
      ctx(current("patched"), "verified", runEvidence(), { checkRun: run({ port: 593 }) }),
      /tcp\/593/,
    ],
    [
      "verify on a run not stored",
      ctx(current("patched"), "verified", runEvidence(99), { checkRun: undefined }),
      /no stored check run 99/,
    ],
    [
      "verify from detected",
      ctx(current("detected"), "verified", runEvidence(), { checkRun: run() }),
      /cannot go from detected to verified/,
    ],
    ["verify on an attestation", ctx(current("patched"), "verified", attest), /needs check-run/],
    [
      "close a verified finding never disconnected",
      ctx(current("verified"), "closed", attest),
      true,
    ],
    [
      "close a disconnected one without reconnect",
      ctx(current("verified", { disconnected: true }), "closed", attest),
      /reconnect/,
    ],
    [
      "reconnect a disconnected verified one",
      ctx(current("verified", { disconnected: true }), "closed", reconnect),
      true,
    ],
    ["close a patched one", ctx(current("patched"), "closed", reconnect), /only from verified/],
    [
      "close on a check run",
      ctx(current("verified"), "closed", runEvidence(), { checkRun: run() }),
      /needs reconnect or attestation/,
    ],
    ["accept a risk", ctx(current("shielded"), "risk-accepted", acceptance()), true],
    [
      "accept a risk that already expired",
      ctx(current("shielded"), "risk-accepted", acceptance("2026-01-11T00:00:00.000Z")),
      /not after/,
    ],
    [
      "accept a closed finding's risk",
      ctx(current("closed"), "risk-accepted", acceptance()),
      /cannot go from closed/,
    ],
    [
      "reopen on a later VULNERABLE run",
      ctx(current("closed"), "reopened", runEvidence(), {
        checkRun: run({ verdict: "VULNERABLE" }),
      }),
      true,
    ],
    [
      "reopen on a NOT_VULNERABLE run",
      ctx(current("closed"), "reopened", runEvidence(), { checkRun: run() }),
      /VULNERABLE check run/,
    ],
    [
      "reopen on an UNKNOWN run",
      ctx(current("verified"), "reopened", runEvidence(), {
        checkRun: run({ verdict: "UNKNOWN" }),
      }),
      /returned UNKNOWN/,
    ],
    [
      "reopen an accepted risk by rescan",
      ctx(current("risk-accepted", { previousState: "shielded" }), "reopened", runEvidence(), {
        checkRun: run({ verdict: "VULNERABLE" }),
      }),
      /accepted/,
    ],
    [
      "reopen a detected finding",
      ctx(current("detected"), "reopened", attest),
      /cannot go from detected/,
    ],
    [
      "a transition before the current state began",
      { ...ctx(current("detected"), "quarantined", attest), at: "2026-01-01T00:00:00.000Z" },
      /before the finding entered/,
    ],
    [
      "back to detected by hand",
      ctx(current("quarantined"), "detected", attest),
      /only when a risk acceptance expires/,
    ],
  ];
  it.each(cases)("%s", (_name, context, expected) => {
    const decision = decideTransition(context);
    if (expected === true)
      expect(decision).toMatchObject({ ok: true, next: { state: context.to } });
    else {
      expect(decision.ok).toBe(false);
      if (!decision.ok) expect(decision.reason).toMatch(expected);
    }
  });

  it("quarantine marks the host disconnected; reconnect clears it", () => {
    const q = decideTransition(ctx(current("detected"), "quarantined", attest));
    expect(q).toMatchObject({ ok: true, next: { disconnected: true } });
    const c = decideTransition(
      ctx(current("verified", { disconnected: true }), "closed", reconnect),
    );
    expect(c).toMatchObject({ ok: true, next: { disconnected: false } });
  });

  it("a risk acceptance remembers the state it suspends, and its expiry returns there", () => {
    const a = decideTransition(ctx(current("shielded"), "risk-accepted", acceptance()));
    expect(a).toMatchObject({
      ok: true,
      next: { previousState: "shielded", acceptedUntil: "2026-02-01T00:00:00.000Z" },
    });
    const accepted = current("risk-accepted", {
      previousState: "shielded",
      acceptedUntil: "2026-01-11T00:00:00.000Z",
    });
    const expiry: Evidence = {
      kind: "expiry",
      ref: "expiry",
      acceptedUntil: "2026-01-11T00:00:00.000Z",
    };
    expect(decideTransition(ctx(accepted, "shielded", expiry))).toMatchObject({
      ok: true,
      next: { state: "shielded", previousState: null },
    });
    expect(decideTransition(ctx(accepted, "detected", expiry)).ok).toBe(false);
    const early = current("risk-accepted", {
      previousState: "shielded",
      acceptedUntil: "2026-03-01T00:00:00.000Z",
    });
    expect(decideTransition(ctx(early, "shielded", expiry))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/not expired/),
    });
  });
});

describe("decideTransition: invariants (fast-check)", () => {
  const state = fc.constantFrom(...WORKFLOW_STATES);
  const iso = fc
    .integer({ min: Date.parse("2026-01-01T00:00:00Z"), max: Date.parse("2026-03-01T00:00:00Z") })
    .map((t) => new Date(t).toISOString());
  const verdict = fc.constantFrom<CheckVerdict>(...CHECK_VERDICTS);
  const text = fc.constantFrom("", " ", "alice", "wsus");
  const evidence: fc.Arbitrary<Evidence> = fc.oneof(
    fc.record({
      kind: fc.constant("control" as const),
      ref: fc.constant("control:c"),
      controlId: fc.constantFrom("c", "other"),
    }),
    fc.record({
      kind: fc.constant("attestation" as const),
      ref: fc.constant("attestation" as const),
      source: fc.constantFrom("operator" as const, "patch-system" as const),
      by: text,
      statement: text,
    }),
    fc.record({
      kind: fc.constant("check-run" as const),
      ref: fc.constant("check-run:1"),
      checkRunId: fc.constantFrom(1, 2),
    }),
    fc.record({
      kind: fc.constant("reconnect" as const),
      ref: fc.constant("reconnect" as const),
      by: text,
      statement: text,
    }),
    fc.record({
      kind: fc.constant("risk-acceptance" as const),
      ref: fc.constant("risk-acceptance" as const),
      approver: text,
      reason: text,
      expires: iso,
    }),
    fc.record({
      kind: fc.constant("expiry" as const),
      ref: fc.constant("expiry" as const),
      acceptedUntil: iso,
    }),
  );
  const context: fc.Arbitrary<TransitionContext> = fc.record({
    finding: fc.constant(FINDING),
    current: fc.record({
      state,
      since: iso,
      previousState: fc.option(state, { nil: null }),
      disconnected: fc.boolean(),
      acceptedUntil: fc.option(iso, { nil: null }),
    }),
    to: state,
    evidence,
    at: iso,
    control: fc.option(
      fc
        .record({
          id: fc.constantFrom("c", "other"),
          verifiedAt: iso,
          expiresAt: iso,
          method: fc.constantFrom("rescan-external" as const, "declared" as const),
          host: fc.constantFrom("127.20.0.4", "127.20.0.9"),
          port: fc.constantFrom(135, 445),
        })
        .map((c) =>
          control({
            id: c.id,
            verifiedAt: c.verifiedAt,
            expiresAt: c.expiresAt,
            method: c.method,
            appliesTo: { ranges: [c.host] },
            covers: [{ proto: "tcp", port: c.port }],
          }),
        ),
      { nil: undefined },
    ),
    checkRun: fc.option(
      fc
        .record({
          id: fc.constantFrom(1, 2),
          verdict,
          startedAt: iso,
          address: fc.constantFrom("127.20.0.4", "127.20.0.5"),
          checkId: fc.constantFrom(FINDING.checkId, "ms03-039-kb824146scan"),
        })
        .map((r) => run({ ...r, finishedAt: r.startedAt })),
      { nil: undefined },
    ),
  });

  it("UNKNOWN (or NOT_APPLICABLE) never closes, verifies or reopens anything", () => {
    fc.assert(
      fc.property(context, (c) => {
        const d = decideTransition(c);
        if (
          c.evidence.kind === "check-run" &&
          c.checkRun !== undefined &&
          (c.checkRun.verdict === "UNKNOWN" || c.checkRun.verdict === "NOT_APPLICABLE")
        )
          return !d.ok;
        if (d.ok && (c.to === "verified" || c.to === "closed"))
          return c.evidence.kind !== "check-run" || c.checkRun?.verdict === "NOT_VULNERABLE";
        return true;
      }),
      { numRuns: 5000 },
    );
  });

  it("no transition without its evidence", () => {
    fc.assert(
      fc.property(context, (c) => {
        const d = decideTransition(c);
        if (!d.ok) return true;
        const e = c.evidence;
        const at = Date.parse(c.at);
        if (e.kind === "expiry")
          return (
            c.current.state === "risk-accepted" &&
            c.current.previousState === c.to &&
            Date.parse(c.current.acceptedUntil ?? "") <= at
          );
        // Otherwise the edge is one of the machine's.
        if (!ALLOWED_FROM[c.to].includes(c.current.state)) return false;
        switch (c.to) {
          case "quarantined":
          case "shielded":
            return (
              (e.kind === "attestation" &&
                e.source === "operator" &&
                e.by.trim() !== "" &&
                e.statement.trim() !== "") ||
              (e.kind === "control" &&
                c.control?.id === e.controlId &&
                c.control.method !== "declared" &&
                Date.parse(c.control.verifiedAt ?? "") <= at &&
                at < Date.parse(c.control.expiresAt ?? "") &&
                c.control.appliesTo.ranges?.[0] === FINDING.address &&
                c.control.covers[0]?.port === FINDING.port)
            );
          case "patched":
            return e.kind === "attestation" && e.by.trim() !== "" && e.statement.trim() !== "";
          case "verified":
            return (
              e.kind === "check-run" &&
              c.checkRun?.id === e.checkRunId &&
              c.checkRun.verdict === "NOT_VULNERABLE" &&
              c.checkRun.checkId === FINDING.checkId &&
              c.checkRun.address === FINDING.address &&
              Date.parse(c.checkRun.startedAt) > Date.parse(c.current.since)
            );
          case "closed":
            return (
              c.current.state === "verified" && (!c.current.disconnected || e.kind === "reconnect")
            );
          case "risk-accepted":
            return (
              e.kind === "risk-acceptance" &&
              e.approver.trim() !== "" &&
              e.reason.trim() !== "" &&
              Date.parse(e.expires) > at
            );
          case "reopened":
            return (
              (e.kind === "check-run" &&
                c.checkRun?.verdict === "VULNERABLE" &&
                c.current.state !== "risk-accepted") ||
              (e.kind === "attestation" && e.source === "operator")
            );
          case "detected":
            return false;
        }
      }),
      { numRuns: 5000 },
    );
  });

  it("is a function of its input (same context, same decision) and never throws", () => {
    fc.assert(
      fc.property(context, (c) => {
        expect(decideTransition(c)).toEqual(decideTransition(structuredClone(c)));
      }),
      { numRuns: 1000 },
    );
  });
});

describe("parseEvidence", () => {
  it("fills references and normalises the expiry", () => {
    expect(parseEvidence({ kind: "check-run", checkRunId: 5 })).toEqual({
      kind: "check-run",
      ref: "check-run:5",
      checkRunId: 5,
    });
    expect(parseEvidence({ kind: "attestation", by: "a", statement: "b" })).toMatchObject({
      source: "operator",
    });
    expect(
      parseEvidence({ kind: "risk-acceptance", approver: "x", reason: "y", expires: "2026-02-01" }),
    ).toMatchObject({
      expires: "2026-02-01T00:00:00.000Z",
    });
  });

  it.each([
    ["null", null],
    ["a bare string", "attestation"],
    ["an attestation without a statement", { kind: "attestation", by: "a" }],
    ["an unknown field", { kind: "attestation", by: "a", statement: "b", extra: 1 }],
    ["a negative run id", { kind: "check-run", checkRunId: -1 }],
    ["a run id as text", { kind: "check-run", checkRunId: "5" }],
    [
      "an expiry that is no instant",
      { kind: "risk-acceptance", approver: "x", reason: "y", expires: "soon" },
    ],
    ["a 5000-character statement", { kind: "attestation", by: "a", statement: "x".repeat(5000) }],
    ["an expiry (the workflow's own evidence)", { kind: "expiry", acceptedUntil: "2026-01-01" }],
  ])("refuses %s with a usage error", (_label, input) => {
    expect(() => parseEvidence(input)).toThrow(
      expect.objectContaining({ code: "RINGFENCE_USAGE" }),
    );
  });

  it("never throws anything but a RingfenceError on arbitrary JSON", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          parseEvidence(value);
        } catch (error) {
          expect(error).toMatchObject({ code: "RINGFENCE_USAGE" });
        }
      }),
    );
  });
});
