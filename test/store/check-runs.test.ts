import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findingFromStoreRow, type FindingRow } from "../../src/risk/index.js";
import { openStore, type CheckRunInput, type Store } from "../../src/store/index.js";
import { createTestStoreLocation, type TestStoreLocation } from "../helpers/test-store.js";
import { isPostgresLocation, probe, sqlRows } from "./store-test-helpers.js";

let where: TestStoreLocation;
let path: string;
let store: Store;
beforeEach(async () => {
  where = await createTestStoreLocation();
  path = where.location;
  store = await openStore(path);
});
afterEach(async () => {
  await store.close();
  await where.cleanup();
});

/** Reads the database directly, past the Store API. */
function rows<T = Record<string, unknown>>(query: string, ...params: unknown[]): Promise<T[]> {
  return sqlRows<T>(path, query, params);
}

async function tableCounts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of ["assets", "check_runs", "findings", "scans", "services"]) {
    counts[table] = (await rows<{ n: number }>(`select count(*) as n from ${table}`))[0]!.n;
  }
  return counts;
}

const steps = [
  { step: "bind", ok: true },
  { step: "request", opnum: 4, status: "0x1c010003" },
];

function run(overrides: Partial<CheckRunInput> = {}): CheckRunInput {
  return {
    scanId: null,
    address: "10.9.0.5",
    protocol: "tcp",
    port: 135,
    checkId: "ms03-039-kb824146scan",
    advisories: ["ms03-039"],
    verdict: "VULNERABLE",
    classification: "VULNERABLE_MS03_039",
    reasonCode: "remote-activation-accepted",
    reason: "RemoteActivation answered without the KB824146 fix",
    evidence: steps,
    startedAt: "2024-05-01T10:00:00.000Z",
    finishedAt: "2024-05-01T10:00:02.000Z",
    ...overrides,
  };
}

describe("recordCheckRuns", () => {
  it("round-trips runs and findings, creating assets for new addresses", async () => {
    const scan = await store.createScan({ command: "scan", params: {}, totalProbes: 1 });
    await store.recordBatch(scan.id, [probe("10.9.0.1", 135, "open", { hostnames: ["dc1"] })], {
      step: 1,
      probesDone: 1,
      counts: { open: 1 },
    });
    await store.recordCheckRuns([
      run({ scanId: scan.id, address: "10.9.0.1", advisories: ["ms03-026", "ms03-039"] }),
      run({
        address: "2001:db8::7",
        verdict: "NOT_APPLICABLE",
        classification: null,
        reasonCode: "no-dcom",
        reason: "DCOM is not reachable on this port",
        evidence: { nested: { list: [1, "two", null] } },
        startedAt: "2024-05-01T12:00:00+02:00",
        finishedAt: "2024-05-01T12:00:01+02:00",
      }),
    ]);

    // The scan's asset was reused, the IPv6 address got a new one.
    const hosts = await store.listHosts();
    expect(hosts.map((h) => h.address)).toEqual(["10.9.0.1", "2001:db8::7"]);
    expect(hosts[0]).toMatchObject({ hostnames: ["dc1"], openPorts: ["tcp/135"] });
    expect(hosts[1]).toMatchObject({ family: "ipv6", hostnames: [], openPorts: [] });

    const runs = await store.listCheckRuns();
    expect(runs.map((r) => r.id)).toEqual([1, 2]);
    expect(runs.reverse()).toEqual([
      {
        id: 2,
        scanId: null,
        address: "2001:db8::7",
        protocol: "tcp",
        port: 135,
        checkId: "ms03-039-kb824146scan",
        verdict: "NOT_APPLICABLE",
        classification: null,
        reasonCode: "no-dcom",
        reason: "DCOM is not reachable on this port",
        evidence: { nested: { list: [1, "two", null] } },
        // Stored as Date.toISOString() text, whatever offset the check gave.
        startedAt: "2024-05-01T10:00:00.000Z",
        finishedAt: "2024-05-01T10:00:01.000Z",
      },
      {
        id: 1,
        scanId: scan.id,
        address: "10.9.0.1",
        protocol: "tcp",
        port: 135,
        checkId: "ms03-039-kb824146scan",
        verdict: "VULNERABLE",
        classification: "VULNERABLE_MS03_039",
        reasonCode: "remote-activation-accepted",
        reason: "RemoteActivation answered without the KB824146 fix",
        evidence: steps,
        startedAt: "2024-05-01T10:00:00.000Z",
        finishedAt: "2024-05-01T10:00:02.000Z",
      },
    ]);

    const findings = await store.listFindings();
    expect(findings).toEqual([
      {
        id: expect.any(Number),
        assetId: expect.any(Number),
        address: "10.9.0.1",
        protocol: "tcp",
        port: 135,
        advisory: "ms03-026",
        checkId: "ms03-039-kb824146scan",
        verdict: "vulnerable",
        classification: "VULNERABLE_MS03_039",
        reasonCode: "remote-activation-accepted",
        evidence: steps,
        reason: "RemoteActivation answered without the KB824146 fix",
        firstSeen: "2024-05-01T10:00:02.000Z",
        lastSeen: "2024-05-01T10:00:02.000Z",
        status: "open",
        lastRunId: 1,
      },
      expect.objectContaining({ address: "10.9.0.1", advisory: "ms03-039", lastRunId: 1 }),
      expect.objectContaining({
        address: "2001:db8::7",
        advisory: "ms03-039",
        verdict: "not-applicable",
        classification: null,
        reasonCode: "no-dcom",
        evidence: { nested: { list: [1, "two", null] } },
        status: "closed",
        lastRunId: 2,
      }),
    ]);
    expect(findings[0]!.assetId).toBe(findings[1]!.assetId);
    expect(findings[2]!.assetId).not.toBe(findings[0]!.assetId);

    // The columns the risk adapter reads, as it reads them.
    expect(
      (await rows<{ evidence_json: string }>("select evidence_json from findings order by id"))[0]
        ?.evidence_json,
    ).toBe(
      JSON.stringify({
        classification: "VULNERABLE_MS03_039",
        reasonCode: "remote-activation-accepted",
        evidence: steps,
      }),
    );
  });

  it("keeps first_seen across runs and moves last_seen, verdict, reason and last_run_id", async () => {
    await store.recordCheckRuns([run()]);
    const [first] = await store.listFindings();
    await store.recordCheckRuns([
      run({
        verdict: "UNKNOWN",
        classification: null,
        reasonCode: "timeout",
        reason: "no answer within 3000 ms",
        evidence: [],
        startedAt: "2024-06-01T08:00:00.000Z",
        finishedAt: "2024-06-01T08:00:03.000Z",
      }),
    ]);
    const findings = await store.listFindings();
    expect(findings).toHaveLength(1);
    expect(findings[0]).toEqual({
      ...first,
      verdict: "unknown",
      classification: null,
      reasonCode: "timeout",
      evidence: [],
      reason: "no answer within 3000 ms",
      firstSeen: "2024-05-01T10:00:02.000Z",
      lastSeen: "2024-06-01T08:00:03.000Z",
      status: "open",
      lastRunId: 2,
    });
    expect(await store.listCheckRuns()).toHaveLength(2);
    expect(await store.listHosts()).toHaveLength(1);
  });

  it("moves the status open -> closed -> open with the verdict", async () => {
    const at = (day: number, verdict: CheckRunInput["verdict"]) =>
      run({
        verdict,
        startedAt: `2024-05-0${day}T10:00:00.000Z`,
        finishedAt: `2024-05-0${day}T10:00:01.000Z`,
      });
    const states: [string, string][] = [];
    for (const [day, verdict] of [
      [1, "VULNERABLE"],
      [2, "NOT_VULNERABLE"],
      [3, "UNKNOWN"],
      [4, "NOT_APPLICABLE"],
      [5, "VULNERABLE"],
    ] as const) {
      await store.recordCheckRuns([at(day, verdict)]);
      const [finding] = await store.listFindings();
      states.push([finding!.verdict, finding!.status]);
    }
    expect(states).toEqual([
      ["vulnerable", "open"],
      ["not-vulnerable", "closed"],
      ["unknown", "open"],
      ["not-applicable", "closed"],
      ["vulnerable", "open"],
    ]);
    expect((await store.listFindings())[0]?.firstSeen).toBe("2024-05-01T10:00:01.000Z");
  });

  it("stores a run recorded late without rolling its finding back", async () => {
    await store.recordCheckRuns([
      run({
        verdict: "NOT_VULNERABLE",
        startedAt: "2024-05-02T10:00:00.000Z",
        finishedAt: "2024-05-02T10:00:01.000Z",
      }),
    ]);
    await store.recordCheckRuns([run()]); // finished on 2024-05-01
    expect(await store.listCheckRuns()).toHaveLength(2);
    expect(await store.listFindings()).toEqual([
      expect.objectContaining({
        verdict: "not-vulnerable",
        status: "closed",
        lastSeen: "2024-05-02T10:00:01.000Z",
        lastRunId: 1,
      }),
    ]);
  });

  it("records a batch whose runs hit the same finding in order, and dedupes advisories", async () => {
    await store.recordCheckRuns([
      run({ advisories: ["ms03-039", "ms03-039"] }),
      run({
        verdict: "NOT_VULNERABLE",
        startedAt: "2024-05-03T10:00:00.000Z",
        finishedAt: "2024-05-03T10:00:01.000Z",
      }),
      run({ advisories: [], checkId: "dcom-reachable" }),
    ]);
    expect(await store.listCheckRuns()).toHaveLength(3);
    expect(await store.listFindings()).toEqual([
      expect.objectContaining({ advisory: "ms03-039", verdict: "not-vulnerable", lastRunId: 2 }),
    ]);
  });

  it("writes rows the risk adapter reads, not-applicable included", async () => {
    await store.recordCheckRuns([
      run({ address: "10.9.0.1", verdict: "VULNERABLE" }),
      run({ address: "10.9.0.2", verdict: "NOT_VULNERABLE" }),
      run({ address: "10.9.0.3", verdict: "NOT_APPLICABLE" }),
      run({ address: "10.9.0.4", verdict: "UNKNOWN" }),
    ]);
    const stored = await rows<FindingRow & { address: string; id: number }>(
      "select findings.*, assets.address from findings join assets on assets.id = findings.asset_id order by assets.address_key",
    );
    const findings = stored.map((row) =>
      findingFromStoreRow(row, { id: String(row.asset_id), address: row.address }),
    );
    expect(findings.map((f) => f.verdict)).toEqual([
      "vulnerable",
      "not-vulnerable",
      "not-vulnerable",
      "unknown",
    ]);
    expect(findings[0]).toMatchObject({
      address: "10.9.0.1",
      advisory: "ms03-039",
      checkId: "ms03-039-kb824146scan",
      evidence: {
        classification: "VULNERABLE_MS03_039",
        reasonCode: "remote-activation-accepted",
        evidence: steps,
      },
      observedAt: "2024-05-01T10:00:02.000Z",
    });
  });

  describe("bad input writes nothing", () => {
    it.each([
      [{ verdict: "MAYBE" }, 'verdict "MAYBE" is not one of VULNERABLE, NOT_VULNERABLE'],
      [{ verdict: "vulnerable" }, 'verdict "vulnerable" is not one of'],
      [{ address: "dc1.example" }, 'address "dc1.example" is not an IP address'],
      [{ protocol: "sctp" }, 'protocol "sctp" is not tcp or udp'],
      [{ port: 70000 }, "port 70000 is not a port number"],
      [{ checkId: "" }, "checkId must be a non-empty string"],
      [{ advisories: "ms03-039" }, "advisories must be an array"],
      [{ advisories: ["ms03-039", ""] }, "each advisory must be a non-empty string"],
      [{ reasonCode: undefined }, "reasonCode must be a non-empty string"],
      [{ startedAt: "yesterday" }, 'startedAt "yesterday" is not an ISO 8601 instant'],
      [{ finishedAt: "2024-04-30T00:00:00Z" }, "finishedAt 2024-04-30T00:00:00.000Z is before"],
      [{ evidence: { big: 1n } }, "evidence is not JSON-serialisable"],
    ])("%#: %s", async (change, message) => {
      await store.recordCheckRuns([run({ address: "10.9.0.8" })]);
      const before = await tableCounts();
      const bad = { ...run(), ...change } as unknown as CheckRunInput;
      const attempt = store.recordCheckRuns([run({ address: "10.9.0.9" }), bad]);
      await expect(attempt).rejects.toMatchObject({
        name: "RingfenceError",
        code: "RINGFENCE_USAGE",
        message: expect.stringContaining(message),
      });
      await expect(attempt).rejects.toThrow(/^cannot record check run 2 /);
      expect(await tableCounts()).toEqual(before);
    });

    it("a scanId that does not exist", async () => {
      const scan = await store.createScan({ command: "scan", params: {}, totalProbes: 1 });
      const attempt = store.recordCheckRuns([run({ scanId: scan.id }), run({ scanId: "s-nope" })]);
      await expect(attempt).rejects.toMatchObject({
        code: "RINGFENCE_SCAN_NOT_FOUND",
        message: expect.stringContaining("no scan s-nope"),
      });
      expect(await tableCounts()).toEqual({
        assets: 0,
        check_runs: 0,
        findings: 0,
        scans: 1,
        services: 0,
      });
    });

    it("a failure midway rolls back the runs, assets and findings written before it", async () => {
      // A trigger that fails the third run's insert, after the first two were written.
      await rows(
        isPostgresLocation(path)
          ? `create function boom() returns trigger language plpgsql as $$
             begin if new.check_id = 'boom' then raise exception 'boom'; end if; return new; end $$;
             create trigger boom before insert on check_runs for each row execute function boom()`
          : `create trigger boom before insert on check_runs when new.check_id = 'boom'
             begin select raise(abort, 'boom'); end`,
      );
      await expect(
        store.recordCheckRuns([
          run({ address: "10.9.0.1" }),
          run({ address: "10.9.0.2", advisories: ["ms03-026", "ms03-039"] }),
          run({ address: "10.9.0.3", checkId: "boom" }),
        ]),
      ).rejects.toThrow("boom");
      expect(await tableCounts()).toMatchObject({ assets: 0, check_runs: 0, findings: 0 });
      // The store is still usable.
      await store.recordCheckRuns([run()]);
      expect(await store.listFindings()).toHaveLength(1);
    });
  });
});

describe("listCheckRuns and listFindings filters", () => {
  let scanId: string;
  beforeEach(async () => {
    scanId = (await store.createScan({ command: "scan", params: {}, totalProbes: 0 })).id;
    await store.recordCheckRuns([
      run({ scanId, address: "10.9.0.10", advisories: ["ms03-026", "ms03-039"] }),
      run({ scanId, address: "10.9.0.2", verdict: "NOT_VULNERABLE", advisories: ["ms03-026"] }),
      run({
        address: "2001:db8::1",
        port: 593,
        checkId: "ms03-026-rpc-http",
        verdict: "UNKNOWN",
        advisories: ["ms03-026"],
      }),
    ]);
  });

  const keys = (findings: { address: string; advisory: string }[]) =>
    findings.map((f) => `${f.address} ${f.advisory}`);

  it("filters runs by scan, address (any spelling) and check, oldest first", async () => {
    const ids = (list: { id: number }[]) => list.map((r) => r.id);
    expect(ids(await store.listCheckRuns())).toEqual([1, 2, 3]);
    expect(ids(await store.listCheckRuns({ scanId }))).toEqual([1, 2]);
    expect(ids(await store.listCheckRuns({ scanId: "s-other" }))).toEqual([]);
    expect(ids(await store.listCheckRuns({ address: "2001:DB8:0::1" }))).toEqual([3]);
    expect(ids(await store.listCheckRuns({ address: "10.9.0.2" }))).toEqual([2]);
    expect(ids(await store.listCheckRuns({ address: "dc1" }))).toEqual([]);
    expect(ids(await store.listCheckRuns({ checkId: "ms03-026-rpc-http" }))).toEqual([3]);
    expect(ids(await store.listCheckRuns({ limit: 2 }))).toEqual([1, 2]);
  });

  it("lists findings in numeric address order and filters them", async () => {
    expect(keys(await store.listFindings())).toEqual([
      "10.9.0.2 ms03-026",
      "10.9.0.10 ms03-026",
      "10.9.0.10 ms03-039",
      "2001:db8::1 ms03-026",
    ]);
    expect(keys(await store.listFindings({ address: "10.9.0.10" }))).toEqual([
      "10.9.0.10 ms03-026",
      "10.9.0.10 ms03-039",
    ]);
    expect(keys(await store.listFindings({ address: "2001:db8:0:0::1" }))).toEqual([
      "2001:db8::1 ms03-026",
    ]);
    expect(keys(await store.listFindings({ advisory: "ms03-039" }))).toEqual([
      "10.9.0.10 ms03-039",
    ]);
    expect(keys(await store.listFindings({ verdict: "NOT_VULNERABLE" }))).toEqual([
      "10.9.0.2 ms03-026",
    ]);
    expect(keys(await store.listFindings({ verdict: "not-vulnerable" }))).toEqual([
      "10.9.0.2 ms03-026",
    ]);
    expect(keys(await store.listFindings({ status: "open" }))).toEqual([
      "10.9.0.10 ms03-026",
      "10.9.0.10 ms03-039",
      "2001:db8::1 ms03-026",
    ]);
    expect(keys(await store.listFindings({ status: "closed", advisory: "ms03-039" }))).toEqual([]);
    expect(keys(await store.listFindings({ limit: 2 }))).toEqual([
      "10.9.0.2 ms03-026",
      "10.9.0.10 ms03-026",
    ]);
  });
});
