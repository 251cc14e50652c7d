import type net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveHostileSmb, type HostileSmbTimings } from "../../src/lab/hostile-smb.js";
import { Estate, PERSONAS, type LabHost } from "../../src/lab/personas.js";
import type { ConnectionHandler } from "../../src/lab/protocol-handlers.js";
import { serveSmbDirect } from "../../src/lab/smb-handler.js";
import type { HostileSmbBehaviour } from "../../src/lab/smb-profiles.js";
import {
  SessionFramer,
  encodeSessionMessage,
  encodeSessionPacket,
} from "../../src/protocols/netbios/index.js";
import {
  NT_STATUS,
  SMB2_FLAGS,
  decodeSmb2Header,
  decodeSmb2NegotiateResponse,
  encodeSmb1NegotiateRequest,
  encodeSmb2NegotiateRequest,
  isDecodeIssue,
  isSmb2Unsupported,
  splitSmb2Compound,
} from "../../src/protocols/smb/index.js";
import { RawClient, closeServers, serveInProcess } from "./in-process.js";

/**
 * The hostile SMB personas' bytes, in process with short timings (the daemon uses the same
 * handler with HOSTILE_SMB_TIMINGS), and the lab's own health around them: every connection ends
 * (idle timeout or cap), nothing keeps sending after the client leaves, and an ordinary persona
 * served by the same process still answers. No test asserts a duration: every wait is bounded by
 * the lab's idle timeout, which ends the connection.
 */

const IDLE_MS = 300;
const FAST: HostileSmbTimings = { pendingIntervalMs: 5, maxPending: 20 };
const estate = new Estate("hostile-smb", PERSONAS.length, "catalogue");
const servers = new Map<string, net.Server>();
const ports = new Map<string, number>();

function hostOf(id: string): LabHost {
  return estate.host(PERSONAS.findIndex((p) => p.id === id));
}

const BEHAVIOURS: HostileSmbBehaviour[] = [
  "netbios-oversize",
  "structure-lie",
  "truncated",
  "compound-garbage",
  "endless-pending",
];

const NEGOTIATE = encodeSmb2NegotiateRequest(
  {
    dialects: [0x0202, 0x0210],
    securityMode: 1,
    capabilities: 0,
    clientGuid: "01020304-0506-0708-090a-0b0c0d0e0f10",
    contexts: [],
  },
  { messageId: 7n, credits: 1 },
);

beforeAll(async () => {
  for (const behaviour of BEHAVIOURS) {
    for (const transport of ["direct-tcp", "netbios"] as const) {
      const handler: ConnectionHandler = (socket, context) =>
        serveHostileSmb(socket, context, behaviour, transport, FAST);
      const { port, server } = await serveInProcess(
        handler,
        hostOf(`smb-${behaviour}`),
        transport === "direct-tcp" ? 445 : 139,
        IDLE_MS,
      );
      servers.set(`${behaviour}/${transport}`, server);
      ports.set(`${behaviour}/${transport}`, port);
    }
  }
  const normal = await serveInProcess(serveSmbDirect, hostOf("win7-sp1"), 445, IDLE_MS);
  servers.set("normal", normal.server);
  ports.set("normal", normal.port);
});

afterAll(() => closeServers([...servers.values()]));

async function exchange(key: string, requests = 1): Promise<RawClient> {
  const client = await RawClient.connect(ports.get(key) ?? 0);
  for (let i = 0; i < requests; i++) client.send(encodeSessionMessage(NEGOTIATE));
  return client;
}

/** Whole session-message payloads in what arrived (a truncated tail is left out). */
function frames(bytes: Buffer): Uint8Array[] {
  const framer = new SessionFramer({ transport: "direct-tcp", maxMessageLength: 0x1ffff });
  return framer
    .push(bytes)
    .packets.flatMap((p) => (p.type === "session-message" ? [p.payload] : []));
}

describe("hostile SMB peers", () => {
  it("netbios-oversize: announces 0x1FFFF bytes, sends a few hundred, then ends at the idle timeout", async () => {
    const client = await exchange("netbios-oversize/direct-tcp");
    await client.closed;
    const bytes = client.received;
    expect([...bytes.subarray(0, 4)]).toEqual([0x00, 0x01, 0xff, 0xff]);
    expect(bytes.length).toBeGreaterThan(64);
    expect(bytes.length).toBeLessThan(0x1ffff);
  });

  it("structure-lie: every answer is a whole frame whose NEGOTIATE response the codec refuses", async () => {
    const client = await exchange("structure-lie/direct-tcp", 3);
    await client.closed;
    const answers = frames(client.received);
    expect(answers).toHaveLength(3);
    for (const answer of answers)
      expect(isDecodeIssue(decodeSmb2NegotiateResponse(answer))).toBe(true);
  });

  it("truncated: a header promising 256 bytes, 40 of them, then silence until the idle timeout", async () => {
    const client = await exchange("truncated/direct-tcp");
    await client.closed;
    const bytes = client.received;
    expect([...bytes.subarray(0, 4)]).toEqual([0x00, 0x00, 0x01, 0x00]);
    expect(bytes.length).toBe(44);
  });

  it("compound-garbage: NextCommand into junk, then a chain longer than any compound cap", async () => {
    const client = await exchange("compound-garbage/direct-tcp", 2);
    await client.closed;
    const answers = frames(client.received);
    expect(answers).toHaveLength(2);
    for (const answer of answers) expect(isDecodeIssue(splitSmb2Compound(answer))).toBe(true);
  });

  it("endless-pending: interim STATUS_PENDING for the request, never a final answer, up to the cap", async () => {
    const client = await exchange("endless-pending/direct-tcp");
    await client.closed;
    const answers = frames(client.received);
    expect(answers).toHaveLength(FAST.maxPending);
    for (const answer of answers) {
      const header = decodeSmb2Header(answer);
      if (isDecodeIssue(header) || isSmb2Unsupported(header)) throw new Error("not an SMB2 header");
      expect(header.status).toBe(NT_STATUS.PENDING);
      expect(header.flags & SMB2_FLAGS.ASYNC_COMMAND).not.toBe(0);
      expect(header.messageId).toBe(7n);
    }
  });

  it("on 139 each is a normal session service first (positive response), then hostile", async () => {
    for (const behaviour of BEHAVIOURS) {
      const client = await RawClient.connect(ports.get(`${behaviour}/netbios`) ?? 0);
      client.send(
        encodeSessionPacket({
          type: "session-request",
          calledName: "*SMBSERVER",
          calledSuffix: 0x20,
          callingName: "RF",
          callingSuffix: 0,
        }),
      );
      client.send(
        encodeSessionMessage(encodeSmb1NegotiateRequest({ dialects: ["NT LM 0.12"] }), "netbios"),
      );
      await client.closed;
      expect([...client.received.subarray(0, 4)], behaviour).toEqual([0x82, 0x00, 0x00, 0x00]);
      expect(client.received.length, behaviour).toBeGreaterThan(4);
    }
  });

  it("stops sending when the client leaves, and the process keeps serving", async () => {
    const key = "endless-pending/direct-tcp";
    const client = await exchange(key);
    await client.atLeast(100);
    client.close();
    const server = servers.get(key);
    // The server side closes once the client has gone: no connection is left behind.
    for (let i = 0; i < 100; i++) {
      const n = await new Promise<number>((resolve) =>
        server?.getConnections((_e, c) => resolve(c)),
      );
      if (n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(
      await new Promise<number>((resolve) => server?.getConnections((_e, c) => resolve(c))),
    ).toBe(0);
    const normal = await exchange("normal");
    await normal.atLeast(70);
    const [reply] = frames(normal.received);
    expect(reply === undefined ? null : decodeSmb2NegotiateResponse(reply)).toMatchObject({
      dialectRevision: 0x0210,
    });
    normal.close();
  });
});
