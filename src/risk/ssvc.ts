/**
 * SSVC decision tables, loaded from the CERT/CC CSV files vendored in `src/risk/data/ssvc/`
 * (source commit and hashes in its README), never re-typed. The code below names only the
 * decision points each table must have and the values each point may take (SSVC decision point
 * definitions, research §3.1); the loader then checks that a file has exactly one row for every
 * combination, so a truncated or edited table fails loudly instead of deciding wrongly.
 *
 * Values are spelt in kebab-case: "public poc" in the CSV is `public-poc` here, "very high" is
 * `very-high`, "mef support crippled" is `mef-support-crippled`.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  AUTOMATABLE,
  EXPLOITATIONS,
  TECHNICAL_IMPACTS,
  type Automatable,
  type Exploitation,
  type TechnicalImpact,
} from "../advisories/index.js";
import { RingfenceError } from "../errors.js";
import { parseCsv } from "./csv.js";

export const SYSTEM_EXPOSURES = ["small", "controlled", "open"] as const;
/** SSVC System Exposure 1.0.1. */
export type SystemExposure = (typeof SYSTEM_EXPOSURES)[number];
export const HUMAN_IMPACTS = ["low", "medium", "high", "very-high"] as const;
/** SSVC Human Impact 2.0.2. */
export type HumanImpact = (typeof HUMAN_IMPACTS)[number];
export const SAFETY_IMPACTS = ["negligible", "marginal", "critical", "catastrophic"] as const;
/** SSVC Safety Impact 2.0.1 (IEC 61508 levels). */
export type SafetyImpact = (typeof SAFETY_IMPACTS)[number];
export const MISSION_IMPACTS = [
  "degraded",
  "mef-support-crippled",
  "mef-failure",
  "mission-failure",
] as const;
/** SSVC Mission Impact 2.0.0 (MEF: mission essential function). */
export type MissionImpact = (typeof MISSION_IMPACTS)[number];
export const DSOI_OUTCOMES = ["defer", "scheduled", "out-of-cycle", "immediate"] as const;
/** Defer, Scheduled, Out-of-Cycle, Immediate 1.0.0 (Deployer and Supplier outcomes). */
export type DsoiOutcome = (typeof DSOI_OUTCOMES)[number];
export const UTILITIES = ["laborious", "efficient", "super-effective"] as const;
/** SSVC Utility 1.0.1 (Supplier tree). */
export type Utility = (typeof UTILITIES)[number];
export const VALUE_DENSITIES = ["diffuse", "concentrated"] as const;
export type ValueDensity = (typeof VALUE_DENSITIES)[number];
export const PUBLIC_SAFETY_IMPACTS = ["minimal", "significant"] as const;
export type PublicSafetyImpact = (typeof PUBLIC_SAFETY_IMPACTS)[number];
export const MISSION_WELL_BEING_IMPACTS = ["low", "medium", "high"] as const;
/** SSVC Mission and Well-Being Impact 1.0.0 (CISA). */
export type MissionWellBeingImpact = (typeof MISSION_WELL_BEING_IMPACTS)[number];
export const MISSION_PREVALENCES = ["minimal", "support", "essential"] as const;
/** CISA Mission Prevalence 1.0.0. */
export type MissionPrevalence = (typeof MISSION_PREVALENCES)[number];
export const PUBLIC_WELL_BEING_IMPACTS = ["minimal", "material", "irreversible"] as const;
/** SSVC Public Well-Being Impact 1.1.0. */
export type PublicWellBeingImpact = (typeof PUBLIC_WELL_BEING_IMPACTS)[number];
export const CISA_LEVELS = ["track", "track*", "attend", "act"] as const;
/** CISA Levels 1.1.0 (Coordinator outcomes). */
export type CisaLevel = (typeof CISA_LEVELS)[number];
export const YES_NO = ["no", "yes"] as const;
export type YesNo = (typeof YES_NO)[number];
export const BOD_2604_TIMELINES = [
  "fix-on-system-upgrade",
  "60-days",
  "14-days",
  "3-days",
  "3-days-&-forensic-investigation",
] as const;
/** CISA BOD 26-04 Remediation Timelines 1.0.0, least to most urgent. */
export type Bod2604Timeline = (typeof BOD_2604_TIMELINES)[number];
/** The short codes research §3.6 uses for the BOD 26-04 outcomes. */
export const BOD_2604_CODES: Readonly<Record<Bod2604Timeline, string>> = {
  "fix-on-system-upgrade": "FSU",
  "60-days": "60D",
  "14-days": "14D",
  "3-days": "3D",
  "3-days-&-forensic-investigation": "3DF",
};

interface ColumnSpec {
  /** The CSV header, decision point name and version as SSVC writes them. */
  readonly header: string;
  readonly values: readonly string[];
}

interface TableSpec {
  readonly id: string;
  readonly file: string;
  readonly inputs: readonly ColumnSpec[];
  readonly output: ColumnSpec;
}

const EXPLOITATION_COL = { header: "Exploitation v1.1.0", values: EXPLOITATIONS };
const AUTOMATABLE_COL = { header: "Automatable v2.0.0", values: AUTOMATABLE };
const TI_COL = { header: "Technical Impact v1.0.0", values: TECHNICAL_IMPACTS };
const DSOI_COL = {
  header: "Defer, Scheduled, Out-of-Cycle, Immediate v1.0.0",
  values: DSOI_OUTCOMES,
};
const SAFETY_COL = { header: "Safety Impact v2.0.1", values: SAFETY_IMPACTS };

/** The tables ringfence uses, by role. Ids follow SSVC's namespace:name@version convention. */
export const SSVC_TABLE_SPECS = {
  deployer: {
    id: "ssvc:DeployerPatchApplicationPriority@1.0.0",
    file: "deployer_patch_application_priority_1_0_0.csv",
    inputs: [
      EXPLOITATION_COL,
      { header: "System Exposure v1.0.1", values: SYSTEM_EXPOSURES },
      AUTOMATABLE_COL,
      { header: "Human Impact v2.0.2", values: HUMAN_IMPACTS },
    ],
    output: DSOI_COL,
  },
  supplier: {
    id: "ssvc:SupplierPatchDevelopmentPriority@1.0.0",
    file: "supplier_patch_development_priority_1_0_0.csv",
    inputs: [
      EXPLOITATION_COL,
      { header: "Utility v1.0.1", values: UTILITIES },
      TI_COL,
      { header: "Public Safety Impact v2.0.1", values: PUBLIC_SAFETY_IMPACTS },
    ],
    output: DSOI_COL,
  },
  humanImpact: {
    id: "ssvc:HumanImpact@1.0.0",
    file: "human_impact_1_0_0.csv",
    inputs: [SAFETY_COL, { header: "Mission Impact v2.0.0", values: MISSION_IMPACTS }],
    output: { header: "Human Impact v2.0.2", values: HUMAN_IMPACTS },
  },
  publicSafetyImpact: {
    id: "ssvc:PublicSafetyImpact@1.0.0",
    file: "public_safety_impact_1_0_0.csv",
    inputs: [SAFETY_COL],
    output: { header: "Public Safety Impact v2.0.1", values: PUBLIC_SAFETY_IMPACTS },
  },
  utility: {
    id: "ssvc:Utility@1.0.0",
    file: "utility_1_0_0.csv",
    inputs: [AUTOMATABLE_COL, { header: "Value Density v1.0.0", values: VALUE_DENSITIES }],
    output: { header: "Utility v1.0.1", values: UTILITIES },
  },
  coordinator: {
    id: "cisa:CISACoordinator@2.0.3",
    file: "cisa_coordinator_2_0_3.csv",
    inputs: [
      EXPLOITATION_COL,
      AUTOMATABLE_COL,
      TI_COL,
      { header: "Mission and Well-Being Impact v1.0.0", values: MISSION_WELL_BEING_IMPACTS },
    ],
    output: { header: "CISA Levels v1.1.0 (cisa)", values: CISA_LEVELS },
  },
  bod2604: {
    id: "cisa:BOD26-04RemediationTimelines@1.0.0",
    file: "cisa_bod_26_04_1_0_0.csv",
    inputs: [
      { header: "In KEV v1.0.0 (cisa)", values: YES_NO },
      { header: "Publicly Exposed v1.0.0 (cisa)", values: YES_NO },
      AUTOMATABLE_COL,
      TI_COL,
    ],
    output: {
      header: "CISA BOD 26-04 Remediation Timelines v1.0.0 (cisa)",
      values: BOD_2604_TIMELINES,
    },
  },
} as const satisfies Record<string, TableSpec>;

export type SsvcTableRole = keyof typeof SSVC_TABLE_SPECS;

export interface DecisionRow {
  /** The `row` column of the CSV. */
  readonly row: number;
  readonly inputs: readonly string[];
  readonly output: string;
}

/** One loaded table: every combination of its inputs maps to exactly one output. */
export class DecisionTable {
  readonly id: string;
  readonly file: string;
  readonly sha256: string;
  readonly rows: readonly DecisionRow[];
  private readonly byKey: ReadonlyMap<string, string>;

  constructor(id: string, file: string, sha256: string, rows: readonly DecisionRow[]) {
    this.id = id;
    this.file = file;
    this.sha256 = sha256;
    this.rows = rows;
    this.byKey = new Map(rows.map((row) => [row.inputs.join("|"), row.output]));
  }

  /** The outcome for these input values, in the table's column order. */
  lookup(inputs: readonly string[]): string {
    const output = this.byKey.get(inputs.join("|"));
    if (output === undefined) {
      throw new RingfenceError(
        "RINGFENCE_DECISION_TABLE",
        `${this.id} has no row for (${inputs.join(", ")})`,
      );
    }
    return output;
  }
}

export type SsvcTables = { readonly [R in SsvcTableRole]: DecisionTable };

/** "public poc" → "public-poc", "very high" → "very-high"; "track*" stays as it is. */
function normalise(value: string): string {
  return value.trim().toLowerCase().replace(/\s+/g, "-");
}

function tableError(file: string, line: number | undefined, reason: string): RingfenceError {
  const where = line === undefined ? file : `${file}, line ${line}`;
  return new RingfenceError("RINGFENCE_DECISION_TABLE", `SSVC table ${where}: ${reason}`, {
    hint: "the vendored tables must be byte-for-byte copies of CERTCC/SSVC data/csv (see src/risk/data/README.md)",
  });
}

/** Parses and checks one table's CSV text against its spec. Pure; `file` names it in errors. */
export function parseDecisionTable(spec: TableSpec, text: string, file: string): DecisionTable {
  let records;
  try {
    records = parseCsv(text);
  } catch (error) {
    throw tableError(file, undefined, error instanceof Error ? error.message : String(error));
  }
  const [header, ...body] = records;
  const expected = ["row", ...spec.inputs.map((c) => c.header), spec.output.header];
  if (header === undefined || header.fields.join("\u0000") !== expected.join("\u0000")) {
    throw tableError(
      file,
      header?.line,
      `header is "${header?.fields.join(",") ?? ""}", expected "${expected.join(",")}"`,
    );
  }
  const rows: DecisionRow[] = [];
  const seen = new Map<string, number>();
  const rowNumbers = new Set<number>();
  for (const record of body) {
    if (record.fields.length !== expected.length) {
      throw tableError(
        file,
        record.line,
        `expected ${expected.length} fields, found ${record.fields.length}`,
      );
    }
    const row = Number(record.fields[0]);
    if (!Number.isInteger(row) || rowNumbers.has(row)) {
      throw tableError(file, record.line, `bad or repeated row number "${record.fields[0] ?? ""}"`);
    }
    rowNumbers.add(row);
    const values = record.fields.slice(1).map(normalise);
    const columns = [...spec.inputs, spec.output];
    values.forEach((value, i) => {
      const column = columns[i];
      if (column !== undefined && !column.values.includes(value)) {
        throw tableError(
          file,
          record.line,
          `"${value}" is not a value of ${column.header} (${column.values.join(", ")})`,
        );
      }
    });
    const inputs = values.slice(0, spec.inputs.length);
    const key = inputs.join("|");
    const previous = seen.get(key);
    if (previous !== undefined) {
      throw tableError(
        file,
        record.line,
        `(${inputs.join(", ")}) already decided on line ${previous}`,
      );
    }
    seen.set(key, record.line);
    rows.push({ row, inputs, output: values[spec.inputs.length] ?? "" });
  }
  // Every combination of the inputs must be decided exactly once.
  const combinations = spec.inputs.reduce<string[][]>(
    (acc, column) => acc.flatMap((prefix) => column.values.map((value) => [...prefix, value])),
    [[]],
  );
  for (const combination of combinations) {
    if (!seen.has(combination.join("|"))) {
      throw tableError(file, undefined, `no row for (${combination.join(", ")})`);
    }
  }
  const sha256 = createHash("sha256").update(text).digest("hex");
  return new DecisionTable(spec.id, spec.file, sha256, rows);
}

/**
 * Where the vendored CSVs are: next to this module when it runs from `src/risk/`, and through
 * `../../src/risk/data/ssvc/` when it runs from `dist/risk/` (tsc does not copy data files).
 */
export function defaultSsvcDataDir(): string {
  const candidates = [
    new URL("./data/ssvc/", import.meta.url),
    new URL("../../src/risk/data/ssvc/", import.meta.url),
  ].map((url) => fileURLToPath(url));
  return (
    candidates.find((dir) => existsSync(join(dir, SSVC_TABLE_SPECS.deployer.file))) ??
    candidates[0] ??
    ""
  );
}

/** Reads the seven vendored tables from `dir` (default: the vendored copies). */
export async function loadSsvcTables(dir: string = defaultSsvcDataDir()): Promise<SsvcTables> {
  const load = async (role: SsvcTableRole): Promise<DecisionTable> => {
    const spec = SSVC_TABLE_SPECS[role];
    const file = join(dir, spec.file);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      throw tableError(
        file,
        undefined,
        `cannot read: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    return parseDecisionTable(spec, text, file);
  };
  return {
    deployer: await load("deployer"),
    supplier: await load("supplier"),
    humanImpact: await load("humanImpact"),
    publicSafetyImpact: await load("publicSafetyImpact"),
    utility: await load("utility"),
    coordinator: await load("coordinator"),
    bod2604: await load("bod2604"),
  };
}

// --- typed lookups --------------------------------------------------------------------------

export interface DeployerInputs {
  readonly exploitation: Exploitation;
  readonly exposure: SystemExposure;
  readonly automatable: Automatable;
  readonly humanImpact: HumanImpact;
}

/** SSVC Deployer Patch Application Priority 1.0.0 (research §3.2). */
export function deployerPriority(tables: SsvcTables, inputs: DeployerInputs): DsoiOutcome {
  return tables.deployer.lookup([
    inputs.exploitation,
    inputs.exposure,
    inputs.automatable,
    inputs.humanImpact,
  ]) as DsoiOutcome;
}

export interface SupplierInputs {
  readonly exploitation: Exploitation;
  readonly utility: Utility;
  readonly technicalImpact: TechnicalImpact;
  readonly publicSafetyImpact: PublicSafetyImpact;
}

/** SSVC Supplier Patch Development Priority 1.0.0 (research §3.3); for comparison only. */
export function supplierPriority(tables: SsvcTables, inputs: SupplierInputs): DsoiOutcome {
  return tables.supplier.lookup([
    inputs.exploitation,
    inputs.utility,
    inputs.technicalImpact,
    inputs.publicSafetyImpact,
  ]) as DsoiOutcome;
}

/** SSVC Human Impact table 1.0.0 (research §3.5; the table, not the value definitions). */
export function humanImpactOf(
  tables: SsvcTables,
  safety: SafetyImpact,
  mission: MissionImpact,
): HumanImpact {
  return tables.humanImpact.lookup([safety, mission]) as HumanImpact;
}

export function publicSafetyImpactOf(tables: SsvcTables, safety: SafetyImpact): PublicSafetyImpact {
  return tables.publicSafetyImpact.lookup([safety]) as PublicSafetyImpact;
}

export function utilityOf(
  tables: SsvcTables,
  automatable: Automatable,
  valueDensity: ValueDensity,
): Utility {
  return tables.utility.lookup([automatable, valueDensity]) as Utility;
}

export interface CoordinatorInputs {
  readonly exploitation: Exploitation;
  readonly automatable: Automatable;
  readonly technicalImpact: TechnicalImpact;
  readonly missionWellBeing: MissionWellBeingImpact;
}

/** CISA Coordinator 2.0.3 (research §3.4); a comparison view, never the decision. */
export function coordinatorLevel(tables: SsvcTables, inputs: CoordinatorInputs): CisaLevel {
  return tables.coordinator.lookup([
    inputs.exploitation,
    inputs.automatable,
    inputs.technicalImpact,
    inputs.missionWellBeing,
  ]) as CisaLevel;
}

export interface Bod2604Inputs {
  readonly inKev: YesNo;
  readonly publiclyExposed: YesNo;
  readonly automatable: Automatable;
  readonly technicalImpact: TechnicalImpact;
}

/** CISA BOD 26-04 remediation timeline 1.0.0 (research §3.6); a comparison view. */
export function bod2604Timeline(tables: SsvcTables, inputs: Bod2604Inputs): Bod2604Timeline {
  return tables.bod2604.lookup([
    inputs.inKev,
    inputs.publiclyExposed,
    inputs.automatable,
    inputs.technicalImpact,
  ]) as Bod2604Timeline;
}

/**
 * Mission and Well-Being Impact 1.0.0: Mission Prevalence × Public Well-Being Impact. SSVC
 * publishes no CSV for it; this is the 9-cell matrix of the SSVC calculator page
 * (certcc.github.io/SSVC/ssvc-calc, research §3.1): essential → high whatever the well-being
 * impact; irreversible → high; minimal × minimal → low; everything else → medium.
 */
export function missionWellBeingImpactOf(
  prevalence: MissionPrevalence,
  wellBeing: PublicWellBeingImpact,
): MissionWellBeingImpact {
  if (prevalence === "essential" || wellBeing === "irreversible") return "high";
  if (prevalence === "minimal" && wellBeing === "minimal") return "low";
  return "medium";
}
