/**
 * CVSS scores through ae-cvss-calculator 1.0.13, the library research §2.4 chose (it matched the
 * FIRST/Red Hat reference on 5,000 random v4.0 vectors and the v2 formula on all 729 base
 * vectors). Two of its quirks shape this wrapper:
 * - only the default import works from ESM (the namespace exposes `default` and nothing useful);
 * - an incomplete vector scores 0 instead of throwing, so every vector is validated first
 *   (`parseCvssVector`), and an invalid one is a RINGFENCE_CVSS_VECTOR error, never a 0.
 * Never branch on the class name a `fromVector()` result carries: the bundle minifies it.
 */
import ae from "ae-cvss-calculator";
import { parseCvssVector, type CvssVersion } from "../advisories/index.js";
import { RingfenceError } from "../errors.js";

const { Cvss2, Cvss3P0, Cvss3P1, Cvss4P0 } = ae;

/** Qualitative severity: v2 as NVD bands it (no None, no Critical); v3.x and v4.0 per spec. */
export type CvssSeverity = "none" | "low" | "medium" | "high" | "critical";

export interface CvssScore {
  readonly version: CvssVersion;
  readonly vector: string;
  /** The base score. */
  readonly base: number;
  /** The score with every metric in the vector applied (temporal/threat/environmental). */
  readonly overall: number;
  readonly severity: CvssSeverity;
  /** v2/v3.x only: the base sub-scores. */
  readonly impact?: number;
  readonly exploitability?: number;
}

function severityOf(version: CvssVersion, score: number): CvssSeverity {
  if (version === "2.0") return score >= 7 ? "high" : score >= 4 ? "medium" : "low";
  if (score === 0) return "none";
  if (score < 4) return "low";
  if (score < 7) return "medium";
  if (score < 9) return "high";
  return "critical";
}

/** Validates a vector; throws RINGFENCE_CVSS_VECTOR with the reason when it is not one. */
export function validateCvssVector(vector: string): CvssVersion {
  const parsed = parseCvssVector(vector);
  if ("reason" in parsed) {
    throw new RingfenceError(
      "RINGFENCE_CVSS_VECTOR",
      `invalid CVSS vector "${vector}": ${parsed.reason}`,
      {
        hint: "give every base metric of the version, e.g. CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
      },
    );
  }
  return parsed.version;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

/**
 * Scores a CVSS v2.0, v3.0, v3.1 or v4.0 vector. Throws RINGFENCE_CVSS_VECTOR for a vector that
 * is invalid or incomplete, instead of the library's silent 0.
 */
export function scoreCvss(text: string): CvssScore {
  const vector = text.trim();
  const version = validateCvssVector(vector);
  let result: CvssScore;
  try {
    if (version === "4.0") {
      const scores = new Cvss4P0(vector).calculateScores();
      const base = scores.baseMetricsOnly ?? scores.base ?? scores.overall;
      result = { version, vector, base, overall: scores.overall, severity: "none" };
    } else {
      const calculator =
        version === "2.0"
          ? new Cvss2(vector)
          : version === "3.0"
            ? new Cvss3P0(vector)
            : new Cvss3P1(vector);
      const scores = calculator.calculateScores();
      const base = scores.base ?? scores.overall;
      result = {
        version,
        vector,
        base,
        overall: scores.overall,
        severity: "none",
        ...(scores.impact === undefined ? {} : { impact: round1(scores.impact) }),
        ...(scores.exploitability === undefined
          ? {}
          : { exploitability: round1(scores.exploitability) }),
      };
    }
  } catch (error) {
    throw new RingfenceError(
      "RINGFENCE_CVSS_VECTOR",
      `CVSS ${version} vector "${vector}" could not be scored: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  if (!Number.isFinite(result.base) || !Number.isFinite(result.overall)) {
    throw new RingfenceError("RINGFENCE_CVSS_VECTOR", `CVSS vector "${vector}" scored NaN`);
  }
  return { ...result, severity: severityOf(version, result.overall) };
}
