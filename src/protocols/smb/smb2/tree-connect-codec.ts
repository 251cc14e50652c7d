import { isDecodeIssue, type DecodeIssue } from "../../netbios/decode-issue.js";
import { bufferAt } from "../byte-reader.js";
import { decodeUtf16le, encodeUtf16le } from "../strings.js";
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
import { decodeEmptySmb2Body, encodeEmptySmb2Body } from "./session-setup-codec.js";

/**
 * SMB2 TREE_CONNECT and TREE_DISCONNECT (MS-SMB2).
 *
 *  - §2.2.9   request: StructureSize 9, Flags (Reserved before 3.1.1), PathOffset, PathLength,
 *             Buffer = the UNC path in UTF-16LE, no terminator (\\server\IPC$). The 3.1.1
 *             TREE_CONNECT_REQUEST_EXTENSION (flag 0x0004) is not supported: the path is read
 *             as given by PathOffset/PathLength
 *  - §2.2.10  response: StructureSize 16, ShareType, Reserved, ShareFlags, Capabilities,
 *             MaximalAccess; header.treeId is the tree id to use from then on
 *  - §2.2.11 / §2.2.12  TREE_DISCONNECT request/response: StructureSize 4
 */

/** §2.2.10 ShareType. */
export const SMB2_SHARE_TYPE = Object.freeze({ DISK: 0x01, PIPE: 0x02, PRINT: 0x03 } as const);

/** §2.2.10 Capabilities (of the share). */
export const SMB2_SHARE_CAPABILITIES = Object.freeze({
  DFS: 0x00000008,
  CONTINUOUS_AVAILABILITY: 0x00000010,
  SCALEOUT: 0x00000020,
  CLUSTER: 0x00000040,
  ASYMMETRIC: 0x00000080,
  REDIRECT_TO_OWNER: 0x00000100,
} as const);

export interface Smb2TreeConnectRequest {
  readonly flags: number;
  /** UNC path, e.g. \\127.0.0.2\IPC$. */
  readonly path: string;
}

export interface Smb2TreeConnectResponse {
  readonly shareType: number;
  readonly shareFlags: number;
  readonly capabilities: number;
  readonly maximalAccess: number;
}

const REQUEST_SIZE = 9;
const RESPONSE_SIZE = 16;

export function encodeSmb2TreeConnectRequest(
  request: Smb2TreeConnectRequest,
  header: Smb2HeaderInit = {},
): Uint8Array {
  const path = encodeUtf16le(request.path);
  const w = startSmb2Message(smb2Header(SMB2_COMMAND.TREE_CONNECT, header), REQUEST_SIZE);
  w.u16(request.flags, "Flags");
  w.u16(SMB2_HEADER_LENGTH + REQUEST_SIZE - 1, "PathOffset");
  w.u16(path.length, "PathLength");
  w.bytes(path);
  return w.finish();
}

/** For the lab's server. Never throws. */
export function decodeSmb2TreeConnectRequest(
  message: Uint8Array,
): Smb2Decoded<Smb2TreeConnectRequest> | DecodeIssue {
  const body = openSmb2Body(message, SMB2_COMMAND.TREE_CONNECT, "request", REQUEST_SIZE);
  if (isDecodeIssue(body)) return body;
  const { header, reader: r } = body;
  const flags = r.u16("Flags");
  const offsetField = r.offset;
  const offset = r.u16("PathOffset");
  const length = r.u16("PathLength");
  if (r.issue !== undefined) return r.issue;
  const path = bufferAt(message, offset, length, "path", offsetField, SMB2_HEADER_LENGTH);
  if (isDecodeIssue(path)) return path;
  return { header, flags, path: decodeUtf16le(path) };
}

export function encodeSmb2TreeConnectResponse(
  response: Smb2TreeConnectResponse,
  header: Smb2HeaderInit = {},
): Uint8Array {
  const w = startSmb2Message(smb2ResponseHeader(SMB2_COMMAND.TREE_CONNECT, header), RESPONSE_SIZE);
  w.u8(response.shareType, "ShareType");
  w.u8(0, "Reserved");
  w.u32(response.shareFlags, "ShareFlags");
  w.u32(response.capabilities, "Capabilities");
  w.u32(response.maximalAccess, "MaximalAccess");
  return w.finish();
}

export function decodeSmb2TreeConnectResponse(
  message: Uint8Array,
): Smb2Decoded<Smb2TreeConnectResponse> | DecodeIssue {
  const body = openSmb2Body(message, SMB2_COMMAND.TREE_CONNECT, "response", RESPONSE_SIZE);
  if (isDecodeIssue(body)) return body;
  const { header, reader: r } = body;
  const shareType = r.u8("ShareType");
  r.skip(1, "Reserved");
  const shareFlags = r.u32("ShareFlags");
  const capabilities = r.u32("Capabilities");
  const maximalAccess = r.u32("MaximalAccess");
  return r.result({ header, shareType, shareFlags, capabilities, maximalAccess });
}

/** §2.2.11. */
export function encodeSmb2TreeDisconnectRequest(header: Smb2HeaderInit = {}): Uint8Array {
  return encodeEmptySmb2Body(SMB2_COMMAND.TREE_DISCONNECT, "request", header);
}

export function decodeSmb2TreeDisconnectRequest(
  message: Uint8Array,
): Smb2Decoded<Record<never, never>> | DecodeIssue {
  return decodeEmptySmb2Body(message, SMB2_COMMAND.TREE_DISCONNECT, "request");
}

/** §2.2.12. */
export function encodeSmb2TreeDisconnectResponse(header: Smb2HeaderInit = {}): Uint8Array {
  return encodeEmptySmb2Body(SMB2_COMMAND.TREE_DISCONNECT, "response", header);
}

export function decodeSmb2TreeDisconnectResponse(
  message: Uint8Array,
): Smb2Decoded<Record<never, never>> | DecodeIssue {
  return decodeEmptySmb2Body(message, SMB2_COMMAND.TREE_DISCONNECT, "response");
}
