import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import {
  CONTEXT_RESULT,
  LITTLE_ENDIAN_DREP,
  NDR_TRANSFER_SYNTAX,
  NIL_UUID,
  PFC_FIRST_FRAG,
  PROVIDER_REASON,
  PduFramer,
  RPC_VERSION_MINOR,
  decodePdu,
  encodeBindAck,
  encodePdu,
  isDecodeIssue,
  sameSyntax,
  type BindPdu,
  type ContextResult,
  type RequestPdu,
} from "../protocols/dcerpc/index.js";
import type { HostileRpcBehaviour } from "./personas.js";
import type { ConnectionContext } from "./protocol-handlers.js";

/**
 * Hostile DCE/RPC peers on TCP 135 (the rpc-* personas, catalogue layout only): each answers a
 * bind in one of the ways research §2.1's reading rule and §3.3 ("parse defensively: bounds-check
 * every offset, reject frag_length > 64 KiB, reassemble at most N fragments") guard against, so the
 * checks' client can be shown to end every one of them with UNKNOWN instead of hanging, looping
 * or believing a malformed answer:
 *
 *  - truncated: a bind_ack whose frag_length promises 64 more bytes than are sent, then silence;
 *  - frag-lie: a bind_ack whose frag_length is 0, 10 (below the 16-byte header) or 0xFFFF (beyond
 *    any max_recv_frag), chosen by the bind's call_id mod 3 so one client meets all three;
 *  - endless-fragments: a valid bind_ack, then on a request response fragments with
 *    PFC_FIRST_FRAG on the first and PFC_LAST_FRAG never (C706 §12.6.3.1), one per pacing tick;
 *  - slow-drip: a valid bind_ack, one byte per tick (500 ms: a 60-byte PDU takes 30 s);
 *  - garbage-after-bind: a valid bind_ack, then random bytes (never starting with rpc_vers 5) in
 *    answer to each request.
 * (rpc-wrong-call-id is the RPCSS emulation with a lying bind_ack: see dcerpc-handler.ts.)
 *
 * The daemon's own cost stays bounded whatever the client does: at most `maxBytesPerConnection`
 * bytes are ever sent on one connection, a paced writer skips ticks while the socket's buffer is
 * full (a client that does not read costs nothing), every timer is cleared when the socket
 * closes, input is framed only until the bind (and requests) the behaviour needs, then discarded,
 * and the idle timeout still ends the connection.
 */

/** The behaviours this module plays (wrong-call-id is played by the RPCSS emulation). */
export type HostilePeerBehaviour = Exclude<HostileRpcBehaviour, "wrong-call-id">;

export interface HostileTimings {
  /** slow-drip: one byte per this many ms. */
  readonly dripIntervalMs: number;
  /** endless-fragments: one response fragment per this many ms. */
  readonly fragmentIntervalMs: number;
  /** Hard cap on the bytes sent on one connection, every behaviour. */
  readonly maxBytesPerConnection: number;
}

export const HOSTILE_TIMINGS: HostileTimings = Object.freeze({
  dripIntervalMs: 500,
  fragmentIntervalMs: 5,
  // Far beyond any sane client's reassembly cap (research §2.1: "cap total at a few KB").
  maxBytesPerConnection: 256 * 1024,
});

/** The bind_ack fields a 2003 server sends (research §2.1: 0x16D0 in the 2003 checks). */
const SERVER_MAX_FRAG = 5840;
/** C706 §12.6.3.1: every implementation must accept fragments of at least 1432 octets. */
const MUST_RECV_FRAG_SIZE = 1432;
/** PDUs read from a client before the connection goes deaf (binds, requests). */
const MAX_PDUS = 64;
/** truncated: how many bytes frag_length promises beyond what is sent. */
const TRUNCATED_SHORTFALL = 64;
/** frag-lie: the three lies, by bind call_id mod 3. */
const FRAG_LIES = [0, 0xffff, 10] as const;
/** endless-fragments: stub bytes per fragment (a fragment also fits any max_recv_frag ≥ 1432). */
const ENDLESS_STUB_BYTES = 1024;
/** garbage-after-bind: bytes per answer. */
const GARBAGE_BYTES = 256;
const LINGER_AFTER_END_MS = 1_000;
/** C706 §12.6.3.1 frag_length: bytes 8-9 of the common header. */
const FRAG_LENGTH_OFFSET = 8;

export function serveHostileRpc(
  socket: Socket,
  context: ConnectionContext,
  behaviour: HostilePeerBehaviour,
  timings: HostileTimings = HOSTILE_TIMINGS,
): void {
  socket.setTimeout(context.idleTimeoutMs, () => endSocket(socket));
  // As the RPCSS emulation: nothing is built until the peer speaks (a port scan never pays).
  socket.once("data", (first: Buffer) => {
    const peer = new HostilePeer(socket, behaviour, timings, String(context.wirePort));
    socket.on("data", (chunk: Buffer) => peer.receive(chunk));
    peer.receive(first);
  });
}

function endSocket(socket: Socket): void {
  if (socket.destroyed) return;
  socket.end();
  socket.setTimeout(LINGER_AFTER_END_MS, () => socket.destroy());
}

class HostilePeer {
  private readonly framer = new PduFramer({ maxFragLength: SERVER_MAX_FRAG });
  /** Framing stops once the behaviour needs nothing more from the client; input is discarded. */
  private deaf = false;
  private bound = false;
  private pdus = 0;
  private sent = 0;
  private timer: NodeJS.Timeout | null = null;
  /** The largest fragment the client said it can receive (its bind's max_recv_frag), clamped. */
  private clientMaxRecv = SERVER_MAX_FRAG;

  constructor(
    private readonly socket: Socket,
    private readonly behaviour: HostilePeerBehaviour,
    private readonly timings: HostileTimings,
    /** bind_ack sec_addr: the port the client reached, as text (research §2.1). */
    private readonly secondaryAddress: string,
  ) {
    socket.once("close", () => this.stopTimer());
  }

  receive(chunk: Buffer): void {
    if (this.deaf) return;
    const { pdus, issue } = this.framer.push(chunk);
    for (const bytes of pdus) {
      if (this.deaf) return;
      if (++this.pdus > MAX_PDUS) return this.goDeaf();
      const pdu = decodePdu(bytes);
      if (isDecodeIssue(pdu)) return this.close();
      if (!this.bound) {
        if (pdu.type !== "bind") return this.close();
        this.bound = true;
        this.onBind(pdu);
      } else if (pdu.type === "request") {
        this.onRequest(pdu);
      }
    }
    if (issue !== null) this.close();
  }

  private onBind(bind: BindPdu): void {
    this.clientMaxRecv = Math.max(MUST_RECV_FRAG_SIZE, Math.min(bind.maxRecvFrag, SERVER_MAX_FRAG));
    const ack = validBindAck(bind, this.clientMaxRecv, this.secondaryAddress);
    switch (this.behaviour) {
      case "truncated":
        this.send(withFragLength(ack, ack.length + TRUNCATED_SHORTFALL));
        return this.goDeaf();
      case "frag-lie":
        this.send(withFragLength(ack, FRAG_LIES[bind.callId % FRAG_LIES.length] ?? 0));
        return this.goDeaf();
      case "slow-drip":
        this.drip(ack);
        return this.goDeaf();
      case "endless-fragments":
      case "garbage-after-bind":
        // Keep framing: the lie comes in answer to a request.
        this.send(ack);
        return;
    }
  }

  private onRequest(request: RequestPdu): void {
    if (this.behaviour === "garbage-after-bind") {
      const garbage = randomBytes(GARBAGE_BYTES);
      // Never a plausible PDU: rpc_vers is 5 in every connection-oriented header (C706 §12.6.3.1).
      garbage[0] = (garbage[0] ?? 0) | 0x80;
      this.send(garbage);
      return;
    }
    if (this.behaviour === "endless-fragments" && this.timer === null) {
      this.goDeaf();
      this.endlessFragments(request);
    }
  }

  /** One response fragment per tick, never the last; stops at the byte cap or on close. */
  private endlessFragments(request: RequestPdu): void {
    const stubBytes = Math.min(ENDLESS_STUB_BYTES, this.clientMaxRecv - 24);
    const stub = new Uint8Array(stubBytes);
    let first = true;
    this.timer = setInterval(() => {
      if (this.socket.destroyed || this.sent >= this.timings.maxBytesPerConnection) {
        return this.stopTimer();
      }
      // Backpressure: a client that stops reading gets nothing more queued.
      if (this.socket.writableNeedDrain) return;
      this.send(
        encodePdu({
          type: "response",
          callId: request.callId,
          pfcFlags: first ? PFC_FIRST_FRAG : 0,
          drep: LITTLE_ENDIAN_DREP,
          rpcVersMinor: RPC_VERSION_MINOR,
          authVerifier: null,
          // 0: "no hint" (C706 §12.6.4.10), so nothing announces an end.
          allocHint: 0,
          contextId: request.contextId,
          cancelCount: 0,
          stub,
        }),
      );
      first = false;
    }, this.timings.fragmentIntervalMs);
    this.timer.unref();
  }

  private drip(bytes: Uint8Array): void {
    let at = 0;
    const next = (): void => {
      if (this.socket.destroyed || at >= bytes.length) return this.stopTimer();
      this.send(bytes.subarray(at, at + 1));
      at++;
    };
    next();
    this.timer = setInterval(next, this.timings.dripIntervalMs);
    this.timer.unref();
  }

  private send(bytes: Uint8Array): void {
    if (this.socket.destroyed) return;
    const room = this.timings.maxBytesPerConnection - this.sent;
    if (room <= 0) return;
    const part = bytes.length <= room ? bytes : bytes.subarray(0, room);
    this.sent += part.length;
    this.socket.write(part);
  }

  /** Stop framing and discard input; the socket is held until the idle timeout or the peer's close. */
  private goDeaf(): void {
    this.deaf = true;
    this.socket.removeAllListeners("data");
    this.socket.resume();
  }

  private close(): void {
    this.stopTimer();
    this.goDeaf();
    endSocket(this.socket);
  }

  private stopTimer(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }
}

/** A well-formed bind_ack accepting every context offered with NDR 2.0 (C706 §12.6.4.4). */
function validBindAck(bind: BindPdu, maxXmitFrag: number, secondaryAddress: string): Uint8Array {
  const results: ContextResult[] = bind.contexts.map((offered) =>
    offered.transferSyntaxes.some((ts) => sameSyntax(ts, NDR_TRANSFER_SYNTAX))
      ? {
          result: CONTEXT_RESULT.acceptance,
          reason: 0,
          transferSyntax: { ...NDR_TRANSFER_SYNTAX },
        }
      : {
          result: CONTEXT_RESULT.providerRejection,
          reason: PROVIDER_REASON.proposedTransferSyntaxesNotSupported,
          transferSyntax: { uuid: NIL_UUID, major: 0, minor: 0 },
        },
  );
  return encodeBindAck({
    callId: bind.callId,
    maxXmitFrag,
    maxRecvFrag: SERVER_MAX_FRAG,
    assocGroupId: 0x5a5a,
    secondaryAddress,
    results,
  });
}

/** A copy of a little-endian PDU with frag_length overwritten (what the lie is made of). */
function withFragLength(pdu: Uint8Array, fragLength: number): Uint8Array {
  const copy = Uint8Array.from(pdu);
  new DataView(copy.buffer).setUint16(FRAG_LENGTH_OFFSET, fragLength, true);
  return copy;
}
