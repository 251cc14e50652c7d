/**
 * Golden test of research §5.9 item 5: the worked examples of §5.7, including the as-of replays of
 * CVE-2003-0352 (MS03-026) on 2003-07-17 (no exploit yet), 2003-07-26 (public PoC) and
 * 2003-08-12 (Blaster), plus the other advisory kinds.
 */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  loadAdvisoryCatalog,
  parseAdvisoryFile,
  type Advisory,
  type AdvisoryCatalog,
} from "../../src/advisories/index.js";
import {
  assess,
  emptyIntel,
  loadKevCatalog,
  loadRiskPolicy,
  parseEpssCsv,
  type Asset,
  type RiskPolicy,
  type ThreatIntel,
} from "../../src/risk/index.js";
import { defaultPolicy, kinds, makeAsset, makeFinding, perimeterBlock, tcp } from "./helpers.js";

const FIXTURES = join(import.meta.dirname, "fixtures");
let catalog: AdvisoryCatalog;
let policy: RiskPolicy;
let kev: ThreatIntel;

beforeAll(async () => {
  catalog = await loadAdvisoryCatalog({ extraDirs: [join(FIXTURES, "advisories")] });
  policy = await defaultPolicy();
  kev = {
    kev: [await loadKevCatalog(join(FIXTURES, "kev-windows-subset.json"))],
    epss: [],
    exploitation: [],
  };
});

/** Example A's server: Internet-facing Windows 2000 IIS server, Human Impact high, MWI high. */
function serverA(extra: Partial<Parameters<typeof makeAsset>[0]> = {}): Asset {
  return makeAsset({
    zone: "internet",
    os: { family: "windows-server", version: "2000" },
    humanImpact: "high",
    missionPrevalence: "essential",
    reachable: [tcp(135, "internet"), tcp(445, "internet")],
    ...extra,
  });
}

function assessA(
  asOf: string,
  options: { firstSeen?: string; asset?: Asset; controls?: Parameters<typeof assess>[4] } = {},
) {
  const asset = options.asset ?? serverA();
  const finding = makeFinding(asset, "MS03-026", "ms03-026-remote-activation", asOf, {
    ...(options.firstSeen === undefined ? {} : { firstSeen: options.firstSeen }),
  });
  return assess(
    finding,
    asset,
    catalog.require("ms03-026"),
    emptyIntel(),
    options.controls ?? [],
    policy,
    asOf,
  );
}

const PROTECT_THEN_FIX = [
  "disconnect-internet",
  "shield-perimeter",
  "shield-host",
  "verify-shield",
  "patch",
  "verify-fix",
  "reconnect",
  "monitor",
];

describe("A: CVE-2003-0352 on an Internet-facing Windows 2000 IIS server, 2003-07-17", () => {
  it("is Very High, scheduled by SSVC, immediate after D-FLOOR", () => {
    const a = assessA("2003-07-17T00:00:00Z");
    expect(a.rating).toMatchObject({
      level: "very-high",
      rule: "GR-VH",
      vulnerability: "CVE-2003-0352",
    });
    expect(a.rating.method).toContain("reconstruction");
    expect(a.ssvc).toMatchObject({
      exploitation: "none",
      exposure: "open",
      automatable: "yes",
      humanImpact: "high",
      rawOutcome: "scheduled",
      outcome: "immediate",
    });
    expect(a.views.cisaCoordinator).toMatchObject({ missionWellBeing: "high", level: "attend" });
    expect(a.views.bod2604).toMatchObject({ inKev: false, publiclyExposed: true, code: "3D" });
    expect(kinds(a)).toEqual(PROTECT_THEN_FIX);
    expect(a.clocks.protectBy).toBe("2003-07-17T04:00:00.000Z");
    expect(a.actions[0]?.due).toBe("2003-07-17T04:00:00.000Z");
    expect(a.clocks.fixBy).toBe("2003-07-20T00:00:00.000Z");
    expect(a.clocks.verifyBy).toBe("2003-07-21T00:00:00.000Z");
    expect(a.clocks.overdue).toEqual([]);
    // The patch available that day is MS03-026 itself.
    expect(a.actions.find((x) => x.kind === "patch")?.detail).toMatchObject({
      patch: "MS03-026",
      kb: "KB823980",
    });
  });

  it("explains itself like research §5.7 (D-EXPO, D-FLOOR reasons; the actions cite them)", () => {
    const a = assessA("2003-07-17T00:00:00Z");
    const expo = a.reasons.find((r) => r.rule === "D-EXPO");
    expect(expo?.output).toEqual({
      exposure: "open",
      open: ["tcp/135", "tcp/445"],
      publiclyExposed: true,
    });
    expect(expo?.inputs).toMatchObject({ zone: "internet", validControls: [] });
    const floor = a.reasons.find((r) => r.rule === "D-FLOOR");
    expect(floor).toMatchObject({
      inputs: { rating: "very-high", exposure: "open", rawOutcome: "scheduled" },
      output: "immediate",
      text: "Very High flaw on an open service: patch priority raised until shielding is verified",
    });
    expect(a.reasons.find((r) => r.rule === "D-EXPL")?.text).toContain("no public exploit");
    const ids = new Set(a.reasons.map((r) => r.id));
    for (const action of a.actions) {
      expect(action.because.length).toBeGreaterThan(0);
      for (const id of action.because) expect(ids.has(id)).toBe(true);
    }
  });

  it("A′: once a perimeter block is verified, exposure is controlled and the fix is out-of-cycle (14 d)", () => {
    const asset = serverA({
      containment: [
        {
          kind: "disconnected-internet",
          since: "2003-07-17T03:00:00Z",
          prov: { source: "workflow" },
        },
      ],
    });
    const block = perimeterBlock("fw-edge-rpc", "2003-07-17T06:00:00Z", [135, 139, 445, 593]);
    const a = assessA("2003-07-17T08:00:00Z", {
      asset,
      firstSeen: "2003-07-17T00:00:00Z",
      controls: [block],
    });
    expect(a.ssvc).toMatchObject({
      exposure: "controlled",
      rawOutcome: "scheduled",
      outcome: "out-of-cycle",
    });
    expect(a.reasons.find((r) => r.rule === "D-FLOOR")?.output).toBe("out-of-cycle");
    expect(a.clocks.fixBy).toBe("2003-07-31T00:00:00.000Z");
    expect(kinds(a)).toEqual(["patch", "verify-fix", "reconnect", "monitor"]);
    expect(a.actions.find((x) => x.kind === "reconnect")?.gate).toEqual(["verify-fix"]);
  });
});

describe("as-of replays of CVE-2003-0352", () => {
  it("2003-07-26: a public exploit (posted 2003-07-25) makes exploitation public-poc", () => {
    const a = assessA("2003-07-26T00:00:00Z");
    expect(a.ssvc).toMatchObject({
      exploitation: "public-poc",
      rawOutcome: "out-of-cycle",
      outcome: "immediate",
    });
    expect(a.reasons.find((r) => r.rule === "D-EXPL")?.inputs).toMatchObject({
      evidence: [{ kind: "public-exploit", date: "2003-07-25" }],
    });
    expect(kinds(a)).toEqual(PROTECT_THEN_FIX);
  });

  it("B, 2003-08-12: Blaster (CA-2003-20) makes it active and automatable by worm; triage joins the plan", () => {
    const a = assessA("2003-08-12T00:00:00Z");
    expect(a.ssvc).toMatchObject({
      exploitation: "active",
      automatable: "yes",
      rawOutcome: "immediate",
      outcome: "immediate",
    });
    expect(a.reasons.find((r) => r.rule === "D-AUTO")?.inputs).toMatchObject({
      rule: "worm",
      worm: true,
    });
    expect(a.rating.rule).toBe("GR-VH-WORM");
    expect(kinds(a)).toEqual([
      "disconnect-internet",
      "shield-perimeter",
      "shield-host",
      "verify-shield",
      "forensic-triage",
      "patch",
      "verify-fix",
      "reconnect",
      "monitor",
    ]);
    expect(a.actions.find((x) => x.kind === "patch")?.gate).toEqual(["forensic-triage"]);
  });

  it("B seen since 2003-07-17: the clocks did not restart with the worm, they are overdue", () => {
    const a = assessA("2003-08-12T00:00:00Z", { firstSeen: "2003-07-17T00:00:00Z" });
    expect(a.clocks.protectBy).toBe("2003-07-17T04:00:00.000Z");
    expect(a.clocks.fixBy).toBe("2003-07-20T00:00:00.000Z");
    expect(a.clocks.overdue).toEqual(["protectBy", "fixBy", "verifyBy"]);
    // Triage starts when exploitation became active while the service was open: the worm's day.
    expect(a.clocks.forensicTriage).toEqual({
      scopeBy: "2003-08-11T02:00:00.000Z",
      evidenceBy: "2003-08-12T00:00:00.000Z",
      decisionBy: "2003-08-14T00:00:00.000Z",
    });
  });

  it("the same inputs replayed on the three dates differ only where the facts did", () => {
    const levels = ["2003-07-17", "2003-07-26", "2003-08-12"].map(
      (d) => assessA(`${d}T00:00:00Z`).ssvc?.exploitation,
    );
    expect(levels).toEqual(["none", "public-poc", "active"]);
  });
});

describe("D: CVE-2019-0708 on an Internet RDP server (2026), a user advisory", () => {
  it("is immediate, BOD 3 d + forensic, CISA act; disconnect → triage → patch → verify → reconnect", () => {
    const asset = makeAsset({
      id: "rdp-1",
      zone: "internet",
      humanImpact: "high",
      reachable: [tcp(3389, "internet")],
    });
    const finding = makeFinding(
      asset,
      "BlueKeep",
      "bluekeep-ms-t120-channel",
      "2026-07-01T00:00:00Z",
      { port: 3389 },
    );
    const a = assess(
      finding,
      asset,
      catalog.require("CVE-2019-0708"),
      kev,
      [],
      policy,
      "2026-07-01T00:00:00Z",
    );
    expect(a.ssvc).toMatchObject({
      exploitation: "active",
      exposure: "open",
      automatable: "yes",
      humanImpact: "high",
      rawOutcome: "immediate",
    });
    expect(a.rating.level).toBe("very-high");
    expect(a.views.bod2604).toMatchObject({ inKev: true, code: "3DF" });
    expect(a.views.cisaCoordinator?.level).toBe("act");
    expect(a.reasons.find((r) => r.rule === "D-AUTO")?.inputs).toMatchObject({ rule: "cisa-adp" });
    expect(kinds(a)).toEqual([
      "disconnect-internet",
      "shield-perimeter",
      "shield-host",
      "verify-shield",
      "forensic-triage",
      "patch",
      "verify-fix",
      "reconnect",
    ]);
    expect(a.clocks).toMatchObject({
      protectBy: "2026-07-01T04:00:00.000Z",
      fixBy: "2026-07-04T00:00:00.000Z",
      forensicTriage: {
        scopeBy: "2026-07-01T02:00:00.000Z",
        evidenceBy: "2026-07-02T00:00:00.000Z",
        decisionBy: "2026-07-04T00:00:00.000Z",
      },
    });
  });
});

describe("E: CVE-2017-0144 on an internal file server", () => {
  const fileServer = (): Asset =>
    makeAsset({
      id: "fs-1",
      address: "10.1.2.3",
      zone: "internal",
      safetyImpact: "negligible",
      missionImpact: "mef-failure",
      missionPrevalence: "support",
      reachable: [tcp(445, "internal")],
    });
  /** NVD taken literally (PR:L), CISA ADP's Automatable = no, and no worm as an input. */
  const literal = (): Advisory => {
    const advisory = structuredClone(catalog.require("ms17-010"));
    for (const vuln of advisory.vulnerabilities) vuln.overrides = [];
    advisory.exploitation = advisory.exploitation.filter((e) => e.kind !== "worm");
    advisory.checks = advisory.checks.map((c) => ({ ...c, detects: ["CVE-2017-0144"] }));
    return advisory;
  };

  it("literal inputs: active, controlled, no, medium → scheduled; High; BOD 14 d; CISA attend", () => {
    const asset = fileServer();
    const finding = makeFinding(
      asset,
      "MS17-010",
      "ms17-010-peeknamedpipe",
      "2026-07-01T00:00:00Z",
      { port: 445 },
    );
    const a = assess(finding, asset, literal(), kev, [], policy, "2026-07-01T00:00:00Z");
    expect(a.ssvc).toMatchObject({
      exploitation: "active",
      exposure: "controlled",
      automatable: "no",
      humanImpact: "medium",
      rawOutcome: "scheduled",
      outcome: "scheduled",
    });
    expect(a.rating).toMatchObject({ level: "high", rule: "GR-H" });
    expect(a.views.bod2604?.code).toBe("14D");
    expect(a.views.cisaCoordinator?.level).toBe("attend");
    expect(kinds(a)).toEqual(["shield-host", "verify-shield", "patch", "verify-fix"]);
    expect(a.clocks.fixBy).toBe("2026-08-30T00:00:00.000Z");
    expect(a.clocks.protectBy).toBeUndefined();
  });

  it("with honourKevDueDate the KEV due date caps fix-by (long past here)", async () => {
    const honour = await loadRiskPolicy();
    const strict = { ...honour, honourKevDueDate: true };
    const asset = fileServer();
    const finding = makeFinding(
      asset,
      "MS17-010",
      "ms17-010-peeknamedpipe",
      "2026-07-01T00:00:00Z",
      { port: 445 },
    );
    const a = assess(finding, asset, literal(), kev, [], strict, "2026-07-01T00:00:00Z");
    expect(a.clocks.fixBy).toBe("2022-08-10T23:59:59.000Z");
    expect(a.clocks.overdue).toContain("fixBy");
    expect(a.reasons.find((r) => r.rule === "D-KEV-DUE")?.inputs).toEqual({
      dueDate: "2022-08-10",
    });
  });

  it("with the catalog's facts (WannaCry, anonymous SMB) it is Very High and shows CISA's Automatable next to ours", () => {
    const asset = fileServer();
    const finding = makeFinding(
      asset,
      "MS17-010",
      "ms17-010-peeknamedpipe",
      "2026-07-01T00:00:00Z",
      { port: 445 },
    );
    const a = assess(
      finding,
      asset,
      catalog.require("ms17-010"),
      kev,
      [],
      policy,
      "2026-07-01T00:00:00Z",
    );
    expect(a.rating).toMatchObject({
      level: "very-high",
      rule: "GR-VH-WORM",
      vulnerability: "CVE-2017-0144",
    });
    const eternalBlue = a.vulnerabilities.find((v) => v.id === "CVE-2017-0144");
    expect(eternalBlue).toMatchObject({
      automatable: "yes",
      automatableCisaAdp: "no",
      inKev: true,
      bod2604: "3-days-&-forensic-investigation",
    });
    expect(a.ssvc?.outcome).toBe("out-of-cycle");
    expect(a.vulnerabilities).toHaveLength(6);
    expect(a.reasons.some((r) => r.rule === "D-WORST")).toBe(true);
    // BOD 26-04 3DF: 3 days and forensic triage, tighter than out-of-cycle's 14 days.
    expect(a.clocks.fixBy).toBe("2026-07-04T00:00:00.000Z");
    expect(kinds(a)).toContain("forensic-triage");
  });
});

describe("other advisory kinds", () => {
  it("MS03-039: the worst of three CVEs decides; the patch is MS03-039 as of 2003-09-11", () => {
    const asset = serverA();
    const finding = makeFinding(asset, "MS03-039", "ms03-039-kb824146scan", "2003-09-11T00:00:00Z");
    const a = assess(
      finding,
      asset,
      catalog.require("KB824146"),
      emptyIntel(),
      [],
      policy,
      "2003-09-11T00:00:00Z",
    );
    const byId = Object.fromEntries(a.vulnerabilities.map((v) => [v.id, v.rating]));
    expect(byId).toEqual({
      "CVE-2003-0528": "very-high",
      "CVE-2003-0605": "moderate",
      "CVE-2003-0715": "very-high",
    });
    expect(a.rating.vulnerability).toBe("CVE-2003-0528");
    expect(a.actions.find((x) => x.kind === "patch")?.detail).toMatchObject({
      patch: "MS03-039",
      supersedes: ["MS01-048", "MS03-026"],
    });
  });

  it("after 2004-04-13 the newest superseding patch is MS04-012", () => {
    const a = assessA("2004-05-01T00:00:00Z");
    expect(a.actions.find((x) => x.kind === "patch")?.detail).toMatchObject({
      patch: "MS04-012",
      kb: "KB828741",
    });
  });

  it("the Blaster backdoor indicator: quarantine now, triage, patch, verify, reconnect", () => {
    const asset = serverA({ reachable: [tcp(135, "internet"), tcp(4444, "internet")] });
    const finding = makeFinding(
      asset,
      "blaster-backdoor",
      "blaster-backdoor-4444",
      "2003-08-12T10:00:00Z",
      { port: 4444 },
    );
    const a = assess(
      finding,
      asset,
      catalog.require("W32/Blaster"),
      emptyIntel(),
      [],
      policy,
      "2003-08-12T10:00:00Z",
    );
    expect(a.rating).toMatchObject({ level: "very-high", rule: "D-COMP" });
    expect(kinds(a)).toEqual([
      "quarantine",
      "shield-perimeter",
      "shield-host",
      "verify-shield",
      "forensic-triage",
      "patch",
      "verify-fix",
      "reconnect",
      "monitor",
    ]);
    expect(a.clocks.protectBy).toBe("2003-08-12T10:00:00.000Z");
    expect(a.reasons.some((r) => r.rule === "D-COMP")).toBe(true);
  });

  it("compromise indicators on the asset make any finding immediate (D-COMP)", () => {
    const asset = serverA({
      compromise: [{ id: "msblast.exe", observedAt: "2003-08-12T09:00:00Z" }],
    });
    const a = assessA("2003-08-12T10:00:00Z", { asset });
    expect(a.ssvc?.outcome).toBe("immediate");
    expect(kinds(a)[0]).toBe("quarantine");
    expect(a.clocks.protectBy).toBe("2003-08-12T09:00:00.000Z");
  });

  it("SMBv1 enabled: a weakness rated Moderate by override; reconfigure, no emergency shielding", () => {
    const asset = makeAsset({
      id: "fs-2",
      address: "10.1.2.4",
      zone: "internal",
      reachable: [tcp(445, "internal")],
    });
    const finding = makeFinding(asset, "smbv1-enabled", "smbv1-enabled", "2026-07-01T00:00:00Z", {
      port: 445,
    });
    const a = assess(
      finding,
      asset,
      catalog.require("SMB1"),
      kev,
      [],
      policy,
      "2026-07-01T00:00:00Z",
    );
    expect(a.rating).toMatchObject({ level: "moderate", rule: "GR-OVERRIDE" });
    expect(kinds(a)).toEqual(["reconfigure", "verify-fix"]);
    expect(a.assumptions).toContain(
      "RF-SMBV1-ENABLED: no exploitation evidence collected; exploitation taken as none",
    );
    expect(a.assumptions).toContain('safety impact unknown: policy default "negligible"');
  });

  it("a not-vulnerable verdict is not applicable: no decision, no action", () => {
    const asset = serverA();
    const finding = makeFinding(
      asset,
      "MS03-026",
      "ms03-026-remote-activation",
      "2003-07-17T00:00:00Z",
      { verdict: "not-vulnerable" },
    );
    const a = assess(
      finding,
      asset,
      catalog.require("ms03-026"),
      emptyIntel(),
      [],
      policy,
      "2003-07-17T00:00:00Z",
    );
    expect(a.applicable).toBe(false);
    expect(a.actions).toEqual([]);
    expect(a.ssvc).toBeUndefined();
    expect(a.reasons[0]).toMatchObject({ rule: "D-FINDING", output: "not-applicable" });
  });

  it("refuses inputs that do not belong together", () => {
    const asset = serverA();
    const finding = makeFinding(
      asset,
      "MS03-026",
      "ms03-026-remote-activation",
      "2003-07-17T00:00:00Z",
    );
    expect(() =>
      assess(finding, asset, catalog.require("ms17-010"), emptyIntel(), [], policy, "2003-07-17"),
    ).toThrow(/not ms17-010/);
    expect(() =>
      assess(
        { ...finding, checkId: "nope" },
        asset,
        catalog.require("ms03-026"),
        emptyIntel(),
        [],
        policy,
        "2003-07-17",
      ),
    ).toThrow(/has no check nope/);
    expect(() =>
      assess(finding, asset, catalog.require("ms03-026"), emptyIntel(), [], policy, "17/07/2003"),
    ).toThrow(/asOf/);
  });
});

describe("escalators and gaps", () => {
  const LOW = `schema: ringfence.advisory/1
id: local-leak
kind: vulnerability
title: A local information leak
published: 2020-01-01
ids: { cve: [CVE-2099-0001] }
services: [{ proto: tcp, port: 445, name: SMB }]
checks: [{ id: local-leak-check, title: t, detects: [CVE-2099-0001] }]
vulnerabilities:
  - id: CVE-2099-0001
    title: leak
    facts: { attackVector: local, privilegesRequired: low, userInteraction: none, impact: info-disclosure, prevalence: limited }
`;

  it("D-EPSS raises a defer to scheduled at the policy percentile, using only scores dated by asOf", () => {
    const advisory = parseAdvisoryFile(LOW, "local-leak.yaml");
    const asset = makeAsset({
      id: "h",
      address: "10.0.0.9",
      zone: "isolated",
      safetyImpact: "negligible",
      missionImpact: "degraded",
      reachable: [tcp(445, "isolated")],
    });
    const finding = makeFinding(asset, "local-leak", "local-leak-check", "2026-07-01T00:00:00Z", {
      port: 445,
    });
    const epss = parseEpssCsv(
      "#model_version:v2025.03.14,score_date:2026-06-30T00:00:00+0000\ncve,epss,percentile\nCVE-2099-0001,0.5,0.97\n",
      "e.csv",
    );
    const intel = { kev: [], epss: [epss], exploitation: [] };
    const raised = assess(finding, asset, advisory, intel, [], policy, "2026-07-01T00:00:00Z");
    expect(raised.ssvc).toMatchObject({ rawOutcome: "defer", outcome: "scheduled" });
    expect(raised.reasons.find((r) => r.rule === "D-EPSS")?.inputs).toMatchObject({
      percentile: 0.97,
      threshold: 0.95,
    });
    const before = assess(
      { ...finding, observedAt: "2026-06-29T00:00:00Z" },
      asset,
      advisory,
      intel,
      [],
      policy,
      "2026-06-29T00:00:00Z",
    );
    expect(before.ssvc?.outcome).toBe("defer");
    expect(before.clocks.fixBy).toBeUndefined();
    expect(kinds(before)).toEqual(["patch", "verify-fix"]);
    expect(before.actions[0]?.detail).toMatchObject({ patch: null });
  });

  it("SMBGhost between ADV200005 and the update: mitigate the service, and the patch step waits for the fix", () => {
    const asset = makeAsset({
      id: "w10",
      address: "10.0.0.10",
      zone: "internal",
      reachable: [tcp(445, "internal")],
    });
    const finding = makeFinding(
      asset,
      "smbghost",
      "smbghost-compression-capability",
      "2020-03-11T00:00:00Z",
      { port: 445, verdict: "likely-vulnerable" },
    );
    const a = assess(
      finding,
      asset,
      catalog.require("CVE-2020-0796"),
      emptyIntel(),
      [],
      policy,
      "2020-03-11T00:00:00Z",
    );
    expect(a.rating.level).toBe("very-high");
    expect(kinds(a)).toEqual(
      ["shield-host", "mitigate-service", "verify-shield", "patch", "verify-fix", "monitor"].filter(
        (k) => k !== "monitor",
      ),
    );
    expect(a.actions.find((x) => x.kind === "mitigate-service")?.detail).toMatchObject({
      workaround: "disable-smbv3-compression",
    });
    expect(a.actions.find((x) => x.kind === "patch")?.detail).toMatchObject({
      patch: null,
      watch: ["ADV200005", "KB4551762"],
    });
    expect(a.assumptions).toContain("no patch for smbghost had been released as of 2020-03-11");
  });
});
