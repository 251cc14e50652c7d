import type { Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { encodeResponse, PFC_FIRST_FRAG } from "../../src/protocols/dcerpc/index.js";
import {
  dumpEndpointMapper,
  isRpcFailure,
  type ProtocolSequence,
  type RpcFailure,
} from "../../src/rpc/index.js";
import {
  bindAck,
  callIdOf,
  loopbackScope,
  onPdus,
  startServer,
  type TestServer,
} from "./peer-server.js";

/**
 * A hostile or broken peer must end every exchange within the deadline with a typed failure,
 * never an exception, a hang or unbounded memory (research §3.3 "parse defensively").
 */
const HOST = "127.0.0.32";
const DEADLINE_MS = 400;
/** Scheduling slack on a shared, noisy machine (lab-and-peers.md §0). */
const SLACK_MS = 1500;

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function dumpAgainst(
  behaviour: (socket: Socket) => void,
  protseq: ProtocolSequence = "ncacn_ip_tcp",
): Promise<{ failure: RpcFailure; elapsed: number }> {
  server = await startServer(HOST, behaviour);
  const started = performance.now();
  const result = await dumpEndpointMapper(
    { protseq, host: HOST, endpoint: String(server.port) },
    { scope: loopbackScope(), connectTimeoutMs: DEADLINE_MS, readTimeoutMs: DEADLINE_MS },
  );
  const elapsed = performance.now() - started;
  if (!isRpcFailure(result)) throw new Error("expected a failure, got a dump");
  return { failure: result, elapsed };
}

/** Answer the bind properly, then let `onRequest` misbehave. */
function bindThen(onRequest: (socket: Socket, callId: number) => void) {
  return (socket: Socket) =>
    onPdus(socket, (pdu) => {
      if (pdu[2] === 0x0b) socket.write(bindAck(callIdOf(pdu)));
      else onRequest(socket, callIdOf(pdu));
    });
}

describe("hostile endpoint mapper", () => {
  it("truncated PDU then close → connection-closed, mid-PDU", async () => {
    const { failure, elapsed } = await dumpAgainst(
      bindThen((s, callId) => {
        const response = encodeResponse({ callId, contextId: 0, stub: new Uint8Array(40) });
        s.end(response.subarray(0, 30));
      }),
    );
    expect(failure.code).toBe("connection-closed");
    expect(failure.message).toMatch(/middle of a PDU/);
    expect(elapsed).toBeLessThan(DEADLINE_MS + SLACK_MS);
  });

  it("frag_length bigger than what is sent → read-timeout at the deadline", async () => {
    const { failure, elapsed } = await dumpAgainst(
      bindThen((s, callId) => {
        const response = Buffer.from(
          encodeResponse({ callId, contextId: 0, stub: new Uint8Array(40) }),
        );
        response.writeUInt16LE(1000, 8); // claims 1000 bytes, sends 64, keeps the connection open
        s.write(response);
      }),
    );
    expect(failure.code).toBe("read-timeout");
    expect(elapsed).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
    expect(elapsed).toBeLessThan(DEADLINE_MS + SLACK_MS);
  });

  it("frag_length above our max_recv_frag → decode failure with the stream offset", async () => {
    const { failure } = await dumpAgainst((socket) =>
      onPdus(socket, (pdu) => {
        const ack = Buffer.from(bindAck(callIdOf(pdu)));
        ack.writeUInt16LE(0xffff, 8);
        socket.write(ack);
      }),
    );
    expect(failure.code).toBe("not-endpoint-mapper");
    expect(failure.issue?.what).toBe("frag_length");
    expect(failure.issue?.offset).toBe(8);
  });

  it("endless fragments never marked last → bounded by the fragment cap, within the deadline", async () => {
    let stop = false;
    const { failure, elapsed } = await dumpAgainst(
      bindThen((s, callId) => {
        const first = encodeResponse({
          callId,
          contextId: 0,
          stub: new Uint8Array(64),
          pfcFlags: PFC_FIRST_FRAG,
        });
        const middle = encodeResponse({
          callId,
          contextId: 0,
          stub: new Uint8Array(64),
          pfcFlags: 0,
        });
        s.write(first);
        const pump = () => {
          if (stop || s.destroyed) return;
          s.write(middle, () => setImmediate(pump));
        };
        pump();
      }),
    );
    stop = true;
    expect(["decode", "byte-cap"]).toContain(failure.code);
    expect(failure.message).toMatch(/fragments|cap/);
    expect(elapsed).toBeLessThan(DEADLINE_MS + SLACK_MS);
  });

  it("slow drip of a valid bind_ack past the deadline → read-timeout, not extended by each byte", async () => {
    const { failure, elapsed } = await dumpAgainst((socket) =>
      onPdus(socket, (pdu) => {
        const ack = bindAck(callIdOf(pdu));
        let at = 0;
        const timer = setInterval(() => {
          if (socket.destroyed || at >= ack.length) return clearInterval(timer);
          socket.write(ack.subarray(at, ++at));
        }, 50);
        socket.on("close", () => clearInterval(timer));
      }),
    );
    expect(failure.code).toBe("read-timeout");
    expect(elapsed).toBeLessThan(DEADLINE_MS + SLACK_MS);
  });

  it("http: garbage after the banner → not an endpoint mapper, decode issue with its offset", async () => {
    const { failure, elapsed } = await dumpAgainst((socket) => {
      socket.write("ncacn_http/1.0");
      onPdus(socket, () => socket.write("HTTP/1.1 400 Bad Request\r\n\r\n"));
    }, "ncacn_http");
    expect(failure.code).toBe("not-endpoint-mapper");
    // The header check fails on byte 0 of the garbage, which sits after the 14-byte banner.
    expect(failure.issue?.offset).toBeGreaterThanOrEqual(14);
    expect(failure.message).toMatch(/offset \d+/);
    expect(elapsed).toBeLessThan(DEADLINE_MS + SLACK_MS);
  });

  it("http: a wrong banner → bad-banner", async () => {
    const { failure } = await dumpAgainst(
      (socket) => socket.write("HTTP/1.1 200 OK\r\n"),
      "ncacn_http",
    );
    expect(failure.code).toBe("bad-banner");
  });

  it("http: no banner at all → read-timeout", async () => {
    const { failure, elapsed } = await dumpAgainst(() => undefined, "ncacn_http");
    expect(failure.code).toBe("read-timeout");
    expect(elapsed).toBeLessThan(DEADLINE_MS + SLACK_MS);
  });

  it("a flood past the association byte cap → byte-cap", async () => {
    server = await startServer(HOST, (socket) => {
      const junk = Buffer.alloc(64 * 1024, 0x41);
      const pump = () => !socket.destroyed && socket.write(junk, () => setImmediate(pump));
      pump();
    });
    const result = await dumpEndpointMapper(
      { protseq: "ncacn_http", host: HOST, endpoint: String(server.port) },
      { scope: loopbackScope(), readTimeoutMs: DEADLINE_MS, maxAssociationBytes: 4096 },
    );
    // The banner check fails first on "AAAA…" unless the first chunk already exceeds the cap.
    expect(isRpcFailure(result) && ["bad-banner", "byte-cap"].includes(result.code)).toBe(true);
  });

  it("a refused port → connection-refused", async () => {
    server = await startServer(HOST, () => undefined);
    const port = server.port;
    await server.close();
    server = undefined;
    const result = await dumpEndpointMapper(
      { protseq: "ncacn_ip_tcp", host: HOST, endpoint: String(port) },
      { scope: loopbackScope(), connectTimeoutMs: DEADLINE_MS },
    );
    expect(isRpcFailure(result) && result.code).toBe("connection-refused");
  });

  it("a fault to ept_lookup → typed failure naming the status", async () => {
    const { failure } = await dumpAgainst(
      bindThen((s, callId) => {
        const fault = Buffer.alloc(32);
        Buffer.from([5, 0, 3, 3, 0x10, 0, 0, 0]).copy(fault);
        fault.writeUInt16LE(32, 8);
        fault.writeUInt32LE(callId, 12);
        fault.writeUInt32LE(0x1c010002, 24); // nca_s_op_rng_error
        s.write(fault);
      }),
    );
    expect(failure.code).toBe("protocol");
    expect(failure.message).toContain("nca_s_op_rng_error");
  });
});
