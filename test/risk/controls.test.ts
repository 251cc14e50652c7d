/**
 * Golden test of research §5.9 item 6, and the control rules of §5.3 D-EXPO: a control counts
 * only verified, only until it expires, and only for the services it covers; after expiry the
 * exposure reverts and the clocks tighten.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { AdvisoryCatalog } from "../../src/advisories/index.js";
import {
  assess,
  emptyIntel,
  type Asset,
  type Control,
  type RiskPolicy,
} from "../../src/risk/index.js";
import {
  builtinCatalog,
  defaultPolicy,
  makeAsset,
  makeFinding,
  perimeterBlock,
  tcp,
} from "./helpers.js";

let catalog: AdvisoryCatalog;
let policy: RiskPolicy;
beforeAll(async () => {
  catalog = await builtinCatalog();
  policy = await defaultPolicy();
});

const server = (): Asset =>
  makeAsset({
    zone: "internet",
    humanImpact: "high",
    reachable: [tcp(135, "internet"), tcp(445, "internet")],
  });

function run(asOf: string, controls: Control[], asset: Asset = server()) {
  const finding = makeFinding(asset, "ms03-026", "ms03-026-remote-activation", asOf, {
    firstSeen: "2003-07-17T00:00:00Z",
  });
  return assess(finding, asset, catalog.require("ms03-026"), emptyIntel(), controls, policy, asOf);
}

describe("control expiry (research §5.9 item 6)", () => {
  const block = perimeterBlock("fw-1", "2003-07-17T06:00:00Z", [135, 139, 445, 593]);

  it("while valid, the block lowers exposure to controlled and relaxes the fix clock", () => {
    const a = run("2003-07-20T00:00:00Z", [block]);
    expect(a.exposure.level).toBe("controlled");
    expect(a.ssvc?.outcome).toBe("out-of-cycle");
    expect(a.clocks.fixBy).toBe("2003-07-31T00:00:00.000Z");
    expect(a.reasons.find((r) => r.rule === "D-EXPO")?.inputs).toMatchObject({
      validControls: ["fw-1"],
    });
  });

  it("after the policy TTL (7 days) the exposure reverts to open and the clocks tighten", () => {
    const a = run("2003-07-25T00:00:00Z", [block]);
    expect(a.exposure.level).toBe("open");
    expect(a.ssvc?.outcome).toBe("immediate");
    expect(a.reasons.find((r) => r.rule === "D-EXPO")?.inputs).toMatchObject({
      validControls: [],
      ignoredControls: [{ id: "fw-1", state: "expired" }],
    });
    // The open condition came back when the rule expired (2003-07-24T06:00): clocks from then.
    expect(a.clocks.protectBy).toBe("2003-07-24T10:00:00.000Z");
    expect(a.clocks.fixBy).toBe("2003-07-27T06:00:00.000Z");
    expect(a.actions.map((x) => x.kind)).toContain("disconnect-internet");
  });

  it("an explicit expiry sooner than the TTL wins", () => {
    const short = { ...block, expiresAt: "2003-07-19T00:00:00Z" };
    expect(run("2003-07-18T23:00:00Z", [short]).exposure.level).toBe("controlled");
    expect(run("2003-07-19T00:00:00Z", [short]).exposure.level).toBe("open");
  });

  it("a declared control, or one verified after asOf, does not count", () => {
    const declared: Control = { ...block, id: "fw-declared", method: "declared" };
    const later = { ...block, id: "fw-later", verifiedAt: "2003-07-21T00:00:00Z" };
    const a = run("2003-07-20T00:00:00Z", [declared, later]);
    expect(a.exposure.level).toBe("open");
    expect(a.reasons.find((r) => r.rule === "D-EXPO")?.inputs).toMatchObject({
      ignoredControls: [
        { id: "fw-declared", state: "declared" },
        { id: "fw-later", state: "not-yet-verified" },
      ],
    });
  });

  it("a control must cover every exposed service", () => {
    const partial = perimeterBlock("fw-135", "2003-07-17T06:00:00Z", [135]);
    const a = run("2003-07-18T00:00:00Z", [partial]);
    expect(a.exposure.level).toBe("open");
    expect(a.exposure.services.map((s) => [s.port, s.exposure])).toEqual([
      [135, "controlled"],
      [445, "open"],
    ]);
  });
});

describe("control kinds (research §5.3 D-EXPO step 2)", () => {
  const host = (id: string, verifiedAt: string, assets: string[]): Control => ({
    id,
    kind: "host-firewall",
    appliesTo: { assets },
    covers: [
      { proto: "tcp", port: 135 },
      { proto: "tcp", port: 445 },
    ],
    verifiedAt,
    method: "rescan-peer",
    prov: { source: "scan" },
  });

  it("a host firewall alone does not lower an Internet server's exposure, but stacks on a perimeter block", () => {
    const hostOnly = run("2003-07-18T00:00:00Z", [host("hfw", "2003-07-17T06:00:00Z", ["web-1"])]);
    expect(hostOnly.exposure.level).toBe("open");
    // BOD 26-04's "publicly exposed" does see the host block.
    expect(hostOnly.exposure.publiclyExposed).toBe(false);
    const both = run("2003-07-18T00:00:00Z", [
      host("hfw", "2003-07-17T06:00:00Z", ["web-1"]),
      perimeterBlock("fw", "2003-07-17T06:00:00Z", [135, 445]),
    ]);
    expect(both.exposure.level).toBe("small");
    expect(both.exposure.services[0]?.controls).toEqual(["fw", "hfw"]);
  });

  it("a roaming laptop's host firewall lowers open to controlled, for 24 hours", () => {
    const laptop = makeAsset({
      id: "lt-1",
      address: "203.0.113.7",
      zone: "roaming",
      role: "laptop",
      reachable: [tcp(135, "roaming")],
    });
    const fw = host("lt-fw", "2003-07-17T06:00:00Z", ["lt-1"]);
    expect(run("2003-07-18T05:00:00Z", [fw], laptop).exposure.level).toBe("controlled");
    expect(run("2003-07-18T07:00:00Z", [fw], laptop).exposure.level).toBe("open");
    // A perimeter block does not protect a laptop on a hot spot.
    expect(
      run("2003-07-18T05:00:00Z", [perimeterBlock("fw", "2003-07-17T06:00:00Z", [135])], laptop)
        .exposure.level,
    ).toBe("open");
  });

  it("a disabled service (DCOM off) mitigating the advisory makes exposure small", () => {
    const dcomOff: Control = {
      id: "dcom-off",
      kind: "service-disabled",
      appliesTo: { ranges: ["198.51.100.0/24"] },
      covers: [],
      mitigates: ["ms03-026"],
      verifiedAt: "2003-07-17T06:00:00Z",
      method: "config-audit",
      prov: { source: "check" },
    };
    const a = run("2003-07-18T00:00:00Z", [dcomOff]);
    expect(a.exposure.level).toBe("small");
    expect(a.ssvc?.outcome).toBe("out-of-cycle");
  });

  it("a segment ACL lowers an open internal exposure (flat-network policy) to controlled", () => {
    const flat = { ...policy, internalExposure: "open" as const };
    const asset = makeAsset({
      id: "pc-1",
      address: "10.0.0.5",
      zone: "internal",
      reachable: [tcp(135, "internal")],
    });
    const acl: Control = {
      id: "acl-1",
      kind: "segment-acl",
      appliesTo: { zones: ["internal"] },
      covers: [{ proto: "tcp", port: 135 }],
      verifiedAt: "2003-07-17T06:00:00Z",
      method: "rescan-peer",
      prov: { source: "scan" },
    };
    const finding = makeFinding(
      asset,
      "ms03-026",
      "ms03-026-remote-activation",
      "2003-07-18T00:00:00Z",
    );
    const without = assess(
      finding,
      asset,
      catalog.require("ms03-026"),
      emptyIntel(),
      [],
      flat,
      "2003-07-18T00:00:00Z",
    );
    const withAcl = assess(
      finding,
      asset,
      catalog.require("ms03-026"),
      emptyIntel(),
      [acl],
      flat,
      "2003-07-18T00:00:00Z",
    );
    expect(without.exposure.level).toBe("open");
    expect(withAcl.exposure.level).toBe("controlled");
  });
});
