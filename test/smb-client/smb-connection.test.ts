import type { Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  SESSION_PACKET_TYPE,
  SessionFramer,
  encodeSessionPacket,
} from "../../src/protocols/netbios/index.js";
import { openSmbConnection } from "../../src/smb/smb-connection.js";
import { isSmbFailure } from "../../src/smb/smb-failure.js";
import { loopbackScope, startServer, type TestServer } from "../rpc/peer-server.js";

/**
 * The SMB connection against scripted TCP peers on loopback: the NetBIOS session request and its
 * fallback names (RFC 1002 §4.3.2-4.3.5), and the limits every connection enforces (read
 * deadline, per-host deadline, message cap, byte cap) whatever the peer does.
 */

const HOST = "127.0.0.41";
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A TCP 139 peer that accepts only `accepts` as the called name. */
function netbiosPeer(accepts: string, calledNames: string[]): (s: Socket) => void {
  return (socket) => {
    const framer = new SessionFramer({ transport: "netbios" });
    socket.on("data", (chunk: Buffer) => {
      for (const packet of framer.push(chunk).packets) {
        if (packet.type !== "session-request") continue;
        calledNames.push(packet.calledName);
        if (packet.calledName === accepts) {
          socket.write(encodeSessionPacket({ type: "positive-response" }));
        } else {
          // RFC 1002 §4.3.4: a negative response, then the server closes.
          socket.end(encodeSessionPacket({ type: "negative-response", errorCode: 0x82 }));
        }
      }
    });
  };
}

describe("TCP 139: the NetBIOS session request", () => {
  it("calls *SMBSERVER first, then the host's own name on a fresh connection", async () => {
    const called: string[] = [];
    server = await startServer(HOST, netbiosPeer("LABHOST", called));
    const connection = await openSmbConnection(
      { address: HOST, port: server.port, transport: "netbios" },
      { scope: loopbackScope(), calledNames: ["labhost"], readTimeoutMs: 1000 },
    );
    if (isSmbFailure(connection)) throw new Error(connection.message);
    expect(connection.calledName).toBe("LABHOST");
    expect(connection.sessionAttempts).toEqual([
      { calledName: "*SMBSERVER", outcome: "negative: called name not present" },
      { calledName: "LABHOST", outcome: "positive" },
    ]);
    expect(called).toEqual(["*SMBSERVER", "LABHOST"]);
    expect(server.connections()).toBe(2);
    connection.close();
  });

  it("reports every refused name, and never follows a retarget", async () => {
    server = await startServer(HOST, (socket) =>
      socket.once("data", () =>
        socket.write(
          encodeSessionPacket({ type: "retarget-response", address: "127.0.0.99", port: 139 }),
        ),
      ),
    );
    const connection = await openSmbConnection(
      { address: HOST, port: server.port, transport: "netbios" },
      { scope: loopbackScope(), calledNames: ["OTHER"], readTimeoutMs: 1000 },
    );
    expect(isSmbFailure(connection) && connection.code).toBe("session-refused");
    expect(isSmbFailure(connection) && connection.message).toContain(
      "retarget to 127.0.0.99:139 (not followed)",
    );
    expect(server.connections()).toBe(1);
  });
});

describe("limits", () => {
  it("a silent server ends at the read deadline", async () => {
    server = await startServer(HOST, () => undefined);
    const connection = await openSmbConnection(
      { address: HOST, port: server.port, transport: "direct-tcp" },
      { scope: loopbackScope(), readTimeoutMs: 200 },
    );
    if (isSmbFailure(connection)) throw new Error(connection.message);
    connection.send(new Uint8Array(8));
    const started = performance.now();
    const reply = await connection.receive();
    expect(isSmbFailure(reply) && reply.code).toBe("read-timeout");
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("the per-host deadline cuts a longer read deadline short", async () => {
    server = await startServer(HOST, () => undefined);
    const connection = await openSmbConnection(
      { address: HOST, port: server.port, transport: "direct-tcp" },
      { scope: loopbackScope(), readTimeoutMs: 60_000, deadline: performance.now() + 300 },
    );
    if (isSmbFailure(connection)) throw new Error(connection.message);
    const reply = await connection.receive();
    expect(isSmbFailure(reply) && reply.code).toBe("deadline");
  });

  it("refuses a frame longer than the message cap before reading it", async () => {
    server = await startServer(HOST, (socket) => socket.write(Uint8Array.of(0, 0xff, 0xff, 0xff)));
    const connection = await openSmbConnection(
      { address: HOST, port: server.port, transport: "direct-tcp" },
      { scope: loopbackScope(), readTimeoutMs: 1000 },
    );
    if (isSmbFailure(connection)) throw new Error(connection.message);
    const reply = await connection.receive();
    expect(isSmbFailure(reply) && reply.code).toBe("decode");
  });

  it("stops at the byte cap of one connection", async () => {
    // A positive session response, then endless keep-alives: each a valid packet the client
    // skips, so only the byte cap ends the wait.
    server = await startServer(HOST, (socket) => {
      socket.once("data", () => {
        socket.write(encodeSessionPacket({ type: "positive-response" }));
        const keepAlive = Buffer.alloc(4 * 1024, 0);
        for (let i = 0; i < keepAlive.length; i += 4) keepAlive[i] = SESSION_PACKET_TYPE.keepAlive;
        const timer = setInterval(() => socket.write(keepAlive), 1);
        socket.on("close", () => clearInterval(timer));
      });
    });
    const connection = await openSmbConnection(
      { address: HOST, port: server.port, transport: "netbios" },
      { scope: loopbackScope(), readTimeoutMs: 10_000, maxConnectionBytes: 64 * 1024 },
    );
    if (isSmbFailure(connection)) throw new Error(connection.message);
    const reply = await connection.receive();
    expect(isSmbFailure(reply) && reply.code).toBe("byte-cap");
  });

  it("refuses an address outside the scope before connecting", async () => {
    server = await startServer(HOST, () => undefined);
    const only = loopbackScope();
    const connection = await openSmbConnection(
      { address: "10.255.255.1", port: server.port, transport: "direct-tcp" },
      { scope: only },
    );
    expect(isSmbFailure(connection) && connection.code).toBe("scope-violation");
    expect(server.connections()).toBe(0);
  });
});
