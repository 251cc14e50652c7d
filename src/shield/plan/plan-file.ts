/**
 * The plan file: YAML (default) or JSON, `schema: ringfence.shield-plan/1`. Keys come out in a
 * fixed order and without timestamps, so the same plan is the same bytes and `--diff` shows only
 * what changed. Reading validates every field and rebuilds the policy through the model's
 * factories: a hand-edited plan meets the same checks as a generated one.
 */
import { readFile } from "node:fs/promises";
import { stringify } from "yaml";
import { z } from "zod";
import { fileError, fsReason, parseYamlFile, type FileKind } from "../../advisories/index.js";
import { isRingfenceError } from "../../errors.js";
import { ShieldPolicyError } from "../errors.js";
import {
  policyFromDocument,
  policyToDocument,
  PolicyDocumentSchema,
} from "../model/policy-document.js";
import { PLACEMENTS, PLAN_SCHEMA_ID, SCOPES, type ShieldPlan } from "./shield-plan.js";

export const PLAN_FILE: FileKind = {
  code: "RINGFENCE_SHIELD_FILE",
  kind: "plan file",
  hint: "write plans with `ringfence shield plan -o plan.yaml`; the format is schema ringfence.shield-plan/1",
};

const PlanSchema = z.strictObject({
  schema: z.literal(PLAN_SCHEMA_ID, { error: `expected schema: ${PLAN_SCHEMA_ID}` }),
  name: z.string(),
  source: z.enum(["findings", "exposures"]),
  scope: z.enum(SCOPES),
  placement: z.enum(PLACEMENTS),
  advisories: z.array(z.string()).default([]),
  hosts: z
    .array(
      z.strictObject({
        address: z.string(),
        advisories: z.array(z.string()).default([]),
        findings: z.array(z.number().int()).default([]),
        role: z.literal("domain-controller").optional(),
        quarantined: z.boolean().default(false),
        quarantineReason: z.string().optional(),
        blockIn: z.array(z.string()).default([]),
        blockOut: z.array(z.string()).default([]),
      }),
    )
    .default([]),
  flags: z
    .array(
      z.strictObject({
        host: z.string(),
        service: z.string(),
        advisory: z.string(),
        reason: z.string(),
      }),
    )
    .default([]),
  warnings: z.array(z.string()).default([]),
  policy: PolicyDocumentSchema,
});

export type PlanFormat = "yaml" | "json";

export function planToDocument(plan: ShieldPlan): Record<string, unknown> {
  return {
    schema: plan.schema,
    name: plan.name,
    source: plan.source,
    scope: plan.scope,
    placement: plan.placement,
    advisories: [...plan.advisories],
    hosts: plan.hosts.map((h) => ({
      address: h.address,
      advisories: [...h.advisories],
      findings: [...h.findings],
      ...(h.role === undefined ? {} : { role: h.role }),
      quarantined: h.quarantined,
      ...(h.quarantineReason === undefined ? {} : { quarantineReason: h.quarantineReason }),
      blockIn: [...h.blockIn],
      blockOut: [...h.blockOut],
    })),
    flags: plan.flags.map((f) => ({ ...f })),
    warnings: [...plan.warnings],
    policy: policyToDocument(plan.policy),
  };
}

export function formatPlan(plan: ShieldPlan, format: PlanFormat = "yaml"): string {
  const doc = planToDocument(plan);
  if (format === "json") return JSON.stringify(doc, null, 2) + "\n";
  return (
    "# ringfence shield plan: render with `ringfence shield render --target <firewall> <this file>`\n" +
    stringify(doc, { lineWidth: 0 })
  );
}

/** Parses plan text (YAML or JSON, which is YAML); `file` names it in errors. */
export function parsePlanText(text: string, file: string): ShieldPlan {
  const { value, located } = parseYamlFile(text, file, PlanSchema, PLAN_FILE);
  let policy;
  try {
    policy = policyFromDocument(value.policy);
  } catch (error) {
    if (error instanceof ShieldPolicyError) {
      const line = located.lineOf(["policy"]);
      throw fileError(PLAN_FILE, [
        {
          file,
          path: `policy.${error.path}`,
          ...(line === undefined ? {} : { line }),
          reason: error.message.replace(/^policy [^:]*: /, ""),
        },
      ]);
    }
    throw error;
  }
  return {
    schema: PLAN_SCHEMA_ID,
    name: value.name,
    source: value.source,
    scope: value.scope,
    placement: value.placement,
    advisories: value.advisories,
    hosts: value.hosts.map((h) => ({
      address: h.address,
      advisories: h.advisories,
      findings: h.findings,
      ...(h.role === undefined ? {} : { role: h.role }),
      quarantined: h.quarantined,
      ...(h.quarantineReason === undefined ? {} : { quarantineReason: h.quarantineReason }),
      blockIn: h.blockIn,
      blockOut: h.blockOut,
    })),
    flags: value.flags,
    warnings: value.warnings,
    policy,
  };
}

export async function readPlanFile(path: string): Promise<ShieldPlan> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw fileError(PLAN_FILE, [
      { file: path, path: "", reason: `cannot read: ${fsReason(error)}` },
    ]);
  }
  try {
    return parsePlanText(text, path);
  } catch (error) {
    if (isRingfenceError(error)) throw error;
    throw fileError(PLAN_FILE, [{ file: path, path: "", reason: String(error) }]);
  }
}
