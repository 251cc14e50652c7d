/** The engine's edges: store rows to findings, and assessAll over many findings. */
import { describe, expect, it } from "vitest";
import { RingfenceError } from "../../src/errors.js";
import {
  assessAll,
  assessmentJson,
  emptyIntel,
  findingFromStoreRow,
} from "../../src/risk/index.js";
import { builtinCatalog, defaultPolicy, makeAsset, tcp } from "./helpers.js";

const row = {
  id: 7,
  asset_id: 12,
  protocol: "tcp",
  port: 135,
  advisory: "MS03-026",
  check_id: "ms03-026-remote-activation",
  verdict: "VULN",
  evidence_json: '{"status":"0x1c010003","opnum":0}',
  first_seen: "2003-07-17T00:00:00.000Z",
  last_seen: "2003-07-18T00:00:00.000Z",
  status: "open",
};

describe("findingFromStoreRow", () => {
  it("maps the findings table's columns, nmap-style verdicts included", () => {
    expect(findingFromStoreRow(row, { id: "12", address: "198.51.100.10" })).toEqual({
      id: "7",
      assetId: "12",
      address: "198.51.100.10",
      protocol: "tcp",
      port: 135,
      advisory: "MS03-026",
      checkId: "ms03-026-remote-activation",
      verdict: "vulnerable",
      evidence: { status: "0x1c010003", opnum: 0 },
      observedAt: "2003-07-18T00:00:00.000Z",
      firstSeen: "2003-07-17T00:00:00.000Z",
    });
    expect(
      findingFromStoreRow(
        { ...row, verdict: "likely-vulnerable", evidence_json: null },
        { id: "12", address: "x" },
      ).verdict,
    ).toBe("likely-vulnerable");
  });

  it.each([
    [{ verdict: "maybe" }, 'verdict "maybe"'],
    [{ protocol: "sctp" }, 'protocol "sctp"'],
    [{ evidence_json: "{" }, "evidence_json is not JSON"],
    [{ asset_id: 13 }, "asset_id 13 is not asset 12"],
    [{ last_seen: "yesterday" }, 'last_seen "yesterday"'],
  ])("refuses a bad row: %j", (change, reason) => {
    expect(() => findingFromStoreRow({ ...row, ...change }, { id: "12", address: "x" })).toThrow(
      reason,
    );
  });
});

describe("assessAll", () => {
  it("assesses every finding, sorted by id, and refuses a finding for an unknown asset", async () => {
    const catalog = await builtinCatalog();
    const policy = await defaultPolicy();
    const asset = makeAsset({ id: "12", zone: "internet", reachable: [tcp(135, "internet")] });
    const finding = findingFromStoreRow(row, asset);
    const out = assessAll(
      [finding],
      [asset],
      catalog,
      emptyIntel(),
      [],
      policy,
      "2003-07-18T00:00:00Z",
    );
    expect(out.map((a) => a.findingId)).toEqual(["7"]);
    expect(JSON.parse(assessmentJson(out[0] as never))).toEqual(out[0]);
    let caught: unknown;
    try {
      assessAll(
        [{ ...finding, assetId: "99" }],
        [asset],
        catalog,
        emptyIntel(),
        [],
        policy,
        "2003-07-18T00:00:00Z",
      );
    } catch (error) {
      caught = error;
    }
    expect((caught as RingfenceError).code).toBe("RINGFENCE_RISK_INPUT");
  });
});
