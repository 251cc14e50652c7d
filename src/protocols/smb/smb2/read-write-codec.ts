import { isDecodeIssue, type DecodeIssue } from "../../netbios/decode-issue.js";
import { bufferAt } from "../byte-reader.js";
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
 * SMB2 READ and WRITE (MS-SMB2), for pipes: WRITE a DCE/RPC PDU, READ the answer (or the rest of
 * a transceive that came back with STATUS_BUFFER_OVERFLOW).
 *
 *  - §2.2.19  READ request: StructureSize 49, Padding, Flags, Length, Offset, FileId,
 *             MinimumCount, Channel, RemainingBytes, ReadChannelInfoOffset/Length, Buffer (one
 *             byte even when empty)
 *  - §2.2.20  READ response: StructureSize 17, DataOffset (1 byte), Reserved, DataLength,
 *             DataRemaining, Flags/Reserved2, data at 80
 *  - §2.2.21  WRITE request: StructureSize 49, DataOffset, Length, Offset, FileId, Channel,
 *             RemainingBytes, WriteChannelInfoOffset/Length, Flags, data at 112
 *  - §2.2.22  WRITE response: StructureSize 17, Reserved, Count, Remaining, channel info
 *
 * RDMA channel info is not supported (always empty; ignored when decoding).
 */

export interface Smb2ReadRequest {
  /** Where the server should put the data in its response; Windows asks 0x50. */
  readonly padding: number;
  readonly flags: number;
  readonly length: number;
  readonly offset: bigint;
  readonly fileId: Smb2FileId;
  readonly minimumCount: number;
  readonly channel: number;
  readonly remainingBytes: number;
}

export interface Smb2ReadResponse {
  readonly dataRemaining: number;
  /** Flags in 3.1.1 (SMB2_READFLAG_RESPONSE_RDMA_TRANSFORM), Reserved2 before. */
  readonly flags: number;
  readonly data: Uint8Array;
}

export interface Smb2WriteRequest {
  readonly offset: bigint;
  readonly fileId: Smb2FileId;
  readonly channel: number;
  readonly remainingBytes: number;
  readonly flags: number;
  readonly data: Uint8Array;
}

export interface Smb2WriteResponse {
  readonly count: number;
  readonly remaining: number;
}

const READ_REQUEST_SIZE = 49;
const READ_RESPONSE_SIZE = 17;
const WRITE_REQUEST_SIZE = 49;
const WRITE_RESPONSE_SIZE = 17;

export function encodeSmb2ReadRequest(
  request: Smb2ReadRequest,
  header: Smb2HeaderInit = {},
): Uint8Array {
  const w = startSmb2Message(smb2Header(SMB2_COMMAND.READ, header), READ_REQUEST_SIZE);
  w.u8(request.padding, "Padding");
  w.u8(request.flags, "Flags");
  w.u32(request.length, "Length");
  w.u64(request.offset, "Offset");
  writeFileId(w, request.fileId);
  w.u32(request.minimumCount, "MinimumCount");
  w.u32(request.channel, "Channel");
  w.u32(request.remainingBytes, "RemainingBytes");
  w.u16(0, "ReadChannelInfoOffset");
  w.u16(0, "ReadChannelInfoLength");
  w.zeros(1); // §2.2.19: the Buffer is at least one byte
  return w.finish();
}

/** For the lab's server. Never throws. */
export function decodeSmb2ReadRequest(
  message: Uint8Array,
): Smb2Decoded<Smb2ReadRequest> | DecodeIssue {
  const body = openSmb2Body(message, SMB2_COMMAND.READ, "request", READ_REQUEST_SIZE);
  if (isDecodeIssue(body)) return body;
  const { header, reader: r } = body;
  const value = {
    header,
    padding: r.u8("Padding"),
    flags: r.u8("Flags"),
    length: r.u32("Length"),
    offset: r.u64("Offset"),
    fileId: readFileId(r),
    minimumCount: r.u32("MinimumCount"),
    channel: r.u32("Channel"),
    remainingBytes: r.u32("RemainingBytes"),
  };
  r.skip(4, "ReadChannelInfo");
  return r.result(value);
}

export function encodeSmb2ReadResponse(
  response: Smb2ReadResponse,
  header: Smb2HeaderInit = {},
): Uint8Array {
  const w = startSmb2Message(smb2ResponseHeader(SMB2_COMMAND.READ, header), READ_RESPONSE_SIZE);
  w.u8(SMB2_HEADER_LENGTH + READ_RESPONSE_SIZE - 1, "DataOffset");
  w.u8(0, "Reserved");
  w.u32(response.data.length, "DataLength");
  w.u32(response.dataRemaining, "DataRemaining");
  w.u32(response.flags, "Flags");
  w.bytes(response.data);
  return w.finish();
}

/** Also decodes the STATUS_BUFFER_OVERFLOW form (partial pipe message). Never throws. */
export function decodeSmb2ReadResponse(
  message: Uint8Array,
): Smb2Decoded<Smb2ReadResponse> | DecodeIssue {
  const body = openSmb2Body(message, SMB2_COMMAND.READ, "response", READ_RESPONSE_SIZE);
  if (isDecodeIssue(body)) return body;
  const { header, reader: r } = body;
  const offsetField = r.offset;
  const dataOffset = r.u8("DataOffset");
  r.skip(1, "Reserved");
  const dataLength = r.u32("DataLength");
  const dataRemaining = r.u32("DataRemaining");
  const flags = r.u32("Flags");
  if (r.issue !== undefined) return r.issue;
  const data = bufferAt(message, dataOffset, dataLength, "data", offsetField, SMB2_HEADER_LENGTH);
  if (isDecodeIssue(data)) return data;
  return { header, dataRemaining, flags, data };
}

export function encodeSmb2WriteRequest(
  request: Smb2WriteRequest,
  header: Smb2HeaderInit = {},
): Uint8Array {
  const w = startSmb2Message(smb2Header(SMB2_COMMAND.WRITE, header), WRITE_REQUEST_SIZE);
  w.u16(SMB2_HEADER_LENGTH + WRITE_REQUEST_SIZE - 1, "DataOffset");
  w.u32(request.data.length, "Length");
  w.u64(request.offset, "Offset");
  writeFileId(w, request.fileId);
  w.u32(request.channel, "Channel");
  w.u32(request.remainingBytes, "RemainingBytes");
  w.u16(0, "WriteChannelInfoOffset");
  w.u16(0, "WriteChannelInfoLength");
  w.u32(request.flags, "Flags");
  w.bytes(request.data);
  return w.finish();
}

/** For the lab's server. Never throws. */
export function decodeSmb2WriteRequest(
  message: Uint8Array,
): Smb2Decoded<Smb2WriteRequest> | DecodeIssue {
  const body = openSmb2Body(message, SMB2_COMMAND.WRITE, "request", WRITE_REQUEST_SIZE);
  if (isDecodeIssue(body)) return body;
  const { header, reader: r } = body;
  const offsetField = r.offset;
  const dataOffset = r.u16("DataOffset");
  const length = r.u32("Length");
  const offset = r.u64("Offset");
  const fileId = readFileId(r);
  const channel = r.u32("Channel");
  const remainingBytes = r.u32("RemainingBytes");
  r.skip(4, "WriteChannelInfo");
  const flags = r.u32("Flags");
  if (r.issue !== undefined) return r.issue;
  const data = bufferAt(message, dataOffset, length, "data", offsetField, SMB2_HEADER_LENGTH);
  if (isDecodeIssue(data)) return data;
  return { header, offset, fileId, channel, remainingBytes, flags, data };
}

export function encodeSmb2WriteResponse(
  response: Smb2WriteResponse,
  header: Smb2HeaderInit = {},
): Uint8Array {
  const w = startSmb2Message(smb2ResponseHeader(SMB2_COMMAND.WRITE, header), WRITE_RESPONSE_SIZE);
  w.u16(0, "Reserved");
  w.u32(response.count, "Count");
  w.u32(response.remaining, "Remaining");
  w.u16(0, "WriteChannelInfoOffset");
  w.u16(0, "WriteChannelInfoLength");
  return w.finish();
}

export function decodeSmb2WriteResponse(
  message: Uint8Array,
): Smb2Decoded<Smb2WriteResponse> | DecodeIssue {
  const body = openSmb2Body(message, SMB2_COMMAND.WRITE, "response", WRITE_RESPONSE_SIZE);
  if (isDecodeIssue(body)) return body;
  const { header, reader: r } = body;
  r.skip(2, "Reserved");
  const count = r.u32("Count");
  const remaining = r.u32("Remaining");
  return r.result({ header, count, remaining });
}
