/**
 * The API's data shapes, as zod schemas: one source for request validation, response
 * serialisation and the OpenAPI document (fastify-type-provider-zod turns them into JSON Schema
 * for both Fastify and @fastify/swagger). Request objects are strict: an unknown field is a 400,
 * not silently ignored.
 */
import { z } from "zod";
import { CONTROL_KINDS, PROTOCOLS, ZONES } from "../advisories/index.js";
import { SCOPES } from "../shield/index.js";
import { API_ROLES, ASSESSMENT_RATINGS } from "../store/index.js";

const Instant = z.iso.datetime({ offset: true });
const Json = z.unknown();
const Protocol = z.enum(["tcp", "udp"]);
const PortState = z.enum(["open", "closed", "filtered", "open|filtered"]);
/** Path and query ids are positive integers; coerced because they arrive as text. */
const Id = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const Limit = z.coerce.number().int().min(1).max(10_000);
const Port = z.coerce.number().int().min(0).max(65535);
/** Long enough for any IPv6 spelling; an address that does not parse finds nothing. */
const AddressText = z.string().min(1).max(64);

export const IdParams = z.strictObject({ id: Id });
export const ScanIdParams = z.strictObject({ id: z.string().min(1).max(64) });
export const AddressParams = z.strictObject({ address: AddressText });
export const NameParams = z.strictObject({ name: z.string().min(1).max(64) });

export const ScanSchema = z
  .object({
    id: z.string(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    status: z.enum(["running", "completed", "interrupted", "failed"]),
    command: z.string(),
    params: Json,
    paramsHash: z.string(),
    totalProbes: z.number(),
    checkpointStep: z.number(),
    probesDone: z.number(),
    counts: z.record(z.string(), z.number()),
    error: z.string().nullable(),
  })
  .meta({ id: "Scan" });

export const ScanListQuery = z.strictObject({ limit: Limit.optional() });

/** What POST /scans takes: the CLI's scan options, minus anything that reads server files. */
export const ScanStartBody = z.strictObject({
  targets: z.array(z.string().min(1).max(256)).min(1).max(256),
  exclude: z.array(z.string().min(1).max(256)).max(256).optional(),
  /** nmap syntax, e.g. "135,445" or "T:135,U:137"; the advisory's ports when absent. */
  ports: z.string().min(1).max(1024).optional(),
  rate: z.number().int().min(0).max(10_000_000).optional(),
  concurrency: z.number().int().min(1).max(1_000_000).optional(),
  timeoutMs: z.number().int().min(1).max(600_000).optional(),
  retries: z.number().int().min(0).max(10).optional(),
  engine: z.enum(["auto", "syn", "connect", "js"]).optional(),
  seed: z.string().min(1).max(128).optional(),
  /** "safe" (default), "aggressive", "none", or check ids, as `--checks`. */
  checks: z.string().min(1).max(1024).optional(),
  /**
   * Route lab targets into a running bind-mode `ringfence lab` (its port offset); default false.
   * A namespaced lab is refused (409): the server cannot enter its namespace.
   */
  lab: z.boolean().optional(),
  labName: z.string().min(1).max(64).optional(),
});

export const HostSchema = z
  .object({
    address: z.string(),
    family: z.enum(["ipv4", "ipv6"]),
    hostnames: z.array(z.string()),
    os: z.string().nullable(),
    osConfidence: z.number().nullable(),
    openPorts: z.array(z.string()),
    firstSeen: z.string(),
    lastSeen: z.string(),
    detail: z.record(z.string(), Json).nullable(),
  })
  .meta({ id: "Host" });

export const HostQuery = z.strictObject({
  port: Port.optional(),
  protocol: Protocol.optional(),
  state: PortState.optional(),
  os: z.string().min(1).max(128).optional(),
  scanId: z.string().min(1).max(64).optional(),
  limit: Limit.optional(),
});

export const ServiceSchema = z
  .object({
    address: z.string(),
    hostnames: z.array(z.string()),
    os: z.string().nullable(),
    protocol: Protocol,
    port: z.number(),
    state: PortState,
    reason: z.string(),
    detail: z.record(z.string(), Json).nullable(),
    firstSeen: z.string(),
    lastSeen: z.string(),
    lastScanId: z.string(),
  })
  .meta({ id: "Service" });

export const ServiceQuery = z.strictObject({
  address: AddressText.optional(),
  port: Port.optional(),
  protocol: Protocol.optional(),
  state: PortState.optional(),
  os: z.string().min(1).max(128).optional(),
  scanId: z.string().min(1).max(64).optional(),
  limit: Limit.optional(),
});

export const FindingSchema = z
  .object({
    id: z.number(),
    assetId: z.number(),
    address: z.string(),
    protocol: Protocol,
    port: z.number(),
    advisory: z.string(),
    checkId: z.string(),
    verdict: z.string(),
    classification: z.string().nullable(),
    reasonCode: z.string().nullable(),
    evidence: Json,
    reason: z.string().nullable(),
    firstSeen: z.string(),
    lastSeen: z.string(),
    status: z.enum(["open", "closed"]),
    lastRunId: z.number().nullable(),
  })
  .meta({ id: "Finding" });

export const FindingQuery = z.strictObject({
  address: AddressText.optional(),
  advisory: z.string().min(1).max(128).optional(),
  verdict: z.string().min(1).max(32).optional(),
  status: z.enum(["open", "closed"]).optional(),
  limit: Limit.optional(),
});

export const AssessmentSchema = z
  .object({
    id: z.number(),
    findingId: z.number(),
    asOf: z.string(),
    createdAt: z.string(),
    policyId: z.string(),
    policyVersion: z.string(),
    policySha256: z.string(),
    advisory: z.string(),
    zone: z.string(),
    rating: z.enum(ASSESSMENT_RATINGS),
    outcome: z.string().nullable(),
    protectBy: z.string().nullable(),
    fixBy: z.string().nullable(),
    verifyBy: z.string().nullable(),
    overdue: z.array(z.string()),
    /** The engine's assessment (parsed from its canonical JSON). */
    assessment: Json,
    address: z.string(),
    protocol: Protocol,
    port: z.number(),
    checkId: z.string(),
    verdict: z.string(),
    status: z.enum(["open", "closed"]),
  })
  .meta({ id: "Assessment" });

export const AssessmentQuery = z.strictObject({
  address: AddressText.optional(),
  advisory: z.string().min(1).max(128).optional(),
  rating: z.enum(ASSESSMENT_RATINGS).optional(),
  zone: z.enum(ZONES).optional(),
  status: z.enum(["open", "closed"]).optional(),
  overdueAt: Instant.optional(),
  limit: Limit.optional(),
});

export const AssessBody = z.strictObject({
  /** ISO date-time with a zone; now when absent. */
  asOf: Instant.optional(),
  vantage: z.enum(ZONES).optional(),
});

export const AssessResultSchema = z.object({
  asOf: z.string(),
  vantage: z.string(),
  policy: z.object({ id: z.string(), version: z.string(), sha256: z.string() }),
  assessed: z.number(),
  skipped: z.array(z.object({ findingId: z.number(), reason: z.string() })),
});

const ProvenanceSchema = z.strictObject({
  source: z.string().min(1).max(256),
  observedAt: Instant.optional(),
  ref: z.string().min(1).max(1024).optional(),
});

/** src/risk Control; the API records operator-declared ones (method "declared"). */
export const ControlSchema = z
  .strictObject({
    id: z.string().min(1).max(256),
    kind: z.enum(CONTROL_KINDS),
    appliesTo: z.strictObject({
      assets: z.array(z.string().min(1).max(256)).max(4096).optional(),
      zones: z.array(z.enum(ZONES)).max(16).optional(),
      ranges: z.array(z.string().min(1).max(256)).max(4096).optional(),
    }),
    covers: z
      .array(z.strictObject({ proto: z.enum(PROTOCOLS), port: z.number().int().min(0).max(65535) }))
      .max(1024),
    mitigates: z.array(z.string().min(1).max(128)).max(256).optional(),
    verifiedAt: Instant.optional(),
    method: z.enum(["rescan-external", "rescan-peer", "config-audit", "declared"]),
    expiresAt: Instant.optional(),
    prov: ProvenanceSchema,
  })
  .meta({ id: "Control" });

export const ControlQuery = z.strictObject({ validAt: Instant.optional() });

export const TokenSchema = z
  .object({
    id: z.number(),
    name: z.string(),
    role: z.enum(API_ROLES),
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
  })
  .meta({ id: "Token" });

export const TokenCreateBody = z.strictObject({
  name: z.string().min(1).max(64),
  role: z.enum(API_ROLES),
  expiresAt: Instant.optional(),
});

export const ScopeSchema = z
  .object({
    name: z.string(),
    source: z.string(),
    digest: z.string(),
    authorized: z.array(z.string()),
    testNetGuard: z.boolean(),
  })
  .meta({ id: "Scope" });

export const ScopeBody = z.strictObject({
  name: z.string().min(1).max(128).optional(),
  allow: z.array(z.string().min(1).max(256)).min(1).max(4096),
  deny: z.array(z.string().min(1).max(256)).max(4096).optional(),
});

export const ShieldQuery = z.strictObject({
  scope: z.enum(SCOPES).optional(),
});

export const ShieldRenderQuery = z.strictObject({
  target: z.string().min(1).max(32),
  scope: z.enum(SCOPES).optional(),
});

export const RenderedFilesSchema = z.object({
  target: z.string(),
  files: z.array(z.object({ name: z.string(), content: z.string() })),
});

export const AuditEntrySchema = z
  .object({
    seq: z.number(),
    at: z.string(),
    actor: z.string(),
    kind: z.string(),
    subject: z.string(),
    evidenceRef: z.string().nullable(),
    payload: Json,
    prevHash: z.string(),
    hash: z.string(),
  })
  .meta({ id: "AuditEntry" });

export const AuditQuery = z.strictObject({
  since: Instant.optional(),
  subject: z.string().min(1).max(256).optional(),
  kind: z.string().min(1).max(64).optional(),
  afterSeq: z.coerce.number().int().min(0).optional(),
  limit: Limit.optional(),
});

export const TransitionSchema = z
  .object({
    id: z.number(),
    findingId: z.number(),
    from: z.string(),
    to: z.string(),
    actor: z.string(),
    at: z.string(),
    evidence: Json,
    auditSeq: z.number(),
  })
  .meta({ id: "Transition" });

export const TransitionQuery = z.strictObject({
  findingId: Id.optional(),
  since: Instant.optional(),
});

export const Accepted = z.object({ scan: ScanSchema });
