import {
  NMAP_NEGOTIATE_FLAGS,
  NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY,
  decodeChallenge,
  encodeAnonymousAuthenticate,
  encodeNegotiate,
  isDecodeIssue,
  type ChallengeMessage,
} from "../protocols/ntlmssp/index.js";
import {
  MECH_OID,
  decodeSecurityBlob,
  encodeNegTokenInit,
  encodeNegTokenResp,
  ntlmsspTokenOf,
} from "../protocols/spnego/index.js";

/**
 * The anonymous NTLMSSP exchange inside SPNEGO that SMB1 extended security and SMB2 carry
 * (research Appendix D; MS-SMB2 §3.2.5.3, MS-SPNG §3.1.5): NEGOTIATE in a GSS-framed
 * NegTokenInit, the server's CHALLENGE in a NegTokenResp (read for its names and VERSION), then
 * an anonymous AUTHENTICATE (MS-NLMP §3.3.1, no credentials, no keys) in a NegTokenResp. A peer
 * that answers with a raw NTLMSSP token (no SPNEGO) gets a raw AUTHENTICATE back.
 */

/** nmap's NEGOTIATE flags inside SPNEGO (research Appendix D: 0x00088215). */
export const NTLM_NEGOTIATE_FLAGS =
  NMAP_NEGOTIATE_FLAGS | NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY;

/** The first session-setup token: SPNEGO NegTokenInit offering NTLMSSP, with its NEGOTIATE. */
export function ntlmNegotiateToken(): Uint8Array {
  return encodeNegTokenInit({
    mechTypes: [MECH_OID.ntlmssp],
    mechToken: encodeNegotiate({ flags: NTLM_NEGOTIATE_FLAGS }),
  });
}

export type ChallengeRead =
  | { readonly kind: "challenge"; readonly challenge: ChallengeMessage; readonly spnego: boolean }
  | { readonly kind: "no-challenge"; readonly reason: string };

/** The NTLMSSP CHALLENGE inside a session-setup reply's security blob. Never throws. */
export function readChallenge(blob: Uint8Array): ChallengeRead {
  if (blob.length === 0) return { kind: "no-challenge", reason: "an empty security blob" };
  const decoded = decodeSecurityBlob(blob);
  if (isDecodeIssue(decoded)) {
    return {
      kind: "no-challenge",
      reason: `security blob: ${decoded.what} at ${decoded.offset}: ${decoded.message}`,
    };
  }
  const token = ntlmsspTokenOf(decoded);
  if (token === null) {
    const what =
      decoded.kind === "negTokenResp"
        ? `a NegTokenResp (${decoded.negStateName ?? "no negState"}, mech ${decoded.supportedMech ?? "none"}) without an NTLMSSP token`
        : `a ${decoded.kind} without an NTLMSSP token`;
    return { kind: "no-challenge", reason: what };
  }
  const challenge = decodeChallenge(token);
  if (isDecodeIssue(challenge)) {
    return {
      kind: "no-challenge",
      reason: `NTLMSSP CHALLENGE: ${challenge.what} at ${challenge.offset}: ${challenge.message}`,
    };
  }
  return { kind: "challenge", challenge, spnego: decoded.kind !== "ntlmssp" };
}

/** The last session-setup token: an anonymous AUTHENTICATE, in SPNEGO when the server used it. */
export function ntlmAnonymousToken(challenge: ChallengeMessage, spnego: boolean): Uint8Array {
  const authenticate = encodeAnonymousAuthenticate({ challengeFlags: challenge.flags });
  return spnego ? encodeNegTokenResp({ responseToken: authenticate }) : authenticate;
}

/** The CHALLENGE fields the fingerprint keeps (research Appendix D table). */
export interface NtlmInfo {
  /** "major.minor.build", or null when the server sent no VERSION (Windows 2000/XP). */
  readonly version: string | null;
  readonly versionFields: {
    readonly major: number;
    readonly minor: number;
    readonly build: number;
    readonly ntlmRevision: number;
  } | null;
  readonly targetName: string | null;
  readonly nbComputerName: string | null;
  readonly nbDomainName: string | null;
  readonly dnsComputerName: string | null;
  readonly dnsDomainName: string | null;
  readonly dnsTreeName: string | null;
  /** MsvAvTimestamp as ISO 8601 (the server's clock), or null. */
  readonly timestamp: string | null;
  /** NegotiateFlags as hex. */
  readonly flags: string;
}

export function ntlmInfo(challenge: ChallengeMessage): NtlmInfo {
  const v = challenge.version;
  const info = challenge.targetInfo;
  return {
    version: v === null ? null : `${v.major}.${v.minor}.${v.build}`,
    versionFields: v,
    targetName: challenge.targetName,
    nbComputerName: info?.nbComputerName ?? null,
    nbDomainName: info?.nbDomainName ?? null,
    dnsComputerName: info?.dnsComputerName ?? null,
    dnsDomainName: info?.dnsDomainName ?? null,
    dnsTreeName: info?.dnsTreeName ?? null,
    timestamp: info?.timestamp ?? null,
    flags: `0x${(challenge.flags >>> 0).toString(16).padStart(8, "0")}`,
  };
}
