import { describe, expect, it } from "vitest";
import {
  burndown,
  findingFingerprint,
  type ReportFinding,
  type ReportModel,
} from "../../src/reports/index.js";
import type { CheckRunRow, TransitionRecord } from "../../src/store/index.js";

/**
 * The burndown counts, per UTC day, the findings open at the end of that day: a vulnerable or
 * unknown run opens a finding, a not-vulnerable run closes it, unless the workflow tracks it, in
 * which case only its transition to "closed" does (and "reopened" opens it again).
 */

function finding(id: number, address: string): ReportFinding {
  const identity = {
    address,
    protocol: "tcp" as const,
    port: 135,
    advisory: "ms03-026",
    checkId: "ms03-026-remote-activation",
  };
  return {
    ...identity,
    id,
    fingerprint: findingFingerprint(identity),
    hostnames: [],
    verdict: "vulnerable",
    classification: null,
    reason: null,
    status: "open",
    firstSeen: "2003-08-11T10:00:00.000Z",
    lastSeen: "2003-08-11T10:00:00.000Z",
    state: null,
    rating: "very-high",
    zone: "internet",
    outcome: null,
    protectBy: null,
    fixBy: null,
    verifyBy: null,
    overdue: [],
  };
}

let runId = 0;
function run(address: string, verdict: CheckRunRow["verdict"], at: string): CheckRunRow {
  return {
    id: ++runId,
    scanId: null,
    address,
    protocol: "tcp",
    port: 135,
    checkId: "ms03-026-remote-activation",
    verdict,
    classification: null,
    reasonCode: "x",
    reason: "x",
    evidence: null,
    startedAt: at,
    finishedAt: at,
  };
}

function transition(findingId: number, from: string, to: string, at: string): TransitionRecord {
  return {
    id: ++runId,
    findingId,
    from,
    to,
    actor: "t",
    at,
    evidence: null,
    auditSeq: runId,
  } as TransitionRecord;
}

describe("burndown", () => {
  it("counts open findings at the end of each day from runs and workflow transitions", () => {
    const model: ReportModel = {
      asOf: "2003-08-16T12:00:00.000Z",
      scan: null,
      hosts: [],
      observations: [],
      findings: [finding(1, "127.20.0.1"), finding(2, "127.20.0.2"), finding(3, "127.20.0.3")],
      checkRuns: [
        run("127.20.0.1", "VULNERABLE", "2003-08-11T10:00:00.000Z"),
        run("127.20.0.2", "VULNERABLE", "2003-08-11T11:00:00.000Z"),
        run("127.20.0.3", "UNKNOWN", "2003-08-12T09:00:00.000Z"),
        // Host 1 rescanned clean on the 13th: not tracked by the workflow, so closed then.
        run("127.20.0.1", "NOT_VULNERABLE", "2003-08-13T08:00:00.000Z"),
        // Host 2 verified clean on the 13th, but the workflow closes it only on the 15th.
        run("127.20.0.2", "NOT_VULNERABLE", "2003-08-13T09:00:00.000Z"),
      ],
      transitions: [
        transition(2, "verified", "closed", "2003-08-15T16:00:00.000Z"),
        transition(3, "detected", "quarantined", "2003-08-12T10:00:00.000Z"),
      ],
    };
    expect(burndown(model)).toEqual([
      { day: "2003-08-11", open: 2 },
      { day: "2003-08-12", open: 3 },
      { day: "2003-08-13", open: 2 },
      { day: "2003-08-14", open: 2 },
      { day: "2003-08-15", open: 1 },
      { day: "2003-08-16", open: 1 },
    ]);
  });

  it("is empty when nothing was ever found", () => {
    expect(
      burndown({
        asOf: "2003-08-16T00:00:00.000Z",
        scan: null,
        hosts: [],
        observations: [],
        findings: [],
        checkRuns: [],
        transitions: [],
      }),
    ).toEqual([]);
  });
});
