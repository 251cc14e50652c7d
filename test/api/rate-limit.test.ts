import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiFixture, expectProblem, type ApiFixture } from "./api-helpers.js";

describe("rate limiting", () => {
  let fixture: ApiFixture;
  const MAX = 3;

  beforeAll(async () => {
    fixture = await createApiFixture({ rateLimit: { max: MAX, windowMs: 60 * 60_000 } });
  });
  afterAll(() => fixture.close());

  const get = (headers: Record<string, string>) =>
    fixture.server.app.inject({ method: "GET", url: "/scans", headers });

  it("answers 429 problem+json once a token spent its budget; other tokens are not affected", async () => {
    for (let i = 0; i < MAX; i++) expect((await get(fixture.headers.viewer)).statusCode).toBe(200);
    const limited = await get(fixture.headers.viewer);
    const problem = expectProblem(limited, 429);
    expect(problem["type"]).toMatch(/\/rate-limited$/);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect(limited.headers["x-ratelimit-limit"]).toBe(String(MAX));
    // Per token: the operator's budget is its own.
    expect((await get(fixture.headers.operator)).statusCode).toBe(200);
  });

  it("counts requests without a valid token per client, so guessing tokens is limited too", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < MAX + 1; i++) statuses.push((await get(fixture.headers.bad)).statusCode);
    expect(statuses).toEqual([...Array<number>(MAX).fill(401), 429]);
    // Still limited when the next guess is another identity without a valid token.
    expectProblem(await get(fixture.headers.none), 429);
  });
});
