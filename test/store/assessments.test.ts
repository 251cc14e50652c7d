import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import {
  LATEST_SCHEMA_VERSION,
  openStore,
  type AssessmentInput,
  type CheckRunInput,
  type Store,
} from "../../src/store/index.js";
import { createTestStoreLocation, type TestStoreLocation } from "../helpers/test-store.js";
import {
  isPostgresLocation,
  metaSchemaVersion,
  openStoreAtVersion,
  sqlRows,
  tableNames,
} from "./store-test-helpers.js";

let locations: TestStoreLocation[] = [];
afterEach(async () => {
  for (const where of locations) await where.cleanup();
  locations = [];
});

/** A fresh store location (a SQLite file, or a PostgreSQL database in the postgres project). */
async function newLocation(): Promise<string> {
  const where = await createTestStoreLocation();
  locations.push(where);
  return where.location;
}

function run(address: string, advisory: string, verdict: CheckRunInput["verdict"]): CheckRunInput {
  return {
    scanId: null,
    address,
    protocol: "tcp",
    port: 135,
    checkId: `${advisory}-check`,
    advisories: [advisory],
    verdict,
    classification: null,
    reasonCode: "test",
    reason: "test run",
    evidence: [],
    startedAt: "2024-03-01T00:00:00.000Z",
    finishedAt: "2024-03-01T00:00:01.000Z",
  };
}

function assessment(findingId: number, extra: Partial<AssessmentInput> = {}): AssessmentInput {
  return {
    findingId,
    asOf: "2003-08-12T00:00:00.000Z",
    policyId: "ringfence-default",
    policyVersion: "1",
    policySha256: "ab".repeat(32),
    advisory: "ms03-026",
    zone: "internet",
    rating: "very-high",
    outcome: "immediate",
    protectBy: "2003-08-12T04:00:00.000Z",
    fixBy: "2003-08-15T00:00:00.000Z",
    verifyBy: "2003-08-16T00:00:00.000Z",
    overdue: [],
    assessmentJson: JSON.stringify({ findingId: String(findingId) }),
    inputsJson: null,
    ...extra,
  };
}

function tableRows(path: string): Promise<unknown[]> {
  return sqlRows(path, "select * from assessments order by id");
}

async function withStore<T>(path: string, use: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(path);
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

describe("assessments in the store", () => {
  it("records assessments in one transaction and reads the latest per finding", async () => {
    const path = await newLocation();
    await withStore(path, async (store) => {
      await store.recordCheckRuns([
        run("10.0.0.9", "ms03-026", "VULNERABLE"),
        run("10.0.0.10", "ms03-026", "VULNERABLE"),
        run("10.0.0.2", "ms03-039", "VULNERABLE"),
      ]);
      const findings = await store.listFindings();
      const id = (address: string) => findings.find((f) => f.address === address)!.id;
      await store.recordAssessments([
        assessment(id("10.0.0.9"), { rating: "high", protectBy: null }),
        assessment(id("10.0.0.10"), { zone: "internal", protectBy: "2003-08-13T00:00:00.000Z" }),
        assessment(id("10.0.0.2"), { advisory: "ms03-039" }),
      ]);
      // A re-assessment of 10.0.0.9 supersedes the first one.
      await store.recordAssessments([
        assessment(id("10.0.0.9"), { asOf: "2003-07-17T00:00:00.000Z", rating: "very-high" }),
      ]);

      const latest = await store.latestAssessments();
      // very-high first, then protect-by, then numeric address order.
      expect(latest.map((a) => [a.address, a.rating, a.protectBy, a.asOf])).toEqual([
        ["10.0.0.2", "very-high", "2003-08-12T04:00:00.000Z", "2003-08-12T00:00:00.000Z"],
        ["10.0.0.9", "very-high", "2003-08-12T04:00:00.000Z", "2003-07-17T00:00:00.000Z"],
        ["10.0.0.10", "very-high", "2003-08-13T00:00:00.000Z", "2003-08-12T00:00:00.000Z"],
      ]);
      expect(latest[1]).toMatchObject({
        findingId: id("10.0.0.9"),
        protocol: "tcp",
        port: 135,
        findingAdvisory: "ms03-026",
        checkId: "ms03-026-check",
        verdict: "vulnerable",
        status: "open",
        policySha256: "ab".repeat(32),
        overdue: [],
      });
      expect((await store.assessmentOf(id("10.0.0.9")))?.asOf).toBe("2003-07-17T00:00:00.000Z");
      expect(await store.assessmentOf(9999)).toBeUndefined();

      expect((await store.latestAssessments({ zone: "internal" })).map((a) => a.address)).toEqual([
        "10.0.0.10",
      ]);
      expect(
        (await store.latestAssessments({ advisory: "MS03-039" })).map((a) => a.address),
      ).toEqual(["10.0.0.2"]);
      expect((await store.latestAssessments({ address: "10.0.0.9" })).length).toBe(1);
      expect((await store.latestAssessments({ rating: "high" })).length).toBe(0);
      expect(
        (await store.latestAssessments({ overdueAt: "2003-08-12T12:00:00.000Z" })).map(
          (a) => a.address,
        ),
      ).toEqual(["10.0.0.2", "10.0.0.9"]);
      expect((await store.latestAssessments({ limit: 1 })).length).toBe(1);

      // The finding closes: its assessment stays, with the finding's new status.
      await store.recordCheckRuns([
        {
          ...run("10.0.0.10", "ms03-026", "NOT_VULNERABLE"),
          finishedAt: "2024-03-02T00:00:00.000Z",
        },
      ]);
      expect((await store.latestAssessments({ status: "closed" })).map((a) => a.address)).toEqual([
        "10.0.0.10",
      ]);
      expect((await store.latestAssessments({ status: "open" })).length).toBe(2);
    });
  });

  it("writes nothing when one row is bad or names no finding", async () => {
    const path = await newLocation();
    await withStore(path, async (store) => {
      await store.recordCheckRuns([run("10.0.0.9", "ms03-026", "VULNERABLE")]);
      const [finding] = await store.listFindings();
      await store.recordAssessments([assessment(finding!.id)]);
    });
    const before = await tableRows(path);
    await withStore(path, async (store) => {
      const [finding] = await store.listFindings();
      await expect(
        store.recordAssessments([assessment(finding!.id), assessment(4242)]),
      ).rejects.toThrow(/no finding 4242/);
      await expect(
        store.recordAssessments([
          assessment(finding!.id),
          assessment(finding!.id, { rating: "severe" as never }),
        ]),
      ).rejects.toThrow(/rating "severe"/);
      await expect(
        store.recordAssessments([assessment(finding!.id, { assessmentJson: "{" })]),
      ).rejects.toThrow(/assessmentJson is not JSON/);
    });
    expect(await tableRows(path)).toEqual(before);
  });

  it("migrates a version-2 database in place, keeping its findings", async () => {
    const path = await newLocation();
    const v2 = await openStoreAtVersion(path, 2);
    await v2.recordCheckRuns([
      run("10.0.0.9", "ms03-026", "VULNERABLE"),
      run("10.0.0.2", "ms03-039", "NOT_VULNERABLE"),
    ]);
    const before = await v2.listFindings();
    await v2.close();
    expect(await tableNames(path)).not.toContain("assessments");

    await withStore(path, async (store) => {
      expect(await store.listFindings()).toEqual(before);
      expect(await store.latestAssessments()).toEqual([]);
      const open = before.find((f) => f.status === "open")!;
      await store.recordAssessments([assessment(open.id)]);
      expect((await store.assessmentOf(open.id))?.address).toBe("10.0.0.9");
    });
    expect(await tableNames(path)).toContain("assessments");
    expect(await metaSchemaVersion(path)).toBe(LATEST_SCHEMA_VERSION);
    if (!isPostgresLocation(path)) {
      // SQLite also keeps it in the file header, for the read-only guard.
      const db = new Database(path, { readonly: true });
      try {
        expect(db.pragma("user_version", { simple: true })).toBe(LATEST_SCHEMA_VERSION);
      } finally {
        db.close();
      }
    }
  });
});
