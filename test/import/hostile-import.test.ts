import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRingfenceError } from "../../src/errors.js";
import { readImport } from "../../src/interchange/index.js";
import { openStore } from "../../src/store/index.js";
import { isOneLineError, runCli } from "../helpers/cli.js";
import { createTestStoreLocation, type TestStoreLocation } from "../helpers/test-store.js";

/**
 * Hostile and corrupt import files are refused with one line on stderr, exit 2, and the store
 * keeps exactly what it held before (a good import is made first, so "nothing stored" is also
 * "nothing lost").
 */

const FIXTURES = join(import.meta.dirname, "fixtures");
const GOOD = readFileSync(join(FIXTURES, "masscan-1.3.2.xml"), "utf8").replaceAll(
  "198.51.100.1",
  "127.20.0.9",
);

const head = '<?xml version="1.0"?>\n';
const host = (addr: string, extra = "") =>
  `<host><status state="up" reason="syn-ack" reason_ttl="0"/><address addr="${addr}" addrtype="ipv4"/>${extra}<ports><port protocol="tcp" portid="135"><state state="open" reason="syn-ack" reason_ttl="0"/></port></ports></host>`;

const HOSTILE: Record<string, string> = {
  "billion laughs":
    head +
    '<!DOCTYPE nmaprun [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
    '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>' +
    `<nmaprun scanner="nmap">${host("127.20.0.1", '<hostnames><hostname name="&lol2;"/></hostnames>')}</nmaprun>`,
  "external entity (XXE)":
    head +
    '<!DOCTYPE nmaprun [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' +
    `<nmaprun scanner="nmap">${host("127.20.0.1", '<hostnames><hostname name="&xxe;"/></hostnames>')}</nmaprun>`,
  "undeclared entity":
    head +
    `<nmaprun scanner="nmap">${host("127.20.0.1", '<hostnames><hostname name="&passwd;"/></hostnames>')}</nmaprun>`,
  "deep nesting":
    head + "<nmaprun>" + "<table>".repeat(50_000) + "</table>".repeat(50_000) + "</nmaprun>",
  "huge attribute":
    head +
    `<nmaprun scanner="nmap">${host("127.20.0.1", `<hostnames><hostname name="${"A".repeat(4 * 1024 * 1024)}"/></hostnames>`)}</nmaprun>`,
  truncated: GOOD.slice(0, Math.floor(GOOD.length * 0.6)),
  "not XML at all": "\u0000\u0001\u0002garbage",
  "XML but not nmap": head + "<svg><rect/></svg>",
  "bad address": head + `<nmaprun scanner="nmap">${host("127.20.0.999")}</nmaprun>`,
  "bad port":
    head +
    `<nmaprun scanner="nmap">${host("127.20.0.1").replace('portid="135"', 'portid="99999"')}</nmaprun>`,
  "masscan JSON, broken":
    '[\n{ "ip": "127.20.0.1", "ports": [ {"port": 135, "proto": "tcp", "status": "open"',
  "masscan JSON, wrong shape": '[{"ip": 7, "ports": "x"}]',
  "masscan list, bad line": "#masscan\nopen tcp 135 not-an-ip 1\n# end\n",
};

describe("hostile and corrupt import files", () => {
  let store: TestStoreLocation;
  let before: string;

  async function snapshot(): Promise<string> {
    const s = await openStore(store.location);
    try {
      return JSON.stringify({
        scans: (await s.listScans()).map((x) => [x.id, x.status, x.counts]),
        hosts: await s.listHosts(),
        services: await s.listServices(),
      });
    } finally {
      await s.close();
    }
  }

  beforeAll(async () => {
    store = await createTestStoreLocation("rf-import-hostile-");
    const good = join(store.dir, "good.xml");
    writeFileSync(good, GOOD);
    const first = await runCli(["import", good, "--db", store.location]);
    if (first.code !== 0) throw new Error(first.stderr);
    before = await snapshot();
  });

  afterAll(async () => {
    await store?.cleanup();
  });

  for (const [name, content] of Object.entries(HOSTILE)) {
    it(`${name}: one-line error, exit 2, store unchanged`, async () => {
      const file = join(store.dir, `${name.replace(/\W+/g, "-")}.in`);
      writeFileSync(file, content);
      const result = await runCli(["import", file, "--db", store.location], { timeoutMs: 60_000 });
      expect(result.stdout).toBe("");
      expect(isOneLineError(result.stderr), result.stderr).toBe(true);
      expect(result.stderr).toContain("nothing was imported");
      expect(result.code).toBe(2);
      // No file content leaks into the message (the XXE target, the laughs).
      expect(result.stderr).not.toMatch(/root:|lollollol/);
      expect(await snapshot()).toBe(before);
    });
  }

  it("a file over the size limit is refused before it is read", async () => {
    const { MAX_IMPORT_BYTES } = await import("../../src/jobs/import-job.js");
    const file = join(store.dir, "big.xml");
    const { truncateSync } = await import("node:fs");
    writeFileSync(file, "");
    truncateSync(file, MAX_IMPORT_BYTES + 1);
    const result = await runCli(["import", file, "--db", store.location]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/over the \d+-byte limit/);
    expect(await snapshot()).toBe(before);
  });

  it("the readers throw only RingfenceErrors, whatever the bytes", () => {
    const formats = ["auto", "nmap-xml", "masscan-json", "masscan-list"] as const;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 400 }),
          // Mutations of a real file: cut, and spliced with arbitrary text.
          fc
            .tuple(fc.nat(GOOD.length), fc.string({ maxLength: 40 }))
            .map(([at, text]) => GOOD.slice(0, at) + text + GOOD.slice(at)),
          fc.nat(GOOD.length).map((at) => GOOD.slice(0, at)),
        ),
        fc.constantFrom(...formats),
        (text, format) => {
          try {
            readImport(text, "fuzz", format);
          } catch (error) {
            expect(isRingfenceError(error), String(error)).toBe(true);
          }
        },
      ),
      { numRuns: 600 },
    );
  });
});
