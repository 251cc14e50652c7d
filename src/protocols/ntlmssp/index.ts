/**
 * NTLMSSP NEGOTIATE and CHALLENGE messages (MS-NLMP §2.2.1.1, §2.2.1.2), the VERSION structure
 * (§2.2.2.10), AV_PAIRs (§2.2.2.1) and the NegotiateFlags (§2.2.2.5). Enough to ask a server
 * for its CHALLENGE and read its names and OS version from it, and for the lab to answer as a
 * given Windows would. AUTHENTICATE only in its anonymous form (§3.3.1), no crypto. Pure: every decoder returns a value or a
 * DecodeIssue and never throws.
 */
export * from "./flags.js";
export {
  NTLMSSP_MESSAGE_TYPE,
  NTLMSSP_REVISION_W2K3,
  NTLMSSP_SIGNATURE,
  isNtlmsspToken,
  ntlmsspMessageType,
  type NtlmVersion,
} from "./message-fields.js";
export {
  decodeNegotiate,
  encodeNegotiate,
  type NegotiateInit,
  type NegotiateMessage,
} from "./negotiate-codec.js";
export {
  decodeChallenge,
  encodeChallenge,
  type ChallengeInit,
  type ChallengeMessage,
} from "./challenge-codec.js";
export {
  anonymousAuthenticateFlags,
  decodeAuthenticate,
  encodeAnonymousAuthenticate,
  type AnonymousAuthenticateInit,
  type AuthenticateMessage,
} from "./authenticate-codec.js";
export {
  AV_ID,
  buildTargetInfo,
  decodeTargetInfo,
  encodeTargetInfo,
  filetimeToIso,
  isoToFiletime,
  type AvPair,
  type TargetInfo,
  type TargetInfoInit,
} from "./target-info.js";
export { decodeIssue, isDecodeIssue, type DecodeIssue } from "../netbios/decode-issue.js";
