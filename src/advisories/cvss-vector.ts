/**
 * CVSS vector grammar for v2.0, v3.0, v3.1 and v4.0: which metrics exist, which values each takes,
 * and which base metrics a vector must carry. The scoring library we use (ae-cvss-calculator
 * 1.0.13) scores an incomplete vector as 0 instead of failing (research §2.4), so every vector is
 * checked here first, at catalog load time and again before scoring.
 *
 * The value sets come from the specifications: CVSS v2 guide §3 (FIRST, 2007), CVSS v3.1
 * specification §6 (FIRST, 2019; v3.0 has the same metrics) and CVSS v4.0 specification §7
 * (FIRST, 2023). FIRST's JSON-schema regexes accept vectors that lack base metrics, so they are
 * not enough on their own.
 */

export type CvssVersion = "2.0" | "3.0" | "3.1" | "4.0";

interface Grammar {
  readonly prefix: string | undefined;
  readonly base: Readonly<Record<string, readonly string[]>>;
  readonly other: Readonly<Record<string, readonly string[]>>;
}

const V2: Grammar = {
  prefix: undefined,
  base: {
    AV: ["L", "A", "N"],
    AC: ["H", "M", "L"],
    Au: ["M", "S", "N"],
    C: ["N", "P", "C"],
    I: ["N", "P", "C"],
    A: ["N", "P", "C"],
  },
  other: {
    E: ["U", "POC", "F", "H", "ND"],
    RL: ["OF", "TF", "W", "U", "ND"],
    RC: ["UC", "UR", "C", "ND"],
    CDP: ["N", "L", "LM", "MH", "H", "ND"],
    TD: ["N", "L", "M", "H", "ND"],
    CR: ["L", "M", "H", "ND"],
    IR: ["L", "M", "H", "ND"],
    AR: ["L", "M", "H", "ND"],
  },
};

const V3_BASE = {
  AV: ["N", "A", "L", "P"],
  AC: ["L", "H"],
  PR: ["N", "L", "H"],
  UI: ["N", "R"],
  S: ["U", "C"],
  C: ["H", "L", "N"],
  I: ["H", "L", "N"],
  A: ["H", "L", "N"],
} as const;

const V3_OTHER = {
  E: ["X", "U", "P", "F", "H"],
  RL: ["X", "O", "T", "W", "U"],
  RC: ["X", "U", "R", "C"],
  CR: ["X", "L", "M", "H"],
  IR: ["X", "L", "M", "H"],
  AR: ["X", "L", "M", "H"],
  MAV: ["X", "N", "A", "L", "P"],
  MAC: ["X", "L", "H"],
  MPR: ["X", "N", "L", "H"],
  MUI: ["X", "N", "R"],
  MS: ["X", "U", "C"],
  MC: ["X", "N", "L", "H"],
  MI: ["X", "N", "L", "H"],
  MA: ["X", "N", "L", "H"],
} as const;

const V4: Grammar = {
  prefix: "CVSS:4.0",
  base: {
    AV: ["N", "A", "L", "P"],
    AC: ["L", "H"],
    AT: ["N", "P"],
    PR: ["N", "L", "H"],
    UI: ["N", "P", "A"],
    VC: ["H", "L", "N"],
    VI: ["H", "L", "N"],
    VA: ["H", "L", "N"],
    SC: ["H", "L", "N"],
    SI: ["H", "L", "N"],
    SA: ["H", "L", "N"],
  },
  other: {
    E: ["X", "A", "P", "U"],
    CR: ["X", "H", "M", "L"],
    IR: ["X", "H", "M", "L"],
    AR: ["X", "H", "M", "L"],
    MAV: ["X", "N", "A", "L", "P"],
    MAC: ["X", "L", "H"],
    MAT: ["X", "N", "P"],
    MPR: ["X", "N", "L", "H"],
    MUI: ["X", "N", "P", "A"],
    MVC: ["X", "H", "L", "N"],
    MVI: ["X", "H", "L", "N"],
    MVA: ["X", "H", "L", "N"],
    MSC: ["X", "H", "L", "N"],
    // v4.0 §4.2: only the subsequent-system integrity and availability can be raised to Safety.
    MSI: ["X", "S", "H", "L", "N"],
    MSA: ["X", "S", "H", "L", "N"],
    S: ["X", "N", "P"],
    AU: ["X", "N", "Y"],
    R: ["X", "A", "U", "I"],
    V: ["X", "D", "C"],
    RE: ["X", "L", "M", "H"],
    U: ["X", "Clear", "Green", "Amber", "Red"],
  },
};

const GRAMMARS: Readonly<Record<CvssVersion, Grammar>> = {
  "2.0": V2,
  "3.0": { prefix: "CVSS:3.0", base: V3_BASE, other: V3_OTHER },
  "3.1": { prefix: "CVSS:3.1", base: V3_BASE, other: V3_OTHER },
  "4.0": V4,
};

export interface ParsedCvssVector {
  readonly version: CvssVersion;
  /** The vector as given (trimmed). */
  readonly vector: string;
  /** Metric → value, in the order the vector lists them. */
  readonly metrics: readonly (readonly [string, string])[];
}

/** The version a vector claims by its prefix (no prefix: v2). */
export function cvssVersionOf(vector: string): CvssVersion | undefined {
  const m = /^CVSS:(\d\.\d)\//.exec(vector);
  if (m === null) return vector.startsWith("CVSS:") ? undefined : "2.0";
  const version = m[1];
  return version === "3.0" || version === "3.1" || version === "4.0" ? version : undefined;
}

/**
 * Checks a vector against its version's grammar: a known prefix, known metrics, allowed values,
 * no repeated metric and every base metric present. Returns the parsed vector, or the reason it
 * is not one.
 */
export function parseCvssVector(text: string): ParsedCvssVector | { readonly reason: string } {
  const vector = text.trim();
  if (vector === "") return { reason: "empty CVSS vector" };
  const version = cvssVersionOf(vector);
  if (version === undefined) {
    return { reason: `unknown CVSS version prefix in "${vector}" (expected CVSS:3.0, 3.1 or 4.0)` };
  }
  const grammar = GRAMMARS[version];
  const body = grammar.prefix === undefined ? vector : vector.slice(grammar.prefix.length + 1);
  const metrics: [string, string][] = [];
  const seen = new Set<string>();
  for (const part of body.split("/")) {
    const colon = part.indexOf(":");
    if (colon <= 0) return { reason: `malformed metric "${part}" in CVSS ${version} vector` };
    const key = part.slice(0, colon);
    const value = part.slice(colon + 1);
    const allowed = grammar.base[key] ?? grammar.other[key];
    if (allowed === undefined) return { reason: `unknown metric "${key}" for CVSS ${version}` };
    if (!allowed.includes(value)) {
      return {
        reason: `metric ${key} has value "${value}"; CVSS ${version} allows ${allowed.join(", ")}`,
      };
    }
    if (seen.has(key)) return { reason: `metric ${key} appears twice` };
    seen.add(key);
    metrics.push([key, value]);
  }
  const missing = Object.keys(grammar.base).filter((key) => !seen.has(key));
  if (missing.length > 0) {
    return {
      reason: `incomplete CVSS ${version} vector: missing base metric${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`,
    };
  }
  return { version, vector, metrics };
}
