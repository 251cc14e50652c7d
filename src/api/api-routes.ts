/**
 * The REST API's routes. Viewers read; operators change state (scans, assessments, controls,
 * transitions); admins also manage tokens, the scope file and the policy file. Every mutation
 * writes an audit entry whose actor is "api:<token name>" (apiActor).
 */
import { randomBytes } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { z } from "zod";
import { emptySite, loadRiskPolicy, loadSiteFile, parsePolicyFile } from "../risk/index.js";
import { parseCheckSelection } from "../checks/index.js";
import { RingfenceError } from "../errors.js";
import { assessStore, DEFAULT_VANTAGE, parseAsOf } from "../jobs/assess-job.js";
import { prepareScan, type ScanRequest } from "../jobs/scan-job.js";
import { formatInstant } from "../advisories/index.js";
import { loadScope, parseScopeFile, type Scope } from "../scope/index.js";
import { formatPlan, GENERATORS, TARGETS, type TargetId } from "../shield/index.js";
import type { AssessmentRecord, Store } from "../store/index.js";
import { DEFAULT_PORTS, formatRange, parsePortSpec } from "../targets/index.js";
import { stringify } from "yaml";
import { loadReportModel, REPORT_FORMATS, REPORT_RENDERERS } from "../reports/index.js";
import { API_VERSION } from "./api-version.js";
import {
  AddressParams,
  AssessBody,
  AssessmentQuery,
  AssessmentSchema,
  AssessResultSchema,
  ControlQuery,
  ControlSchema,
  FindingQuery,
  FindingSchema,
  HostQuery,
  HostSchema,
  IdParams,
  NameParams,
  RenderedFilesSchema,
  ScanIdParams,
  ScanListQuery,
  ScanSchema,
  ScanStartBody,
  ScopeBody,
  ScopeSchema,
  ServiceQuery,
  ServiceSchema,
  ShieldQuery,
  ShieldRenderQuery,
  TokenCreateBody,
  TokenSchema,
} from "./api-schemas.js";
import { apiActor, checkTokenName, issueToken, publicToken } from "./api-tokens.js";
import { conflict, notFound } from "./problem.js";
import { defineRoute, ok, type ApiContext, type ApiRoute } from "./route-kit.js";
import { streamScanEvents } from "./scan-events.js";
import { planFromStore } from "./shield-from-store.js";
import { WORKFLOW_ROUTES } from "./workflow-routes.js";

/** Appends one audit entry for a mutation; the actor names the token (apiActor). */
export async function auditMutation(
  store: Store,
  actor: string,
  kind: string,
  subject: string,
  payload: unknown,
): Promise<void> {
  await store.appendAuditEntries([{ actor, kind, subject, evidenceRef: null, payload }]);
}

function assessmentView(record: AssessmentRecord) {
  return {
    id: record.id,
    findingId: record.findingId,
    asOf: record.asOf,
    createdAt: record.createdAt,
    policyId: record.policyId,
    policyVersion: record.policyVersion,
    policySha256: record.policySha256,
    advisory: record.advisory,
    zone: record.zone,
    rating: record.rating,
    outcome: record.outcome,
    protectBy: record.protectBy,
    fixBy: record.fixBy,
    verifyBy: record.verifyBy,
    overdue: record.overdue,
    assessment: JSON.parse(record.assessmentJson) as unknown,
    address: record.address,
    protocol: record.protocol,
    port: record.port,
    checkId: record.checkId,
    verdict: record.verdict,
    status: record.status,
  };
}

function scopeView(scope: Scope) {
  return {
    name: scope.name,
    source: scope.source,
    digest: scope.digest,
    authorized: scope.authorized.map(formatRange),
    testNetGuard: scope.testNetGuard,
  };
}

async function requireScan(store: Store, id: string) {
  const scan = await store.getScan(id);
  if (scan === undefined) throw notFound(`no scan ${id}`);
  return scan;
}

/** The scan request a POST /scans body stands for, with the server's scope. */
function scanRequestOf(body: z.output<typeof ScanStartBody>, ctx: ApiContext): ScanRequest {
  return {
    targets: body.targets,
    inputFiles: [],
    exclude: body.exclude ?? [],
    excludeFiles: [],
    ports: body.ports !== undefined ? parsePortSpec(body.ports) : DEFAULT_PORTS,
    ...(ctx.scopeFile !== undefined ? { scopeFile: ctx.scopeFile } : {}),
    rate: body.rate ?? 0,
    ...(body.concurrency !== undefined ? { concurrency: body.concurrency } : {}),
    timeoutMs: body.timeoutMs ?? 1000,
    retries: body.retries ?? 1,
    engine: body.engine ?? "auto",
    seed: body.seed ?? randomBytes(8).toString("hex"),
    useLab: body.lab ?? false,
    checks: parseCheckSelection(body.checks ?? "safe"),
    ...(body.labName !== undefined ? { labName: body.labName } : {}),
    ...(ctx.labStateDir !== undefined ? { labStateDir: ctx.labStateDir } : {}),
  };
}

const SCAN_ROUTES: ApiRoute[] = [
  defineRoute({
    id: "listScans",
    method: "GET",
    url: "/scans",
    role: "viewer",
    summary: "Scans, newest first",
    tags: ["scans"],
    schema: { querystring: ScanListQuery, response: { 200: z.array(ScanSchema) } },
    handler: async ({ query, ctx }) => ok(await ctx.store.listScans(query.limit ?? 100)),
  }),
  defineRoute({
    id: "startScan",
    method: "POST",
    url: "/scans",
    role: "operator",
    summary: "Start a scan (same scope rules as `ringfence scan`); 202 once it runs",
    tags: ["scans"],
    schema: { body: ScanStartBody, response: { 202: ScanSchema } },
    handler: async ({ body, ctx, token }) => {
      const request = scanRequestOf(body, ctx);
      if (request.useLab) {
        // Reaching a namespaced lab moves the scanning thread into the lab's network namespace
        // (jobs/lab-routing.ts enterLab): in a server that would move every later socket too,
        // the database connection included. A bind-mode lab needs no namespace.
        const { params } = await prepareScan(request);
        if (params.lab?.netnsPath)
          throw conflict(
            `lab "${params.lab.name}" runs in a network namespace, which the API server cannot enter; use \`ringfence scan\`, or a lab started with --mode bind`,
          );
      }
      const scan = await ctx.scans.start(request, `${apiActor(token)} POST /scans`);
      await auditMutation(ctx.store, apiActor(token), "scan-start", `scan:${scan.id}`, body);
      return ok(scan, 202);
    },
  }),
  defineRoute({
    id: "getScan",
    method: "GET",
    url: "/scans/:id",
    role: "viewer",
    summary: "One scan with its checkpoint",
    tags: ["scans"],
    schema: { params: ScanIdParams, response: { 200: ScanSchema } },
    handler: async ({ params, ctx }) => ok(await requireScan(ctx.store, params.id)),
  }),
  defineRoute({
    id: "scanEvents",
    method: "GET",
    url: "/scans/:id/events",
    role: "viewer",
    summary: "Progress as server-sent events (start, progress, checks, end)",
    tags: ["scans"],
    mediaTypes: ["text/event-stream"],
    schema: {
      params: ScanIdParams,
      response: { 200: z.string().describe("text/event-stream") },
    },
    handler: async ({ params, ctx, reply }) => {
      const scan = await requireScan(ctx.store, params.id);
      streamScanEvents(ctx, scan, reply);
      return undefined;
    },
  }),
  defineRoute({
    id: "cancelScan",
    method: "POST",
    url: "/scans/:id/cancel",
    role: "operator",
    summary: "Stop a running scan; it becomes interrupted and resumable",
    tags: ["scans"],
    schema: { params: ScanIdParams, response: { 202: ScanSchema } },
    handler: async ({ params, ctx, token }) => {
      const scan = await requireScan(ctx.store, params.id);
      if (!ctx.scans.cancel(scan.id)) throw conflict(`scan ${scan.id} is not running here`);
      await auditMutation(ctx.store, apiActor(token), "scan-cancel", `scan:${scan.id}`, {});
      return ok(scan, 202);
    },
  }),
  defineRoute({
    id: "resumeScan",
    method: "POST",
    url: "/scans/:id/resume",
    role: "operator",
    summary: "Resume an interrupted scan with its stored parameters",
    tags: ["scans"],
    schema: { params: ScanIdParams, response: { 202: ScanSchema } },
    handler: async ({ params, ctx, token }) => {
      await requireScan(ctx.store, params.id);
      const scan = await ctx.scans.resume(params.id);
      await auditMutation(ctx.store, apiActor(token), "scan-resume", `scan:${scan.id}`, {});
      return ok(scan, 202);
    },
  }),
];

const INVENTORY_ROUTES: ApiRoute[] = [
  defineRoute({
    id: "listHosts",
    method: "GET",
    url: "/hosts",
    role: "viewer",
    summary: "Assets (hosts), numeric address order",
    tags: ["inventory"],
    schema: { querystring: HostQuery, response: { 200: z.array(HostSchema) } },
    handler: async ({ query, ctx }) => ok(await ctx.store.listHosts({ limit: 1000, ...query })),
  }),
  defineRoute({
    id: "getHost",
    method: "GET",
    url: "/hosts/:address",
    role: "viewer",
    summary: "One asset",
    tags: ["inventory"],
    schema: { params: AddressParams, response: { 200: HostSchema } },
    handler: async ({ params, ctx }) => {
      const [host] = await ctx.store.listHosts({ address: params.address });
      if (host === undefined) throw notFound(`no host ${params.address} in the inventory`);
      return ok(host);
    },
  }),
  defineRoute({
    id: "listServices",
    method: "GET",
    url: "/services",
    role: "viewer",
    summary: "Services (asset, protocol, port) with their latest state",
    tags: ["inventory"],
    schema: { querystring: ServiceQuery, response: { 200: z.array(ServiceSchema) } },
    handler: async ({ query, ctx }) => ok(await ctx.store.listServices({ limit: 1000, ...query })),
  }),
  defineRoute({
    id: "listFindings",
    method: "GET",
    url: "/findings",
    role: "viewer",
    summary: "Findings: one per (asset, service, advisory, check)",
    tags: ["findings"],
    schema: { querystring: FindingQuery, response: { 200: z.array(FindingSchema) } },
    handler: async ({ query, ctx }) => ok(await ctx.store.listFindings({ limit: 1000, ...query })),
  }),
  defineRoute({
    id: "getFinding",
    method: "GET",
    url: "/findings/:id",
    role: "viewer",
    summary: "One finding",
    tags: ["findings"],
    schema: { params: IdParams, response: { 200: FindingSchema } },
    handler: async ({ params, ctx }) => {
      const [finding] = await ctx.store.listFindings({ id: params.id });
      if (finding === undefined) throw notFound(`no finding ${params.id}`);
      return ok(finding);
    },
  }),
];

const RISK_ROUTES: ApiRoute[] = [
  defineRoute({
    id: "listAssessments",
    method: "GET",
    url: "/assessments",
    role: "viewer",
    summary: "The latest assessment of each finding, most severe first",
    tags: ["risk"],
    schema: { querystring: AssessmentQuery, response: { 200: z.array(AssessmentSchema) } },
    handler: async ({ query, ctx }) =>
      ok((await ctx.store.latestAssessments({ limit: 1000, ...query })).map(assessmentView)),
  }),
  defineRoute({
    id: "getFindingAssessment",
    method: "GET",
    url: "/findings/:id/assessment",
    role: "viewer",
    summary: "The latest assessment of one finding",
    tags: ["risk"],
    schema: { params: IdParams, response: { 200: AssessmentSchema } },
    handler: async ({ params, ctx }) => {
      const record = await ctx.store.assessmentOf(params.id);
      if (record === undefined) throw notFound(`finding ${params.id} has no assessment`);
      return ok(assessmentView(record));
    },
  }),
  defineRoute({
    id: "runAssessment",
    method: "POST",
    url: "/assessments",
    role: "operator",
    summary: "Assess every open finding as of a date with the server's policy and site files",
    tags: ["risk"],
    schema: { body: AssessBody, response: { 201: AssessResultSchema } },
    handler: async ({ body, ctx, token }) => {
      const asOf =
        body.asOf === undefined ? formatInstant(ctx.now().getTime()) : parseAsOf(body.asOf);
      const vantage = body.vantage ?? DEFAULT_VANTAGE;
      // Every input is read before anything is written, as `ringfence assess` does.
      const catalog = await ctx.catalog();
      const policy = await loadRiskPolicy(policyOptions(ctx));
      const site = ctx.siteFile === undefined ? emptySite() : await loadSiteFile(ctx.siteFile);
      const inputs = { catalog, policy, site, intel: { kev: [], epss: [], exploitation: [] } };
      // recordAssessments writes the audit entries (kind "assessment") with this actor.
      const { assessed, skipped } = await assessStore(ctx.store, inputs, asOf, vantage, {
        actor: apiActor(token),
      });
      return ok(
        {
          asOf,
          vantage,
          policy: { id: policy.id, version: policy.version, sha256: policy.sha256 },
          assessed: assessed.length,
          skipped: skipped.map((s) => ({ findingId: s.finding.id, reason: s.reason })),
        },
        201,
      );
    },
  }),
  defineRoute({
    id: "listControls",
    method: "GET",
    url: "/controls",
    role: "viewer",
    summary: "Controls as they stand (latest version of each); validAt keeps the valid ones",
    tags: ["risk"],
    schema: { querystring: ControlQuery, response: { 200: z.array(ControlSchema) } },
    handler: async ({ query, ctx }) => ok(await ctx.store.listControls(query)),
  }),
  defineRoute({
    id: "recordControl",
    method: "POST",
    url: "/controls",
    role: "operator",
    summary: "Record a control (an operator attestation: method declared)",
    tags: ["risk"],
    schema: { body: ControlSchema, response: { 201: ControlSchema } },
    handler: async ({ body, ctx, token }) => {
      // recordControls writes the audit entry (kind "control") with this actor.
      await ctx.store.recordControls([body], { actor: apiActor(token) });
      return ok(body, 201);
    },
  }),
];

const SHIELD_ROUTES: ApiRoute[] = [
  defineRoute({
    id: "shieldPlan",
    method: "GET",
    url: "/shield/plan",
    role: "viewer",
    summary: "The shield plan of the open findings (as `ringfence shield plan`)",
    tags: ["shield"],
    schema: { querystring: ShieldQuery, response: { 200: z.record(z.string(), z.unknown()) } },
    handler: async ({ query, ctx }) => {
      const { plan } = await planFromStore(
        ctx.store,
        await ctx.catalog(),
        query.scope ?? "affected",
      );
      return ok(JSON.parse(formatPlan(plan, "json")) as Record<string, unknown>);
    },
  }),
  defineRoute({
    id: "shieldRender",
    method: "GET",
    url: "/shield/render",
    role: "viewer",
    summary: "The plan rendered for one firewall (nothing is stored)",
    tags: ["shield"],
    schema: { querystring: ShieldRenderQuery, response: { 200: RenderedFilesSchema } },
    handler: async ({ query, ctx }) => {
      const target = TARGETS.find((t) => t === query.target) as TargetId | undefined;
      if (target === undefined)
        throw new RingfenceError("RINGFENCE_USAGE", `unknown firewall target "${query.target}"`, {
          hint: `targets: ${TARGETS.join(", ")}`,
        });
      const { plan } = await planFromStore(
        ctx.store,
        await ctx.catalog(),
        query.scope ?? "affected",
      );
      const files = GENERATORS[target].render(plan.policy);
      return ok({ target, files: files.map((f) => ({ name: f.name, content: f.content })) });
    },
  }),
];

const PolicySummarySchema = z
  .object({ id: z.string(), version: z.string(), sha256: z.string(), source: z.string() })
  .meta({ id: "PolicySummary" });

function policyOptions(ctx: ApiContext) {
  return ctx.policyFile === undefined ? {} : { path: ctx.policyFile };
}

function policySummary(policy: { id: string; version: string; sha256: string }, ctx: ApiContext) {
  return {
    id: policy.id,
    version: policy.version,
    sha256: policy.sha256,
    source: ctx.policyFile ?? "default",
  };
}

function previousDigest(text: string, path: string): string | null {
  try {
    return parseScopeFile(text, path).digest;
  } catch {
    return null;
  }
}

const REPORT_ROUTES: ApiRoute[] = [
  defineRoute({
    id: "report",
    method: "GET",
    url: "/reports",
    role: "viewer",
    summary: "A report of the inventory (or one scan) in one of the report formats",
    tags: ["reports"],
    mediaTypes: [...new Set(REPORT_FORMATS.map((f) => REPORT_RENDERERS[f].mediaType))],
    schema: {
      querystring: z.strictObject({
        format: z.enum(REPORT_FORMATS),
        scanId: z.string().min(1).max(64).optional(),
        asOf: z.iso.datetime({ offset: true }).optional(),
      }),
      response: { 200: z.string() },
    },
    handler: async ({ query, ctx, reply }) => {
      const renderer = REPORT_RENDERERS[query.format];
      if (renderer.needsScan && query.scanId === undefined)
        throw new RingfenceError(
          "RINGFENCE_USAGE",
          `the ${query.format} report is one scan's: pass scanId`,
        );
      if (query.scanId !== undefined) await requireScan(ctx.store, query.scanId);
      const model = await loadReportModel(ctx.store, {
        ...(query.scanId === undefined ? {} : { scanId: query.scanId }),
        asOf: query.asOf ?? ctx.now().toISOString(),
      });
      const text = renderer.render(model, { version: API_VERSION, catalog: await ctx.catalog() });
      // Sent as rendered: the JSON serializer would quote it.
      await reply
        .code(200)
        .type(renderer.mediaType)
        .serializer((payload: unknown) => String(payload))
        .send(text);
      return undefined;
    },
  }),
];

/** Writes the scope file atomically (a reader never sees half a file). */
async function replaceFile(path: string, text: string): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(temporary, text, { mode: 0o600 });
  await rename(temporary, path);
}

const ADMIN_ROUTES: ApiRoute[] = [
  defineRoute({
    id: "listTokens",
    method: "GET",
    url: "/tokens",
    role: "admin",
    summary: "API tokens (never their secrets)",
    tags: ["admin"],
    schema: { response: { 200: z.array(TokenSchema) } },
    handler: async ({ ctx }) => ok((await ctx.store.listApiTokens()).map(publicToken)),
  }),
  defineRoute({
    id: "createToken",
    method: "POST",
    url: "/tokens",
    role: "admin",
    summary: "Create a token; its secret is in this response only",
    tags: ["admin"],
    schema: {
      body: TokenCreateBody,
      response: { 201: z.object({ token: z.string(), record: TokenSchema }) },
    },
    handler: async ({ body, ctx, token }) => {
      checkTokenName(body.name);
      if (body.expiresAt !== undefined && Date.parse(body.expiresAt) <= ctx.now().getTime())
        throw new RingfenceError("RINGFENCE_USAGE", "expiresAt is in the past");
      const issued = await issueToken(ctx.store, {
        name: body.name,
        role: body.role,
        expiresAt: body.expiresAt === undefined ? null : new Date(body.expiresAt).toISOString(),
      });
      await auditMutation(ctx.store, apiActor(token), "token-create", `token:${body.name}`, {
        role: body.role,
        expiresAt: issued.record.expiresAt,
      });
      return ok({ token: issued.token, record: publicToken(issued.record) }, 201);
    },
  }),
  defineRoute({
    id: "revokeToken",
    method: "DELETE",
    url: "/tokens/:name",
    role: "admin",
    summary: "Revoke a token (its row stays, for the audit trail)",
    tags: ["admin"],
    schema: { params: NameParams, response: { 200: TokenSchema } },
    handler: async ({ params, ctx, token }) => {
      const existing = (await ctx.store.listApiTokens()).find((t) => t.name === params.name);
      if (existing === undefined) throw notFound(`no token named ${params.name}`);
      const revoked = await ctx.store.revokeApiToken(params.name, ctx.now().toISOString());
      await auditMutation(ctx.store, apiActor(token), "token-revoke", `token:${params.name}`, {});
      return ok(publicToken(revoked ?? existing));
    },
  }),
  defineRoute({
    id: "getScope",
    method: "GET",
    url: "/scope",
    role: "viewer",
    summary: "The scope POST /scans is authorised by",
    tags: ["admin"],
    schema: { response: { 200: ScopeSchema } },
    handler: async ({ ctx }) => ok(scopeView(await loadScope(ctx.scopeFile))),
  }),
  defineRoute({
    id: "replaceScope",
    method: "PUT",
    url: "/scope",
    role: "admin",
    summary: "Replace the scope file the server was started with (--scope)",
    tags: ["admin"],
    schema: { body: ScopeBody, response: { 200: ScopeSchema } },
    handler: async ({ body, ctx, token }) => {
      const path = ctx.scopeFile;
      if (path === undefined)
        throw conflict("the server runs with the built-in lab scope; start it with --scope FILE");
      const text = stringify({ ...(body.name ? { name: body.name } : {}), ...body });
      // Parsed as the file will be read, before it is written: a bad scope changes nothing.
      const scope = parseScopeFile(text, path);
      const before = await readFile(path, "utf8").catch(() => null);
      await replaceFile(path, text);
      await auditMutation(ctx.store, apiActor(token), "scope-replace", `scope:${path}`, {
        digest: scope.digest,
        previous: before === null ? null : previousDigest(before, path),
      });
      return ok(scopeView(scope));
    },
  }),
  defineRoute({
    id: "getPolicy",
    method: "GET",
    url: "/policy",
    role: "viewer",
    summary: "The risk policy POST /assessments applies (id, version, hash)",
    tags: ["admin"],
    schema: { response: { 200: PolicySummarySchema } },
    handler: async ({ ctx }) => ok(policySummary(await loadRiskPolicy(policyOptions(ctx)), ctx)),
  }),
  defineRoute({
    id: "replacePolicy",
    method: "PUT",
    url: "/policy",
    role: "admin",
    summary: "Replace the policy file the server was started with (--policy)",
    tags: ["admin"],
    schema: {
      body: z.record(z.string(), z.unknown()).describe("a policy document (src/risk/policy.ts)"),
      response: { 200: PolicySummarySchema },
    },
    handler: async ({ body, ctx, token }) => {
      const path = ctx.policyFile;
      if (path === undefined)
        throw conflict("the server runs with the default policy; start it with --policy FILE");
      const text = stringify(body);
      // Validated as the file will be read, before it is written: a bad policy changes nothing.
      parsePolicyFile(text, path);
      const before = await loadRiskPolicy({ path }).catch(() => null);
      await replaceFile(path, text);
      const policy = await loadRiskPolicy({ path });
      await auditMutation(ctx.store, apiActor(token), "policy-replace", `policy:${path}`, {
        id: policy.id,
        version: policy.version,
        sha256: policy.sha256,
        previous: before?.sha256 ?? null,
      });
      return ok(policySummary(policy, ctx));
    },
  }),
];

/** Every route of the API, in the order the OpenAPI document lists them. */
export const API_ROUTES: readonly ApiRoute[] = [
  ...SCAN_ROUTES,
  ...INVENTORY_ROUTES,
  ...RISK_ROUTES,
  ...SHIELD_ROUTES,
  ...WORKFLOW_ROUTES,
  ...REPORT_ROUTES,
  ...ADMIN_ROUTES,
];
