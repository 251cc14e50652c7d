/**
 * `ringfence assess`: re-assesses every open finding of the inventory as of a date, with the
 * user's site, policy, threat-intel and advisory files, and stores each assessment (research §5).
 *
 * Order matters for "nothing already stored changes": every file is read and validated before
 * the inventory is opened, and all assessments are written in one transaction at the end, so a
 * malformed file (or any failure) leaves the database as it was.
 *
 * Exposure evidence (research §5.1, §5.3 D-EXPO): every service the scans found open is recorded
 * as reachable *from the vantage zone*, the zone the scanner sat in. The default is `internal`: a
 * scan run from inside the network shows that a service answers, not that the Internet reaches
 * it, so the asset's zone (site file, else inferred from the address) sets the base exposure.
 * `--vantage internet` (or extranet) says the scans ran from outside: every open service then
 * counts as seen from the Internet, open whatever the zone, and an asset no site rule places gets
 * zone internet with evidence "external-scan". The inventory does not record a vantage per scan
 * yet, so one vantage applies to the whole inventory.
 */
import {
  compareText,
  formatInstant,
  loadAdvisoryCatalog,
  parseInstant,
  rank,
  RATING_LEVELS,
  ZONES,
  type AdvisoryCatalog,
  type Zone,
} from "../advisories/index.js";
import { RingfenceError, isRingfenceError } from "../errors.js";
import {
  assess,
  assessmentJson,
  canonicalJson,
  controlAppliesTo,
  emptySite,
  findingFromStoreRow,
  findingRowOf,
  loadEpssCsv,
  loadKevCatalog,
  loadRiskPolicy,
  loadSiteFile,
  observedAssetOf,
  resolveAsset,
  type Asset,
  type Assessment,
  type Control,
  type EpssSnapshot,
  type KevCatalog,
  type RiskPolicy,
  type SiteContext,
  type ThreatIntel,
} from "../risk/index.js";
import {
  type AssessmentInput,
  type FindingRecord,
  type ServiceRow,
  type Store,
  withStore,
} from "../store/index.js";
import { parseAddress } from "../targets/index.js";

/** The default vantage zone of the inventory's scans (see the file comment). */
export const DEFAULT_VANTAGE: Zone = "internal";

export interface AssessJobOptions {
  /** The inventory database. */
  readonly db: string;
  /** ISO date or date-time with a zone; now when absent. */
  readonly asOf?: string;
  readonly site?: string;
  readonly policy?: string;
  readonly kev?: readonly string[];
  readonly epss?: readonly string[];
  /** Extra advisory directories, read after the built-in catalog. */
  readonly advisoryDirs?: readonly string[];
  /** The zone the scans were run from; DEFAULT_VANTAGE when absent. */
  readonly vantage?: Zone;
  /** The clock, for "now" (tests). */
  readonly now?: () => Date;
}

/** One assessed finding: the store's record of it and the engine's assessment. */
export interface AssessedFinding {
  readonly finding: FindingRecord;
  readonly assessment: Assessment;
}

/** A finding the engine could not assess (an unknown advisory or check), and why. */
export interface SkippedFinding {
  readonly finding: FindingRecord;
  readonly reason: string;
}

export interface AssessJobResult {
  readonly asOf: string;
  readonly vantage: Zone;
  readonly policy: { readonly id: string; readonly version: string; readonly sha256: string };
  /** Sorted: rating (very-high first), protect-by (none last), address, service, advisory, id. */
  readonly assessed: readonly AssessedFinding[];
  readonly skipped: readonly SkippedFinding[];
}

/** Parses `--as-of`: an ISO date (its UTC midnight) or a date-time with a zone. */
export function parseAsOf(text: string): string {
  const ms = parseInstant(text.trim());
  if (ms === undefined) {
    throw new RingfenceError(
      "RINGFENCE_USAGE",
      `--as-of "${text}" is not an ISO date or date-time with a zone`,
      { hint: "e.g. 2003-08-12 or 2003-08-12T09:30:00Z" },
    );
  }
  return formatInstant(ms);
}

/** Checks a zone name (`--vantage`). */
export function parseZone(text: string): Zone {
  const zone = ZONES.find((z) => z === text);
  if (zone === undefined) {
    throw new RingfenceError("RINGFENCE_USAGE", `"${text}" is not a zone`, {
      hint: `zones: ${ZONES.join(", ")}`,
    });
  }
  return zone;
}

interface Inputs {
  readonly catalog: AdvisoryCatalog;
  readonly policy: RiskPolicy;
  readonly site: SiteContext;
  readonly intel: ThreatIntel;
}

/** Reads and validates every file; throws the loader's one-line error on the first bad one. */
async function loadInputs(options: AssessJobOptions): Promise<Inputs> {
  const catalog = await loadAdvisoryCatalog({ extraDirs: options.advisoryDirs ?? [] });
  const policy = await loadRiskPolicy(options.policy === undefined ? {} : { path: options.policy });
  const site = options.site === undefined ? emptySite() : await loadSiteFile(options.site);
  const kev: KevCatalog[] = [];
  for (const file of options.kev ?? []) kev.push(await loadKevCatalog(file));
  const epss: EpssSnapshot[] = [];
  for (const file of options.epss ?? []) epss.push(await loadEpssCsv(file));
  return { catalog, policy, site, intel: { kev, epss, exploitation: [] } };
}

/** The columns the store keeps next to the assessment's bytes. */
export function assessmentRow(
  findingId: number,
  assessment: Assessment,
  inputsJson: string | null,
): AssessmentInput {
  return {
    findingId,
    asOf: assessment.asOf,
    policyId: assessment.policy.id,
    policyVersion: assessment.policy.version,
    policySha256: assessment.policy.sha256,
    advisory: assessment.subject.advisory,
    zone: assessment.exposure.zone,
    rating: assessment.rating.level,
    outcome: decisionOf(assessment) ?? null,
    protectBy: assessment.clocks.protectBy ?? null,
    fixBy: assessment.clocks.fixBy ?? null,
    verifyBy: assessment.clocks.verifyBy ?? null,
    overdue: assessment.clocks.overdue,
    assessmentJson: assessmentJson(assessment),
    inputsJson,
  };
}

/**
 * The deployer decision: SSVC's after the floors, or for a finding with no SSVC inputs (a
 * compromise indicator) the D-COMP rule's "immediate".
 */
export function decisionOf(assessment: Assessment): string | undefined {
  if (assessment.ssvc !== undefined) return assessment.ssvc.outcome;
  const comp = assessment.reasons.find((r) => r.rule === "D-COMP");
  return typeof comp?.output === "string" ? comp.output : undefined;
}

function compareAddress(a: string, b: string): number {
  const pa = parseAddress(a);
  const pb = parseAddress(b);
  if (pa === undefined || pb === undefined) return compareText(a, b);
  if (pa.family !== pb.family) return pa.family - pb.family;
  return pa.value < pb.value ? -1 : pa.value > pb.value ? 1 : 0;
}

/** Rating (very-high first), protect-by (none last), address, service, advisory, finding id. */
export function compareAssessed(a: AssessedFinding, b: AssessedFinding): number {
  const byRating =
    rank(RATING_LEVELS, b.assessment.rating.level) - rank(RATING_LEVELS, a.assessment.rating.level);
  if (byRating !== 0) return byRating;
  const pa = a.assessment.clocks.protectBy;
  const pb = b.assessment.clocks.protectBy;
  if (pa !== pb) {
    if (pa === undefined) return 1;
    if (pb === undefined) return -1;
    return compareText(pa, pb);
  }
  return (
    compareAddress(a.finding.address, b.finding.address) ||
    compareText(a.finding.protocol, b.finding.protocol) ||
    a.finding.port - b.finding.port ||
    compareText(a.assessment.subject.advisory, b.assessment.subject.advisory) ||
    a.finding.id - b.finding.id
  );
}

/** Assesses the inventory's open findings; does not write. */
export function assessInventory(
  inputs: Inputs,
  findings: readonly FindingRecord[],
  services: readonly ServiceRow[],
  asOf: string,
  vantage: Zone,
  /** Stored controls (verify-shield); the engine counts the verified, unexpired ones. */
  controls: readonly Control[] = [],
): { assessed: AssessedFinding[]; skipped: SkippedFinding[]; inputsJson: Map<number, string> } {
  const asOfMs = parseInstant(asOf) as number;
  const byAddress = new Map<string, ServiceRow[]>();
  for (const service of services) {
    const list = byAddress.get(service.address) ?? [];
    list.push(service);
    byAddress.set(service.address, list);
  }
  const byAsset = new Map<number, FindingRecord[]>();
  for (const finding of findings) {
    const list = byAsset.get(finding.assetId) ?? [];
    list.push(finding);
    byAsset.set(finding.assetId, list);
  }
  const sites = inputs.site;
  const siteInfo =
    sites.source === "none"
      ? null
      : {
          name: sites.name,
          source: sites.source,
          ...(sites.updated === undefined ? {} : { updated: sites.updated }),
        };
  const intelInfo = {
    kev: inputs.intel.kev.map((k) => ({
      ...k.source,
      catalogVersion: k.catalogVersion,
      dateReleased: k.dateReleased,
    })),
    epss: inputs.intel.epss.map((e) => ({
      ...e.source,
      scoreDate: e.scoreDate,
      modelVersion: e.modelVersion,
    })),
  };

  const assessed: AssessedFinding[] = [];
  const skipped: SkippedFinding[] = [];
  const inputsJson = new Map<number, string>();
  for (const [assetId, mine] of [...byAsset.entries()].sort((a, b) => a[0] - b[0])) {
    const address = mine[0]?.address ?? "";
    const asset: Asset = resolveAsset(
      inputs.site,
      observedAssetOf({
        assetId,
        address,
        services: byAddress.get(address) ?? [],
        findings: mine,
        vantage,
        catalog: inputs.catalog,
        asOfMs,
      }),
    );
    for (const record of [...mine].sort((a, b) => a.id - b.id)) {
      if (record.status !== "open") continue;
      try {
        const advisory = inputs.catalog.require(record.advisory);
        const finding = findingFromStoreRow(findingRowOf(record), asset);
        const assessment = assess(
          finding,
          asset,
          advisory,
          inputs.intel,
          controls,
          inputs.policy,
          asOf,
        );
        assessed.push({ finding: record, assessment });
        inputsJson.set(
          record.id,
          canonicalJson({
            asset,
            vantage,
            site: siteInfo,
            advisory: { id: advisory.id, source: inputs.catalog.sourceOf(advisory.id) ?? null },
            intel: intelInfo,
            controls: controls.filter((c) => controlAppliesTo(c, asset)).map((c) => c.id),
          }),
        );
      } catch (error) {
        // Data the engine cannot assess (an advisory or check missing from the catalog) is
        // reported and skipped; the other findings are still assessed.
        if (!isRingfenceError(error) || error.code !== "RINGFENCE_RISK_INPUT") throw error;
        skipped.push({ finding: record, reason: error.message });
      }
    }
  }
  assessed.sort(compareAssessed);
  return { assessed, skipped, inputsJson };
}

/**
 * Assesses every open finding of the store (with its open services and controls) as of `asOf`
 * and records the assessments, their audit entries under `actor` when one is given. What
 * `ringfence assess` and the API's POST /assessments both do once their inputs are loaded.
 */
export async function assessStore(
  store: Store,
  inputs: Parameters<typeof assessInventory>[0],
  asOf: string,
  vantage: Parameters<typeof assessInventory>[4],
  options: { actor?: string } = {},
): Promise<Pick<ReturnType<typeof assessInventory>, "assessed" | "skipped">> {
  const findings = await store.listFindings({ status: "open" });
  const services = await store.listServices({ state: "open" });
  const controls = await store.listControls();
  const { assessed, skipped, inputsJson } = assessInventory(
    inputs,
    findings,
    services,
    asOf,
    vantage,
    controls,
  );
  await store.recordAssessments(
    assessed.map(({ finding, assessment }) =>
      assessmentRow(finding.id, assessment, inputsJson.get(finding.id) ?? null),
    ),
    options.actor === undefined ? undefined : { actor: options.actor },
  );
  return { assessed, skipped };
}

/** Loads the inputs, assesses every open finding as of `asOf`, stores the assessments. */
export async function runAssessJob(options: AssessJobOptions): Promise<AssessJobResult> {
  const asOf =
    options.asOf === undefined
      ? formatInstant((options.now?.() ?? new Date()).getTime())
      : parseAsOf(options.asOf);
  const vantage = options.vantage ?? DEFAULT_VANTAGE;
  const inputs = await loadInputs(options);
  return withStore(options.db, async (store) => {
    const { assessed, skipped } = await assessStore(store, inputs, asOf, vantage);
    return {
      asOf,
      vantage,
      policy: {
        id: inputs.policy.id,
        version: inputs.policy.version,
        sha256: inputs.policy.sha256,
      },
      assessed,
      skipped,
    };
  });
}
