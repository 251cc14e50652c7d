/**
 * Findings as SARIF 2.1.0 (OASIS, errata 01). One run (§3.14); tool.driver (§3.18, §3.19) with
 * one reportingDescriptor per check (§3.49: id, help URI from the advisory, CVEs as tags); one
 * result per finding (§3.27). A network finding has no file, so its location is logical
 * (§3.33): the host, and the service (kind "service") whose parent is the host, both listed once
 * in run.logicalLocations and referenced by index. partialFingerprints (§3.27.17) carry the
 * finding's identity hash, so that a result-management system matches the same finding across
 * runs. kind/level (§3.27.9, §3.27.10): a vulnerable finding "fail" with a level from its
 * rating; unknown "review", not vulnerable "pass", not applicable "notApplicable", all with
 * level "none" as §3.27.10 requires when kind is not "fail".
 */
import type { ReportFinding, ReportModel } from "../reports/report-model.js";

export const SARIF_SCHEMA_URI =
  "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
/** The partialFingerprints key (a versioned hierarchical string, §3.27.17). */
export const SARIF_FINGERPRINT_KEY = "ringfenceFindingIdentity/v1";

/** What the writer knows about a check: from the check registry and the advisory catalog. */
export interface SarifCheckInfo {
  readonly title: string;
  readonly cves: readonly string[];
  readonly helpUri?: string;
  readonly advisories: readonly { readonly id: string; readonly title: string }[];
  readonly safety?: string;
}

export interface SarifOptions {
  readonly version: string;
  readonly describeCheck: (checkId: string) => SarifCheckInfo | undefined;
}

type Kind = "fail" | "review" | "pass" | "notApplicable";
type Level = "error" | "warning" | "note" | "none";

function kindOf(verdict: string): Kind {
  switch (verdict.toLowerCase().replace(/_/g, "-")) {
    case "vulnerable":
      return "fail";
    case "not-vulnerable":
      return "pass";
    case "not-applicable":
      return "notApplicable";
    default:
      return "review";
  }
}

/** Gartner-style ratings onto SARIF levels: very high and high must be acted on now. */
function levelOf(kind: Kind, rating: ReportFinding["rating"]): Level {
  if (kind !== "fail") return "none";
  switch (rating) {
    case "very-high":
    case "high":
      return "error";
    case "low":
      return "note";
    default:
      return "warning";
  }
}

export function renderSarif(model: ReportModel, options: SarifOptions): string {
  const checkIds = [...new Set(model.findings.map((f) => f.checkId))].sort();
  const ruleIndex = new Map(checkIds.map((id, index) => [id, index]));
  const rules = checkIds.map((id) => {
    const info = options.describeCheck(id);
    const advisories = [
      ...new Set(model.findings.filter((f) => f.checkId === id).map((f) => f.advisory)),
    ];
    return {
      id,
      name: id.replace(/(^|-)([a-z0-9])/g, (_m, _d: string, c: string) => c.toUpperCase()),
      shortDescription: { text: info?.title ?? id },
      fullDescription: {
        text:
          `${info?.title ?? id}. Advisories: ${(info?.advisories.map((a) => `${a.id} (${a.title})`) ?? advisories).join(", ") || "none"}.` +
          (info?.cves.length ? ` CVEs: ${info.cves.join(", ")}.` : ""),
      },
      ...(info?.helpUri !== undefined ? { helpUri: info.helpUri } : {}),
      help: {
        text: `Run \`ringfence explain <finding>\` for the rating and the action plan; \`ringfence check ${id} <host>\` re-runs the check.`,
      },
      properties: {
        tags: ["security", ...(info?.cves ?? [])],
        advisories: info?.advisories.map((a) => a.id) ?? advisories,
        cves: [...(info?.cves ?? [])],
        ...(info?.safety !== undefined ? { safety: info.safety } : {}),
      },
    };
  });

  const locations: {
    name: string;
    fullyQualifiedName: string;
    kind: string;
    parentIndex?: number;
  }[] = [];
  const locationIndex = new Map<string, number>();
  const locate = (f: ReportFinding): [number, string] => {
    let host = locationIndex.get(f.address);
    if (host === undefined) {
      host = locations.length;
      locations.push({ name: f.address, fullyQualifiedName: f.address, kind: "host" });
      locationIndex.set(f.address, host);
    }
    const fqn = `${f.address}/${f.protocol}/${f.port}`;
    let service = locationIndex.get(fqn);
    if (service === undefined) {
      service = locations.length;
      locations.push({
        name: `${f.protocol}/${f.port}`,
        fullyQualifiedName: fqn,
        kind: "service",
        parentIndex: host,
      });
      locationIndex.set(fqn, service);
    }
    return [service, fqn];
  };

  const results = model.findings.map((f) => {
    const kind = kindOf(f.verdict);
    const [index, fqn] = locate(f);
    const what = f.classification !== null ? `${f.verdict} (${f.classification})` : f.verdict;
    return {
      ruleId: f.checkId,
      ruleIndex: ruleIndex.get(f.checkId)!,
      kind,
      level: levelOf(kind, f.rating),
      message: {
        text: `${f.advisory} on ${fqn}: ${what}${f.reason !== null ? `: ${f.reason}` : ""}`,
      },
      locations: [{ logicalLocations: [{ index, fullyQualifiedName: fqn, kind: "service" }] }],
      partialFingerprints: { [SARIF_FINGERPRINT_KEY]: f.fingerprint },
      properties: {
        findingId: f.id,
        advisory: f.advisory,
        verdict: f.verdict,
        classification: f.classification,
        status: f.status,
        state: f.state,
        rating: f.rating,
        zone: f.zone,
        protectBy: f.protectBy,
        fixBy: f.fixBy,
        overdue: [...f.overdue],
        firstSeen: f.firstSeen,
        lastSeen: f.lastSeen,
      },
    };
  });

  const log = {
    $schema: SARIF_SCHEMA_URI,
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "ringfence",
            version: options.version,
            semanticVersion: options.version,
            rules,
          },
        },
        invocations: [
          {
            executionSuccessful: true,
            endTimeUtc: model.asOf,
            ...(model.scan !== null ? { commandLine: model.scan.command } : {}),
          },
        ],
        ...(model.scan !== null
          ? { automationDetails: { id: `ringfence/scan/${model.scan.id}` } }
          : {}),
        logicalLocations: locations,
        results,
        columnKind: "unicodeCodePoints",
      },
    ],
  };
  return JSON.stringify(log, null, 2) + "\n";
}
