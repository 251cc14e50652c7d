/**
 * Every route of the route table × every kind of caller: no token, a token that does not exist,
 * an expired one, a revoked one, and each role. Callers without a valid token get 401, roles
 * below the route's get 403, the others a 2xx; every successful mutation writes an audit entry
 * naming the token.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_ROUTES, type ApiRoute } from "../../src/api/index.js";
import { defaultPolicyDocument } from "../../src/risk/index.js";
import { API_ROLES, type ApiRole } from "../../src/store/index.js";
import {
  createApiFixture,
  expectProblem,
  FINDING_BASE,
  IDENTITIES,
  SCOPE_RANGE,
  type ApiFixture,
  type Identity,
} from "./api-helpers.js";

interface Call {
  url: string;
  payload?: unknown;
  /** Runs after the call (stops what the call started). */
  after?: () => Promise<void>;
}

let fixture: ApiFixture;
let completedScan = "";
let nextFinding = 1;
let counter = 0;

/** A scan request that finishes at once: one loopback address, one closed port. */
const quickScan = {
  targets: ["127.91.1.1"],
  ports: "T:9",
  checks: "none",
  engine: "connect" as const,
  timeoutMs: 500,
  retries: 0,
};

/** A scan that runs long enough to be cancelled: 256 addresses at 10 probes a second. */
async function startSlowScan(): Promise<string> {
  const scan = await fixture.server.scans.start(
    {
      targets: ["127.91.2.0/24"],
      inputFiles: [],
      exclude: [],
      excludeFiles: [],
      ports: { tcp: [9], udp: [] },
      scopeFile: fixture.scopeFile,
      rate: 10,
      timeoutMs: 500,
      retries: 0,
      engine: "connect",
      seed: "slow",
      useLab: false,
    },
    "test slow scan",
  );
  return scan.id;
}

async function stopScan(id: string): Promise<void> {
  fixture.server.scans.cancel(id);
  await fixture.server.scans.settled(id);
}

/** A request each authorised role can make with a 2xx answer (fresh state where it needs it). */
const EXAMPLES: Record<string, (role: ApiRole) => Promise<Call>> = {
  listScans: async () => ({ url: "/scans" }),
  startScan: async () => ({ url: "/scans", payload: quickScan }),
  getScan: async () => ({ url: `/scans/${completedScan}` }),
  scanEvents: async () => ({ url: `/scans/${completedScan}/events` }),
  cancelScan: async () => {
    const id = await startSlowScan();
    return { url: `/scans/${id}/cancel`, after: () => stopScan(id) };
  },
  resumeScan: async () => {
    const id = await startSlowScan();
    await stopScan(id);
    return { url: `/scans/${id}/resume`, after: () => stopScan(id) };
  },
  listHosts: async () => ({ url: "/hosts?limit=5" }),
  getHost: async () => ({ url: `/hosts/${FINDING_BASE}1` }),
  listServices: async () => ({ url: "/services?state=open" }),
  listFindings: async () => ({ url: "/findings?status=open" }),
  getFinding: async () => ({ url: `/findings/${fixture.findingIds[0]}` }),
  listAssessments: async () => ({ url: "/assessments" }),
  getFindingAssessment: async () => ({ url: `/findings/${fixture.findingIds[0]}/assessment` }),
  runAssessment: async () => ({
    url: "/assessments",
    payload: { asOf: "2026-01-06T00:00:00Z", vantage: "internal" },
  }),
  listControls: async () => ({ url: "/controls" }),
  recordControl: async () => ({
    url: "/controls",
    payload: {
      id: `declared-${++counter}`,
      kind: "host-firewall",
      appliesTo: { ranges: [`${FINDING_BASE}1`] },
      covers: [{ proto: "tcp", port: 135 }],
      verifiedAt: "2026-01-05T12:00:00Z",
      method: "declared",
      prov: { source: "operator", ref: "CHG-1" },
    },
  }),
  shieldPlan: async () => ({ url: "/shield/plan" }),
  shieldRender: async () => ({ url: "/shield/render?target=nftables" }),
  listTransitions: async () => ({ url: "/transitions" }),
  applyTransition: async () => ({
    url: "/transitions",
    payload: {
      findingId: fixture.findingIds[nextFinding++],
      to: "patched",
      evidence: { kind: "attestation", by: "ops", statement: "KB823980 installed" },
    },
  }),
  listFindingStates: async () => ({ url: "/finding-states" }),
  workflowStatus: async () => ({ url: "/status?asOf=2026-01-06T00:00:00Z" }),
  listAuditEntries: async () => ({ url: "/audit?limit=10" }),
  verifyAuditTrail: async () => ({ url: "/audit/verify" }),
  report: async () => ({ url: "/reports?format=csv" }),
  listTokens: async () => ({ url: "/tokens" }),
  createToken: async (role) => ({
    url: "/tokens",
    payload: { name: `made-by-${role}-${++counter}`, role: "viewer" },
  }),
  revokeToken: async () => {
    const name = `to-revoke-${++counter}`;
    await fixture.store.createApiToken({
      name,
      role: "viewer",
      tokenHash: (++counter).toString(16).padStart(64, "0"),
      expiresAt: null,
    });
    return { url: `/tokens/${name}` };
  },
  getPolicy: async () => ({ url: "/policy" }),
  replacePolicy: async () => ({ url: "/policy", payload: defaultPolicyDocument() }),
  getScope: async () => ({ url: "/scope" }),
  replaceScope: async () => ({
    url: "/scope",
    payload: { name: "api-tests", allow: [SCOPE_RANGE] },
  }),
};

/** Any request will do for a refusal: it must come before validation and the handler. */
function refusedCall(route: ApiRoute): Call {
  return {
    url: route.url.replace(/:(\w+)/g, "1"),
    ...(route.method === "GET" || route.method === "DELETE" ? {} : { payload: {} }),
  };
}

function expected(identity: Identity, route: ApiRoute): number | "2xx" {
  if (identity === "none" || identity === "bad" || identity === "expired" || identity === "revoked")
    return 401;
  return API_ROLES.indexOf(identity) < API_ROLES.indexOf(route.role) ? 403 : "2xx";
}

beforeAll(async () => {
  fixture = await createApiFixture({ findings: 12 });
  const admin = fixture.headers.admin;
  const scan = await fixture.server.app.inject({
    method: "POST",
    url: "/scans",
    headers: admin,
    payload: quickScan,
  });
  expect(scan.statusCode).toBe(202);
  completedScan = scan.json().id;
  await fixture.server.scans.settled(completedScan);
  // An assessment for GET /findings/:id/assessment.
  const assess = await fixture.server.app.inject({
    method: "POST",
    url: "/assessments",
    headers: admin,
    payload: { asOf: "2026-01-06T00:00:00Z" },
  });
  expect(assess.statusCode, assess.body).toBe(201);
});
afterAll(() => fixture.close());

describe("authorization matrix", () => {
  it("has an example for every route", () => {
    expect(Object.keys(EXAMPLES).sort()).toEqual(API_ROUTES.map((r) => r.id).sort());
  });

  for (const route of API_ROUTES)
    for (const identity of IDENTITIES) {
      const want = expected(identity, route);
      it(`${route.method} ${route.url} as ${identity}: ${want}`, async () => {
        const call =
          want === "2xx" ? await EXAMPLES[route.id]!(identity as ApiRole) : refusedCall(route);
        const auditBefore = (await fixture.store.listAuditEntries()).length;
        try {
          const response = await fixture.server.app.inject({
            method: route.method,
            url: call.url,
            headers: fixture.headers[identity],
            ...(call.payload === undefined ? {} : { payload: call.payload as object }),
          });
          if (want === "2xx") {
            expect(response.statusCode, response.body).toBeGreaterThanOrEqual(200);
            expect(response.statusCode, response.body).toBeLessThan(300);
            if (route.method !== "GET") {
              // Every mutation leaves an audit entry naming the token.
              const entries = await fixture.store.listAuditEntries({ afterSeq: auditBefore });
              expect(entries.map((e) => e.actor)).toContain(`api:test-${identity}`);
            }
          } else {
            const problem = expectProblem(response, want);
            if (want === 401) expect(response.headers["www-authenticate"]).toMatch(/^Bearer /);
            expect(problem["type"]).toMatch(want === 401 ? /unauthorized$/ : /forbidden$/);
            expect((await fixture.store.listAuditEntries()).length).toBe(auditBefore);
          }
        } finally {
          await call.after?.();
        }
      });
    }
});
