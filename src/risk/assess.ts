/**
 * `assess()`: one finding on one asset, as of a date, to a rating, an SSVC decision, two clocks
 * and an ordered action plan, every step explained (research §5). Pure and deterministic: no
 * clock, no I/O, no dependence on the order of any input array; `asOf` is an argument and every
 * date it returns is an ISO string.
 *
 * Derivation order (research §5.3): per vulnerability D-EXPL, D-AUTO, D-TI, D-RATE; then D-HI and
 * D-EXPO for the asset; then per vulnerability D-SSVC (Deployer table), D-FLOOR, D-EPSS, D-COMP;
 * the worst vulnerability decides; then the comparison views (CISA Coordinator, BOD 26-04), the
 * clocks (§5.5, D-KEV-DUE) and the plan (§5.6).
 */
import {
  compareText,
  EXPLOITATIONS,
  formatInstant,
  lookupKeys,
  maxOf,
  parseInstant,
  rank,
  RATING_LEVELS,
  type Advisory,
  type AdvisoryVulnerability,
  type RatingLevel,
} from "../advisories/index.js";
import { newestPatch, planActions } from "./action-plan.js";
import { assessPolicyFinding } from "./assess-policy.js";
import {
  dedupe,
  eventTimes,
  findingReason,
  inputError,
  instant,
  ReasonLog,
  type Context,
} from "./assessment-context.js";
import { canonicalize } from "./canonical-json.js";
import {
  fixDuration,
  plus,
  PROTECT_URGENCIES,
  protectDuration,
  protectUrgency,
  runStart,
  verifyDuration,
  type ProtectUrgency,
} from "./clocks.js";
import { scoreCvss } from "./cvss.js";
import { exposureOf, type ExposureResult } from "./exposure.js";
import { epssReading, type EpssReading, type ThreatIntel } from "./intel.js";
import { intrinsicRating, RATING_METHOD, type RatingResult } from "./intrinsic-rating.js";
import type { RiskPolicy } from "./policy.js";
import { findingIdOf } from "./policy-rules.js";
import {
  BOD_2604_CODES,
  BOD_2604_TIMELINES,
  bod2604Timeline,
  CISA_LEVELS,
  coordinatorLevel,
  deployerPriority,
  DSOI_OUTCOMES,
  humanImpactOf,
  missionWellBeingImpactOf,
  type Bod2604Timeline,
  type CisaLevel,
  type DsoiOutcome,
  type HumanImpact,
  type MissionPrevalence,
  type PublicWellBeingImpact,
} from "./ssvc.js";
import type {
  Action,
  Asset,
  Assessment,
  Clocks,
  Control,
  CvssResult,
  Finding,
  VulnerabilityResult,
} from "./types.js";
import {
  automatableAt,
  effectiveFacts,
  exploitationAt,
  overrideOf,
  technicalImpactAt,
  type AutomatableAt,
  type ExploitationAt,
  type TechnicalImpactAt,
} from "./vulnerability-inputs.js";

/** Everything decided for one vulnerability at one time. */
interface VulnDecision {
  readonly vuln: AdvisoryVulnerability;
  readonly exploitation: ExploitationAt;
  readonly automatable: AutomatableAt;
  readonly technicalImpact: TechnicalImpactAt;
  readonly rating: RatingResult;
  readonly raw: DsoiOutcome;
  readonly floored: DsoiOutcome;
  readonly epss: EpssReading | undefined;
  readonly epssRaised: boolean;
  readonly outcome: DsoiOutcome;
  readonly coordinator: CisaLevel;
  readonly bod: Bod2604Timeline;
}

interface Decision {
  readonly t: number;
  readonly vulns: readonly VulnDecision[];
  readonly exposure: ExposureResult;
  readonly compromise: boolean;
  readonly rating: RatingLevel;
  readonly ratingRule: string;
  readonly ratingVuln: string | undefined;
  readonly outcome: DsoiOutcome;
  readonly driver: VulnDecision | undefined;
  readonly protect: ProtectUrgency;
  readonly bod3df: boolean;
  readonly activeOpen: boolean;
}

// Mission Impact → Mission Prevalence, for the Coordinator view when the site gives no
// prevalence: our mapping (a mission-essential-function failure means the asset is essential).
const MISSION_TO_PREVALENCE: Readonly<Record<string, MissionPrevalence>> = {
  degraded: "minimal",
  "mef-support-crippled": "support",
  "mef-failure": "essential",
  "mission-failure": "essential",
};
// Safety Impact (IEC 61508) → Public Well-Being Impact: our mapping; "critical" (serious or fatal
// injuries) stays material, only "catastrophic" (multiple fatalities) is irreversible.
const SAFETY_TO_WELL_BEING: Readonly<Record<string, PublicWellBeingImpact>> = {
  negligible: "minimal",
  marginal: "material",
  critical: "material",
  catastrophic: "irreversible",
};

function decide(ctx: Context, t: number): Decision {
  const { advisory, asset, finding, intel, controls, policy } = ctx;
  const exposure = exposureOf(asset, advisory, finding, controls, policy, t);
  const indicatorHit = advisory.kind === "indicator" && ctx.positive && t >= ctx.startMs;
  const compromise =
    indicatorHit ||
    asset.compromiseIndicators.some((c) => (parseInstant(c.observedAt) ?? Infinity) <= t);
  const vulns = ctx.vulns.map((vuln): VulnDecision => {
    const facts = effectiveFacts(vuln);
    const exploitation = exploitationAt(advisory, vuln, intel, t);
    const automatable = automatableAt(vuln, facts, exploitation, t);
    const technicalImpact = technicalImpactAt(vuln, facts, t);
    const override = overrideOf(vuln, "rating");
    const rating = intrinsicRating(
      facts,
      {
        publicExploit: exploitation.level !== "none",
        wormObserved: exploitation.wormObserved,
        exploited: exploitation.level === "active",
      },
      override === undefined
        ? undefined
        : { value: override.value as RatingLevel, reason: override.reason },
    );
    const raw = deployerPriority(policy.tables, {
      exploitation: exploitation.level,
      exposure: exposure.level,
      automatable: automatable.value,
      humanImpact: ctx.humanImpact,
    });
    // D-FLOOR (our policy): a Very High flaw is at least out-of-cycle, and immediate while open.
    let floored = raw;
    if (rating.level === "very-high") {
      floored = maxOf(DSOI_OUTCOMES, raw, exposure.level === "open" ? "immediate" : "out-of-cycle");
    }
    // D-EPSS: an optional escalator of defer only.
    const epss = epssReading(intel, vuln.id, t);
    const epssRaised =
      floored === "defer" && epss !== undefined && epss.percentile >= policy.epssPercentile;
    let outcome: DsoiOutcome = epssRaised ? "scheduled" : floored;
    // D-COMP: compromise indicators make everything immediate.
    if (compromise) outcome = "immediate";
    const coordinator = coordinatorLevel(policy.tables, {
      exploitation: exploitation.level,
      automatable: automatable.value,
      technicalImpact: technicalImpact.value,
      missionWellBeing: ctx.missionWellBeing,
    });
    const bod = bod2604Timeline(policy.tables, {
      inKev: exploitation.kev === undefined ? "no" : "yes",
      publiclyExposed: exposure.publiclyExposed ? "yes" : "no",
      automatable: automatable.value,
      technicalImpact: technicalImpact.value,
    });
    return {
      vuln,
      exploitation,
      automatable,
      technicalImpact,
      rating,
      raw,
      floored,
      epss,
      epssRaised,
      outcome,
      coordinator,
      bod,
    };
  });
  let rating: RatingLevel = "low";
  let ratingRule = "GR-L";
  let ratingVuln: string | undefined;
  for (const v of vulns) {
    if (
      ratingVuln === undefined ||
      rank(RATING_LEVELS, v.rating.level) > rank(RATING_LEVELS, rating)
    ) {
      rating = v.rating.level;
      ratingRule = v.rating.adjusted?.rule ?? v.rating.rule;
      ratingVuln = v.vuln.id;
    }
  }
  if (advisory.kind === "indicator") {
    // An indicator has no flaw to rate: a compromised host is Very High by D-COMP.
    rating = "very-high";
    ratingRule = "D-COMP";
  }
  const driver = [...vulns].sort(
    (a, b) =>
      rank(DSOI_OUTCOMES, b.outcome) - rank(DSOI_OUTCOMES, a.outcome) ||
      rank(RATING_LEVELS, b.rating.level) - rank(RATING_LEVELS, a.rating.level) ||
      rank(EXPLOITATIONS, b.exploitation.level) - rank(EXPLOITATIONS, a.exploitation.level) ||
      compareText(a.vuln.id, b.vuln.id),
  )[0];
  const outcome: DsoiOutcome = compromise ? "immediate" : (driver?.outcome ?? "defer");
  return {
    t,
    vulns,
    exposure,
    compromise,
    rating,
    ratingRule,
    ratingVuln,
    outcome,
    driver,
    protect: protectUrgency(rating, exposure.level, compromise),
    bod3df: vulns.some((v) => v.bod === "3-days-&-forensic-investigation"),
    activeOpen: vulns.some((v) => v.exploitation.level === "active") && exposure.level === "open",
  };
}

function validateInputs(finding: Finding, asset: Asset, advisory: Advisory): void {
  if (finding.assetId !== asset.id) {
    throw inputError(
      `finding ${findingIdOf(finding)} is for asset ${finding.assetId}, not ${asset.id}`,
    );
  }
  if (!lookupKeys(advisory).includes(finding.advisory.toUpperCase())) {
    throw inputError(
      `finding ${findingIdOf(finding)} is for advisory ${finding.advisory}, not ${advisory.id}`,
    );
  }
  if (!advisory.checks.some((check) => check.id === finding.checkId)) {
    throw inputError(
      `advisory ${advisory.id} has no check ${finding.checkId} (it has ${advisory.checks.map((c) => c.id).join(", ")})`,
    );
  }
}

function cvssResults(vulns: readonly AdvisoryVulnerability[]): CvssResult[] {
  const out: CvssResult[] = [];
  for (const vuln of vulns) {
    for (const entry of vuln.cvss) {
      const score = scoreCvss(entry.vector);
      out.push({
        vulnerability: vuln.id,
        version: score.version,
        vector: score.vector,
        kind: entry.kind,
        source: entry.source,
        official: entry.kind !== "derived",
        base: score.base,
        overall: score.overall,
        severity: score.severity,
        ...(entry.publishedScore === undefined ? {} : { publishedScore: entry.publishedScore }),
      });
    }
  }
  return out.sort(
    (a, b) =>
      compareText(a.vulnerability, b.vulnerability) ||
      compareText(a.version, b.version) ||
      compareText(a.kind, b.kind) ||
      compareText(a.source, b.source) ||
      compareText(a.vector, b.vector),
  );
}

const serviceList = (exposure: ExposureResult): string[] =>
  exposure.services.map((s) => `${s.proto}/${s.port}`);

/**
 * Assesses one finding (research §5). `advisory` is the finding's advisory from the catalog;
 * `intel`, `controls` and the arrays inside every argument may come in any order.
 * Throws RINGFENCE_RISK_INPUT when the inputs do not belong together.
 */
export function assess(
  finding: Finding,
  asset: Asset,
  advisory: Advisory,
  intel: ThreatIntel,
  controls: readonly Control[],
  policy: RiskPolicy,
  asOf: string,
): Assessment {
  validateInputs(finding, asset, advisory);
  const asOfMs = instant(asOf, "asOf");
  const observedMs = instant(finding.observedAt, "finding observedAt");
  const firstMs =
    finding.firstSeen === undefined ? observedMs : instant(finding.firstSeen, "finding firstSeen");
  const assumptions: string[] = [];
  if (firstMs > asOfMs) {
    assumptions.push(
      `the finding was first seen after asOf (${formatInstant(firstMs)}); replayed as if seen at asOf, and the clocks start at asOf`,
    );
  }
  const startMs = Math.min(firstMs, asOfMs);
  const positive = finding.verdict !== "not-vulnerable";
  if (finding.verdict === "unknown") {
    assumptions.push(
      "the check's verdict is unknown: treated as vulnerable until a check says otherwise",
    );
  }
  const check = advisory.checks.find((c) => c.id === finding.checkId);
  const vulns = advisory.vulnerabilities
    .filter((v) => check?.detects.includes(v.id))
    .sort((a, b) => compareText(a.id, b.id));

  // D-HI: the operator's Human Impact, or the SSVC Human Impact table over safety × mission.
  const tables = policy.tables;
  const hiReasonInputs: Record<string, unknown> = {};
  let humanImpact: HumanImpact;
  let hiText: string;
  if (asset.humanImpact !== undefined) {
    humanImpact = asset.humanImpact.value;
    hiReasonInputs.operator = asset.humanImpact.value;
    hiReasonInputs.source = asset.humanImpact.prov.source;
    hiText = `Human Impact set directly (${asset.humanImpact.prov.source}${asset.humanImpact.prov.ref === undefined ? "" : `, ${asset.humanImpact.prov.ref}`})`;
  } else {
    const safety = asset.safetyImpact?.value ?? policy.impactDefaults.safetyImpact;
    const mission = asset.missionImpact?.value ?? policy.impactDefaults.missionImpact;
    if (asset.safetyImpact === undefined) {
      assumptions.push(`safety impact unknown: policy default "${safety}"`);
    }
    if (asset.missionImpact === undefined) {
      assumptions.push(`mission impact unknown: policy default "${mission}"`);
    }
    humanImpact = humanImpactOf(tables, safety, mission);
    Object.assign(hiReasonInputs, {
      safetyImpact: safety,
      missionImpact: mission,
      table: tables.humanImpact.id,
    });
    hiText = `${tables.humanImpact.id}: safety ${safety} × mission ${mission} → ${humanImpact}`;
  }
  // Mission and Well-Being Impact, for the CISA Coordinator view only.
  const prevalence: MissionPrevalence =
    asset.missionPrevalence?.value ??
    (asset.missionImpact === undefined
      ? undefined
      : MISSION_TO_PREVALENCE[asset.missionImpact.value]) ??
    policy.impactDefaults.missionPrevalence;
  const wellBeing: PublicWellBeingImpact =
    asset.publicWellBeing?.value ??
    (asset.safetyImpact === undefined
      ? undefined
      : SAFETY_TO_WELL_BEING[asset.safetyImpact.value]) ??
    policy.impactDefaults.publicWellBeing;
  const missionWellBeing = missionWellBeingImpactOf(prevalence, wellBeing);

  const ctx: Context = {
    finding,
    asset,
    advisory,
    intel,
    controls,
    policy,
    vulns,
    humanImpact,
    missionWellBeing,
    startMs,
    positive,
  };
  const base = {
    schema: "ringfence.assessment/1" as const,
    findingId: findingIdOf(finding),
    asOf: formatInstant(asOfMs),
    subject: {
      assetId: asset.id,
      address: asset.address,
      protocol: finding.protocol,
      port: finding.port,
      advisory: advisory.id,
      advisoryKind: advisory.kind,
      checkId: finding.checkId,
      verdict: finding.verdict,
      observedAt: formatInstant(observedMs),
      firstSeen: formatInstant(firstMs),
    },
    policy: {
      id: policy.id,
      version: policy.version,
      sha256: policy.sha256,
      tables: Object.fromEntries(
        Object.values(tables)
          .map((table) => [table.id, table.sha256] as const)
          .sort((a, b) => compareText(a[0], b[0])),
      ),
    },
  };
  if (advisory.kind === "policy") {
    return assessPolicyFinding(ctx, base, asOfMs, assumptions);
  }

  const reasons = new ReasonLog();
  if (asset.zoneEvidence === "inferred") {
    assumptions.push(
      `zone ${asset.zone.value} inferred from the address (${asset.zone.prov.ref ?? "no site rule"})${asset.zone.value === "internet" ? ": unknown exposure of an Internet-routable address is taken as open" : ""}`,
    );
  }
  if (asset.role.prov.source === "default") assumptions.push("role unknown: taken as a server");
  findingReason(reasons, finding);

  const final = decide(ctx, asOfMs);
  const reasonIds: Record<string, string> = {};
  const vulnResults: VulnerabilityResult[] = [];
  const vulnReason = new Map<string, { rating: string; ssvc?: string }>();
  for (const v of final.vulns) {
    const id = v.vuln.id;
    const e = v.exploitation;
    reasons.add(
      "D-EXPL",
      {
        vulnerability: id,
        evidence: e.evidence.map((x) => ({ kind: x.kind, date: x.date, source: x.source })),
      },
      e.level,
      e.level === "none"
        ? e.noEvidence
          ? `${id}: no exploitation evidence collected`
          : `${id}: no public exploit or exploitation known as of ${formatInstant(asOfMs).slice(0, 10)}`
        : `${id}: ${e.level} since ${e.evidence.filter((x) => x.level === e.level).map((x) => `${x.date} (${x.source})`)[0] ?? ""}`,
    );
    if (e.noEvidence)
      assumptions.push(`${id}: no exploitation evidence collected; exploitation taken as none`);
    const a = v.automatable;
    reasons.add(
      "D-AUTO",
      { vulnerability: id, rule: a.rule, cisaAdp: a.cisaAdp ?? null, worm: e.wormObserved },
      a.value,
      a.rule === "worm"
        ? `${id}: a worm has exploited it: automatable yes${a.cisaAdp === "no" ? " (CISA ADP says no)" : ""}`
        : a.rule === "cisa-adp"
          ? `${id}: CISA ADP's value ${a.value}`
          : a.rule === "override"
            ? `${id}: ringfence override ${a.value}`
            : `${id}: derived from the facts (network, no credentials, no user action, code execution ⇒ yes): ${a.value}`,
    );
    reasons.add(
      "D-TI",
      { vulnerability: id, rule: v.technicalImpact.rule },
      v.technicalImpact.value,
      `${id}: technical impact ${v.technicalImpact.value} (${v.technicalImpact.rule})`,
    );
    const r = v.rating;
    const ratingId = reasons.add(
      r.rule,
      { vulnerability: id, ...r.factors },
      r.adjusted?.from ?? r.level,
      `${id}: ${r.text}`,
    );
    let lastRating = ratingId;
    if (r.adjusted !== undefined) {
      lastRating = reasons.add(
        r.adjusted.rule,
        { vulnerability: id, from: r.adjusted.from },
        r.level,
        `${id}: ${r.adjusted.text}`,
      );
    }
    vulnReason.set(id, { rating: lastRating });
  }
  const hiId = reasons.add("D-HI", hiReasonInputs, humanImpact, hiText);
  const x = final.exposure;
  assumptions.push(...x.assumptions);
  const openList = x.services
    .filter((s) => s.exposure === "open")
    .map((s) => `${s.proto}/${s.port}`);
  const expoText =
    x.services.length === 0
      ? "none of the advisory's services is reachable on the asset"
      : `${serviceList(x).join(", ")} reachable (zone ${asset.zone.value}, ${asset.zoneEvidence}${x.services.some((s) => s.from.includes("internet")) ? ", seen from the Internet" : ""}); ${x.effectiveControls.length === 0 ? "no verified, unexpired control lowers it" : `lowered by verified controls ${x.effectiveControls.join(", ")}`}${x.ignoredControls.length === 0 ? "" : `; not counted: ${x.ignoredControls.map((c) => `${c.id} (${c.state})`).join(", ")}`}`;
  const expoId = reasons.add(
    "D-EXPO",
    {
      zone: asset.zone.value,
      zoneEvidence: asset.zoneEvidence,
      reachable: x.services.map((s) => ({
        service: `${s.proto}/${s.port}`,
        from: s.from,
        exposure: s.exposure,
      })),
      validControls: x.effectiveControls,
      ignoredControls: x.ignoredControls,
    },
    { exposure: x.level, publiclyExposed: x.publiclyExposed, open: openList },
    expoText,
  );
  reasonIds.exposure = expoId;
  let compromiseId: string | undefined;
  if (final.compromise) {
    compromiseId = reasons.add(
      "D-COMP",
      {
        indicators: [
          ...asset.compromiseIndicators
            .filter((c) => (parseInstant(c.observedAt) ?? Infinity) <= asOfMs)
            .map((c) => c.id)
            .sort(compareText),
          ...(advisory.kind === "indicator" && positive
            ? [`${finding.checkId}@${finding.protocol}/${finding.port}`]
            : []),
        ],
      },
      "immediate",
      "compromise indicators present: quarantine now, forensic triage, outcome immediate (CA-2003-20; BOD 26-04 3DF)",
    );
  }
  for (const v of final.vulns) {
    const id = v.vuln.id;
    const ssvcId = reasons.add(
      "D-SSVC",
      {
        vulnerability: id,
        table: tables.deployer.id,
        exploitation: v.exploitation.level,
        exposure: x.level,
        automatable: v.automatable.value,
        humanImpact,
      },
      v.raw,
      `${id}: ${tables.deployer.id} gives ${v.raw}`,
    );
    let last = ssvcId;
    if (v.floored !== v.raw) {
      last = reasons.add(
        "D-FLOOR",
        { vulnerability: id, rating: v.rating.level, exposure: x.level, rawOutcome: v.raw },
        v.floored,
        x.level === "open"
          ? "Very High flaw on an open service: patch priority raised until shielding is verified"
          : "Very High flaw: patch priority at least out-of-cycle",
      );
    }
    if (v.epssRaised && v.epss !== undefined) {
      last = reasons.add(
        "D-EPSS",
        {
          vulnerability: id,
          percentile: v.epss.percentile,
          threshold: policy.epssPercentile,
          scoreDate: v.epss.scoreDate,
          modelVersion: v.epss.modelVersion,
        },
        "scheduled",
        `${id}: EPSS percentile ${v.epss.percentile} ≥ ${policy.epssPercentile}: defer raised to scheduled`,
      );
    }
    vulnReason.set(id, { ...(vulnReason.get(id) ?? { rating: ssvcId }), ssvc: last });
    vulnResults.push({
      id,
      rating: v.rating.level,
      ratingRule: v.rating.adjusted?.rule ?? v.rating.rule,
      exploitation: v.exploitation.level,
      automatable: v.automatable.value,
      ...(v.automatable.cisaAdp === undefined ? {} : { automatableCisaAdp: v.automatable.cisaAdp }),
      technicalImpact: v.technicalImpact.value,
      inKev: v.exploitation.kev !== undefined,
      ...(v.epss === undefined
        ? {}
        : {
            epss: {
              score: v.epss.epss,
              percentile: v.epss.percentile,
              scoreDate: v.epss.scoreDate,
              modelVersion: v.epss.modelVersion,
            },
          }),
      rawOutcome: v.raw,
      outcome: v.outcome,
      coordinator: v.coordinator,
      bod2604: v.bod,
    });
  }
  const driver = final.driver;
  const ratingReason =
    final.ratingVuln === undefined ? compromiseId : vulnReason.get(final.ratingVuln)?.rating;
  const outcomeReason =
    compromiseId ?? (driver === undefined ? undefined : vulnReason.get(driver.vuln.id)?.ssvc);
  if (final.vulns.length > 1 && driver !== undefined) {
    reasons.add(
      "D-WORST",
      {
        outcomes: final.vulns.map((v) => ({
          vulnerability: v.vuln.id,
          outcome: v.outcome,
          rating: v.rating.level,
        })),
      },
      { outcome: final.outcome, rating: final.rating },
      `the check detects ${final.vulns.length} vulnerabilities; the worst decides (${driver.vuln.id})`,
    );
  }

  // Comparison views: never used for the decision (research §5.3).
  const coordinator = final.vulns.reduce<CisaLevel | undefined>(
    (acc, v) => (acc === undefined ? v.coordinator : maxOf(CISA_LEVELS, acc, v.coordinator)),
    undefined,
  );
  const bod = final.vulns.reduce<Bod2604Timeline | undefined>(
    (acc, v) => (acc === undefined ? v.bod : maxOf(BOD_2604_TIMELINES, acc, v.bod)),
    undefined,
  );
  const inKev = final.vulns.some((v) => v.exploitation.kev !== undefined);
  if (coordinator !== undefined) {
    reasons.add(
      "V-CISA-COORDINATOR",
      {
        table: tables.coordinator.id,
        missionPrevalence: prevalence,
        publicWellBeing: wellBeing,
        missionWellBeing,
      },
      coordinator,
      `for comparison: ${tables.coordinator.id} with Mission and Well-Being Impact ${missionWellBeing} (${prevalence} × ${wellBeing})`,
    );
  }
  if (bod !== undefined) {
    reasons.add(
      "V-BOD-26-04",
      { table: tables.bod2604.id, inKev, publiclyExposed: x.publiclyExposed },
      bod,
      `for comparison: BOD 26-04 timeline ${BOD_2604_CODES[bod]}`,
    );
  }

  // Clocks (research §5.5), replayed over the dates where inputs changed.
  const samples = eventTimes(ctx, asOfMs).map((t) => (t === asOfMs ? final : decide(ctx, t)));
  const clocks = computeClocks(ctx, samples, final, asOfMs, reasons);
  const applicable = positive;
  const monitorUntil = formatInstant(plus(asOfMs, `P${policy.monitorDays}D`));
  const actions: Action[] = applicable
    ? planActions({
        advisory,
        asset,
        asOfMs,
        rating: final.rating,
        outcome: final.outcome,
        exposure: x,
        compromise: final.compromise,
        triage: clocks.triage,
        clocks: clocks.clocks,
        checkId: finding.checkId,
        monitorDays: policy.monitorDays,
        monitorUntil,
        ...(clocks.verifyShieldBy === undefined ? {} : { verifyShieldBy: clocks.verifyShieldBy }),
        because: {
          rating: ratingReason ?? hiId,
          exposure: expoId,
          outcome: outcomeReason ?? hiId,
          ...(compromiseId === undefined ? {} : { compromise: compromiseId }),
          ...(clocks.reasons.triage === undefined ? {} : { triage: clocks.reasons.triage }),
          ...(clocks.reasons.protect === undefined ? {} : { protect: clocks.reasons.protect }),
          ...(clocks.reasons.fix === undefined ? {} : { fix: clocks.reasons.fix }),
        },
      })
    : [];
  if (
    applicable &&
    newestPatch(advisory.remediation.patches, asOfMs) === undefined &&
    advisory.remediation.patches.length > 0
  ) {
    assumptions.push(
      `no patch for ${advisory.id} had been released as of ${formatInstant(asOfMs).slice(0, 10)}`,
    );
  }

  const assessment: Assessment = {
    ...base,
    applicable,
    rating: {
      level: final.rating,
      rule: final.ratingRule,
      ...(final.ratingVuln === undefined ? {} : { vulnerability: final.ratingVuln }),
      method: RATING_METHOD,
    },
    exposure: {
      level: x.level,
      publiclyExposed: x.publiclyExposed,
      zone: asset.zone.value,
      services: x.services,
    },
    ...(applicable && driver !== undefined
      ? {
          ssvc: {
            table: tables.deployer.id,
            exploitation: driver.exploitation.level,
            exposure: x.level,
            automatable: driver.automatable.value,
            technicalImpact: driver.technicalImpact.value,
            humanImpact,
            rawOutcome: driver.raw,
            outcome: final.outcome,
            vulnerability: driver.vuln.id,
          },
        }
      : {}),
    views:
      applicable && coordinator !== undefined && bod !== undefined
        ? {
            cisaCoordinator: { table: tables.coordinator.id, missionWellBeing, level: coordinator },
            bod2604: {
              table: tables.bod2604.id,
              inKev,
              publiclyExposed: x.publiclyExposed,
              timeline: bod,
              code: BOD_2604_CODES[bod],
            },
          }
        : {},
    vulnerabilities: vulnResults,
    cvss: cvssResults(vulns),
    clocks: applicable ? clocks.clocks : { overdue: [] },
    actions,
    reasons: reasons.list,
    assumptions: dedupe(assumptions),
  };
  return canonicalize(assessment);
}

interface ClockResult {
  readonly clocks: Clocks;
  readonly triage: boolean;
  readonly verifyShieldBy?: string;
  readonly reasons: { protect?: string; fix?: string; triage?: string };
}

function computeClocks(
  ctx: Context,
  samples: readonly Decision[],
  final: Decision,
  asOfMs: number,
  reasons: ReasonLog,
): ClockResult {
  const { policy } = ctx;
  const day = (ms: number): string => formatInstant(ms);
  const out: {
    protectBy?: string;
    fixBy?: string;
    verifyBy?: string;
    forensicTriage?: Clocks["forensicTriage"];
  } = {};
  const ids: { protect?: string; fix?: string; triage?: string } = {};
  let verifyShieldBy: string | undefined;

  // Protect-by: the rating × exposure row of §5.5, from when that urgency began.
  const protectDur = protectDuration(policy, final.protect);
  if (protectDur !== undefined) {
    const start =
      runStart(samples.map((d) => ({ t: d.t, rank: rank(PROTECT_URGENCIES, d.protect) }))) ??
      asOfMs;
    const by = plus(start, protectDur);
    out.protectBy = day(by);
    verifyShieldBy = day(plus(by, policy.clocks.verify.afterProtect));
    ids.protect = reasons.add(
      "D-CLOCK-PROTECT",
      { urgency: final.protect, since: day(start), duration: protectDur },
      out.protectBy,
      `protect (shield or contain) within ${protectDur} of ${day(start)}, when the ${final.protect} condition began (research §5.5)`,
    );
  }
  // Fix-by: the SSVC outcome's duration from when that outcome (or worse) began; BOD 26-04 3DF
  // and the KEV due date can only bring it closer.
  let fixMs: number | undefined;
  let verifyOutcome = final.outcome;
  const fixDur = fixDuration(policy, final.outcome);
  if (fixDur !== undefined) {
    const start =
      runStart(samples.map((d) => ({ t: d.t, rank: rank(DSOI_OUTCOMES, d.outcome) }))) ?? asOfMs;
    fixMs = plus(start, fixDur);
    ids.fix = reasons.add(
      "D-CLOCK-FIX",
      { outcome: final.outcome, since: day(start), duration: fixDur },
      day(fixMs),
      `fix within ${fixDur} of ${day(start)}, when the outcome became ${final.outcome}${final.outcome === "scheduled" ? " (or at the next maintenance window if sooner)" : ""}`,
    );
  } else if (final.vulns.length > 0 || final.compromise) {
    ids.fix = reasons.add(
      "D-CLOCK-FIX",
      { outcome: final.outcome },
      null,
      "defer: fix with the next system upgrade, re-assess when intelligence changes (BOD 26-04 FSU)",
    );
  }
  if (final.bod3df) {
    const start = runStart(samples.map((d) => ({ t: d.t, rank: d.bod3df ? 1 : 0 }))) ?? asOfMs;
    const by = plus(start, policy.clocks.fix.immediate);
    if (fixMs === undefined || by < fixMs) {
      fixMs = by;
      verifyOutcome = "immediate";
      ids.fix = reasons.add(
        "D-CLOCK-3DF",
        { since: day(start) },
        day(by),
        "in KEV with total impact and publicly exposed or automatable: 3 days and forensic triage (BOD 26-04 3DF)",
      );
    }
  }
  if (policy.honourKevDueDate) {
    const dues = final.vulns
      .map((v) => v.exploitation.kev?.entry.dueDate)
      .filter((d): d is string => d !== undefined)
      .sort(compareText);
    const due = dues[0];
    // A KEV due date means "by the end of that day".
    const dueMs = due === undefined ? undefined : plus(parseInstant(due) ?? asOfMs, "P1D") - 1000;
    if (dueMs !== undefined && (fixMs === undefined || dueMs < fixMs)) {
      fixMs = dueMs;
      ids.fix = reasons.add(
        "D-KEV-DUE",
        { dueDate: due },
        day(dueMs),
        `the KEV due date ${due ?? ""} comes first (policy honourKevDueDate)`,
      );
    }
  }
  if (fixMs !== undefined) {
    out.fixBy = day(fixMs);
    const verifyDur = verifyDuration(policy, verifyOutcome);
    if (verifyDur !== undefined) out.verifyBy = day(plus(fixMs, verifyDur));
  }
  // Forensic triage: compromise, BOD 26-04 3DF, or active exploitation while the service was
  // open at any time since the finding (research §5.6 step 7: "before shielding").
  const triageAt = samples.find((d) => d.compromise || d.bod3df || d.activeOpen);
  const triage =
    triageAt !== undefined &&
    (final.compromise || final.bod3df || samples.some((d) => d.activeOpen));
  if (triage && triageAt !== undefined) {
    const start = triageAt.t;
    const f = policy.clocks.forensicTriage;
    out.forensicTriage = {
      scopeBy: day(plus(start, f.scope)),
      evidenceBy: day(plus(start, f.evidence)),
      decisionBy: day(plus(start, f.decision)),
    };
    ids.triage = reasons.add(
      "D-TRIAGE",
      {
        since: day(start),
        compromise: final.compromise,
        bod3df: final.bod3df,
        activeWhileOpen: samples.some((d) => d.activeOpen),
      },
      out.forensicTriage,
      "forensic triage: scope, collect volatile evidence before patching, then decide (BOD 26-04 guidance: 2 h / 24 h / 72 h)",
    );
  }
  const overdue = (["protectBy", "fixBy", "verifyBy"] as const).filter((k) => {
    const v = out[k];
    return v !== undefined && (parseInstant(v) ?? Infinity) < asOfMs;
  });
  return {
    clocks: { ...out, overdue },
    triage,
    ...(verifyShieldBy === undefined ? {} : { verifyShieldBy }),
    reasons: ids,
  };
}

/** Assesses many findings; the result is sorted by finding id. */
export function assessAll(
  findings: readonly Finding[],
  assets: readonly Asset[],
  catalog: { require(idOrAlias: string): Advisory },
  intel: ThreatIntel,
  controls: readonly Control[],
  policy: RiskPolicy,
  asOf: string,
): Assessment[] {
  const byId = new Map(assets.map((asset) => [asset.id, asset]));
  return findings
    .map((finding) => {
      const asset = byId.get(finding.assetId);
      if (asset === undefined)
        throw inputError(`finding ${findingIdOf(finding)} names unknown asset ${finding.assetId}`);
      return assess(
        finding,
        asset,
        catalog.require(finding.advisory),
        intel,
        controls,
        policy,
        asOf,
      );
    })
    .sort((a, b) => compareText(a.findingId, b.findingId));
}
