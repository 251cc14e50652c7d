/**
 * GET /scans/:id/events: the scan's progress as server-sent events (WHATWG HTML §9.2, "Server-sent
 * events": `event:` and `data:` lines, a blank line ends an event). A scan that is not running
 * here gets its stored state as one "end" event; a running one replays its history, then streams
 * until its "end". Comment lines (": ...") every 15 s keep idle proxies from closing the stream.
 */
import type { FastifyReply } from "fastify";
import type { ScanRecord } from "../store/index.js";
import type { ApiContext } from "./route-kit.js";
import { endEvent, type ScanStreamEvent } from "./scan-manager.js";

const KEEPALIVE_MS = 15_000;

function frame(event: ScanStreamEvent, id: number): string {
  // JSON.stringify never emits a raw newline, so the data fits on one data: line.
  return `id: ${id}\nevent: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

export function streamScanEvents(ctx: ApiContext, scan: ScanRecord, reply: FastifyReply): void {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  let id = 0;
  let ended = false;
  const finish = () => {
    if (ended) return;
    ended = true;
    clearInterval(keepalive);
    subscription?.unsubscribe();
    raw.end();
  };
  const send = (event: ScanStreamEvent) => {
    if (ended) return;
    raw.write(frame(event, ++id));
    if (event.event === "end") finish();
  };
  const keepalive = setInterval(() => raw.write(": keepalive\n\n"), KEEPALIVE_MS);
  const subscription = ctx.scans.subscribe(scan.id, send);
  // The response's close: the client went away (or we ended it). The request's own close event
  // says only that its (empty) body was read.
  raw.on("close", finish);
  if (subscription === undefined) {
    send(endEvent(scan));
    return;
  }
  for (const event of subscription.history) send(event);
}
