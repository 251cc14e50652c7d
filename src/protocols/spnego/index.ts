/**
 * SPNEGO (RFC 4178, MS-SPNG NegTokenInit2) with its GSS-API framing (RFC 2743 §3.1), over a
 * bounded DER reader (X.690). Pure: every decoder returns a value or a DecodeIssue and never
 * throws on input.
 */
export {
  CONTEXT_FLAG,
  MECH_OID,
  NEG_STATE,
  decodeSecurityBlob,
  decodeSpnegoToken,
  encodeNegTokenInit,
  encodeNegTokenResp,
  mechName,
  ntlmsspTokenOf,
  type EmptyBlob,
  type NegHints,
  type NegStateName,
  type NegTokenInit,
  type NegTokenInitInit,
  type NegTokenResp,
  type NegTokenRespInit,
  type RawNtlmsspBlob,
  type SecurityBlob,
  type SpnegoToken,
} from "./spnego-codec.js";
export { decodeIssue, isDecodeIssue, type DecodeIssue } from "../netbios/decode-issue.js";
