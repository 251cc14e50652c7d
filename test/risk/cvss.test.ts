/**
 * Golden tests of research §5.9 items 1–3: NVD scores recomputed from their vectors, the CVSS
 * v4.0 rounding case, the derived vectors of §2.3, and invalid vectors rejected (never scored 0).
 */
import { describe, expect, it } from "vitest";
import { RingfenceError } from "../../src/errors.js";
import { scoreCvss } from "../../src/risk/index.js";
import { builtinCatalog } from "./helpers.js";

// research §2.1: the NVD primary vectors and scores of the seven CVEs.
const NVD: [
  cve: string,
  vector: string,
  score: number,
  exploitability?: number,
  impact?: number,
][] = [
  ["CVE-2003-0352", "AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5, 10.0, 6.4],
  ["CVE-2003-0715", "AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0],
  ["CVE-2003-0528", "AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0],
  ["CVE-2003-0605", "AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5],
  ["CVE-2017-0144", "AV:N/AC:M/Au:N/C:C/I:C/A:C", 9.3],
  ["CVE-2017-0144", "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8, 2.8, 5.9],
  ["CVE-2020-0796", "AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5],
  ["CVE-2020-0796", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0, 3.9, 6.0],
  ["CVE-2019-0708", "AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0],
  ["CVE-2019-0708", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, 3.9, 5.9],
];

// research §2.3: derived vectors (ours), checked there against the FIRST/Red Hat calculator.
const DERIVED: [vector: string, score: number][] = [
  ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8],
  ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3],
  ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A", 9.3],
  ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U", 8.1],
  ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5],
  ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N", 8.7],
  ["CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 8.7],
  ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", 10.0],
  ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A/MAV:A", 8.7],
  ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A/MAV:L", 8.6],
];

function cvssError(vector: string): RingfenceError {
  let caught: unknown;
  try {
    scoreCvss(vector);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(RingfenceError);
  expect((caught as RingfenceError).code).toBe("RINGFENCE_CVSS_VECTOR");
  return caught as RingfenceError;
}

describe("scoreCvss", () => {
  it.each(NVD)("%s %s = %d (NVD)", (_cve, vector, score, exploitability, impact) => {
    const result = scoreCvss(vector);
    expect(result.base).toBe(score);
    expect(result.overall).toBe(score);
    if (exploitability !== undefined) expect(result.exploitability).toBe(exploitability);
    if (impact !== undefined) expect(result.impact).toBe(impact);
  });

  it("labels severities per version", () => {
    expect(scoreCvss("AV:N/AC:L/Au:N/C:P/I:P/A:P").severity).toBe("high");
    expect(scoreCvss("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H").severity).toBe("high");
    expect(scoreCvss("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H").severity).toBe("critical");
  });

  it.each(DERIVED)("derived %s = %d", (vector, score) => {
    expect(scoreCvss(vector).overall).toBe(score);
  });

  it("keeps the v4.0 base score apart from the threat-adjusted one", () => {
    const result = scoreCvss("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U");
    expect(result.base).toBe(9.3);
    expect(result.overall).toBe(8.1);
  });

  it("rounds CVSS v4.0 the fixed way (RedHatProductSecurity/cvss-v4-calculator#66): 8.6, not 8.5", () => {
    expect(
      scoreCvss("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:H/VI:L/VA:N/SC:H/SI:H/SA:H").overall,
    ).toBe(8.6);
  });

  it("shows why v2 temporal must never drive urgency: an official fix lowers the score (6.5)", () => {
    const result = scoreCvss("AV:N/AC:L/Au:N/C:P/I:P/A:P/E:H/RL:OF/RC:C");
    expect(result.base).toBe(7.5);
    expect(result.overall).toBe(6.5);
  });

  it("rejects an incomplete vector with the missing metric, instead of the library's 0", () => {
    const error = cvssError("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H");
    expect(error.message).toContain("missing base metric A");
    expect(
      cvssError("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N").message,
    ).toContain("missing base metric SA");
    expect(cvssError("AV:N/AC:L/Au:N/C:P/I:P").message).toContain("missing base metric A");
  });

  it.each([
    ["garbage", "malformed metric"],
    ["", "empty"],
    ["CVSS:5.0/AV:N", "unknown CVSS version"],
    ["CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 'metric AV has value "X"'],
    ["CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "appears twice"],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/AT:N", 'unknown metric "AT"'],
    ["AV:N/AC:L/Au:N/C:P/I:P/A:P/E:POC/RL:XX", 'metric RL has value "XX"'],
  ])("rejects %j (%s)", (vector, reason) => {
    expect(cvssError(vector).message).toContain(reason);
  });

  it("reproduces every published score of the built-in catalog, official and derived", async () => {
    const catalog = await builtinCatalog();
    let count = 0;
    for (const advisory of catalog.list()) {
      for (const vuln of advisory.vulnerabilities) {
        for (const entry of vuln.cvss) {
          expect(entry.publishedScore, `${vuln.id} ${entry.vector}`).toBeDefined();
          expect(scoreCvss(entry.vector).overall, `${vuln.id} ${entry.vector}`).toBe(
            entry.publishedScore,
          );
          count++;
        }
      }
    }
    expect(count).toBeGreaterThanOrEqual(20);
  });
});
