import { randomBytes, randomUUID } from "node:crypto";
import {
  FSCTL,
  NT_STATUS,
  SMB2_CAPABILITIES,
  SMB2_COMMAND,
  SMB2_COMPRESSION_ALGORITHM,
  SMB2_COMPRESSION_FLAGS,
  SMB2_DIALECT,
  SMB2_HASH_ALGORITHM,
  SMB2_SECURITY_MODE,
  decodeSmb2CloseResponse,
  decodeSmb2CreateResponse,
  decodeSmb2Header,
  decodeSmb2IoctlResponse,
  decodeSmb2NegotiateResponse,
  decodeSmb2ReadResponse,
  decodeSmb2SessionSetupResponse,
  decodeSmb2TreeConnectResponse,
  decodeSmb2WriteResponse,
  encodeSmb2CloseRequest,
  encodeSmb2CreateRequest,
  encodeSmb2IoctlRequest,
  encodeSmb2LogoffRequest,
  encodeSmb2NegotiateRequest,
  encodeSmb2ReadRequest,
  encodeSmb2SessionSetupRequest,
  encodeSmb2TreeConnectRequest,
  encodeSmb2WriteRequest,
  formatNtStatus,
  isDecodeIssue,
  isSmb2Response,
  isSmb2Unsupported,
  ntStatusSeverity,
  smb2PipeOpenRequest,
  smb2PipeTransceiveRequest,
  type DecodeIssue,
  type Smb2Decoded,
  type Smb2FileId,
  type Smb2Header,
  type Smb2HeaderInit,
  type Smb2NegotiateContext,
  type Smb2NegotiateRequest,
  type Smb2NegotiateResponse,
  type Smb2SessionSetupResponse,
  type Smb2TreeConnectResponse,
} from "../protocols/smb/index.js";
import type { SmbChannel } from "./smb-connection.js";
import {
  isSmbFailure,
  smbDecodeFailure,
  smbFailure,
  smbStatusFailure,
  type SmbFailure,
} from "./smb-failure.js";

/**
 * An SMB2/3 client for what ringfence needs: NEGOTIATE (one dialect per probe, or every dialect
 * with 3.1.1 contexts), an anonymous SESSION_SETUP, TREE_CONNECT to IPC$, and named-pipe I/O
 * (CREATE, IOCTL FSCTL_PIPE_TRANSCEIVE, READ, WRITE, CLOSE). No signing, no encryption, no
 * compounding: one request outstanding at a time.
 *
 * Message ids and credits (MS-SMB2 §3.2.4.1.3, §3.2.4.1.5, §3.2.5.1.4):
 *  - the client starts with one credit and message id 0;
 *  - a request costs max(1, CreditCharge) credits and as many message ids; CreditCharge is
 *    1 + (payload − 1) / 65536 when the connection supports multi-credit (a dialect above 2.0.2
 *    and SMB2_GLOBAL_CAP_LARGE_MTU), else 0 (2.0.2 has no CreditCharge);
 *  - every response, interim ones included, grants CreditResponse credits; grants above
 *    `maxCredits` are not believed (a hostile server cannot make us think we may flood it);
 *  - with no credit left the client refuses to send ("no-credits") instead of violating the
 *    server's sequence window.
 *
 * STATUS_PENDING (§3.2.5.1.5, §3.3.4.2): an interim response with the async flag means "wait
 * for the final one"; its credits are taken, and at most `maxInterimResponses` are accepted per
 * request, all within the one read deadline the request started with (hostile servers send
 * them forever).
 */

export interface Smb2ClientOptions {
  /** One deadline per request, covering its interim responses; default 5 s. */
  readonly readTimeoutMs?: number;
  /** STATUS_PENDING interim responses accepted per request; default 8. */
  readonly maxInterimResponses?: number;
  /** Unsolicited messages (oplock breaks, id 0xFFFFFFFFFFFFFFFF) skipped per request; default 4. */
  readonly maxUnsolicited?: number;
  /** Credits the client tries to hold (it asks for the difference); default 8. */
  readonly creditTarget?: number;
  /** Grants beyond this are not believed; default 512. */
  readonly maxCredits?: number;
}

/** A final response (interims consumed) to one request. */
export interface Smb2Reply {
  readonly header: Smb2Header;
  readonly message: Uint8Array;
  /** STATUS_PENDING interim responses received before it. */
  readonly interims: number;
}

/** What each of the five dialects is called in evidence and in inferOs. */
export const SMB2_DIALECT_NAMES: ReadonlyMap<number, string> = new Map([
  [SMB2_DIALECT.SMB_2_0_2, "2.0.2"],
  [SMB2_DIALECT.SMB_2_1, "2.1"],
  [SMB2_DIALECT.SMB_3_0, "3.0"],
  [SMB2_DIALECT.SMB_3_0_2, "3.0.2"],
  [SMB2_DIALECT.SMB_3_1_1, "3.1.1"],
  [SMB2_DIALECT.WILDCARD, "2.???"],
]);

export function smb2DialectName(dialect: number): string {
  return SMB2_DIALECT_NAMES.get(dialect) ?? `0x${dialect.toString(16).padStart(4, "0")}`;
}

/** The message id of unsolicited oplock-break notifications (§3.3.4.6). */
const UNSOLICITED_MESSAGE_ID = 0xffffffffffffffffn;
/** What Windows puts in the sync header's Reserved (process id) field. */
const PROCESS_ID = 0xfeff;
/** MS-SMB2 §3.2.4.1.5: one credit covers 64 KiB of payload. */
const CREDIT_UNIT = 65536;

/**
 * The compression algorithms offered in the 3.1.1 NEGOTIATE: research Appendix C offers LZNT1
 * only; offering the others too makes the server list every one it supports (Windows 10 1903:
 * LZNT1, LZ77, LZ77+Huffman), which the fingerprint records. We never compress anything.
 */
const OFFERED_COMPRESSION = [
  SMB2_COMPRESSION_ALGORITHM.LZNT1,
  SMB2_COMPRESSION_ALGORITHM.LZ77,
  SMB2_COMPRESSION_ALGORITHM.LZ77_HUFFMAN,
  SMB2_COMPRESSION_ALGORITHM.PATTERN_V1,
];

/**
 * A NEGOTIATE request offering `dialects`. With 3.1.1 among them it carries the two contexts of
 * research Appendix C (PREAUTH_INTEGRITY SHA-512 with a random 32-byte salt, COMPRESSION), the
 * SMBGhost capability probe; the client GUID is random per connection.
 */
export function smb2NegotiateRequest(dialects: readonly number[]): Smb2NegotiateRequest {
  const contexts: Smb2NegotiateContext[] = dialects.includes(SMB2_DIALECT.SMB_3_1_1)
    ? [
        {
          type: "preauth-integrity",
          hashAlgorithms: [SMB2_HASH_ALGORITHM.SHA_512],
          salt: randomBytes(32),
        },
        {
          type: "compression",
          flags: SMB2_COMPRESSION_FLAGS.NONE,
          algorithms: OFFERED_COMPRESSION,
        },
      ]
    : [];
  return {
    dialects,
    // §3.2.4.2.2.2: SIGNING_ENABLED; we never require it (and never sign).
    securityMode: SMB2_SECURITY_MODE.SIGNING_ENABLED,
    capabilities: dialects.some((d) => d >= SMB2_DIALECT.SMB_2_1)
      ? SMB2_CAPABILITIES.DFS | SMB2_CAPABILITIES.LARGE_MTU
      : SMB2_CAPABILITIES.DFS,
    clientGuid: randomUUID(),
    contexts,
  };
}

export class Smb2Client {
  /** The negotiated dialect (null before NEGOTIATE, or after a wildcard answer). */
  dialect: number | null = null;
  serverCapabilities = 0;
  sessionId = 0n;
  treeId = 0;
  readonly readTimeoutMs: number;
  private readonly maxInterims: number;
  private readonly maxUnsolicited: number;
  private readonly creditTarget: number;
  private readonly maxCredits: number;
  private nextMessageId = 0n;
  private credits = 1;
  private outstanding = false;
  private failure: SmbFailure | null = null;
  /** Every message id sent, in order (tests check no id is ever reused). */
  readonly sentMessageIds: bigint[] = [];

  constructor(
    readonly channel: SmbChannel,
    options: Smb2ClientOptions = {},
  ) {
    this.readTimeoutMs = options.readTimeoutMs ?? 5000;
    this.maxInterims = options.maxInterimResponses ?? 8;
    this.maxUnsolicited = options.maxUnsolicited ?? 4;
    this.creditTarget = options.creditTarget ?? 8;
    this.maxCredits = options.maxCredits ?? 512;
  }

  /** Credits the client believes it may still spend. */
  get availableCredits(): number {
    return this.credits;
  }

  /** §3.2.4.1.5: Connection.SupportsMultiCredit. */
  get supportsMultiCredit(): boolean {
    return (
      this.dialect !== null &&
      this.dialect !== SMB2_DIALECT.SMB_2_0_2 &&
      this.dialect !== SMB2_DIALECT.WILDCARD &&
      (this.serverCapabilities & SMB2_CAPABILITIES.LARGE_MTU) !== 0
    );
  }

  /**
   * Send one request and wait for its final response (interim STATUS_PENDING ones consumed).
   * `payload` is the larger of what is sent and what may come back, for the credit charge.
   * Error statuses are returned as replies (the caller decides); only transport, protocol and
   * bound violations are failures, after which the client is unusable.
   */
  async exchange(
    command: number,
    encode: (header: Smb2HeaderInit) => Uint8Array,
    payload = 0,
  ): Promise<Smb2Reply | SmbFailure> {
    if (this.failure !== null) return this.failure;
    if (this.outstanding) {
      return smbFailure("busy", `${this.channel.label}: a request is already outstanding`);
    }
    const charge = this.supportsMultiCredit
      ? 1 + Math.floor(Math.max(0, payload - 1) / CREDIT_UNIT)
      : 0;
    const cost = Math.max(1, charge);
    if (this.credits < cost) {
      return this.fail(
        smbFailure(
          "no-credits",
          `${this.channel.label}: ${this.credits} credit(s) left, ${cost} needed (the server granted none)`,
        ),
      );
    }
    const messageId = this.nextMessageId;
    const request = Math.min(0xffff, Math.max(cost, this.creditTarget - (this.credits - cost)));
    let bytes: Uint8Array;
    try {
      bytes = encode({
        creditCharge: charge,
        credits: request,
        messageId,
        processId: PROCESS_ID,
        treeId: this.treeId,
        sessionId: this.sessionId,
      });
    } catch (error) {
      return smbFailure("protocol", `${this.channel.label}: ${(error as Error).message}`);
    }
    const sent = this.channel.send(bytes);
    if (sent !== null) return this.fail(sent);
    this.outstanding = true;
    this.credits -= cost;
    this.nextMessageId += BigInt(cost);
    this.sentMessageIds.push(messageId);
    try {
      return await this.awaitFinal(command, messageId, performance.now() + this.readTimeoutMs);
    } finally {
      this.outstanding = false;
    }
  }

  private async awaitFinal(
    command: number,
    messageId: bigint,
    deadline: number,
  ): Promise<Smb2Reply | SmbFailure> {
    let interims = 0;
    let unsolicited = 0;
    const label = this.channel.label;
    for (;;) {
      const message = await this.channel.receive(deadline);
      if (isSmbFailure(message)) return this.fail(message);
      const header = decodeSmb2Header(message);
      if (isDecodeIssue(header)) return this.fail(smbDecodeFailure(header, label));
      if (isSmb2Unsupported(header)) {
        return this.fail(
          smbFailure("unsupported", `${label}: the server sent a ${header.form} header`),
        );
      }
      if (!isSmb2Response(header)) {
        return this.fail(smbFailure("protocol", `${label}: the server sent a request`));
      }
      if (header.messageId === UNSOLICITED_MESSAGE_ID) {
        // An oplock/lease break we never asked for (we take no oplocks): skipped, bounded.
        if (++unsolicited > this.maxUnsolicited) {
          return this.fail(
            smbFailure(
              "protocol",
              `${label}: more than ${this.maxUnsolicited} unsolicited messages`,
            ),
          );
        }
        continue;
      }
      if (header.nextCommand !== 0) {
        return this.fail(
          smbFailure("protocol", `${label}: a compounded response to a single request`),
        );
      }
      if (header.messageId !== messageId) {
        return this.fail(
          smbFailure(
            "protocol",
            `${label}: a response with message id ${header.messageId}, expected ${messageId}`,
          ),
        );
      }
      if (header.command !== command) {
        return this.fail(
          smbFailure(
            "protocol",
            `${label}: a response to command 0x${header.command.toString(16)}, expected 0x${command.toString(16)}`,
          ),
        );
      }
      this.grant(header.credits);
      if (header.status === NT_STATUS.PENDING) {
        // §3.2.5.1.5: interim (async) response; the final one follows under the same id.
        if (++interims > this.maxInterims) {
          return this.fail(
            smbFailure(
              "pending-limit",
              `${label}: more than ${this.maxInterims} STATUS_PENDING interim responses to one request`,
            ),
          );
        }
        continue;
      }
      return { header, message, interims };
    }
  }

  private grant(credits: number): void {
    this.credits = Math.min(this.maxCredits, this.credits + credits);
  }

  private fail(failure: SmbFailure): SmbFailure {
    if (this.failure === null) {
      this.failure = failure;
      this.channel.close();
    }
    return failure;
  }

  close(): void {
    if (this.failure === null) this.fail(smbFailure("closed", `${this.channel.label}: closed`));
  }

  /** Decode a reply's body, or explain its error status. */
  private body<T>(
    reply: Smb2Reply,
    decode: (message: Uint8Array) => T | DecodeIssue,
    what: string,
    okStatuses: readonly number[] = [NT_STATUS.SUCCESS],
  ): T | SmbFailure {
    const status = reply.header.status >>> 0;
    if (!okStatuses.includes(status)) {
      return smbStatusFailure(status, `${this.channel.label}: ${what}`);
    }
    const decoded = decode(reply.message);
    if (isDecodeIssue(decoded))
      return this.fail(smbDecodeFailure(decoded, `${this.channel.label}: ${what}`));
    return decoded;
  }

  // -------------------------------------------------------------------------------------------
  // Commands

  /** §3.2.4.2.2.2. The negotiated dialect is remembered (and the server's capabilities). */
  async negotiate(
    request: Smb2NegotiateRequest,
  ): Promise<Smb2Decoded<Smb2NegotiateResponse> | SmbFailure> {
    const reply = await this.exchange(SMB2_COMMAND.NEGOTIATE, (h) =>
      encodeSmb2NegotiateRequest(request, { ...h, creditCharge: 0 }),
    );
    if (isSmbFailure(reply)) return reply;
    const response = this.body(reply, decodeSmb2NegotiateResponse, "NEGOTIATE");
    if (isSmbFailure(response)) return response;
    if (
      response.dialectRevision !== SMB2_DIALECT.WILDCARD &&
      !request.dialects.includes(response.dialectRevision)
    ) {
      return this.fail(
        smbFailure(
          "protocol",
          `${this.channel.label}: NEGOTIATE chose dialect ${smb2DialectName(response.dialectRevision)}, which was not offered`,
        ),
      );
    }
    this.dialect = response.dialectRevision;
    this.serverCapabilities = response.capabilities;
    return response;
  }

  /**
   * One SESSION_SETUP leg with `securityBuffer`. STATUS_MORE_PROCESSING_REQUIRED and SUCCESS come
   * back decoded (the session id is taken from the first reply); any other status is a "status"
   * failure (the connection stays usable).
   */
  async sessionSetup(
    securityBuffer: Uint8Array,
  ): Promise<Smb2Decoded<Smb2SessionSetupResponse> | SmbFailure> {
    const reply = await this.exchange(
      SMB2_COMMAND.SESSION_SETUP,
      (h) =>
        encodeSmb2SessionSetupRequest(
          {
            flags: 0,
            securityMode: SMB2_SECURITY_MODE.SIGNING_ENABLED,
            capabilities: SMB2_CAPABILITIES.DFS,
            channel: 0,
            previousSessionId: 0n,
            securityBuffer,
          },
          h,
        ),
      securityBuffer.length,
    );
    if (isSmbFailure(reply)) return reply;
    const response = this.body(reply, decodeSmb2SessionSetupResponse, "SESSION_SETUP", [
      NT_STATUS.SUCCESS,
      NT_STATUS.MORE_PROCESSING_REQUIRED,
    ]);
    if (isSmbFailure(response)) return response;
    if (this.sessionId === 0n) this.sessionId = response.header.sessionId;
    return response;
  }

  /** §3.2.4.2.4 on `\\server\share`; the tree id is remembered. */
  async treeConnect(path: string): Promise<Smb2Decoded<Smb2TreeConnectResponse> | SmbFailure> {
    const reply = await this.exchange(SMB2_COMMAND.TREE_CONNECT, (h) =>
      encodeSmb2TreeConnectRequest({ flags: 0, path }, { ...h, treeId: 0 }),
    );
    if (isSmbFailure(reply)) return reply;
    const response = this.body(reply, decodeSmb2TreeConnectResponse, "TREE_CONNECT");
    if (isSmbFailure(response)) return response;
    this.treeId = response.header.treeId;
    return response;
  }

  /** Open a named pipe on the connected IPC$ tree (name without `\pipe\`). */
  async openPipe(name: string): Promise<Smb2FileId | SmbFailure> {
    const reply = await this.exchange(SMB2_COMMAND.CREATE, (h) =>
      encodeSmb2CreateRequest(smb2PipeOpenRequest(name), h),
    );
    if (isSmbFailure(reply)) return reply;
    const response = this.body(reply, decodeSmb2CreateResponse, `CREATE ${name}`);
    return isSmbFailure(response) ? response : response.fileId;
  }

  /**
   * FSCTL_PIPE_TRANSCEIVE (MS-FSCC §2.3.49): write `data` and read one pipe message of up to
   * `maxOutput` bytes. `more` is true on STATUS_BUFFER_OVERFLOW (read the rest with read()).
   */
  async transceive(
    fileId: Smb2FileId,
    data: Uint8Array,
    maxOutput: number,
  ): Promise<{ data: Uint8Array; more: boolean } | SmbFailure> {
    const reply = await this.exchange(
      SMB2_COMMAND.IOCTL,
      (h) => encodeSmb2IoctlRequest(smb2PipeTransceiveRequest(fileId, data, maxOutput), h),
      Math.max(data.length, maxOutput),
    );
    if (isSmbFailure(reply)) return reply;
    const response = this.body(reply, decodeSmb2IoctlResponse, "IOCTL FSCTL_PIPE_TRANSCEIVE", [
      NT_STATUS.SUCCESS,
      NT_STATUS.BUFFER_OVERFLOW,
    ]);
    if (isSmbFailure(response)) return response;
    if (response.ctlCode !== FSCTL.PIPE_TRANSCEIVE) {
      return this.fail(
        smbFailure("protocol", `${this.channel.label}: IOCTL answered another FSCTL`),
      );
    }
    return { data: response.output, more: reply.header.status >>> 0 === NT_STATUS.BUFFER_OVERFLOW };
  }

  /** READ up to `length` bytes of the pipe; `more` on STATUS_BUFFER_OVERFLOW. */
  async read(
    fileId: Smb2FileId,
    length: number,
  ): Promise<{ data: Uint8Array; more: boolean } | SmbFailure> {
    const reply = await this.exchange(
      SMB2_COMMAND.READ,
      (h) =>
        encodeSmb2ReadRequest(
          {
            padding: 0x50,
            flags: 0,
            length,
            offset: 0n,
            fileId,
            minimumCount: 0,
            channel: 0,
            remainingBytes: 0,
          },
          h,
        ),
      length,
    );
    if (isSmbFailure(reply)) return reply;
    const response = this.body(reply, decodeSmb2ReadResponse, "READ", [
      NT_STATUS.SUCCESS,
      NT_STATUS.BUFFER_OVERFLOW,
    ]);
    if (isSmbFailure(response)) return response;
    return { data: response.data, more: reply.header.status >>> 0 === NT_STATUS.BUFFER_OVERFLOW };
  }

  async write(fileId: Smb2FileId, data: Uint8Array): Promise<number | SmbFailure> {
    const reply = await this.exchange(
      SMB2_COMMAND.WRITE,
      (h) =>
        encodeSmb2WriteRequest(
          { offset: 0n, fileId, channel: 0, remainingBytes: 0, flags: 0, data },
          h,
        ),
      data.length,
    );
    if (isSmbFailure(reply)) return reply;
    const response = this.body(reply, decodeSmb2WriteResponse, "WRITE");
    return isSmbFailure(response) ? response : response.count;
  }

  async closeFile(fileId: Smb2FileId): Promise<null | SmbFailure> {
    const reply = await this.exchange(SMB2_COMMAND.CLOSE, (h) =>
      encodeSmb2CloseRequest({ flags: 0, fileId }, h),
    );
    if (isSmbFailure(reply)) return reply;
    const response = this.body(reply, decodeSmb2CloseResponse, "CLOSE");
    return isSmbFailure(response) ? response : null;
  }

  async logoff(): Promise<null | SmbFailure> {
    const reply = await this.exchange(SMB2_COMMAND.LOGOFF, (h) => encodeSmb2LogoffRequest(h));
    if (isSmbFailure(reply)) return reply;
    return ntStatusSeverity(reply.header.status) === "error"
      ? smbStatusFailure(reply.header.status, `${this.channel.label}: LOGOFF`)
      : null;
  }
}

/** "STATUS_ACCESS_DENIED (0xc0000022)"-style text for evidence. */
export function describeStatus(status: number): string {
  const name = formatNtStatus(status);
  const hex = `0x${(status >>> 0).toString(16).padStart(8, "0")}`;
  return name === hex ? hex : `${name} (${hex})`;
}
