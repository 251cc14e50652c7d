/**
 * Shield plans from exposures: the order of the terms (allows, domain controllers, quarantine,
 * blocks, egress), the special cases (restrict sources on domain controllers, flag RPC over HTTP
 * instead of blocking 80/443), determinism, the plan file and its diff, and the audit of a plan
 * against its own iptables rendering read back as iptables-save input.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { loadAdvisoryCatalog, type AdvisoryCatalog } from "../../src/advisories/index.js";
import {
  auditPlan,
  buildShieldPlan,
  combinedTarget,
  diffPlans,
  formatPlan,
  formatPlanDiff,
  GENERATORS,
  parseAllowSpec,
  parseExposureText,
  parseIptablesSave,
  parsePlanText,
  parseZoneSpec,
  rulesetTarget,
  type Exposure,
  type PlanOptions,
} from "../../src/shield/index.js";

let catalog: AdvisoryCatalog;
beforeAll(async () => {
  catalog = await loadAdvisoryCatalog();
});

const EXPOSURES: Exposure[] = [
  { address: "203.0.113.10", advisory: "ms03-026", findingId: 4 },
  { address: "203.0.113.10", advisory: "MS03-039", findingId: 5 },
  { address: "203.0.113.11", advisory: "ms03-039", findingId: 6, role: "domain-controller" },
  {
    address: "2001:db8::12",
    advisory: "blaster-backdoor",
    findingId: 7,
    quarantine: "compromise indicator blaster-backdoor",
  },
];

function build(options: Partial<PlanOptions> = {}, exposures: readonly Exposure[] = EXPOSURES) {
  return buildShieldPlan(
    catalog,
    exposures,
    [
      { address: "203.0.113.10", proto: "tcp", port: 80 },
      { address: "203.0.113.11", proto: "tcp", port: 443 },
    ],
    {
      source: "findings",
      scope: "affected",
      zones: [parseZoneSpec("mgmt=10.9.0.0/24,2001:db8:9::/48")],
      allows: [parseAllowSpec("mgmt:tcp/445")],
      ...options,
    },
  );
}

describe("shield plans", () => {
  it("orders the terms: allows, domain controllers, quarantine, blocks, egress", () => {
    const plan = build();
    expect(plan.policy.terms.map((t) => `${t.name} ${t.action} ${t.direction}`)).toEqual([
      "allow-1 accept in",
      "dc-clients accept in",
      "quarantine-in drop in",
      "quarantine-out drop out",
      "block-in-1 drop in",
      "block-out-1 drop out",
      "block-in-2 drop in",
      "block-in-3 drop in",
      "block-out-3 drop out",
    ]);
    expect(plan.policy.stance).toEqual({ in: "unset", out: "unset", forward: "unset" });
    expect(
      plan.hosts.map((h) => [h.address, h.advisories.join("+"), h.quarantined, h.role ?? "-"]),
    ).toEqual([
      ["203.0.113.10", "ms03-026+ms03-039", false, "-"],
      ["203.0.113.11", "ms03-039", false, "domain-controller"],
      ["2001:db8::12", "blaster-backdoor", true, "-"],
    ]);
  });

  it("blocks the advisory's ports, egress for worm propagation, and never 80/443", () => {
    const plan = build();
    const host = plan.hosts[0]!;
    expect(host.blockIn).toEqual([
      "tcp/135",
      "tcp/139",
      "tcp/445",
      "tcp/593",
      "tcp/4444",
      "udp/69",
      "udp/135",
      "udp/137",
      "udp/138",
      "udp/445",
    ]);
    expect(host.blockOut).toEqual(["tcp/135", "tcp/4444", "udp/69"]);
    expect(plan.hosts[1]!.blockOut).toEqual([]);
    const blocked = plan.policy.services.flatMap((s) =>
      s.ports.map((p) => `${s.proto}/${p.first}`),
    );
    expect(blocked).not.toContain("tcp/80");
    expect(blocked).not.toContain("tcp/443");
    // Flagged instead, on the hosts where 80/443 is open, with the advisory's workaround.
    expect(plan.flags.map((f) => `${f.host} ${f.service} ${f.advisory}`)).toEqual([
      "203.0.113.10 tcp/80 ms03-026",
      "203.0.113.10 tcp/80 ms03-039",
      "203.0.113.11 tcp/443 ms03-039",
    ]);
    expect(plan.flags[0]!.reason).toContain("KB825819");
  });

  it("restricts a domain controller's ports to its clients instead of closing them", () => {
    const plan = build();
    const dc = plan.policy.terms.find((t) => t.name === "dc-clients")!;
    expect(dc.from).toEqual(["internal", "mgmt"]);
    expect(dc.to).toEqual(["domain-controllers"]);
    expect(dc.comment).toContain("KB 828189");
    const explicit = build({ dcClients: [parseAllowSpec("10.1.0.0/16:tcp/1").from] });
    expect(explicit.policy.terms.find((t) => t.name === "dc-clients")!.from).toEqual([
      "dc-clients-1",
    ]);
  });

  it("quarantines from the Internet by default, from every zone on request", () => {
    const plan = build();
    const q = plan.policy.terms.find((t) => t.name === "quarantine-in")!;
    expect([q.from, q.to, q.services]).toEqual([["internet"], ["quarantined"], "any"]);
    const everywhere = build({ quarantineZones: ["any"], quarantine: ["203.0.113.99"] });
    expect(everywhere.policy.terms.find((t) => t.name === "quarantine-in")!.from).toBe("any");
    expect(everywhere.hosts.find((h) => h.address === "203.0.113.99")).toMatchObject({
      quarantined: true,
      quarantineReason: "--quarantine",
      blockIn: [],
    });
  });

  it("blocks at the perimeter: from the Internet to anything, egress toward it, on the forward path", () => {
    const plan = build({ scope: "perimeter" });
    expect(plan.placement).toBe("network");
    const terms = Object.fromEntries(plan.policy.terms.map((t) => [t.name, t]));
    expect(terms["block-in"]).toMatchObject({
      direction: "forward",
      from: ["internet"],
      to: "any",
    });
    expect(terms["block-out"]).toMatchObject({
      direction: "forward",
      from: "any",
      to: ["internet"],
    });
    expect(terms["dc-clients"]).toBeUndefined();
    const deny = build({ scope: "perimeter", stance: "deny" });
    expect(deny.policy.stance).toEqual({ in: "unset", out: "unset", forward: "deny" });
    expect(deny.warnings.join("\n")).toContain("stance deny");
  });

  it("is deterministic: the same exposures in any order give the same bytes", () => {
    const a = formatPlan(build());
    const b = formatPlan(build({}, [...EXPOSURES].reverse()));
    expect(b).toBe(a);
    expect(a).not.toMatch(/\d{4}-\d{2}-\d{2}T/); // no timestamps
  });

  it("refuses bad specs in one clear line", () => {
    expect(() => parseAllowSpec("mgmt:445")).toThrow(/expected <zone\|cidr>:<tcp\|udp>\/<ports>/);
    expect(() => parseAllowSpec("mgmt:tcp/99999")).toThrow(/"99999" is not a port/);
    expect(() => parseAllowSpec("Not Zone:tcp/1")).toThrow(/neither a zone name nor an address/);
    expect(parseAllowSpec("[2001:db8::/32]:udp/137-138@203.0.113.5")).toMatchObject({
      proto: "udp",
      ports: [{ first: 137, last: 138 }],
    });
    expect(() => parseZoneSpec("mgmt")).toThrow(/expected <name>=<cidr>/);
    expect(() => parseZoneSpec("mgmt=10.0.0.0/33")).toThrow(/--zone mgmt=10\.0\.0\.0\/33/);
    expect(() => build({ allows: [parseAllowSpec("nowhere:tcp/1")] })).toThrow(
      /no zone named nowhere/,
    );
    expect(() => build({ advisories: ["ms99-999"] })).toThrow(/no advisory "ms99-999"/);
    expect(() => build({ name: "Bad Name" })).toThrow(/plan name/);
  });
});

describe("plan files", () => {
  it("round-trip in YAML and JSON", () => {
    const plan = build();
    for (const format of ["yaml", "json"] as const) {
      const text = formatPlan(plan, format);
      const back = parsePlanText(text, `plan.${format}`);
      expect(formatPlan(back, format)).toBe(text);
      expect(back.policy).toEqual(plan.policy);
    }
  });

  it("refuse a bad plan with the file, the path and the line", () => {
    const text = formatPlan(build());
    expect(() =>
      parsePlanText(text.replace("schema: ringfence.shield-plan/1", "schema: other/1"), "p.yaml"),
    ).toThrow(/^plan file p\.yaml, line 2: schema: expected schema: ringfence\.shield-plan\/1/);
    expect(() =>
      parsePlanText(text.replace("scope: affected", "scope: everywhere"), "p.yaml"),
    ).toThrow(/line \d+: scope:/);
    expect(() =>
      parsePlanText(
        text.replace("  name: shield\n  comment", '  name: "bad;name"\n  comment'),
        "p.yaml",
      ),
    ).toThrow(
      /plan file p\.yaml, line \d+: policy\.name: name "bad;name" is not a lower-case kebab-case name/,
    );
    expect(() => parsePlanText("a: [", "p.yaml")).toThrow(/YAML syntax error/);
  });

  it("diff says what a reviewer approves", () => {
    const before = build();
    const after = build({
      action: "reject",
      quarantine: ["203.0.113.10"],
      allows: [parseAllowSpec("mgmt:tcp/445,3389")],
    });
    const text = formatPlanDiff(diffPlans(before, after));
    expect(text).toContain("~ host 203.0.113.10: ms03-026,ms03-039 in:");
    expect(text).toContain("quarantined");
    expect(text).toContain("~ service allow-1: +tcp/3389");
    expect(text).toContain("~ term block-in-1: drop in from any to affected-1");
    expect(text).toContain("-> reject in from any to affected-1");
    expect(text).toContain("~ address-set quarantined: +203.0.113.10");
    expect(formatPlanDiff(diffPlans(before, before))).toBe("no changes\n");
  });
});

describe("exposure lists", () => {
  it("take the default advisory and count every entry as an open service", () => {
    const list = parseExposureText(
      "exposures:\n  - { host: 203.0.113.10, proto: tcp, port: 135 }\n  - { host: 203.0.113.10, proto: tcp, port: 80 }\n  - { host: 203.0.113.11, proto: tcp, port: 4444, advisory: blaster-backdoor, quarantine: true }\n",
      "e.yaml",
      ["ms03-026"],
    );
    expect(
      list.exposures.map((e) => `${e.address} ${e.advisory}${e.quarantine ? " q" : ""}`),
    ).toEqual([
      "203.0.113.10 ms03-026",
      "203.0.113.10 ms03-026",
      "203.0.113.11 blaster-backdoor q",
    ]);
    const plan = buildShieldPlan(catalog, list.exposures, list.services, {
      source: "exposures",
      scope: "affected",
    });
    expect(plan.flags.map((f) => f.service)).toEqual(["tcp/80"]);
  });

  it("refuse an entry without an advisory, and a bad host, with the line", () => {
    expect(() =>
      parseExposureText(
        "exposures:\n  - { host: 203.0.113.10, proto: tcp, port: 135 }\n",
        "e.yaml",
        [],
      ),
    ).toThrow(
      "exposure file e.yaml, line 2: exposures[0]: no advisory: name one on the entry, or pass --advisory",
    );
    expect(() =>
      parseExposureText("- { host: nope, proto: tcp, port: 1 }\n", "e.yaml", ["ms03-026"]),
    ).toThrow(/exposure file e\.yaml, line 1: \[0\]\.host: expected an IPv4 or IPv6 address/);
  });
});

describe("auditing a plan offline", () => {
  it("its own iptables rendering is shielded everywhere; a deleted line is exposed, named by line", () => {
    const plan = build();
    const files = GENERATORS.iptables.render(plan.policy);
    const v4 = files[0]!.content;
    const v6 = files[1]!.content;
    const whole = combinedTarget([
      rulesetTarget(parseIptablesSave(v4, "iptables.rules")),
      rulesetTarget(parseIptablesSave(v6, "ip6tables.rules")),
    ]);
    const report = auditPlan(plan, whole);
    expect(report.counts.exposed).toBe(0);
    expect(report.counts.unknown).toBe(0);
    expect(report.counts["blocked-allowed"]).toBe(0);
    expect(report.counts.shielded).toBeGreaterThan(50);
    expect(report.counts.reachable).toBeGreaterThan(0);
    // Quarantine of the IPv6 host came through the ip6tables file.
    expect(
      report.findings.some(
        (f) => f.host === "2001:db8::12" && f.zone === "internet" && f.status === "shielded",
      ),
    ).toBe(true);

    const holed = v4
      .split("\n")
      .filter((l) => !(l.includes("block-in-1") && l.includes("-p tcp")))
      .join("\n");
    const broken = auditPlan(
      plan,
      combinedTarget([
        rulesetTarget(parseIptablesSave(holed, "iptables.rules")),
        rulesetTarget(parseIptablesSave(v6, "ip6tables.rules")),
      ]),
    );
    const hole = broken.findings.find(
      (f) => f.host === "203.0.113.10" && f.service === "tcp/139" && f.zone === "internet",
    );
    expect(hole).toMatchObject({
      status: "exposed",
      decidedBy: "chain filter INPUT policy accept",
    });
    expect(hole!.expected).toBe("drop (term block-in-1)");
  });
});
