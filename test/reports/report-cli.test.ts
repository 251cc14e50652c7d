import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isOneLineError, runCli } from "../helpers/cli.js";
import { createTestStoreLocation, type TestStoreLocation } from "../helpers/test-store.js";

/** Bad input to report, import and diff: one line on stderr, exit 2, nothing written. */
describe("report, import and diff: bad input", () => {
  let store: TestStoreLocation;

  beforeAll(async () => {
    store = await createTestStoreLocation("rf-report-cli-");
  });
  afterAll(async () => {
    await store?.cleanup();
  });

  const cases: [string, () => string[], RegExp][] = [
    [
      "nmap-xml with no scan stored",
      () => ["report", "--format", "nmap-xml"],
      /no scan stored yet/,
    ],
    [
      "an unknown scan",
      () => ["report", "--format", "csv", "--scan", "s-nosuchscan"],
      /s-nosuchscan/,
    ],
    ["an unknown format", () => ["report", "--format", "pdf"], /pdf/],
    ["no format", () => ["report"], /--format/],
    ["a bad --as-of", () => ["report", "--format", "html", "--as-of", "last tuesday"], /--as-of/],
    ["diff of unknown scans", () => ["diff", "s-a", "s-b"], /s-a/],
    [
      "import of a missing file",
      () => ["import", join(store.dir, "missing.xml")],
      /cannot be read \(ENOENT\)/,
    ],
    ["import of a directory", () => ["import", store.dir], /not a regular file/],
    ["an unknown import format", () => ["import", "x.xml", "--format", "pcap"], /pcap/],
  ];
  for (const [name, args, message] of cases) {
    it(name, async () => {
      const result = await runCli([...args(), "--db", store.location]);
      expect(result.code).toBe(2);
      expect(isOneLineError(result.stderr), result.stderr).toBe(true);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).toBe("");
    });
  }

  it("--out into a missing directory fails cleanly and leaves no temporary file", async () => {
    const result = await runCli([
      "report",
      "--format",
      "csv",
      "--out",
      join(store.dir, "no", "such", "dir.csv"),
      "--db",
      store.location,
    ]);
    expect(result.code).toBe(2);
    expect(isOneLineError(result.stderr)).toBe(true);
    expect(readdirSync(store.dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});
