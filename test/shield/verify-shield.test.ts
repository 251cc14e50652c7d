/**
 * verify-shield's judgement without a network: which probes a plan asks for from a vantage
 * address (the plan's own policy decides blocked / open), how observations are judged, and the
 * controls recorded only when every host holds.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { loadAdvisoryCatalog } from "../../src/advisories/index.js";
import type { ProbeObservation } from "../../src/scan/index.js";
import {
  buildShieldPlan,
  formatVerification,
  judgeVerification,
  parseAllowSpec,
  parseZoneSpec,
  verificationProbes,
  verifiedControls,
  type ShieldPlan,
} from "../../src/shield/index.js";

const HOST = "203.0.113.130";
const AT = "2026-03-01T00:00:00.000Z";

function obs(port: number, state: ProbeObservation["state"], protocol: "tcp" | "udp" = "tcp") {
  return { address: HOST, protocol, port, state, reason: "test", rttMs: null };
}

describe("verify-shield judgement", () => {
  let plan: ShieldPlan;
  beforeAll(async () => {
    const catalog = await loadAdvisoryCatalog();
    plan = buildShieldPlan(catalog, [{ address: HOST, advisory: "ms03-026", findingId: 1 }], [], {
      source: "exposures",
      scope: "affected",
      placement: "network",
      zones: [parseZoneSpec("mgmt=198.51.100.200")],
      allows: [parseAllowSpec("mgmt:tcp/445"), parseAllowSpec("internet:tcp/80")],
    });
  });

  it("asks for the blocked services and the allowed ones, as the plan decides for the source", () => {
    const outside = verificationProbes(plan, "198.51.100.2").probes;
    const expect_ = (probes: typeof outside, svc: string) =>
      probes.find((p) => `${p.proto}/${p.port}` === svc)?.expect;
    expect(expect_(outside, "tcp/135")).toBe("blocked");
    expect(expect_(outside, "tcp/445")).toBe("blocked");
    expect(expect_(outside, "tcp/80")).toBe("open");
    const mgmt = verificationProbes(plan, "198.51.100.200").probes;
    expect(expect_(mgmt, "tcp/445")).toBe("open");
    expect(expect_(mgmt, "tcp/135")).toBe("blocked");
  });

  it("verifies only when every blocked service is closed/filtered and every allowed one open", () => {
    const { probes, undecided } = verificationProbes(plan, "198.51.100.2");
    const ctx = { vantage: "ns-out", sourceAddress: "198.51.100.2", verifiedAt: AT };
    const shut = probes.map((p) =>
      obs(
        p.port,
        p.expect === "open" ? "open" : p.proto === "udp" ? "open|filtered" : "filtered",
        p.proto,
      ),
    );
    const good = judgeVerification(plan, probes, undecided, shut, ctx);
    expect(good.verified).toBe(true);
    const controls = verifiedControls(
      plan,
      good,
      "rescan-external",
      () => "2026-03-08T00:00:00.000Z",
    );
    expect(controls).toHaveLength(1);
    expect(controls[0]).toMatchObject({
      id: `verify-shield:${plan.name}:${HOST}:ns-out`,
      kind: "perimeter-block",
      appliesTo: { ranges: [HOST] },
      verifiedAt: AT,
      method: "rescan-external",
      expiresAt: "2026-03-08T00:00:00.000Z",
    });
    expect(controls[0]!.covers).toContainEqual({ proto: "tcp", port: 135 });
    expect(controls[0]!.covers).not.toContainEqual({ proto: "tcp", port: 80 });

    const hole = shut.map((o) => (o.port === 445 && o.protocol === "tcp" ? obs(445, "open") : o));
    const exposed = judgeVerification(plan, probes, undecided, hole, ctx);
    expect(exposed.verified).toBe(false);
    expect(verifiedControls(plan, exposed, "rescan-external", () => AT)).toEqual([]);
    expect(formatVerification(exposed)).toMatch(/EXPOSED +203\.0\.113\.130 tcp\/445: open/);

    const cut = shut.map((o) => (o.port === 80 ? obs(80, "filtered") : o));
    const blocked = judgeVerification(plan, probes, undecided, cut, ctx);
    expect(blocked.verified).toBe(false);
    expect(formatVerification(blocked)).toContain("ALLOWED-BUT-BLOCKED 203.0.113.130 tcp/80");

    // A probe with no observation is not evidence of a block.
    const missing = judgeVerification(plan, probes, undecided, shut.slice(1), ctx);
    expect(missing.verified).toBe(false);
  });
});
