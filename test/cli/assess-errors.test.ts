import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type CheckRunInput } from "../../src/store/index.js";
import { directorySnapshot } from "../store/store-test-helpers.js";
import { isOneLineError, ROOT, runCli, scratchDir } from "../helpers/cli.js";

/**
 * `ringfence assess` / `findings` / `explain` without a lab: an inventory written through the
 * store API (two hosts with MS03-026 findings, one of them Blaster-infected), then the CLI. A
 * malformed input file is one line, exit 2, and leaves the database byte for byte as it was.
 */

function run(address: string, port: number, checkId: string, advisory: string): CheckRunInput {
  return {
    scanId: null,
    address,
    protocol: "tcp",
    port,
    checkId,
    advisories: [advisory],
    verdict: "VULNERABLE",
    classification: null,
    reasonCode: "test",
    reason: "test fixture",
    evidence: [],
    startedAt: "2024-03-01T00:00:00.000Z",
    finishedAt: "2024-03-01T00:00:01.000Z",
  };
}

function assessmentsTable(db: string): unknown[] {
  const conn = new Database(db, { readonly: true });
  try {
    return conn.prepare("select * from assessments order by id").all();
  } finally {
    conn.close();
  }
}

describe("ringfence assess: inputs, determinism and bad files", () => {
  const tmp = scratchDir("rf-assess-");
  const dbDir = join(tmp.dir, "db");
  const db = join(dbDir, "inv.db");
  const site = join(tmp.dir, "site.yaml");
  const base = ["--db", db, "--site", site];

  beforeAll(async () => {
    mkdirSync(dbDir);
    writeFileSync(
      site,
      "schema: ringfence.site/1\nname: t\nzones:\n  - { zone: internet, ranges: [127.20.0.0/25] }\n  - { zone: internal, ranges: [127.20.0.128/25] }\n",
    );
    const store = await openStore(db);
    try {
      await store.recordCheckRuns([
        run("127.20.0.5", 135, "ms03-026-remote-activation", "ms03-026"),
        run("127.20.0.200", 135, "ms03-026-remote-activation", "ms03-026"),
        run("127.20.0.9", 135, "ms03-026-remote-activation", "ms03-026"),
        run("127.20.0.9", 4444, "blaster-backdoor-4444", "blaster-backdoor"),
      ]);
    } finally {
      await store.close();
    }
  });
  afterAll(() => tmp.cleanup());

  it("assesses, stores, and gives the same bytes for the same inputs", async () => {
    const first = await runCli(["assess", ...base, "--as-of", "2003-08-12", "--json"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const again = await runCli(["assess", ...base, "--as-of", "2003-08-12T00:00:00Z", "--json"]);
    expect(again.stdout).toBe(first.stdout);
    const rows = assessmentsTable(db) as { finding_id: number; assessment_json: string }[];
    expect(rows.length).toBe(8);
    const byFinding = new Map<number, string[]>();
    for (const row of rows) {
      byFinding.set(row.finding_id, [
        ...(byFinding.get(row.finding_id) ?? []),
        row.assessment_json,
      ]);
    }
    for (const [, [a, b]] of byFinding) expect(b).toBe(a);
    const printed = JSON.parse(first.stdout) as { subject: { address: string } }[];
    // The compromised host first (protect-by asOf + 0 h), then internet (4 h), then internal (24 h).
    expect(printed.map((a) => a.subject.address)).toEqual([
      "127.20.0.9",
      "127.20.0.9",
      "127.20.0.5",
      "127.20.0.200",
    ]);
  });

  it("prints a table sorted by rating then protect-by", async () => {
    const result = await runCli(["assess", ...base, "--as-of", "2003-08-12"]);
    expect(result.code).toBe(0);
    const lines = result.stdout.split("\n").filter((l) => /127\.20\.0\.\d+ tcp/.test(l));
    expect(lines.map((l) => /127\.20\.0\.\d+ tcp\/\d+/.exec(l)?.[0])).toEqual([
      "127.20.0.9 tcp/135",
      "127.20.0.9 tcp/4444",
      "127.20.0.5 tcp/135",
      "127.20.0.200 tcp/135",
    ]);
    expect(lines[2]).toMatch(
      /very-high.*immediate.*2003-08-12 04:00Z.*2003-08-15 00:00Z.*disconnect-internet/,
    );
    expect(lines[3]).toMatch(
      /very-high.*out-of-cycle.*2003-08-13 00:00Z.*2003-08-26 00:00Z.*shield-host/,
    );
    expect(result.stdout).toContain("4 findings assessed as of 2003-08-12T00:00:00.000Z");
  });

  it("findings lists the latest assessment per finding, with filters", async () => {
    const all = await runCli(["findings", "--db", db, "--json"]);
    expect(all.code).toBe(0);
    const rows = JSON.parse(all.stdout) as {
      finding: { id: number; address: string };
      assessment: { zone: string; rating: string; protectBy: string; firstAction: string };
    }[];
    expect(
      rows.map((r) => [r.finding.address, r.assessment.zone, r.assessment.firstAction]),
    ).toEqual([
      ["127.20.0.9", "internet", "quarantine"],
      ["127.20.0.9", "internet", "quarantine"],
      ["127.20.0.5", "internet", "disconnect-internet"],
      ["127.20.0.200", "internal", "shield-host"],
    ]);
    const internal = await runCli(["findings", "--db", db, "--zone", "internal", "--json"]);
    expect((JSON.parse(internal.stdout) as unknown[]).length).toBe(1);
    const blaster = await runCli(["findings", "--db", db, "--advisory", "blaster-backdoor"]);
    expect(blaster.stdout).toContain("127.20.0.9 tcp/4444");
    expect(blaster.stdout).toContain("1 findings");
    const limited = await runCli(["findings", "--db", db, "--limit", "2", "--json"]);
    expect((JSON.parse(limited.stdout) as unknown[]).length).toBe(2);
    const closed = await runCli(["findings", "--db", db, "--status", "closed"]);
    expect(closed.stdout).toContain("no findings match");
  });

  it("explain --json prints the stored bytes; a finding that does not exist is exit 2", async () => {
    const rows = assessmentsTable(db) as {
      id: number;
      finding_id: number;
      assessment_json: string;
    }[];
    const last = rows.at(-1)!;
    const json = await runCli(["explain", String(last.finding_id), "--db", db, "--json"]);
    expect(json.code).toBe(0);
    expect(json.stdout).toBe(`${last.assessment_json}\n`);
    for (const id of ["9999", "abc"]) {
      const missing = await runCli(["explain", id, "--db", db]);
      expect(missing.code).toBe(2);
      expect(isOneLineError(missing.stderr)).toBe(true);
      expect(missing.stderr).toContain(id);
    }
  });

  const bad = (name: string, text: string): string => {
    const file = join(tmp.dir, name);
    writeFileSync(file, text);
    return file;
  };

  it.each([
    [
      "a KEV file that is not JSON",
      () => ["--kev", bad("kev-syntax.json", '{"catalogVersion": ')],
      ["kev-syntax.json", "not valid JSON"],
    ],
    [
      "a KEV file with a bad entry",
      () => [
        "--kev",
        bad(
          "kev-entry.json",
          JSON.stringify(
            {
              catalogVersion: "1",
              dateReleased: "2025-08-25T00:00:00Z",
              count: 1,
              vulnerabilities: [{ cveID: "CVE-2003-0352", dateAdded: "yesterday" }],
            },
            null,
            2,
          ),
        ),
      ],
      ["kev-entry.json", "vulnerabilities[0]"],
    ],
    ["a KEV file that does not exist", () => ["--kev", join(tmp.dir, "nope.json")], ["nope.json"]],
    [
      "an EPSS file with a bad header",
      () => [
        "--epss",
        bad("epss.csv", "#model_version:v2025.03.14,score_date:2025-08-25T00:00:00Z\ncve,score\n"),
      ],
      ["epss.csv", "header"],
    ],
    [
      "an EPSS score above 1",
      () => [
        "--epss",
        bad(
          "epss-pct.csv",
          "#model_version:v2025.03.14,score_date:2025-08-25T00:00:00Z\ncve,epss,percentile\nCVE-2003-0352,94.5,0.99\n",
        ),
      ],
      ["epss-pct.csv", "line 3", "epss"],
    ],
    [
      "a site file with an unknown zone",
      () => [
        "--site",
        bad(
          "site-bad.yaml",
          "schema: ringfence.site/1\nname: t\nzones:\n  - { zone: dmz, ranges: [10.0.0.0/8] }\n",
        ),
      ],
      ["site-bad.yaml", "zones[0].zone"],
    ],
    [
      "a policy file with a bad clock",
      () => [
        "--policy",
        bad(
          "policy.yaml",
          "schema: ringfence.policy/1\nid: p\nversion: 1\nclocks:\n  protect:\n    veryHighOpen: 4 hours\n",
        ),
      ],
      ["policy.yaml", "clocks.protect.veryHighOpen"],
    ],
    [
      "an advisory directory with a bad file",
      () => {
        const dir = join(tmp.dir, "advisories");
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, "x.yaml"), "schema: ringfence.advisory/1\nid: Bad Id\n");
        return ["--advisories", dir];
      },
      ["x.yaml", "id"],
    ],
    ["a bad --as-of", () => ["--as-of", "12/08/2003"], ["12/08/2003"]],
    ["a bad --vantage", () => ["--vantage", "dmz"], ["dmz"]],
  ])("%s: one line, exit 2, nothing stored changes", async (_what, args, mentions) => {
    const before = { rows: assessmentsTable(db), files: directorySnapshot(dbDir) };
    const result = await runCli(["assess", ...base, ...args()]);
    expect(result.code).toBe(2);
    expect(isOneLineError(result.stderr)).toBe(true);
    for (const mention of mentions) expect(result.stderr).toContain(mention);
    expect(result.stdout).toBe("");
    expect({ rows: assessmentsTable(db), files: directorySnapshot(dbDir) }).toEqual(before);
  });

  it("accepts the vendored KEV subset and names it in explain", async () => {
    const kev = join(ROOT, "test", "risk", "fixtures", "kev-windows-subset.json");
    const result = await runCli(["assess", ...base, "--kev", kev, "--as-of", "2003-08-12"]);
    expect(result.code).toBe(0);
    const rows = assessmentsTable(db) as { finding_id: number }[];
    const explained = await runCli(["explain", String(rows.at(-1)!.finding_id), "--db", db]);
    expect(explained.stdout).toContain("KEV ");
    expect(explained.stdout).toContain("kev-windows-subset.json");
  });
});
