/**
 * Policy rules, evaluated by the same engine as vulnerabilities (issue 5, research §5.8):
 *
 * - exposure-allowlist: "deny all except what is explicitly allowed" (Gartner 2003). In each zone
 *   the policy governs, every reachable service it does not list is a policy finding, unless a
 *   verified control blocks it or an approved exception allows it.
 * - new-release-exposure: no sensitive application exposed to the Internet on a new OS release
 *   before a not-before date. The date is revisable (Gartner moved it from "until 1Q04" to
 *   "before 2Q04"): the revision in force at the assessment date applies, unless the policy pins
 *   one. Exceptions need the right approver, must not outlive the rule's maximum duration, and
 *   count only while their required controls are verified.
 */
import {
  addIsoDuration,
  compareText,
  formatInstant,
  parseDate,
  type Advisory,
  type AdvisoryCatalog,
  type AllowlistRule,
  type NewReleaseRule,
  type NotBefore,
  type PolicyRule,
  type ServiceProtocol,
  type Zone,
} from "../advisories/index.js";
import { RingfenceError } from "../errors.js";
import { parseAddress, parseRangeExpression, rangesContain } from "../targets/index.js";
import { controlAppliesTo, controlStatus } from "./exposure.js";
import type { PolicyException, RiskPolicy } from "./policy.js";
import type { Asset, Control, Finding } from "./types.js";

export type RuleState = "violation" | "compliant" | "excepted" | "not-in-force";

export interface ExceptionCheck {
  readonly id: string;
  readonly valid: boolean;
  readonly problems: readonly string[];
  readonly expiresAt: string;
  readonly approver: { readonly name: string; readonly role: string };
}

export interface RuleEvaluation {
  readonly state: RuleState;
  readonly rule: PolicyRule;
  /** Facts that decided it, for the explanation. */
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly text: string;
  readonly revision?: { readonly date: string; readonly source: string; readonly pinned: boolean };
  readonly notBefore?: string;
  readonly exception?: ExceptionCheck;
}

const OUTSIDE: readonly Zone[] = ["internet", "extranet"];

/** Exceptions end at the start of their expiry day (UTC): "until 2004-03-01" excludes March 1st. */
function dateMs(date: string): number {
  return parseDate(date) ?? Number.NaN;
}

function exceptionAppliesTo(exception: PolicyException, asset: Asset): boolean {
  if (exception.assets.includes(asset.id)) return true;
  const address = parseAddress(asset.address);
  if (address === undefined) return false;
  return exception.ranges.some((text) => {
    const range = parseRangeExpression(text);
    return !("reason" in range) && rangesContain([range], address);
  });
}

/** Control kinds that satisfy a required shield of an exception. */
const SHIELD_KINDS: Readonly<Record<string, readonly Control["kind"][]>> = {
  "shield-perimeter": ["perimeter-block", "segment-acl"],
  "shield-host": ["host-firewall"],
  "mitigate-service": ["service-disabled"],
};

/** Checks one exception against the rule's terms at time `t`. */
export function checkException(
  exception: PolicyException,
  rule: PolicyRule,
  asset: Asset,
  controls: readonly Control[],
  policy: RiskPolicy,
  t: number,
): ExceptionCheck {
  const problems: string[] = [];
  const terms = rule.exceptions;
  const approved = dateMs(exception.approvedAt);
  const expires = dateMs(exception.expiresAt);
  if (approved > t) problems.push(`not yet approved (approvedAt ${exception.approvedAt})`);
  if (expires <= t) problems.push(`expired on ${exception.expiresAt}`);
  if (exception.approver.role !== terms.approverRole) {
    problems.push(
      `approved by role ${exception.approver.role}; the rule requires ${terms.approverRole}`,
    );
  }
  if (addIsoDuration(approved, terms.maxDuration) < expires) {
    problems.push(
      `runs ${exception.approvedAt} to ${exception.expiresAt}, longer than the rule's maximum ${terms.maxDuration}`,
    );
  }
  for (const required of terms.requires) {
    const kinds = SHIELD_KINDS[required] ?? [];
    const ok = controls.some(
      (control) =>
        kinds.includes(control.kind) &&
        controlAppliesTo(control, asset) &&
        controlStatus(control, asset, policy, t).state === "valid",
    );
    if (!ok) problems.push(`requires ${required}, and no verified, unexpired control provides it`);
  }
  return {
    id: exception.id,
    valid: problems.length === 0,
    problems,
    expiresAt: formatInstant(expires),
    approver: exception.approver,
  };
}

/** The best exception for this rule and asset: a valid one if any, else the first for the record. */
function findException(
  rule: PolicyRule,
  asset: Asset,
  controls: readonly Control[],
  policy: RiskPolicy,
  t: number,
  service?: { proto: ServiceProtocol; port: number },
): ExceptionCheck | undefined {
  const candidates = policy.exceptions
    .filter((e) => e.rule === rule.id && exceptionAppliesTo(e, asset))
    .filter(
      (e) =>
        service === undefined ||
        e.services === undefined ||
        e.services.some((s) => s.proto === service.proto && s.port === service.port),
    )
    .sort((a, b) => compareText(a.id, b.id))
    .map((e) => checkException(e, rule, asset, controls, policy, t));
  return candidates.find((c) => c.valid) ?? candidates[0];
}

// --- new-release-exposure ---------------------------------------------------------------------

/** The revision in force at `t` (or the pinned one), or undefined when none is yet. */
export function revisionAt(
  rule: NewReleaseRule,
  policy: RiskPolicy,
  t: number,
): { notBefore: NotBefore; date?: string; source?: string; pinned: boolean } | undefined {
  const pin = policy.pinRevisions[rule.id];
  if (pin !== undefined) {
    const pinned = rule.revisions.find((revision) => revision.date === pin);
    if (pinned === undefined) {
      throw new RingfenceError(
        "RINGFENCE_RISK_INPUT",
        `the policy pins ${rule.id} to revision ${pin}, which the rule does not have (it has ${rule.revisions.map((r) => r.date).join(", ") || "none"})`,
      );
    }
    return dateMs(pinned.date) <= t ? { ...pinned, pinned: true } : undefined;
  }
  if (rule.revisions.length === 0) {
    return rule.notBefore === undefined ? undefined : { notBefore: rule.notBefore, pinned: false };
  }
  const inForce = rule.revisions.filter((revision) => dateMs(revision.date) <= t).at(-1);
  return inForce === undefined ? undefined : { ...inForce, pinned: false };
}

/** Resolves the relative forms of notBefore against the rule's recorded facts. */
export function resolveNotBefore(rule: NewReleaseRule, notBefore: NotBefore, t: number): number {
  if (typeof notBefore === "string") return dateMs(notBefore);
  const release =
    rule.facts.releaseDate === undefined ? Number.NaN : dateMs(rule.facts.releaseDate);
  if ("afterRelease" in notBefore) return addIsoDuration(release, notBefore.afterRelease);
  if ("milestone" in notBefore) return dateMs(rule.facts.milestones[notBefore.milestone] ?? "");
  // Quiet period: no remote-critical flaw for the duration, counted from the last one known at t
  // (or from the release when none is known yet).
  const last = rule.facts.remoteCritical
    .map((entry) => dateMs(entry.date))
    .filter((ms) => ms <= t)
    .reduce((a, b) => Math.max(a, b), release);
  return addIsoDuration(last, notBefore.quietPeriod.noRemoteCriticalFor);
}

function osMatches(rule: NewReleaseRule, asset: Asset): boolean {
  const os = asset.os?.value;
  return (
    os !== undefined &&
    os.family.toLowerCase() === rule.match.os.family.toLowerCase() &&
    os.version.toLowerCase() === rule.match.os.version.toLowerCase()
  );
}

/** Evaluates a new-release-exposure rule for an asset at time `t`. */
export function evaluateNewReleaseRule(
  rule: NewReleaseRule,
  asset: Asset,
  controls: readonly Control[],
  policy: RiskPolicy,
  t: number,
): RuleEvaluation {
  const tags = asset.tags.map((tag) => tag.value);
  const matchedTags = rule.match.tagsAny.filter((tag) => tags.includes(tag)).sort(compareText);
  const seenFrom = [...new Set(asset.reachable.map((r) => r.from))]
    .filter((zone) => rule.match.zones.includes(zone))
    .sort(compareText);
  const zoneMatch = rule.match.zones.includes(asset.zone.value) || seenFrom.length > 0;
  const os = asset.os?.value;
  const inputs = {
    os: os === undefined ? null : `${os.family} ${os.version}`,
    tags: matchedTags,
    zone: asset.zone.value,
    exposedFrom: seenFrom,
  };
  const matches =
    osMatches(rule, asset) &&
    (rule.match.tagsAny.length === 0 || matchedTags.length > 0) &&
    zoneMatch;
  if (!matches) {
    return {
      state: "compliant",
      rule,
      inputs,
      text: `the asset does not match ${rule.id} (needs ${rule.match.os.family} ${rule.match.os.version}, a tag of ${rule.match.tagsAny.join("/") || "any"}, exposure to ${rule.match.zones.join("/")})`,
    };
  }
  const revision = revisionAt(rule, policy, t);
  if (revision === undefined) {
    return {
      state: "not-in-force",
      rule,
      inputs,
      text: `no revision of ${rule.id} was in force at that date`,
    };
  }
  const notBeforeMs = resolveNotBefore(rule, revision.notBefore, t);
  const revisionInfo =
    revision.date === undefined
      ? undefined
      : { date: revision.date, source: revision.source ?? "", pinned: revision.pinned };
  const base = {
    rule,
    inputs: { ...inputs, notBefore: revision.notBefore },
    ...(revisionInfo === undefined ? {} : { revision: revisionInfo }),
    notBefore: formatInstant(notBeforeMs),
  };
  const under =
    revisionInfo === undefined
      ? ""
      : ` under the revision of ${revisionInfo.date}${revisionInfo.pinned ? " (pinned by the policy)" : ""}`;
  if (t >= notBeforeMs) {
    return {
      ...base,
      state: "compliant",
      text: `the not-before date ${formatInstant(notBeforeMs).slice(0, 10)}${under} has passed`,
    };
  }
  const exception = findException(rule, asset, controls, policy, t);
  const violation = `${os?.family ?? ""} ${os?.version ?? ""} asset tagged ${matchedTags.join(", ")} exposed to ${rule.match.zones.join("/")} before ${formatInstant(notBeforeMs).slice(0, 10)}${under}`;
  if (exception?.valid === true) {
    return {
      ...base,
      state: "excepted",
      exception,
      text: `${violation}; allowed by exception ${exception.id}`,
    };
  }
  return {
    ...base,
    state: "violation",
    ...(exception === undefined ? {} : { exception }),
    text:
      exception === undefined
        ? violation
        : `${violation}; exception ${exception.id} does not hold: ${exception.problems.join("; ")}`,
  };
}

// --- exposure-allowlist -----------------------------------------------------------------------

/** Whether a verified control stops this service from being reachable at `t`. */
function blockedBy(
  asset: Asset,
  service: { proto: ServiceProtocol; port: number },
  facing: boolean,
  controls: readonly Control[],
  policy: RiskPolicy,
  t: number,
): string | undefined {
  const blocking = controls
    .filter((control) => controlAppliesTo(control, asset))
    .filter((control) =>
      control.covers.some((c) => c.proto === service.proto && c.port === service.port),
    )
    .filter((control) => {
      if (control.kind === "perimeter-block") return facing && asset.zone.value !== "roaming";
      if (control.kind === "segment-acl") return !facing;
      return true;
    })
    .filter((control) => controlStatus(control, asset, policy, t).state === "valid")
    .map((control) => control.id)
    .sort(compareText);
  return blocking[0];
}

/** Evaluates the allowlist rule for one service of an asset at time `t`. */
export function evaluateAllowlistRule(
  rule: AllowlistRule,
  asset: Asset,
  service: { proto: ServiceProtocol; port: number },
  controls: readonly Control[],
  policy: RiskPolicy,
  t: number,
): RuleEvaluation {
  const name = `${service.proto}/${service.port}`;
  const seen = asset.reachable.filter((r) => r.proto === service.proto && r.port === service.port);
  const from = [...new Set(seen.map((r) => r.from))].sort(compareText);
  // The asset's zone governs; a service seen from outside is also governed as an Internet one.
  const zones = [...new Set([asset.zone.value, ...from.filter((z) => OUTSIDE.includes(z))])].sort(
    compareText,
  );
  const lists = policy.exposureAllowlist
    .filter((entry) => zones.includes(entry.zone))
    .sort((a, b) => compareText(a.zone, b.zone));
  const inputs = {
    service: name,
    zone: asset.zone.value,
    seenFrom: from,
    governedBy: lists.map((l) => l.zone),
  };
  if (seen.length === 0) {
    return { state: "compliant", rule, inputs, text: `${name} was not seen open` };
  }
  if (lists.length === 0) {
    return {
      state: "compliant",
      rule,
      inputs,
      text: `the policy does not govern zone ${asset.zone.value}`,
    };
  }
  const denyingZones = lists
    .filter((list) => !list.allow.some((a) => a.proto === service.proto && a.port === service.port))
    .map((list) => list.zone);
  if (denyingZones.length === 0) {
    return {
      state: "compliant",
      rule,
      inputs,
      text: `${name} is explicitly allowed in ${lists.map((l) => l.zone).join(", ")}`,
    };
  }
  const facing = OUTSIDE.includes(asset.zone.value) || from.some((z) => OUTSIDE.includes(z));
  const blocker = blockedBy(asset, service, facing, controls, policy, t);
  if (blocker !== undefined) {
    return {
      state: "compliant",
      rule,
      inputs: { ...inputs, blockedBy: blocker },
      text: `${name} is denied by verified control ${blocker}`,
    };
  }
  const text = `${name} is reachable but not allowed in ${denyingZones.join(", ")} (deny all except what is explicitly allowed)`;
  const exception = findException(rule, asset, controls, policy, t, service);
  if (exception?.valid === true) {
    return {
      state: "excepted",
      rule,
      inputs,
      exception,
      text: `${text}; allowed by exception ${exception.id}`,
    };
  }
  return {
    state: "violation",
    rule,
    inputs,
    ...(exception === undefined ? {} : { exception }),
    text:
      exception === undefined
        ? text
        : `${text}; exception ${exception.id} does not hold: ${exception.problems.join("; ")}`,
  };
}

/** Evaluates a policy advisory's rule for the finding's asset (and service, for the allowlist). */
export function evaluatePolicyRule(
  advisory: Advisory,
  asset: Asset,
  service: { proto: ServiceProtocol; port: number },
  controls: readonly Control[],
  policy: RiskPolicy,
  t: number,
): RuleEvaluation {
  const rule = advisory.rule;
  if (rule === undefined) {
    throw new RingfenceError("RINGFENCE_RISK_INPUT", `advisory ${advisory.id} has no policy rule`);
  }
  return rule.kind === "new-release-exposure"
    ? evaluateNewReleaseRule(rule, asset, controls, policy, t)
    : evaluateAllowlistRule(rule, asset, service, controls, policy, t);
}

/** The id a finding gets when it has none: asset, service, advisory and check. */
export function findingIdOf(finding: Omit<Finding, "id"> & { id?: string }): string {
  return (
    finding.id ??
    `${finding.assetId}|${finding.protocol}/${finding.port}|${finding.advisory.toLowerCase()}|${finding.checkId}`
  );
}

/**
 * Policy findings for one asset as of `asOf`: one per rule violation (or excepted violation), to
 * store with the scan's findings and assess with `assess()` like any other.
 */
export function policyFindings(
  asset: Asset,
  catalog: AdvisoryCatalog,
  controls: readonly Control[],
  policy: RiskPolicy,
  asOfMs: number,
): Finding[] {
  const findings: Finding[] = [];
  const observedAt = formatInstant(asOfMs);
  for (const advisory of catalog.policies()) {
    const rule = advisory.rule;
    const checkId = advisory.checks[0]?.id;
    if (rule === undefined || checkId === undefined) continue;
    const services =
      rule.kind === "new-release-exposure"
        ? [{ proto: "tcp" as const, port: 0 }]
        : [
            ...new Map(
              asset.reachable.map((r) => [
                `${r.proto}/${r.port}`,
                { proto: r.proto, port: r.port },
              ]),
            ).values(),
          ].sort((a, b) => compareText(a.proto, b.proto) || a.port - b.port);
    for (const service of services) {
      const evaluation = evaluatePolicyRule(advisory, asset, service, controls, policy, asOfMs);
      if (evaluation.state !== "violation" && evaluation.state !== "excepted") continue;
      const finding = {
        assetId: asset.id,
        address: asset.address,
        protocol: service.proto,
        port: service.port,
        advisory: advisory.id,
        checkId,
        verdict: "vulnerable" as const,
        evidence: { rule: rule.id, state: evaluation.state, text: evaluation.text },
        observedAt,
      };
      findings.push({ id: findingIdOf(finding), ...finding });
    }
  }
  return findings;
}
