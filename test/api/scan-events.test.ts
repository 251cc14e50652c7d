/**
 * POST /scans on a real listening server: a loopback scan inside the declared scope runs to the
 * end and its server-sent event stream shows the start, progress and the end; a target outside
 * the scope is refused; a cancelled scan is interrupted and resumes to completion.
 */
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiFixture, OUTSIDE_SCOPE, type ApiFixture } from "./api-helpers.js";

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

let fixture: ApiFixture;
let base = "";
let listener: Server;
let openPort = 0;
const OPEN_HOST = "127.91.3.7";

function bearer(): { authorization: string } {
  return { authorization: `Bearer ${fixture.tokens.operator}` };
}

async function post(path: string, body?: unknown): Promise<Response> {
  return fetch(base + path, {
    method: "POST",
    headers: body === undefined ? bearer() : { ...bearer(), "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Reads a scan's event stream until the server ends it; calls onEvent as events arrive. */
async function readEvents(scanId: string, onEvent?: (e: SseEvent) => void): Promise<SseEvent[]> {
  const response = await fetch(`${base}/scans/${scanId}/events`, {
    headers: bearer(),
  });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const lines = block.split("\n").filter((l) => !l.startsWith(":"));
      const event = lines.find((l) => l.startsWith("event: "))?.slice(7);
      const data = lines.find((l) => l.startsWith("data: "))?.slice(6);
      if (event === undefined || data === undefined) continue;
      const parsed = { event, data: JSON.parse(data) as Record<string, unknown> };
      events.push(parsed);
      onEvent?.(parsed);
    }
  }
  return events;
}

beforeAll(async () => {
  fixture = await createApiFixture();
  base = await fixture.server.app.listen({ host: "127.0.0.1", port: 0 });
  listener = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => listener.listen(0, OPEN_HOST, resolve));
  openPort = (listener.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((resolve) => listener.close(resolve));
  await fixture.close();
});

describe("POST /scans and its event stream", () => {
  it("runs a loopback scan in scope to the end; the stream shows start, progress and end", async () => {
    // 64 addresses at 20 probes a second: long enough for the stream to see it run.
    const started = await post("/scans", {
      targets: ["127.91.3.0/26"],
      ports: `T:${openPort}`,
      checks: "none",
      engine: "connect",
      rate: 20,
      timeoutMs: 500,
      retries: 0,
    });
    expect(started.status).toBe(202);
    const scan = (await started.json()) as { id: string; status: string; totalProbes: number };
    expect(scan.status).toBe("running");
    expect(scan.totalProbes).toBe(64);

    const events = await readEvents(scan.id);
    const kinds = events.map((e) => e.event);
    expect(kinds[0]).toBe("start");
    expect(kinds.at(-1)).toBe("end");
    const progress = events.filter((e) => e.event === "progress").map((e) => e.data);
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) {
      expect(p["total"]).toBe(64);
      expect(p["scanId"]).toBe(scan.id);
    }
    const done = progress.map((p) => Number(p["done"]));
    expect([...done].sort((a, b) => a - b)).toEqual(done);
    // The stream saw the scan part-way, not only its end.
    expect(done.some((d) => d < 64)).toBe(true);
    const end = events.at(-1)!.data;
    expect(end).toMatchObject({
      scanId: scan.id,
      status: "completed",
      probesDone: 64,
      totalProbes: 64,
    });
    expect((end["counts"] as Record<string, number>)["open"]).toBe(1);

    // The result is stored: the scan, and the host with its open port.
    const stored = await fetch(`${base}/scans/${scan.id}`, {
      headers: bearer(),
    });
    expect(((await stored.json()) as { status: string }).status).toBe("completed");
    const hosts = (await (
      await fetch(`${base}/hosts?scanId=${scan.id}`, {
        headers: bearer(),
      })
    ).json()) as { address: string; openPorts: string[] }[];
    expect(hosts.find((h) => h.address === OPEN_HOST)?.openPorts).toEqual([`tcp/${openPort}`]);

    // A finished scan's stream is its stored end, at once.
    const again = await readEvents(scan.id);
    expect(again.map((e) => e.event)).toEqual(["end"]);
    expect(again[0]!.data["status"]).toBe("completed");
  });

  it("a client that leaves the stream early does not disturb the scan", async () => {
    const started = await post("/scans", {
      targets: ["127.91.6.0/27"],
      ports: `T:${openPort}`,
      checks: "none",
      engine: "connect",
      rate: 20,
      timeoutMs: 500,
      retries: 0,
    });
    const { id } = (await started.json()) as { id: string };
    const controller = new AbortController();
    const response = await fetch(`${base}/scans/${id}/events`, {
      headers: bearer(),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain("event: start");
    controller.abort();
    await fixture.server.scans.settled(id);
    const scan = await fixture.store.requireScan(id);
    expect(scan.status).toBe("completed");
    expect(scan.probesDone).toBe(32);
  });

  it("refuses a target outside the declared scope (a loopback address) and stores nothing", async () => {
    const before = await fixture.store.listScans();
    const response = await post("/scans", {
      targets: [OUTSIDE_SCOPE],
      ports: "T:9",
      checks: "none",
    });
    expect(response.status).toBe(422);
    expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    const problem = (await response.json()) as Record<string, unknown>;
    expect(problem["detail"]).toContain(OUTSIDE_SCOPE);
    expect(problem["code"]).toBe("RINGFENCE_SCOPE_VIOLATION");
    expect(await fixture.store.listScans()).toEqual(before);
  });

  it("cancel interrupts a running scan; resume completes it", async () => {
    const started = await post("/scans", {
      targets: ["127.91.4.0/26"],
      ports: `T:${openPort}`,
      checks: "none",
      engine: "connect",
      rate: 10,
      timeoutMs: 500,
      retries: 0,
    });
    expect(started.status).toBe(202);
    const { id } = (await started.json()) as { id: string };
    let cancelled: Promise<Response> | undefined;
    const first = await readEvents(id, (event) => {
      // Cancel once the scan is seen making progress.
      if (event.event === "progress" && cancelled === undefined)
        cancelled = post(`/scans/${id}/cancel`);
    });
    expect((await cancelled!).status).toBe(202);
    const interrupted = first.at(-1)!.data;
    expect(interrupted["status"]).toBe("interrupted");
    expect(Number(interrupted["probesDone"])).toBeLessThan(64);

    // Cancelling what no longer runs is a conflict.
    const late = await post(`/scans/${id}/cancel`);
    expect(late.status).toBe(409);

    const resumed = await post(`/scans/${id}/resume`);
    expect(resumed.status).toBe(202);
    const second = await readEvents(id);
    expect(second[0]!.event).toBe("start");
    expect(second[0]!.data["resumed"]).toBe(true);
    expect(second.at(-1)!.data).toMatchObject({ status: "completed", probesDone: 64 });
    // Resume again: nothing left to resume.
    const twice = await post(`/scans/${id}/resume`);
    expect(twice.status).toBe(409);

    const audit = await fixture.store.listAuditEntries({ subject: `scan:${id}` });
    expect(audit.map((e) => [e.kind, e.actor])).toEqual([
      ["scan-start", "api:test-operator"],
      ["scan-cancel", "api:test-operator"],
      ["scan-resume", "api:test-operator"],
    ]);
  });
});
