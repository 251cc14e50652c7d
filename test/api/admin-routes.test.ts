/** What the admin routes change takes effect: tokens made and revoked, the scope replaced. */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiFixture, expectProblem, type ApiFixture } from "./api-helpers.js";

describe("admin routes", () => {
  let fixture: ApiFixture;
  beforeAll(async () => {
    fixture = await createApiFixture();
  });
  afterAll(() => fixture.close());

  const call = (
    method: "GET" | "POST" | "PUT" | "DELETE",
    url: string,
    headers: Record<string, string>,
    payload?: object,
  ) =>
    fixture.server.app.inject({
      method,
      url,
      headers,
      ...(payload === undefined ? {} : { payload }),
    });

  it("a token made through the API works at once, only its hash is stored, and revoking it locks it out", async () => {
    const made = await call("POST", "/tokens", fixture.headers.admin, {
      name: "ci-runner",
      role: "operator",
      expiresAt: "2099-01-01T00:00:00Z",
    });
    expect(made.statusCode).toBe(201);
    const { token, record } = made.json() as {
      token: string;
      record: { role: string; expiresAt: string };
    };
    expect(record).toMatchObject({ role: "operator", expiresAt: "2099-01-01T00:00:00.000Z" });
    const stored = (await fixture.store.listApiTokens()).find((t) => t.name === "ci-runner")!;
    expect(stored.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(await fixture.store.listApiTokens())).not.toContain(token);

    const bearer = { authorization: `Bearer ${token}` };
    expect((await call("GET", "/scans", bearer)).statusCode).toBe(200);
    expectProblem(await call("GET", "/tokens", bearer), 403);

    expect((await call("DELETE", "/tokens/ci-runner", fixture.headers.admin)).statusCode).toBe(200);
    const refused = expectProblem(await call("GET", "/scans", bearer), 401);
    expect(refused["detail"]).toContain("revoked");

    const audit = await fixture.store.listAuditEntries({ subject: "token:ci-runner" });
    expect(audit.map((e) => [e.kind, e.actor])).toEqual([
      ["token-create", "api:test-admin"],
      ["token-revoke", "api:test-admin"],
    ]);
  });

  it("PUT /scope replaces the scope file; scans follow the new scope", async () => {
    const scan = {
      targets: ["127.91.1.1"],
      ports: "T:9",
      checks: "none",
      engine: "connect",
      retries: 0,
    };
    const replaced = await call("PUT", "/scope", fixture.headers.admin, {
      name: "narrow",
      allow: ["127.91.5.0/24"],
    });
    expect(replaced.statusCode).toBe(200);
    expect(replaced.json()).toMatchObject({ name: "narrow", authorized: ["127.91.5.0/24"] });
    expect(readFileSync(fixture.scopeFile, "utf8")).toContain("127.91.5.0/24");
    const refused = expectProblem(
      await call("POST", "/scans", fixture.headers.operator, scan),
      422,
    );
    expect(refused["detail"]).toContain("127.91.1.1");
    const allowed = await call("POST", "/scans", fixture.headers.operator, {
      ...scan,
      targets: ["127.91.5.1"],
    });
    expect(allowed.statusCode).toBe(202);
    await fixture.server.scans.settled((allowed.json() as { id: string }).id);
    const entry = (await fixture.store.listAuditEntries({ kind: "scope-replace" }))[0];
    expect(entry?.actor).toBe("api:test-admin");
  });

  it("an operator cannot change the scope, and the refusal changes nothing", async () => {
    const before = readFileSync(fixture.scopeFile, "utf8");
    expectProblem(
      await call("PUT", "/scope", fixture.headers.operator, { allow: ["127.0.0.0/8"] }),
      403,
    );
    expect(readFileSync(fixture.scopeFile, "utf8")).toBe(before);
  });
});
