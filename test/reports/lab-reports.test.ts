import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import AjvDraft04Module from "ajv-draft-04";
import addFormatsModule from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDown, labUp, readGroundTruth, type GroundTruth } from "../../src/lab/index.js";
import type { GroundTruthHost } from "../../src/lab/index.js";
import { CSV_COLUMNS, JSONL_SCHEMAS, readNmapXml } from "../../src/interchange/index.js";
import type { ScanDiff } from "../../src/reports/index.js";
import { openStore, type ObservationRow } from "../../src/store/index.js";
import { runCli } from "../helpers/cli.js";
import { createTestStoreLocation, type TestStoreLocation } from "../helpers/test-store.js";

/**
 * Issue 7 acceptance for reports and diff, on the lab: two lab estates with different persona
 * seeds over the same addresses, each scanned with the default checks. `ringfence diff` must list
 * exactly the host and TCP port changes the two ground truths imply, and a verdict change for
 * every host whose expected MS03-026/MS03-039 verdict changed; every report format of the second
 * scan must pass its validator (nmap.dtd with xmllint, the SARIF 2.1.0 schema, the JSONL line
 * schemas, RFC 4180), and its nmap XML must import back into the same observations.
 */

const TCP_PORTS = [135, 139, 445, 593, 4444];
const HOSTS = 24;
// CommonJS packages whose types declare `export default`: under NodeNext that is `.default`.
const AjvDraft04 = AjvDraft04Module.default;
const addFormats = addFormatsModule.default;
const XMLLINT = existsSync("/usr/bin/xmllint") ? "/usr/bin/xmllint" : null;
const NMAP_DTD = "/usr/share/nmap/nmap.dtd";
const NDIFF = existsSync("/usr/bin/ndiff") ? "/usr/bin/ndiff" : null;
const SARIF_SCHEMA = join(import.meta.dirname, "fixtures", "sarif-schema-2.1.0.json");

function tcpState(host: GroundTruthHost, port: number): string {
  if (host.tcp.open.includes(port)) return "open";
  if (host.tcp.closed.includes(port)) return "closed";
  if (host.tcp.filtered.includes(port)) return "filtered";
  return host.elsewhere;
}

function answers(host: GroundTruthHost): boolean {
  return (
    TCP_PORTS.some((p) => ["open", "closed"].includes(tcpState(host, p))) ||
    host.udp.open.includes(137) ||
    host.udp.closed.includes(137) ||
    (host.elsewhere === "closed" && !host.udp.filtered.includes(137))
  );
}

describe("reports and diff on two lab estates", () => {
  let store: TestStoreLocation;
  let labDir: string;
  const name = `rp${process.pid.toString(36)}`;
  let truthA: GroundTruth;
  let truthB: GroundTruth;
  let scanA: string;
  let scanB: string;

  async function scanLab(seed: string): Promise<{ truth: GroundTruth; scan: string }> {
    await labDown({ name, stateDir: labDir }).catch(() => undefined);
    const lab = await labUp({ name, stateDir: labDir, hosts: HOSTS, seed });
    const truth = await readGroundTruth(lab);
    const run = await runCli(
      [
        "scan",
        lab.range,
        "--db",
        store.location,
        "--quiet",
        "--progress",
        "none",
        "--timeout",
        "1s",
        "--check-timeout",
        "2s",
        "--lab-dir",
        labDir,
        "--lab-name",
        name,
      ],
      { timeoutMs: 120_000 },
    );
    if (run.code !== 0) throw new Error(`scan failed: ${run.stderr}`);
    const scans = await runCli(["scans", "--db", store.location, "--json", "--limit", "1"]);
    const [latest] = JSON.parse(scans.stdout) as { id: string }[];
    return { truth, scan: latest!.id };
  }

  beforeAll(async () => {
    store = await createTestStoreLocation("rf-reports-lab-");
    labDir = join(store.dir, "lab");
    ({ truth: truthA, scan: scanA } = await scanLab("reports-a"));
    ({ truth: truthB, scan: scanB } = await scanLab("reports-b"));
    await labDown({ name, stateDir: labDir });
    // Ratings for SARIF levels and the HTML charts.
    const assess = await runCli(["assess", "--db", store.location, "--as-of", "2003-08-12"]);
    if (assess.code !== 0) throw new Error(`assess failed: ${assess.stderr}`);
  }, 300_000);

  afterAll(async () => {
    await labDown({ name, stateDir: labDir }).catch(() => undefined);
    await store?.cleanup();
  });

  it("diff lists exactly the host and TCP port changes the ground truths imply", async () => {
    const run = await runCli(["diff", scanA, scanB, "--json", "--db", store.location]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const diff = JSON.parse(run.stdout) as ScanDiff;

    const byAddress = (t: GroundTruth) => new Map(t.hosts.map((h) => [h.address, h]));
    const a = byAddress(truthA);
    const b = byAddress(truthB);
    const expectedHosts: string[] = [];
    const expectedPorts: string[] = [];
    for (const [address, hb] of b) {
      const ha = a.get(address)!;
      if (answers(ha) !== answers(hb))
        expectedHosts.push(`${answers(hb) ? "new" : "gone"} ${address}`);
      for (const port of TCP_PORTS) {
        const before = tcpState(ha, port);
        const after = tcpState(hb, port);
        if (before !== after) expectedPorts.push(`${address} tcp/${port} ${before}->${after}`);
      }
    }
    // The two seeds must actually differ, or this test proves nothing.
    expect(expectedPorts.length).toBeGreaterThan(0);
    expect(diff.hosts.map((h) => `${h.change} ${h.address}`).sort()).toEqual(expectedHosts.sort());
    expect(
      diff.ports
        .filter((p) => p.service.startsWith("tcp/"))
        .map((p) => `${p.address} ${p.service} ${p.before}->${p.after}`)
        .sort(),
    ).toEqual(expectedPorts.sort());

    // Every host whose expected RPCSS verdict changed shows it, with the new classification.
    let changed = 0;
    for (const [address, hb] of b) {
      const ha = a.get(address)!;
      if (ha.expected.rpcss === null || hb.expected.rpcss === null) continue;
      const rpcss = diff.verdicts.filter(
        (v) => v.address === address && v.checkId === "ms03-039-kb824146scan",
      );
      if (ha.expected.rpcss === hb.expected.rpcss) {
        expect(rpcss, address).toEqual([]);
      } else {
        changed++;
        expect(rpcss.map((v) => v.after).join(" "), address).toContain(hb.expected.rpcss);
      }
    }
    expect(changed).toBeGreaterThan(0);

    const text = await runCli(["diff", scanA, scanB, "--db", store.location]);
    expect(text.code).toBe(0);
    expect(text.stdout.split("\n")[0]).toBe(`--- scan ${scanA}`);
    for (const p of diff.ports.slice(0, 5))
      expect(text.stdout).toContain(`${p.address} ${p.service}: ${p.before} -> ${p.after}`);
  });

  it("nmap XML of a scan validates against nmap.dtd and imports back into the same observations", async (context) => {
    const out = join(store.dir, "b.xml");
    const run = await runCli([
      "report",
      "--format",
      "nmap-xml",
      "--scan",
      scanB,
      "--out",
      out,
      "--db",
      store.location,
    ]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const xml = readFileSync(out, "utf8");
    expect(xml).toContain('<hostscript><script id="ringfence-checks"');
    expect(xml).toContain('<script id="ringfence-smb-fingerprint"');
    expect(xml).toContain("<osmatch ");

    // The file is what nmap's parsers read: the same hosts and ports as the store.
    const back = readNmapXml(xml, out);
    const s = await openStore(store.location);
    let observations: ObservationRow[];
    try {
      observations = await s.scanObservations(scanB);
    } finally {
      await s.close();
    }
    const answering = new Set(
      observations.filter((o) => o.state === "open" || o.state === "closed").map((o) => o.address),
    );
    const expected = observations
      .filter((o) => answering.has(o.address))
      .map((o) => `${o.address} ${o.protocol}/${o.port} ${o.state} ${o.reason}`);
    expect(
      back.hosts.flatMap((h) =>
        h.ports.map((p) => `${h.address} ${p.protocol}/${p.port} ${p.state} ${p.reason}`),
      ),
    ).toEqual(expected);

    // And `ringfence import` of it records the same observations in a fresh store.
    const other = await createTestStoreLocation("rf-reports-reimport-");
    try {
      const imported = await runCli(["import", out, "--db", other.location, "--json"]);
      expect(imported.stderr).toBe("");
      expect(imported.code).toBe(0);
      const { scan } = JSON.parse(imported.stdout) as { scan: string };
      const o = await openStore(other.location);
      try {
        const rows = await o.scanObservations(scan);
        expect(
          rows.map((r) => `${r.address} ${r.protocol}/${r.port} ${r.state} ${r.reason}`),
        ).toEqual(expected);
      } finally {
        await o.close();
      }
      // Exported again, the ports sections are byte for byte the same.
      const again = await runCli(["report", "--format", "nmap-xml", "--db", other.location]);
      // Scripts (verdicts, the SMB fingerprint) are not imported: only what nmap itself reports.
      const ports = (text: string) =>
        (text.match(/<ports>[\s\S]*?<\/ports>/g) ?? []).map((p) =>
          p.replace(/<script [\s\S]*?<\/script>/g, ""),
        );
      expect(ports(again.stdout)).toEqual(ports(xml));
    } finally {
      await other.cleanup();
    }

    if (XMLLINT === null) {
      context.skip();
      return;
    }
    // xmllint prints nothing and exits 0 when the document is valid against the DTD.
    const lint = execFileSync(XMLLINT, ["--noout", "--dtdvalid", NMAP_DTD, out], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    expect(lint).toBe("");
  });

  it("nmap's own ndiff reads our nmap XML and sees the same port changes as ringfence diff", async (context) => {
    if (NDIFF === null) {
      context.skip("ndiff (Debian package ndiff) is not installed");
      return;
    }
    const files = [scanA, scanB].map((id) => join(store.dir, `${id}.xml`));
    for (const [i, id] of [scanA, scanB].entries()) {
      const run = await runCli([
        "report",
        "--format",
        "nmap-xml",
        "--scan",
        id,
        "--out",
        files[i]!,
        "--db",
        store.location,
      ]);
      expect(run.code).toBe(0);
    }
    // ndiff exits 1 when the scans differ, 0 when not, 2 on an error (a file it cannot read).
    const ndiff = spawnSync(NDIFF, files, { encoding: "utf8" });
    expect(ndiff.stderr).toBe("");
    expect(ndiff.status).toBe(1);
    const ours = JSON.parse(
      (await runCli(["diff", scanA, scanB, "--json", "--db", store.location])).stdout,
    ) as ScanDiff;
    // Hosts up in both scans (ndiff lists a host that came or went as a whole).
    const comeOrGone = new Set(ours.hosts.map((h) => h.address));
    const changes = ours.ports.filter(
      (p) => p.before !== null && p.after !== null && !comeOrGone.has(p.address),
    );
    expect(changes.length).toBeGreaterThan(0);
    for (const change of changes) {
      const [protocol, port] = change.service.split("/");
      // ndiff: a host header line, then "-<port>/<proto> <old state>" and "+<port>/<proto> <new state>".
      expect(ndiff.stdout).toMatch(
        new RegExp(`^-${port}/${protocol}\\s+${change.before!.replace("|", "\\|")}\\b`, "m"),
      );
      expect(ndiff.stdout).toMatch(
        new RegExp(`^\\+${port}/${protocol}\\s+${change.after!.replace("|", "\\|")}\\b`, "m"),
      );
      expect(ndiff.stdout).toMatch(
        new RegExp(`^[ +-]?${change.address.replaceAll(".", "\\.")}:`, "m"),
      );
    }
  });

  it("SARIF validates against the official 2.1.0 schema, with stable fingerprints and logical locations", async () => {
    const run = await runCli([
      "report",
      "--format",
      "sarif",
      "--db",
      store.location,
      "--as-of",
      "2003-09-01",
    ]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const log = JSON.parse(run.stdout) as {
      runs: {
        tool: {
          driver: { rules: { id: string; helpUri?: string; properties: { cves: string[] } }[] };
        };
        results: {
          ruleId: string;
          kind: string;
          level: string;
          partialFingerprints: Record<string, string>;
          properties: { rating: string | null; findingId: number };
          locations: { logicalLocations: { index: number; fullyQualifiedName: string }[] }[];
        }[];
        logicalLocations: { fullyQualifiedName: string; kind: string; parentIndex?: number }[];
      }[];
    };
    const ajv = new AjvDraft04({ allErrors: true, strict: false });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(SARIF_SCHEMA, "utf8")) as object);
    const ok = validate(log);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);

    const [sarifRun] = log.runs;
    const rules = new Map(sarifRun!.tool.driver.rules.map((r) => [r.id, r]));
    expect(rules.get("ms03-026-remote-activation")?.properties.cves).toContain("CVE-2003-0352");
    expect(rules.get("ms03-026-remote-activation")?.helpUri).toMatch(/^https:\/\//);
    const s = await openStore(store.location);
    try {
      const findings = await s.listFindings();
      expect(sarifRun!.results).toHaveLength(findings.length);
      for (const result of sarifRun!.results) {
        const location = result.locations[0]!.logicalLocations[0]!;
        const node = sarifRun!.logicalLocations[location.index]!;
        expect(node.fullyQualifiedName).toBe(location.fullyQualifiedName);
        expect(sarifRun!.logicalLocations[node.parentIndex!]!.kind).toBe("host");
        if (result.kind === "fail")
          expect(result.level).toBe(
            result.properties.rating === "very-high"
              ? "error"
              : result.properties.rating === "low"
                ? "note"
                : result.properties.rating === "high"
                  ? "error"
                  : "warning",
          );
        else expect(result.level).toBe("none");
      }
    } finally {
      await s.close();
    }
    // The same findings get the same fingerprints in a second report.
    const second = JSON.parse(
      (await runCli(["report", "--format", "sarif", "--db", store.location])).stdout,
    ) as typeof log;
    const prints = (l: typeof log) =>
      l.runs[0]!.results.map(
        (r) => `${r.properties.findingId} ${JSON.stringify(r.partialFingerprints)}`,
      );
    expect(prints(second)).toEqual(prints(log));
    expect(new Set(prints(log)).size).toBe(log.runs[0]!.results.length);
  });

  it("JSONL: every line validates against the schema it names", async () => {
    const run = await runCli([
      "report",
      "--format",
      "jsonl",
      "--scan",
      scanB,
      "--db",
      store.location,
    ]);
    expect(run.code).toBe(0);
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats(ajv);
    const validators = new Map(
      Object.entries(JSONL_SCHEMAS).map(([id, schema]) => [id, ajv.compile(schema)]),
    );
    const lines = run.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { schema: string });
    const seen = new Map<string, number>();
    for (const line of lines) {
      const validate = validators.get(line.schema);
      expect(validate, line.schema).toBeDefined();
      expect(validate!(line) ? [] : validate!.errors, line.schema).toEqual([]);
      seen.set(line.schema, (seen.get(line.schema) ?? 0) + 1);
    }
    expect(lines[0]!.schema).toBe("ringfence.report/1");
    for (const type of [
      "ringfence.host/1",
      "ringfence.observation/1",
      "ringfence.check-run/1",
      "ringfence.finding/1",
    ])
      expect(seen.get(type) ?? 0, type).toBeGreaterThan(0);
  });

  it("CSV has a header and one RFC 4180 row per finding", async () => {
    const run = await runCli(["report", "--format", "csv", "--db", store.location]);
    expect(run.code).toBe(0);
    expect(run.stdout.startsWith(CSV_COLUMNS.join(",") + "\r\n")).toBe(true);
    const s = await openStore(store.location);
    try {
      const findings = await s.listFindings();
      // Reason texts contain commas but no line breaks: one CRLF-ended record per finding.
      expect(run.stdout.split("\r\n").filter((l) => l !== "")).toHaveLength(findings.length + 1);
    } finally {
      await s.close();
    }
  });

  it("HTML is one self-contained page with the charts, overdue items and findings", async () => {
    const out = join(store.dir, "report.html");
    writeFileSync(out, "previous");
    const run = await runCli([
      "report",
      "--format",
      "html",
      "--out",
      out,
      "--as-of",
      "2003-09-01",
      "--db",
      store.location,
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("");
    const html = readFileSync(out, "utf8");
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\bsrc=|url\(|@import/i);
    expect(html).not.toMatch(/href="(?!#)/);
    expect(html).toContain("Exposure by rating and zone");
    expect(html).toContain("Remediation burndown");
    expect((html.match(/<svg /g) ?? []).length).toBe(2);
    // Assessed as of 2003-08-12, the very-high findings' protect-by clocks are long past.
    expect(html).toMatch(/<h2>Overdue<\/h2>\s*<table>/);
    if (XMLLINT !== null) execFileSync(XMLLINT, ["--html", "--noout", out], { stdio: "pipe" });
  });
});
