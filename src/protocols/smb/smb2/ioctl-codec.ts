import { isDecodeIssue, type DecodeIssue } from "../../netbios/decode-issue.js";
import { bufferAt } from "../byte-reader.js";
import type { ByteWriter } from "../byte-writer.js";
import {
  SMB2_COMMAND,
  SMB2_HEADER_LENGTH,
  openSmb2Body,
  smb2Header,
  smb2ResponseHeader,
  startSmb2Message,
  type Smb2Decoded,
  type Smb2HeaderInit,
} from "./header-codec.js";
import { readFileId, writeFileId, type Smb2FileId } from "./create-codec.js";

/**
 * SMB2 IOCTL (MS-SMB2), for FSCTL_PIPE_TRANSCEIVE: one DCE/RPC request PDU in, the response PDU
 * out, on an open pipe (the SMB2 counterpart of SMB1 TransactNmPipe).
 *
 *  - §2.2.31  request: StructureSize 57, Reserved, CtlCode, FileId, InputOffset/Count,
 *             MaxInputResponse, OutputOffset/Count, MaxOutputResponse, Flags
 *             (SMB2_0_IOCTL_IS_FSCTL), Reserved2, Buffer (input at 120)
 *  - §2.2.32  response: StructureSize 49, ..., Buffer (input echo, then output, 8-aligned)
 *  - §3.3.5.15.3 / MS-FSCC §2.3.49 FSCTL_PIPE_TRANSCEIVE 0x0011C017: a reply longer than
 *             MaxOutputResponse comes with STATUS_BUFFER_OVERFLOW and the rest is read with READ
 */

/** MS-FSCC §2.3 control codes we use or meet. */
export const FSCTL = Object.freeze({
  DFS_GET_REFERRALS: 0x00060194,
  PIPE_PEEK: 0x0011400c,
  PIPE_WAIT: 0x00110018,
  PIPE_TRANSCEIVE: 0x0011c017,
  VALIDATE_NEGOTIATE_INFO: 0x00140204,
} as const);

/** §2.2.31 Flags. */
export const SMB2_IOCTL_FLAGS = Object.freeze({ IS_FSCTL: 0x00000001 } as const);

export interface Smb2IoctlRequest {
  readonly ctlCode: number;
  readonly fileId: Smb2FileId;
  readonly input: Uint8Array;
  readonly maxInputResponse: number;
  /** Rarely used in requests; empty for FSCTL_PIPE_TRANSCEIVE. */
  readonly output: Uint8Array;
  readonly maxOutputResponse: number;
  readonly flags: number;
}

export interface Smb2IoctlResponse {
  readonly ctlCode: number;
  readonly fileId: Smb2FileId;
  readonly input: Uint8Array;
  readonly output: Uint8Array;
  readonly flags: number;
}

const REQUEST_SIZE = 57;
const RESPONSE_SIZE = 49;

/** FSCTL_PIPE_TRANSCEIVE on `fileId` with one PDU, accepting up to `maxOutputResponse` bytes back. */
export function smb2PipeTransceiveRequest(
  fileId: Smb2FileId,
  data: Uint8Array,
  maxOutputResponse: number,
): Smb2IoctlRequest {
  return {
    ctlCode: FSCTL.PIPE_TRANSCEIVE,
    fileId,
    input: data,
    maxInputResponse: 0,
    output: new Uint8Array(0),
    maxOutputResponse,
    flags: SMB2_IOCTL_FLAGS.IS_FSCTL,
  };
}

/** Input then output, each 8-aligned; offsets point where they are even when empty (as Windows). */
function writeInOut(
  w: ByteWriter,
  input: Uint8Array,
  output: Uint8Array,
  inputOffsetAt: number,
  outputOffsetAt: number,
): void {
  w.patchU32(inputOffsetAt, w.offset, "InputOffset");
  w.bytes(input);
  if (output.length > 0) w.align(8);
  w.patchU32(outputOffsetAt, w.offset, "OutputOffset");
  w.bytes(output);
}

export function encodeSmb2IoctlRequest(
  request: Smb2IoctlRequest,
  header: Smb2HeaderInit = {},
): Uint8Array {
  const w = startSmb2Message(smb2Header(SMB2_COMMAND.IOCTL, header), REQUEST_SIZE);
  w.u16(0, "Reserved");
  w.u32(request.ctlCode, "CtlCode");
  writeFileId(w, request.fileId);
  const inputOffsetAt = w.offset;
  w.u32(0, "InputOffset");
  w.u32(request.input.length, "InputCount");
  w.u32(request.maxInputResponse, "MaxInputResponse");
  const outputOffsetAt = w.offset;
  w.u32(0, "OutputOffset");
  w.u32(request.output.length, "OutputCount");
  w.u32(request.maxOutputResponse, "MaxOutputResponse");
  w.u32(request.flags, "Flags");
  w.u32(0, "Reserved2");
  writeInOut(w, request.input, request.output, inputOffsetAt, outputOffsetAt);
  return w.finish();
}

/** For the lab's server. Never throws. */
export function decodeSmb2IoctlRequest(
  message: Uint8Array,
): Smb2Decoded<Smb2IoctlRequest> | DecodeIssue {
  const body = openSmb2Body(message, SMB2_COMMAND.IOCTL, "request", REQUEST_SIZE);
  if (isDecodeIssue(body)) return body;
  const { header, reader: r } = body;
  r.skip(2, "Reserved");
  const ctlCode = r.u32("CtlCode");
  const fileId = readFileId(r);
  const inputField = r.offset;
  const inputOffset = r.u32("InputOffset");
  const inputCount = r.u32("InputCount");
  const maxInputResponse = r.u32("MaxInputResponse");
  const outputField = r.offset;
  const outputOffset = r.u32("OutputOffset");
  const outputCount = r.u32("OutputCount");
  const maxOutputResponse = r.u32("MaxOutputResponse");
  const flags = r.u32("Flags");
  r.skip(4, "Reserved2");
  if (r.issue !== undefined) return r.issue;
  const buffers = readInOut(message, {
    inputField,
    inputOffset,
    inputCount,
    outputField,
    outputOffset,
    outputCount,
  });
  if (isDecodeIssue(buffers)) return buffers;
  const { input, output } = buffers;
  return { header, ctlCode, fileId, input, maxInputResponse, output, maxOutputResponse, flags };
}

export function encodeSmb2IoctlResponse(
  response: Smb2IoctlResponse,
  header: Smb2HeaderInit = {},
): Uint8Array {
  const w = startSmb2Message(smb2ResponseHeader(SMB2_COMMAND.IOCTL, header), RESPONSE_SIZE);
  w.u16(0, "Reserved");
  w.u32(response.ctlCode, "CtlCode");
  writeFileId(w, response.fileId);
  const inputOffsetAt = w.offset;
  w.u32(0, "InputOffset");
  w.u32(response.input.length, "InputCount");
  const outputOffsetAt = w.offset;
  w.u32(0, "OutputOffset");
  w.u32(response.output.length, "OutputCount");
  w.u32(response.flags, "Flags");
  w.u32(0, "Reserved2");
  writeInOut(w, response.input, response.output, inputOffsetAt, outputOffsetAt);
  return w.finish();
}

/**
 * Decode an IOCTL response, also when its status is STATUS_BUFFER_OVERFLOW (output truncated to
 * MaxOutputResponse: read the rest with READ). Never throws.
 */
export function decodeSmb2IoctlResponse(
  message: Uint8Array,
): Smb2Decoded<Smb2IoctlResponse> | DecodeIssue {
  const body = openSmb2Body(message, SMB2_COMMAND.IOCTL, "response", RESPONSE_SIZE);
  if (isDecodeIssue(body)) return body;
  const { header, reader: r } = body;
  r.skip(2, "Reserved");
  const ctlCode = r.u32("CtlCode");
  const fileId = readFileId(r);
  const inputField = r.offset;
  const inputOffset = r.u32("InputOffset");
  const inputCount = r.u32("InputCount");
  const outputField = r.offset;
  const outputOffset = r.u32("OutputOffset");
  const outputCount = r.u32("OutputCount");
  const flags = r.u32("Flags");
  r.skip(4, "Reserved2");
  if (r.issue !== undefined) return r.issue;
  const buffers = readInOut(message, {
    inputField,
    inputOffset,
    inputCount,
    outputField,
    outputOffset,
    outputCount,
  });
  if (isDecodeIssue(buffers)) return buffers;
  const { input, output } = buffers;
  return { header, ctlCode, fileId, input, output, flags };
}

/** The input and output buffers both IOCTL messages locate by offset and count (§2.2.31-32). */
function readInOut(
  message: Uint8Array,
  at: {
    readonly inputField: number;
    readonly inputOffset: number;
    readonly inputCount: number;
    readonly outputField: number;
    readonly outputOffset: number;
    readonly outputCount: number;
  },
): { input: Uint8Array; output: Uint8Array } | DecodeIssue {
  const input = bufferAt(
    message,
    at.inputOffset,
    at.inputCount,
    "input",
    at.inputField,
    SMB2_HEADER_LENGTH,
  );
  if (isDecodeIssue(input)) return input;
  const output = bufferAt(
    message,
    at.outputOffset,
    at.outputCount,
    "output",
    at.outputField,
    SMB2_HEADER_LENGTH,
  );
  if (isDecodeIssue(output)) return output;
  return { input, output };
}
