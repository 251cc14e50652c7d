import { randomBytes } from "node:crypto";
import {
  NT_STATUS,
  SMB1_CAPABILITIES,
  SMB1_COMMAND,
  SMB1_DIALECT_NT_LM_012,
  SMB1_FLAGS,
  SMB1_FLAGS2,
  SMB1_NO_DIALECT,
  SMB1_PIPE_TRANSACTION_NAME,
  SMB1_SECURITY_MODE,
  SMB1_TRANS_SUBCOMMAND,
  decodeSmb1Header,
  decodeSmb1Message,
  decodeSmb1NegotiateRequest,
  decodeSmb1NtCreateRequest,
  decodeSmb1ReadRequest,
  decodeSmb1SessionSetupRequest,
  decodeSmb1TransactionRequest,
  decodeSmb1TreeConnectRequest,
  decodeSmb1WriteRequest,
  decodeSmb1CloseRequest,
  encodeSmb1CloseResponse,
  encodeSmb1ErrorResponse,
  encodeSmb1Header,
  encodeSmb1NegotiateResponse,
  encodeSmb1NtCreateResponse,
  encodeSmb1ReadResponse,
  encodeSmb1SessionSetupResponse,
  encodeSmb1TransactionResponse,
  encodeSmb1TreeConnectResponse,
  encodeSmb1WriteResponse,
  isDecodeIssue,
  isSmb1Reply,
  selectMultiProtocolDialect,
  smb1ResponseHeader,
  type Smb1Header,
  type Smb1HeaderInit,
} from "../protocols/smb/index.js";
import { acceptSecurityBlob, negotiateHint } from "./smb-auth.js";
import { openPipe, type NamedPipe } from "./smb-pipes.js";
import type { Smb1Profile } from "./smb-profiles.js";
import {
  CLOSE,
  SMB_LIMITS,
  nowFiletime,
  reply,
  shareOf,
  type SmbReply,
  type SmbServer,
} from "./smb-server.js";
import { smb2NegotiateResponse, type Smb2Server } from "./smb2-server.js";

/**
 * The lab's SMB1 server (MS-CIFS / MS-SMB, NT LM 0.12 only): NEGOTIATE, with extended security
 * (2000 and later, when the client asks) or challenge + domain (NT4, Windows 98, or a client that
 * does not ask); the multi-protocol answer in SMB2 for personas that speak it (MS-SMB2
 * §3.3.5.3.1); SESSION_SETUP_ANDX basic (null session: empty account and passwords) and extended
 * (NTLMSSP, smb-auth.ts); TREE_CONNECT_ANDX to IPC$; NT_CREATE_ANDX of the persona's pipes;
 * TRANSACTION with TRANS_TRANSACT_NMPIPE (DCE/RPC, research §2.3) and TRANS_PEEK_NMPIPE (on FID 0
 * the MS17-010 answer of research Appendix A); WRITE_ANDX / READ_ANDX / CLOSE on pipes;
 * TREE_DISCONNECT, LOGOFF_ANDX, ECHO. TRANSACTION2 answers STATUS_NOT_IMPLEMENTED (what an
 * uninfected Windows gives DoublePulsar's probe), unknown commands STATUS_SMB_BAD_COMMAND.
 *
 * Not done: AndX chains in requests (only the first command of a chain is answered), multi-part
 * (secondary) transactions, signing, file shares.
 */

/** MS-CIFS §2.2.2.4 ERRSRV codes in the SMB_ERROR form, as Windows puts them in Status. */
const STATUS_SMB_BAD_TID = 0x00050002;
const STATUS_SMB_BAD_UID = 0x005b0002;
const STATUS_SMB_BAD_COMMAND = 0x00160002;

/**
 * NTSTATUS → SMB_ERROR (class | code << 16) for servers or clients without NT status codes
 * (MS-CIFS §2.2.2.4; class 1 ERRDOS, 2 ERRSRV).
 */
const DOS_ERRORS: ReadonlyMap<number, readonly [number, number]> = new Map([
  [NT_STATUS.INVALID_HANDLE, [1, 6]], // ERRbadfid
  [NT_STATUS.OBJECT_NAME_NOT_FOUND, [1, 2]], // ERRbadfile
  [NT_STATUS.ACCESS_DENIED, [1, 5]], // ERRnoaccess
  [NT_STATUS.INVALID_PARAMETER, [1, 87]], // ERRinvalidparam
  [NT_STATUS.PIPE_EMPTY, [1, 232]], // ERRnodata
  [NT_STATUS.PIPE_BROKEN, [1, 109]], // ERRbrokenpipe
  [NT_STATUS.BUFFER_OVERFLOW, [1, 234]], // ERRmoredata
  [NT_STATUS.BAD_NETWORK_NAME, [2, 6]], // ERRinvnetname
  [NT_STATUS.LOGON_FAILURE, [2, 2]], // ERRbadpw
  [NT_STATUS.INSUFF_SERVER_RESOURCES, [2, 0x14]], // ERRnoresource
  [NT_STATUS.INSUFFICIENT_RESOURCES, [2, 0x14]],
  [NT_STATUS.NOT_SUPPORTED, [2, 0xffff]], // ERRnosupport
  [NT_STATUS.NOT_IMPLEMENTED, [2, 0xffff]],
]);

/** MS-CIFS §2.2.4.64.2 NT_CREATE_ANDX reply for a message-mode pipe. */
const RESOURCE_TYPE_MESSAGE_PIPE = 2;
/** NMPipeStatus: ICount 255, ReadMode and NamedPipeType message (MS-CIFS §2.2.1.3). */
const NM_PIPE_STATUS = 0x05ff;
/** TRANS_PEEK_NMPIPE NamedPipeState: connected (MS-CIFS §2.2.5.5.2). */
const PIPE_STATE_CONNECTED = 3;
/** OptionalSupport SMB_SUPPORT_SEARCH_BITS, what Windows sets for IPC$ [I]. */
const IPC_OPTIONAL_SUPPORT = 0x0001;

interface Negotiated {
  readonly extended: boolean;
}

interface Session {
  established: boolean;
  anonymous: boolean;
}

interface Tree {
  readonly uid: number;
}

interface OpenPipe {
  readonly uid: number;
  readonly tid: number;
  readonly pipe: NamedPipe;
}

export class Smb1Server {
  private negotiated: Negotiated | null = null;
  private readonly sessions = new Map<number, Session>();
  private readonly trees = new Map<number, Tree>();
  private readonly pipes = new Map<number, OpenPipe>();
  // Windows hands out UIDs and TIDs from 0x0800 and FIDs from 0x4000 [I]; never FID 0.
  private nextUid = 0x0800;
  private nextTid = 0x0800;
  private nextFid = 0x4000;

  constructor(
    private readonly server: SmbServer,
    private readonly smb2: Smb2Server,
  ) {}

  dispose(): void {
    for (const open of this.pipes.values()) open.pipe.close();
    this.pipes.clear();
  }

  handle(received: Uint8Array): SmbReply {
    const first = decodeSmb1Header(received);
    if (isDecodeIssue(first)) return CLOSE;
    // nmap's smb.lua sends the request after a failed logon with the reply's Flags (REPLY set)
    // and Windows answers it: the server ignores the bit in what it receives [O: nmap 7.93].
    const message = isSmb1Reply(first) ? withoutReplyFlag(received) : received;
    const header = isSmb1Reply(first)
      ? { ...first, flags: first.flags & ~SMB1_FLAGS.REPLY }
      : first;
    if (header.command === SMB1_COMMAND.NEGOTIATE) return this.negotiate(message, header);
    // MS-CIFS §3.3.5.2: nothing but NEGOTIATE before NEGOTIATE; Windows drops the connection.
    if (this.negotiated === null) return CLOSE;
    switch (header.command) {
      case SMB1_COMMAND.SESSION_SETUP_ANDX:
        return this.sessionSetup(message, header);
      case SMB1_COMMAND.LOGOFF_ANDX:
        return this.logoff(header);
      case SMB1_COMMAND.ECHO:
        return this.echo(message, header);
      case SMB1_COMMAND.TREE_CONNECT_ANDX:
        return this.treeConnect(message, header);
      case SMB1_COMMAND.TREE_DISCONNECT:
        return this.treeDisconnect(header);
      case SMB1_COMMAND.NT_CREATE_ANDX:
        return this.ntCreate(message, header);
      case SMB1_COMMAND.TRANSACTION:
        return this.transaction(message, header);
      case SMB1_COMMAND.WRITE_ANDX:
      case SMB1_COMMAND.READ_ANDX:
      case SMB1_COMMAND.CLOSE:
        return this.onPipe(message, header);
      case SMB1_COMMAND.TRANSACTION2:
        // No Trans2 on IPC$; also what an uninfected host answers DoublePulsar's
        // TRANS2_SESSION_SETUP probe with, MID unchanged (research Appendix A).
        return this.error(header, NT_STATUS.NOT_IMPLEMENTED);
      default:
        return this.error(header, STATUS_SMB_BAD_COMMAND);
    }
  }

  private get smb1(): Smb1Profile {
    // handle() only gets here for personas with SMB1 (the NEGOTIATE closes otherwise).
    const smb1 = this.server.profile.smb1;
    if (smb1 === null) throw new Error("SMB1 is off on this persona");
    return smb1;
  }

  /** Strings in Unicode and NT status codes only if the server has them and the client asks. */
  private flags2(request: Smb1Header): number {
    const caps = this.server.profile.smb1?.capabilities ?? 0;
    let flags2 = SMB1_FLAGS2.LONG_NAMES;
    if ((caps & SMB1_CAPABILITIES.UNICODE) !== 0) flags2 |= request.flags2 & SMB1_FLAGS2.UNICODE;
    if ((caps & SMB1_CAPABILITIES.STATUS32) !== 0) flags2 |= request.flags2 & SMB1_FLAGS2.NT_STATUS;
    if (this.negotiated?.extended === true) flags2 |= SMB1_FLAGS2.EXTENDED_SECURITY;
    return flags2;
  }

  private init(
    request: Smb1Header,
    status = 0,
    ids: { uid?: number; tid?: number } = {},
  ): Smb1HeaderInit {
    const flags2 = this.flags2(request);
    return {
      status: this.status(flags2, status),
      flags2,
      pidHigh: request.pidHigh,
      pidLow: request.pidLow,
      tid: ids.tid ?? request.tid,
      uid: ids.uid ?? request.uid,
      mid: request.mid,
    };
  }

  /** The status in the form the reply's Flags2 announces (MS-CIFS §2.2.3.1). */
  private status(flags2: number, status: number): number {
    if (status === 0 || (flags2 & SMB1_FLAGS2.NT_STATUS) !== 0) return status;
    // SMB_ERROR values already (ERRSRV codes above) pass through.
    if (status >>> 30 === 0) return status;
    const [cls, code] = DOS_ERRORS.get(status) ?? [2, 1]; // ERRSRV/ERRerror
    return (cls | (code << 16)) >>> 0;
  }

  private error(request: Smb1Header, status: number): SmbReply {
    const init = this.init(request, status);
    return reply(encodeSmb1ErrorResponse(request.command, init.status ?? status, init));
  }

  // ---- NEGOTIATE (MS-CIFS §3.3.5.2, MS-SMB §3.3.5.2, MS-SMB2 §3.3.5.3.1) ----

  private negotiate(message: Uint8Array, header: Smb1Header): SmbReply {
    if (this.negotiated !== null) return CLOSE;
    const request = decodeSmb1NegotiateRequest(message);
    if (isDecodeIssue(request)) return CLOSE;
    const { profile } = this.server;
    if (profile.smb2Dialects.length > 0) {
      const dialect = selectMultiProtocolDialect(request.dialects, profile.smb2Dialects);
      if (dialect !== null) {
        this.smb2.negotiatedByMultiProtocol(dialect);
        return {
          responses: [
            smb2NegotiateResponse(this.server, dialect, [], { messageId: 0n, credits: 1 }),
          ],
          close: false,
          switchToSmb2: true,
        };
      }
    }
    // SMB1 turned off: Windows resets an SMB1-only NEGOTIATE (research Appendix B [I]).
    if (profile.smb1 === null) return CLOSE;
    const smb1 = profile.smb1;
    const index = request.dialects.indexOf(SMB1_DIALECT_NT_LM_012);
    const extended = smb1.extendedSecurity && (header.flags2 & SMB1_FLAGS2.EXTENDED_SECURITY) !== 0;
    this.negotiated = { extended };
    const base = this.init(header);
    // The NEGOTIATE reply's strings are Unicode whenever the server has Unicode, whatever the
    // request's Flags2 said (nmap's negotiate omits the bit and reads the domain as UTF-16).
    const init: Smb1HeaderInit =
      (smb1.capabilities & SMB1_CAPABILITIES.UNICODE) !== 0
        ? { ...base, flags2: (base.flags2 ?? 0) | SMB1_FLAGS2.UNICODE }
        : base;
    if (index < 0) {
      return reply(
        encodeSmb1NegotiateResponse({ form: "index-only", dialectIndex: SMB1_NO_DIALECT }, init),
      );
    }
    const signing = profile.smb1Signing;
    const securityMode =
      (smb1.userSecurity ? SMB1_SECURITY_MODE.USER_SECURITY : 0) |
      SMB1_SECURITY_MODE.ENCRYPT_PASSWORDS |
      (signing !== "disabled" ? SMB1_SECURITY_MODE.SECURITY_SIGNATURES_ENABLED : 0) |
      (signing === "required" ? SMB1_SECURITY_MODE.SECURITY_SIGNATURES_REQUIRED : 0);
    return reply(
      encodeSmb1NegotiateResponse(
        {
          form: "nt-lm",
          dialectIndex: index,
          securityMode,
          maxMpxCount: smb1.maxMpxCount,
          maxNumberVcs: 1,
          maxBufferSize: smb1.maxBufferSize,
          maxRawSize: SMB_LIMITS.ioSize,
          sessionKey: 0,
          capabilities:
            (smb1.capabilities | (extended ? SMB1_CAPABILITIES.EXTENDED_SECURITY : 0)) >>> 0,
          systemTime: nowFiletime(),
          serverTimeZone: 0,
          security: extended
            ? {
                kind: "extended",
                serverGuid: this.server.serverGuid,
                securityBlob: negotiateHint(profile),
              }
            : {
                kind: "challenge",
                challenge: randomBytes(8),
                domainName: this.server.workgroup,
                serverName: this.server.names.computerName,
              },
        },
        init,
      ),
    );
  }

  // ---- SESSION_SETUP_ANDX (MS-CIFS §3.3.5.42, MS-SMB §3.3.5.3) ----

  private sessionSetup(message: Uint8Array, header: Smb1Header): SmbReply {
    const request = decodeSmb1SessionSetupRequest(message);
    if (isDecodeIssue(request)) return this.error(header, NT_STATUS.INVALID_PARAMETER);
    const { profile } = this.server;
    const smb1 = this.smb1;
    const strings = {
      nativeOs: smb1.nativeOs,
      nativeLanMan: smb1.nativeLanMan,
      primaryDomain: this.server.workgroup,
    };
    let uid = header.uid;
    let session = this.sessions.get(uid);
    if (session === undefined) {
      if (this.sessions.size >= SMB_LIMITS.sessions) {
        return this.error(header, NT_STATUS.INSUFFICIENT_RESOURCES);
      }
      uid = this.nextUid++;
      session = { established: false, anonymous: false };
      this.sessions.set(uid, session);
    }
    if (request.form === "basic") {
      const anonymous =
        request.accountName === "" &&
        request.oemPassword.length <= 1 &&
        request.unicodePassword.length === 0;
      // Share-level servers (Windows 9x) take any logon; user-level ones a null session, or a
      // named one only when they map unknown users to guest (Samba).
      if (smb1.userSecurity && !anonymous && profile.namedLogon === "refuse") {
        this.sessions.delete(uid);
        return this.error(header, NT_STATUS.LOGON_FAILURE);
      }
      session.established = true;
      session.anonymous = anonymous;
      const guest = smb1.userSecurity && !anonymous;
      return reply(
        encodeSmb1SessionSetupResponse(
          { form: "basic", action: guest ? 1 : 0, ...strings },
          this.init(header, 0, { uid }),
        ),
      );
    }
    if (this.negotiated?.extended !== true) {
      this.sessions.delete(uid);
      return this.error(header, NT_STATUS.INVALID_PARAMETER);
    }
    const result = acceptSecurityBlob(profile, this.server.names, request.securityBlob);
    switch (result.kind) {
      case "continue":
        return reply(
          encodeSmb1SessionSetupResponse(
            { form: "extended", action: 0, securityBlob: result.token, ...strings },
            this.init(header, NT_STATUS.MORE_PROCESSING_REQUIRED, { uid }),
          ),
        );
      case "done":
        session.established = true;
        session.anonymous = result.anonymous;
        return reply(
          encodeSmb1SessionSetupResponse(
            {
              form: "extended",
              action: result.guest ? 1 : 0,
              securityBlob: result.token,
              ...strings,
            },
            this.init(header, 0, { uid }),
          ),
        );
      case "failed":
        this.sessions.delete(uid);
        return this.error(header, result.status);
    }
  }

  private logoff(header: Smb1Header): SmbReply {
    for (const [tid, tree] of this.trees) if (tree.uid === header.uid) this.dropTree(tid);
    this.sessions.delete(header.uid);
    // MS-CIFS §2.2.4.54.2: WordCount 2 (the AndX block), ByteCount 0.
    return reply(withBody(this.init(header), header.command, [0xff, 0x00, 0x00, 0x00], []));
  }

  /** MS-CIFS §2.2.4.39: one echo of the data, SequenceNumber 1. */
  private echo(message: Uint8Array, header: Smb1Header): SmbReply {
    const decoded = decodeSmb1Message(message);
    const block = isDecodeIssue(decoded) ? undefined : decoded.blocks[0];
    if (block === undefined || block.wordCount !== 1) {
      return this.error(header, NT_STATUS.INVALID_PARAMETER);
    }
    return reply(withBody(this.init(header), header.command, [0x01, 0x00], [...block.bytes]));
  }

  /** The session a request runs in (user-level servers), or the status refusing it. */
  private sessionOf(header: Smb1Header): Session | number {
    const session = this.sessions.get(header.uid);
    if (session !== undefined && session.established) return session;
    // Share-level servers (Windows 9x) have no user sessions to check.
    return this.smb1.userSecurity ? STATUS_SMB_BAD_UID : { established: true, anonymous: true };
  }

  // ---- TREE_CONNECT_ANDX / TREE_DISCONNECT (MS-CIFS §3.3.5.46, §3.3.5.48) ----

  private treeConnect(message: Uint8Array, header: Smb1Header): SmbReply {
    const session = this.sessionOf(header);
    if (typeof session === "number") return this.error(header, session);
    const request = decodeSmb1TreeConnectRequest(message);
    if (isDecodeIssue(request)) return this.error(header, NT_STATUS.INVALID_PARAMETER);
    const share = shareOf(request.path);
    if (share !== "IPC$") {
      const admin = share === "ADMIN$" || /^[A-Z]\$$/.test(share);
      return this.error(header, admin ? NT_STATUS.ACCESS_DENIED : NT_STATUS.BAD_NETWORK_NAME);
    }
    if (this.trees.size >= SMB_LIMITS.trees) {
      return this.error(header, NT_STATUS.INSUFFICIENT_RESOURCES);
    }
    const tid = this.nextTid++;
    this.trees.set(tid, { uid: header.uid });
    return reply(
      encodeSmb1TreeConnectResponse(
        {
          optionalSupport: IPC_OPTIONAL_SUPPORT,
          maximalShareAccessRights: null,
          guestMaximalShareAccessRights: null,
          service: "IPC",
          nativeFileSystem: "",
        },
        this.init(header, 0, { tid }),
      ),
    );
  }

  private treeDisconnect(header: Smb1Header): SmbReply {
    if (!this.trees.has(header.tid)) return this.error(header, STATUS_SMB_BAD_TID);
    this.dropTree(header.tid);
    return reply(encodeSmb1ErrorResponse(header.command, 0, this.init(header)));
  }

  private dropTree(tid: number): void {
    for (const [fid, open] of this.pipes) {
      if (open.tid === tid) {
        open.pipe.close();
        this.pipes.delete(fid);
      }
    }
    this.trees.delete(tid);
  }

  /** The session and IPC$ tree a pipe request runs in, or the status refusing it. */
  private treeOf(header: Smb1Header): Session | number {
    const session = this.sessionOf(header);
    if (typeof session === "number") return session;
    return this.trees.has(header.tid) ? session : STATUS_SMB_BAD_TID;
  }

  // ---- NT_CREATE_ANDX (MS-CIFS §3.3.5.51) ----

  private ntCreate(message: Uint8Array, header: Smb1Header): SmbReply {
    const session = this.treeOf(header);
    if (typeof session === "number") return this.error(header, session);
    const request = decodeSmb1NtCreateRequest(message);
    if (isDecodeIssue(request)) return this.error(header, NT_STATUS.INVALID_PARAMETER);
    if (this.pipes.size >= SMB_LIMITS.openPipes) {
      return this.error(header, NT_STATUS.INSUFFICIENT_RESOURCES);
    }
    const pipe = openPipe(
      this.server.context,
      this.server.profile,
      request.fileName,
      session.anonymous,
    );
    if (typeof pipe === "number") return this.error(header, pipe);
    const fid = this.allocateFid();
    this.pipes.set(fid, { uid: header.uid, tid: header.tid, pipe });
    return reply(
      encodeSmb1NtCreateResponse(
        {
          oplockLevel: 0,
          fid,
          createDisposition: 1, // FILE_OPEN
          creationTime: 0n,
          lastAccessTime: 0n,
          lastWriteTime: 0n,
          lastChangeTime: 0n,
          extFileAttributes: 0x80, // FILE_ATTRIBUTE_NORMAL
          allocationSize: 4096n,
          endOfFile: 0n,
          resourceType: RESOURCE_TYPE_MESSAGE_PIPE,
          nmPipeStatus: NM_PIPE_STATUS,
          directory: 0,
        },
        this.init(header),
      ),
    );
  }

  private allocateFid(): number {
    for (;;) {
      const fid = this.nextFid;
      this.nextFid = this.nextFid >= 0xfffe ? 0x4000 : this.nextFid + 1;
      if (!this.pipes.has(fid)) return fid;
    }
  }

  // ---- TRANSACTION on \PIPE\ (MS-CIFS §2.2.5, §3.3.5.57) ----

  private transaction(message: Uint8Array, header: Smb1Header): SmbReply {
    const session = this.treeOf(header);
    if (typeof session === "number") return this.error(header, session);
    const request = decodeSmb1TransactionRequest(message);
    if (isDecodeIssue(request)) return this.error(header, NT_STATUS.INVALID_PARAMETER);
    // Secondary requests (TRANSACTION_SECONDARY) would complete a larger one: not supported.
    if (
      request.totalDataCount > request.data.length ||
      request.totalParameterCount > request.parameters.length
    ) {
      return this.error(header, NT_STATUS.NOT_SUPPORTED);
    }
    if (request.name.toUpperCase() !== SMB1_PIPE_TRANSACTION_NAME || request.setup.length < 2) {
      return this.error(header, NT_STATUS.NOT_SUPPORTED);
    }
    const [subcommand = 0, fid = 0] = request.setup;
    if (subcommand === SMB1_TRANS_SUBCOMMAND.PEEK_NMPIPE) {
      // Research Appendix A: FID 0 is never valid; an unpatched srv.sys answers
      // STATUS_INSUFF_SERVER_RESOURCES, a patched one STATUS_INVALID_HANDLE.
      if (fid === 0) return this.error(header, this.server.profile.peekFid0Status);
      const open = this.pipes.get(fid);
      if (open === undefined) return this.error(header, NT_STATUS.INVALID_HANDLE);
      const peek = open.pipe.peek();
      const parameters = new Uint8Array(6);
      const view = new DataView(parameters.buffer);
      view.setUint16(0, Math.min(0xffff, peek.available), true);
      view.setUint16(2, Math.min(0xffff, peek.messageLength), true);
      view.setUint16(4, PIPE_STATE_CONNECTED, true);
      return reply(this.transactionResponse(header, 0, parameters, new Uint8Array(0)));
    }
    if (subcommand === SMB1_TRANS_SUBCOMMAND.TRANSACT_NMPIPE) {
      const open = this.pipes.get(fid);
      if (open === undefined) return this.error(header, NT_STATUS.INVALID_HANDLE);
      if (!open.pipe.write(request.data)) return this.error(header, NT_STATUS.PIPE_BROKEN);
      const read = open.pipe.read(request.maxDataCount);
      if (read.status === NT_STATUS.PIPE_BROKEN) return this.error(header, read.status);
      const status = read.status === NT_STATUS.BUFFER_OVERFLOW ? read.status : 0;
      return reply(this.transactionResponse(header, status, new Uint8Array(0), read.data));
    }
    return this.error(header, NT_STATUS.NOT_SUPPORTED);
  }

  private transactionResponse(
    header: Smb1Header,
    status: number,
    parameters: Uint8Array,
    data: Uint8Array,
  ): Uint8Array {
    return encodeSmb1TransactionResponse(
      {
        totalParameterCount: parameters.length,
        totalDataCount: data.length,
        parameterDisplacement: 0,
        dataDisplacement: 0,
        setup: [],
        parameters,
        data,
      },
      this.init(header, status),
    );
  }

  // ---- WRITE_ANDX / READ_ANDX / CLOSE on an open pipe (MS-CIFS §3.3.5.34-36, §3.3.5.7) ----

  private onPipe(message: Uint8Array, header: Smb1Header): SmbReply {
    const session = this.treeOf(header);
    if (typeof session === "number") return this.error(header, session);
    const find = (fid: number): OpenPipe | undefined => {
      const open = this.pipes.get(fid);
      return open !== undefined && open.tid === header.tid ? open : undefined;
    };
    if (header.command === SMB1_COMMAND.WRITE_ANDX) {
      const request = decodeSmb1WriteRequest(message);
      if (isDecodeIssue(request)) return this.error(header, NT_STATUS.INVALID_PARAMETER);
      const open = find(request.fid);
      if (open === undefined) return this.error(header, NT_STATUS.INVALID_HANDLE);
      if (!open.pipe.write(request.data)) return this.error(header, NT_STATUS.PIPE_BROKEN);
      return reply(
        encodeSmb1WriteResponse({ count: request.data.length, available: 0 }, this.init(header)),
      );
    }
    if (header.command === SMB1_COMMAND.READ_ANDX) {
      const request = decodeSmb1ReadRequest(message);
      if (isDecodeIssue(request)) return this.error(header, NT_STATUS.INVALID_PARAMETER);
      const open = find(request.fid);
      if (open === undefined) return this.error(header, NT_STATUS.INVALID_HANDLE);
      const read = open.pipe.read(request.maxCountOfBytesToReturn);
      if (read.status !== NT_STATUS.SUCCESS && read.status !== NT_STATUS.BUFFER_OVERFLOW) {
        return this.error(header, read.status);
      }
      return reply(
        encodeSmb1ReadResponse(
          { available: Math.min(0xffff, read.remaining), dataCompactionMode: 0, data: read.data },
          this.init(header, read.status),
        ),
      );
    }
    const request = decodeSmb1CloseRequest(message);
    if (isDecodeIssue(request)) return this.error(header, NT_STATUS.INVALID_PARAMETER);
    const open = find(request.fid);
    if (open === undefined) return this.error(header, NT_STATUS.INVALID_HANDLE);
    open.pipe.close();
    this.pipes.delete(request.fid);
    return reply(encodeSmb1CloseResponse(this.init(header)));
  }
}

function withoutReplyFlag(message: Uint8Array): Uint8Array {
  const out = Uint8Array.from(message);
  out[9] = (out[9] ?? 0) & ~SMB1_FLAGS.REPLY;
  return out;
}

/** A reply the codec has no encoder for (LOGOFF_ANDX, ECHO): header, words, bytes. */
function withBody(
  init: Smb1HeaderInit,
  command: number,
  words: readonly number[],
  bytes: readonly number[],
): Uint8Array {
  const header = encodeSmb1Header(smb1ResponseHeader(command, init));
  const out = new Uint8Array(header.length + 1 + words.length + 2 + bytes.length);
  out.set(header);
  let at = header.length;
  out[at++] = words.length / 2;
  out.set(words, at);
  at += words.length;
  out[at++] = bytes.length & 0xff;
  out[at++] = bytes.length >> 8;
  out.set(bytes, at);
  return out;
}
