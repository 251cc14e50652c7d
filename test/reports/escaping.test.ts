import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csvRow, readNmapXml, renderNmapXml } from "../../src/interchange/index.js";
import { escapeHtml, type ReportModel } from "../../src/reports/index.js";
import { runCli } from "../helpers/cli.js";
import { createTestStoreLocation, type TestStoreLocation } from "../helpers/test-store.js";

const XMLLINT = existsSync("/usr/bin/xmllint") ? "/usr/bin/xmllint" : null;
const EVIL = `<script>alert("x")</script>&amp;'"=cmd|' /C calc'!A0`;

/** RFC 4180 §2 records, for checking what csvRow wrote (test-only reader). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += ch;
  }
  return rows;
}

/** A one-host model, as loadReportModel would build it, with `hostname` as the host's name. */
function modelWith(hostname: string, reason = "syn-ack"): ReportModel {
  const at = "2026-11-27T10:00:00.000Z";
  return {
    asOf: at,
    scan: {
      id: "s-test",
      createdAt: at,
      startedAt: at,
      finishedAt: at,
      status: "completed",
      command: `ringfence scan ${hostname}`,
      params: { tcpPorts: [135] },
      paramsHash: "",
      totalProbes: 1,
      checkpointStep: 1,
      probesDone: 1,
      counts: {},
      error: null,
    },
    hosts: [
      {
        address: "127.20.0.5",
        family: "ipv4",
        hostnames: [hostname],
        os: hostname,
        osConfidence: 50,
        openPorts: ["tcp/135"],
        firstSeen: at,
        lastSeen: at,
        detail: { smb: { nativeOs: hostname, dialects: ["NT LM 0.12", hostname] } },
        checkRuns: [],
      },
    ],
    observations: [
      {
        scanId: "s-test",
        address: "127.20.0.5",
        protocol: "tcp",
        port: 135,
        state: "open",
        reason,
        rttMs: 1,
        observedAt: at,
        detail: null,
      },
    ],
    findings: [],
    transitions: [],
    checkRuns: [],
  };
}

describe("escaping in every format", () => {
  let store: TestStoreLocation;

  beforeAll(async () => {
    store = await createTestStoreLocation("rf-reports-escape-");
  });
  afterAll(async () => {
    await store?.cleanup();
  });

  it("a <script> hostname imported from nmap XML is inert in HTML and survives nmap XML", async () => {
    const xml = renderNmapXml(modelWith(EVIL), { version: "test" });
    const file = join(store.dir, "evil.xml");
    writeFileSync(file, xml);
    const imported = await runCli(["import", file, "--db", store.location]);
    expect(imported.stderr).toBe("");
    expect(imported.code).toBe(0);

    const html = (await runCli(["report", "--format", "html", "--db", store.location])).stdout;
    expect(html).not.toContain("<script");
    expect(html).toContain(escapeHtml(EVIL));

    const out = join(store.dir, "again.xml");
    const again = await runCli([
      "report",
      "--format",
      "nmap-xml",
      "--out",
      out,
      "--db",
      store.location,
    ]);
    expect(again.code).toBe(0);
    const text = readFileSync(out, "utf8");
    expect(text).not.toContain("<script");
    expect(readNmapXml(text, out).hosts[0]!.hostnames).toEqual([EVIL]);
    if (XMLLINT !== null)
      execFileSync(XMLLINT, ["--noout", "--dtdvalid", "/usr/share/nmap/nmap.dtd", out], {
        stdio: "pipe",
      });
  });

  it("nmap XML: any hostname, OS and reason text round-trips through the reader", () => {
    // Text XML 1.0 can carry (§2.2 Char), trimmed as attribute values are read.
    const text = fc
      .string({ unit: "binary", minLength: 1, maxLength: 40 })
      .map((s) =>
        s
          // eslint-disable-next-line no-control-regex -- XML 1.0 §2.2 excludes these characters
          .replace(/[\u0000-\u001f\ufffe\uffff]/g, "")
          .replace(/[\ud800-\udfff]/g, "")
          .trim(),
      )
      .filter((s) => s !== "");
    fc.assert(
      fc.property(text, text, (name, reason) => {
        const xml = renderNmapXml(modelWith(name, reason), { version: "t" });
        const back = readNmapXml(xml, "mem");
        expect(back.hosts[0]!.hostnames).toEqual([name]);
        expect(back.hosts[0]!.ports[0]!.reason).toBe(reason);
        expect(back.hosts[0]!.os?.name).toBe(name);
      }),
      { numRuns: 300 },
    );
  });

  it("nmap XML with control characters and lone surrogates still validates against the DTD", (context) => {
    if (XMLLINT === null) {
      context.skip("xmllint is not installed");
      return;
    }
    const nasty = "a\u0000b\u0007c\ud800d\uffff\ttab\nline]]>--><!--";
    const file = join(store.dir, "nasty.xml");
    writeFileSync(file, renderNmapXml(modelWith(nasty), { version: "t" }));
    execFileSync(XMLLINT, ["--noout", "--dtdvalid", "/usr/share/nmap/nmap.dtd", file], {
      stdio: "pipe",
    });
    const back = readNmapXml(readFileSync(file, "utf8"), file).hosts[0]!.hostnames[0];
    expect(back).toBe("a\\x00b\\x07c\\xd800d\\xffff\ttab\nline]]>--><!--");
  });

  it("CSV: RFC 4180 round trip, and formula cells neutralised", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 30 }), { minLength: 1, maxLength: 8 }),
        (fields) => {
          const [parsed] = parseCsv(csvRow(fields));
          expect(parsed).toEqual(fields.map((f) => (/^[=+\-@\t\r]/.test(f) ? `'${f}` : f)));
        },
      ),
      { numRuns: 500 },
    );
    expect(csvRow(['=HYPERLINK("http://x")', "+1", "-1", "@SUM(A1)", "plain"])).toBe(
      `"'=HYPERLINK(""http://x"")",'+1,'-1,'@SUM(A1),plain\r\n`,
    );
  });
});
