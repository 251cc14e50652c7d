import {
  NT_STATUS,
  SMB1_CAPABILITIES,
  SMB1_COMMAND,
  SMB1_DEFAULT_FLAGS2,
  SMB1_DIALECT_NT_LM_012,
  SMB1_FLAGS2,
  SMB1_NO_DIALECT,
  SMB1_SERVICE,
  SMB1_WRITE_MODE,
  decodeSmb1CloseResponse,
  decodeSmb1Header,
  decodeSmb1NegotiateResponse,
  decodeSmb1NtCreateResponse,
  decodeSmb1ReadResponse,
  decodeSmb1SessionSetupResponse,
  decodeSmb1TransactionResponse,
  decodeSmb1TreeConnectResponse,
  decodeSmb1WriteResponse,
  encodeSmb1CloseRequest,
  encodeSmb1NegotiateRequest,
  encodeSmb1NtCreateRequest,
  encodeSmb1ReadRequest,
  encodeSmb1SessionSetupRequest,
  encodeSmb1TransactionRequest,
  encodeSmb1TreeConnectRequest,
  encodeSmb1WriteRequest,
  isDecodeIssue,
  isSmb1Reply,
  ntStatusSeverity,
  smb1PeekNamedPipeRequest,
  smb1PipeOpenRequest,
  smb1TransactNamedPipeRequest,
  sniffSmbProtocol,
  type DecodeIssue,
  type Smb1Decoded,
  type Smb1Header,
  type Smb1HeaderInit,
  type Smb1NtLmNegotiateResponse,
  type Smb1SessionSetupResponse,
  type Smb1TransactionRequest,
  type Smb1TreeConnectResponse,
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
 * An SMB1 (NT LM 0.12) client for what ringfence needs (research §2.3, Appendices A, B, D):
 * NEGOTIATE with or without extended security, a null SESSION_SETUP_ANDX (basic: empty account
 * and password; extended: the anonymous NTLMSSP exchange), TREE_CONNECT_ANDX to IPC$,
 * NT_CREATE_ANDX of a pipe, TransactNmPipe, WRITE_ANDX/READ_ANDX and CLOSE, and the MS17-010
 * PeekNamedPipe on FID 0. One request outstanding; MIDs count up from 1; UID and TID are taken
 * from the replies. Never signs.
 */

export interface Smb1ClientOptions {
  /** One deadline per request; default 5 s. */
  readonly readTimeoutMs?: number;
  /** Messages accepted for one multi-part TRANSACTION response; default 32. */
  readonly maxTransactionParts?: number;
}

export interface Smb1Reply {
  readonly header: Smb1Header;
  readonly message: Uint8Array;
}

/** What NEGOTIATE established: accepted (the NT LM 0.12 response) or why not. */
export type Smb1NegotiateOutcome =
  | { readonly kind: "accepted"; readonly response: Smb1Decoded<Smb1NtLmNegotiateResponse> }
  | {
      readonly kind: "refused";
      /** "no dialect (0xFFFF)", "answered in SMB2", "a LANMAN dialect", ... */
      readonly reason: string;
      readonly status: number | null;
    };

/** Process id in the header (research Appendix B's 51-byte negotiate). */
const PID = 0xfeff;
const CLIENT_NATIVE_OS = "ringfence";
const CLIENT_NATIVE_LANMAN = "ringfence";

export class Smb1Client {
  uid = 0;
  tid = 0;
  /** Set once NEGOTIATE chose extended security (flags2 0x0800 from then on). */
  extendedSecurity = false;
  unicode = true;
  /** The server's MaxBufferSize from NEGOTIATE (bounds one request). */
  serverMaxBuffer = 4356;
  readonly readTimeoutMs: number;
  private readonly maxParts: number;
  private mid = 0;
  private outstanding = false;
  private failure: SmbFailure | null = null;

  constructor(
    readonly channel: SmbChannel,
    options: Smb1ClientOptions = {},
  ) {
    this.readTimeoutMs = options.readTimeoutMs ?? 5000;
    this.maxParts = options.maxTransactionParts ?? 32;
  }

  private headerInit(): Smb1HeaderInit {
    let flags2 = SMB1_DEFAULT_FLAGS2;
    if (this.extendedSecurity) flags2 |= SMB1_FLAGS2.EXTENDED_SECURITY;
    if (!this.unicode) flags2 &= ~SMB1_FLAGS2.UNICODE;
    this.mid = (this.mid % 0xfffe) + 1; // 1..0xFFFE: 0xFFFF is the server's oplock-break MID
    return { flags2, pidLow: PID, uid: this.uid, tid: this.tid, mid: this.mid };
  }

  /**
   * Send one request and read its reply (or, for a multi-part TRANSACTION, its first part).
   * Error statuses are replies; only transport and protocol problems are failures.
   */
  async exchange(
    command: number,
    encode: (header: Smb1HeaderInit) => Uint8Array,
  ): Promise<Smb1Reply | SmbFailure> {
    if (this.failure !== null) return this.failure;
    if (this.outstanding) {
      return smbFailure("busy", `${this.channel.label}: a request is already outstanding`);
    }
    const init = this.headerInit();
    let bytes: Uint8Array;
    try {
      bytes = encode(init);
    } catch (error) {
      return smbFailure("protocol", `${this.channel.label}: ${(error as Error).message}`);
    }
    const sent = this.channel.send(bytes);
    if (sent !== null) return this.fail(sent);
    this.outstanding = true;
    try {
      return await this.readReply(command, init.mid ?? 0, performance.now() + this.readTimeoutMs);
    } finally {
      this.outstanding = false;
    }
  }

  private async readReply(
    command: number,
    mid: number,
    deadline: number,
  ): Promise<Smb1Reply | SmbFailure> {
    const label = this.channel.label;
    const message = await this.channel.receive(deadline);
    if (isSmbFailure(message)) return this.fail(message);
    const protocol = sniffSmbProtocol(message);
    if (protocol !== "smb1") {
      return this.fail(
        smbFailure("protocol", `${label}: an ${protocol} message where an SMB1 reply was due`),
      );
    }
    const header = decodeSmb1Header(message);
    if (isDecodeIssue(header)) return this.fail(smbDecodeFailure(header, label));
    if (!isSmb1Reply(header)) {
      return this.fail(smbFailure("protocol", `${label}: the server sent a request`));
    }
    if (header.command !== command || header.mid !== mid) {
      return this.fail(
        smbFailure(
          "protocol",
          `${label}: a reply to command 0x${header.command.toString(16)} MID ${header.mid}, expected 0x${command.toString(16)} MID ${mid}`,
        ),
      );
    }
    return { header, message };
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

  private decoded<T>(
    reply: Smb1Reply,
    decode: (message: Uint8Array) => T | DecodeIssue,
    what: string,
    okStatuses: readonly number[] = [NT_STATUS.SUCCESS],
  ): T | SmbFailure {
    const status = reply.header.status >>> 0;
    if (!okStatuses.includes(status)) {
      return smbStatusFailure(status, `${this.channel.label}: ${what}`);
    }
    const value = decode(reply.message);
    if (isDecodeIssue(value)) {
      return this.fail(smbDecodeFailure(value, `${this.channel.label}: ${what}`));
    }
    return value;
  }

  // -------------------------------------------------------------------------------------------
  // Commands

  /**
   * NEGOTIATE offering only NT LM 0.12 (research Appendix B), asking for extended security or
   * not. "refused" when the server picks no dialect or answers in a form we did not ask for.
   */
  async negotiate(options: {
    extendedSecurity: boolean;
  }): Promise<Smb1NegotiateOutcome | SmbFailure> {
    this.extendedSecurity = options.extendedSecurity;
    const reply = await this.exchange(SMB1_COMMAND.NEGOTIATE, (h) =>
      encodeSmb1NegotiateRequest({ dialects: [SMB1_DIALECT_NT_LM_012] }, h),
    );
    if (isSmbFailure(reply)) return reply;
    const status = reply.header.status >>> 0;
    if (ntStatusSeverity(status) === "error") {
      return { kind: "refused", reason: `NEGOTIATE failed`, status };
    }
    const response = decodeSmb1NegotiateResponse(reply.message);
    if (isDecodeIssue(response)) {
      return this.fail(smbDecodeFailure(response, `${this.channel.label}: NEGOTIATE`));
    }
    if (response.form === "index-only") {
      return {
        kind: "refused",
        reason:
          response.dialectIndex === SMB1_NO_DIALECT
            ? "no dialect accepted (DialectIndex 0xFFFF)"
            : `a core dialect (DialectIndex ${response.dialectIndex})`,
        status,
      };
    }
    if (response.form === "lanman" || response.dialectIndex !== 0) {
      return { kind: "refused", reason: `DialectIndex ${response.dialectIndex}`, status };
    }
    this.extendedSecurity = response.security.kind === "extended";
    this.unicode = (response.capabilities & SMB1_CAPABILITIES.UNICODE) !== 0;
    this.serverMaxBuffer = response.maxBufferSize;
    return { kind: "accepted", response };
  }

  private sessionCapabilities(): number {
    return (
      (this.unicode ? SMB1_CAPABILITIES.UNICODE : 0) |
      SMB1_CAPABILITIES.NT_SMBS |
      SMB1_CAPABILITIES.STATUS32 |
      (this.extendedSecurity ? SMB1_CAPABILITIES.EXTENDED_SECURITY : 0)
    );
  }

  /**
   * Null session, basic form (MS-CIFS §2.2.4.53.1): empty account, empty passwords. The reply
   * carries NativeOS, NativeLanMan and PrimaryDomain (research Appendix D source 1).
   */
  async sessionSetupNull(): Promise<Smb1Decoded<Smb1SessionSetupResponse> | SmbFailure> {
    const reply = await this.exchange(SMB1_COMMAND.SESSION_SETUP_ANDX, (h) =>
      encodeSmb1SessionSetupRequest(
        {
          form: "basic",
          maxBufferSize: 0xffff,
          maxMpxCount: 2,
          vcNumber: 1,
          sessionKey: 0,
          capabilities: this.sessionCapabilities(),
          oemPassword: new Uint8Array(0),
          unicodePassword: new Uint8Array(0),
          accountName: "",
          primaryDomain: "",
          nativeOs: CLIENT_NATIVE_OS,
          nativeLanMan: CLIENT_NATIVE_LANMAN,
        },
        h,
      ),
    );
    if (isSmbFailure(reply)) return reply;
    const response = this.decoded(reply, decodeSmb1SessionSetupResponse, "SESSION_SETUP_ANDX");
    if (isSmbFailure(response)) return response;
    this.uid = response.header.uid;
    return response;
  }

  /**
   * One extended-security leg (MS-SMB §2.2.4.6.1) with `securityBlob`; SUCCESS and
   * MORE_PROCESSING_REQUIRED come back decoded, the UID from the first reply is kept.
   */
  async sessionSetupExtended(
    securityBlob: Uint8Array,
  ): Promise<Smb1Decoded<Smb1SessionSetupResponse> | SmbFailure> {
    const reply = await this.exchange(SMB1_COMMAND.SESSION_SETUP_ANDX, (h) =>
      encodeSmb1SessionSetupRequest(
        {
          form: "extended",
          maxBufferSize: 0xffff,
          maxMpxCount: 2,
          vcNumber: 1,
          sessionKey: 0,
          capabilities: this.sessionCapabilities(),
          securityBlob,
          nativeOs: CLIENT_NATIVE_OS,
          nativeLanMan: CLIENT_NATIVE_LANMAN,
        },
        h,
      ),
    );
    if (isSmbFailure(reply)) return reply;
    const response = this.decoded(reply, decodeSmb1SessionSetupResponse, "SESSION_SETUP_ANDX", [
      NT_STATUS.SUCCESS,
      NT_STATUS.MORE_PROCESSING_REQUIRED,
    ]);
    if (isSmbFailure(response)) return response;
    if (this.uid === 0) this.uid = response.header.uid;
    return response;
  }

  /** TREE_CONNECT_ANDX `\\host\IPC$` (service "?????", one NUL password byte; Appendix A). */
  async treeConnect(path: string): Promise<Smb1Decoded<Smb1TreeConnectResponse> | SmbFailure> {
    const reply = await this.exchange(SMB1_COMMAND.TREE_CONNECT_ANDX, (h) =>
      encodeSmb1TreeConnectRequest(
        { flags: 0, password: Uint8Array.of(0), path, service: SMB1_SERVICE.ANY },
        { ...h, tid: 0 },
      ),
    );
    if (isSmbFailure(reply)) return reply;
    const response = this.decoded(reply, decodeSmb1TreeConnectResponse, "TREE_CONNECT_ANDX");
    if (isSmbFailure(response)) return response;
    this.tid = response.header.tid;
    return response;
  }

  /**
   * MS17-010 (research Appendix A step 5): TRANS_PEEK_NMPIPE on FID 0. The reply's status is
   * the answer, whatever it is, so the whole reply is returned.
   */
  async peekNamedPipe(fid = 0): Promise<Smb1Reply | SmbFailure> {
    return this.exchange(SMB1_COMMAND.TRANSACTION, (h) =>
      encodeSmb1TransactionRequest(smb1PeekNamedPipeRequest(fid), h),
    );
  }

  /** NT_CREATE_ANDX of `\name` on the IPC$ tree; the FID. */
  async openPipe(name: string): Promise<number | SmbFailure> {
    const reply = await this.exchange(SMB1_COMMAND.NT_CREATE_ANDX, (h) =>
      encodeSmb1NtCreateRequest(smb1PipeOpenRequest(name), h),
    );
    if (isSmbFailure(reply)) return reply;
    const response = this.decoded(reply, decodeSmb1NtCreateResponse, `NT_CREATE_ANDX ${name}`);
    return isSmbFailure(response) ? response : response.fid;
  }

  /**
   * A TRANSACTION whose response data may come in several messages (MS-CIFS §3.2.5.42: the
   * server sends as many as the totals need, each with the same MID); reassembled by data
   * displacement, at most `maxTransactionParts` messages. STATUS_BUFFER_OVERFLOW is success with
   * `more` (the rest of the pipe message is read with READ_ANDX).
   */
  async transaction(
    request: Smb1TransactionRequest,
  ): Promise<{ data: Uint8Array; more: boolean } | SmbFailure> {
    const first = await this.exchange(SMB1_COMMAND.TRANSACTION, (h) =>
      encodeSmb1TransactionRequest(request, h),
    );
    if (isSmbFailure(first)) return first;
    const ok = [NT_STATUS.SUCCESS, NT_STATUS.BUFFER_OVERFLOW];
    let part = this.decoded(first, decodeSmb1TransactionResponse, "TRANSACTION", ok);
    if (isSmbFailure(part)) return part;
    const total = part.totalDataCount;
    if (total > request.maxDataCount) {
      return this.fail(
        smbFailure(
          "protocol",
          `${this.channel.label}: TRANSACTION announces ${total} data bytes, ${request.maxDataCount} were allowed`,
        ),
      );
    }
    const data = new Uint8Array(total);
    let received = 0;
    for (let parts = 1; ; parts++) {
      if (part.dataDisplacement + part.data.length > total) {
        return this.fail(
          smbFailure("protocol", `${this.channel.label}: TRANSACTION data past its total`),
        );
      }
      data.set(part.data, part.dataDisplacement);
      received += part.data.length;
      if (received >= total || part.data.length === 0) break;
      if (parts >= this.maxParts) {
        return this.fail(
          smbFailure(
            "protocol",
            `${this.channel.label}: TRANSACTION response in over ${this.maxParts} parts`,
          ),
        );
      }
      // Further parts: same MID, no new request.
      this.outstanding = true;
      const next = await this.readReply(
        SMB1_COMMAND.TRANSACTION,
        first.header.mid,
        performance.now() + this.readTimeoutMs,
      ).finally(() => (this.outstanding = false));
      if (isSmbFailure(next)) return next;
      part = this.decoded(next, decodeSmb1TransactionResponse, "TRANSACTION", ok);
      if (isSmbFailure(part)) return part;
    }
    return {
      data: data.subarray(0, received),
      more: first.header.status >>> 0 === NT_STATUS.BUFFER_OVERFLOW,
    };
  }

  /** TransactNmPipe (research §2.3 step 4): write a PDU, read the answer's first message. */
  transactNamedPipe(
    fid: number,
    data: Uint8Array,
    maxDataCount: number,
  ): Promise<{ data: Uint8Array; more: boolean } | SmbFailure> {
    return this.transaction(smb1TransactNamedPipeRequest(fid, data, maxDataCount));
  }

  async read(fid: number, max: number): Promise<{ data: Uint8Array; more: boolean } | SmbFailure> {
    const reply = await this.exchange(SMB1_COMMAND.READ_ANDX, (h) =>
      encodeSmb1ReadRequest(
        {
          fid,
          offset: 0,
          offsetHigh: 0,
          maxCountOfBytesToReturn: Math.min(max, 0xffff),
          minCountOfBytesToReturn: 0,
          timeout: 0,
          remaining: 0,
        },
        h,
      ),
    );
    if (isSmbFailure(reply)) return reply;
    const response = this.decoded(reply, decodeSmb1ReadResponse, "READ_ANDX", [
      NT_STATUS.SUCCESS,
      NT_STATUS.BUFFER_OVERFLOW,
    ]);
    if (isSmbFailure(response)) return response;
    return { data: response.data, more: reply.header.status >>> 0 === NT_STATUS.BUFFER_OVERFLOW };
  }

  async write(fid: number, data: Uint8Array): Promise<number | SmbFailure> {
    const reply = await this.exchange(SMB1_COMMAND.WRITE_ANDX, (h) =>
      encodeSmb1WriteRequest(
        {
          fid,
          offset: 0,
          offsetHigh: 0,
          timeout: 0,
          writeMode: SMB1_WRITE_MODE.MESSAGE_START,
          remaining: data.length,
          data,
        },
        h,
      ),
    );
    if (isSmbFailure(reply)) return reply;
    const response = this.decoded(reply, decodeSmb1WriteResponse, "WRITE_ANDX");
    return isSmbFailure(response) ? response : response.count;
  }

  async closeFile(fid: number): Promise<null | SmbFailure> {
    const reply = await this.exchange(SMB1_COMMAND.CLOSE, (h) =>
      encodeSmb1CloseRequest({ fid, lastTimeModified: 0xffffffff }, h),
    );
    if (isSmbFailure(reply)) return reply;
    const response = this.decoded(reply, decodeSmb1CloseResponse, "CLOSE");
    return isSmbFailure(response) ? response : null;
  }
}
