import { writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PERSONAS,
  labDown,
  labUp,
  readGroundTruth,
  type GroundTruth,
  type LabState,
} from "../../src/lab/index.js";
import type { Assessment } from "../../src/risk/index.js";
import { openStore, type FindingRecord } from "../../src/store/index.js";
import { isOneLineError, runCli, scratchDir } from "../helpers/cli.js";

/**
 * Issue 5's lab acceptance: a catalogue lab (every persona twice), scanned with the default safe
 * checks; a site file puts the first copy of the catalogue in zone internet and the second in zone
 * internal; `ringfence assess` (as of 2003-08-12, Blaster's second day, and as of now) must give
 * every MS03-026-vulnerable Internet-zone host a protect-by within hours and the order disconnect →
 * shield → verify → patch → verify → reconnect, internal hosts a later protect-by, Blaster-infected
 * hosts quarantine and forensic triage first; `ringfence explain` must name what drove it.
 *
 * The figures are the default policy's (src/risk/policy.ts, research §5.5): Very High with
 * exposure open → protect within PT4H; Very High controlled (internal zone, policy
 * internalExposure "controlled") → PT24H; compromise → PT0H.
 */

const HOUR = 3_600_000;
const AS_OF = "2003-08-12T00:00:00.000Z";

const ms = (iso: string | undefined): number => Date.parse(iso ?? "");

/** Positions of the kinds in the plan; -1 when absent. */
function positions(a: Assessment, kinds: readonly string[]): number[] {
  return kinds.map((kind) => a.actions.findIndex((action) => action.kind === kind));
}

/** Whether the plan holds these steps, each one of the listed kinds, in this order. */
function inOrder(a: Assessment, steps: readonly (readonly string[])[]): boolean {
  let last = -1;
  for (const kinds of steps) {
    const at = positions(a, kinds).filter((i) => i > last);
    if (at.length === 0) return false;
    last = Math.min(...at);
  }
  return true;
}

const PROTECT_THEN_FIX = [
  ["disconnect-internet", "quarantine"],
  ["shield-perimeter", "shield-host"],
  ["verify-shield"],
  ["patch"],
  ["verify-fix"],
  ["reconnect"],
] as const;

describe("ringfence assess on the lab: protect, then fix", () => {
  const tmp = scratchDir("rf-assess-lab-");
  const labRef = { name: `as${process.pid.toString(36)}`, stateDir: join(tmp.dir, "lab") };
  const db = join(tmp.dir, "inv.db");
  const site = join(tmp.dir, "site.yaml");
  let lab: LabState;
  let truth: GroundTruth;
  let findings: FindingRecord[];
  let replay: Assessment[];
  let current: Assessment[];
  let replayRun: Awaited<ReturnType<typeof runCli>>;
  let currentRun: Awaited<ReturnType<typeof runCli>>;
  const zoneOf = new Map<string, "internet" | "internal">();
  const blasterHosts = new Set<string>();

  beforeAll(async () => {
    await labDown(labRef);
    lab = await labUp({ ...labRef, hosts: PERSONAS.length * 2, layout: "catalogue" });
    truth = await readGroundTruth(lab);
    const scan = await runCli(
      [
        "scan",
        lab.range,
        "--db",
        db,
        "--quiet",
        "--progress",
        "none",
        "--timeout",
        "1s",
        "--check-timeout",
        "1s",
        "--lab-dir",
        labRef.stateDir,
        "--lab-name",
        labRef.name,
      ],
      { timeoutMs: 120_000 },
    );
    if (scan.code !== 0) throw new Error(`scan failed: ${scan.stderr}`);

    // First copy of the catalogue in zone internet, second copy internal.
    const first = truth.hosts.filter((h) => h.index < PERSONAS.length);
    const second = truth.hosts.filter((h) => h.index >= PERSONAS.length);
    const range = (hosts: typeof first) => `${hosts[0]!.address}-${hosts.at(-1)!.address}`;
    writeFileSync(
      site,
      [
        "schema: ringfence.site/1",
        "name: lab",
        "zones:",
        `  - { zone: internet, ranges: ["${range(first)}"] }`,
        `  - { zone: internal, ranges: ["${range(second)}"] }`,
        "",
      ].join("\n"),
    );
    for (const h of first) zoneOf.set(h.address, "internet");
    for (const h of second) zoneOf.set(h.address, "internal");
    for (const h of truth.hosts) if (h.expected.blaster === "present") blasterHosts.add(h.address);

    replayRun = await runCli([
      "assess",
      "--db",
      db,
      "--site",
      site,
      "--as-of",
      "2003-08-12",
      "--json",
    ]);
    replay = JSON.parse(replayRun.stdout || "[]") as Assessment[];
    currentRun = await runCli(["assess", "--db", db, "--site", site, "--json"]);
    current = JSON.parse(currentRun.stdout || "[]") as Assessment[];
    const store = await openStore(db);
    try {
      findings = await store.listFindings();
    } finally {
      await store.close();
    }
  }, 240_000);

  afterAll(async () => {
    await labDown(labRef);
    tmp.cleanup();
  });

  /** The ms03-026 findings whose check said VULNERABLE, per zone. */
  const vulnerable = (zone: "internet" | "internal", compromised: boolean) =>
    findings.filter(
      (f) =>
        f.advisory === "ms03-026" &&
        f.verdict === "vulnerable" &&
        zoneOf.get(f.address) === zone &&
        blasterHosts.has(f.address) === compromised,
    );
  const assessmentOf = (list: Assessment[], f: FindingRecord): Assessment => {
    const found = list.find((a) => a.findingId === String(f.id));
    expect(found, `assessment of finding ${f.id} (${f.address})`).toBeDefined();
    return found!;
  };

  it("assesses every open finding, as of 2003-08-12 and as of now", () => {
    expect(replayRun.code).toBe(0);
    expect(replayRun.stderr).toBe("");
    expect(currentRun.code).toBe(0);
    const open = findings.filter((f) => f.status === "open");
    expect(replay.map((a) => a.findingId).sort()).toEqual(open.map((f) => String(f.id)).sort());
    expect(current.length).toBe(replay.length);
    expect(replay.every((a) => a.asOf === AS_OF)).toBe(true);
    // The lab has vulnerable hosts on both sides, clean and infected.
    for (const zone of ["internet", "internal"] as const) {
      expect(vulnerable(zone, false).length).toBeGreaterThan(0);
      expect(vulnerable(zone, true).length).toBeGreaterThan(0);
    }
  });

  it("internet zone, vulnerable to MS03-026: protect within 4 h, disconnect → shield → verify → patch → verify → reconnect", () => {
    for (const f of vulnerable("internet", false)) {
      const a = assessmentOf(replay, f);
      expect([f.address, a.rating.level, a.exposure.level, a.ssvc?.outcome]).toEqual([
        f.address,
        "very-high",
        "open",
        "immediate",
      ]);
      expect([f.address, ms(a.clocks.protectBy) - ms(a.asOf)]).toEqual([f.address, 4 * HOUR]);
      expect(a.actions[0]?.kind).toBe("disconnect-internet");
      expect([f.address, inOrder(a, PROTECT_THEN_FIX)]).toEqual([f.address, true]);
      // Blaster is loose on 2003-08-12: triage before patching, since the host was open.
      expect(positions(a, ["forensic-triage"])[0]).toBeLessThan(positions(a, ["patch"])[0]!);
      expect(ms(a.clocks.fixBy) - ms(a.asOf)).toBe(72 * HOUR);
    }
  });

  it("internal zone: protect within 24 h, later than every internet host, shield-host first", () => {
    const internetLatest = Math.max(
      ...vulnerable("internet", false).map((f) => ms(assessmentOf(replay, f).clocks.protectBy)),
    );
    for (const f of vulnerable("internal", false)) {
      const a = assessmentOf(replay, f);
      expect([f.address, a.exposure.level, a.ssvc?.outcome]).toEqual([
        f.address,
        "controlled",
        "out-of-cycle",
      ]);
      expect(ms(a.clocks.protectBy) - ms(a.asOf)).toBe(24 * HOUR);
      expect(ms(a.clocks.protectBy)).toBeGreaterThan(internetLatest);
      expect(a.actions[0]?.kind).toBe("shield-host");
      expect(positions(a, ["disconnect-internet", "shield-perimeter"])).toEqual([-1, -1]);
      expect(inOrder(a, [["shield-host"], ["verify-shield"], ["patch"], ["verify-fix"]])).toBe(
        true,
      );
    }
  });

  it("Blaster-infected hosts: quarantine now and forensic triage, in either zone", () => {
    const indicators = findings.filter(
      (f) => f.advisory === "blaster-backdoor" && f.verdict === "vulnerable",
    );
    expect(new Set(indicators.map((f) => f.address))).toEqual(blasterHosts);
    for (const f of [
      ...indicators,
      ...vulnerable("internet", true),
      ...vulnerable("internal", true),
    ]) {
      const a = assessmentOf(replay, f);
      expect([f.address, f.advisory, a.actions[0]?.kind]).toEqual([
        f.address,
        f.advisory,
        "quarantine",
      ]);
      expect(a.clocks.protectBy).toBe(AS_OF);
      expect(a.actions.some((x) => x.kind === "forensic-triage")).toBe(true);
      expect(a.reasons.some((r) => r.rule === "D-COMP")).toBe(true);
      expect(inOrder(a, PROTECT_THEN_FIX.slice(1))).toBe(true);
    }
  });

  it("as of now, the clocks run from when the scan first saw the finding", () => {
    for (const [zone, hours] of [
      ["internet", 4],
      ["internal", 24],
    ] as const) {
      for (const f of vulnerable(zone, false)) {
        const a = assessmentOf(current, f);
        expect(ms(a.asOf)).toBeGreaterThanOrEqual(ms(f.firstSeen));
        expect([f.address, ms(a.clocks.protectBy) - ms(f.firstSeen)]).toEqual([
          f.address,
          hours * HOUR,
        ]);
        expect(ms(a.clocks.protectBy) - ms(a.asOf)).toBeLessThanOrEqual(hours * HOUR);
      }
    }
    for (const f of vulnerable("internet", false)) {
      expect(inOrder(assessmentOf(current, f), PROTECT_THEN_FIX)).toBe(true);
    }
  });

  it("findings lists the latest assessments, very-high first, then by protect-by", async () => {
    const result = await runCli(["findings", "--db", db, "--json"]);
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as {
      finding: { id: number };
      assessment: { rating: string; protectBy: string | null; asOf: string };
    }[];
    expect(rows.length).toBe(current.length);
    const order = ["very-high", "high", "moderate", "low"];
    const keys = rows.map(
      (r) => `${order.indexOf(r.assessment.rating)} ${r.assessment.protectBy ?? "~"}`,
    );
    expect(keys).toEqual([...keys].sort());
    expect(rows.every((r) => r.assessment.asOf === current[0]!.asOf)).toBe(true);
  });

  it("explain names the inputs that drove the decision, the zone from the site file, and the plan", async () => {
    // Re-assess as of the replay date so that the stored assessment is the 2003-08-12 one.
    const again = await runCli(["assess", "--db", db, "--site", site, "--as-of", "2003-08-12"]);
    expect(again.code).toBe(0);
    const f = vulnerable("internet", false)[0]!;
    const result = await runCli(["explain", String(f.id), "--db", db]);
    expect(result.code).toBe(0);
    const text = result.stdout;
    expect(text).toContain(`Finding ${f.id}: ms03-026 (vulnerability) on ${f.address} tcp/135`);
    expect(text).toMatch(/Rating: VERY-HIGH by rule GR-VH-WORM/);
    expect(text).toMatch(/Decision: IMMEDIATE/);
    expect(text).toMatch(/exploitation\s+active\s+CVE-2003-0352: active since 2003-08-11/);
    expect(text).toMatch(
      /exposure\s+open\s+.*zone internet from site-file .*site\.yaml#zones\[0\]/,
    );
    expect(text).toMatch(/automatable\s+yes\s+CVE-2003-0352: a worm has exploited it/);
    expect(text).toMatch(/human impact\s+low\s+/);
    expect(text).toMatch(/protect by\s+2003-08-12T04:00:00\.000Z/);
    const plan = text.slice(text.indexOf("Action plan"), text.indexOf("Reasons:"));
    const kinds = [...plan.matchAll(/^\s+\d+\. (\S+)/gm)].map((m) => m[1]);
    expect(kinds.slice(0, 8)).toEqual([
      "disconnect-internet",
      "shield-perimeter",
      "shield-host",
      "verify-shield",
      "forensic-triage",
      "patch",
      "verify-fix",
      "reconnect",
    ]);
    expect(text).toMatch(/r\d+\s+D-EXPO: /);
    expect(text).toContain("Assumptions:");
  });

  it("a bad --kev file is one line, exit 2, and leaves the assessments byte-identical", async () => {
    const table = () => {
      const conn = new Database(db, { readonly: true });
      try {
        return conn.prepare("select * from assessments order by id").all();
      } finally {
        conn.close();
      }
    };
    const kev = join(tmp.dir, "kev.json");
    writeFileSync(kev, '{"catalogVersion": "x", "count": 1, "vulnerabilities": [{}]}');
    const before = table();
    const result = await runCli(["assess", "--db", db, "--site", site, "--kev", kev]);
    expect(result.code).toBe(2);
    expect(isOneLineError(result.stderr)).toBe(true);
    expect(result.stderr).toContain(kev);
    expect(table()).toEqual(before);
  });

  it("explain of a finding that does not exist is one line, exit 2", async () => {
    const result = await runCli(["explain", "999999", "--db", db]);
    expect(result.code).toBe(2);
    expect(isOneLineError(result.stderr)).toBe(true);
  });
});
