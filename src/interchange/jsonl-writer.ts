/**
 * The inventory as JSON Lines: one object per line, each naming its versioned schema in a
 * `schema` field, so that a consumer dispatches on it and a future change bumps the version
 * instead of silently changing a field. The JSON Schemas (draft 2020-12) below are the contract;
 * the tests validate every line against them. Line types, in output order:
 *
 * - `ringfence.report/1`: first line; when and what the report covers.
 * - `ringfence.host/1`: one per host (address, names, OS, open ports).
 * - `ringfence.observation/1`: one per probe result of the report's scan (with --scan only).
 * - `ringfence.check-run/1`: one per check run (a verdict with its reason).
 * - `ringfence.finding/1`: one per finding, with its stable identity and fingerprint.
 * - `ringfence.transition/1`: one per workflow transition, oldest first.
 */
import type { ReportModel } from "../reports/report-model.js";

const ISO = { type: "string", format: "date-time" } as const;
const NULLABLE_ISO = { anyOf: [ISO, { type: "null" }] } as const;
const NULLABLE_STRING = { type: ["string", "null"] } as const;
const PROTOCOL = { enum: ["tcp", "udp"] } as const;
const PORT = { type: "integer", minimum: 0, maximum: 65535 } as const;
const STATE = { enum: ["open", "closed", "filtered", "open|filtered"] } as const;

function lineSchema(
  id: string,
  description: string,
  properties: Record<string, unknown>,
): Record<string, unknown> {
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: `https://ringfence.invalid/schemas/${id.replace("/", "-v")}.json`,
    title: id,
    description,
    type: "object",
    additionalProperties: false,
    required: ["schema", ...Object.keys(properties)],
    properties: { schema: { const: id }, ...properties },
  };
}

export const JSONL_SCHEMAS: Readonly<Record<string, Record<string, unknown>>> = {
  "ringfence.report/1": lineSchema(
    "ringfence.report/1",
    "The first line: what the report covers.",
    {
      generatedAt: ISO,
      asOf: ISO,
      tool: {
        type: "object",
        additionalProperties: false,
        required: ["name", "version"],
        properties: { name: { const: "ringfence" }, version: { type: "string" } },
      },
      scan: {
        anyOf: [
          { type: "null" },
          {
            type: "object",
            additionalProperties: false,
            required: ["id", "status", "command", "startedAt", "finishedAt"],
            properties: {
              id: { type: "string" },
              status: { type: "string" },
              command: { type: "string" },
              startedAt: NULLABLE_ISO,
              finishedAt: NULLABLE_ISO,
            },
          },
        ],
      },
      counts: {
        type: "object",
        additionalProperties: false,
        required: ["hosts", "findings", "openFindings"],
        properties: {
          hosts: { type: "integer", minimum: 0 },
          findings: { type: "integer", minimum: 0 },
          openFindings: { type: "integer", minimum: 0 },
        },
      },
    },
  ),
  "ringfence.host/1": lineSchema("ringfence.host/1", "One host of the inventory.", {
    address: { type: "string" },
    hostnames: { type: "array", items: { type: "string" } },
    os: NULLABLE_STRING,
    osConfidence: { type: ["integer", "null"], minimum: 0, maximum: 100 },
    openPorts: { type: "array", items: { type: "string", pattern: "^(tcp|udp)/[0-9]+$" } },
    firstSeen: ISO,
    lastSeen: ISO,
  }),
  "ringfence.observation/1": lineSchema(
    "ringfence.observation/1",
    "One probe result of the report's scan.",
    {
      scanId: { type: "string" },
      address: { type: "string" },
      protocol: PROTOCOL,
      port: PORT,
      state: STATE,
      reason: { type: "string" },
      rttMs: { type: ["number", "null"] },
      observedAt: ISO,
    },
  ),
  "ringfence.check-run/1": lineSchema("ringfence.check-run/1", "One run of one check.", {
    id: { type: "integer" },
    scanId: NULLABLE_STRING,
    address: { type: "string" },
    protocol: PROTOCOL,
    port: PORT,
    checkId: { type: "string" },
    verdict: { enum: ["VULNERABLE", "NOT_VULNERABLE", "NOT_APPLICABLE", "UNKNOWN"] },
    classification: NULLABLE_STRING,
    reasonCode: { type: "string" },
    reason: { type: "string" },
    startedAt: ISO,
    finishedAt: ISO,
  }),
  "ringfence.finding/1": lineSchema(
    "ringfence.finding/1",
    "One finding: the state of (asset, protocol/port, advisory, check) as of its latest check run, with its latest assessment and workflow state.",
    {
      id: { type: "integer" },
      fingerprint: { type: "string", pattern: "^[0-9a-f]{64}$" },
      identity: {
        type: "object",
        additionalProperties: false,
        required: ["address", "protocol", "port", "advisory", "checkId"],
        properties: {
          address: { type: "string" },
          protocol: PROTOCOL,
          port: PORT,
          advisory: { type: "string" },
          checkId: { type: "string" },
        },
      },
      hostnames: { type: "array", items: { type: "string" } },
      verdict: { type: "string" },
      classification: NULLABLE_STRING,
      reason: NULLABLE_STRING,
      status: { enum: ["open", "closed"] },
      state: NULLABLE_STRING,
      rating: { enum: ["very-high", "high", "moderate", "low", null] },
      zone: NULLABLE_STRING,
      outcome: NULLABLE_STRING,
      // The assessment's clocks, as the risk engine wrote them (an ISO instant).
      protectBy: NULLABLE_STRING,
      fixBy: NULLABLE_STRING,
      verifyBy: NULLABLE_STRING,
      overdue: { type: "array", items: { enum: ["protect-by", "fix-by", "verify-by"] } },
      firstSeen: ISO,
      lastSeen: ISO,
    },
  ),
  "ringfence.transition/1": lineSchema(
    "ringfence.transition/1",
    "One workflow transition of a finding.",
    {
      id: { type: "integer" },
      findingId: { type: "integer" },
      from: { type: "string" },
      to: { type: "string" },
      actor: { type: "string" },
      at: ISO,
    },
  ),
};

export function renderJsonLines(model: ReportModel, options: { version: string }): string {
  const lines: unknown[] = [];
  lines.push({
    schema: "ringfence.report/1",
    generatedAt: new Date().toISOString(),
    asOf: model.asOf,
    tool: { name: "ringfence", version: options.version },
    scan:
      model.scan === null
        ? null
        : {
            id: model.scan.id,
            status: model.scan.status,
            command: model.scan.command,
            startedAt: model.scan.startedAt,
            finishedAt: model.scan.finishedAt,
          },
    counts: {
      hosts: model.hosts.length,
      findings: model.findings.length,
      openFindings: model.findings.filter((f) => f.status === "open").length,
    },
  });
  for (const h of model.hosts)
    lines.push({
      schema: "ringfence.host/1",
      address: h.address,
      hostnames: h.hostnames,
      os: h.os,
      osConfidence: h.osConfidence,
      openPorts: h.openPorts,
      firstSeen: h.firstSeen,
      lastSeen: h.lastSeen,
    });
  for (const o of model.observations)
    lines.push({
      schema: "ringfence.observation/1",
      scanId: o.scanId,
      address: o.address,
      protocol: o.protocol,
      port: o.port,
      state: o.state,
      reason: o.reason,
      rttMs: o.rttMs,
      observedAt: o.observedAt,
    });
  for (const r of model.checkRuns)
    lines.push({
      schema: "ringfence.check-run/1",
      id: r.id,
      scanId: r.scanId,
      address: r.address,
      protocol: r.protocol,
      port: r.port,
      checkId: r.checkId,
      verdict: r.verdict,
      classification: r.classification,
      reasonCode: r.reasonCode,
      reason: r.reason,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
    });
  for (const f of model.findings)
    lines.push({
      schema: "ringfence.finding/1",
      id: f.id,
      fingerprint: f.fingerprint,
      identity: {
        address: f.address,
        protocol: f.protocol,
        port: f.port,
        advisory: f.advisory,
        checkId: f.checkId,
      },
      hostnames: f.hostnames,
      verdict: f.verdict,
      classification: f.classification,
      reason: f.reason,
      status: f.status,
      state: f.state,
      rating: f.rating,
      zone: f.zone,
      outcome: f.outcome,
      protectBy: f.protectBy,
      fixBy: f.fixBy,
      verifyBy: f.verifyBy,
      overdue: f.overdue,
      firstSeen: f.firstSeen,
      lastSeen: f.lastSeen,
    });
  for (const t of model.transitions)
    lines.push({
      schema: "ringfence.transition/1",
      id: t.id,
      findingId: t.findingId,
      from: t.from,
      to: t.to,
      actor: t.actor,
      at: t.at,
    });
  return lines.map((line) => JSON.stringify(line)).join("\n") + "\n";
}
