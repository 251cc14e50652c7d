import { decodeIssue, isDecodeIssue, type DecodeIssue } from "../netbios/decode-issue.js";
import { sniffSmbProtocol } from "./protocol-id.js";
import type { Smb1Decoded } from "./smb1/header-codec.js";
import { decodeSmb1NegotiateResponse, type Smb1NegotiateResponse } from "./smb1/negotiate-codec.js";
import type { Smb2Decoded } from "./smb2/header-codec.js";
import {
  SMB2_DIALECT,
  decodeSmb2NegotiateResponse,
  type Smb2NegotiateResponse,
} from "./smb2/negotiate-codec.js";

/**
 * The multi-protocol negotiate (MS-SMB2 §3.2.4.2.2.1 client, §3.3.5.3.1 server): an SMB1
 * NEGOTIATE that also offers "SMB 2.002" and/or "SMB 2.???". A server that speaks SMB2 answers
 * with an SMB2 NEGOTIATE response: DialectRevision 0x0202, or 0x02FF ("wildcard": it speaks 2.1
 * or later, send an SMB2 NEGOTIATE next); an SMB1-only server answers in SMB1.
 */

/** The SMB1 dialect string meaning "SMB 2.0.2" (§2.2.3 note, §3.2.4.2.2.1). */
export const SMB1_DIALECT_SMB_2_002 = "SMB 2.002";
/** The SMB1 dialect string meaning "SMB 2.1 or later" (§3.2.4.2.2.1). */
export const SMB1_DIALECT_SMB_2_WILDCARD = "SMB 2.???";

export type AnyNegotiateResponse =
  | { readonly protocol: "smb1"; readonly response: Smb1Decoded<Smb1NegotiateResponse> }
  | { readonly protocol: "smb2"; readonly response: Smb2Decoded<Smb2NegotiateResponse> };

/** Decode whichever NEGOTIATE response came back, SMB1 or SMB2. Never throws. */
export function decodeMultiProtocolNegotiateResponse(
  message: Uint8Array,
): AnyNegotiateResponse | DecodeIssue {
  const protocol = sniffSmbProtocol(message);
  if (protocol === "smb1") {
    const response = decodeSmb1NegotiateResponse(message);
    return isDecodeIssue(response) ? response : { protocol, response };
  }
  if (protocol === "smb2") {
    const response = decodeSmb2NegotiateResponse(message);
    return isDecodeIssue(response) ? response : { protocol, response };
  }
  return decodeIssue("protocol-id", 0, `a ${protocol} message where a NEGOTIATE response was due`);
}

/**
 * Server side of §3.3.5.3.1, for the lab: which SMB2 DialectRevision to answer an SMB1 NEGOTIATE
 * offering `offered` with, given the SMB2 dialects the server speaks; null when the server should
 * carry on in SMB1 (or refuse).
 */
export function selectMultiProtocolDialect(
  offered: readonly string[],
  supported: readonly number[],
): number | null {
  const speaksAbove202 = supported.some((d) => d > SMB2_DIALECT.SMB_2_0_2);
  if (offered.includes(SMB1_DIALECT_SMB_2_WILDCARD) && speaksAbove202) return SMB2_DIALECT.WILDCARD;
  if (
    (offered.includes(SMB1_DIALECT_SMB_2_002) || offered.includes(SMB1_DIALECT_SMB_2_WILDCARD)) &&
    supported.includes(SMB2_DIALECT.SMB_2_0_2)
  ) {
    return SMB2_DIALECT.SMB_2_0_2;
  }
  return null;
}
