import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_ROUTES } from "../../src/api/index.js";
import { createApiFixture, type ApiFixture } from "./api-helpers.js";

const openApiPath = (url: string) => url.replace(/:(\w+)/g, "{$1}");

describe("the OpenAPI document", () => {
  let fixture: ApiFixture;
  let document: {
    openapi: string;
    paths: Record<
      string,
      Record<
        string,
        {
          operationId?: string;
          responses: Record<string, { content?: Record<string, unknown> }>;
          security?: unknown[];
        }
      >
    >;
  };

  beforeAll(async () => {
    fixture = await createApiFixture();
    const response = await fixture.server.app.inject({ method: "GET", url: "/openapi.json" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^application\/json/);
    document = response.json();
  });
  afterAll(() => fixture.close());

  it("validates against the OpenAPI 3.1 schema", async () => {
    const validator = new Validator();
    const result = await validator.validate(document as unknown as Record<string, unknown>);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(document.openapi).toMatch(/^3\.1\./);
  });

  it("lists every route of the route table, and nothing else", () => {
    const listed = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const expected = API_ROUTES.map((r) => `${r.method} ${openApiPath(r.url)}`);
    expect(new Set(expected).size).toBe(expected.length);
    expect(listed.sort()).toEqual([...expected].sort());
    for (const route of API_ROUTES) {
      const operation = document.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
      expect(operation?.operationId).toBe(route.id);
      expect(operation?.security).toEqual([{ bearerAuth: [] }]);
    }
  });

  it("describes errors as application/problem+json, other media types as the routes say", () => {
    for (const route of API_ROUTES) {
      const operation = document.paths[openApiPath(route.url)]![route.method.toLowerCase()]!;
      for (const [status, response] of Object.entries(operation.responses)) {
        const types = Object.keys(response.content ?? {});
        if (Number(status) >= 400)
          expect(types, `${route.url} ${status}`).toEqual(["application/problem+json"]);
        else
          expect(types, `${route.url} ${status}`).toEqual([
            ...(route.mediaTypes ?? ["application/json"]),
          ]);
      }
    }
  });

  it("is served without a token (the API's description is public)", async () => {
    const response = await fixture.server.app.inject({ method: "GET", url: "/openapi.json" });
    expect(response.statusCode).toBe(200);
  });
});
