import { formatInstant, parseInstant } from "../advisories/index.js";
import {
  dedupe,
  eventTimes,
  findingReason,
  inputError,
  ReasonLog,
  type AssessmentBase,
  type Context,
} from "./assessment-context.js";
import { canonicalize } from "./canonical-json.js";
import { plus, runStart } from "./clocks.js";
import { exposureOf } from "./exposure.js";
import { evaluatePolicyRule, resolveNotBefore, type RuleEvaluation } from "./policy-rules.js";
import type { Action, Assessment } from "./types.js";

/**
 * A policy finding (research §5.8; issue 5 item 5), assessed by the same engine: the rule is
 * evaluated as of asOf, the protect clock runs from when the violation began (a revision coming
 * into force, a not-before date passing, an exception lapsing), and the plan is the rule's own.
 */
export function assessPolicyFinding(
  ctx: Context,
  base: AssessmentBase,
  asOfMs: number,
  assumptions: string[],
): Assessment {
  const { advisory, asset, finding, controls, policy } = ctx;
  const rule = advisory.rule;
  if (rule === undefined) throw inputError(`advisory ${advisory.id} has no policy rule`);
  const service = { proto: finding.protocol, port: finding.port };
  const evaluate = (t: number): RuleEvaluation =>
    evaluatePolicyRule(advisory, asset, service, controls, policy, t);
  const evaluation = evaluate(asOfMs);
  const reasons = new ReasonLog();
  findingReason(reasons, finding);
  const exposure = exposureOf(asset, advisory, finding, controls, policy, asOfMs);
  const ruleId = reasons.add(
    `P-${rule.kind.toUpperCase()}`,
    { rule: rule.id, ...evaluation.inputs },
    evaluation.state,
    evaluation.text,
  );
  if (evaluation.revision !== undefined) {
    reasons.add(
      "P-REVISION",
      { rule: rule.id, pinned: evaluation.revision.pinned },
      { date: evaluation.revision.date, notBefore: evaluation.notBefore ?? null },
      `revision of ${evaluation.revision.date} (${evaluation.revision.source})${evaluation.revision.pinned ? ", pinned by the policy" : ", the one in force at asOf"}`,
    );
  }
  if (evaluation.exception !== undefined) {
    reasons.add(
      "P-EXCEPTION",
      {
        exception: evaluation.exception.id,
        approver: evaluation.exception.approver,
        expiresAt: evaluation.exception.expiresAt,
      },
      evaluation.exception.valid ? "valid" : "invalid",
      evaluation.exception.valid
        ? `exception ${evaluation.exception.id} holds until ${evaluation.exception.expiresAt}`
        : `exception ${evaluation.exception.id} does not hold: ${evaluation.exception.problems.join("; ")}`,
    );
  }
  const applicable =
    ctx.positive && (evaluation.state === "violation" || evaluation.state === "excepted");
  // Protect-by: dueIn from when the violation began (a revision, an exception lapsing, ...).
  const extra: number[] = [];
  if (rule.kind === "new-release-exposure") {
    // The state changes when a revision comes into force and when its not-before date passes.
    for (const revision of rule.revisions) {
      extra.push(
        parseInstant(revision.date) ?? asOfMs,
        resolveNotBefore(rule, revision.notBefore, asOfMs),
      );
    }
    if (rule.notBefore !== undefined) extra.push(resolveNotBefore(rule, rule.notBefore, asOfMs));
  }
  for (const exception of policy.exceptions) {
    if (exception.rule !== rule.id) continue;
    extra.push(
      parseInstant(exception.approvedAt) ?? asOfMs,
      parseInstant(exception.expiresAt) ?? asOfMs,
    );
  }
  const clocks: { protectBy?: string; verifyBy?: string } = {};
  let clockId: string | undefined;
  let verifyShieldBy: string | undefined;
  if (applicable && evaluation.state === "violation") {
    const times = eventTimes(ctx, asOfMs, extra);
    const start =
      runStart(
        times.map((t) => ({
          t,
          rank: (t === asOfMs ? evaluation : evaluate(t)).state === "violation" ? 1 : 0,
        })),
      ) ?? asOfMs;
    const by = plus(start, rule.onViolation.dueIn);
    clocks.protectBy = formatInstant(by);
    verifyShieldBy = formatInstant(plus(by, policy.clocks.verify.afterProtect));
    clocks.verifyBy = verifyShieldBy;
    clockId = reasons.add(
      "D-CLOCK-PROTECT",
      { since: formatInstant(start), duration: rule.onViolation.dueIn },
      clocks.protectBy,
      `end the violation within ${rule.onViolation.dueIn} of ${formatInstant(start)}, when it began`,
    );
  }
  const actions: Action[] = [];
  const push = (
    kind: Action["kind"],
    detail: Record<string, unknown>,
    due: string | undefined,
    gate: Action["gate"],
  ): void => {
    actions.push({
      seq: actions.length + 1,
      kind,
      detail,
      ...(due === undefined ? {} : { due }),
      gate,
      because: [ruleId, ...(clockId === undefined ? [] : [clockId])],
    });
  };
  if (applicable && evaluation.state === "violation") {
    const blockKinds: Action["kind"][] = [];
    for (const kind of rule.onViolation.actions) {
      if (kind === "remove-exposure") {
        push(
          "remove-exposure",
          {
            rule: rule.id,
            ...(rule.kind === "new-release-exposure"
              ? {
                  zones: rule.match.zones,
                  how: "take the sensitive application off Internet-facing addresses, or run it on a mature release",
                }
              : {}),
          },
          clocks.protectBy,
          [],
        );
        blockKinds.push("remove-exposure");
      } else if (kind === "shield-perimeter") {
        const kindHere = exposure.internetFacing ? "shield-perimeter" : "shield-host";
        push(
          kindHere,
          { stance: "default-deny", deny: [`${finding.protocol}/${finding.port}`] },
          clocks.protectBy,
          [],
        );
        blockKinds.push(kindHere);
      } else {
        push(
          "request-exception",
          {
            alternative: true,
            approverRole: rule.exceptions.approverRole,
            maxDuration: rule.exceptions.maxDuration,
            requires: rule.exceptions.requires,
          },
          undefined,
          [],
        );
      }
    }
    if (blockKinds.length > 0) {
      push(
        "verify-shield",
        { vantage: ["external"], onSuccess: "re-assess" },
        verifyShieldBy,
        blockKinds,
      );
    }
  } else if (applicable && evaluation.exception !== undefined) {
    push(
      "review-exception",
      {
        exception: evaluation.exception.id,
        requires: rule.exceptions.requires,
        onExpiry: "the violation returns",
      },
      evaluation.exception.expiresAt,
      [],
    );
  }
  return canonicalize({
    ...base,
    applicable,
    rating: {
      level: rule.onViolation.rating,
      rule: `P-${rule.kind.toUpperCase()}`,
      method: "policy rule rating (onViolation)",
    },
    exposure: {
      level: exposure.level,
      publiclyExposed: exposure.publiclyExposed,
      zone: asset.zone.value,
      services: exposure.services,
    },
    views: {},
    vulnerabilities: [],
    cvss: [],
    policyResult: {
      rule: rule.id,
      ruleKind: rule.kind,
      state: evaluation.state,
      ...(evaluation.revision === undefined ? {} : { revision: evaluation.revision }),
      ...(evaluation.notBefore === undefined ? {} : { notBefore: evaluation.notBefore }),
      ...(evaluation.exception === undefined
        ? {}
        : {
            exception: {
              id: evaluation.exception.id,
              valid: evaluation.exception.valid,
              problems: evaluation.exception.problems,
            },
          }),
    },
    clocks: {
      ...clocks,
      overdue: (["protectBy", "verifyBy"] as const).filter(
        (k) => (parseInstant(clocks[k] ?? "") ?? Infinity) < asOfMs,
      ),
    },
    actions,
    reasons: reasons.list,
    assumptions: dedupe(assumptions),
  });
}
