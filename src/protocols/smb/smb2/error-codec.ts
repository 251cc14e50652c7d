import { decodeIssue, isDecodeIssue, type DecodeIssue } from "../../netbios/decode-issue.js";
import { ByteReader, bufferAt } from "../byte-reader.js";
import {
  SMB2_HEADER_LENGTH,
  decodeSmb2Header,
  isSmb2Response,
  isSmb2Unsupported,
  smb2ResponseHeader,
  startSmb2Message,
  type Smb2Decoded,
  type Smb2HeaderInit,
} from "./header-codec.js";

/**
 * SMB2 ERROR response (MS-SMB2 §2.2.2): how a server answers any failed command, and the
 * STATUS_PENDING interim response of an async operation (§3.3.4.2, async header).
 * StructureSize 9, ErrorContextCount (3.1.1), Reserved, ByteCount, ErrorData. When ByteCount is
 * 0 the server still sends one byte of ErrorData (§2.2.2). Error contexts (§2.2.2.1) are kept
 * raw in errorData.
 */

export interface Smb2ErrorResponse {
  readonly errorContextCount: number;
  readonly errorData: Uint8Array;
}

const ERROR_SIZE = 9;

/** An ERROR response to `command` with `status` (for the lab's server). */
export function encodeSmb2ErrorResponse(
  command: number,
  status: number,
  response: Smb2ErrorResponse = { errorContextCount: 0, errorData: new Uint8Array(0) },
  header: Smb2HeaderInit = {},
): Uint8Array {
  const w = startSmb2Message(smb2ResponseHeader(command, { ...header, status }), ERROR_SIZE);
  w.u8(response.errorContextCount, "ErrorContextCount");
  w.u8(0, "Reserved");
  w.u32(response.errorData.length, "ByteCount");
  if (response.errorData.length === 0) w.zeros(1);
  else w.bytes(response.errorData);
  return w.finish();
}

/** Decode an ERROR response to any command (header.command says which). Never throws. */
export function decodeSmb2ErrorResponse(
  message: Uint8Array,
): Smb2Decoded<Smb2ErrorResponse> | DecodeIssue {
  const header = decodeSmb2Header(message);
  if (isDecodeIssue(header)) return header;
  if (isSmb2Unsupported(header)) {
    return decodeIssue("smb2-header", 0, `an ${header.form} header: unsupported here`);
  }
  if (!isSmb2Response(header)) return decodeIssue("smb2-header", 16, "a request, not a response");
  const r = new ByteReader(message, SMB2_HEADER_LENGTH);
  const size = r.u16("StructureSize");
  if (r.issue === undefined && size !== ERROR_SIZE) {
    return decodeIssue("structure-size", SMB2_HEADER_LENGTH, `StructureSize ${size}, expected 9`);
  }
  const errorContextCount = r.u8("ErrorContextCount");
  r.skip(1, "Reserved");
  const byteCountField = r.offset;
  const byteCount = r.u32("ByteCount");
  if (r.issue !== undefined) return r.issue;
  const errorData = bufferAt(message, r.offset, byteCount, "error-data", byteCountField);
  if (isDecodeIssue(errorData)) return errorData;
  return { header, errorContextCount, errorData };
}
