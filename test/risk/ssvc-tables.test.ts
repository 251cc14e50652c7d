/**
 * Golden test of research §5.9 item 4: every row of the SSVC Deployer (72), Supplier (36), CISA
 * Coordinator (36) and BOD 26-04 (16) tables, read straight from the vendored CSVs, is what the
 * engine's lookups return; and the engine agrees with the matrices printed in research §3.2–3.6
 * (an independent copy). Broken tables are refused.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RingfenceError } from "../../src/errors.js";
import {
  bod2604Timeline,
  coordinatorLevel,
  defaultSsvcDataDir,
  deployerPriority,
  humanImpactOf,
  missionWellBeingImpactOf,
  parseDecisionTable,
  publicSafetyImpactOf,
  SSVC_TABLE_SPECS,
  supplierPriority,
  utilityOf,
  type SsvcTables,
} from "../../src/risk/index.js";
import { defaultPolicy } from "./helpers.js";

const kebab = (value: string): string => value.trim().toLowerCase().replace(/\s+/g, "-");

/** The data rows of a vendored CSV, split naively (data rows carry no quotes). */
function csvRows(file: string): string[][] {
  const text = readFileSync(join(defaultSsvcDataDir(), file), "utf8");
  return text
    .trim()
    .split("\n")
    .slice(1)
    .map((line) => line.split(",").slice(1).map(kebab));
}

let tables: SsvcTables;
const load = async (): Promise<SsvcTables> => (tables ??= (await defaultPolicy()).tables);

describe("SSVC tables from the vendored CSVs", () => {
  it("Deployer: all 72 rows", async () => {
    const t = await load();
    const rows = csvRows(SSVC_TABLE_SPECS.deployer.file);
    expect(rows).toHaveLength(72);
    rows.forEach(([exploitation, exposure, automatable, humanImpact, outcome], row) => {
      expect(
        deployerPriority(t, { exploitation, exposure, automatable, humanImpact } as never),
        `row ${row}`,
      ).toBe(outcome);
    });
  });

  it("Supplier: all 36 rows", async () => {
    const t = await load();
    const rows = csvRows(SSVC_TABLE_SPECS.supplier.file);
    expect(rows).toHaveLength(36);
    for (const [exploitation, utility, technicalImpact, publicSafetyImpact, outcome] of rows) {
      expect(
        supplierPriority(t, {
          exploitation,
          utility,
          technicalImpact,
          publicSafetyImpact,
        } as never),
      ).toBe(outcome);
    }
  });

  it("CISA Coordinator 2.0.3: all 36 rows", async () => {
    const t = await load();
    const rows = csvRows(SSVC_TABLE_SPECS.coordinator.file);
    expect(rows).toHaveLength(36);
    for (const [exploitation, automatable, technicalImpact, missionWellBeing, level] of rows) {
      expect(
        coordinatorLevel(t, {
          exploitation,
          automatable,
          technicalImpact,
          missionWellBeing,
        } as never),
      ).toBe(level);
    }
  });

  it("BOD 26-04: all 16 rows", async () => {
    const t = await load();
    const rows = csvRows(SSVC_TABLE_SPECS.bod2604.file);
    expect(rows).toHaveLength(16);
    for (const [inKev, publiclyExposed, automatable, technicalImpact, timeline] of rows) {
      expect(
        bod2604Timeline(t, { inKev, publiclyExposed, automatable, technicalImpact } as never),
      ).toBe(timeline);
    }
  });

  it("Human Impact, Public Safety Impact and Utility: every row", async () => {
    const t = await load();
    const hi = csvRows(SSVC_TABLE_SPECS.humanImpact.file);
    expect(hi).toHaveLength(16);
    for (const [safety, mission, out] of hi)
      expect(humanImpactOf(t, safety as never, mission as never)).toBe(out);
    for (const [safety, out] of csvRows(SSVC_TABLE_SPECS.publicSafetyImpact.file)) {
      expect(publicSafetyImpactOf(t, safety as never)).toBe(out);
    }
    for (const [automatable, density, out] of csvRows(SSVC_TABLE_SPECS.utility.file)) {
      expect(utilityOf(t, automatable as never, density as never)).toBe(out);
    }
  });

  it("records each table's id and file hash", async () => {
    const t = await load();
    expect(t.deployer.id).toBe("ssvc:DeployerPatchApplicationPriority@1.0.0");
    expect(t.deployer.sha256).toBe(
      "68491dc72505bf0703f32d8a278fc59cdaee4f515922633312bf4cc67f1b1aab",
    );
    expect(t.bod2604.sha256).toBe(
      "78b0e9531cd5f1af9ebd1916c37a147e74da1017ddd133ffcf3c14e095b155f6",
    );
  });
});

// The matrices as research §3.2–§3.6 print them (generated there from the same CSVs by script):
// an independent copy to catch a lookup that reads the wrong column.
const E = ["none", "public-poc", "active"] as const;
const YN = ["no", "yes"] as const;

describe("agreement with the research note's matrices", () => {
  it("Deployer §3.2 (18 × 4)", async () => {
    const t = await load();
    // prettier-ignore
    const d = "defer", s = "scheduled", o = "out-of-cycle", i = "immediate";
    // rows: exploitation × exposure (small, controlled, open) × automatable; columns: HI low..very high
    // prettier-ignore
    const matrix = [
      [d, d, s, s], [d, s, s, s], [d, s, s, s], [s, s, s, s], [d, s, s, s], [s, s, s, o],
      [d, s, s, s], [s, s, s, s], [d, s, s, s], [s, s, s, o], [s, s, s, o], [s, s, o, o],
      [s, s, o, o], [s, o, o, o], [s, s, o, o], [o, o, o, o], [s, o, o, i], [o, o, i, i],
    ];
    let row = 0;
    for (const exploitation of E) {
      for (const exposure of ["small", "controlled", "open"] as const) {
        for (const automatable of YN) {
          (["low", "medium", "high", "very-high"] as const).forEach((humanImpact, col) => {
            expect(deployerPriority(t, { exploitation, exposure, automatable, humanImpact })).toBe(
              matrix[row]?.[col],
            );
          });
          row++;
        }
      }
    }
    expect(row).toBe(18);
  });

  it("Supplier §3.3 (9 × 4)", async () => {
    const t = await load();
    // prettier-ignore
    const d = "defer", s = "scheduled", o = "out-of-cycle", i = "immediate";
    // prettier-ignore
    const matrix = [
      [d, s, s, o], [s, o, s, o], [s, o, o, o],
      [s, o, s, i], [s, i, o, i], [o, i, o, i],
      [o, i, o, i], [o, i, o, i], [i, i, i, i],
    ];
    let row = 0;
    for (const exploitation of E) {
      for (const utility of ["laborious", "efficient", "super-effective"] as const) {
        // prettier-ignore
        const cols = [
          ["partial", "minimal"], ["partial", "significant"], ["total", "minimal"], ["total", "significant"],
        ] as const;
        cols.forEach(([technicalImpact, publicSafetyImpact], col) => {
          expect(
            supplierPriority(t, { exploitation, utility, technicalImpact, publicSafetyImpact }),
          ).toBe(matrix[row]?.[col]);
        });
        row++;
      }
    }
  });

  it("CISA Coordinator §3.4 (12 × 3)", async () => {
    const t = await load();
    // prettier-ignore
    const matrix = [
      ["track", "track", "track"], ["track", "track", "track*"], ["track", "track", "attend"], ["track", "track", "attend"],
      ["track", "track", "track*"], ["track", "track*", "attend"], ["track", "track", "attend"], ["track", "track*", "attend"],
      ["track", "track", "attend"], ["track", "attend", "act"], ["attend", "attend", "act"], ["attend", "act", "act"],
    ];
    let row = 0;
    for (const exploitation of E) {
      for (const automatable of YN) {
        for (const technicalImpact of ["partial", "total"] as const) {
          (["low", "medium", "high"] as const).forEach((missionWellBeing, col) => {
            expect(
              coordinatorLevel(t, { exploitation, automatable, technicalImpact, missionWellBeing }),
            ).toBe(matrix[row]?.[col]);
          });
          row++;
        }
      }
    }
  });

  it("BOD 26-04 §3.6 (16 rows)", async () => {
    const t = await load();
    // prettier-ignore
    const f = "fix-on-system-upgrade", d60 = "60-days", d14 = "14-days", d3 = "3-days";
    const d3f = "3-days-&-forensic-investigation";
    // prettier-ignore
    const expected = [f, f, d60, d60, d60, d14, d14, d3, d14, d14, d14, d3f, d14, d3f, d3, d3f];
    let i = 0;
    for (const inKev of YN) {
      for (const publiclyExposed of YN) {
        for (const automatable of YN) {
          for (const technicalImpact of ["partial", "total"] as const) {
            expect(
              bod2604Timeline(t, { inKev, publiclyExposed, automatable, technicalImpact }),
            ).toBe(expected[i]);
            i++;
          }
        }
      }
    }
  });

  it("Human Impact §3.5 and the Mission and Well-Being matrix §3.1", async () => {
    const t = await load();
    // prettier-ignore
    const matrix = [
      ["low", "low", "medium", "very-high"],
      ["low", "low", "medium", "very-high"],
      ["medium", "high", "high", "very-high"],
      ["very-high", "very-high", "very-high", "very-high"],
    ];
    (["negligible", "marginal", "critical", "catastrophic"] as const).forEach((safety, r) => {
      (["degraded", "mef-support-crippled", "mef-failure", "mission-failure"] as const).forEach(
        (mission, c) => {
          expect(humanImpactOf(t, safety, mission)).toBe(matrix[r]?.[c]);
        },
      );
    });
    // prettier-ignore
    const mwi = { minimal: ["low", "medium", "high"], support: ["medium", "medium", "high"], essential: ["high", "high", "high"] };
    for (const [prevalence, row] of Object.entries(mwi)) {
      (["minimal", "material", "irreversible"] as const).forEach((wellBeing, c) => {
        expect(missionWellBeingImpactOf(prevalence as never, wellBeing)).toBe(row[c]);
      });
    }
  });
});

describe("broken tables are refused", () => {
  const spec = SSVC_TABLE_SPECS.bod2604;
  const text = readFileSync(join(defaultSsvcDataDir(), spec.file), "utf8");
  const refuse = (broken: string, reason: string): void => {
    let caught: unknown;
    try {
      parseDecisionTable(spec, broken, "bod.csv");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RingfenceError);
    expect((caught as RingfenceError).code).toBe("RINGFENCE_DECISION_TABLE");
    expect((caught as RingfenceError).message).toContain(reason);
  };

  it("accepts the vendored file", () => {
    expect(parseDecisionTable(spec, text, "bod.csv").rows).toHaveLength(16);
  });
  it("a missing row", () =>
    refuse(text.replace(/^15,.*\n/m, ""), "no row for (yes, yes, yes, total)"));
  it("an unknown value", () =>
    refuse(
      text.replace("0,no,no,no,partial", "0,no,no,maybe,partial"),
      '"maybe" is not a value of Automatable v2.0.0',
    ));
  it("a duplicate combination", () =>
    refuse(text.replace("1,yes,no,no,partial", "1,no,no,no,partial"), "already decided on line 2"));
  it("a changed header", () =>
    refuse(text.replace("Automatable v2.0.0", "Automatable v2.0.1"), "header is"));
  it("a short row", () =>
    refuse(
      text.replace("3,no,no,yes,partial,60 days", "3,no,no,yes,partial"),
      "expected 6 fields",
    ));
});
