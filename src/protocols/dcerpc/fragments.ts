import { decodeIssue, isDecodeIssue, type DecodeIssue } from "../netbios/decode-issue.js";
import {
  COMMON_HEADER_LENGTH,
  MAX_FRAG_LENGTH,
  PFC_FIRST_FRAG,
  PFC_LAST_FRAG,
  PFC_OBJECT_UUID,
  decodePduHeader,
  type Pdu,
  type RequestPdu,
  type ResponsePdu,
} from "./pdu-codec.js";

/**
 * Fragmentation of connection-oriented calls (C706 §12.6.3.1 pfc_flags, §12.6.4.9-10): one call's
 * stub may span several request or response PDUs, the first flagged PFC_FIRST_FRAG and the last
 * PFC_LAST_FRAG (Samba's ept_lookup response arrives as two, lab-and-peers.md §2). Two pieces,
 * both pure and bounded:
 *
 *  - PduFramer cuts a TCP byte stream into whole PDUs using frag_length.
 *  - FragmentReassembler joins the fragments of one call into the whole stub.
 *
 * Both refuse, with a DecodeIssue, anything that would let a peer grow our memory without bound:
 * the framer holds at most one partial PDU (≤ maxFragLength bytes), the reassembler at most
 * maxFragments fragments and maxStubBytes of stub.
 */

/** Defaults: a whole call is rarely more than a few KB for our checks; 1 MiB is generous. */
export const DEFAULT_MAX_STUB_BYTES = 1024 * 1024;
export const DEFAULT_MAX_FRAGMENTS = 256;
/**
 * The framer's default frag_length cap: the largest max_recv_frag any check advertises
 * (0x16D0 = 5840 in the 2003 checks and Blaster, research §2.1). A peer must not send fragments
 * larger than what we advertised in the bind (C706 §12.6.4.3 max_recv_frag); callers that
 * negotiate a larger size pass it in.
 */
export const DEFAULT_FRAMER_MAX_FRAG_LENGTH = 5840;

/** What one PduFramer.push produced: whole PDUs, and the issue that stopped the stream, if any. */
export interface FramerOutput {
  readonly pdus: Uint8Array[];
  readonly issue: DecodeIssue | null;
}

export interface FramerOptions {
  /** Largest frag_length accepted (16..65535); default 5840. */
  readonly maxFragLength?: number;
}

/**
 * Splits a connection-oriented byte stream into PDUs. Feed it whatever the socket delivers; it
 * returns the PDUs completed by this chunk (each exactly frag_length bytes, ready for decodePdu)
 * and, if the stream went bad, the issue. PDUs framed before the problem are still returned, so
 * the evidence a peer sent before its garbage is kept. After an issue the stream is out of sync
 * (CO RPC has no resynchronisation): every later push returns no PDUs and the same issue.
 */
export class PduFramer {
  private readonly maxFragLength: number;
  private readonly header = new Uint8Array(COMMON_HEADER_LENGTH);
  private headerFill = 0;
  private pdu: Uint8Array | null = null;
  private pduFill = 0;
  private poisoned: DecodeIssue | null = null;
  private consumed = 0;

  constructor(options: FramerOptions = {}) {
    const max = options.maxFragLength ?? DEFAULT_FRAMER_MAX_FRAG_LENGTH;
    if (!Number.isInteger(max) || max < COMMON_HEADER_LENGTH || max > MAX_FRAG_LENGTH) {
      throw new RangeError(`maxFragLength must be 16..65535, got ${max}`);
    }
    this.maxFragLength = max;
  }

  /** Bytes held for an incomplete PDU; never more than maxFragLength. */
  get buffered(): number {
    return this.pdu === null ? this.headerFill : this.pduFill;
  }

  push(chunk: Uint8Array): FramerOutput {
    if (this.poisoned !== null) return { pdus: [], issue: this.poisoned };
    const out: Uint8Array[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.pdu === null) {
        // Collect the 16-byte common header first: it holds frag_length (C706 §12.6.3.1).
        const take = Math.min(COMMON_HEADER_LENGTH - this.headerFill, chunk.length - at);
        this.header.set(chunk.subarray(at, at + take), this.headerFill);
        this.headerFill += take;
        at += take;
        if (this.headerFill < COMMON_HEADER_LENGTH) break;
        const header = decodePduHeader(this.header);
        if (isDecodeIssue(header)) return { pdus: out, issue: this.poison(header) };
        if (header.fragLength > this.maxFragLength) {
          const message = `frag_length ${header.fragLength} exceeds the ${this.maxFragLength}-byte cap`;
          return { pdus: out, issue: this.poison(decodeIssue("frag_length", 8, message)) };
        }
        // Allocation is bounded by the cap just checked.
        this.pdu = new Uint8Array(header.fragLength);
        this.pdu.set(this.header);
        this.pduFill = COMMON_HEADER_LENGTH;
        this.headerFill = 0;
      }
      const take = Math.min(this.pdu.length - this.pduFill, chunk.length - at);
      this.pdu.set(chunk.subarray(at, at + take), this.pduFill);
      this.pduFill += take;
      at += take;
      if (this.pduFill === this.pdu.length) {
        out.push(this.pdu);
        this.consumed += this.pdu.length;
        this.pdu = null;
        this.pduFill = 0;
      }
    }
    return { pdus: out, issue: null };
  }

  private poison(issue: DecodeIssue): DecodeIssue {
    // Report offsets in stream terms, so the issue says where in the connection it went wrong.
    const atStream = { ...issue, offset: this.consumed + issue.offset };
    this.poisoned = atStream;
    this.pdu = null;
    this.headerFill = 0;
    return atStream;
  }
}

export interface ReassemblyLimits {
  /** Most fragments one call may span; default 256. */
  readonly maxFragments?: number;
  /** Most stub bytes one call may carry; default 1 MiB. */
  readonly maxStubBytes?: number;
}

/** A complete call: its first fragment (header fields) and the joined stub. */
export interface ReassembledCall {
  readonly first: RequestPdu | ResponsePdu;
  readonly stub: Uint8Array;
  readonly fragmentCount: number;
}

export type ReassemblyStep =
  { readonly done: false } | { readonly done: true; readonly call: ReassembledCall };

/**
 * Joins the fragments of one call at a time. `push` returns `{ done: false }` while the call is
 * incomplete, `{ done: true, call }` on its PFC_LAST_FRAG fragment, or a DecodeIssue; after an
 * issue or a completed call the reassembler is empty and ready for the next call.
 *
 * Only request and response PDUs carry fragmented stubs (C706 §12.6.4.9-10). A fault or any
 * other PDU arriving mid-call is reported as an issue: the caller should look at faults before
 * feeding responses in.
 */
export class FragmentReassembler {
  private readonly maxFragments: number;
  private readonly maxStubBytes: number;
  private first: RequestPdu | ResponsePdu | null = null;
  private chunks: Uint8Array[] = [];
  private stubBytes = 0;

  constructor(limits: ReassemblyLimits = {}) {
    this.maxFragments = positive(limits.maxFragments ?? DEFAULT_MAX_FRAGMENTS, "maxFragments");
    this.maxStubBytes = positive(limits.maxStubBytes ?? DEFAULT_MAX_STUB_BYTES, "maxStubBytes");
  }

  /** True between a first fragment and the matching last one. */
  get inProgress(): boolean {
    return this.first !== null;
  }

  reset(): void {
    this.first = null;
    this.chunks = [];
    this.stubBytes = 0;
  }

  push(pdu: Pdu): ReassemblyStep | DecodeIssue {
    if (pdu.type !== "request" && pdu.type !== "response") {
      return this.fail(
        `${pdu.type} PDU (call_id ${pdu.callId}) where a request/response fragment was expected`,
      );
    }
    const isFirst = (pdu.pfcFlags & PFC_FIRST_FRAG) !== 0;
    const first = this.first;
    if (first === null) {
      // C706 §12.6.3.1: a call starts with PFC_FIRST_FRAG; anything else means we missed it.
      if (!isFirst) return this.fail(`fragment of call_id ${pdu.callId} without PFC_FIRST_FRAG`);
      this.first = pdu;
    } else {
      const mismatch = continuationMismatch(first, pdu, isFirst);
      if (mismatch !== null) return this.fail(mismatch);
    }
    if (this.chunks.length + 1 > this.maxFragments) {
      return this.fail(`call_id ${pdu.callId} exceeds ${this.maxFragments} fragments`);
    }
    // Checked before keeping the chunk, so the cap bounds memory, not just the result.
    if (this.stubBytes + pdu.stub.length > this.maxStubBytes) {
      return this.fail(`call_id ${pdu.callId} stub exceeds ${this.maxStubBytes} bytes`);
    }
    this.chunks.push(pdu.stub);
    this.stubBytes += pdu.stub.length;
    if ((pdu.pfcFlags & PFC_LAST_FRAG) === 0) return { done: false };

    const call: ReassembledCall = {
      first: this.first ?? pdu,
      stub: concat(this.chunks, this.stubBytes),
      fragmentCount: this.chunks.length,
    };
    this.reset();
    return { done: true, call };
  }

  private fail(message: string): DecodeIssue {
    this.reset();
    return decodeIssue("reassembly", 0, message);
  }
}

/** Why `next` cannot continue the call `first` started (C706 §12.6.4.9-10), or null. */
function continuationMismatch(
  first: RequestPdu | ResponsePdu,
  next: RequestPdu | ResponsePdu,
  nextIsFirst: boolean,
): string | null {
  if (next.callId !== first.callId) {
    return `call_id ${next.callId} mid-call; call_id ${first.callId} is not finished`;
  }
  if (next.type !== first.type) return `${next.type} fragment in a ${first.type} call`;
  if (nextIsFirst) return `second PFC_FIRST_FRAG for call_id ${next.callId}`;
  if (next.contextId !== first.contextId) {
    return `p_cont_id ${next.contextId} differs from the call's ${first.contextId}`;
  }
  if (next.type === "request" && first.type === "request" && next.opnum !== first.opnum) {
    return `opnum ${next.opnum} differs from the call's ${first.opnum}`;
  }
  return null;
}

/**
 * Reassemble a list of PDUs that must form exactly one complete call (a convenience for tests
 * and for transports that already hold every fragment).
 */
export function reassembleFragments(
  pdus: readonly Pdu[],
  limits: ReassemblyLimits = {},
): ReassembledCall | DecodeIssue {
  const reassembler = new FragmentReassembler(limits);
  for (let i = 0; i < pdus.length; i++) {
    const pdu = pdus[i];
    if (pdu === undefined) break;
    const step = reassembler.push(pdu);
    if (isDecodeIssue(step)) return step;
    if (step.done) {
      if (i !== pdus.length - 1) {
        return decodeIssue("reassembly", 0, `${pdus.length - i - 1} PDUs after the last fragment`);
      }
      return step.call;
    }
  }
  return decodeIssue("reassembly", 0, "no fragment with PFC_LAST_FRAG");
}

/**
 * Split a request or response whose stub is too large for one fragment into fragments of at
 * most `maxFragLength` bytes (the peer's negotiated max_recv_frag). Every fragment but the last
 * carries a multiple of 8 stub bytes, as Windows does, and alloc_hint is the stub length still
 * to come, counted from that fragment. Throws on authenticated PDUs
 * (per-fragment verifiers are out of scope) and on sizes too small to make progress.
 */
export function splitIntoFragments<P extends RequestPdu | ResponsePdu>(
  pdu: P,
  maxFragLength: number,
): P[] {
  if (pdu.authVerifier !== null) throw new TypeError("cannot fragment an authenticated PDU");
  const headerLength =
    COMMON_HEADER_LENGTH + 8 + (pdu.type === "request" && pdu.object !== null ? 16 : 0);
  const room = Math.floor((Math.min(maxFragLength, MAX_FRAG_LENGTH) - headerLength) / 8) * 8;
  if (room < 8) throw new RangeError(`maxFragLength ${maxFragLength} leaves no room for stub`);
  const baseFlags = pdu.pfcFlags & ~(PFC_FIRST_FRAG | PFC_LAST_FRAG | PFC_OBJECT_UUID);
  const fragments: P[] = [];
  let at = 0;
  do {
    const end = Math.min(at + room, pdu.stub.length);
    const flags =
      baseFlags | (at === 0 ? PFC_FIRST_FRAG : 0) | (end === pdu.stub.length ? PFC_LAST_FRAG : 0);
    fragments.push({
      ...pdu,
      pfcFlags: flags | (pdu.type === "request" && pdu.object !== null ? PFC_OBJECT_UUID : 0),
      allocHint: pdu.stub.length - at,
      stub: pdu.stub.slice(at, end),
    });
    at = end;
  } while (at < pdu.stub.length);
  return fragments;
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

function positive(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${what} must be ≥ 1`);
  return value;
}
