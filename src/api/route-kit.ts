/**
 * One table of routes drives the server, the OpenAPI document and the authorization tests: each
 * route says its method, path, the least role that may call it, and its zod schemas.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import type { AdvisoryCatalog } from "../advisories/index.js";
import type { ApiRole, ApiTokenRecord, Store } from "../store/index.js";
import type { ScanManager } from "./scan-manager.js";

/** What the routes work with; one per server. */
export interface ApiContext {
  readonly store: Store;
  readonly scans: ScanManager;
  /** The scope file scans are authorised by; undefined: the built-in lab scope (as the CLI). */
  readonly scopeFile: string | undefined;
  readonly policyFile: string | undefined;
  readonly siteFile: string | undefined;
  readonly advisoryDirs: readonly string[];
  /** Where running labs keep their state (`lab: true` scans); the lab module's default if unset. */
  readonly labStateDir: string | undefined;
  readonly now: () => Date;
  catalog(): Promise<AdvisoryCatalog>;
}

export interface RouteSchemas {
  readonly params?: z.ZodType;
  readonly querystring?: z.ZodType;
  readonly body?: z.ZodType;
  readonly response: Readonly<Record<number, z.ZodType>>;
}

type In<T> = T extends z.ZodType ? z.output<T> : undefined;

export interface RouteInput<S extends RouteSchemas> {
  readonly params: In<S["params"]>;
  readonly query: In<S["querystring"]>;
  readonly body: In<S["body"]>;
  /** The authenticated token; its name is the actor of every audit entry the request writes. */
  readonly token: ApiTokenRecord;
  readonly ctx: ApiContext;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
}

/** A reply to send; `undefined` when the handler took the reply over (server-sent events). */
export type RouteResult = { status: number; body: unknown } | undefined;

export interface ApiRoute {
  /** Stable operationId in the OpenAPI document. */
  readonly id: string;
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  readonly url: string;
  /** The least role that may call it. */
  readonly role: ApiRole;
  readonly summary: string;
  readonly tags: readonly string[];
  /** The media types of its success response when not JSON (event streams, reports). */
  readonly mediaTypes?: readonly string[];
  readonly schema: RouteSchemas;
  handler(input: RouteInput<RouteSchemas>): Promise<RouteResult>;
}

export function defineRoute<S extends RouteSchemas>(
  route: Omit<ApiRoute, "schema" | "handler"> & {
    schema: S;
    handler(input: RouteInput<S>): Promise<RouteResult>;
  },
): ApiRoute {
  return route as unknown as ApiRoute;
}

export const ok = (body: unknown, status = 200): RouteResult => ({ status, body });
