import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findingFromStoreRow, type FindingRow } from "../../src/risk/index.js";
import {
  openStore,
  type CheckRunInput,
  type FindingRecord,
  type Store,
} from "../../src/store/index.js";
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

/** A check's verdict as the findings table spells it. */
function findingVerdictOf(verdict: string): string {
  return verdict.toLowerCase().replaceAll("_", "-");
}

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

  it("settles a batch's runs of one finding as recording them one by one would", async () => {
    const at = (
      day: number,
      address: string,
      verdict: CheckRunInput["verdict"],
      advisories: string[],
    ) =>
      run({
        address,
        verdict,
        advisories,
        startedAt: `2024-05-0${day}T10:00:00.000Z`,
        finishedAt: `2024-05-0${day}T10:00:01.000Z`,
      });
    const both = ["ms03-026", "ms03-039"];
    // Finished in shuffled order; runs 4 and 7 finish at the same instant.
    await store.recordCheckRuns([
      at(3, "10.9.0.1", "VULNERABLE", both), // 1
      at(2, "10.9.0.2", "NOT_VULNERABLE", ["ms03-039"]), // 2
      at(1, "10.9.0.1", "NOT_VULNERABLE", ["ms03-039"]), // 3
      at(5, "10.9.0.1", "UNKNOWN", both), // 4
      at(1, "10.9.0.2", "VULNERABLE", ["ms03-039"]), // 5
      at(2, "10.9.0.1", "NOT_APPLICABLE", ["ms03-026"]), // 6
      at(5, "10.9.0.1", "NOT_VULNERABLE", ["ms03-039"]), // 7
    ]);
    const day = (d: number) => `2024-05-0${d}T10:00:01.000Z`;
    const settled = (findings: Record<string, unknown>[]) =>
      findings.map((f) => expect.objectContaining(f));
    // The latest run wins (on a tie the later one), first_seen is the first run's.
    expect(await store.listFindings()).toEqual(
      settled([
        {
          address: "10.9.0.1",
          advisory: "ms03-026",
          verdict: "unknown",
          status: "open",
          firstSeen: day(3),
          lastSeen: day(5),
          lastRunId: 4,
        },
        {
          address: "10.9.0.1",
          advisory: "ms03-039",
          verdict: "not-vulnerable",
          status: "closed",
          firstSeen: day(3),
          lastSeen: day(5),
          lastRunId: 7,
        },
        {
          address: "10.9.0.2",
          advisory: "ms03-039",
          verdict: "not-vulnerable",
          status: "closed",
          firstSeen: day(2),
          lastSeen: day(2),
          lastRunId: 2,
        },
      ]),
    );

    // A second batch: a late run older than both of 10.9.0.1's findings changes neither; one as
    // recent as 10.9.0.2's finding replaces it, an older one after it does not.
    await store.recordCheckRuns([
      at(4, "10.9.0.1", "VULNERABLE", both), // 8
      at(2, "10.9.0.2", "VULNERABLE", ["ms03-039"]), // 9
      at(1, "10.9.0.2", "NOT_APPLICABLE", ["ms03-039"]), // 10
    ]);
    const findings = await store.listFindings();
    expect(findings).toEqual(
      settled([
        { address: "10.9.0.1", advisory: "ms03-026", verdict: "unknown", lastRunId: 4 },
        { address: "10.9.0.1", advisory: "ms03-039", verdict: "not-vulnerable", lastRunId: 7 },
        {
          address: "10.9.0.2",
          advisory: "ms03-039",
          verdict: "vulnerable",
          status: "open",
          firstSeen: day(2),
          lastSeen: day(2),
          lastRunId: 9,
        },
      ]),
    );

    // Every run is stored, in recording order, and each finding's last run is the run it shows.
    const runs = await store.listCheckRuns();
    expect(runs.map((r) => [r.id, r.address, r.verdict, r.finishedAt])).toEqual([
      [1, "10.9.0.1", "VULNERABLE", day(3)],
      [2, "10.9.0.2", "NOT_VULNERABLE", day(2)],
      [3, "10.9.0.1", "NOT_VULNERABLE", day(1)],
      [4, "10.9.0.1", "UNKNOWN", day(5)],
      [5, "10.9.0.2", "VULNERABLE", day(1)],
      [6, "10.9.0.1", "NOT_APPLICABLE", day(2)],
      [7, "10.9.0.1", "NOT_VULNERABLE", day(5)],
      [8, "10.9.0.1", "VULNERABLE", day(4)],
      [9, "10.9.0.2", "VULNERABLE", day(2)],
      [10, "10.9.0.2", "NOT_APPLICABLE", day(1)],
    ]);
    for (const finding of findings) {
      const last = runs.find((r) => r.id === finding.lastRunId);
      expect(last).toMatchObject({ address: finding.address, finishedAt: finding.lastSeen });
      expect(findingVerdictOf(last!.verdict)).toBe(finding.verdict);
    }
  });

  it("writes a large batch (several statements) as recording its runs one by one does", async () => {
    // 600 runs on 8 services, 2 advisories each, finished at few distinct instants (ties) in
    // a scrambled order: more runs than one multi-row statement holds.
    const verdicts: CheckRunInput["verdict"][] = [
      "VULNERABLE",
      "NOT_VULNERABLE",
      "UNKNOWN",
      "NOT_APPLICABLE",
    ];
    const batch = Array.from({ length: 600 }, (_, i) => {
      const scrambled = (i * 7919) % 601;
      const minute = String(scrambled % 13).padStart(2, "0");
      return run({
        address: `10.9.1.${(scrambled % 4) + 1}`,
        port: scrambled % 3 === 0 ? 593 : 135,
        advisories: scrambled % 5 === 0 ? ["ms03-026"] : ["ms03-026", "ms03-039"],
        verdict: verdicts[scrambled % verdicts.length]!,
        reason: `run ${i}`,
        startedAt: `2024-05-01T10:${minute}:00.000Z`,
        finishedAt: `2024-05-01T10:${minute}:01.000Z`,
      });
    });
    const reference = await createTestStoreLocation();
    const oneByOne = await openStore(reference.location);
    try {
      // Half of them already recorded: the batch meets stored findings too.
      for (const input of batch.slice(0, 300)) await oneByOne.recordCheckRuns([input]);
      await store.recordCheckRuns(batch.slice(0, 300));
      for (const input of batch.slice(300)) await oneByOne.recordCheckRuns([input]);
      await store.recordCheckRuns(batch.slice(300));

      const comparable = (findings: FindingRecord[]) =>
        findings.map(({ id: _id, assetId: _assetId, ...rest }) => rest);
      const findings = await store.listFindings();
      expect(findings).toHaveLength(16);
      expect(comparable(findings)).toEqual(comparable(await oneByOne.listFindings()));
      expect(await store.listCheckRuns()).toEqual(await oneByOne.listCheckRuns());
    } finally {
      await oneByOne.close();
      await reference.cleanup();
    }
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
