import net from "node:net";
import {
  SessionFramer,
  encodeSessionMessage,
  encodeSessionPacket,
  type SessionPacket,
  type SessionTransport,
} from "../../src/protocols/netbios/index.js";
import {
  NTLMSSP_NEGOTIATE_UNICODE,
  NTLMSSP_NEGOTIATE_NTLM,
  NTLMSSP_REQUEST_TARGET,
  NTLMSSP_NEGOTIATE_ALWAYS_SIGN,
  NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY,
  decodeChallenge,
  encodeNegotiate,
  isDecodeIssue,
  type ChallengeMessage,
} from "../../src/protocols/ntlmssp/index.js";
import {
  MECH_OID,
  decodeSecurityBlob,
  encodeNegTokenInit,
  encodeNegTokenResp,
  ntlmsspTokenOf,
} from "../../src/protocols/spnego/index.js";
import {
  SMB1_FLAGS2,
  decodeSmb1SessionSetupResponse,
  decodeSmb2SessionSetupResponse,
  encodeSmb1SessionSetupRequest,
  encodeSmb2SessionSetupRequest,
} from "../../src/protocols/smb/index.js";

/**
 * A minimal SMB client over a socket for the lab's SMB tests: framing (direct TCP or the RFC 1002
 * session service), one request → the next message, and the NTLMSSP logon both ways. Independent
 * of the lab's server (it shares only the codecs).
 */
export class SmbTestClient {
  private readonly framer: SessionFramer;
  private readonly queue: SessionPacket[] = [];
  private waiters: ((packet: SessionPacket | null) => void)[] = [];
  private ended = false;
  readonly closed: Promise<void>;

  private constructor(
    readonly socket: net.Socket,
    readonly transport: SessionTransport,
  ) {
    this.framer = new SessionFramer({ transport, maxMessageLength: 0x1ffff });
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.setNoDelay(true);
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => {
      const { packets } = this.framer.push(chunk);
      for (const packet of packets) {
        const waiter = this.waiters.shift();
        if (waiter !== undefined) waiter(packet);
        else this.queue.push(packet);
      }
    });
    socket.on("close", () => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w(null);
    });
  }

  static connect(
    port: number,
    transport: SessionTransport = "direct-tcp",
    host = "127.0.0.1",
  ): Promise<SmbTestClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.once("error", reject);
      socket.once("connect", () => resolve(new SmbTestClient(socket, transport)));
    });
  }

  /** RFC 1002 §4.3.2 SESSION REQUEST (TCP 139); resolves with the answer packet. */
  sessionRequest(calledName: string, calledSuffix = 0x20): Promise<SessionPacket | null> {
    this.socket.write(
      encodeSessionPacket({
        type: "session-request",
        calledName,
        calledSuffix,
        callingName: "RINGFENCE",
        callingSuffix: 0x00,
      }),
    );
    return this.next();
  }

  next(timeoutMs = 3_000): Promise<SessionPacket | null> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(null);
      }, timeoutMs);
      const done = (packet: SessionPacket | null): void => {
        clearTimeout(timer);
        resolve(packet);
      };
      this.waiters.push(done);
    });
  }

  /** Send one SMB message, return the next one the server sends (null: closed or silent). */
  async request(message: Uint8Array): Promise<Uint8Array | null> {
    this.socket.write(encodeSessionMessage(message, this.transport));
    const packet = await this.next();
    return packet?.type === "session-message" ? packet.payload : null;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** What nmap sends inside SPNEGO (research Appendix D: flags 0x00088215, ours without SIGN). */
export const NTLM_NEGOTIATE = encodeNegotiate({
  flags:
    NTLMSSP_NEGOTIATE_UNICODE |
    NTLMSSP_REQUEST_TARGET |
    NTLMSSP_NEGOTIATE_NTLM |
    NTLMSSP_NEGOTIATE_ALWAYS_SIGN |
    NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY,
});

/**
 * An anonymous AUTHENTICATE_MESSAGE (MS-NLMP §2.2.1.3, §3.2.5.1.2): every field empty, payload
 * offsets at the end of the 64-byte header. The codec has no AUTHENTICATE encoder (issue 4 sends
 * none to real hosts); the lab needs one to finish a null session.
 */
export function anonymousAuthenticate(): Uint8Array {
  const out = Buffer.alloc(64);
  Buffer.from("NTLMSSP\0", "latin1").copy(out, 0);
  out.writeUInt32LE(3, 8);
  for (let field = 12; field <= 52; field += 8) out.writeUInt32LE(64, field + 4);
  out.writeUInt32LE(NTLMSSP_NEGOTIATE_UNICODE | NTLMSSP_NEGOTIATE_NTLM, 60);
  return out;
}

/** The same with a user name ("guest"): a named logon. */
export function namedAuthenticate(user: string): Uint8Array {
  const name = Buffer.from(user, "utf16le");
  const out = Buffer.concat([anonymousAuthenticate(), name]);
  out.writeUInt16LE(name.length, 36);
  out.writeUInt16LE(name.length, 38);
  return out;
}

const spnegoInit = (token: Uint8Array): Uint8Array =>
  encodeNegTokenInit({ mechTypes: [MECH_OID.ntlmssp], mechToken: token });
const spnegoResp = (token: Uint8Array): Uint8Array => encodeNegTokenResp({ responseToken: token });

/** The CHALLENGE inside a session setup reply's blob, or null. */
export function challengeOf(blob: Uint8Array): ChallengeMessage | null {
  const decoded = decodeSecurityBlob(blob);
  if (isDecodeIssue(decoded)) return null;
  const token = ntlmsspTokenOf(decoded);
  if (token === null) return null;
  const challenge = decodeChallenge(token);
  return isDecodeIssue(challenge) ? null : challenge;
}

export interface Smb1Logon {
  readonly uid: number;
  readonly status: number;
  readonly challenge: ChallengeMessage | null;
  readonly nativeOs: string;
  readonly nativeLanMan: string;
  readonly primaryDomain: string;
}

const SMB1_FLAGS2_EXT =
  SMB1_FLAGS2.UNICODE |
  SMB1_FLAGS2.NT_STATUS |
  SMB1_FLAGS2.LONG_NAMES |
  SMB1_FLAGS2.EXTENDED_SECURITY;

/** SMB1 extended-security logon: NEGOTIATE → CHALLENGE → AUTHENTICATE (anonymous or named). */
export async function smb1ExtendedLogon(
  client: SmbTestClient,
  authenticate: Uint8Array = anonymousAuthenticate(),
): Promise<Smb1Logon> {
  const common = { maxBufferSize: 16644, maxMpxCount: 2, vcNumber: 1, sessionKey: 0 };
  const first = await client.request(
    encodeSmb1SessionSetupRequest(
      {
        form: "extended",
        ...common,
        capabilities: 0x800000d4,
        securityBlob: spnegoInit(NTLM_NEGOTIATE),
        nativeOs: "Unix",
        nativeLanMan: "ringfence",
      },
      { flags2: SMB1_FLAGS2_EXT, mid: 2 },
    ),
  );
  const one = first === null ? null : decodeSmb1SessionSetupResponse(first);
  if (one === null || isDecodeIssue(one)) throw new Error("no SESSION_SETUP reply to NEGOTIATE");
  const challenge = one.form === "extended" ? challengeOf(one.securityBlob) : null;
  const second = await client.request(
    encodeSmb1SessionSetupRequest(
      {
        form: "extended",
        ...common,
        capabilities: 0x800000d4,
        securityBlob: spnegoResp(authenticate),
        nativeOs: "Unix",
        nativeLanMan: "ringfence",
      },
      { flags2: SMB1_FLAGS2_EXT, mid: 3, uid: one.header.uid },
    ),
  );
  const header = second === null ? null : decodeSmb1SessionSetupResponse(second);
  if (second === null) throw new Error("no reply to AUTHENTICATE");
  const status = new DataView(second.buffer, second.byteOffset).getUint32(5, true);
  return {
    uid: one.header.uid,
    status,
    challenge,
    nativeOs: one.nativeOs,
    nativeLanMan: one.nativeLanMan,
    primaryDomain: header !== null && !isDecodeIssue(header) ? header.primaryDomain : "",
  };
}

export interface Smb2Logon {
  readonly sessionId: bigint;
  readonly status: number;
  readonly sessionFlags: number | null;
  readonly challenge: ChallengeMessage | null;
}

/** SMB2 logon (after an SMB2 NEGOTIATE): the same two legs. */
export async function smb2Logon(
  client: SmbTestClient,
  authenticate: Uint8Array = anonymousAuthenticate(),
  firstMessageId = 1n,
): Promise<Smb2Logon> {
  const request = (blob: Uint8Array, messageId: bigint, sessionId: bigint): Uint8Array =>
    encodeSmb2SessionSetupRequest(
      {
        flags: 0,
        securityMode: 1,
        capabilities: 0,
        channel: 0,
        previousSessionId: 0n,
        securityBuffer: blob,
      },
      { messageId, sessionId, credits: 1, creditCharge: 1 },
    );
  const first = await client.request(request(spnegoInit(NTLM_NEGOTIATE), firstMessageId, 0n));
  const one = first === null ? null : decodeSmb2SessionSetupResponse(first);
  if (one === null || isDecodeIssue(one)) throw new Error("no SESSION_SETUP reply to NEGOTIATE");
  const challenge = challengeOf(one.securityBuffer);
  const second = await client.request(
    request(spnegoResp(authenticate), firstMessageId + 1n, one.header.sessionId),
  );
  if (second === null) throw new Error("no reply to AUTHENTICATE");
  const two = decodeSmb2SessionSetupResponse(second);
  const status = new DataView(second.buffer, second.byteOffset).getUint32(8, true);
  return {
    sessionId: one.header.sessionId,
    status,
    sessionFlags: isDecodeIssue(two) ? null : two.sessionFlags,
    challenge,
  };
}

/** The Status field of an SMB1 (offset 5) or SMB2 (offset 8) message. */
export function statusOf(message: Uint8Array): number {
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  return message[0] === 0xff ? view.getUint32(5, true) : view.getUint32(8, true);
}
