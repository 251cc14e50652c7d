import { isDecodeIssue, type DecodeIssue } from "../../netbios/decode-issue.js";
import { bufferAt } from "../byte-reader.js";
import {
  SMB1_COMMAND,
  SMB1_HEADER_LENGTH,
  checkWordCount,
  findSmb1Block,
  readSmb1Block,
  reserveOffset,
  smb1Header,
  smb1ResponseHeader,
  writeNoAndX,
  writeSmb1Message,
  type Smb1Decoded,
  type Smb1HeaderInit,
} from "./header-codec.js";

/**
 * SMB_COM_READ_ANDX (0x2E), SMB_COM_WRITE_ANDX (0x2F) and SMB_COM_CLOSE (0x04), as used on named
 * pipes: DCE/RPC PDUs are written with WRITE_ANDX and read back with READ_ANDX (Tenable's way,
 * research §2.3 step 4), extra response fragments are read with READ_ANDX (step 5).
 *
 *  - MS-CIFS §2.2.4.42.1 / MS-SMB §2.2.4.2.1  READ_ANDX request, WordCount 10 or 12 (OffsetHigh)
 *  - MS-CIFS §2.2.4.42.2 / MS-SMB §2.2.4.2.2  response, WordCount 12: Available, DataLength,
 *                         DataOffset, DataLengthHigh; STATUS_BUFFER_OVERFLOW on a message-mode
 *                         pipe means more of the message is waiting
 *  - MS-CIFS §2.2.4.43.1 / MS-SMB §2.2.4.3.1  WRITE_ANDX request, WordCount 12 or 14
 *  - MS-CIFS §2.2.4.43.2 / MS-SMB §2.2.4.3.2  response, WordCount 6: Count, Available, CountHigh
 *  - MS-CIFS §2.2.4.5     CLOSE: request WordCount 3 (FID, LastTimeModified), response 0
 *
 * Data is placed after one pad byte (DataOffset 60 or 64), as Samba and impacket do, and cut by
 * DataOffset/DataLength within the message when decoding.
 */

/** MS-CIFS §2.2.4.43.1 WriteMode bits. */
export const SMB1_WRITE_MODE = Object.freeze({
  WRITETHROUGH: 0x0001,
  READ_BYTES_AVAILABLE: 0x0002,
  RAW: 0x0004,
  /** First write of a message to a message-mode pipe. */
  MESSAGE_START: 0x0008,
} as const);

export interface Smb1ReadRequest {
  readonly fid: number;
  readonly offset: number;
  /** OffsetHigh (WordCount 12); null for the WordCount 10 form. */
  readonly offsetHigh: number | null;
  readonly maxCountOfBytesToReturn: number;
  readonly minCountOfBytesToReturn: number;
  /** Timeout, or MaxCountHigh on servers with CAP_LARGE_READX (MS-SMB §2.2.4.2.1). */
  readonly timeout: number;
  readonly remaining: number;
}

export interface Smb1ReadResponse {
  /** Bytes still readable from the pipe (MS-CIFS: "Available"). */
  readonly available: number;
  readonly dataCompactionMode: number;
  readonly data: Uint8Array;
}

export interface Smb1WriteRequest {
  readonly fid: number;
  readonly offset: number;
  readonly offsetHigh: number | null;
  readonly timeout: number;
  readonly writeMode: number;
  /** For message-mode pipes: bytes of the message still to come, this write included. */
  readonly remaining: number;
  readonly data: Uint8Array;
}

export interface Smb1WriteResponse {
  /** Bytes written (Count | CountHigh << 16). */
  readonly count: number;
  readonly available: number;
}

export interface Smb1CloseRequest {
  readonly fid: number;
  /** UTIME; 0 or 0xFFFFFFFF leave the time alone. */
  readonly lastTimeModified: number;
}

/**
 * READ_ANDX response and WRITE_ANDX request data: DataLength (+ DataLengthHigh << 16) bytes at
 * DataOffset, inside the message and past the header; `fieldAt` places an issue.
 */
function dataAt(
  message: Uint8Array,
  dataOffset: number,
  dataLength: number,
  dataLengthHigh: number,
  fieldAt: number,
): Uint8Array | DecodeIssue {
  const length = dataLength + dataLengthHigh * 0x10000;
  return bufferAt(message, dataOffset, length, "data", fieldAt, SMB1_HEADER_LENGTH);
}

export function encodeSmb1ReadRequest(
  request: Smb1ReadRequest,
  header: Smb1HeaderInit = {},
): Uint8Array {
  return writeSmb1Message(
    smb1Header(SMB1_COMMAND.READ_ANDX, header),
    (w) => {
      writeNoAndX(w);
      w.u16(request.fid, "FID");
      w.u32(request.offset, "Offset");
      w.u16(request.maxCountOfBytesToReturn, "MaxCountOfBytesToReturn");
      w.u16(request.minCountOfBytesToReturn, "MinCountOfBytesToReturn");
      w.u32(request.timeout, "Timeout");
      w.u16(request.remaining, "Remaining");
      if (request.offsetHigh !== null) w.u32(request.offsetHigh, "OffsetHigh");
    },
    () => undefined,
  );
}

export function decodeSmb1ReadRequest(
  message: Uint8Array,
): Smb1Decoded<Smb1ReadRequest> | DecodeIssue {
  const opened = readSmb1Block(
    message,
    SMB1_COMMAND.READ_ANDX,
    "request",
    [10, 12],
    "read-request",
  );
  if (isDecodeIssue(opened)) return opened;
  const { header, block, r } = opened;
  r.skip(4, "AndX");
  const value = {
    header,
    fid: r.u16("FID"),
    offset: r.u32("Offset"),
    maxCountOfBytesToReturn: r.u16("MaxCountOfBytesToReturn"),
    minCountOfBytesToReturn: r.u16("MinCountOfBytesToReturn"),
    timeout: r.u32("Timeout"),
    remaining: r.u16("Remaining"),
    offsetHigh: block.wordCount === 12 ? r.u32("OffsetHigh") : null,
  };
  return r.result(value);
}

export function encodeSmb1ReadResponse(
  response: Smb1ReadResponse,
  header: Smb1HeaderInit = {},
): Uint8Array {
  if (response.data.length > 0xffffffff) throw new RangeError("DataLength exceeds 32 bits");
  let setDataOffset: (offset: number) => void = () => undefined;
  return writeSmb1Message(
    smb1ResponseHeader(SMB1_COMMAND.READ_ANDX, header),
    (w) => {
      writeNoAndX(w);
      w.u16(response.available, "Available");
      w.u16(response.dataCompactionMode, "DataCompactionMode");
      w.u16(0, "Reserved1");
      w.u16(response.data.length & 0xffff, "DataLength");
      setDataOffset = reserveOffset(w, "DataOffset");
      w.u16(Math.floor(response.data.length / 0x10000), "DataLengthHigh");
      w.zeros(8); // Reserved2
    },
    (w) => {
      w.align(2); // the pad byte: DataOffset 60
      setDataOffset(w.offset);
      w.bytes(response.data);
    },
  );
}

/** Data is cut by DataOffset and DataLength (+ DataLengthHigh) inside the message. Never throws. */
export function decodeSmb1ReadResponse(
  message: Uint8Array,
): Smb1Decoded<Smb1ReadResponse> | DecodeIssue {
  const opened = readSmb1Block(message, SMB1_COMMAND.READ_ANDX, "response", [12], "read-response");
  if (isDecodeIssue(opened)) return opened;
  const { header, block, r } = opened;
  r.skip(4, "AndX");
  const available = r.u16("Available");
  const dataCompactionMode = r.u16("DataCompactionMode");
  r.skip(2, "Reserved1");
  const dataLength = r.u16("DataLength");
  const dataOffset = r.u16("DataOffset");
  const dataLengthHigh = r.u16("DataLengthHigh");
  if (r.issue !== undefined) return r.issue;
  const data = dataAt(message, dataOffset, dataLength, dataLengthHigh, block.wordsOffset + 10);
  if (isDecodeIssue(data)) return data;
  return { header, available, dataCompactionMode, data };
}

export function encodeSmb1WriteRequest(
  request: Smb1WriteRequest,
  header: Smb1HeaderInit = {},
): Uint8Array {
  if (request.data.length > 0xffffffff) throw new RangeError("DataLength exceeds 32 bits");
  let setDataOffset: (offset: number) => void = () => undefined;
  return writeSmb1Message(
    smb1Header(SMB1_COMMAND.WRITE_ANDX, header),
    (w) => {
      writeNoAndX(w);
      w.u16(request.fid, "FID");
      w.u32(request.offset, "Offset");
      w.u32(request.timeout, "Timeout");
      w.u16(request.writeMode, "WriteMode");
      w.u16(request.remaining, "Remaining");
      w.u16(Math.floor(request.data.length / 0x10000), "DataLengthHigh");
      w.u16(request.data.length & 0xffff, "DataLength");
      setDataOffset = reserveOffset(w, "DataOffset");
      if (request.offsetHigh !== null) w.u32(request.offsetHigh, "OffsetHigh");
    },
    (w) => {
      w.align(2); // the pad byte: DataOffset 60 (WordCount 12) or 64 (WordCount 14)
      setDataOffset(w.offset);
      w.bytes(request.data);
    },
  );
}

/** For the lab's server. Never throws. */
export function decodeSmb1WriteRequest(
  message: Uint8Array,
): Smb1Decoded<Smb1WriteRequest> | DecodeIssue {
  const opened = readSmb1Block(
    message,
    SMB1_COMMAND.WRITE_ANDX,
    "request",
    [12, 14],
    "write-request",
  );
  if (isDecodeIssue(opened)) return opened;
  const { header, block, r } = opened;
  r.skip(4, "AndX");
  const fid = r.u16("FID");
  const offset = r.u32("Offset");
  const timeout = r.u32("Timeout");
  const writeMode = r.u16("WriteMode");
  const remaining = r.u16("Remaining");
  const dataLengthHigh = r.u16("DataLengthHigh");
  const dataLength = r.u16("DataLength");
  const dataOffsetField = r.offset;
  const dataOffset = r.u16("DataOffset");
  const offsetHigh = block.wordCount === 14 ? r.u32("OffsetHigh") : null;
  if (r.issue !== undefined) return r.issue;
  const data = dataAt(message, dataOffset, dataLength, dataLengthHigh, dataOffsetField);
  if (isDecodeIssue(data)) return data;
  return { header, fid, offset, offsetHigh, timeout, writeMode, remaining, data };
}

export function encodeSmb1WriteResponse(
  response: Smb1WriteResponse,
  header: Smb1HeaderInit = {},
): Uint8Array {
  return writeSmb1Message(
    smb1ResponseHeader(SMB1_COMMAND.WRITE_ANDX, header),
    (w) => {
      writeNoAndX(w);
      if (!Number.isInteger(response.count) || response.count < 0 || response.count > 0xffffffff) {
        throw new RangeError(`Count must be 0..2^32-1, got ${response.count}`);
      }
      w.u16(response.count & 0xffff, "Count");
      w.u16(response.available, "Available");
      w.u16(Math.floor(response.count / 0x10000), "CountHigh");
      w.u16(0, "Reserved");
    },
    () => undefined,
  );
}

export function decodeSmb1WriteResponse(
  message: Uint8Array,
): Smb1Decoded<Smb1WriteResponse> | DecodeIssue {
  const opened = readSmb1Block(message, SMB1_COMMAND.WRITE_ANDX, "response", [6], "write-response");
  if (isDecodeIssue(opened)) return opened;
  const { header, r } = opened;
  r.skip(4, "AndX");
  const count = r.u16("Count");
  const available = r.u16("Available");
  const countHigh = r.u16("CountHigh");
  return r.result({ header, count: count + countHigh * 0x10000, available });
}

export function encodeSmb1CloseRequest(
  request: Smb1CloseRequest,
  header: Smb1HeaderInit = {},
): Uint8Array {
  return writeSmb1Message(
    smb1Header(SMB1_COMMAND.CLOSE, header),
    (w) => {
      w.u16(request.fid, "FID");
      w.u32(request.lastTimeModified, "LastTimeModified");
    },
    () => undefined,
  );
}

export function decodeSmb1CloseRequest(
  message: Uint8Array,
): Smb1Decoded<Smb1CloseRequest> | DecodeIssue {
  const opened = readSmb1Block(message, SMB1_COMMAND.CLOSE, "request", [3], "close-request");
  if (isDecodeIssue(opened)) return opened;
  const { header, r } = opened;
  return r.result({ header, fid: r.u16("FID"), lastTimeModified: r.u32("LastTimeModified") });
}

/** MS-CIFS §2.2.4.5.2: a successful CLOSE response has no words and no bytes. */
export function encodeSmb1CloseResponse(header: Smb1HeaderInit = {}): Uint8Array {
  return writeSmb1Message(
    smb1ResponseHeader(SMB1_COMMAND.CLOSE, header),
    () => undefined,
    () => undefined,
  );
}

/** The response has only a header worth reading; check header.status. Never throws. */
export function decodeSmb1CloseResponse(
  message: Uint8Array,
): Smb1Decoded<Record<never, never>> | DecodeIssue {
  const found = findSmb1Block(message, SMB1_COMMAND.CLOSE, "response");
  if (isDecodeIssue(found)) return found;
  const bad = checkWordCount(found.block, [0], "close-response");
  return bad ?? { header: found.header };
}
