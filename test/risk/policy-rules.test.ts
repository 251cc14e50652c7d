/**
 * Policy rules evaluated by the same engine (issue 5 item 5): "deny all except what is explicitly
 * allowed" per zone, and the new-OS-release rule of research §5.8 in its general form, under both
 * of Gartner's revisions (golden test §5.9 item 8), with exceptions.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { AdvisoryCatalog, NewReleaseRule } from "../../src/advisories/index.js";
import { RingfenceFileError } from "../../src/advisories/index.js";
import {
  assess,
  createRiskPolicy,
  emptyIntel,
  evaluateNewReleaseRule,
  parsePolicyFile,
  policyFindings,
  resolveNotBefore,
  type Asset,
  type Control,
  type PolicyException,
  type RiskPolicy,
} from "../../src/risk/index.js";
import {
  builtinCatalog,
  defaultPolicy,
  kinds,
  makeAsset,
  makeFinding,
  perimeterBlock,
  tcp,
} from "./helpers.js";

let catalog: AdvisoryCatalog;
let policy: RiskPolicy;
let rule: NewReleaseRule;
beforeAll(async () => {
  catalog = await builtinCatalog();
  policy = await defaultPolicy();
  const r = catalog.require("new-release-windows-server-2003").rule;
  if (r?.kind !== "new-release-exposure") throw new Error("rule missing");
  rule = r;
});

const ms = (date: string): number => Date.parse(`${date}T00:00:00Z`);
const w2k3 = (extra: Partial<Parameters<typeof makeAsset>[0]> = {}): Asset =>
  makeAsset({
    zone: "internet",
    os: { family: "windows-server", version: "2003" },
    tags: ["sensitive"],
    reachable: [tcp(443, "internet")],
    ...extra,
  });
const withPolicy = (changes: Partial<RiskPolicy>): RiskPolicy => ({ ...policy, ...changes });
const pinRev1 = (): RiskPolicy => withPolicy({ pinRevisions: { [rule.id]: "2003-07-16" } });

describe("new-release exposure: Windows Server 2003, tag sensitive, Internet-exposed", () => {
  it("2004-03-15: a violation under revision 2 (not before 2004-04-01), not under revision 1 (2004-01-01)", () => {
    const latest = evaluateNewReleaseRule(rule, w2k3(), [], policy, ms("2004-03-15"));
    expect(latest).toMatchObject({
      state: "violation",
      revision: { date: "2004-02-12", pinned: false },
      notBefore: "2004-04-01T00:00:00.000Z",
    });
    const first = evaluateNewReleaseRule(rule, w2k3(), [], pinRev1(), ms("2004-03-15"));
    expect(first).toMatchObject({
      state: "compliant",
      revision: { date: "2003-07-16", pinned: true },
      notBefore: "2004-01-01T00:00:00.000Z",
    });
  });

  it("2003-12-01: a violation under both revisions (revision 1 is the one in force)", () => {
    expect(evaluateNewReleaseRule(rule, w2k3(), [], policy, ms("2003-12-01"))).toMatchObject({
      state: "violation",
      revision: { date: "2003-07-16" },
    });
    expect(evaluateNewReleaseRule(rule, w2k3(), [], pinRev1(), ms("2003-12-01")).state).toBe(
      "violation",
    );
  });

  it("before the advice existed the rule is not in force; after 2004-04-01 the asset complies", () => {
    expect(evaluateNewReleaseRule(rule, w2k3(), [], policy, ms("2003-07-01")).state).toBe(
      "not-in-force",
    );
    expect(evaluateNewReleaseRule(rule, w2k3(), [], policy, ms("2004-04-01")).state).toBe(
      "compliant",
    );
  });

  it("only matching assets: the OS, a sensitive tag, and Internet exposure", () => {
    const t = ms("2003-12-01");
    expect(evaluateNewReleaseRule(rule, w2k3({ tags: ["web"] }), [], policy, t).state).toBe(
      "compliant",
    );
    expect(
      evaluateNewReleaseRule(
        rule,
        w2k3({ os: { family: "windows-server", version: "2000" } }),
        [],
        policy,
        t,
      ).state,
    ).toBe("compliant");
    expect(
      evaluateNewReleaseRule(
        rule,
        w2k3({ zone: "internal", reachable: [tcp(443, "internal")] }),
        [],
        policy,
        t,
      ).state,
    ).toBe("compliant");
    // Internal by zone, but seen from the Internet: exposed all the same.
    expect(evaluateNewReleaseRule(rule, w2k3({ zone: "internal" }), [], policy, t).state).toBe(
      "violation",
    );
  });

  it("resolves the relative forms of notBefore from the recorded facts", () => {
    expect(
      new Date(resolveNotBefore(rule, { afterRelease: "P9M" }, ms("2003-12-01"))).toISOString(),
    ).toBe("2004-01-24T00:00:00.000Z");
    const custom: NewReleaseRule = {
      ...rule,
      facts: {
        releaseDate: "2003-04-24",
        milestones: { "first-service-pack": "2005-03-30" },
        remoteCritical: [
          { date: "2003-07-16", ref: "MS03-026" },
          { date: "2003-09-10", ref: "MS03-039" },
        ],
      },
    };
    expect(resolveNotBefore(custom, { milestone: "first-service-pack" }, ms("2004-01-01"))).toBe(
      ms("2005-03-30"),
    );
    const quiet = { quietPeriod: { noRemoteCriticalFor: "P90D" } };
    expect(resolveNotBefore(custom, quiet, ms("2003-08-01"))).toBe(ms("2003-10-14"));
    expect(resolveNotBefore(custom, quiet, ms("2003-10-01"))).toBe(ms("2003-12-09"));
  });
});

describe("exceptions", () => {
  const exception = (changes: Partial<PolicyException> = {}): PolicyException => ({
    id: "EX-1",
    rule: "new-release-exposure/windows-server-2003",
    assets: ["web-1"],
    ranges: [],
    approver: { name: "C. Iso", role: "ciso" },
    approvedAt: "2003-11-20",
    expiresAt: "2003-12-15",
    reason: "launch",
    ...changes,
  });
  const shields: Control[] = [
    perimeterBlock("fw-1", "2003-11-30T00:00:00Z", [135, 445]),
    {
      id: "hfw-1",
      kind: "host-firewall",
      appliesTo: { assets: ["web-1"] },
      covers: [{ proto: "tcp", port: 135 }],
      verifiedAt: "2003-11-30T00:00:00Z",
      method: "rescan-peer",
      prov: { source: "scan" },
    },
  ];
  const evaluate = (ex: PolicyException, controls: Control[] = shields, at = "2003-12-01") =>
    evaluateNewReleaseRule(rule, w2k3(), controls, withPolicy({ exceptions: [ex] }), ms(at));

  it("an approved exception with its required controls verified suspends the violation", () => {
    expect(evaluate(exception())).toMatchObject({
      state: "excepted",
      exception: { id: "EX-1", valid: true },
    });
  });

  it.each([
    [{ approver: { name: "N. Owner", role: "network-owner" } }, "the rule requires ciso"],
    [{ expiresAt: "2004-01-15" }, "longer than the rule's maximum P30D"],
    [{ approvedAt: "2003-12-05" }, "not yet approved"],
  ])("an exception that does not hold is reported: %j", (changes, problem) => {
    const result = evaluate(exception(changes));
    expect(result.state).toBe("violation");
    expect(result.exception?.problems.join("; ")).toContain(problem);
  });

  it("needs its controls verified and unexpired", () => {
    expect(evaluate(exception(), []).exception?.problems).toEqual([
      "requires shield-perimeter, and no verified, unexpired control provides it",
      "requires shield-host, and no verified, unexpired control provides it",
    ]);
    // The host firewall's 7-day TTL ran out on 2003-12-07.
    expect(
      evaluate(
        exception({ expiresAt: "2003-12-19", approvedAt: "2003-11-20" }),
        shields,
        "2003-12-08",
      ).exception?.problems,
    ).toEqual([
      "requires shield-perimeter, and no verified, unexpired control provides it",
      "requires shield-host, and no verified, unexpired control provides it",
    ]);
  });

  it("expires with its date, and the violation returns", () => {
    const result = evaluate(exception(), shields, "2003-12-15");
    expect(result.state).toBe("violation");
    expect(result.exception?.problems).toContain("expired on 2003-12-15");
  });
});

describe("policy findings through assess()", () => {
  it("finds the new-release violation and each service the zone does not allow", () => {
    const asset = w2k3({
      reachable: [tcp(443, "internet"), tcp(135, "internet"), tcp(3389, "internet")],
    });
    const findings = policyFindings(asset, catalog, [], policy, ms("2004-03-15"));
    expect(findings.map((f) => [f.advisory, f.protocol, f.port, f.checkId])).toEqual([
      ["default-deny-exposed-services", "tcp", 135, "default-deny-exposed-service"],
      ["default-deny-exposed-services", "tcp", 3389, "default-deny-exposed-service"],
      ["new-release-windows-server-2003", "tcp", 0, "new-release-windows-server-2003"],
    ]);
    // Under revision 1 the new-release finding is gone.
    expect(
      policyFindings(asset, catalog, [], pinRev1(), ms("2004-03-15")).map((f) => f.port),
    ).toEqual([135, 3389]);
  });

  it("assesses a new-release violation: rating, revision, clock from when it began, actions", () => {
    const asset = w2k3();
    const finding = makeFinding(
      asset,
      "new-release-windows-server-2003",
      "new-release-windows-server-2003",
      "2004-03-15T00:00:00Z",
      {
        port: 0,
        firstSeen: "2003-12-01T00:00:00Z",
      },
    );
    const a = assess(
      finding,
      asset,
      catalog.require("new-release-windows-server-2003"),
      emptyIntel(),
      [],
      policy,
      "2004-03-15T00:00:00Z",
    );
    expect(a.rating).toMatchObject({ level: "high", rule: "P-NEW-RELEASE-EXPOSURE" });
    expect(a.policyResult).toMatchObject({
      state: "violation",
      revision: { date: "2004-02-12" },
      notBefore: "2004-04-01T00:00:00.000Z",
    });
    // Compliant from 2004-01-01 (revision 1's date passed) until revision 2 on 2004-02-12.
    expect(a.clocks.protectBy).toBe("2004-02-19T00:00:00.000Z");
    expect(a.clocks.overdue).toContain("protectBy");
    expect(kinds(a)).toEqual(["remove-exposure", "request-exception", "verify-shield"]);
    expect(a.actions.find((x) => x.kind === "request-exception")?.detail).toMatchObject({
      approverRole: "ciso",
      maxDuration: "P30D",
      requires: ["shield-perimeter", "shield-host"],
    });

    const underRev1 = assess(
      finding,
      asset,
      catalog.require("new-release-windows-server-2003"),
      emptyIntel(),
      [],
      pinRev1(),
      "2004-03-15T00:00:00Z",
    );
    expect(underRev1.applicable).toBe(false);
    expect(underRev1.policyResult).toMatchObject({
      state: "compliant",
      revision: { date: "2003-07-16", pinned: true },
    });
    expect(underRev1.actions).toEqual([]);
  });

  it("assesses an allowlist violation, and its verified block or exception", () => {
    const asset = w2k3({ reachable: [tcp(443, "internet"), tcp(135, "internet")] });
    const finding = makeFinding(
      asset,
      "default-deny-exposed-services",
      "default-deny-exposed-service",
      "2004-03-15T00:00:00Z",
      { port: 135 },
    );
    const advisory = catalog.require("default-deny-exposed-services");
    const a = assess(finding, asset, advisory, emptyIntel(), [], policy, "2004-03-15T00:00:00Z");
    expect(a.rating.level).toBe("moderate");
    expect(a.policyResult?.state).toBe("violation");
    expect(a.reasons.find((r) => r.rule === "P-EXPOSURE-ALLOWLIST")?.text).toBe(
      "tcp/135 is reachable but not allowed in internet (deny all except what is explicitly allowed)",
    );
    expect(kinds(a)).toEqual(["shield-perimeter", "request-exception", "verify-shield"]);
    expect(a.clocks.protectBy).toBe("2004-03-22T00:00:00.000Z");

    const blocked = assess(
      finding,
      asset,
      advisory,
      emptyIntel(),
      [perimeterBlock("fw", "2004-03-14T00:00:00Z", [135])],
      policy,
      "2004-03-15T00:00:00Z",
    );
    expect(blocked.policyResult?.state).toBe("compliant");

    const excepted = withPolicy({
      exceptions: [
        {
          id: "EX-RPC",
          rule: "default-deny/exposed-services",
          assets: [],
          ranges: ["198.51.100.0/24"],
          services: [{ proto: "tcp", port: 135 }],
          approver: { name: "N. Owner", role: "network-owner" },
          approvedAt: "2004-03-01",
          expiresAt: "2004-05-01",
          reason: "DCOM partner link",
        },
      ],
    });
    const ex = assess(finding, asset, advisory, emptyIntel(), [], excepted, "2004-03-15T00:00:00Z");
    expect(ex.policyResult).toMatchObject({
      state: "excepted",
      exception: { id: "EX-RPC", valid: true },
    });
    expect(kinds(ex)).toEqual(["review-exception"]);
    expect(ex.actions[0]?.due).toBe("2004-05-01T00:00:00.000Z");
  });

  it("internal zones are not governed by the default allowlist", () => {
    const asset = makeAsset({
      id: "pc",
      address: "10.0.0.2",
      zone: "internal",
      reachable: [tcp(135, "internal")],
    });
    expect(policyFindings(asset, catalog, [], policy, ms("2004-03-15"))).toEqual([]);
  });
});

describe("policy files", () => {
  const POLICY = `schema: ringfence.policy/1
id: acme
version: 3
internalExposure: open
clocks:
  protect: { veryHighOpen: PT2H }
exposureAllowlist:
  - zone: internet
    allow: [{ proto: tcp, port: 443 }]
pinRevisions:
  new-release-exposure/windows-server-2003: 2003-07-16
`;

  it("reads a policy, keeps the defaults it does not set, and hashes document and tables", async () => {
    const doc = parsePolicyFile(POLICY, "policy.yaml");
    expect(doc.version).toBe("3");
    expect(doc.clocks.protect).toMatchObject({ veryHighOpen: "PT2H", veryHighControlled: "PT24H" });
    expect(doc.controlTtl.hostFirewallRoaming).toBe("PT24H");
    const p = createRiskPolicy(doc, policy.tables);
    expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(p.sha256).not.toBe(policy.sha256);
    expect(createRiskPolicy(doc, policy.tables).sha256).toBe(p.sha256);
  });

  it.each([
    [POLICY.replace("PT2H", "2 hours"), "clocks.protect.veryHighOpen", 6, "ISO 8601 duration"],
    [
      POLICY.replace("internalExposure: open", "internalExposure: wide"),
      "internalExposure",
      4,
      "Invalid option",
    ],
    [
      POLICY.replace("version: 3", "version: 3\nepssPercentil: 0.9"),
      "epssPercentil",
      4,
      'unknown key "epssPercentil"',
    ],
    [
      POLICY.replace("2003-07-16", "2003-13-16"),
      "pinRevisions.new-release-exposure/windows-server-2003",
      11,
      "expected a date",
    ],
  ])("rejects a malformed policy with path and line (%#)", (text, path, line, reason) => {
    let caught: unknown;
    try {
      parsePolicyFile(text, "policy.yaml");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RingfenceFileError);
    const error = caught as RingfenceFileError;
    expect(error.code).toBe("RINGFENCE_POLICY_FILE");
    expect(error.issues[0]).toMatchObject({ path, line });
    expect(error.issues[0]?.reason).toContain(reason);
  });
});
