import type net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveDcerpc } from "../../src/lab/dcerpc-handler.js";
import {
  serveHostileRpc,
  type HostilePeerBehaviour,
  type HostileTimings,
} from "../../src/lab/hostile-rpc.js";
import { Estate, PERSONAS, type LabHost } from "../../src/lab/personas.js";
import type { ConnectionHandler } from "../../src/lab/protocol-handlers.js";
import {
  EPMAPPER,
  IREMOTE_ACTIVATION,
  NDR_TRANSFER_SYNTAX,
  PFC_FIRST_FRAG,
  PFC_LAST_FRAG,
  PTYPE,
  decodePdu,
  encodeBind,
  encodeRequest,
  isDecodeIssue,
} from "../../src/protocols/dcerpc/index.js";
import { checkARemoteActivationStub } from "../../src/protocols/dcom/index.js";
import { RawClient, closeServers, serveInProcess } from "./in-process.js";
import { RpcTestClient } from "./rpc-client.js";

/**
 * The hostile personas' wire behaviour, byte by byte, in process with short timings (the daemon
 * uses the same handler with HOSTILE_TIMINGS; lab-catalogue.test.ts checks it there). Every wait
 * is bounded by the lab's own idle timeout, which ends each connection: no test asserts a duration.
 */

const IDLE_MS = 300;
const FAST: HostileTimings = {
  dripIntervalMs: 10,
  fragmentIntervalMs: 1,
  maxBytesPerConnection: 8_192,
};
const estate = new Estate("hostile", PERSONAS.length, "catalogue");
const servers: net.Server[] = [];
const ports = new Map<string, number>();

function hostOf(personaId: string): LabHost {
  return estate.host(PERSONAS.findIndex((p) => p.id === personaId));
}

const BEHAVIOURS: HostilePeerBehaviour[] = [
  "truncated",
  "frag-lie",
  "endless-fragments",
  "slow-drip",
  "garbage-after-bind",
];

beforeAll(async () => {
  for (const behaviour of BEHAVIOURS) {
    const handler: ConnectionHandler = (socket, context) =>
      serveHostileRpc(socket, context, behaviour, FAST);
    const { port, server } = await serveInProcess(
      handler,
      hostOf(`rpc-${behaviour}`),
      135,
      IDLE_MS,
    );
    servers.push(server);
    ports.set(behaviour, port);
  }
  // A healthy neighbour served by the same handler module, to show nothing leaks between peers.
  const healthy = await serveInProcess(serveDcerpc, hostOf("w2k-sp4"), 135, IDLE_MS);
  servers.push(healthy.server);
  ports.set("healthy", healthy.port);
});

afterAll(() => closeServers(servers));

function portOf(key: string): number {
  const port = ports.get(key);
  if (port === undefined) throw new Error(key);
  return port;
}

function bind(callId = 1): Uint8Array {
  return encodeBind({
    callId,
    contexts: [
      { contextId: 0, abstractSyntax: IREMOTE_ACTIVATION, transferSyntaxes: [NDR_TRANSFER_SYNTAX] },
    ],
  });
}

const fragLength = (bytes: Buffer): number => bytes.readUInt16LE(8);

/** A bind_ack the way it would decode had frag_length told the truth. */
function decodeWithLength(bytes: Buffer, length: number) {
  const copy = Buffer.from(bytes.subarray(0, length));
  copy.writeUInt16LE(length, 8);
  return decodePdu(copy);
}

async function healthyStillServes(): Promise<void> {
  const client = await RpcTestClient.connect("127.0.0.1", portOf("healthy"));
  expect((await client.bind())?.type).toBe("bind_ack");
  expect((await client.lookupAll()).statuses).toEqual([0]);
  client.close();
}

describe("hostile DCE/RPC personas (in process)", () => {
  it("truncated: frag_length promises 64 bytes more than ever arrive, then silence until idle", async () => {
    const client = await RawClient.connect(portOf("truncated"));
    client.send(bind(5));
    // The lab ends the connection after its idle timeout: everything it sent has arrived.
    await client.closed;
    const got = client.received;
    expect(got[0]).toBe(5);
    expect(got[2]).toBe(PTYPE.bind_ack);
    expect(fragLength(got)).toBe(got.length + 64);
    expect(decodeWithLength(got, got.length)).toMatchObject({ type: "bind_ack", callId: 5 });
    await healthyStillServes();
  });

  it("frag-lie: frag_length 0, 0xFFFF or 10 by call_id mod 3, over an otherwise valid bind_ack", async () => {
    const lies = new Map<number, number>();
    for (const callId of [3, 1, 2]) {
      const client = await RawClient.connect(portOf("frag-lie"));
      client.send(bind(callId));
      await client.closed;
      const got = client.received;
      lies.set(callId, fragLength(got));
      expect(got.length).toBeGreaterThan(16);
      expect(decodeWithLength(got, got.length)).toMatchObject({ type: "bind_ack", callId });
    }
    expect([...lies.values()]).toEqual([0, 0xffff, 10]);
    await healthyStillServes();
  });

  it("endless-fragments: first fragment flagged FIRST, none LAST, stopped by the byte cap", async () => {
    const client = await RawClient.connect(portOf("endless-fragments"));
    client.send(bind(1));
    await client.atLeast(16);
    const ackLength = fragLength(client.received);
    client.send(
      encodeRequest({ callId: 2, contextId: 0, opnum: 0, stub: checkARemoteActivationStub() }),
    );
    // After the cap the lab goes quiet and its idle timeout closes the connection.
    await client.closed;
    const got = client.received;
    expect(got.length).toBeLessThanOrEqual(FAST.maxBytesPerConnection);
    const fragments: { flags: number; callId: number }[] = [];
    for (let at = ackLength; at + 16 <= got.length;) {
      const length = fragLength(got.subarray(at));
      if (at + length > got.length) break; // the last one, cut by the cap
      const pdu = decodePdu(got.subarray(at, at + length));
      if (isDecodeIssue(pdu)) throw new Error(pdu.message);
      expect(pdu.type).toBe("response");
      fragments.push({ flags: pdu.pfcFlags, callId: pdu.callId });
      at += length;
    }
    expect(fragments.length).toBeGreaterThan(4);
    expect(fragments[0]?.flags).toBe(PFC_FIRST_FRAG);
    expect(fragments.every((f) => (f.flags & PFC_LAST_FRAG) === 0)).toBe(true);
    expect(fragments.slice(1).every((f) => (f.flags & PFC_FIRST_FRAG) === 0)).toBe(true);
    expect(fragments.every((f) => f.callId === 2)).toBe(true);
    await healthyStillServes();
  });

  it("endless-fragments: a client that closes early ends the stream", async () => {
    for (let round = 0; round < 5; round++) {
      const client = await RawClient.connect(portOf("endless-fragments"));
      client.send(bind(1));
      await client.atLeast(16);
      client.send(encodeRequest({ callId: 2, contextId: 0, opnum: 0, stub: new Uint8Array(8) }));
      await client.atLeast(fragLength(client.received) + 100);
      client.close();
    }
    await healthyStillServes();
  });

  it("slow-drip: a valid bind_ack, one byte at a time", async () => {
    const client = await RawClient.connect(portOf("slow-drip"));
    client.send(bind(7));
    await client.closed;
    const got = client.received;
    expect(client.chunks[0]?.length).toBe(1);
    expect(client.chunks.length).toBeGreaterThan(1);
    expect(got.length).toBe(fragLength(got));
    expect(decodePdu(got)).toMatchObject({ type: "bind_ack", callId: 7 });
    await healthyStillServes();
  });

  it("garbage-after-bind: a valid bind_ack, then bytes that are no PDU", async () => {
    const client = await RawClient.connect(portOf("garbage-after-bind"));
    client.send(bind(1));
    await client.atLeast(16);
    const ackLength = fragLength(client.received);
    expect(decodePdu(client.received.subarray(0, ackLength))).toMatchObject({ type: "bind_ack" });
    client.send(
      encodeRequest({ callId: 2, contextId: 0, opnum: 0, stub: checkARemoteActivationStub() }),
    );
    await client.atLeast(ackLength + 256);
    const garbage = client.received.subarray(ackLength);
    expect(garbage.length).toBe(256);
    expect(garbage[0]).not.toBe(5);
    client.close();
    await healthyStillServes();
  });

  it.each(BEHAVIOURS)("%s: closes at once on a first PDU that is not a bind", async (behaviour) => {
    const client = await RawClient.connect(portOf(behaviour));
    client.send(encodeRequest({ callId: 1, contextId: 0, opnum: 0, stub: new Uint8Array(8) }));
    await client.closed;
    expect(client.received.length).toBe(0);
  });

  it("a port scan (connect, say nothing) sees a plain open port on every one", async () => {
    const clients = await Promise.all(BEHAVIOURS.map((b) => RawClient.connect(portOf(b))));
    await Promise.all(clients.map((c) => c.closed));
    expect(clients.map((c) => c.received.length)).toEqual(BEHAVIOURS.map(() => 0));
  });

  it("the catalogue's hostile personas are routed to these behaviours by serveDcerpc", async () => {
    const { port, server } = await serveInProcess(
      serveDcerpc,
      hostOf("rpc-frag-lie"),
      135,
      IDLE_MS,
    );
    try {
      const client = await RawClient.connect(port);
      client.send(
        encodeBind({
          callId: 2,
          contexts: [
            { contextId: 0, abstractSyntax: EPMAPPER, transferSyntaxes: [NDR_TRANSFER_SYNTAX] },
          ],
        }),
      );
      await client.closed;
      expect(fragLength(client.received)).toBe(10);
    } finally {
      await closeServers([server]);
    }
  });
});
