import { randomBytes } from "node:crypto";
import {
  FSCTL,
  NT_STATUS,
  SMB2_CAPABILITIES,
  SMB2_CIPHER,
  SMB2_COMMAND,
  SMB2_COMPRESSION_ALGORITHM,
  SMB2_COMPRESSION_FLAGS,
  SMB2_DIALECT,
  SMB2_FLAGS,
  SMB2_HASH_ALGORITHM,
  SMB2_SECURITY_MODE,
  SMB2_SESSION_FLAGS,
  SMB2_SHARE_TYPE,
  decodeSmb2CloseRequest,
  decodeSmb2CreateRequest,
  decodeSmb2Header,
  decodeSmb2IoctlRequest,
  decodeSmb2NegotiateRequest,
  decodeSmb2ReadRequest,
  decodeSmb2SessionSetupRequest,
  decodeSmb2TreeConnectRequest,
  decodeSmb2WriteRequest,
  encodeSmb2CloseResponse,
  encodeSmb2CreateResponse,
  encodeSmb2ErrorResponse,
  encodeSmb2Header,
  encodeSmb2IoctlResponse,
  encodeSmb2LogoffResponse,
  encodeSmb2NegotiateResponse,
  encodeSmb2ReadResponse,
  encodeSmb2SessionSetupResponse,
  encodeSmb2TreeConnectResponse,
  encodeSmb2TreeDisconnectResponse,
  encodeSmb2WriteResponse,
  isDecodeIssue,
  isSmb2Response,
  isSmb2Unsupported,
  smb2ResponseHeader,
  splitSmb2Compound,
  type Smb2FileId,
  type Smb2Header,
  type Smb2HeaderInit,
  type Smb2NegotiateContext,
} from "../protocols/smb/index.js";
import { acceptSecurityBlob, negotiateHint } from "./smb-auth.js";
import { openPipe, type NamedPipe } from "./smb-pipes.js";
import {
  CLOSE,
  SMB_LIMITS,
  nowFiletime,
  reply,
  shareOf,
  type SmbReply,
  type SmbServer,
} from "./smb-server.js";

/**
 * The lab's SMB2/3 server (MS-SMB2 §3.3): NEGOTIATE (2.0.2 to 3.1.1, with the 3.1.1 contexts:
 * preauth integrity, encryption, and compression when the persona offers it, research Appendix C),
 * SESSION_SETUP through NTLMSSP (smb-auth.ts), TREE_CONNECT to IPC$, CREATE of the persona's
 * named pipes, WRITE / READ / IOCTL FSCTL_PIPE_TRANSCEIVE carrying DCE/RPC into the same server
 * as TCP 135 (smb-pipes.ts), CLOSE, TREE_DISCONNECT, LOGOFF, ECHO; compounded requests answered
 * with compounded responses (§3.3.4.1.3). Anything else: STATUS_NOT_SUPPORTED.
 *
 * Not done (the lab never needs them): signing and encryption (sessions are anonymous or guest,
 * which MS-SMB2 §3.3.5.5.3 lets go unsigned), credits accounting beyond granting what is asked,
 * async operations, leases, and FSCTL_VALIDATE_NEGOTIATE_INFO (answered NOT_SUPPORTED).
 */

interface Session {
  established: boolean;
  anonymous: boolean;
  guest: boolean;
}

interface Tree {
  readonly sessionId: bigint;
  readonly ipc: boolean;
}

interface OpenFile {
  readonly sessionId: bigint;
  readonly treeId: number;
  readonly pipe: NamedPipe;
}

/** MS-SMB2 §2.2.10 SMB2_SHAREFLAG_NO_CACHING, what Windows reports for IPC$ [I]. */
const SHARE_FLAGS_IPC = 0x00000030;
/** MaximalAccess of IPC$ for an anonymous session [I]. */
const IPC_MAXIMAL_ACCESS = 0x001f00a9;
/** MS-FSCC §2.6 FILE_ATTRIBUTE_NORMAL. */
const FILE_ATTRIBUTE_NORMAL = 0x80;
/** MS-SMB2 §2.2.14 CreateAction FILE_OPENED. */
const FILE_OPENED = 1;
/** STATUS_NETWORK_NAME_DELETED (MS-ERREF), for a TreeId the server never gave. */
const STATUS_NETWORK_NAME_DELETED = 0xc00000c9;
/** Credits granted per response: what the client asks, 1 to this many (§3.3.1.2). */
const MAX_CREDITS = 64;
/** The related-operations "same as before" id (§3.2.4.1.4). */
const RELATED_ID = 0xffffffffffffffffn;
const RELATED_TREE = 0xffffffff;

/** SMB2 capabilities a dialect may carry (§2.2.4): 2.0.2 has DFS only, 2.1 adds leasing. */
function capabilitiesFor(profile: SmbServer["profile"], dialect: number): number {
  const S = SMB2_CAPABILITIES;
  let mask: number;
  if (dialect === SMB2_DIALECT.SMB_2_0_2) mask = S.DFS;
  else if (dialect === SMB2_DIALECT.SMB_2_1 || dialect === SMB2_DIALECT.WILDCARD) {
    mask = S.DFS | S.LEASING | S.LARGE_MTU;
  } else if (dialect === SMB2_DIALECT.SMB_3_1_1) {
    // 3.1.1 negotiates encryption in a context, not a capability (§2.2.4).
    mask = ~S.ENCRYPTION;
  } else mask = ~0;
  return (profile.smb2Capabilities & mask) >>> 0;
}

/**
 * The NEGOTIATE response (§2.2.4) for `dialect`, also used for the multi-protocol answer to an
 * SMB1 NEGOTIATE (§3.3.5.3.1: DialectRevision 0x0202 or 0x02FF, MessageId 0).
 */
export function smb2NegotiateResponse(
  server: SmbServer,
  dialect: number,
  contexts: readonly Smb2NegotiateContext[],
  header: Smb2HeaderInit,
): Uint8Array {
  const { profile } = server;
  return encodeSmb2NegotiateResponse(
    {
      securityMode:
        SMB2_SECURITY_MODE.SIGNING_ENABLED |
        (profile.smb2Signing === "required" ? SMB2_SECURITY_MODE.SIGNING_REQUIRED : 0),
      dialectRevision: dialect,
      serverGuid: server.serverGuid,
      capabilities: capabilitiesFor(profile, dialect),
      maxTransactSize: SMB_LIMITS.ioSize,
      maxReadSize: SMB_LIMITS.ioSize,
      maxWriteSize: SMB_LIMITS.ioSize,
      systemTime: nowFiletime(),
      serverStartTime: profile.reportsBootTime ? server.bootTime : 0n,
      securityBuffer: negotiateHint(profile),
      contexts,
    },
    header,
  );
}

export class Smb2Server {
  /** The dialect in force; null before NEGOTIATE, WILDCARD after a multi-protocol 0x02FF. */
  private dialect: number | null = null;
  private readonly sessions = new Map<bigint, Session>();
  private readonly trees = new Map<number, Tree>();
  private readonly files = new Map<string, OpenFile>();
  private nextSession = 1;
  private nextTree = 1;
  private nextFile = 1n;

  constructor(private readonly server: SmbServer) {}

  /** After a multi-protocol NEGOTIATE answered in SMB2 (smb1-server.ts). */
  negotiatedByMultiProtocol(dialect: number): void {
    this.dialect = dialect;
  }

  /** One SMB2 payload: a message or a compound (§3.3.5.2.7). */
  handle(payload: Uint8Array): SmbReply {
    const messages = splitSmb2Compound(payload);
    if (isDecodeIssue(messages)) return CLOSE;
    const responses: Uint8Array[] = [];
    let previous: { sessionId: bigint; treeId: number; fileId: Smb2FileId | null } = {
      sessionId: 0n,
      treeId: 0,
      fileId: null,
    };
    for (const message of messages) {
      const header = decodeSmb2Header(message);
      // Encrypted or compressed messages need keys the lab never has; a response is not a request.
      if (isDecodeIssue(header) || isSmb2Unsupported(header) || isSmb2Response(header)) {
        return CLOSE;
      }
      const related = (header.flags & SMB2_FLAGS.RELATED_OPERATIONS) !== 0;
      const ids = {
        sessionId:
          related && header.sessionId === RELATED_ID ? previous.sessionId : header.sessionId,
        treeId: related && header.treeId === RELATED_TREE ? previous.treeId : header.treeId,
        fileId: related ? previous.fileId : null,
      };
      const result = this.dispatch(message, header, ids);
      if (result === "close") return CLOSE;
      if (result === null) continue; // CANCEL: no response
      previous = {
        sessionId: ids.sessionId,
        treeId: ids.treeId,
        fileId: result.fileId ?? ids.fileId,
      };
      responses.push(related ? markRelated(result.response) : result.response);
    }
    return responses.length <= 1 ? reply(...responses) : reply(compound(responses));
  }

  /** The connection is going: every pipe's server end with it. */
  dispose(): void {
    for (const file of this.files.values()) file.pipe.close();
    this.files.clear();
  }

  private dispatch(
    message: Uint8Array,
    header: Smb2Header,
    ids: { sessionId: bigint; treeId: number; fileId: Smb2FileId | null },
  ): { response: Uint8Array; fileId?: Smb2FileId } | null | "close" {
    const h = this.responseHeader(header, ids.sessionId, ids.treeId);
    const error = (status: number): { response: Uint8Array } => ({
      response: encodeSmb2ErrorResponse(header.command, status, undefined, h),
    });
    if (header.command === SMB2_COMMAND.NEGOTIATE) return this.negotiate(message, h);
    // §3.3.5.2: every other request needs a finished NEGOTIATE.
    if (this.dialect === null || this.dialect === SMB2_DIALECT.WILDCARD) return "close";
    switch (header.command) {
      case SMB2_COMMAND.SESSION_SETUP:
        return this.sessionSetup(message, h);
      case SMB2_COMMAND.ECHO:
        return { response: emptyBody(h, SMB2_COMMAND.ECHO) };
      case SMB2_COMMAND.CANCEL:
        return null;
    }
    const session = this.sessions.get(ids.sessionId);
    if (session === undefined || !session.established) {
      return error(NT_STATUS.USER_SESSION_DELETED);
    }
    switch (header.command) {
      case SMB2_COMMAND.LOGOFF:
        this.logoff(ids.sessionId);
        return { response: encodeSmb2LogoffResponse(h) };
      case SMB2_COMMAND.TREE_CONNECT:
        return this.treeConnect(message, h, ids.sessionId, session);
    }
    const tree = this.trees.get(ids.treeId);
    if (tree === undefined || tree.sessionId !== ids.sessionId) {
      return error(STATUS_NETWORK_NAME_DELETED);
    }
    switch (header.command) {
      case SMB2_COMMAND.TREE_DISCONNECT:
        this.closeTree(ids.treeId);
        return { response: encodeSmb2TreeDisconnectResponse(h) };
      case SMB2_COMMAND.CREATE:
        return this.create(message, h, ids, session, tree);
      case SMB2_COMMAND.CLOSE:
      case SMB2_COMMAND.READ:
      case SMB2_COMMAND.WRITE:
      case SMB2_COMMAND.IOCTL:
        return this.onFile(message, header.command, h, ids);
      default:
        return error(NT_STATUS.NOT_SUPPORTED);
    }
  }

  private responseHeader(request: Smb2Header, sessionId: bigint, treeId: number): Smb2HeaderInit {
    return {
      // §3.3.4.1.2: CreditCharge is echoed from 2.1 on; 2.0.2 reserves it.
      creditCharge: this.dialect === SMB2_DIALECT.SMB_2_0_2 ? 0 : request.creditCharge,
      credits: Math.max(1, Math.min(request.credits, MAX_CREDITS)),
      messageId: request.messageId,
      processId: request.processId,
      sessionId,
      treeId,
    };
  }

  // ---- NEGOTIATE (§3.3.5.4) ----

  private negotiate(message: Uint8Array, h: Smb2HeaderInit): { response: Uint8Array } | "close" {
    // A second NEGOTIATE on a connection is a protocol error: disconnect (§3.3.5.4).
    if (this.dialect !== null && this.dialect !== SMB2_DIALECT.WILDCARD) return "close";
    const request = decodeSmb2NegotiateRequest(message);
    if (isDecodeIssue(request)) return "close";
    const { profile } = this.server;
    const common = profile.smb2Dialects.filter((d) => request.dialects.includes(d));
    const dialect = common[common.length - 1];
    if (dialect === undefined) {
      return {
        response: encodeSmb2ErrorResponse(
          SMB2_COMMAND.NEGOTIATE,
          NT_STATUS.NOT_SUPPORTED,
          undefined,
          h,
        ),
      };
    }
    this.dialect = dialect;
    const contexts = dialect === SMB2_DIALECT.SMB_3_1_1 ? this.contextsFor(request.contexts) : [];
    return { response: smb2NegotiateResponse(this.server, dialect, contexts, h) };
  }

  /** §3.3.5.4: preauth always; encryption and compression only when the client sent them. */
  private contextsFor(offered: readonly Smb2NegotiateContext[]): Smb2NegotiateContext[] {
    const out: Smb2NegotiateContext[] = [
      {
        type: "preauth-integrity",
        hashAlgorithms: [SMB2_HASH_ALGORITHM.SHA_512],
        salt: randomBytes(32),
      },
    ];
    const encryption = offered.find((c) => c.type === "encryption");
    if (encryption !== undefined) {
      // The client's first cipher the server has (Windows 10 / 2019: AES-128-GCM and -CCM) [I];
      // 0 = none in common (§2.2.3.1.2).
      const supported: readonly number[] = [SMB2_CIPHER.AES_128_GCM, SMB2_CIPHER.AES_128_CCM];
      const cipher = encryption.ciphers.find((c) => supported.includes(c)) ?? 0;
      out.push({ type: "encryption", ciphers: [cipher] });
    }
    const compression = offered.find((c) => c.type === "compression");
    const mine = this.server.profile.compression;
    if (compression !== undefined && mine.length > 0) {
      // §3.3.5.4: the algorithms both support, in the client's order; NONE when there are none.
      const both = compression.algorithms.filter((a) => mine.includes(a));
      out.push({
        type: "compression",
        flags: SMB2_COMPRESSION_FLAGS.NONE,
        algorithms: both.length > 0 ? both : [SMB2_COMPRESSION_ALGORITHM.NONE],
      });
    }
    return out;
  }

  // ---- SESSION_SETUP (§3.3.5.5) ----

  private sessionSetup(message: Uint8Array, h: Smb2HeaderInit): { response: Uint8Array } | "close" {
    const request = decodeSmb2SessionSetupRequest(message);
    if (isDecodeIssue(request)) return "close";
    const error = (status: number, sessionId: bigint): { response: Uint8Array } => ({
      response: encodeSmb2ErrorResponse(SMB2_COMMAND.SESSION_SETUP, status, undefined, {
        ...h,
        sessionId,
      }),
    });
    let sessionId = request.header.sessionId;
    let session = this.sessions.get(sessionId);
    if (sessionId === 0n || session === undefined) {
      if (sessionId !== 0n) return error(NT_STATUS.USER_SESSION_DELETED, sessionId);
      if (this.sessions.size >= SMB_LIMITS.sessions) {
        return error(NT_STATUS.INSUFFICIENT_RESOURCES, 0n);
      }
      // Session ids look like Windows' (a counter in the high half) and are never 0 or all-ones.
      sessionId = (BigInt(this.nextSession++) << 32n) | 0x11n;
      session = { established: false, anonymous: false, guest: false };
      this.sessions.set(sessionId, session);
    }
    const result = acceptSecurityBlob(
      this.server.profile,
      this.server.names,
      request.securityBuffer,
    );
    switch (result.kind) {
      case "continue":
        return {
          response: encodeSmb2SessionSetupResponse(
            { sessionFlags: 0, securityBuffer: result.token },
            { ...h, sessionId, status: NT_STATUS.MORE_PROCESSING_REQUIRED },
          ),
        };
      case "done":
        session.established = true;
        session.anonymous = result.anonymous;
        session.guest = result.guest;
        return {
          response: encodeSmb2SessionSetupResponse(
            {
              sessionFlags: result.anonymous
                ? SMB2_SESSION_FLAGS.IS_NULL
                : result.guest
                  ? SMB2_SESSION_FLAGS.IS_GUEST
                  : 0,
              securityBuffer: result.token,
            },
            { ...h, sessionId },
          ),
        };
      case "failed":
        this.sessions.delete(sessionId);
        return error(result.status, sessionId);
    }
  }

  private logoff(sessionId: bigint): void {
    for (const [treeId, tree] of this.trees)
      if (tree.sessionId === sessionId) this.closeTree(treeId);
    this.sessions.delete(sessionId);
  }

  // ---- TREE_CONNECT (§3.3.5.7) ----

  private treeConnect(
    message: Uint8Array,
    h: Smb2HeaderInit,
    sessionId: bigint,
    session: Session,
  ): { response: Uint8Array } | "close" {
    const request = decodeSmb2TreeConnectRequest(message);
    if (isDecodeIssue(request)) return "close";
    const error = (status: number): { response: Uint8Array } => ({
      response: encodeSmb2ErrorResponse(SMB2_COMMAND.TREE_CONNECT, status, undefined, h),
    });
    const share = shareOf(request.path);
    if (share !== "IPC$") {
      // The administrative shares exist but refuse a null or guest session; nothing else exists.
      const admin = share === "ADMIN$" || /^[A-Z]\$$/.test(share);
      return error(admin && !session.guest ? NT_STATUS.ACCESS_DENIED : NT_STATUS.BAD_NETWORK_NAME);
    }
    if (this.trees.size >= SMB_LIMITS.trees) return error(NT_STATUS.INSUFFICIENT_RESOURCES);
    const treeId = this.nextTree++;
    this.trees.set(treeId, { sessionId, ipc: true });
    return {
      response: encodeSmb2TreeConnectResponse(
        {
          shareType: SMB2_SHARE_TYPE.PIPE,
          shareFlags: SHARE_FLAGS_IPC,
          capabilities: 0,
          maximalAccess: IPC_MAXIMAL_ACCESS,
        },
        { ...h, treeId },
      ),
    };
  }

  private closeTree(treeId: number): void {
    for (const [key, file] of this.files) {
      if (file.treeId === treeId) {
        file.pipe.close();
        this.files.delete(key);
      }
    }
    this.trees.delete(treeId);
  }

  // ---- CREATE (§3.3.5.9), named pipes only ----

  private create(
    message: Uint8Array,
    h: Smb2HeaderInit,
    ids: { sessionId: bigint; treeId: number },
    session: Session,
    tree: Tree,
  ): { response: Uint8Array; fileId?: Smb2FileId } | "close" {
    const request = decodeSmb2CreateRequest(message);
    if (isDecodeIssue(request)) return "close";
    const error = (status: number): { response: Uint8Array } => ({
      response: encodeSmb2ErrorResponse(SMB2_COMMAND.CREATE, status, undefined, h),
    });
    if (!tree.ipc) return error(NT_STATUS.ACCESS_DENIED);
    if (this.files.size >= SMB_LIMITS.openPipes) return error(NT_STATUS.INSUFFICIENT_RESOURCES);
    const pipe = openPipe(
      this.server.context,
      this.server.profile,
      request.name,
      session.anonymous,
    );
    if (typeof pipe === "number") return error(pipe);
    const n = this.nextFile++;
    const fileId: Smb2FileId = { persistent: n, volatile: 0xff00000000n | n };
    this.files.set(fileKey(fileId), { sessionId: ids.sessionId, treeId: ids.treeId, pipe });
    return {
      response: encodeSmb2CreateResponse(
        {
          oplockLevel: 0,
          flags: 0,
          createAction: FILE_OPENED,
          creationTime: 0n,
          lastAccessTime: 0n,
          lastWriteTime: 0n,
          changeTime: 0n,
          allocationSize: 4096n,
          endOfFile: 0n,
          fileAttributes: FILE_ATTRIBUTE_NORMAL,
          fileId,
          createContexts: new Uint8Array(0),
        },
        h,
      ),
      fileId,
    };
  }

  // ---- CLOSE, READ, WRITE, IOCTL on an open pipe ----

  private onFile(
    message: Uint8Array,
    command: number,
    h: Smb2HeaderInit,
    ids: { sessionId: bigint; treeId: number; fileId: Smb2FileId | null },
  ): { response: Uint8Array } | "close" {
    const error = (status: number): { response: Uint8Array } => ({
      response: encodeSmb2ErrorResponse(command, status, undefined, h),
    });
    const find = (
      requested: Smb2FileId,
    ): { key: string; file: OpenFile; fileId: Smb2FileId } | null => {
      // §3.2.4.1.4: in a related compound, all-ones stands for the FileId the CREATE before made.
      const fileId =
        ids.fileId !== null && requested.persistent === RELATED_ID ? ids.fileId : requested;
      const key = fileKey(fileId);
      const file = this.files.get(key);
      return file === undefined || file.sessionId !== ids.sessionId ? null : { key, file, fileId };
    };
    switch (command) {
      case SMB2_COMMAND.WRITE: {
        const request = decodeSmb2WriteRequest(message);
        if (isDecodeIssue(request)) return "close";
        const found = find(request.fileId);
        if (found === null) return error(NT_STATUS.FILE_CLOSED);
        if (!found.file.pipe.write(request.data)) return error(NT_STATUS.PIPE_BROKEN);
        return {
          response: encodeSmb2WriteResponse({ count: request.data.length, remaining: 0 }, h),
        };
      }
      case SMB2_COMMAND.READ: {
        const request = decodeSmb2ReadRequest(message);
        if (isDecodeIssue(request)) return "close";
        const found = find(request.fileId);
        if (found === null) return error(NT_STATUS.FILE_CLOSED);
        const read = found.file.pipe.read(request.length);
        if (read.status !== NT_STATUS.SUCCESS && read.status !== NT_STATUS.BUFFER_OVERFLOW) {
          return error(read.status);
        }
        return {
          response: encodeSmb2ReadResponse(
            { dataRemaining: 0, flags: 0, data: read.data },
            { ...h, status: read.status },
          ),
        };
      }
      case SMB2_COMMAND.IOCTL: {
        const request = decodeSmb2IoctlRequest(message);
        if (isDecodeIssue(request)) return "close";
        if (request.ctlCode !== FSCTL.PIPE_TRANSCEIVE) {
          return error(
            request.ctlCode === FSCTL.VALIDATE_NEGOTIATE_INFO
              ? NT_STATUS.NOT_SUPPORTED
              : NT_STATUS.INVALID_DEVICE_REQUEST,
          );
        }
        const found = find(request.fileId);
        if (found === null) return error(NT_STATUS.FILE_CLOSED);
        const { pipe } = found.file;
        if (!pipe.write(request.input)) return error(NT_STATUS.PIPE_BROKEN);
        // A PDU without an answer (auth3, a cancel) leaves the pipe empty: nothing to return.
        const read = pipe.read(request.maxOutputResponse);
        if (read.status === NT_STATUS.PIPE_BROKEN) return error(read.status);
        return {
          response: encodeSmb2IoctlResponse(
            {
              ctlCode: request.ctlCode,
              fileId: found.fileId,
              input: new Uint8Array(0),
              output: read.data,
              flags: 0,
            },
            { ...h, status: read.status === NT_STATUS.BUFFER_OVERFLOW ? read.status : 0 },
          ),
        };
      }
      default: {
        const request = decodeSmb2CloseRequest(message);
        if (isDecodeIssue(request)) return "close";
        const found = find(request.fileId);
        if (found === null) return error(NT_STATUS.FILE_CLOSED);
        found.file.pipe.close();
        this.files.delete(found.key);
        return {
          response: encodeSmb2CloseResponse(
            {
              flags: 0,
              creationTime: 0n,
              lastAccessTime: 0n,
              lastWriteTime: 0n,
              changeTime: 0n,
              allocationSize: 0n,
              endOfFile: 0n,
              fileAttributes: 0,
            },
            h,
          ),
        };
      }
    }
  }
}

function fileKey(fileId: Smb2FileId): string {
  return `${fileId.persistent}:${fileId.volatile}`;
}

/** A StructureSize-4 body (ECHO response, §2.2.29), which the codec does not export. */
function emptyBody(h: Smb2HeaderInit, command: number): Uint8Array {
  const header = encodeSmb2Header(smb2ResponseHeader(command, h));
  const out = new Uint8Array(header.length + 4);
  out.set(header);
  out[header.length] = 4;
  return out;
}

/** SMB2_FLAGS_RELATED_OPERATIONS on a response to a related request (§3.3.4.1.3). */
function markRelated(message: Uint8Array): Uint8Array {
  const out = Uint8Array.from(message);
  const view = new DataView(out.buffer);
  view.setUint32(16, view.getUint32(16, true) | SMB2_FLAGS.RELATED_OPERATIONS, true);
  return out;
}

/** Chain responses: each padded to 8 bytes, NextCommand = its padded length (§3.3.4.1.3). */
function compound(responses: readonly Uint8Array[]): Uint8Array {
  const padded = responses.map((r, i) =>
    i === responses.length - 1 ? r.length : Math.ceil(r.length / 8) * 8,
  );
  const out = new Uint8Array(padded.reduce((a, b) => a + b, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  responses.forEach((r, i) => {
    out.set(r, at);
    const length = padded[i] ?? r.length;
    if (i < responses.length - 1) view.setUint32(at + 20, length, true);
    at += length;
  });
  return out;
}
