import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import {
  SessionFramer,
  encodeSessionMessage,
  encodeSessionPacket,
  type SessionTransport,
} from "../protocols/netbios/index.js";
import {
  NT_STATUS,
  SMB2_COMMAND,
  SMB2_DIALECT,
  encodeSmb2ErrorResponse,
  encodeSmb2Header,
  encodeSmb2NegotiateResponse,
  smb2ResponseHeader,
  sniffSmbProtocol,
} from "../protocols/smb/index.js";
import type { ConnectionContext } from "./protocol-handlers.js";
import type { HostileSmbBehaviour } from "./smb-profiles.js";

/**
 * Hostile SMB peers on TCP 139/445 (the smb-* personas, catalogue layout only), so the SMB
 * client's defensive framing and parsing (a length cap before allocating, offsets checked against
 * the message, bounded compound walks, a per-host deadline) can be shown to end each one with
 * UNKNOWN instead of hanging, allocating or believing it:
 *
 *  - netbios-oversize: to the first SMB message, a session header announcing 0x1FFFF bytes (the
 *    17-bit NetBIOS maximum, RFC 1002 §4.3.1; the same four bytes on 445), a plausible SMB2
 *    NEGOTIATE response of a few hundred bytes, then silence;
 *  - structure-lie: complete frames whose SMB2 NEGOTIATE response lies in turn about its
 *    StructureSize (header 0xFFFF, body 0xFFFF), its SecurityBufferOffset/Length (0xFFFF each)
 *    and its NegotiateContextOffset/Count (0xFFFFFFF0 / 0xFFFF);
 *  - truncated: a session header promising 256 bytes, 40 of them, then silence;
 *  - compound-garbage: an SMB2 response whose NextCommand points at random bytes, or a chain of
 *    200 bare 64-byte headers each pointing at the next, the last past the end of the frame;
 *  - endless-pending: SMB2 interim responses (async header, STATUS_PENDING, MS-SMB2 §3.3.4.2)
 *    for every request, one per tick, never the final response, until the cap.
 *
 * The daemon's own cost stays bounded: at most MAX_BYTES per connection, at most MAX_ANSWERS
 * requests answered, one interval timer per connection cleared on close (and when its cap is
 * reached), input discarded once the behaviour needs nothing more, the idle timeout as usual.
 */

export interface HostileSmbTimings {
  /** endless-pending: one interim response per this many ms. */
  readonly pendingIntervalMs: number;
  /** endless-pending: interim responses per connection before the peer gives up and closes. */
  readonly maxPending: number;
}

export const HOSTILE_SMB_TIMINGS: HostileSmbTimings = Object.freeze({
  pendingIntervalMs: 250,
  // 60 s of STATUS_PENDING: longer than any client's per-host budget should let it wait.
  maxPending: 240,
});

const MAX_BYTES = 256 * 1024;
/** Requests a behaviour answers before it goes deaf. */
const MAX_ANSWERS = 16;
/** truncated: the length promised and the bytes actually sent. */
const TRUNCATED_PROMISE = 256;
const TRUNCATED_SENT = 40;
/** compound-garbage: bare headers in the long chain. */
const CHAIN_LENGTH = 200;
const LINGER_AFTER_END_MS = 1_000;
/** SMB2 header field offsets (MS-SMB2 §2.2.1.2). */
const NEXT_COMMAND_AT = 20;

export function serveHostileSmb(
  socket: Socket,
  context: ConnectionContext,
  behaviour: HostileSmbBehaviour,
  transport: SessionTransport,
  timings: HostileSmbTimings = HOSTILE_SMB_TIMINGS,
): void {
  socket.setTimeout(context.idleTimeoutMs, () => endSocket(socket));
  socket.once("data", (first: Buffer) => {
    const peer = new HostileSmbPeer(socket, behaviour, transport, timings);
    socket.once("close", () => peer.stop());
    socket.on("data", (chunk: Buffer) => peer.receive(chunk));
    peer.receive(first);
  });
}

function endSocket(socket: Socket): void {
  if (socket.destroyed) return;
  socket.end();
  socket.setTimeout(LINGER_AFTER_END_MS, () => socket.destroy());
}

class HostileSmbPeer {
  private readonly framer: SessionFramer;
  private sessionUp: boolean;
  private deaf = false;
  private answers = 0;
  private sent = 0;
  private timer: NodeJS.Timeout | null = null;
  private pendingSent = 0;
  private readonly pendingFor: bigint[] = [];

  constructor(
    private readonly socket: Socket,
    private readonly behaviour: HostileSmbBehaviour,
    private readonly transport: SessionTransport,
    private readonly timings: HostileSmbTimings,
  ) {
    this.framer = new SessionFramer({ transport, maxMessageLength: 64 * 1024 });
    this.sessionUp = transport === "direct-tcp";
  }

  receive(chunk: Buffer): void {
    if (this.deaf) return;
    const { packets, issue } = this.framer.push(chunk);
    for (const packet of packets) {
      if (this.deaf) return;
      if (!this.sessionUp) {
        // Be a normal NetBIOS session service first: the lies are about SMB.
        if (packet.type !== "session-request") return this.end();
        this.sessionUp = true;
        this.write(encodeSessionPacket({ type: "positive-response" }));
        continue;
      }
      if (packet.type !== "session-message") continue;
      if (++this.answers > MAX_ANSWERS) {
        this.deaf = true;
        return;
      }
      this.answer(packet.payload);
    }
    if (issue !== null) this.deaf = true;
  }

  stop(): void {
    this.deaf = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private answer(request: Uint8Array): void {
    const messageId = requestMessageId(request);
    switch (this.behaviour) {
      case "netbios-oversize": {
        // 0x00 0x01 0xFF 0xFF: 0x1FFFF as RFC 1002 (E bit + 16 bits) and as direct TCP (24 bits).
        this.write(Uint8Array.of(0x00, 0x01, 0xff, 0xff));
        this.write(plausibleNegotiate(messageId));
        this.deaf = true;
        return;
      }
      case "structure-lie":
        this.write(encodeSessionMessage(structureLie(messageId, this.answers), this.transport));
        return;
      case "truncated": {
        const head = Uint8Array.of(0x00, 0x00, TRUNCATED_PROMISE >> 8, TRUNCATED_PROMISE & 0xff);
        this.write(head);
        this.write(plausibleNegotiate(messageId).subarray(0, TRUNCATED_SENT));
        this.deaf = true;
        return;
      }
      case "compound-garbage":
        this.write(encodeSessionMessage(compoundGarbage(messageId, this.answers), this.transport));
        return;
      case "endless-pending":
        this.pendingFor.push(messageId);
        this.startPending();
        return;
    }
  }

  /** One interim response per tick, round-robin over the requests seen, up to the cap. */
  private startPending(): void {
    if (this.timer !== null) return;
    const tick = (): void => {
      if (this.pendingSent >= this.timings.maxPending || this.socket.destroyed) {
        this.stop();
        this.end();
        return;
      }
      // A client that does not read costs nothing: skip while the socket's buffer is full.
      if (this.socket.writableNeedDrain) return;
      const id = this.pendingFor[this.pendingSent % this.pendingFor.length] ?? 0n;
      this.pendingSent++;
      this.write(encodeSessionMessage(pendingInterim(id), this.transport));
    };
    tick();
    this.timer = setInterval(tick, this.timings.pendingIntervalMs);
    this.timer.unref();
  }

  private write(bytes: Uint8Array): void {
    if (this.socket.destroyed || this.sent + bytes.length > MAX_BYTES) return;
    this.sent += bytes.length;
    this.socket.write(bytes);
  }

  private end(): void {
    this.deaf = true;
    endSocket(this.socket);
  }
}

/** The MessageId of an SMB2 request (bytes 24-31), 0 for SMB1 (the multi-protocol answer's). */
function requestMessageId(request: Uint8Array): bigint {
  if (sniffSmbProtocol(request) !== "smb2" || request.length < 32) return 0n;
  return new DataView(request.buffer, request.byteOffset, request.byteLength).getBigUint64(
    24,
    true,
  );
}

/** An SMB2 NEGOTIATE response (2.1, no security buffer) to lie around. */
function plausibleNegotiate(messageId: bigint): Uint8Array {
  return encodeSmb2NegotiateResponse(
    {
      securityMode: 1,
      dialectRevision: SMB2_DIALECT.SMB_2_1,
      serverGuid: "6c61622d-686f-7374-696c-652d736d6221",
      capabilities: 0,
      maxTransactSize: 65536,
      maxReadSize: 65536,
      maxWriteSize: 65536,
      systemTime: 0n,
      serverStartTime: 0n,
      securityBuffer: new Uint8Array(0),
      contexts: [],
    },
    { messageId, credits: 1 },
  );
}

/** structure-lie, one lie per answer in turn. */
function structureLie(messageId: bigint, answer: number): Uint8Array {
  const out = Uint8Array.from(plausibleNegotiate(messageId));
  const view = new DataView(out.buffer);
  switch (answer % 3) {
    case 1:
      view.setUint16(4, 0xffff, true); // header StructureSize (must be 64)
      view.setUint16(64, 0xffff, true); // body StructureSize (must be 65)
      break;
    case 2:
      view.setUint16(64 + 56, 0xffff, true); // SecurityBufferOffset
      view.setUint16(64 + 58, 0xffff, true); // SecurityBufferLength
      break;
    default:
      view.setUint16(64 + 4, SMB2_DIALECT.SMB_3_1_1, true); // DialectRevision 3.1.1 …
      view.setUint16(64 + 6, 0xffff, true); // … with 65535 contexts …
      view.setUint32(64 + 60, 0xfffffff0, true); // … at an offset far past the end
  }
  return out;
}

/** compound-garbage: alternately NextCommand into junk, and a 200-header chain off the end. */
function compoundGarbage(messageId: bigint, answer: number): Uint8Array {
  const first = plausibleNegotiate(messageId);
  if (answer % 2 === 1) {
    const padded = Math.ceil(first.length / 8) * 8;
    const out = new Uint8Array(padded + 128);
    out.set(first);
    new DataView(out.buffer).setUint32(NEXT_COMMAND_AT, padded, true);
    // Junk that never starts with 0xFE 'SMB'.
    const junk = randomBytes(128);
    junk[0] = 0x00;
    out.set(junk, padded);
    return out;
  }
  const bare = encodeSmb2Header(
    smb2ResponseHeader(SMB2_COMMAND.NEGOTIATE, { messageId, credits: 1, nextCommand: 64 }),
  );
  const out = new Uint8Array(64 * CHAIN_LENGTH);
  for (let i = 0; i < CHAIN_LENGTH; i++) out.set(bare, 64 * i);
  // The last one points past the end of the frame.
  new DataView(out.buffer).setUint32(64 * (CHAIN_LENGTH - 1) + NEXT_COMMAND_AT, 4096, true);
  return out;
}

/** An interim response: async header, STATUS_PENDING, ERROR body (MS-SMB2 §3.3.4.2). */
function pendingInterim(messageId: bigint): Uint8Array {
  // smb2Header sets SMB2_FLAGS_ASYNC_COMMAND whenever an asyncId is given.
  return encodeSmb2ErrorResponse(SMB2_COMMAND.NEGOTIATE, NT_STATUS.PENDING, undefined, {
    messageId,
    credits: 0,
    asyncId: 0x1000n + messageId,
  });
}
