import { decodeIssue, isDecodeIssue, type DecodeIssue } from "../../netbios/decode-issue.js";
import { ByteReader } from "../byte-reader.js";
import { ByteWriter, toUint32 } from "../byte-writer.js";
import { readTerminated, smbStringBytes, type TerminatedString } from "../strings.js";

/**
 * SMB1 message framing (MS-CIFS §2.2.3): the 32-byte header, then one or more "blocks" of
 * SMB_Parameters (WordCount + Words) and SMB_Data (ByteCount + Bytes), chained by AndX.
 *
 *  - MS-CIFS §2.2.3.1  SMB_Header: Protocol, Command, Status, Flags, Flags2, PIDHigh,
 *                      SecurityFeatures (the signature), Reserved, TID, PIDLow, UID, MID
 *  - MS-CIFS §2.2.3.2  SMB_Parameters, §2.2.3.3 SMB_Data
 *  - MS-CIFS §2.2.3.4  batched ("AndX") messages: AndXCommand, AndXReserved, AndXOffset, where
 *                      AndXOffset counts from the start of the SMB header to the next WordCount
 *  - MS-CIFS §2.2.1.2  all integers little-endian
 */

export const SMB1_HEADER_LENGTH = 32;

/** MS-CIFS §2.2.2.1 command codes (the ones our clients and lab servers use). */
export const SMB1_COMMAND = Object.freeze({
  CLOSE: 0x04,
  TRANSACTION: 0x25,
  TRANSACTION_SECONDARY: 0x26,
  ECHO: 0x2b,
  READ_ANDX: 0x2e,
  WRITE_ANDX: 0x2f,
  TRANSACTION2: 0x32,
  TRANSACTION2_SECONDARY: 0x33,
  TREE_DISCONNECT: 0x71,
  NEGOTIATE: 0x72,
  SESSION_SETUP_ANDX: 0x73,
  LOGOFF_ANDX: 0x74,
  TREE_CONNECT_ANDX: 0x75,
  NT_TRANSACT: 0xa0,
  NT_CREATE_ANDX: 0xa2,
  /** AndXCommand value that ends a chain (MS-CIFS §2.2.3.4). */
  NO_ANDX_COMMAND: 0xff,
} as const);

/** MS-CIFS §2.2.3.4: commands whose parameter words start with the AndX fields. */
const ANDX_COMMANDS = new Set<number>([
  0x24, // LOCKING_ANDX
  0x2d, // OPEN_ANDX
  SMB1_COMMAND.READ_ANDX,
  SMB1_COMMAND.WRITE_ANDX,
  SMB1_COMMAND.SESSION_SETUP_ANDX,
  SMB1_COMMAND.LOGOFF_ANDX,
  SMB1_COMMAND.TREE_CONNECT_ANDX,
  SMB1_COMMAND.NT_CREATE_ANDX,
]);

/** MS-CIFS §2.2.3.1 Flags. */
export const SMB1_FLAGS = Object.freeze({
  LOCK_AND_READ_OK: 0x01,
  BUF_AVAIL: 0x02,
  CASE_INSENSITIVE: 0x08,
  CANONICALIZED_PATHS: 0x10,
  OPLOCK: 0x20,
  OPBATCH: 0x40,
  /** Set in every response. */
  REPLY: 0x80,
} as const);

/** MS-CIFS §2.2.3.1 / MS-SMB §2.2.3.1 Flags2. */
export const SMB1_FLAGS2 = Object.freeze({
  LONG_NAMES: 0x0001,
  EAS: 0x0002,
  SMB_SECURITY_SIGNATURE: 0x0004,
  COMPRESSED: 0x0008,
  SMB_SECURITY_SIGNATURE_REQUIRED: 0x0010,
  IS_LONG_NAME: 0x0040,
  REPARSE_PATH: 0x0400,
  /** MS-SMB §2.2.3.1: extended security (SPNEGO/NTLMSSP blobs) negotiated. */
  EXTENDED_SECURITY: 0x0800,
  DFS: 0x1000,
  PAGING_IO: 0x2000,
  /** Status is a 32-bit NTSTATUS, not an ERRCLASS/ERRCODE pair. */
  NT_STATUS: 0x4000,
  /** Strings in this message are UTF-16LE. */
  UNICODE: 0x8000,
} as const);

/** MS-CIFS §2.2.4.52.2 / MS-SMB §2.2.4.5.2 Capabilities. */
export const SMB1_CAPABILITIES = Object.freeze({
  RAW_MODE: 0x00000001,
  MPX_MODE: 0x00000002,
  UNICODE: 0x00000004,
  LARGE_FILES: 0x00000008,
  NT_SMBS: 0x00000010,
  RPC_REMOTE_APIS: 0x00000020,
  STATUS32: 0x00000040,
  LEVEL_II_OPLOCKS: 0x00000080,
  LOCK_AND_READ: 0x00000100,
  NT_FIND: 0x00000200,
  DFS: 0x00001000,
  INFOLEVEL_PASSTHRU: 0x00002000,
  LARGE_READX: 0x00004000,
  LARGE_WRITEX: 0x00008000,
  LWIO: 0x00010000,
  UNIX: 0x00800000,
  COMPRESSED_DATA: 0x02000000,
  DYNAMIC_REAUTH: 0x20000000,
  EXTENDED_SECURITY: 0x80000000,
} as const);

/** MS-CIFS §2.2.4.52.2 SecurityMode. */
export const SMB1_SECURITY_MODE = Object.freeze({
  USER_SECURITY: 0x01,
  ENCRYPT_PASSWORDS: 0x02,
  SECURITY_SIGNATURES_ENABLED: 0x04,
  SECURITY_SIGNATURES_REQUIRED: 0x08,
} as const);

/** MS-CIFS §2.2.3.1 SMB_Header, decoded. */
export interface Smb1Header {
  readonly command: number;
  /** NTSTATUS when Flags2 has NT_STATUS; otherwise ErrorClass | Reserved << 8 | ErrorCode << 16. */
  readonly status: number;
  readonly flags: number;
  readonly flags2: number;
  readonly pidHigh: number;
  /** SecurityFeatures: the 8-byte message signature (zero when signing is off). */
  readonly signature: Uint8Array;
  readonly tid: number;
  readonly pidLow: number;
  readonly uid: number;
  readonly mid: number;
}

/** Header fields an encoder takes; anything left out gets smb1Header's default. */
export type Smb1HeaderInit = Partial<Omit<Smb1Header, "command">>;

/** A decoded message: the command's fields plus the header it came with. */
export type Smb1Decoded<T> = T & { readonly header: Smb1Header };

/**
 * Defaults for requests: flags 0x18 (CASE_INSENSITIVE | CANONICALIZED_PATHS), flags2 0xC001
 * (UNICODE | NT_STATUS | LONG_NAMES) and PIDLow 0xFEFF, the values of research Appendix B's
 * 51-byte negotiate; everything else zero.
 */
export const SMB1_DEFAULT_FLAGS = SMB1_FLAGS.CASE_INSENSITIVE | SMB1_FLAGS.CANONICALIZED_PATHS;
export const SMB1_DEFAULT_FLAGS2 =
  SMB1_FLAGS2.UNICODE | SMB1_FLAGS2.NT_STATUS | SMB1_FLAGS2.LONG_NAMES;

/** Build a full header from a command and the fields given (message id, uid, tid, ...). */
export function smb1Header(command: number, init: Smb1HeaderInit = {}): Smb1Header {
  return {
    command,
    status: init.status ?? 0,
    flags: init.flags ?? SMB1_DEFAULT_FLAGS,
    flags2: init.flags2 ?? SMB1_DEFAULT_FLAGS2,
    pidHigh: init.pidHigh ?? 0,
    signature: init.signature ?? new Uint8Array(8),
    tid: init.tid ?? 0,
    pidLow: init.pidLow ?? 0xfeff,
    uid: init.uid ?? 0,
    mid: init.mid ?? 0,
  };
}

/** The header a response encoder writes: REPLY set in Flags (MS-CIFS §2.2.3.1). */
export function smb1ResponseHeader(command: number, init: Smb1HeaderInit = {}): Smb1Header {
  const base = smb1Header(command, init);
  return { ...base, flags: base.flags | SMB1_FLAGS.REPLY };
}

/** True when the header's strings are UTF-16LE (MS-CIFS §2.2.3.1 SMB_FLAGS2_UNICODE). */
export function isUnicode(header: Smb1Header): boolean {
  return (header.flags2 & SMB1_FLAGS2.UNICODE) !== 0;
}

export function isSmb1Reply(header: Smb1Header): boolean {
  return (header.flags & SMB1_FLAGS.REPLY) !== 0;
}

function writeHeader(w: ByteWriter, header: Smb1Header): void {
  if (header.signature.length !== 8) {
    throw new RangeError(`signature must be 8 bytes, got ${header.signature.length}`);
  }
  w.bytes(Uint8Array.of(0xff, 0x53, 0x4d, 0x42));
  w.u8(header.command, "command");
  w.u32(header.status, "status");
  w.u8(header.flags, "flags");
  w.u16(header.flags2, "flags2");
  w.u16(header.pidHigh, "pidHigh");
  w.bytes(header.signature);
  w.u16(0, "reserved");
  w.u16(header.tid, "tid");
  w.u16(header.pidLow, "pidLow");
  w.u16(header.uid, "uid");
  w.u16(header.mid, "mid");
}

/** The 32 header bytes alone (MS-CIFS §2.2.3.1). */
export function encodeSmb1Header(header: Smb1Header): Uint8Array {
  const w = new ByteWriter();
  writeHeader(w, header);
  return w.finish();
}

/** Decode the 32-byte header at the start of `message`. Never throws. */
export function decodeSmb1Header(message: Uint8Array): Smb1Header | DecodeIssue {
  if (message.length < SMB1_HEADER_LENGTH) {
    return decodeIssue(
      "smb1-header",
      0,
      "shorter than the 32-byte SMB1 header",
      SMB1_HEADER_LENGTH - message.length,
    );
  }
  if (message[0] !== 0xff || message[1] !== 0x53 || message[2] !== 0x4d || message[3] !== 0x42) {
    return decodeIssue("smb1-header", 0, "Protocol is not \\xFFSMB");
  }
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  return {
    command: view.getUint8(4),
    status: view.getUint32(5, true),
    flags: view.getUint8(9),
    flags2: view.getUint16(10, true),
    pidHigh: view.getUint16(12, true),
    signature: message.slice(14, 22),
    // 22-23 Reserved
    tid: view.getUint16(24, true),
    pidLow: view.getUint16(26, true),
    uid: view.getUint16(28, true),
    mid: view.getUint16(30, true),
  };
}

/** One SMB_Parameters + SMB_Data block of a (possibly chained) message. */
export interface Smb1Block {
  readonly command: number;
  /** Offset of the WordCount byte, from the start of the SMB header. */
  readonly offset: number;
  readonly wordCount: number;
  /** Offset of the first parameter word. */
  readonly wordsOffset: number;
  /** The parameter words (2 × wordCount bytes, or 100 for the NT_CREATE_ANDX quirk below). */
  readonly words: Uint8Array;
  readonly byteCount: number;
  /** Offset of the first SMB_Data byte (after ByteCount). */
  readonly bytesOffset: number;
  readonly bytes: Uint8Array;
}

/** A message cut into its header and AndX chain of blocks (at least one). */
export interface Smb1Message {
  readonly header: Smb1Header;
  readonly blocks: readonly Smb1Block[];
}

/** Cap on AndX chain length: Windows chains at most a handful (MS-CIFS §3.2.4.1.3). */
export const SMB1_MAX_ANDX_BLOCKS = 16;

/**
 * Cut a whole SMB1 message into header + blocks, following the AndX chain. Safe on hostile input:
 * each AndXOffset must point at or past the end of the block before it (so offsets strictly
 * increase and a self-pointing or backwards offset is an issue, not a loop), every block must
 * fit in the message, and at most SMB1_MAX_ANDX_BLOCKS are read. Never throws.
 *
 * Quirk kept from Windows and Samba: an NT_CREATE_ANDX extended response (MS-SMB §2.2.4.9.2)
 * says WordCount 42 but carries 50 words; Samba's reply_ntcreate_and_X comments on it and
 * Wireshark accepts it, so a reply with WordCount 42 is read as 50 words.
 */
export function decodeSmb1Message(message: Uint8Array): Smb1Message | DecodeIssue {
  const header = decodeSmb1Header(message);
  if (isDecodeIssue(header)) return header;
  const blocks: Smb1Block[] = [];
  let command = header.command;
  let at = SMB1_HEADER_LENGTH;
  for (;;) {
    const block = readBlock(message, command, at, isSmb1Reply(header));
    if (isDecodeIssue(block)) return block;
    blocks.push(block);
    // MS-CIFS §2.2.3.4: an AndX block starts with AndXCommand, AndXReserved, AndXOffset.
    if (!ANDX_COMMANDS.has(command) || block.wordCount < 2) break;
    const next = block.words[0] ?? SMB1_COMMAND.NO_ANDX_COMMAND;
    if (next === SMB1_COMMAND.NO_ANDX_COMMAND) break;
    const nextOffset = (block.words[2] ?? 0) | ((block.words[3] ?? 0) << 8);
    const blockEnd = block.bytesOffset + block.byteCount;
    if (nextOffset < blockEnd) {
      return decodeIssue(
        "andx",
        block.wordsOffset + 2,
        `AndXOffset ${nextOffset} does not point past the block ending at ${blockEnd}`,
      );
    }
    if (blocks.length >= SMB1_MAX_ANDX_BLOCKS) {
      return decodeIssue(
        "andx",
        block.wordsOffset,
        `more than ${SMB1_MAX_ANDX_BLOCKS} chained commands`,
      );
    }
    command = next;
    at = nextOffset;
  }
  return { header, blocks };
}

function readBlock(
  message: Uint8Array,
  command: number,
  at: number,
  reply: boolean,
): Smb1Block | DecodeIssue {
  if (at + 1 > message.length) {
    return decodeIssue("word-count", at, "no WordCount", at + 1 - message.length);
  }
  const wordCount = message[at] ?? 0;
  const wordBytes =
    reply && command === SMB1_COMMAND.NT_CREATE_ANDX && wordCount === 42 ? 100 : 2 * wordCount;
  const wordsOffset = at + 1;
  const byteCountAt = wordsOffset + wordBytes;
  if (byteCountAt + 2 > message.length) {
    return decodeIssue(
      "words",
      wordsOffset,
      `WordCount ${wordCount} and ByteCount run past the ${message.length}-byte message`,
      byteCountAt + 2 - message.length,
    );
  }
  const byteCount = (message[byteCountAt] ?? 0) | ((message[byteCountAt + 1] ?? 0) << 8);
  const bytesOffset = byteCountAt + 2;
  if (bytesOffset + byteCount > message.length) {
    return decodeIssue(
      "byte-count",
      byteCountAt,
      `ByteCount ${byteCount} runs past the ${message.length}-byte message`,
      bytesOffset + byteCount - message.length,
    );
  }
  return {
    command,
    offset: at,
    wordCount,
    wordsOffset,
    words: message.slice(wordsOffset, byteCountAt),
    byteCount,
    bytesOffset,
    bytes: message.slice(bytesOffset, bytesOffset + byteCount),
  };
}

/**
 * The first block of `message` for `command` (the first of the chain, or a later AndX block):
 * what every per-command decoder starts from. Checks the message is a request or a reply as the
 * caller expects.
 */
export function findSmb1Block(
  message: Uint8Array,
  command: number,
  direction: "request" | "response",
): { header: Smb1Header; block: Smb1Block } | DecodeIssue {
  const decoded = decodeSmb1Message(message);
  if (isDecodeIssue(decoded)) return decoded;
  const { header } = decoded;
  if (isSmb1Reply(header) !== (direction === "response")) {
    return decodeIssue("smb1-header", 9, `expected a ${direction}, Flags says otherwise`);
  }
  const block = decoded.blocks.find((b) => b.command === command);
  if (block === undefined) {
    return decodeIssue(
      "smb1-header",
      4,
      `no 0x${command.toString(16).padStart(2, "0")} command in this message ` +
        `(command 0x${header.command.toString(16).padStart(2, "0")})`,
    );
  }
  return { header, block };
}

/**
 * Writes one single-block SMB1 message: header, WordCount, words, ByteCount, bytes. The callbacks
 * write at absolute offsets (the writer starts at the SMB header), which is what Unicode alignment
 * and the Offset fields count from. WordCount and ByteCount are filled in afterwards.
 */
export function writeSmb1Message(
  header: Smb1Header,
  words: (w: ByteWriter) => void,
  data: (w: ByteWriter) => void,
): Uint8Array {
  const w = new ByteWriter();
  writeHeader(w, header);
  const wordCountAt = w.offset;
  w.u8(0, "WordCount");
  words(w);
  const wordBytes = w.offset - wordCountAt - 1;
  if (wordBytes % 2 !== 0) throw new RangeError("SMB1 parameter words must be whole words");
  w.patchU8(wordCountAt, wordBytes / 2, "WordCount");
  const byteCountAt = w.offset;
  w.u16(0, "ByteCount");
  data(w);
  w.patchU16(byteCountAt, w.offset - byteCountAt - 2, "ByteCount");
  return w.finish();
}

/** AndX fields of a last (or only) command: no further command, offset 0 (research App. A). */
export function writeNoAndX(w: ByteWriter): void {
  w.u8(SMB1_COMMAND.NO_ANDX_COMMAND, "AndXCommand");
  w.u8(0, "AndXReserved");
  w.u16(0, "AndXOffset");
}

/**
 * An error response (MS-CIFS §2.2.3: WordCount 0, ByteCount 0, the error in Status), which is how
 * SMB1 servers answer a failed command of any kind, and what the MS17-010 check reads.
 */
export function encodeSmb1ErrorResponse(
  command: number,
  status: number,
  header: Smb1HeaderInit = {},
): Uint8Array {
  toUint32(status, "status");
  return writeSmb1Message(
    smb1ResponseHeader(command, { ...header, status }),
    () => undefined,
    () => undefined,
  );
}

/** A reader over a block's parameter words, with offsets counted from the SMB header. */
export function wordsReader(message: Uint8Array, block: Smb1Block): ByteReader {
  return new ByteReader(message, block.wordsOffset, block.wordsOffset + block.words.length);
}

/** An issue unless the block's WordCount is one of `allowed`. */
export function checkWordCount(
  block: Smb1Block,
  allowed: readonly number[],
  what: string,
): DecodeIssue | null {
  if (allowed.includes(block.wordCount)) return null;
  return decodeIssue(
    what,
    block.offset,
    `WordCount ${block.wordCount}, expected ${allowed.join(" or ")}` +
      (block.wordCount === 0 ? " (an error response carries no words: check header.status)" : ""),
  );
}

/** A command's block, its WordCount checked, with a reader over its parameter words. */
export interface Smb1OpenBlock {
  readonly header: Smb1Header;
  readonly block: Smb1Block;
  readonly r: ByteReader;
}

/**
 * `findSmb1Block`, then `checkWordCount` against `wordCounts` (naming the issue `what`), then a
 * `wordsReader` over the block. Never throws.
 */
export function readSmb1Block(
  message: Uint8Array,
  command: number,
  direction: "request" | "response",
  wordCounts: readonly number[],
  what: string,
): Smb1OpenBlock | DecodeIssue {
  const found = findSmb1Block(message, command, direction);
  if (isDecodeIssue(found)) return found;
  const bad = checkWordCount(found.block, wordCounts, what);
  if (bad !== null) return bad;
  return { ...found, r: wordsReader(message, found.block) };
}

/**
 * Writes a 16-bit Offset word (ParameterOffset, DataOffset) as 0 and returns the function that
 * fills it in, from the data callback of `writeSmb1Message` once the place is known.
 */
export function reserveOffset(w: ByteWriter, what: string): (offset: number) => void {
  const at = w.offset;
  w.u16(0, what);
  return (offset) => {
    if (offset > 0xffff) throw new RangeError(`${what} ${offset} does not fit in 16 bits`);
    w.patchU16(at, offset, what);
  };
}

/**
 * Write an SMB_STRING into SMB_Data: in Unicode, first a pad byte if needed so the string starts
 * on an even offset from the SMB header (MS-CIFS §2.2.1.1), then the string and its terminator.
 */
export function writeSmbString(w: ByteWriter, text: string, unicode: boolean, what: string): void {
  if (unicode) w.align(2);
  w.bytes(smbStringBytes(text, unicode, what));
}

/** Read an SMB_STRING at `at` (skipping the Unicode alignment pad) up to `end`. Lenient. */
export function readSmbString(
  message: Uint8Array,
  at: number,
  end: number,
  unicode: boolean,
): TerminatedString {
  const start = unicode && at % 2 === 1 && at < end ? at + 1 : at;
  return readTerminated(message, start, end, unicode);
}
