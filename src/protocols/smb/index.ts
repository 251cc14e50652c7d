/**
 * SMB codecs: SMB1 (MS-CIFS / MS-SMB) and SMB2/3 (MS-SMB2), pure (bytes in, typed values or a
 * DecodeIssue out; no sockets). Frame them with the NetBIOS session codec
 * (../netbios/session-codec.ts): TCP 445 uses its "direct-tcp" form, TCP 139 the RFC 1002 one.
 * Security blobs (SPNEGO, NTLMSSP) are opaque bytes here.
 */
export * from "./smb1/index.js";
export * from "./smb2/index.js";
export {
  NT_STATUS,
  formatNtStatus,
  ntStatusName,
  ntStatusSeverity,
  type NtStatusName,
  type NtStatusSeverity,
} from "./nt-status.js";
export { FILETIME_UNIX_EPOCH, filetimeToIso, isoToFiletime } from "./filetime.js";
export { decodeUtf16le, encodeUtf16le } from "./strings.js";
export {
  SMB1_PROTOCOL_ID,
  SMB2_COMPRESSION_PROTOCOL_ID,
  SMB2_PROTOCOL_ID,
  SMB2_TRANSFORM_PROTOCOL_ID,
  sniffSmbProtocol,
  type SmbProtocol,
} from "./protocol-id.js";
export {
  SMB1_DIALECT_SMB_2_002,
  SMB1_DIALECT_SMB_2_WILDCARD,
  decodeMultiProtocolNegotiateResponse,
  selectMultiProtocolDialect,
  type AnyNegotiateResponse,
} from "./multi-protocol-negotiate.js";
export { decodeIssue, isDecodeIssue, type DecodeIssue } from "../netbios/decode-issue.js";
