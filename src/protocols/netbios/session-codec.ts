import { decodeIssue, isDecodeIssue, type DecodeIssue } from "./decode-issue.js";
import { encodeNetbiosName, readWireName } from "./name-codec.js";

/**
 * NetBIOS session service (RFC 1002 §4.3, TCP 139) and the "direct TCP" framing of SMB on TCP 445
 * (MS-SMB2 §2.1, MS-CIFS §2.1.1.2), which reuses the session message header with type 0 and
 * widens its length to 24 bits. Pure codec plus a bounded stream framer; no sockets here.
 *
 *  - RFC 1002 §4.3.1  header: TYPE (1), FLAGS (1; bit 0 = E, the 17th length bit), LENGTH (2, BE)
 *  - RFC 1002 §4.3.2  SESSION REQUEST: CALLED NAME, CALLING NAME (first-level encoded, §4.1)
 *  - RFC 1002 §4.3.3  POSITIVE SESSION RESPONSE (no trailer)
 *  - RFC 1002 §4.3.4  NEGATIVE SESSION RESPONSE: ERROR_CODE (1)
 *  - RFC 1002 §4.3.5  RETARGET SESSION RESPONSE: RETARGET_IP_ADDRESS (4), PORT (2)
 *  - RFC 1002 §4.3.6  SESSION MESSAGE: the SMB message is the trailer
 *  - RFC 1002 §4.3.7  SESSION KEEP ALIVE (no trailer)
 *  - MS-SMB2 §2.1     direct TCP: Zero (1) + StreamProtocolLength (3, BE), then one SMB message
 */

/** RFC 1002 §4.3.1 packet TYPE values. */
export const SESSION_PACKET_TYPE = Object.freeze({
  sessionMessage: 0x00,
  sessionRequest: 0x81,
  positiveResponse: 0x82,
  negativeResponse: 0x83,
  retargetResponse: 0x84,
  keepAlive: 0x85,
} as const);

/** RFC 1002 §4.3.4 NEGATIVE SESSION RESPONSE error codes. */
export const NEGATIVE_SESSION_ERROR = Object.freeze({
  notListeningOnCalledName: 0x80,
  notListeningForCallingName: 0x81,
  calledNameNotPresent: 0x82,
  insufficientResources: 0x83,
  unspecified: 0x8f,
} as const);

const NEGATIVE_SESSION_ERROR_TEXT = new Map<number, string>([
  [0x80, "not listening on called name"],
  [0x81, "not listening for calling name"],
  [0x82, "called name not present"],
  [0x83, "called name present, but insufficient resources"],
  [0x8f, "unspecified error"],
]);

/** What a NEGATIVE SESSION RESPONSE error code means (RFC 1002 §4.3.4). */
export function negativeSessionErrorText(code: number): string {
  return NEGATIVE_SESSION_ERROR_TEXT.get(code) ?? `unknown error code 0x${code.toString(16)}`;
}

/**
 * The called name every SMB client uses when it does not know the server's NetBIOS name:
 * "*SMBSERVER" with suffix <20> (MS-CIFS §2.1.1.1; research §2.3 step 1, nmap's
 * get_smb_host_name()). Windows 2000 and later accept it; NT4 needs the real name.
 */
export const SMBSERVER_NAME = "*SMBSERVER";
export const SMBSERVER_SUFFIX = 0x20;

const PACKET_TYPES = new Set<number>(Object.values(SESSION_PACKET_TYPE));

export const SESSION_HEADER_LENGTH = 4;
/** RFC 1002 §4.3.1: 16 bits + the E bit = 17 bits of length. */
export const NETBIOS_SESSION_MAX_LENGTH = 0x1ffff;
/** MS-SMB2 §2.1: StreamProtocolLength is 24 bits. */
export const DIRECT_TCP_MAX_LENGTH = 0xffffff;
/**
 * The framer's default cap on one message: 1 MiB covers an SMB2 negotiate (≤ 64 KiB), NTLMSSP
 * blobs and pipe reads of the sizes our clients ask for; peers get no more memory than that.
 */
export const DEFAULT_MAX_SESSION_MESSAGE_LENGTH = 1024 * 1024;

/** "netbios": TCP 139 (RFC 1002 framing). "direct-tcp": TCP 445 (MS-SMB2 §2.1). */
export type SessionTransport = "netbios" | "direct-tcp";

export type SessionPacket =
  | { readonly type: "session-message"; readonly payload: Uint8Array }
  | {
      readonly type: "session-request";
      readonly calledName: string;
      readonly calledSuffix: number;
      readonly callingName: string;
      readonly callingSuffix: number;
    }
  | { readonly type: "positive-response" }
  | { readonly type: "negative-response"; readonly errorCode: number }
  | { readonly type: "retarget-response"; readonly address: string; readonly port: number }
  | { readonly type: "keep-alive" };

export interface SessionHeader {
  /** RFC 1002 §4.3.1 TYPE; always 0 on direct TCP. */
  readonly type: number;
  /** Trailer length: 17-bit (netbios) or 24-bit (direct-tcp). */
  readonly length: number;
}

/**
 * Decode a 4-byte session header. On direct TCP the first byte must be zero (MS-SMB2 §2.1); on
 * NetBIOS the TYPE must be one of RFC 1002 §4.3.1's and the reserved FLAGS bits are ignored.
 */
export function decodeSessionHeader(
  bytes: Uint8Array,
  transport: SessionTransport = "direct-tcp",
): SessionHeader | DecodeIssue {
  if (bytes.length < SESSION_HEADER_LENGTH) {
    return decodeIssue(
      "session-header",
      0,
      "shorter than the 4-byte session header",
      SESSION_HEADER_LENGTH - bytes.length,
    );
  }
  const type = bytes[0] ?? 0;
  const b1 = bytes[1] ?? 0;
  const b2 = bytes[2] ?? 0;
  const b3 = bytes[3] ?? 0;
  if (transport === "direct-tcp") {
    if (type !== 0) {
      return decodeIssue(
        "session-header",
        0,
        `first byte 0x${type.toString(16)} is not zero: not a direct-TCP SMB frame`,
      );
    }
    return { type: 0, length: (b1 << 16) | (b2 << 8) | b3 };
  }
  if (!PACKET_TYPES.has(type)) {
    return decodeIssue("session-header", 0, `0x${type.toString(16)} is not a session packet type`);
  }
  // RFC 1002 §4.3.1: E, the least significant FLAGS bit, is the high-order length bit.
  return { type, length: ((b1 & 0x01) << 16) | (b2 << 8) | b3 };
}

function header(type: number, length: number, transport: SessionTransport): Uint8Array {
  const max = transport === "direct-tcp" ? DIRECT_TCP_MAX_LENGTH : NETBIOS_SESSION_MAX_LENGTH;
  if (length > max) {
    throw new RangeError(
      `a ${transport} session packet carries at most ${max} bytes, got ${length}`,
    );
  }
  if (transport === "direct-tcp" && type !== 0) {
    throw new RangeError("direct TCP (port 445) carries session messages only");
  }
  return Uint8Array.of(type, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff);
}

/** Frame one SMB message: 4-byte header (type 0) + payload. */
export function encodeSessionMessage(
  payload: Uint8Array,
  transport: SessionTransport = "direct-tcp",
): Uint8Array {
  const out = new Uint8Array(SESSION_HEADER_LENGTH + payload.length);
  out.set(header(SESSION_PACKET_TYPE.sessionMessage, payload.length, transport));
  out.set(payload, SESSION_HEADER_LENGTH);
  return out;
}

/**
 * Encode any session packet. Everything but "session-message" exists on TCP 139 only, so the
 * transport defaults to "netbios" here (RangeError for those types on direct TCP).
 */
export function encodeSessionPacket(
  packet: SessionPacket,
  transport: SessionTransport = "netbios",
): Uint8Array {
  let trailer: Uint8Array;
  let type: number;
  switch (packet.type) {
    case "session-message":
      return encodeSessionMessage(packet.payload, transport);
    case "session-request": {
      type = SESSION_PACKET_TYPE.sessionRequest;
      const called = encodeNetbiosName(packet.calledName, packet.calledSuffix);
      const calling = encodeNetbiosName(packet.callingName, packet.callingSuffix);
      trailer = new Uint8Array(called.length + calling.length);
      trailer.set(called);
      trailer.set(calling, called.length);
      break;
    }
    case "positive-response":
      type = SESSION_PACKET_TYPE.positiveResponse;
      trailer = new Uint8Array(0);
      break;
    case "negative-response":
      if (!Number.isInteger(packet.errorCode) || packet.errorCode < 0 || packet.errorCode > 0xff) {
        throw new RangeError(`ERROR_CODE must be a byte, got ${packet.errorCode}`);
      }
      type = SESSION_PACKET_TYPE.negativeResponse;
      trailer = Uint8Array.of(packet.errorCode);
      break;
    case "retarget-response": {
      type = SESSION_PACKET_TYPE.retargetResponse;
      const octets = packet.address.split(".").map(Number);
      if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) {
        throw new RangeError(`RETARGET_IP_ADDRESS must be dotted IPv4, got ${packet.address}`);
      }
      if (!Number.isInteger(packet.port) || packet.port < 0 || packet.port > 0xffff) {
        throw new RangeError(`PORT must be 0..65535, got ${packet.port}`);
      }
      trailer = Uint8Array.of(...octets, packet.port >> 8, packet.port & 0xff);
      break;
    }
    case "keep-alive":
      type = SESSION_PACKET_TYPE.keepAlive;
      trailer = new Uint8Array(0);
      break;
  }
  const out = new Uint8Array(SESSION_HEADER_LENGTH + trailer.length);
  out.set(header(type, trailer.length, transport));
  out.set(trailer, SESSION_HEADER_LENGTH);
  return out;
}

/**
 * Decode one whole session packet (header + exactly `length` trailer bytes, as the framer cuts
 * them). Never throws. A session message's payload is copied out.
 */
export function decodeSessionPacket(
  bytes: Uint8Array,
  transport: SessionTransport = "direct-tcp",
): SessionPacket | DecodeIssue {
  const head = decodeSessionHeader(bytes, transport);
  if (isDecodeIssue(head)) return head;
  const end = SESSION_HEADER_LENGTH + head.length;
  if (bytes.length < end) {
    return decodeIssue(
      "session-header",
      1,
      `length ${head.length} but only ${bytes.length - SESSION_HEADER_LENGTH} trailer bytes`,
      end - bytes.length,
    );
  }
  if (bytes.length > end) {
    return decodeIssue("session-packet", end, `${bytes.length - end} bytes after the packet`);
  }
  const trailer = bytes.subarray(SESSION_HEADER_LENGTH, end);
  const exactly = (n: number, what: string): DecodeIssue | null =>
    trailer.length === n
      ? null
      : decodeIssue(what, SESSION_HEADER_LENGTH, `trailer is ${trailer.length} bytes, not ${n}`);
  switch (head.type) {
    case SESSION_PACKET_TYPE.sessionMessage:
      return { type: "session-message", payload: trailer.slice() };
    case SESSION_PACKET_TYPE.sessionRequest: {
      const called = readWireName(trailer, 0);
      if (isDecodeIssue(called)) return shift({ ...called, what: "called-name" });
      const calling = readWireName(trailer, called.next);
      if (isDecodeIssue(calling)) return shift({ ...calling, what: "calling-name" });
      if (called.name === null || called.suffix === null) {
        return decodeIssue("called-name", SESSION_HEADER_LENGTH, "not a NetBIOS-encoded name");
      }
      if (calling.name === null || calling.suffix === null) {
        return decodeIssue(
          "calling-name",
          SESSION_HEADER_LENGTH + called.next,
          "not a NetBIOS-encoded name",
        );
      }
      if (calling.next !== trailer.length) {
        return decodeIssue(
          "session-request",
          SESSION_HEADER_LENGTH + calling.next,
          `${trailer.length - calling.next} bytes after the calling name`,
        );
      }
      return {
        type: "session-request",
        calledName: called.name,
        calledSuffix: called.suffix,
        callingName: calling.name,
        callingSuffix: calling.suffix,
      };
    }
    case SESSION_PACKET_TYPE.positiveResponse:
      return exactly(0, "positive-response") ?? { type: "positive-response" };
    case SESSION_PACKET_TYPE.negativeResponse:
      return (
        exactly(1, "negative-response") ?? {
          type: "negative-response",
          errorCode: trailer[0] ?? 0,
        }
      );
    case SESSION_PACKET_TYPE.retargetResponse:
      return (
        exactly(6, "retarget-response") ?? {
          type: "retarget-response",
          address: Array.from(trailer.subarray(0, 4)).join("."),
          port: ((trailer[4] ?? 0) << 8) | (trailer[5] ?? 0),
        }
      );
    default:
      return exactly(0, "keep-alive") ?? { type: "keep-alive" };
  }
}

/** Name-codec offsets are relative to the trailer; report them relative to the packet. */
function shift(issue: DecodeIssue): DecodeIssue {
  return { ...issue, offset: issue.offset + SESSION_HEADER_LENGTH };
}

export interface SessionFramerOptions {
  readonly transport?: SessionTransport;
  /** Largest trailer accepted; default 1 MiB, never more than the transport's format allows. */
  readonly maxMessageLength?: number;
}

/** What one SessionFramer.push produced. */
export interface SessionFramerOutput {
  readonly packets: SessionPacket[];
  readonly issue: DecodeIssue | null;
}

/**
 * Cuts a TCP byte stream (139 or 445) into session packets. Like PduFramer (dcerpc/fragments.ts):
 * it holds at most one partial packet, refuses any length above its cap before allocating, keeps
 * the packets framed before a problem, and after an issue stays poisoned (the stream has no
 * resynchronisation point): every later push returns no packets and the same issue. Keep-alives
 * are returned like any packet; callers skip them.
 */
export class SessionFramer {
  readonly transport: SessionTransport;
  readonly maxMessageLength: number;
  private readonly head = new Uint8Array(SESSION_HEADER_LENGTH);
  private headFill = 0;
  private packet: Uint8Array | null = null;
  private packetFill = 0;
  private poisoned: DecodeIssue | null = null;
  private consumed = 0;

  constructor(options: SessionFramerOptions = {}) {
    this.transport = options.transport ?? "direct-tcp";
    const formatMax =
      this.transport === "direct-tcp" ? DIRECT_TCP_MAX_LENGTH : NETBIOS_SESSION_MAX_LENGTH;
    const max = options.maxMessageLength ?? Math.min(DEFAULT_MAX_SESSION_MESSAGE_LENGTH, formatMax);
    if (!Number.isInteger(max) || max < 0 || max > formatMax) {
      throw new RangeError(`maxMessageLength must be 0..${formatMax} on ${this.transport}`);
    }
    this.maxMessageLength = max;
  }

  /** Bytes held for an incomplete packet; at most 4 + maxMessageLength. */
  get buffered(): number {
    return this.packet === null ? this.headFill : this.packetFill;
  }

  push(chunk: Uint8Array): SessionFramerOutput {
    if (this.poisoned !== null) return { packets: [], issue: this.poisoned };
    const out: SessionPacket[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.packet === null) {
        const take = Math.min(SESSION_HEADER_LENGTH - this.headFill, chunk.length - at);
        this.head.set(chunk.subarray(at, at + take), this.headFill);
        this.headFill += take;
        at += take;
        if (this.headFill < SESSION_HEADER_LENGTH) break;
        const head = decodeSessionHeader(this.head, this.transport);
        if (isDecodeIssue(head)) return { packets: out, issue: this.poison(head) };
        if (head.length > this.maxMessageLength) {
          const message = `length ${head.length} exceeds the ${this.maxMessageLength}-byte cap`;
          return { packets: out, issue: this.poison(decodeIssue("session-header", 1, message)) };
        }
        // Bounded by the cap just checked.
        this.packet = new Uint8Array(SESSION_HEADER_LENGTH + head.length);
        this.packet.set(this.head);
        this.packetFill = SESSION_HEADER_LENGTH;
        this.headFill = 0;
      }
      const take = Math.min(this.packet.length - this.packetFill, chunk.length - at);
      this.packet.set(chunk.subarray(at, at + take), this.packetFill);
      this.packetFill += take;
      at += take;
      if (this.packetFill === this.packet.length) {
        // A session message is the common case: hand out our own buffer rather than a copy.
        const decoded =
          this.packet[0] === SESSION_PACKET_TYPE.sessionMessage
            ? {
                type: "session-message" as const,
                payload: this.packet.subarray(SESSION_HEADER_LENGTH),
              }
            : decodeSessionPacket(this.packet, this.transport);
        if (isDecodeIssue(decoded)) return { packets: out, issue: this.poison(decoded) };
        out.push(decoded);
        this.consumed += this.packet.length;
        this.packet = null;
        this.packetFill = 0;
      }
    }
    return { packets: out, issue: null };
  }

  private poison(issue: DecodeIssue): DecodeIssue {
    const atStream = { ...issue, offset: this.consumed + issue.offset };
    this.poisoned = atStream;
    this.packet = null;
    this.headFill = 0;
    return atStream;
  }
}
