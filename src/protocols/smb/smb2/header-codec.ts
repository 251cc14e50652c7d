import { decodeIssue, isDecodeIssue, type DecodeIssue } from "../../netbios/decode-issue.js";
import { ByteReader } from "../byte-reader.js";
import { ByteWriter } from "../byte-writer.js";
import { NT_STATUS, ntStatusSeverity, formatNtStatus } from "../nt-status.js";

/**
 * SMB2/3 message header and framing (MS-SMB2).
 *
 *  - §2.2.1.1  sync header (64 bytes): ProtocolId, StructureSize 64, CreditCharge,
 *              Status (ChannelSequence/Reserved in 3.x requests), Command, CreditRequest/Response,
 *              Flags, NextCommand, MessageId, Reserved (process id), TreeId, SessionId, Signature
 *  - §2.2.1.2  async header: AsyncId (8 bytes) in place of Reserved + TreeId, SMB2_FLAGS_ASYNC_COMMAND
 *              set (interim STATUS_PENDING responses, §3.3.4.2)
 *  - §2.2.41   TRANSFORM_HEADER (0xFD 'SMB', encrypted) and §2.2.42 COMPRESSION_TRANSFORM_HEADER
 *              (0xFC 'SMB'): recognised and returned as "unsupported" values (we neither decrypt
 *              nor decompress; research Appendix C forbids compressed probing)
 *  - §3.2.4.1.4 / §3.3.5.2.7 compounded messages: NextCommand is the offset from this header to
 *              the next, 8-byte aligned; 0 on the last
 *
 * Message ids, credits, session and tree ids are the client's business; the builders below only
 * put the values they are given into a header.
 */

export const SMB2_HEADER_LENGTH = 64;

/** §2.2.1.2 Command. */
export const SMB2_COMMAND = Object.freeze({
  NEGOTIATE: 0x0000,
  SESSION_SETUP: 0x0001,
  LOGOFF: 0x0002,
  TREE_CONNECT: 0x0003,
  TREE_DISCONNECT: 0x0004,
  CREATE: 0x0005,
  CLOSE: 0x0006,
  FLUSH: 0x0007,
  READ: 0x0008,
  WRITE: 0x0009,
  LOCK: 0x000a,
  IOCTL: 0x000b,
  CANCEL: 0x000c,
  ECHO: 0x000d,
  QUERY_DIRECTORY: 0x000e,
  CHANGE_NOTIFY: 0x000f,
  QUERY_INFO: 0x0010,
  SET_INFO: 0x0011,
  OPLOCK_BREAK: 0x0012,
} as const);

/** §2.2.1.2 Flags. */
export const SMB2_FLAGS = Object.freeze({
  SERVER_TO_REDIR: 0x00000001,
  ASYNC_COMMAND: 0x00000002,
  RELATED_OPERATIONS: 0x00000004,
  SIGNED: 0x00000008,
  PRIORITY_MASK: 0x00000070,
  DFS_OPERATIONS: 0x10000000,
  REPLAY_OPERATION: 0x20000000,
} as const);

/** §2.2.1.1/2 header, sync or async. */
export interface Smb2Header {
  readonly creditCharge: number;
  /** NTSTATUS in responses; ChannelSequence + Reserved in SMB 3.x requests (0 otherwise). */
  readonly status: number;
  readonly command: number;
  /** CreditRequest (request) or CreditResponse (response). */
  readonly credits: number;
  /** SMB2_FLAGS; ASYNC_COMMAND is set exactly when asyncId is not null. */
  readonly flags: number;
  readonly nextCommand: number;
  readonly messageId: bigint;
  /** Async header (§2.2.1.1 "SMB2 Packet Header - ASYNC"); null in the sync form. */
  readonly asyncId: bigint | null;
  /** Sync form's Reserved field (Windows puts 0xFEFF there); 0 in the async form. */
  readonly processId: number;
  /** 0 in the async form. */
  readonly treeId: number;
  readonly sessionId: bigint;
  /** 16 bytes; zero unless SMB2_FLAGS_SIGNED. */
  readonly signature: Uint8Array;
}

/** Header fields an encoder takes; anything left out gets smb2Header's default. */
export type Smb2HeaderInit = Partial<Omit<Smb2Header, "command">>;

/** A decoded message: the command's fields plus the header it came with. */
export type Smb2Decoded<T> = T & { readonly header: Smb2Header };

/** An encrypted or compressed message, recognised but not opened (§2.2.41, §2.2.42). */
export type Smb2UnsupportedHeader =
  | {
      readonly kind: "smb2-unsupported";
      readonly form: "transform";
      readonly signature: Uint8Array;
      readonly nonce: Uint8Array;
      readonly originalMessageSize: number;
      /** Flags (3.1.1) / EncryptionAlgorithm (3.0.x). */
      readonly flags: number;
      readonly sessionId: bigint;
    }
  | {
      readonly kind: "smb2-unsupported";
      readonly form: "compression";
      readonly originalCompressedSegmentSize: number;
      readonly compressionAlgorithm: number;
      /** SMB2_COMPRESSION_FLAG_CHAINED (1) or NONE (0). */
      readonly flags: number;
      /** Offset (unchained) or Length (chained). */
      readonly offsetOrLength: number;
    };

export function isSmb2Unsupported(value: unknown): value is Smb2UnsupportedHeader {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { kind?: unknown }).kind === "smb2-unsupported"
  );
}

/**
 * Build a header for `command` from the fields given (message id, credits, session id, tree id,
 * ...). Defaults: credit charge 0, one credit requested, sync form, everything else zero.
 */
export function smb2Header(command: number, init: Smb2HeaderInit = {}): Smb2Header {
  const asyncId = init.asyncId ?? null;
  const flags = init.flags ?? 0;
  return {
    creditCharge: init.creditCharge ?? 0,
    status: init.status ?? 0,
    command,
    credits: init.credits ?? 1,
    flags:
      asyncId === null
        ? (flags & ~SMB2_FLAGS.ASYNC_COMMAND) >>> 0
        : (flags | SMB2_FLAGS.ASYNC_COMMAND) >>> 0,
    nextCommand: init.nextCommand ?? 0,
    messageId: init.messageId ?? 0n,
    asyncId,
    processId: asyncId === null ? (init.processId ?? 0) : 0,
    treeId: asyncId === null ? (init.treeId ?? 0) : 0,
    sessionId: init.sessionId ?? 0n,
    signature: init.signature ?? new Uint8Array(16),
  };
}

/** A response header: SMB2_FLAGS_SERVER_TO_REDIR set (§2.2.1.2). */
export function smb2ResponseHeader(command: number, init: Smb2HeaderInit = {}): Smb2Header {
  const base = smb2Header(command, init);
  return { ...base, flags: (base.flags | SMB2_FLAGS.SERVER_TO_REDIR) >>> 0 };
}

export function isSmb2Response(header: Smb2Header): boolean {
  return (header.flags & SMB2_FLAGS.SERVER_TO_REDIR) !== 0;
}

/** Write the 64 header bytes; the async form is chosen by asyncId. */
function writeSmb2Header(w: ByteWriter, header: Smb2Header): void {
  if (header.signature.length !== 16) {
    throw new RangeError(`signature must be 16 bytes, got ${header.signature.length}`);
  }
  const async = header.asyncId !== null;
  const flags = async
    ? (header.flags | SMB2_FLAGS.ASYNC_COMMAND) >>> 0
    : (header.flags & ~SMB2_FLAGS.ASYNC_COMMAND) >>> 0;
  w.bytes(Uint8Array.of(0xfe, 0x53, 0x4d, 0x42));
  w.u16(SMB2_HEADER_LENGTH, "StructureSize");
  w.u16(header.creditCharge, "CreditCharge");
  w.u32(header.status, "Status");
  w.u16(header.command, "Command");
  w.u16(header.credits, "Credits");
  w.u32(flags, "Flags");
  w.u32(header.nextCommand, "NextCommand");
  w.u64(header.messageId, "MessageId");
  if (header.asyncId !== null) {
    w.u64(header.asyncId, "AsyncId");
  } else {
    w.u32(header.processId, "Reserved (process id)");
    w.u32(header.treeId, "TreeId");
  }
  w.u64(header.sessionId, "SessionId");
  w.bytes(header.signature);
}

/** The 64 header bytes alone. */
export function encodeSmb2Header(header: Smb2Header): Uint8Array {
  const w = new ByteWriter();
  writeSmb2Header(w, header);
  return w.finish();
}

/**
 * Decode the header at the start of `message`: an Smb2Header (sync or async), an
 * Smb2UnsupportedHeader for an encrypted or compressed message, or an issue. Never throws.
 */
export function decodeSmb2Header(
  message: Uint8Array,
): Smb2Header | Smb2UnsupportedHeader | DecodeIssue {
  if (message.length < 4 || message[1] !== 0x53 || message[2] !== 0x4d || message[3] !== 0x42) {
    return message.length < 4
      ? decodeIssue("smb2-header", 0, "shorter than a ProtocolId", 4 - message.length)
      : decodeIssue("smb2-header", 0, "ProtocolId is not an SMB2 one");
  }
  const r = new ByteReader(message);
  switch (message[0]) {
    case 0xfd: {
      // §2.2.41 TRANSFORM_HEADER: 52 bytes.
      r.skip(4, "ProtocolId");
      const signature = r.bytesOf(16, "Signature");
      const nonce = r.bytesOf(16, "Nonce");
      const originalMessageSize = r.u32("OriginalMessageSize");
      r.skip(2, "Reserved");
      const flags = r.u16("Flags");
      const sessionId = r.u64("SessionId");
      return r.result({
        kind: "smb2-unsupported",
        form: "transform",
        signature,
        nonce,
        originalMessageSize,
        flags,
        sessionId,
      });
    }
    case 0xfc: {
      // §2.2.42.1 COMPRESSION_TRANSFORM_HEADER (unchained form; chained shares the first 16).
      r.skip(4, "ProtocolId");
      const originalCompressedSegmentSize = r.u32("OriginalCompressedSegmentSize");
      const compressionAlgorithm = r.u16("CompressionAlgorithm");
      const flags = r.u16("Flags");
      const offsetOrLength = r.u32("Offset");
      return r.result({
        kind: "smb2-unsupported",
        form: "compression",
        originalCompressedSegmentSize,
        compressionAlgorithm,
        flags,
        offsetOrLength,
      });
    }
    case 0xfe:
      break;
    default:
      return decodeIssue("smb2-header", 0, "ProtocolId is not an SMB2 one");
  }
  if (message.length < SMB2_HEADER_LENGTH) {
    return decodeIssue(
      "smb2-header",
      0,
      "shorter than the 64-byte SMB2 header",
      SMB2_HEADER_LENGTH - message.length,
    );
  }
  r.skip(4, "ProtocolId");
  const structureSize = r.u16("StructureSize");
  if (structureSize !== SMB2_HEADER_LENGTH) {
    return decodeIssue("smb2-header", 4, `StructureSize ${structureSize}, not 64`);
  }
  const creditCharge = r.u16("CreditCharge");
  const status = r.u32("Status");
  const command = r.u16("Command");
  const credits = r.u16("Credits");
  const flags = r.u32("Flags");
  const nextCommand = r.u32("NextCommand");
  const messageId = r.u64("MessageId");
  const async = (flags & SMB2_FLAGS.ASYNC_COMMAND) !== 0;
  const asyncId = async ? r.u64("AsyncId") : null;
  const processId = async ? 0 : r.u32("Reserved");
  const treeId = async ? 0 : r.u32("TreeId");
  const sessionId = r.u64("SessionId");
  const signature = r.bytesOf(16, "Signature");
  return r.result({
    creditCharge,
    status,
    command,
    credits,
    flags,
    nextCommand,
    messageId,
    asyncId,
    processId,
    treeId,
    sessionId,
    signature,
  });
}

/** Most messages one compound may hold here; Windows sends a handful (§3.2.4.1.4). */
export const SMB2_MAX_COMPOUND_MESSAGES = 64;

/**
 * Split a compounded SMB2 payload into its messages (views into `bytes`, each starting at its
 * header). NextCommand must be at least a header long and stay inside the payload, so each step
 * moves forward by ≥ 64 bytes; the count is capped at SMB2_MAX_COMPOUND_MESSAGES. A single,
 * uncompounded message comes back as a one-element list. Transform/compression headers are not
 * compounded (§3.1.4.3) and come back whole. Never throws.
 */
export function splitSmb2Compound(bytes: Uint8Array): Uint8Array[] | DecodeIssue {
  const out: Uint8Array[] = [];
  let at = 0;
  for (;;) {
    const rest = bytes.subarray(at);
    const header = decodeSmb2Header(rest);
    if (isDecodeIssue(header)) return { ...header, offset: header.offset + at };
    if (isSmb2Unsupported(header) || header.nextCommand === 0) {
      out.push(rest);
      return out;
    }
    const next = header.nextCommand;
    if (next < SMB2_HEADER_LENGTH || next > rest.length) {
      return decodeIssue(
        "next-command",
        at + 20,
        `NextCommand ${next} is not inside the ${rest.length} bytes left`,
      );
    }
    if (out.length + 1 >= SMB2_MAX_COMPOUND_MESSAGES) {
      return decodeIssue(
        "next-command",
        at + 20,
        `more than ${SMB2_MAX_COMPOUND_MESSAGES} compounded messages`,
      );
    }
    out.push(rest.subarray(0, next));
    at += next;
  }
}

/** What body decoders start from: a sync/async header and a reader just past StructureSize. */
interface Smb2Body {
  readonly header: Smb2Header;
  readonly reader: ByteReader;
}

/**
 * Check `message` is one `command` message in the expected direction with the body
 * StructureSize given (§2.2.*), and position a reader after the StructureSize field.
 * An SMB2 ERROR response (StructureSize 9, §2.2.2) where another body was expected is an issue
 * that names the status.
 */
export function openSmb2Body(
  message: Uint8Array,
  command: number,
  direction: "request" | "response",
  structureSize: number,
): Smb2Body | DecodeIssue {
  const header = decodeSmb2Header(message);
  if (isDecodeIssue(header)) return header;
  if (isSmb2Unsupported(header)) {
    return decodeIssue("smb2-header", 0, `an ${header.form} header: unsupported here`);
  }
  if (header.command !== command) {
    return decodeIssue(
      "smb2-header",
      12,
      `command 0x${header.command.toString(16)}, expected 0x${command.toString(16)}`,
    );
  }
  if (isSmb2Response(header) !== (direction === "response")) {
    return decodeIssue("smb2-header", 16, `expected a ${direction}, Flags says otherwise`);
  }
  const reader = new ByteReader(message, SMB2_HEADER_LENGTH);
  const size = reader.u16("StructureSize");
  if (reader.issue !== undefined) return reader.issue;
  const errorBody =
    direction === "response" &&
    size === 9 &&
    (structureSize !== 9 ||
      (ntStatusSeverity(header.status) === "error" &&
        header.status !== NT_STATUS.MORE_PROCESSING_REQUIRED));
  if (errorBody) {
    return decodeIssue(
      "error-response",
      SMB2_HEADER_LENGTH,
      `an SMB2 ERROR response (${formatNtStatus(header.status)}): decode it with decodeSmb2ErrorResponse`,
    );
  }
  if (size !== structureSize) {
    return decodeIssue(
      "structure-size",
      SMB2_HEADER_LENGTH,
      `StructureSize ${size}, expected ${structureSize}`,
    );
  }
  return { header, reader };
}

/** Start a message: header then StructureSize. */
export function startSmb2Message(header: Smb2Header, structureSize: number): ByteWriter {
  const w = new ByteWriter();
  writeSmb2Header(w, header);
  w.u16(structureSize, "StructureSize");
  return w;
}
