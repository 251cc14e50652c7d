/**
 * Golden test of research §5.9 item 7: the same inputs give byte-identical output whatever the
 * order of the controls, the threat intel, the advisories (and the lists inside them) and the
 * asset's lists. fast-check draws the permutations.
 */
import { join } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { AdvisoryCatalog, type Advisory } from "../../src/advisories/index.js";
import {
  assess,
  assessAll,
  assessmentJson,
  loadKevCatalog,
  parseEpssCsv,
  type Asset,
  type Control,
  type Finding,
  type RiskPolicy,
  type ThreatIntel,
} from "../../src/risk/index.js";
import {
  builtinCatalog,
  defaultPolicy,
  makeAsset,
  makeFinding,
  perimeterBlock,
  tcp,
} from "./helpers.js";

/** A seeded permutation (mulberry32), so a failing seed replays exactly. */
function shuffler(seed: number): <T>(list: readonly T[]) => T[] {
  let state = seed >>> 0;
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return <T>(list: readonly T[]): T[] => {
    const out = [...list];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  };
}

type Shuffle = ReturnType<typeof shuffler>;

function shuffleAdvisory(advisory: Advisory, shuffle: Shuffle): Advisory {
  const r = advisory.remediation;
  return {
    ...advisory,
    aliases: shuffle(advisory.aliases),
    ids: { ...advisory.ids, cve: shuffle(advisory.ids.cve) },
    services: shuffle(advisory.services),
    checks: shuffle(advisory.checks.map((c) => ({ ...c, detects: shuffle(c.detects) }))),
    vulnerabilities: shuffle(
      advisory.vulnerabilities.map((v) => ({
        ...v,
        cvss: shuffle(v.cvss),
        overrides: shuffle(v.overrides),
      })),
    ),
    exploitation: shuffle(advisory.exploitation),
    remediation: {
      patches: shuffle(r.patches.map((p) => ({ ...p, supersedes: shuffle(p.supersedes) }))),
      reconfigure: shuffle(r.reconfigure),
      workarounds: shuffle(r.workarounds),
      block: shuffle(r.block),
      monitor: shuffle(r.monitor),
    },
    indicators: shuffle(advisory.indicators),
  };
}

function shuffleIntel(intel: ThreatIntel, shuffle: Shuffle): ThreatIntel {
  return {
    kev: shuffle(intel.kev.map((k) => ({ ...k, entries: shuffle(k.entries) }))),
    epss: shuffle(intel.epss.map((e) => ({ ...e, entries: shuffle(e.entries) }))),
    exploitation: shuffle(intel.exploitation),
  };
}

function shuffleAsset(asset: Asset, shuffle: Shuffle): Asset {
  return {
    ...asset,
    reachable: shuffle(asset.reachable),
    tags: shuffle(asset.tags),
    compromiseIndicators: shuffle(asset.compromiseIndicators),
  };
}

let policy: RiskPolicy;
let catalog: AdvisoryCatalog;
let intel: ThreatIntel;
let controls: Control[];

beforeAll(async () => {
  policy = await defaultPolicy();
  catalog = await builtinCatalog();
  const kev = await loadKevCatalog(
    join(import.meta.dirname, "fixtures", "kev-windows-subset.json"),
  );
  // A second, later catalog with the same entries: the earliest listing must win either way.
  const later = {
    ...kev,
    catalogVersion: "2026.01.01",
    source: { file: "later.json", sha256: "x" },
  };
  const epss = (date: string, scale: number) =>
    parseEpssCsv(
      `#model_version:v2025.03.14,score_date:${date}T00:00:00+0000\ncve,epss,percentile\n` +
        ["CVE-2017-0143", "CVE-2017-0144", "CVE-2017-0147", "CVE-2003-0352"]
          .map((cve, i) => `${cve},${(0.9 - i * 0.1) * scale},${0.99 - i * 0.01}`)
          .join("\n"),
      `epss-${date}.csv`,
    );
  intel = {
    kev: [kev, later],
    epss: [epss("2026-06-01", 1), epss("2026-06-15", 0.5)],
    exploitation: [
      {
        vulnerability: "CVE-2017-0147",
        kind: "public-exploit",
        date: "2017-04-14",
        source: "operator",
        refs: [],
      },
      {
        vulnerability: "CVE-2017-0147",
        kind: "in-the-wild",
        date: "2017-06-27",
        source: "operator (NotPetya)",
        refs: [],
      },
    ],
  };
  controls = [
    perimeterBlock("fw-1", "2026-06-28T00:00:00Z", [445, 139], {
      appliesTo: { zones: ["internet", "extranet"] },
    }),
    perimeterBlock("fw-old", "2026-05-01T00:00:00Z", [445]),
    { ...perimeterBlock("fw-declared", "2026-06-30T00:00:00Z", [445]), method: "declared" },
    {
      id: "hfw-1",
      kind: "host-firewall",
      appliesTo: { assets: ["web-1"] },
      covers: [
        { proto: "tcp", port: 445 },
        { proto: "tcp", port: 135 },
      ],
      verifiedAt: "2026-06-29T00:00:00Z",
      method: "rescan-peer",
      prov: { source: "scan" },
    },
  ];
});

function scenario(): { asset: Asset; findings: Finding[] } {
  const asset = makeAsset({
    zone: "extranet",
    os: { family: "windows-server", version: "2008" },
    tags: ["sensitive", "pci", "dmz"],
    safetyImpact: "marginal",
    missionImpact: "mef-failure",
    reachable: [
      tcp(445, "internet"),
      tcp(139, "extranet"),
      tcp(135, "internet"),
      tcp(80, "internet"),
    ],
    compromise: [
      { id: "doublepulsar", observedAt: "2026-06-30T12:00:00Z" },
      { id: "wannacry-mutex", observedAt: "2026-06-30T12:00:00Z" },
    ],
  });
  const asOf = "2026-07-01T00:00:00Z";
  return {
    asset,
    findings: [
      makeFinding(asset, "MS17-010", "ms17-010-peeknamedpipe", asOf, {
        port: 445,
        firstSeen: "2026-06-20T00:00:00Z",
        evidence: { z: 1, a: { c: 2, b: 3 } },
      }),
      makeFinding(asset, "smbv1-enabled", "smbv1-enabled", asOf, {
        port: 445,
        firstSeen: "2026-06-01T00:00:00Z",
      }),
      makeFinding(asset, "MS03-026", "ms03-026-remote-activation", asOf, { port: 135 }),
    ],
  };
}

describe("determinism (research §5.9 item 7)", () => {
  it("shuffled controls, intel, advisories and asset lists give byte-identical assessments", () => {
    const { asset, findings } = scenario();
    const asOf = "2026-07-01T00:00:00Z";
    const baseline = findings.map((f) =>
      JSON.stringify(assess(f, asset, catalog.require(f.advisory), intel, controls, policy, asOf)),
    );
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const shuffle = shuffler(seed);
        const shuffled = shuffleAsset(asset, shuffle);
        findings.forEach((finding, i) => {
          const advisory = shuffleAdvisory(catalog.require(finding.advisory), shuffle);
          const out = assess(
            finding,
            shuffled,
            advisory,
            shuffleIntel(intel, shuffle),
            shuffle(controls),
            policy,
            asOf,
          );
          expect(JSON.stringify(out)).toBe(baseline[i]);
          expect(assessmentJson(out)).toBe(baseline[i]);
        });
      }),
      { numRuns: 60 },
    );
  });

  it("a catalog built from shuffled files, and shuffled findings, give the same assessAll output", () => {
    const { asset, findings } = scenario();
    const asOf = "2026-07-01T00:00:00Z";
    const entries = catalog.list().map((advisory) => ({ advisory, source: `${advisory.id}.yaml` }));
    const baseline = JSON.stringify(
      assessAll(findings, [asset], AdvisoryCatalog.create(entries), intel, controls, policy, asOf),
    );
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const shuffle = shuffler(seed);
        const shuffledCatalog = AdvisoryCatalog.create(
          shuffle(entries).map((e) => ({ ...e, advisory: shuffleAdvisory(e.advisory, shuffle) })),
        );
        const out = assessAll(
          shuffle(findings),
          [asset],
          shuffledCatalog,
          shuffleIntel(intel, shuffle),
          shuffle(controls),
          policy,
          asOf,
        );
        expect(JSON.stringify(out)).toBe(baseline);
      }),
      { numRuns: 30 },
    );
  });

  it("object key order of the inputs does not leak into the output", () => {
    const { asset, findings } = scenario();
    const finding = findings[0] as Finding;
    const reordered = Object.fromEntries(Object.entries(finding).reverse()) as unknown as Finding;
    const asOf = "2026-07-01T00:00:00Z";
    const a = assess(finding, asset, catalog.require("ms17-010"), intel, controls, policy, asOf);
    const b = assess(
      reordered,
      Object.fromEntries(Object.entries(asset).reverse()) as unknown as Asset,
      catalog.require("ms17-010"),
      intel,
      controls,
      policy,
      asOf,
    );
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
  });
});
