import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiFixture, FINDING_BASE, type ApiFixture } from "./api-helpers.js";

describe("GET /reports", () => {
  let fixture: ApiFixture;
  beforeAll(async () => {
    fixture = await createApiFixture({ findings: 2 });
  });
  afterAll(() => fixture.close());

  const report = (query: string) =>
    fixture.server.app.inject({
      method: "GET",
      url: `/reports?${query}`,
      headers: fixture.headers.viewer,
    });

  it("renders each format with its media type, unquoted", async () => {
    const csv = await report("format=csv");
    expect(csv.statusCode).toBe(200);
    expect(csv.headers["content-type"]).toMatch(/^text\/csv/);
    expect(csv.body.startsWith('"')).toBe(false);
    expect(csv.body).toContain(`${FINDING_BASE}1`);

    const sarif = await report("format=sarif");
    expect(sarif.headers["content-type"]).toMatch(/^application\/sarif\+json/);
    const log = JSON.parse(sarif.body) as { version: string; runs: { results: unknown[] }[] };
    expect(log.version).toBe("2.1.0");
    expect(log.runs[0]!.results.length).toBe(2);

    const html = await report("format=html");
    expect(html.headers["content-type"]).toMatch(/^text\/html/);
    expect(html.body).toMatch(/^<!doctype html>/i);
  });

  it("renders one scan's nmap XML", async () => {
    const scan = await fixture.server.app.inject({
      method: "POST",
      url: "/scans",
      headers: fixture.headers.operator,
      payload: {
        targets: ["127.91.1.1"],
        ports: "T:9",
        checks: "none",
        engine: "connect",
        retries: 0,
      },
    });
    expect(scan.statusCode).toBe(202);
    const id = (scan.json() as { id: string }).id;
    await fixture.server.scans.settled(id);
    const xml = await report(`format=nmap-xml&scanId=${id}`);
    expect(xml.statusCode).toBe(200);
    expect(xml.headers["content-type"]).toMatch(/^application\/xml/);
    expect(xml.body).toContain("<nmaprun");
    expect(xml.body).toContain('addr="127.91.1.1"');
  });
});
