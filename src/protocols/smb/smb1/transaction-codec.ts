import { decodeIssue, isDecodeIssue, type DecodeIssue } from "../../netbios/decode-issue.js";
import { bufferAt, type ByteReader } from "../byte-reader.js";
import type { ByteWriter } from "../byte-writer.js";
import {
  SMB1_COMMAND,
  SMB1_HEADER_LENGTH,
  findSmb1Block,
  isUnicode,
  readSmbString,
  reserveOffset,
  smb1Header,
  smb1ResponseHeader,
  wordsReader,
  writeSmb1Message,
  writeSmbString,
  type Smb1Block,
  type Smb1Decoded,
  type Smb1Header,
  type Smb1HeaderInit,
} from "./header-codec.js";

/**
 * SMB_COM_TRANSACTION (0x25) and, minimally, SMB_COM_TRANSACTION2 (0x32): single-message
 * transactions with setup words, a name (TRANSACTION only), parameters and data.
 *
 *  - MS-CIFS §2.2.4.33.1  TRANSACTION request: WordCount 14 + SetupCount; Bytes = Name, Pad1,
 *                         Trans_Parameters, Pad2, Trans_Data, placed by ParameterOffset and
 *                         DataOffset (from the SMB header start)
 *  - MS-CIFS §2.2.4.33.2  response: WordCount 10 + SetupCount, with displacements; an interim
 *                         response (WordCount 0) precedes secondary requests, which we never send
 *  - MS-CIFS §2.2.4.46    TRANSACTION2: same layout, Name is one unused byte
 *  - MS-CIFS §2.2.5       named pipe subcommands in Setup[0], the FID in Setup[1]:
 *                         TRANS_PEEK_NMPIPE 0x23 (MS17-010 check, research Appendix A),
 *                         TRANS_TRANSACT_NMPIPE 0x26 (DCE/RPC over a pipe, research §2.3)
 *
 * Padding rule of our encoders: Pad1 aligns the parameters to 4 bytes from the SMB header only
 * when parameters or data follow, Pad2 aligns the data only when there is data. That reproduces
 * both reference packets: PeekNamedPipe with nothing after the 7-byte OEM name has its offsets at
 * 0x4A (= 32 + 1 + 32 + 2 + 7, research Appendix A), and the 2003 Unicode TransactNmPipe bind has
 * ParameterOffset = DataOffset = 0x54 (research §2.3 step 4).
 *
 * DoublePulsar's TRANS2_SESSION_SETUP probe is deliberately not provided (research Appendix A:
 * never send Trans2 sequences beyond the single PeekNamedPipe).
 */

/** MS-CIFS §2.2.5 transaction subcommands for named pipes (Setup[0]). */
export const SMB1_TRANS_SUBCOMMAND = Object.freeze({
  SET_NMPIPE_STATE: 0x0001,
  RAW_READ_NMPIPE: 0x0011,
  QUERY_NMPIPE_STATE: 0x0021,
  QUERY_NMPIPE_INFO: 0x0022,
  PEEK_NMPIPE: 0x0023,
  TRANSACT_NMPIPE: 0x0026,
  RAW_WRITE_NMPIPE: 0x0031,
  READ_NMPIPE: 0x0036,
  WRITE_NMPIPE: 0x0037,
  WAIT_NMPIPE: 0x0053,
  CALL_NMPIPE: 0x0054,
} as const);

/** MS-CIFS §2.2.6 TRANSACTION2 subcommands (Setup[0]) we may meet; no SESSION_SETUP (0x0E). */
export const SMB1_TRANS2_SUBCOMMAND = Object.freeze({
  OPEN2: 0x0000,
  FIND_FIRST2: 0x0001,
  QUERY_FS_INFORMATION: 0x0003,
  QUERY_PATH_INFORMATION: 0x0005,
  QUERY_FILE_INFORMATION: 0x0007,
  GET_DFS_REFERRAL: 0x0010,
} as const);

/** MS-CIFS §2.2.4.33.1: the name every named-pipe transaction carries. */
export const SMB1_PIPE_TRANSACTION_NAME = "\\PIPE\\";

export interface Smb1TransactionRequest {
  readonly maxParameterCount: number;
  readonly maxDataCount: number;
  readonly maxSetupCount: number;
  readonly flags: number;
  readonly timeout: number;
  readonly setup: readonly number[];
  /** "\PIPE\" for pipe subcommands. */
  readonly name: string;
  readonly parameters: Uint8Array;
  readonly data: Uint8Array;
}

/** The request totals a decoder reports (a single-message request has total = count). */
export interface Smb1TransactionTotals {
  readonly totalParameterCount: number;
  readonly totalDataCount: number;
}

/** TRANSACTION2 requests have no name (MS-CIFS §2.2.4.46.1). */
export type Smb1Transaction2Request = Omit<Smb1TransactionRequest, "name">;

export interface Smb1TransactionResponse {
  /** Larger than parameters.length when the reply is split over several messages. */
  readonly totalParameterCount: number;
  readonly totalDataCount: number;
  readonly parameterDisplacement: number;
  readonly dataDisplacement: number;
  readonly setup: readonly number[];
  readonly parameters: Uint8Array;
  readonly data: Uint8Array;
}

/**
 * MS17-010 probe (research Appendix A step 5): TRANS_PEEK_NMPIPE on `fid` (0 for the check) with
 * name \PIPE\, no parameters or data, MaxParameterCount = MaxDataCount = 0xFFFF.
 */
export function smb1PeekNamedPipeRequest(fid = 0): Smb1TransactionRequest {
  return {
    maxParameterCount: 0xffff,
    maxDataCount: 0xffff,
    maxSetupCount: 0,
    flags: 0,
    timeout: 0,
    setup: [SMB1_TRANS_SUBCOMMAND.PEEK_NMPIPE, fid],
    name: SMB1_PIPE_TRANSACTION_NAME,
    parameters: new Uint8Array(0),
    data: new Uint8Array(0),
  };
}

/**
 * TransactNmPipe (MS-CIFS §2.2.5.6): write `data` (a DCE/RPC PDU) to the pipe `fid` and read the
 * answer in one exchange, at most `maxDataCount` bytes of it (the rest with READ_ANDX).
 */
export function smb1TransactNamedPipeRequest(
  fid: number,
  data: Uint8Array,
  maxDataCount: number,
): Smb1TransactionRequest {
  return {
    maxParameterCount: 0,
    maxDataCount,
    maxSetupCount: 0,
    flags: 0,
    timeout: 0,
    setup: [SMB1_TRANS_SUBCOMMAND.TRANSACT_NMPIPE, fid],
    name: SMB1_PIPE_TRANSACTION_NAME,
    parameters: new Uint8Array(0),
    data,
  };
}

export function encodeSmb1TransactionRequest(
  request: Smb1TransactionRequest,
  header: Smb1HeaderInit = {},
): Uint8Array {
  return encodeRequest(smb1Header(SMB1_COMMAND.TRANSACTION, header), request, request.name);
}

export function encodeSmb1Transaction2Request(
  request: Smb1Transaction2Request,
  header: Smb1HeaderInit = {},
): Uint8Array {
  return encodeRequest(smb1Header(SMB1_COMMAND.TRANSACTION2, header), request, null);
}

export function decodeSmb1TransactionRequest(
  message: Uint8Array,
): Smb1Decoded<Smb1TransactionRequest & Smb1TransactionTotals> | DecodeIssue {
  return decodeRequest(message, SMB1_COMMAND.TRANSACTION);
}

export function decodeSmb1Transaction2Request(
  message: Uint8Array,
): Smb1Decoded<Smb1Transaction2Request & Smb1TransactionTotals> | DecodeIssue {
  const decoded = decodeRequest(message, SMB1_COMMAND.TRANSACTION2);
  if (isDecodeIssue(decoded)) return decoded;
  const { name: _name, ...rest } = decoded;
  return rest;
}

export function encodeSmb1TransactionResponse(
  response: Smb1TransactionResponse,
  header: Smb1HeaderInit = {},
): Uint8Array {
  return encodeResponse(smb1ResponseHeader(SMB1_COMMAND.TRANSACTION, header), response);
}

export function encodeSmb1Transaction2Response(
  response: Smb1TransactionResponse,
  header: Smb1HeaderInit = {},
): Uint8Array {
  return encodeResponse(smb1ResponseHeader(SMB1_COMMAND.TRANSACTION2, header), response);
}

/**
 * Decode a final TRANSACTION response. The parameters and data are cut by their offsets and
 * counts, which must lie inside the message. An interim response or an error (WordCount 0) is an
 * issue here: read header.status first (MS17-010 needs only the status). Never throws.
 */
export function decodeSmb1TransactionResponse(
  message: Uint8Array,
): Smb1Decoded<Smb1TransactionResponse> | DecodeIssue {
  return decodeResponse(message, SMB1_COMMAND.TRANSACTION);
}

export function decodeSmb1Transaction2Response(
  message: Uint8Array,
): Smb1Decoded<Smb1TransactionResponse> | DecodeIssue {
  return decodeResponse(message, SMB1_COMMAND.TRANSACTION2);
}

function writeSetup(w: ByteWriter, setup: readonly number[]): void {
  w.u8(setup.length, "SetupCount");
  w.u8(0, "Reserved");
  for (const word of setup) w.u16(word, "Setup");
}

/** ParameterOffset and DataOffset, written as 0 and filled in by `writeParametersAndData`. */
interface SectionOffsets {
  readonly parameterOffset: (offset: number) => void;
  readonly dataOffset: (offset: number) => void;
}

const NO_OFFSETS: SectionOffsets = {
  parameterOffset: () => undefined,
  dataOffset: () => undefined,
};

/** Pad1 + parameters + Pad2 + data by the rule above, filling in the two offsets. */
function writeParametersAndData(
  w: ByteWriter,
  offsets: SectionOffsets,
  parameters: Uint8Array,
  data: Uint8Array,
): void {
  if (parameters.length > 0 || data.length > 0) w.align(4);
  const parameterOffset = w.offset;
  w.bytes(parameters);
  if (data.length > 0) w.align(4);
  const dataOffset = w.offset;
  w.bytes(data);
  offsets.parameterOffset(parameterOffset);
  offsets.dataOffset(dataOffset);
}

function encodeRequest(
  h: Smb1Header,
  request: Smb1Transaction2Request,
  name: string | null,
): Uint8Array {
  if (request.setup.length > 0xff) throw new RangeError("at most 255 setup words");
  let offsets = NO_OFFSETS;
  return writeSmb1Message(
    h,
    (w) => {
      w.u16(request.parameters.length, "TotalParameterCount");
      w.u16(request.data.length, "TotalDataCount");
      w.u16(request.maxParameterCount, "MaxParameterCount");
      w.u16(request.maxDataCount, "MaxDataCount");
      w.u8(request.maxSetupCount, "MaxSetupCount");
      w.u8(0, "Reserved1");
      w.u16(request.flags, "Flags");
      w.u32(request.timeout, "Timeout");
      w.u16(0, "Reserved2");
      w.u16(request.parameters.length, "ParameterCount");
      const parameterOffset = reserveOffset(w, "ParameterOffset");
      w.u16(request.data.length, "DataCount");
      offsets = { parameterOffset, dataOffset: reserveOffset(w, "DataOffset") };
      writeSetup(w, request.setup);
    },
    (w) => {
      if (name === null) w.u8(0, "Name");
      else writeSmbString(w, name, isUnicode(h), "Name");
      writeParametersAndData(w, offsets, request.parameters, request.data);
    },
  );
}

function encodeResponse(h: Smb1Header, response: Smb1TransactionResponse): Uint8Array {
  if (response.setup.length > 0xff) throw new RangeError("at most 255 setup words");
  let offsets = NO_OFFSETS;
  return writeSmb1Message(
    h,
    (w) => {
      w.u16(response.totalParameterCount, "TotalParameterCount");
      w.u16(response.totalDataCount, "TotalDataCount");
      w.u16(0, "Reserved1");
      w.u16(response.parameters.length, "ParameterCount");
      const parameterOffset = reserveOffset(w, "ParameterOffset");
      w.u16(response.parameterDisplacement, "ParameterDisplacement");
      w.u16(response.data.length, "DataCount");
      offsets = { parameterOffset, dataOffset: reserveOffset(w, "DataOffset") };
      w.u16(response.dataDisplacement, "DataDisplacement");
      writeSetup(w, response.setup);
    },
    (w) => {
      writeParametersAndData(w, offsets, response.parameters, response.data);
    },
  );
}

/** SetupCount must account for exactly the words past the fixed ones. */
function checkSetupCount(
  block: Smb1Block,
  fixedWords: number,
  setupCount: number,
  what: string,
): DecodeIssue | null {
  if (block.wordCount === fixedWords + setupCount) return null;
  return decodeIssue(
    what,
    block.offset,
    block.wordCount < fixedWords
      ? `WordCount ${block.wordCount} is below the ${fixedWords} fixed words` +
          (block.wordCount === 0 ? " (interim or error response: check header.status)" : "")
      : `WordCount ${block.wordCount} does not match ${fixedWords} + SetupCount ${setupCount}`,
  );
}

function decodeRequest(
  message: Uint8Array,
  command: number,
): Smb1Decoded<Smb1TransactionRequest & Smb1TransactionTotals> | DecodeIssue {
  const found = findSmb1Block(message, command, "request");
  if (isDecodeIssue(found)) return found;
  const { header, block } = found;
  const r = wordsReader(message, block);
  const totalParameterCount = r.u16("TotalParameterCount");
  const totalDataCount = r.u16("TotalDataCount");
  const maxParameterCount = r.u16("MaxParameterCount");
  const maxDataCount = r.u16("MaxDataCount");
  const maxSetupCount = r.u8("MaxSetupCount");
  r.skip(1, "Reserved1");
  const flags = r.u16("Flags");
  const timeout = r.u32("Timeout");
  r.skip(2, "Reserved2");
  const parameterCount = r.u16("ParameterCount");
  const parameterOffset = r.u16("ParameterOffset");
  const dataCount = r.u16("DataCount");
  const dataOffset = r.u16("DataOffset");
  const setupCount = r.u8("SetupCount");
  r.skip(1, "Reserved3");
  const rest = readSetupAndSections(message, block, r, 14, "transaction-request", {
    setupCount,
    parameterOffset,
    parameterCount,
    dataOffset,
    dataCount,
  });
  if (isDecodeIssue(rest)) return rest;
  const { setup, ...sections } = rest;
  const end = block.bytesOffset + block.byteCount;
  const name =
    command === SMB1_COMMAND.TRANSACTION
      ? readSmbString(message, block.bytesOffset, end, isUnicode(header)).text
      : "";
  return r.result({
    header,
    totalParameterCount,
    totalDataCount,
    maxParameterCount,
    maxDataCount,
    maxSetupCount,
    flags,
    timeout,
    setup,
    name,
    ...sections,
  });
}

function decodeResponse(
  message: Uint8Array,
  command: number,
): Smb1Decoded<Smb1TransactionResponse> | DecodeIssue {
  const found = findSmb1Block(message, command, "response");
  if (isDecodeIssue(found)) return found;
  const { header, block } = found;
  const r = wordsReader(message, block);
  const totalParameterCount = r.u16("TotalParameterCount");
  const totalDataCount = r.u16("TotalDataCount");
  r.skip(2, "Reserved1");
  const parameterCount = r.u16("ParameterCount");
  const parameterOffset = r.u16("ParameterOffset");
  const parameterDisplacement = r.u16("ParameterDisplacement");
  const dataCount = r.u16("DataCount");
  const dataOffset = r.u16("DataOffset");
  const dataDisplacement = r.u16("DataDisplacement");
  const setupCount = r.u8("SetupCount");
  r.skip(1, "Reserved2");
  const rest = readSetupAndSections(message, block, r, 10, "transaction-response", {
    setupCount,
    parameterOffset,
    parameterCount,
    dataOffset,
    dataCount,
  });
  if (isDecodeIssue(rest)) return rest;
  const { setup, ...sections } = rest;
  return r.result({
    header,
    totalParameterCount,
    totalDataCount,
    parameterDisplacement,
    dataDisplacement,
    setup,
    ...sections,
  });
}

/**
 * The words after the fixed ones: SetupCount must account for them exactly (checked against 0
 * when the fixed words were cut short), then the Setup words, then the two sections.
 */
function readSetupAndSections(
  message: Uint8Array,
  block: Smb1Block,
  r: ByteReader,
  fixedWords: number,
  what: string,
  counts: {
    setupCount: number;
    parameterOffset: number;
    parameterCount: number;
    dataOffset: number;
    dataCount: number;
  },
): { setup: number[]; parameters: Uint8Array; data: Uint8Array } | DecodeIssue {
  if (r.issue !== undefined) return checkSetupCount(block, fixedWords, 0, what) ?? r.issue;
  const bad = checkSetupCount(block, fixedWords, counts.setupCount, what);
  if (bad !== null) return bad;
  const setup: number[] = [];
  for (let i = 0; i < counts.setupCount; i++) setup.push(r.u16("Setup"));
  const sections = cutSections(
    message,
    block,
    counts.parameterOffset,
    counts.parameterCount,
    counts.dataOffset,
    counts.dataCount,
  );
  if (isDecodeIssue(sections)) return sections;
  return { setup, ...sections };
}

/** Parameters and data by offset and count, each inside the message and past the header. */
function cutSections(
  message: Uint8Array,
  block: Smb1Block,
  parameterOffset: number,
  parameterCount: number,
  dataOffset: number,
  dataCount: number,
): { parameters: Uint8Array; data: Uint8Array } | DecodeIssue {
  // Field positions (for issue offsets): ParameterOffset and DataOffset in the words.
  const parameters = bufferAt(
    message,
    parameterOffset,
    parameterCount,
    "parameters",
    block.wordsOffset,
    SMB1_HEADER_LENGTH,
  );
  if (isDecodeIssue(parameters)) return parameters;
  const data = bufferAt(
    message,
    dataOffset,
    dataCount,
    "data",
    block.wordsOffset,
    SMB1_HEADER_LENGTH,
  );
  if (isDecodeIssue(data)) return data;
  return { parameters, data };
}
