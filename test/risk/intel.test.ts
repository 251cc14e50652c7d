/**
 * Threat-intel import from files, offline (issue 5 item 2): the KEV catalog JSON and EPSS CSV.
 * Malformed files are rejected with the file, the path or line, and the reason.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RingfenceFileError } from "../../src/advisories/index.js";
import {
  epssReading,
  kevListing,
  loadEpssCsv,
  loadKevCatalog,
  parseEpssCsv,
  parseKevCatalog,
} from "../../src/risk/index.js";

const SUBSET = join(import.meta.dirname, "fixtures", "kev-windows-subset.json");
const SHARED_KEV = "/work/shared/data/kev/known_exploited_vulnerabilities.json";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ringfence-intel-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function fileError(fn: () => unknown): RingfenceFileError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(RingfenceFileError);
  const error = caught as RingfenceFileError;
  expect(error.code).toBe("RINGFENCE_INTEL_FILE");
  expect(error.message).not.toContain("\n");
  return error;
}

const ms = (date: string): number => Date.parse(`${date}T00:00:00Z`);

const kevText = (entries: unknown[], extra: Record<string, unknown> = {}): string =>
  JSON.stringify(
    {
      title: "t",
      catalogVersion: "2025.08.25",
      dateReleased: "2025-08-25T17:04:19.9796Z",
      count: entries.length,
      vulnerabilities: entries,
      ...extra,
    },
    null,
    2,
  );
const entry = (cve: string, extra: Record<string, unknown> = {}) => ({
  cveID: cve,
  vendorProject: "Microsoft",
  product: "Windows",
  vulnerabilityName: "x",
  dateAdded: "2022-02-10",
  shortDescription: "x",
  requiredAction: "x",
  dueDate: "2022-08-10",
  ...extra,
});

describe("KEV catalog", () => {
  it("reads the fixture and answers as of a date", async () => {
    const kev = await loadKevCatalog(SUBSET);
    expect(kev.catalogVersion).toBe("2025.08.25");
    expect(kev.entries).toHaveLength(8);
    const intel = { kev: [kev], epss: [], exploitation: [] };
    expect(kevListing(intel, "CVE-2017-0144", ms("2022-02-10"))?.entry).toMatchObject({
      dateAdded: "2022-02-10",
      dueDate: "2022-08-10",
      knownRansomwareCampaignUse: "Known",
    });
    expect(kevListing(intel, "CVE-2017-0144", ms("2022-02-09"))).toBeUndefined();
    expect(kevListing(intel, "CVE-2003-0352", ms("2026-01-01"))).toBeUndefined();
  });

  it.skipIf(!existsSync(SHARED_KEV))(
    "reads the full 2025-08-25 snapshot: 1404 entries, none of the 2003 CVEs",
    async () => {
      const kev = await loadKevCatalog(SHARED_KEV);
      expect(kev.entries).toHaveLength(1404);
      const ids = new Set(kev.entries.map((e) => e.cveID));
      for (const cve of ["CVE-2003-0352", "CVE-2003-0715", "CVE-2003-0528", "CVE-2003-0605"])
        expect(ids.has(cve)).toBe(false);
      expect(ids.has("CVE-2019-0708")).toBe(true);
    },
  );

  it("keeps the BOD 26-04 forensicTriage field and tolerates it empty", () => {
    const kev = parseKevCatalog(
      kevText([
        entry("CVE-2026-0001", { forensicTriage: "Yes", newField: 1 }),
        entry("CVE-2026-0002", { forensicTriage: "" }),
      ]),
      "k.json",
    );
    expect(kev.entries[0]?.forensicTriage).toBe("Yes");
    expect(kev.entries[1]?.forensicTriage).toBeUndefined();
  });

  it("rejects bad JSON with the line", () => {
    const text = kevText([entry("CVE-2017-0144")]).replace(
      '"product": "Windows",',
      '"product": "Windows"',
    );
    const error = fileError(() => parseKevCatalog(text, "kev.json"));
    expect(error.message).toMatch(/^threat-intel file kev\.json, line \d+: not valid JSON/);
    expect(error.issues[0]?.line).toBe(11);
  });

  it("rejects a missing field with its path and line", () => {
    const bad = entry("CVE-2017-0144") as Record<string, unknown>;
    delete bad.dueDate;
    const error = fileError(() =>
      parseKevCatalog(kevText([entry("CVE-2017-0143"), bad]), "kev.json"),
    );
    expect(error.issues[0]).toMatchObject({
      file: "kev.json",
      path: "vulnerabilities[1].dueDate",
      reason: "missing (required)",
    });
    expect(error.issues[0]?.line).toBe(17);
  });

  it("rejects a bad date, a bad CVE id, a wrong count and a duplicate", () => {
    expect(
      fileError(() =>
        parseKevCatalog(kevText([entry("CVE-2017-0144", { dateAdded: "2022-02-30" })]), "k.json"),
      ).issues[0],
    ).toMatchObject({
      path: "vulnerabilities[0].dateAdded",
      reason: "expected a date YYYY-MM-DD",
    });
    expect(
      fileError(() => parseKevCatalog(kevText([entry("CVE-17-1")]), "k.json")).issues[0]?.path,
    ).toBe("vulnerabilities[0].cveID");
    expect(
      fileError(() => parseKevCatalog(kevText([entry("CVE-2017-0144")], { count: 2 }), "k.json"))
        .message,
    ).toContain("count: says 2 but the file lists 1 vulnerabilities");
    expect(
      fileError(() =>
        parseKevCatalog(kevText([entry("CVE-2017-0144"), entry("CVE-2017-0144")]), "k.json"),
      ).message,
    ).toContain("vulnerabilities[1].cveID: CVE-2017-0144 is listed twice");
  });

  it("names an unreadable file", async () => {
    await expect(loadKevCatalog(join(dir, "missing.json"))).rejects.toThrow(
      /missing\.json: cannot read: no such file/,
    );
  });
});

const EPSS = `#model_version:v2025.03.14,score_date:2026-09-13T00:00:00+0000
cve,epss,percentile
CVE-2019-0708,0.94442,0.99951
CVE-2017-0144,0.94323,0.99923
CVE-2003-0352,0.90170,0.99412
`;

describe("EPSS CSV", () => {
  it("reads the model version, the score date and the rows", () => {
    const snapshot = parseEpssCsv(EPSS, "epss.csv");
    expect(snapshot.modelVersion).toBe("v2025.03.14");
    expect(snapshot.scoreDate).toBe("2026-09-13T00:00:00.000Z");
    expect(snapshot.entries[0]).toEqual({
      cve: "CVE-2019-0708",
      epss: 0.94442,
      percentile: 0.99951,
    });
  });

  it("never uses a score from after asOf", () => {
    const intel = { kev: [], epss: [parseEpssCsv(EPSS, "epss.csv")], exploitation: [] };
    expect(epssReading(intel, "CVE-2003-0352", ms("2003-07-17"))).toBeUndefined();
    expect(epssReading(intel, "CVE-2003-0352", ms("2026-09-14"))?.percentile).toBe(0.99412);
  });

  it("reads gzipped files, as FIRST serves them", async () => {
    const path = join(dir, "epss_scores-2026-09-13.csv.gz");
    await writeFile(path, gzipSync(EPSS));
    expect((await loadEpssCsv(path)).entries).toHaveLength(3);
  });

  it("needs a score date: from the comment line or the caller", () => {
    const bare = EPSS.split("\n").slice(1).join("\n");
    expect(fileError(() => parseEpssCsv(bare, "e.csv")).message).toContain(
      "no #model_version:...,score_date:... line",
    );
    expect(parseEpssCsv(bare, "e.csv", { scoreDate: "2026-09-13" }).modelVersion).toBe("unknown");
  });

  it.each([
    [EPSS.replace("cve,epss,percentile", "cve,score"), 2, "header is"],
    [EPSS.replace("CVE-2017-0144,0.94323", "CVE-2017-0144,abc"), 4, '"abc" is not a number'],
    [
      EPSS.replace("CVE-2017-0144,0.94323", "CVE-2017-0144,94.32"),
      4,
      "a percentage (as EUVD shows) must be divided by 100",
    ],
    [EPSS.replace("CVE-2003-0352", "CVE-2019-0708"), 5, "appears twice"],
    [EPSS.replace("CVE-2003-0352,0.90170,0.99412", "CVE-2003-0352,0.9"), 5, "expected 3 fields"],
    [EPSS.replace("CVE-2019-0708,", "CVE-19-1,"), 3, "is not a CVE id"],
  ])("rejects a malformed file with its line (%#)", (text, line, reason) => {
    const error = fileError(() => parseEpssCsv(text, "epss.csv"));
    expect(error.issues[0]?.line).toBe(line);
    expect(error.message).toContain(`epss.csv, line ${line}`);
    expect(error.message).toContain(reason);
  });
});
