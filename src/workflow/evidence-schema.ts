import { z } from "zod";
import { RingfenceError } from "../errors.js";
import type { Evidence } from "./evidence-rules.js";

/**
 * Evidence as it arrives from the CLI or the API, checked before anything is looked up. Strict
 * objects: an unknown field is a mistake (a misspelt "approver" must not pass silently), and every
 * string is bounded so a hostile payload cannot make the audit log grow without limit.
 */
const text = z.string().trim().min(1).max(2000);
const instant = z.string().refine((s) => !Number.isNaN(Date.parse(s)), "not an ISO 8601 instant");

export const evidenceSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("control"),
    controlId: z.string().min(1).max(500),
    ref: z.string().optional(),
  }),
  z.strictObject({
    kind: z.literal("attestation"),
    source: z.enum(["operator", "patch-system"]).default("operator"),
    by: text,
    statement: text,
    ref: z.literal("attestation").optional(),
  }),
  z.strictObject({
    kind: z.literal("check-run"),
    checkRunId: z.number().int().positive(),
    ref: z.string().optional(),
  }),
  z.strictObject({
    kind: z.literal("reconnect"),
    by: text,
    statement: text,
    ref: z.literal("reconnect").optional(),
  }),
  z.strictObject({
    kind: z.literal("risk-acceptance"),
    approver: text,
    reason: text,
    expires: instant,
    ref: z.literal("risk-acceptance").optional(),
  }),
]);

/** Checked evidence with its reference filled in ("control:<id>", "check-run:<n>", ...). */
export function parseEvidence(input: unknown): Evidence {
  const parsed = evidenceSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where =
      issue === undefined || issue.path.length === 0 ? "" : ` (${issue.path.join(".")})`;
    throw new RingfenceError(
      "RINGFENCE_USAGE",
      `bad transition evidence${where}: ${issue?.message ?? "invalid"}`,
      {
        hint: "evidence kinds: control {controlId}, attestation {by, statement, source}, check-run {checkRunId}, reconnect {by, statement}, risk-acceptance {approver, reason, expires}",
      },
    );
  }
  const e = parsed.data;
  switch (e.kind) {
    case "control":
      return { kind: "control", ref: `control:${e.controlId}`, controlId: e.controlId };
    case "attestation":
      return {
        kind: "attestation",
        ref: "attestation",
        source: e.source,
        by: e.by,
        statement: e.statement,
      };
    case "check-run":
      return { kind: "check-run", ref: `check-run:${e.checkRunId}`, checkRunId: e.checkRunId };
    case "reconnect":
      return { kind: "reconnect", ref: "reconnect", by: e.by, statement: e.statement };
    case "risk-acceptance":
      return {
        kind: "risk-acceptance",
        ref: "risk-acceptance",
        approver: e.approver,
        reason: e.reason,
        expires: new Date(e.expires).toISOString(),
      };
  }
}
