import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { stringify } from "yaml";
import { defaultPolicyDocument } from "../../src/risk/index.js";
import { buildApiServer, issueToken, type ApiServer } from "../../src/api/index.js";
import {
  API_ROLES,
  openStore,
  type ApiRole,
  type CheckRunInput,
  type Store,
} from "../../src/store/index.js";
import { createTestStoreLocation, type TestStoreLocation } from "../helpers/test-store.js";

/** The loopback range the API tests declare as their scope; 127.92.0.0/16 stays outside it. */
export const SCOPE_RANGE = "127.91.0.0/16";
export const OUTSIDE_SCOPE = "127.92.0.1";
/** Addresses of the seeded findings (test data only: nothing is sent to them). */
export const FINDING_BASE = "127.91.200.";

export type Identity = "none" | "bad" | "expired" | "revoked" | ApiRole;
export const IDENTITIES: readonly Identity[] = ["none", "bad", "expired", "revoked", ...API_ROLES];

export interface ApiFixture {
  readonly location: TestStoreLocation;
  readonly store: Store;
  readonly server: ApiServer;
  readonly scopeFile: string;
  readonly policyFile: string;
  /** Authorization headers per identity ({} for "none"). */
  readonly headers: Record<Identity, Record<string, string>>;
  readonly tokens: Record<ApiRole, string>;
  /** Finding ids, in recording order. */
  readonly findingIds: number[];
  close(): Promise<void>;
}

function checkRun(address: string, port: number): CheckRunInput {
  return {
    scanId: null,
    address,
    protocol: "tcp",
    port,
    checkId: "ms03-026-remote-activation",
    advisories: ["ms03-026"],
    verdict: "VULNERABLE",
    classification: "VULNERABLE_MS03_026",
    reasonCode: "test-data",
    reason: "recorded by the API tests",
    evidence: { steps: [] },
    startedAt: "2026-01-05T10:00:00.000Z",
    finishedAt: "2026-01-05T10:00:01.000Z",
  };
}

/**
 * A store with one token per role (plus an expired and a revoked one), `findings` vulnerable
 * findings on loopback test addresses, and a server on it authorised for SCOPE_RANGE.
 */
export async function createApiFixture(
  options: {
    findings?: number;
    rateLimit?: { max: number; windowMs: number };
    /** The scope's allow list; [SCOPE_RANGE] by default. */
    allow?: readonly string[];
    labStateDir?: string;
  } = {},
): Promise<ApiFixture> {
  const location = await createTestStoreLocation("rf-api-");
  const store = await openStore(location.location);
  const tokens = {} as Record<ApiRole, string>;
  for (const role of API_ROLES)
    tokens[role] = (await issueToken(store, { name: `test-${role}`, role, expiresAt: null })).token;
  const expired = await issueToken(store, {
    name: "test-expired",
    role: "admin",
    expiresAt: "2020-01-01T00:00:00.000Z",
  });
  const revoked = await issueToken(store, { name: "test-revoked", role: "admin", expiresAt: null });
  await store.revokeApiToken("test-revoked", new Date().toISOString());
  const count = options.findings ?? 0;
  if (count > 0)
    await store.recordCheckRuns(
      Array.from({ length: count }, (_, i) => checkRun(`${FINDING_BASE}${i + 1}`, 135)),
    );
  const findingIds = (await store.listFindings()).map((f) => f.id);
  const scopeFile = join(location.dir, "scope.yaml");
  writeFileSync(
    scopeFile,
    `name: api-tests\nallow: [${(options.allow ?? [SCOPE_RANGE]).join(", ")}]\n`,
  );
  const policyFile = join(location.dir, "policy.yaml");
  writeFileSync(policyFile, stringify(defaultPolicyDocument()));
  const server = await buildApiServer({
    store,
    scopeFile,
    policyFile,
    ...(options.rateLimit === undefined ? {} : { rateLimit: options.rateLimit }),
    ...(options.labStateDir === undefined ? {} : { labStateDir: options.labStateDir }),
  });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const headers: Record<Identity, Record<string, string>> = {
    none: {},
    // Well-formed, but no such token.
    bad: bearer(`rft_${"A".repeat(43)}`),
    expired: bearer(expired.token),
    revoked: bearer(revoked.token),
    viewer: bearer(tokens.viewer),
    operator: bearer(tokens.operator),
    admin: bearer(tokens.admin),
  };
  return {
    location,
    store,
    server,
    scopeFile,
    policyFile,
    headers,
    tokens,
    findingIds,
    async close() {
      await server.close();
      await store.close();
      await location.cleanup();
    },
  };
}

/**
 * Everything the store holds, read through its public listings (so that the comparison works on
 * every backend), plus for SQLite the database files' bytes.
 */
export async function storeSnapshot(fixture: ApiFixture): Promise<string> {
  const { store } = fixture;
  const rows = {
    scans: await store.listScans(),
    hosts: await store.listHosts(),
    services: await store.listServices(),
    findings: await store.listFindings(),
    checkRuns: await store.listCheckRuns(),
    assessments: await store.latestAssessments(),
    controls: await store.listControls(),
    audit: await store.listAuditEntries(),
    transitions: await store.listTransitions(),
    states: await store.findingStates(),
    tokens: await store.listApiTokens(),
  };
  const files: Record<string, string> = {};
  if (fixture.location.dialect === "sqlite") {
    for (const suffix of ["", "-wal"]) {
      const path = fixture.location.location + suffix;
      if (existsSync(path))
        files[suffix || "db"] = createHash("sha256").update(readFileSync(path)).digest("hex");
    }
  }
  return JSON.stringify({ rows, files });
}

/** A problem+json body as RFC 9457 §3.1 describes it (and no stack trace). */
export function expectProblem(
  response: { statusCode: number; headers: Record<string, unknown>; body: string },
  status?: number,
): Record<string, unknown> {
  if (status !== undefined) expect(response.statusCode).toBe(status);
  expect(String(response.headers["content-type"])).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(response.body) as Record<string, unknown>;
  expect(body["status"]).toBe(response.statusCode);
  for (const member of ["type", "title", "detail", "instance"])
    expect(typeof body[member], member).toBe("string");
  expect(response.body).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
  return body;
}
