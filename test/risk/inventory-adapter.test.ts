/** The inventory → engine adapters (findingRowOf, observedAssetOf) and assessInventory. */
import { describe, expect, it } from "vitest";
import { assessInventory, assessmentRow, compareAssessed } from "../../src/jobs/assess-job.js";
import {
  assessmentJson,
  emptyIntel,
  findingFromStoreRow,
  findingRowOf,
  observedAssetOf,
  parseSiteFile,
} from "../../src/risk/index.js";
import type { Control } from "../../src/risk/types.js";
import type { FindingRecord, ServiceRow } from "../../src/store/index.js";
import { builtinCatalog, defaultPolicy } from "./helpers.js";

const SCANNED = "2025-01-02T03:04:05.000Z";

function finding(id: number, extra: Partial<FindingRecord> = {}): FindingRecord {
  return {
    id,
    assetId: 7,
    address: "198.51.100.10",
    protocol: "tcp",
    port: 135,
    advisory: "ms03-026",
    checkId: "ms03-026-remote-activation",
    verdict: "vulnerable",
    classification: "VULNERABLE_MS03_026",
    reasonCode: "path-accepted",
    evidence: [{ step: "bind", outcome: "ok" }],
    reason: "the malformed path was not rejected",
    firstSeen: SCANNED,
    lastSeen: SCANNED,
    status: "open",
    lastRunId: 41,
    ...extra,
  };
}

function service(port: number, state: ServiceRow["state"], extra: Partial<ServiceRow> = {}) {
  return {
    address: "198.51.100.10",
    hostnames: ["web1"],
    os: null,
    protocol: "tcp" as const,
    port,
    state,
    reason: "syn-ack",
    detail: null,
    firstSeen: SCANNED,
    lastSeen: SCANNED,
    lastScanId: "s-1",
    ...extra,
  } satisfies ServiceRow;
}

const blaster = finding(43, {
  port: 4444,
  advisory: "blaster-backdoor",
  checkId: "blaster-backdoor-4444",
  classification: null,
  reasonCode: "cmd-banner",
});

describe("findingRowOf", () => {
  it("gives the row findingFromStoreRow reads, the check's conclusion as evidence", () => {
    const row = findingRowOf(finding(42));
    expect(row).toMatchObject({ id: 42, asset_id: 7, check_id: "ms03-026-remote-activation" });
    expect(findingFromStoreRow(row, { id: "7", address: "198.51.100.10" })).toEqual({
      id: "42",
      assetId: "7",
      address: "198.51.100.10",
      protocol: "tcp",
      port: 135,
      advisory: "ms03-026",
      checkId: "ms03-026-remote-activation",
      verdict: "vulnerable",
      evidence: {
        classification: "VULNERABLE_MS03_026",
        reasonCode: "path-accepted",
        reason: "the malformed path was not rejected",
        checkRun: 41,
      },
      observedAt: SCANNED,
      firstSeen: SCANNED,
    });
  });

  it("keeps a legacy row's evidence as it was stored", () => {
    const legacy = finding(1, { reasonCode: null, classification: null, evidence: { x: 1 } });
    expect(findingRowOf(legacy).evidence_json).toBe('{"x":1}');
    expect(findingRowOf({ ...legacy, evidence: null }).evidence_json).toBeNull();
  });
});

describe("observedAssetOf", () => {
  it("open services reachable from the vantage zone, indicators from positive indicator findings", async () => {
    const catalog = await builtinCatalog();
    const asOfMs = Date.parse("2003-08-12T00:00:00.000Z");
    const observed = observedAssetOf({
      assetId: 7,
      address: "198.51.100.10",
      services: [service(445, "open"), service(135, "open"), service(139, "closed")],
      findings: [finding(42), blaster, { ...blaster, id: 44, port: 4445, status: "closed" }],
      vantage: "internal",
      catalog,
      asOfMs,
    });
    expect(observed.reachable).toEqual([
      { proto: "tcp", port: 135, from: "internal", observedAt: SCANNED },
      { proto: "tcp", port: 445, from: "internal", observedAt: SCANNED },
    ]);
    expect(observed.hostnames).toEqual(["web1"]);
    // Seen in 2025, replayed as of 2003: counted from asOf, as the engine counts the finding.
    expect(observed.compromiseIndicators).toEqual([
      {
        id: "blaster-backdoor/shell-4444",
        observedAt: "2003-08-12T00:00:00.000Z",
        prov: {
          source: "scan",
          observedAt: SCANNED,
          ref: "finding 43: blaster-backdoor-4444 vulnerable on tcp/4444",
        },
      },
    ]);
    const now = observedAssetOf({
      assetId: 7,
      address: "198.51.100.10",
      services: [],
      findings: [blaster],
      vantage: "internet",
      catalog,
      asOfMs: Date.parse("2026-01-01T00:00:00.000Z"),
    });
    expect(now.compromiseIndicators?.[0]?.observedAt).toBe(SCANNED);
  });
});

describe("assessInventory", () => {
  const site = parseSiteFile(
    `schema: ringfence.site/1\nname: t\nzones:\n  - { zone: internet, ranges: [198.51.100.0/24] }\n  - { zone: internal, ranges: [10.0.0.0/8] }\n`,
    "site.yaml",
  );

  async function inputs() {
    return {
      catalog: await builtinCatalog(),
      policy: await defaultPolicy(),
      site,
      intel: emptyIntel(),
    };
  }

  const internal = finding(50, { assetId: 8, address: "10.1.2.3" });
  const findings = [
    finding(42),
    finding(41, { advisory: "ms03-039", checkId: "ms03-039-kb824146scan" }),
    blaster,
    internal,
    // A check the catalog's ms03-039 advisory does not list (a user's own): reported, skipped.
    finding(45, { advisory: "ms03-039", checkId: "site-local-dcom-probe" }),
  ];
  const services = [
    service(135, "open"),
    service(4444, "open"),
    service(135, "open", { address: "10.1.2.3" }),
  ];

  it("is deterministic: shuffled inventory rows give the same bytes", async () => {
    const a = assessInventory(
      await inputs(),
      findings,
      services,
      "2003-08-12T00:00:00.000Z",
      "internal",
    );
    const b = assessInventory(
      await inputs(),
      [...findings].reverse(),
      [...services].reverse(),
      "2003-08-12T00:00:00.000Z",
      "internal",
    );
    const bytes = (r: typeof a) =>
      r.assessed.map((x) =>
        assessmentRow(x.finding.id, x.assessment, r.inputsJson.get(x.finding.id) ?? null),
      );
    expect(bytes(b)).toEqual(bytes(a));
    expect(a.skipped.map((s) => [s.finding.id, s.reason])).toEqual([
      [45, expect.stringContaining("has no check site-local-dcom-probe")],
    ]);
  });

  it("sorts by rating, then protect-by; the compromised host first, internet before internal", async () => {
    const { assessed } = assessInventory(
      await inputs(),
      findings,
      services,
      "2003-08-12T00:00:00.000Z",
      "internal",
    );
    expect([...assessed].sort(compareAssessed)).toEqual(assessed);
    expect(
      assessed.map((x) => [
        x.finding.id,
        x.assessment.clocks.protectBy,
        x.assessment.actions[0]?.kind,
      ]),
    ).toEqual([
      // Same clock and service: by advisory (ms03-026 before ms03-039).
      [42, "2003-08-12T00:00:00.000Z", "quarantine"],
      [41, "2003-08-12T00:00:00.000Z", "quarantine"],
      [43, "2003-08-12T00:00:00.000Z", "quarantine"],
      [50, "2003-08-13T00:00:00.000Z", "shield-host"],
    ]);
    const json = JSON.parse(assessmentJson(assessed[3]!.assessment)) as {
      exposure: { zone: string };
    };
    expect(json.exposure.zone).toBe("internal");
  });

  it("with vantage internet every open service is open, whatever the zone", async () => {
    const { assessed } = assessInventory(
      await inputs(),
      [internal],
      services,
      "2003-08-12T00:00:00.000Z",
      "internet",
    );
    expect(assessed[0]?.assessment.exposure.level).toBe("open");
    expect(assessed[0]?.assessment.clocks.protectBy).toBe("2003-08-12T04:00:00.000Z");
  });

  it("a stored verified control (verify-shield) lowers the exposure until it expires", async () => {
    const control: Control = {
      id: "verify-shield:shield:10.1.2.3:internet-ns",
      kind: "perimeter-block",
      appliesTo: { ranges: ["10.1.2.3"] },
      covers: [{ proto: "tcp", port: 135 }],
      verifiedAt: "2003-08-11T00:00:00.000Z",
      method: "rescan-external",
      expiresAt: "2003-08-18T00:00:00.000Z",
      prov: { source: "ringfence verify-shield" },
    };
    const at = (asOf: string) =>
      inputs().then(
        (i) => assessInventory(i, [internal], services, asOf, "internet", [control]).assessed[0]!,
      );
    const within = await at("2003-08-12T00:00:00.000Z");
    expect(within.assessment.exposure.level).toBe("controlled");
    expect(within.assessment.exposure.services.map((s) => s.controls)).toEqual([[control.id]]);
    expect(within.assessment.exposure.publiclyExposed).toBe(false);
    const after = await at("2003-08-19T00:00:00.000Z");
    expect(after.assessment.exposure.level).toBe("open");
  });
});
