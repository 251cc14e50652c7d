/**
 * Every API error is an RFC 9457 "Problem Details for HTTP APIs" document
 * (application/problem+json): type, title, status, detail, instance (RFC 9457 §3.1), plus the
 * extension members `code` (our stable RingfenceError code) and `issues` (validation failures, the
 * shape zod gives them). RingfenceError codes map to HTTP statuses here and nowhere else, as
 * src/errors.ts maps them to exit statuses.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import {
  hasZodFastifySchemaValidationErrors,
  isResponseSerializationError,
} from "fastify-type-provider-zod";
import { z } from "zod";
import { EXIT, exitCodeFor, isRingfenceError, type RingfenceError } from "../errors.js";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** Our problem types are URIs under this base; RFC 9457 §3.1.1 wants them stable, not resolvable. */
export const PROBLEM_TYPE_BASE = "https://ringfence.dev/problems/";

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int().min(400).max(599),
    detail: z.string(),
    instance: z.string(),
    code: z.string().optional(),
    issues: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .max(50)
      .optional(),
  })
  .meta({ id: "Problem", description: "RFC 9457 problem details" });
export type Problem = z.infer<typeof ProblemSchema>;

/** An HTTP-level failure raised by the API itself (authentication, authorization, not found). */
export class ApiProblem extends Error {
  readonly status: number;
  readonly slug: string;
  readonly title: string;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    slug: string,
    title: string,
    detail: string,
    headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = "ApiProblem";
    this.status = status;
    this.slug = slug;
    this.title = title;
    this.headers = headers;
  }
}

export const unauthorized = (detail: string) =>
  // RFC 9110 §11.6.1: a 401 carries a challenge; RFC 6750 §3 names the Bearer scheme's.
  new ApiProblem(401, "unauthorized", "Unauthorized", detail, {
    "www-authenticate": 'Bearer realm="ringfence"',
  });
export const forbidden = (detail: string) => new ApiProblem(403, "forbidden", "Forbidden", detail);
export const notFound = (detail: string) => new ApiProblem(404, "not-found", "Not Found", detail);
export const conflict = (detail: string) => new ApiProblem(409, "conflict", "Conflict", detail);

/** Codes whose HTTP meaning is more precise than their exit-status group's. */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  RINGFENCE_SCAN_NOT_FOUND: 404,
  RINGFENCE_SCAN_NOT_RESUMABLE: 409,
  RINGFENCE_TRANSITION_CONFLICT: 409,
  // The evidence does not support the transition: understood, but refused (RFC 9110 §15.5.21).
  RINGFENCE_TRANSITION_REFUSED: 422,
  // The request is well-formed but asks for something the authorized scope forbids.
  RINGFENCE_SCOPE_VIOLATION: 422,
  RINGFENCE_TARGET_SPACE_TOO_LARGE: 422,
};

/** Exit-status group to HTTP status, for every code not listed above. */
const STATUS_BY_EXIT: Readonly<Record<number, number>> = {
  [EXIT.usage]: 400,
  [EXIT.scope]: 422,
  [EXIT.store]: 503,
  [EXIT.lab]: 409,
  [EXIT.environment]: 503,
  [EXIT.peer]: 502,
  [EXIT.interrupted]: 409,
};

export function statusOfRingfenceError(error: RingfenceError): number {
  return STATUS_BY_CODE[error.code] ?? STATUS_BY_EXIT[exitCodeFor(error)] ?? 500;
}

const TITLES: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

function titleOf(status: number): string {
  return TITLES[status] ?? (status >= 500 ? "Server Error" : "Client Error");
}

function slugOf(code: string): string {
  return code
    .replace(/^RINGFENCE_/, "")
    .toLowerCase()
    .replace(/_/g, "-");
}

function issuePath(path: unknown): string {
  return typeof path === "string" ? path : "";
}

/** Validation issues as the problem's `issues` member: where (JSON pointer) and what. */
function validationIssues(error: FastifyError): Problem["issues"] {
  const list = error.validation ?? [];
  return list.slice(0, 50).map((issue) => ({
    // "body/targets/0"; the whole body is plain "body".
    path: `${error.validationContext ?? "body"}${issuePath(issue.instancePath).replace(/^\/$/, "")}`,
    message: issue.message ?? "invalid",
  }));
}

/** The problem document for any error thrown inside a request. */
export function problemOf(
  error: unknown,
  request: FastifyRequest,
): { problem: Problem; headers: Record<string, string> } {
  const instance = request.url.split("?")[0] ?? "/";
  const make = (
    status: number,
    slug: string,
    title: string,
    detail: string,
    extra: Partial<Problem> = {},
  ): Problem => ({ type: PROBLEM_TYPE_BASE + slug, title, status, detail, instance, ...extra });

  if (error instanceof ApiProblem)
    return {
      problem: make(error.status, error.slug, error.title, error.message),
      headers: error.headers,
    };
  if (isRingfenceError(error)) {
    const status = statusOfRingfenceError(error);
    // A server-side failure's message names server paths and settings: the log gets it, the
    // client only the kind of failure (its code).
    if (status >= 500) request.log.error({ err: error }, "server-side failure");
    const detail =
      status >= 500
        ? `the server could not complete the request (${error.code})`
        : error.hint
          ? `${error.message} (${error.hint})`
          : error.message;
    return {
      problem: make(status, slugOf(error.code), titleOf(status), detail, { code: error.code }),
      headers: {},
    };
  }
  if (isResponseSerializationError(error)) {
    // Our bug, not the client's: say so without the payload that failed.
    request.log.error({ err: error }, "response failed its schema");
    return {
      problem: make(
        500,
        "internal",
        "Internal Server Error",
        "the response did not match its schema",
      ),
      headers: {},
    };
  }
  const fastifyError = error as Partial<FastifyError> & { statusCode?: number };
  if (hasZodFastifySchemaValidationErrors(error) || fastifyError.validation !== undefined) {
    const issues = validationIssues(fastifyError as FastifyError);
    const first = issues?.[0];
    return {
      problem: make(
        400,
        "validation",
        "Bad Request",
        first ? `${first.path}: ${first.message}` : "the request is invalid",
        { issues },
      ),
      headers: {},
    };
  }
  const status = fastifyError.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    // Fastify's own client errors (body too large, bad JSON, unsupported media type, 429 from the
    // rate limiter): their messages are safe to show.
    const slug = status === 429 ? "rate-limited" : (fastifyError.code ?? "client-error");
    return {
      problem: make(status, slugOf(slug), titleOf(status), fastifyError.message ?? titleOf(status)),
      headers: {},
    };
  }
  request.log.error({ err: error }, "unhandled error");
  return {
    // No message and no stack: a 500 says only that it happened (the log has the rest).
    problem: make(500, "internal", "Internal Server Error", "an internal error occurred"),
    headers: {},
  };
}

export function sendProblem(
  reply: FastifyReply,
  problem: Problem,
  headers: Record<string, string> = {},
): FastifyReply {
  return reply
    .code(problem.status)
    .headers(headers)
    .type(PROBLEM_CONTENT_TYPE)
    .serializer((payload: unknown) => JSON.stringify(payload))
    .send(problem);
}
