import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  NT_STATUS,
  SMB2_COMMAND,
  SMB2_DIALECT,
  encodeSmb2LogoffRequest,
  encodeSmb2LogoffResponse,
} from "../../src/protocols/smb/index.js";
import { Smb2Client, smb2NegotiateRequest } from "../../src/smb/smb2-client.js";
import { isSmbFailure } from "../../src/smb/smb-failure.js";
import {
  ScriptedChannel,
  errorResponse,
  negotiateResponse,
  pendingResponse,
  sentHeader,
} from "./scripted-channel.js";

/**
 * The SMB2 client's state handling against scripted servers: message ids and credits
 * (MS-SMB2 §3.2.4.1.3, §3.2.4.1.5, §3.2.5.1.4) and the STATUS_PENDING bound (§3.2.5.1.5), the
 * two places where a hostile server could make a client loop or violate the sequence window.
 */

const LOGOFF = SMB2_COMMAND.LOGOFF;

describe("STATUS_PENDING interim responses", () => {
  it("waits through interims up to the bound, taking their credits", async () => {
    const channel = new ScriptedChannel((message) => {
      const h = sentHeader(message);
      return [
        ...Array.from({ length: 8 }, () => pendingResponse(h, 1)),
        negotiateResponse(h, SMB2_DIALECT.SMB_2_1, 2),
      ];
    });
    const client = new Smb2Client(channel, { readTimeoutMs: 500 });
    const response = await client.negotiate(smb2NegotiateRequest([SMB2_DIALECT.SMB_2_1]));
    expect(isSmbFailure(response)).toBe(false);
    // 1 initial − 1 spent + 8 interim grants + 2 final.
    expect(client.availableCredits).toBe(10);
    expect(client.dialect).toBe(SMB2_DIALECT.SMB_2_1);
  });

  it("gives up after more interims than the bound (a server that pends forever)", async () => {
    const channel = new ScriptedChannel((message) => {
      const h = sentHeader(message);
      return Array.from({ length: 1000 }, () => pendingResponse(h, 1));
    });
    const client = new Smb2Client(channel, { readTimeoutMs: 60_000, maxInterimResponses: 8 });
    const started = performance.now();
    const response = await client.negotiate(smb2NegotiateRequest([SMB2_DIALECT.SMB_2_1]));
    expect(isSmbFailure(response) && response.code).toBe("pending-limit");
    // It ended on the count, not the (long) deadline, and closed the connection.
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(channel.closed).toBe(true);
    // Nothing more is sent on a failed client.
    const after = await client.exchange(LOGOFF, (h) => encodeSmb2LogoffRequest(h));
    expect(isSmbFailure(after) && after.code).toBe("pending-limit");
    expect(channel.sent).toHaveLength(1);
  });

  it("a slow trickle of interims still ends at the one read deadline of the request", async () => {
    // Three interims, then silence: the request's single deadline ends it.
    const channel = new ScriptedChannel((message) => {
      const h = sentHeader(message);
      return [pendingResponse(h), pendingResponse(h), pendingResponse(h)];
    });
    const client = new Smb2Client(channel, { readTimeoutMs: 200 });
    const started = performance.now();
    const response = await client.negotiate(smb2NegotiateRequest([SMB2_DIALECT.SMB_2_1]));
    expect(isSmbFailure(response) && response.code).toBe("read-timeout");
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe("message ids and credits", () => {
  it("refuses to send with no credit left rather than overrun the server's window", async () => {
    const channel = new ScriptedChannel((message) => {
      const h = sentHeader(message);
      // The server grants nothing, ever.
      return [
        h.command === SMB2_COMMAND.NEGOTIATE
          ? negotiateResponse(h, SMB2_DIALECT.SMB_2_1, 0)
          : errorResponse(h, 0, 0),
      ];
    });
    const client = new Smb2Client(channel);
    expect(isSmbFailure(await client.negotiate(smb2NegotiateRequest([SMB2_DIALECT.SMB_2_1])))).toBe(
      false,
    );
    expect(client.availableCredits).toBe(0);
    const next = await client.exchange(LOGOFF, (h) => encodeSmb2LogoffRequest(h));
    expect(isSmbFailure(next) && next.code).toBe("no-credits");
    expect(channel.sent).toHaveLength(1);
  });

  it("does not believe grants beyond its cap", async () => {
    const channel = new ScriptedChannel((message) => [
      negotiateResponse(sentHeader(message), SMB2_DIALECT.SMB_2_1, 0xffff),
    ]);
    const client = new Smb2Client(channel, { maxCredits: 512 });
    await client.negotiate(smb2NegotiateRequest([SMB2_DIALECT.SMB_2_1]));
    expect(client.availableCredits).toBe(512);
  });

  it("charges multi-credit requests (LARGE_MTU above 2.0.2) and skips as many message ids", async () => {
    const channel = new ScriptedChannel((message) => {
      const h = sentHeader(message);
      return [
        h.command === SMB2_COMMAND.NEGOTIATE
          ? negotiateResponse(h, SMB2_DIALECT.SMB_3_0_2, 16)
          : encodeSmb2LogoffResponse({ messageId: h.messageId, credits: 4 }),
      ];
    });
    const client = new Smb2Client(channel);
    await client.negotiate(smb2NegotiateRequest([SMB2_DIALECT.SMB_3_0_2]));
    expect(client.supportsMultiCredit).toBe(true);
    await client.exchange(LOGOFF, (h) => encodeSmb2LogoffRequest(h), 200_000);
    await client.exchange(LOGOFF, (h) => encodeSmb2LogoffRequest(h), 10);
    const headers = channel.sent.map(sentHeader);
    expect(headers.map((h) => [h.messageId, h.creditCharge])).toEqual([
      [0n, 0],
      [1n, 4],
      [5n, 1],
    ]);
  });

  it("2.0.2 has no CreditCharge: every request costs one credit and one id", async () => {
    const channel = new ScriptedChannel((message) => {
      const h = sentHeader(message);
      return [
        h.command === SMB2_COMMAND.NEGOTIATE
          ? negotiateResponse(h, SMB2_DIALECT.SMB_2_0_2, 8)
          : encodeSmb2LogoffResponse({ messageId: h.messageId, credits: 1 }),
      ];
    });
    const client = new Smb2Client(channel);
    await client.negotiate(smb2NegotiateRequest([SMB2_DIALECT.SMB_2_0_2]));
    await client.exchange(LOGOFF, (h) => encodeSmb2LogoffRequest(h), 200_000);
    expect(channel.sent.map((m) => [sentHeader(m).messageId, sentHeader(m).creditCharge])).toEqual([
      [0n, 0],
      [1n, 0],
    ]);
  });

  it("holds the invariants whatever the server grants (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 20 }),
        fc.array(
          fc.record({
            grant: fc.integer({ min: 0, max: 20 }),
            payload: fc.integer({ min: 0, max: 300_000 }),
          }),
          {
            minLength: 1,
            maxLength: 40,
          },
        ),
        async (firstGrant, steps) => {
          let step = -1;
          const channel = new ScriptedChannel((message) => {
            const h = sentHeader(message);
            if (h.command === SMB2_COMMAND.NEGOTIATE)
              return [negotiateResponse(h, SMB2_DIALECT.SMB_3_0_2, firstGrant)];
            step++;
            return [
              encodeSmb2LogoffResponse({ messageId: h.messageId, credits: steps[step]!.grant }),
            ];
          });
          const client = new Smb2Client(channel, { maxCredits: 64 });
          await client.negotiate(smb2NegotiateRequest([SMB2_DIALECT.SMB_3_0_2]));
          // The model: MS-SMB2 §3.2.4.1.3 / §3.2.5.1.4.
          let credits = Math.min(64, 1 - 1 + firstGrant);
          let nextId = 1n;
          for (const { grant, payload } of steps) {
            const cost = 1 + Math.floor(Math.max(0, payload - 1) / 65536);
            const before = channel.sent.length;
            const reply = await client.exchange(LOGOFF, (h) => encodeSmb2LogoffRequest(h), payload);
            if (credits < cost) {
              expect(isSmbFailure(reply) && reply.code).toBe("no-credits");
              expect(channel.sent.length).toBe(before);
              return;
            }
            expect(isSmbFailure(reply)).toBe(false);
            const sent = sentHeader(channel.sent[channel.sent.length - 1]!);
            expect(sent.messageId).toBe(nextId);
            expect(sent.creditCharge).toBe(cost);
            expect(sent.credits).toBeGreaterThanOrEqual(cost);
            credits = Math.min(64, credits - cost + grant);
            nextId += BigInt(cost);
            expect(client.availableCredits).toBe(credits);
          }
          // Never a reused or overlapping message id.
          const headers = channel.sent.map(sentHeader);
          for (let i = 1; i < headers.length; i++) {
            const prev = headers[i - 1]!;
            expect(headers[i]!.messageId).toBeGreaterThanOrEqual(
              prev.messageId + BigInt(Math.max(1, prev.creditCharge)),
            );
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("replies that do not belong", () => {
  const negotiated = async (respond: (h: ReturnType<typeof sentHeader>) => Uint8Array[]) => {
    const channel = new ScriptedChannel((message) => {
      const h = sentHeader(message);
      return h.command === SMB2_COMMAND.NEGOTIATE
        ? [negotiateResponse(h, SMB2_DIALECT.SMB_2_1, 8)]
        : respond(h);
    });
    const client = new Smb2Client(channel, { readTimeoutMs: 300 });
    await client.negotiate(smb2NegotiateRequest([SMB2_DIALECT.SMB_2_1]));
    return { client, channel };
  };

  it("a response to another message id is a protocol failure", async () => {
    const { client } = await negotiated((h) => [
      encodeSmb2LogoffResponse({ messageId: h.messageId + 5n, credits: 1 }),
    ]);
    const reply = await client.exchange(LOGOFF, (h) => encodeSmb2LogoffRequest(h));
    expect(isSmbFailure(reply) && reply.code).toBe("protocol");
  });

  it("unsolicited oplock breaks are skipped, but only a few", async () => {
    const unsolicited = (h: ReturnType<typeof sentHeader>) =>
      encodeSmb2LogoffResponse({
        messageId: 0xffffffffffffffffn,
        credits: 0,
        sessionId: h.sessionId,
      });
    const { client } = await negotiated((h) => [
      unsolicited(h),
      unsolicited(h),
      encodeSmb2LogoffResponse({ messageId: h.messageId, credits: 1 }),
    ]);
    expect(isSmbFailure(await client.exchange(LOGOFF, (h) => encodeSmb2LogoffRequest(h)))).toBe(
      false,
    );
    const flood = await negotiated((h) => Array.from({ length: 50 }, () => unsolicited(h)));
    const reply = await flood.client.exchange(LOGOFF, (h) => encodeSmb2LogoffRequest(h));
    expect(isSmbFailure(reply) && reply.code).toBe("protocol");
  });

  it("an encrypted (transform) reply is reported as unsupported", async () => {
    const transform = new Uint8Array(52);
    transform.set([0xfd, 0x53, 0x4d, 0x42]);
    const { client } = await negotiated(() => [transform]);
    const reply = await client.exchange(LOGOFF, (h) => encodeSmb2LogoffRequest(h));
    expect(isSmbFailure(reply) && reply.code).toBe("unsupported");
  });

  it("an error status is a reply, not a failure: the connection stays usable", async () => {
    let first = true;
    const { client } = await negotiated((h) => {
      const out = first
        ? errorResponse(h, NT_STATUS.ACCESS_DENIED, 1)
        : encodeSmb2LogoffResponse({ messageId: h.messageId, credits: 1 });
      first = false;
      return [out];
    });
    const denied = await client.exchange(LOGOFF, (h) => encodeSmb2LogoffRequest(h));
    expect(!isSmbFailure(denied) && denied.header.status >>> 0).toBe(NT_STATUS.ACCESS_DENIED);
    expect(isSmbFailure(await client.logoff())).toBe(false);
  });
});
