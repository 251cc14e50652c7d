/**
 * Bad requests get a 4xx problem+json and change nothing: the store's rows (and, on SQLite, the
 * database files' bytes) and the scope file are the same after each as before.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createApiFixture,
  expectProblem,
  OUTSIDE_SCOPE,
  storeSnapshot,
  type ApiFixture,
} from "./api-helpers.js";

interface BadCase {
  name: string;
  method: "GET" | "POST" | "PUT" | "DELETE";
  url: string;
  payload?: unknown;
  /** Sent as is, with this content type. */
  raw?: { body: string; type: string };
  status: number;
  /** The problem's type ends with this. */
  type?: string;
}

const scan = (extra: object) => ({
  targets: ["127.91.1.1"],
  ports: "T:9",
  checks: "none",
  ...extra,
});

const CASES: BadCase[] = [
  {
    name: "targets of the wrong type",
    method: "POST",
    url: "/scans",
    payload: { targets: "127.91.1.1" },
    status: 400,
    type: "validation",
  },
  {
    name: "an unknown field",
    method: "POST",
    url: "/scans",
    payload: scan({ sudo: true }),
    status: 400,
    type: "validation",
  },
  {
    name: "a rate of the wrong type",
    method: "POST",
    url: "/scans",
    payload: scan({ rate: "fast" }),
    status: 400,
    type: "validation",
  },
  {
    name: "a huge body",
    method: "POST",
    url: "/scans",
    payload: { targets: Array.from({ length: 5000 }, (_, i) => `127.91.${i % 256}.${i % 250}`) },
    status: 413,
  },
  {
    name: "a CIDR with a bad prefix",
    method: "POST",
    url: "/scans",
    payload: scan({ targets: ["127.91.0.0/33"] }),
    status: 400,
    type: "bad-target",
  },
  {
    name: "a target outside the scope",
    method: "POST",
    url: "/scans",
    payload: scan({ targets: [OUTSIDE_SCOPE] }),
    status: 422,
    type: "scope-violation",
  },
  {
    name: "a range leaving the scope",
    method: "POST",
    url: "/scans",
    payload: scan({ targets: ["127.91.255.250-127.92.0.3"] }),
    status: 422,
    type: "scope-violation",
  },
  {
    name: "a CIDR larger than the scope",
    method: "POST",
    url: "/scans",
    payload: scan({ targets: ["127.0.0.0/8"] }),
    status: 422,
    type: "scope-violation",
  },
  {
    name: "a bad port spec",
    method: "POST",
    url: "/scans",
    payload: scan({ ports: "T:99999" }),
    status: 400,
    type: "bad-ports",
  },
  {
    name: "an unknown check",
    method: "POST",
    url: "/scans",
    payload: scan({ checks: "no-such-check" }),
    status: 400,
  },
  {
    name: "malformed JSON",
    method: "POST",
    url: "/scans",
    raw: { body: '{"targets": [', type: "application/json" },
    status: 400,
  },
  {
    name: "a prototype-poisoning body",
    method: "POST",
    url: "/scans",
    raw: {
      body: '{"targets":["127.91.1.1"],"__proto__":{"admin":true}}',
      type: "application/json",
    },
    status: 400,
  },
  {
    name: "a body that is not JSON",
    method: "POST",
    url: "/scans",
    raw: { body: "targets=127.91.1.1", type: "text/plain" },
    status: 415,
  },
  {
    name: "resume of an unknown scan",
    method: "POST",
    url: "/scans/s-nosuchscan/resume",
    status: 404,
    type: "not-found",
  },
  {
    name: "cancel of an unknown scan",
    method: "POST",
    url: "/scans/s-nosuchscan/cancel",
    status: 404,
    type: "not-found",
  },
  {
    name: "an unknown scan",
    method: "GET",
    url: "/scans/s-nosuchscan",
    status: 404,
    type: "not-found",
  },
  {
    name: "an unknown scan's events",
    method: "GET",
    url: "/scans/s-nosuchscan/events",
    status: 404,
    type: "not-found",
  },
  {
    name: "an unknown finding",
    method: "GET",
    url: "/findings/999999",
    status: 404,
    type: "not-found",
  },
  {
    name: "a negative finding id",
    method: "GET",
    url: "/findings/-1",
    status: 400,
    type: "validation",
  },
  {
    name: "an unknown host",
    method: "GET",
    url: "/hosts/127.91.9.9",
    status: 404,
    type: "not-found",
  },
  {
    name: "a query of the wrong type",
    method: "GET",
    url: "/hosts?port=abc",
    status: 400,
    type: "validation",
  },
  {
    name: "an unknown query parameter",
    method: "GET",
    url: "/findings?drop=table",
    status: 400,
    type: "validation",
  },
  {
    name: "a transition of an unknown finding",
    method: "POST",
    url: "/transitions",
    payload: {
      findingId: 999999,
      to: "patched",
      evidence: { kind: "attestation", by: "x", statement: "y" },
    },
    status: 404,
  },
  {
    name: "a transition to an unknown state",
    method: "POST",
    url: "/transitions",
    payload: {
      findingId: 1,
      to: "fixed",
      evidence: { kind: "attestation", by: "x", statement: "y" },
    },
    status: 400,
    type: "validation",
  },
  {
    name: "evidence of an unknown kind",
    method: "POST",
    url: "/transitions",
    payload: { findingId: 1, to: "patched", evidence: { kind: "vibes" } },
    status: 400,
    type: "validation",
  },
  {
    name: "evidence that does not support the transition",
    method: "POST",
    url: "/transitions",
    payload: {
      findingId: 1,
      to: "verified",
      evidence: { kind: "attestation", by: "x", statement: "trust me" },
    },
    status: 422,
    type: "transition-refused",
  },
  {
    name: "a control with a port out of range",
    method: "POST",
    url: "/controls",
    payload: {
      id: "c1",
      kind: "host-firewall",
      appliesTo: {},
      covers: [{ proto: "tcp", port: 70000 }],
      method: "declared",
      prov: { source: "operator" },
    },
    status: 400,
    type: "validation",
  },
  {
    name: "an assessment date that is not a date",
    method: "POST",
    url: "/assessments",
    payload: { asOf: "yesterday" },
    status: 400,
    type: "validation",
  },
  {
    name: "a token name already taken",
    method: "POST",
    url: "/tokens",
    payload: { name: "test-viewer", role: "viewer" },
    status: 400,
    type: "usage",
  },
  {
    name: "a token with an unknown role",
    method: "POST",
    url: "/tokens",
    payload: { name: "new", role: "root" },
    status: 400,
    type: "validation",
  },
  {
    name: "a token that expired already",
    method: "POST",
    url: "/tokens",
    payload: { name: "new", role: "viewer", expiresAt: "2001-01-01T00:00:00Z" },
    status: 400,
  },
  {
    name: "revoking an unknown token",
    method: "DELETE",
    url: "/tokens/nobody",
    status: 404,
    type: "not-found",
  },
  {
    name: "a scope with a bad CIDR",
    method: "PUT",
    url: "/scope",
    payload: { allow: ["10.0.0.0/99"] },
    status: 400,
    type: "scope-file",
  },
  {
    name: "a scope with nothing allowed",
    method: "PUT",
    url: "/scope",
    payload: { allow: [] },
    status: 400,
    type: "validation",
  },
  {
    name: "an unknown firewall target",
    method: "GET",
    url: "/shield/render?target=ipchains",
    status: 400,
    type: "usage",
  },
  {
    name: "an unknown route",
    method: "GET",
    url: "/no/such/route",
    status: 404,
    type: "not-found",
  },
];

describe("bad payloads", () => {
  let fixture: ApiFixture;
  let scopeText: string;
  let policyText: string;

  beforeAll(async () => {
    fixture = await createApiFixture({ findings: 2 });
    scopeText = readFileSync(fixture.scopeFile, "utf8");
    policyText = readFileSync(fixture.policyFile, "utf8");
  });
  afterAll(() => fixture.close());

  for (const c of CASES)
    it(`${c.name}: ${c.status} problem+json, nothing changed`, async () => {
      const before = await storeSnapshot(fixture);
      const response = await fixture.server.app.inject({
        method: c.method,
        url: c.url,
        headers: {
          ...fixture.headers.admin,
          ...(c.raw === undefined ? {} : { "content-type": c.raw.type }),
        },
        ...(c.raw !== undefined
          ? { payload: c.raw.body }
          : c.payload === undefined
            ? {}
            : { payload: c.payload as object }),
      });
      const problem = expectProblem(response, c.status);
      if (c.type !== undefined) expect(problem["type"]).toMatch(new RegExp(`/${c.type}$`));
      expect(problem["instance"]).toBe(c.url.split("?")[0]);
      expect(await storeSnapshot(fixture)).toBe(before);
      expect(readFileSync(fixture.scopeFile, "utf8")).toBe(scopeText);
      expect(readFileSync(fixture.policyFile, "utf8")).toBe(policyText);
      // Nothing was started either.
      expect(await fixture.store.listScans()).toEqual([]);
    });

  it("a stored row the response schema refuses is a 500 with no details", async () => {
    const odd = await createApiFixture();
    try {
      // As a newer ringfence might have stored it: a control kind this version does not know.
      await odd.store.recordControls([
        {
          id: "from-the-future",
          kind: "quantum-firewall" as "host-firewall",
          appliesTo: {},
          covers: [{ proto: "tcp", port: 135 }],
          method: "declared",
          prov: { source: "operator" },
        },
      ]);
      const response = await odd.server.app.inject({
        method: "GET",
        url: "/controls",
        headers: odd.headers.viewer,
      });
      const problem = expectProblem(response, 500);
      expect(problem["type"]).toMatch(/\/internal$/);
      expect(response.body).not.toContain("quantum");
    } finally {
      await odd.close();
    }
  });

  it("a server-side failure is a 5xx that names no server path (no message, no stack)", async () => {
    // A closed store makes every query fail with a driver error the API does not expect.
    const broken = await createApiFixture();
    try {
      await broken.store.close();
      const response = await broken.server.app.inject({
        method: "GET",
        url: "/tokens",
        headers: { authorization: "Bearer rft_" + "B".repeat(43) },
      });
      // The token lookup itself fails: the request cannot be authenticated, and says so as a 5xx.
      const problem = expectProblem(response);
      expect(response.statusCode).toBeGreaterThanOrEqual(500);
      expect(String(problem["detail"])).not.toContain(broken.location.dir);
      expect(String(problem["detail"])).not.toMatch(/Error:|\n/);
    } finally {
      await broken.server.close();
      await broken.location.cleanup();
    }
  });
});
