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

/**
 * SMB2 SESSION_SETUP and LOGOFF (MS-SMB2).
 *
 *  - §2.2.5  SESSION_SETUP request: StructureSize 25, Flags, SecurityMode, Capabilities, Channel,
 *            SecurityBufferOffset/Length, PreviousSessionId, Buffer (the GSS token: SPNEGO or a
 *            raw NTLMSSP message, opaque here)
 *  - §2.2.6  response: StructureSize 9, SessionFlags, SecurityBufferOffset/Length, Buffer. The
 *            status is STATUS_MORE_PROCESSING_REQUIRED while the exchange continues (the NTLMSSP
 *            CHALLENGE of research Appendix D comes in that reply); header.sessionId is the
 *            session id to use from then on
 *  - §2.2.7 / §2.2.8  LOGOFF request/response: StructureSize 4, Reserved
 */

/** §2.2.5 Flags. */
export const SMB2_SESSION_SETUP_FLAGS = Object.freeze({ BINDING: 0x01 } as const);

/** §2.2.6 SessionFlags. */
export const SMB2_SESSION_FLAGS = Object.freeze({
  IS_GUEST: 0x0001,
  IS_NULL: 0x0002,
  ENCRYPT_DATA: 0x0004,
} as const);

export interface Smb2SessionSetupRequest {
  readonly flags: number;
  readonly securityMode: number;
  readonly capabilities: number;
  readonly channel: number;
  readonly previousSessionId: bigint;
  readonly securityBuffer: Uint8Array;
}

export interface Smb2SessionSetupResponse {
  readonly sessionFlags: number;
  readonly securityBuffer: Uint8Array;
}

const REQUEST_SIZE = 25;
const RESPONSE_SIZE = 9;
const EMPTY_SIZE = 4;

export function encodeSmb2SessionSetupRequest(
  request: Smb2SessionSetupRequest,
  header: Smb2HeaderInit = {},
): Uint8Array {
  const w = startSmb2Message(smb2Header(SMB2_COMMAND.SESSION_SETUP, header), REQUEST_SIZE);
  w.u8(request.flags, "Flags");
  w.u8(request.securityMode, "SecurityMode");
  w.u32(request.capabilities, "Capabilities");
  w.u32(request.channel, "Channel");
  w.u16(SMB2_HEADER_LENGTH + REQUEST_SIZE - 1, "SecurityBufferOffset");
  w.u16(request.securityBuffer.length, "SecurityBufferLength");
  w.u64(request.previousSessionId, "PreviousSessionId");
  w.bytes(request.securityBuffer);
  return w.finish();
}

/** For the lab's server. Never throws. */
export function decodeSmb2SessionSetupRequest(
  message: Uint8Array,
): Smb2Decoded<Smb2SessionSetupRequest> | DecodeIssue {
  const body = openSmb2Body(message, SMB2_COMMAND.SESSION_SETUP, "request", REQUEST_SIZE);
  if (isDecodeIssue(body)) return body;
  const { header, reader: r } = body;
  const flags = r.u8("Flags");
  const securityMode = r.u8("SecurityMode");
  const capabilities = r.u32("Capabilities");
  const channel = r.u32("Channel");
  const offsetField = r.offset;
  const offset = r.u16("SecurityBufferOffset");
  const length = r.u16("SecurityBufferLength");
  const previousSessionId = r.u64("PreviousSessionId");
  if (r.issue !== undefined) return r.issue;
  const securityBuffer = bufferAt(
    message,
    offset,
    length,
    "security-buffer",
    offsetField,
    SMB2_HEADER_LENGTH,
  );
  if (isDecodeIssue(securityBuffer)) return securityBuffer;
  return { header, flags, securityMode, capabilities, channel, previousSessionId, securityBuffer };
}

export function encodeSmb2SessionSetupResponse(
  response: Smb2SessionSetupResponse,
  header: Smb2HeaderInit = {},
): Uint8Array {
  const w = startSmb2Message(smb2ResponseHeader(SMB2_COMMAND.SESSION_SETUP, header), RESPONSE_SIZE);
  w.u16(response.sessionFlags, "SessionFlags");
  w.u16(SMB2_HEADER_LENGTH + RESPONSE_SIZE - 1, "SecurityBufferOffset");
  w.u16(response.securityBuffer.length, "SecurityBufferLength");
  w.bytes(response.securityBuffer);
  return w.finish();
}

/**
 * Decode a SESSION_SETUP response with status SUCCESS or MORE_PROCESSING_REQUIRED (any other
 * error status means an ERROR body: an issue here, see decodeSmb2ErrorResponse). Never throws.
 */
export function decodeSmb2SessionSetupResponse(
  message: Uint8Array,
): Smb2Decoded<Smb2SessionSetupResponse> | DecodeIssue {
  const body = openSmb2Body(message, SMB2_COMMAND.SESSION_SETUP, "response", RESPONSE_SIZE);
  if (isDecodeIssue(body)) return body;
  const { header, reader: r } = body;
  const sessionFlags = r.u16("SessionFlags");
  const offsetField = r.offset;
  const offset = r.u16("SecurityBufferOffset");
  const length = r.u16("SecurityBufferLength");
  if (r.issue !== undefined) return r.issue;
  const securityBuffer = bufferAt(
    message,
    offset,
    length,
    "security-buffer",
    offsetField,
    SMB2_HEADER_LENGTH,
  );
  if (isDecodeIssue(securityBuffer)) return securityBuffer;
  return { header, sessionFlags, securityBuffer };
}

/** A StructureSize-4 body (LOGOFF, TREE_DISCONNECT, ECHO and their responses). */
export function encodeEmptySmb2Body(
  command: number,
  direction: "request" | "response",
  header: Smb2HeaderInit,
): Uint8Array {
  const h =
    direction === "request" ? smb2Header(command, header) : smb2ResponseHeader(command, header);
  return startSmb2Message(h, EMPTY_SIZE).u16(0, "Reserved").finish();
}

export function decodeEmptySmb2Body(
  message: Uint8Array,
  command: number,
  direction: "request" | "response",
): Smb2Decoded<Record<never, never>> | DecodeIssue {
  const body = openSmb2Body(message, command, direction, EMPTY_SIZE);
  if (isDecodeIssue(body)) return body;
  body.reader.skip(2, "Reserved");
  return body.reader.result({ header: body.header });
}

/** §2.2.7. */
export function encodeSmb2LogoffRequest(header: Smb2HeaderInit = {}): Uint8Array {
  return encodeEmptySmb2Body(SMB2_COMMAND.LOGOFF, "request", header);
}

export function decodeSmb2LogoffRequest(
  message: Uint8Array,
): Smb2Decoded<Record<never, never>> | DecodeIssue {
  return decodeEmptySmb2Body(message, SMB2_COMMAND.LOGOFF, "request");
}

/** §2.2.8. */
export function encodeSmb2LogoffResponse(header: Smb2HeaderInit = {}): Uint8Array {
  return encodeEmptySmb2Body(SMB2_COMMAND.LOGOFF, "response", header);
}

export function decodeSmb2LogoffResponse(
  message: Uint8Array,
): Smb2Decoded<Record<never, never>> | DecodeIssue {
  return decodeEmptySmb2Body(message, SMB2_COMMAND.LOGOFF, "response");
}
