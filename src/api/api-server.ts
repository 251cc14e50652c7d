/**
 * The REST API server: Fastify 5 with zod schemas (fastify-type-provider-zod) as the one source of
 * request validation, response serialisation and the OpenAPI 3 document (@fastify/swagger), bearer
 * tokens with roles, per-token rate limits (@fastify/rate-limit) and RFC 9457 problem+json errors.
 *
 * Request order (Fastify's lifecycle): onRequest resolves the token (without failing), the rate
 * limiter counts the request against the token (or, without a valid one, the client address),
 * preValidation refuses a missing/bad token (401) or a too-low role (403) before the body is
 * validated, so that an unauthenticated client learns nothing from validation errors.
 */
import fastifyRateLimit from "@fastify/rate-limit";
import fastifySwagger from "@fastify/swagger";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import { loadAdvisoryCatalog, type AdvisoryCatalog } from "../advisories/index.js";
import type { ApiTokenRecord, Store } from "../store/index.js";
import { API_ROUTES } from "./api-routes.js";
import { roleRank, verifyToken, type TokenCheck } from "./api-tokens.js";
import {
  forbidden,
  notFound,
  problemOf,
  ProblemSchema,
  PROBLEM_CONTENT_TYPE,
  sendProblem,
  unauthorized,
} from "./problem.js";
import type { ApiContext } from "./route-kit.js";
import { ScanManager } from "./scan-manager.js";
import { API_VERSION } from "./api-version.js";

export interface ApiServerOptions {
  readonly store: Store;
  /** The scope file scans are authorised by; absent: the built-in lab scope, as the CLI. */
  readonly scopeFile?: string;
  readonly policyFile?: string;
  readonly siteFile?: string;
  readonly advisoryDirs?: readonly string[];
  /** Lab state directory for scans with `lab: true` (as `--lab-dir`). */
  readonly labStateDir?: string;
  /** Requests per token (or per client address without a valid token) per window. */
  readonly rateLimit?: { max: number; windowMs: number };
  /** Largest request body in bytes (Fastify answers 413 above it). */
  readonly bodyLimit?: number;
  /** The clock (tests); tokens expire by it. */
  readonly now?: () => Date;
  /** Fastify's logger; off by default (the CLI turns it on). */
  readonly logger?: boolean;
}

export interface ApiServer {
  readonly app: FastifyInstance;
  readonly scans: ScanManager;
  /** Stops running scans (they become resumable) and closes the server; not the store. */
  close(): Promise<void>;
}

declare module "fastify" {
  interface FastifyRequest {
    /** The presented token, resolved by the onRequest hook. */
    tokenCheck: TokenCheck | null;
  }
}

const BEARER = /^Bearer ([^\s]+)$/i;

function presentedToken(request: FastifyRequest): string | null | "malformed" {
  const header = request.headers.authorization;
  if (header === undefined) return null;
  const match = BEARER.exec(header.trim());
  return match?.[1] ?? "malformed";
}

/** Error responses every route may give, for the OpenAPI document. */
const PROBLEM_RESPONSES = {
  400: ProblemSchema,
  401: ProblemSchema,
  403: ProblemSchema,
  404: ProblemSchema,
  409: ProblemSchema,
  413: ProblemSchema,
  422: ProblemSchema,
  429: ProblemSchema,
  500: ProblemSchema,
} as const;

/**
 * The document @fastify/swagger generated, with the error responses' media type set to
 * application/problem+json (RFC 9457 §3) and the non-JSON successes' (event stream, reports) to
 * theirs.
 */
function finishDocument(document: Record<string, unknown>): Record<string, unknown> {
  const paths = (document["paths"] ?? {}) as Record<string, Record<string, unknown>>;
  const mediaTypes = new Map(
    API_ROUTES.filter((r) => r.mediaTypes !== undefined).map((r) => [
      `${r.method.toLowerCase()} ${r.url.replace(/:(\w+)/g, "{$1}")}`,
      r.mediaTypes ?? [],
    ]),
  );
  for (const [path, operations] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const responses = (operation as { responses?: Record<string, { content?: object }> })
        .responses;
      for (const [status, response] of Object.entries(responses ?? {})) {
        const content = response.content as Record<string, unknown> | undefined;
        const schema = content?.["application/json"];
        if (schema === undefined) continue;
        const types =
          Number(status) >= 400 ? [PROBLEM_CONTENT_TYPE] : mediaTypes.get(`${method} ${path}`);
        if (types === undefined) continue;
        response.content = Object.fromEntries(types.map((type) => [type, schema]));
      }
    }
  }
  return document;
}

export async function buildApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const now = options.now ?? (() => new Date());
  const scans = new ScanManager(options.store);
  let catalog: Promise<AdvisoryCatalog> | undefined;
  const ctx: ApiContext = {
    store: options.store,
    scans,
    scopeFile: options.scopeFile,
    policyFile: options.policyFile,
    siteFile: options.siteFile,
    advisoryDirs: options.advisoryDirs ?? [],
    labStateDir: options.labStateDir,
    now,
    catalog() {
      catalog ??= loadAdvisoryCatalog({ extraDirs: options.advisoryDirs ?? [] });
      return catalog;
    },
  };

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    // Request ids in logs; no trust in X-Forwarded-For: the rate limiter keys on the peer.
    trustProxy: false,
  });
  // JSON only: Fastify's default text/plain parser would hand a string to the body schemas.
  app.removeContentTypeParser("text/plain");
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest("tokenCheck", null);

  app.setErrorHandler((error, request, reply) => {
    const { problem, headers } = problemOf(error, request);
    return sendProblem(reply, problem, headers);
  });
  app.setNotFoundHandler((request, reply) => {
    const { problem, headers } = problemOf(
      notFound(`no route ${request.method} ${request.url.split("?")[0] ?? ""}`),
      request,
    );
    return sendProblem(reply, problem, headers);
  });

  app.addHook("onRequest", async (request) => {
    const presented = presentedToken(request);
    if (presented === null) return;
    request.tokenCheck =
      presented === "malformed"
        ? { ok: false, reason: "malformed" }
        : await verifyToken(options.store, presented, now());
  });

  await app.register(fastifyRateLimit, {
    global: true,
    max: options.rateLimit?.max ?? 600,
    timeWindow: options.rateLimit?.windowMs ?? 60_000,
    // Per token: a valid token's requests count against it wherever they come from; anything
    // else (no token, a wrong one) against the client address, so guessing tokens is limited too.
    keyGenerator: (request) => {
      const check = request.tokenCheck;
      return check?.ok ? `token:${check.token.id}` : `ip:${request.ip}`;
    },
    errorResponseBuilder: (_request, context) =>
      Object.assign(new Error(`rate limit exceeded: retry in ${context.after}`), {
        statusCode: 429,
        code: "rate-limited",
      }),
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "ringfence API",
        version: API_VERSION,
        description:
          "Exposure response for wormable Windows network flaws. Errors are RFC 9457 problem details.",
      },
      components: {
        securitySchemes: { bearerAuth: { type: "http", scheme: "bearer" } },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });

  const typed = app.withTypeProvider<ZodTypeProvider>();
  typed.get(
    "/openapi.json",
    { schema: { hide: true }, config: { rateLimit: false } },
    async (_request, reply) =>
      reply.type("application/json").send(finishDocument(app.swagger() as Record<string, unknown>)),
  );

  for (const route of API_ROUTES) {
    typed.route({
      method: route.method,
      url: route.url,
      schema: {
        operationId: route.id,
        summary: route.summary,
        description: `Least role: ${route.role}.`,
        tags: [...route.tags],
        security: [{ bearerAuth: [] }],
        ...(route.schema.params ? { params: route.schema.params } : {}),
        ...(route.schema.querystring ? { querystring: route.schema.querystring } : {}),
        ...(route.schema.body ? { body: route.schema.body } : {}),
        response: { ...PROBLEM_RESPONSES, ...route.schema.response },
      },
      preValidation: async (request) => {
        const check = request.tokenCheck;
        if (check === null) throw unauthorized("this route needs a bearer token");
        if (!check.ok) throw unauthorized(`the bearer token is ${check.reason}`);
        if (roleRank(check.token.role) < roleRank(route.role))
          throw forbidden(
            `this route needs the ${route.role} role; the token has ${check.token.role}`,
          );
      },
      handler: async (request, reply) => {
        const check = request.tokenCheck as { ok: true; token: ApiTokenRecord };
        const result = await route.handler({
          params: request.params as never,
          query: request.query as never,
          body: request.body as never,
          token: check.token,
          ctx,
          request,
          reply,
        });
        if (result === undefined) return reply;
        // The route table's handlers are typed by their own schemas (defineRoute); here the
        // status and body are checked by the response serializer at run time.
        return (reply as unknown as FastifyReply).code(result.status).send(result.body);
      },
    });
  }

  return {
    app,
    scans,
    async close() {
      await scans.stopAll();
      await app.close();
    },
  };
}
