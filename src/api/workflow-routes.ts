/**
 * The workflow's routes: transitions, finding states, the estate's status and the audit trail.
 * src/workflow and src/audit own the rules; these routes hand a requested transition to
 * applyTransition (which checks the evidence and writes the transition with its audit entry in one
 * transaction) and read the rest.
 */
import { z } from "zod";
import { formatInstant } from "../advisories/index.js";
import { verifyAuditChain } from "../audit/index.js";
import { WORKFLOW_STATES } from "../store/index.js";
import { applyTransition, evidenceSchema, workflowStatus } from "../workflow/index.js";
import { AuditEntrySchema, AuditQuery, TransitionQuery, TransitionSchema } from "./api-schemas.js";
import { apiActor } from "./api-tokens.js";
import { notFound } from "./problem.js";
import { defineRoute, ok, type ApiRoute } from "./route-kit.js";

const Instant = z.iso.datetime({ offset: true });
const State = z.enum(WORKFLOW_STATES);

const TransitionBody = z.strictObject({
  findingId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  to: State,
  /** What the transition is granted on (src/workflow/evidence-schema.ts). */
  evidence: evidenceSchema,
  /** When it happened; now when absent. */
  at: Instant.optional(),
});

const FindingStateSchema = z
  .object({
    findingId: z.number(),
    address: z.string(),
    protocol: z.enum(["tcp", "udp"]),
    port: z.number(),
    advisory: z.string(),
    checkId: z.string(),
    verdict: z.string(),
    state: State,
    since: z.string(),
    previousState: State.nullable(),
    disconnected: z.boolean(),
    acceptedUntil: z.string().nullable(),
    lastTransitionId: z.number().nullable(),
  })
  .meta({ id: "FindingState" });

const FindingStateQuery = z.strictObject({
  findingId: z.coerce.number().int().positive().optional(),
  address: z.string().min(1).max(64).optional(),
  advisory: z.string().min(1).max(128).optional(),
  state: State.optional(),
});

const DeadlineSchema = z.object({
  findingId: z.number(),
  address: z.string(),
  protocol: z.string(),
  port: z.number(),
  advisory: z.string(),
  state: z.string(),
  rating: z.string(),
  clock: z.string(),
  due: z.string(),
});

const StatusSchema = z
  .object({
    asOf: z.string(),
    total: z.number(),
    counts: z.record(z.string(), z.record(z.string(), z.number())),
    overdue: z.array(DeadlineSchema),
    next: z.array(DeadlineSchema),
  })
  .meta({ id: "WorkflowStatus" });

const ChainSchema = z.object({
  ok: z.boolean(),
  entries: z.number(),
  head: z.string().optional(),
  seq: z.number().optional(),
  problem: z.string().optional(),
  message: z.string().optional(),
});

export const WORKFLOW_ROUTES: ApiRoute[] = [
  defineRoute({
    id: "listTransitions",
    method: "GET",
    url: "/transitions",
    role: "viewer",
    summary: "Workflow transitions, oldest first",
    tags: ["workflow"],
    schema: { querystring: TransitionQuery, response: { 200: z.array(TransitionSchema) } },
    handler: async ({ query, ctx }) => ok(await ctx.store.listTransitions(query)),
  }),
  defineRoute({
    id: "applyTransition",
    method: "POST",
    url: "/transitions",
    role: "operator",
    summary: "Move a finding to another workflow state, on evidence",
    tags: ["workflow"],
    schema: { body: TransitionBody, response: { 201: TransitionSchema } },
    handler: async ({ body, ctx, token }) => {
      const [finding] = await ctx.store.listFindings({ id: body.findingId });
      if (finding === undefined) throw notFound(`no finding ${body.findingId}`);
      // applyTransition writes the transition and its audit entry (actor: the token) together.
      const record = await applyTransition(ctx.store, {
        findingId: body.findingId,
        to: body.to,
        actor: apiActor(token),
        evidence: body.evidence,
        ...(body.at === undefined ? {} : { at: body.at }),
      });
      return ok(record, 201);
    },
  }),
  defineRoute({
    id: "listFindingStates",
    method: "GET",
    url: "/finding-states",
    role: "viewer",
    summary: "The workflow state of every finding in the workflow",
    tags: ["workflow"],
    schema: { querystring: FindingStateQuery, response: { 200: z.array(FindingStateSchema) } },
    handler: async ({ query, ctx }) => ok(await ctx.store.findingStates(query)),
  }),
  defineRoute({
    id: "workflowStatus",
    method: "GET",
    url: "/status",
    role: "viewer",
    summary: "The estate at a glance: counts per state and rating, overdue and next deadlines",
    tags: ["workflow"],
    schema: {
      querystring: z.strictObject({ asOf: Instant.optional() }),
      response: { 200: StatusSchema },
    },
    handler: async ({ query, ctx }) =>
      ok(
        await workflowStatus(ctx.store, {
          asOf: query.asOf ?? formatInstant(ctx.now().getTime()),
        }),
      ),
  }),
  defineRoute({
    id: "listAuditEntries",
    method: "GET",
    url: "/audit",
    role: "viewer",
    summary: "The hash-chained audit trail, oldest first",
    tags: ["workflow"],
    schema: { querystring: AuditQuery, response: { 200: z.array(AuditEntrySchema) } },
    handler: async ({ query, ctx }) =>
      ok(await ctx.store.listAuditEntries({ limit: 1000, ...query })),
  }),
  defineRoute({
    id: "verifyAuditTrail",
    method: "GET",
    url: "/audit/verify",
    role: "viewer",
    summary: "Check the audit trail's hash chain (as `ringfence audit verify`)",
    tags: ["workflow"],
    schema: { response: { 200: ChainSchema } },
    handler: async ({ ctx }) => ok(verifyAuditChain(await ctx.store.listAuditEntries())),
  }),
];
