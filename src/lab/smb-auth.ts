import { randomBytes } from "node:crypto";
import { NT_STATUS } from "../protocols/smb/index.js";
import {
  NTLMSSP_MESSAGE_TYPE,
  NTLMSSP_NEGOTIATE_128,
  NTLMSSP_NEGOTIATE_56,
  NTLMSSP_NEGOTIATE_ALWAYS_SIGN,
  NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY,
  NTLMSSP_NEGOTIATE_KEY_EXCH,
  NTLMSSP_NEGOTIATE_LM_KEY,
  NTLMSSP_NEGOTIATE_NTLM,
  NTLMSSP_NEGOTIATE_SEAL,
  NTLMSSP_NEGOTIATE_SIGN,
  NTLMSSP_NEGOTIATE_UNICODE,
  NTLMSSP_REQUEST_TARGET,
  NTLMSSP_TARGET_TYPE_SERVER,
  buildTargetInfo,
  decodeNegotiate,
  encodeChallenge,
  isDecodeIssue,
  isoToFiletime,
  ntlmsspMessageType,
} from "../protocols/ntlmssp/index.js";
import {
  MECH_OID,
  NEG_STATE,
  decodeSecurityBlob,
  encodeNegTokenInit,
  encodeNegTokenResp,
  ntlmsspTokenOf,
} from "../protocols/spnego/index.js";
import type { SmbServerProfile } from "./smb-profiles.js";

/**
 * The lab's side of SMB authentication: the SPNEGO hint in the NEGOTIATE response, and an NTLMSSP
 * acceptor that answers NEGOTIATE with the persona's CHALLENGE (MS-NLMP §2.2.1.2, research
 * Appendix D) and takes any AUTHENTICATE without checking it (there are no accounts): an anonymous
 * one (empty user name, MS-NLMP §3.2.5.1.2) makes a null session, a named one is refused or made
 * a guest as the persona's profile says. No crypto, no session key, no signing.
 *
 * Deliberate deviation: Windows Vista+ and Samba put MS-SPNG's NegTokenInit2 negHints
 * ("not_defined_in_RFC4178@please_ignore") in the hint. tshark 4.0 marks that token malformed
 * (test/ntlmssp/samba-challenge.test.ts records it against a real Samba), and the lab's replies
 * must dissect cleanly, so the lab sends a plain RFC 4178 NegTokenInit with the same mechTypes.
 */

/** Who the server is, for the CHALLENGE's TargetName and TargetInfo. */
export interface ServerNames {
  /** NetBIOS computer name, upper case ("LAB-00002A"). */
  readonly computerName: string;
}

/** The token for the NEGOTIATE response's security buffer (MS-SPNG §3.2.5.2). */
export function negotiateHint(profile: SmbServerProfile): Uint8Array {
  return encodeNegTokenInit({ mechTypes: profile.mechTypes, gssFramed: true });
}

export type AcceptResult =
  /** STATUS_MORE_PROCESSING_REQUIRED with this token (the CHALLENGE). */
  | { readonly kind: "continue"; readonly token: Uint8Array }
  /** STATUS_SUCCESS: the logon is done. */
  | {
      readonly kind: "done";
      readonly token: Uint8Array;
      readonly anonymous: boolean;
      readonly guest: boolean;
    }
  /** An error status, no token. */
  | { readonly kind: "failed"; readonly status: number };

/**
 * NegotiateFlags the persona echoes when the client asks (MS-NLMP §3.2.5.1.1: the server keeps
 * the options both sides support).
 */
const ECHOED =
  NTLMSSP_NEGOTIATE_SIGN |
  NTLMSSP_NEGOTIATE_SEAL |
  NTLMSSP_NEGOTIATE_LM_KEY |
  NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY |
  NTLMSSP_NEGOTIATE_128 |
  NTLMSSP_NEGOTIATE_KEY_EXCH |
  NTLMSSP_NEGOTIATE_56;
/** Always set by a Windows or Samba server in a workgroup: Unicode names, NTLM, a server target. */
const ALWAYS =
  NTLMSSP_NEGOTIATE_UNICODE |
  NTLMSSP_REQUEST_TARGET |
  NTLMSSP_NEGOTIATE_NTLM |
  NTLMSSP_NEGOTIATE_ALWAYS_SIGN |
  NTLMSSP_TARGET_TYPE_SERVER;

/**
 * One step of a logon: `blob` is the client's security buffer (SPNEGO NegTokenInit/Resp or a raw
 * NTLMSSP token, as ZecOps' scanner sends). Answers in the same wrapping. Never throws on input.
 */
export function acceptSecurityBlob(
  profile: SmbServerProfile,
  names: ServerNames,
  blob: Uint8Array,
): AcceptResult {
  if (profile.ntlm === null) return { kind: "failed", status: NT_STATUS.NOT_SUPPORTED };
  const decoded = decodeSecurityBlob(blob);
  if (isDecodeIssue(decoded)) return { kind: "failed", status: NT_STATUS.INVALID_PARAMETER };
  const spnego = decoded.kind === "negTokenInit" || decoded.kind === "negTokenResp";
  const token = ntlmsspTokenOf(decoded);
  if (token === null) {
    // A NegTokenInit naming mechanisms without an NTLMSSP token (Kerberos first): the only
    // mechanism the lab has is NTLMSSP, so answer with its CHALLENGE as if it had been asked.
    if (decoded.kind !== "negTokenInit") {
      return { kind: "failed", status: NT_STATUS.INVALID_PARAMETER };
    }
  }
  const type = token === null ? NTLMSSP_MESSAGE_TYPE.negotiate : ntlmsspMessageType(token);
  if (type === NTLMSSP_MESSAGE_TYPE.negotiate) {
    const negotiate = token === null ? null : decodeNegotiate(token);
    const clientFlags = negotiate === null || isDecodeIssue(negotiate) ? 0 : negotiate.flags;
    const challenge = buildChallenge(profile, names, clientFlags);
    return {
      kind: "continue",
      token: spnego
        ? encodeNegTokenResp({
            negState: NEG_STATE.acceptIncomplete,
            supportedMech: MECH_OID.ntlmssp,
            responseToken: challenge,
          })
        : challenge,
    };
  }
  if (type === NTLMSSP_MESSAGE_TYPE.authenticate && token !== null) {
    const user = authenticateUserLength(token);
    if (user === null) return { kind: "failed", status: NT_STATUS.INVALID_PARAMETER };
    const anonymous = user === 0;
    if (!anonymous && profile.namedLogon === "refuse") {
      return { kind: "failed", status: NT_STATUS.LOGON_FAILURE };
    }
    return {
      kind: "done",
      token: spnego
        ? encodeNegTokenResp({ negState: NEG_STATE.acceptCompleted })
        : new Uint8Array(0),
      anonymous,
      guest: !anonymous,
    };
  }
  return { kind: "failed", status: NT_STATUS.INVALID_PARAMETER };
}

function buildChallenge(
  profile: SmbServerProfile,
  names: ServerNames,
  clientFlags: number,
): Uint8Array {
  const ntlm = profile.ntlm;
  if (ntlm === null) throw new Error("no NTLMSSP on this profile");
  let flags = ALWAYS | (clientFlags & ECHOED);
  // MS-NLMP §2.2.2.5: with extended session security negotiated, the LM key is not.
  if ((flags & NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY) !== 0)
    flags &= ~NTLMSSP_NEGOTIATE_LM_KEY;
  const name = names.computerName;
  const timestamp = ntlm.timestamp ? isoToFiletime(new Date().toISOString()) : undefined;
  // A workgroup server is its own NetBIOS domain. Windows repeats its name in the DNS pairs [I,
  // nmap ntlm-info output of workgroup hosts]; Samba leaves the DNS domain empty and gives its
  // host name [O] (TargetInfo pair order 2, 1, 4, 3, 7 in both).
  const targetInfo = buildTargetInfo({
    nbDomainName: name,
    nbComputerName: name,
    dnsDomainName: ntlm.style === "samba" ? "" : name,
    dnsComputerName: ntlm.style === "samba" ? name.toLowerCase() : name,
    ...(timestamp === undefined ? {} : { timestamp }),
  });
  return encodeChallenge({
    flags,
    targetName: name,
    serverChallenge: randomBytes(8),
    targetInfo,
    version: ntlm.version,
  });
}

/**
 * The UserName length of an AUTHENTICATE_MESSAGE (MS-NLMP §2.2.1.3: UserNameFields at offset 36),
 * or null when the message is too short to have one. The ntlmssp codec has no AUTHENTICATE
 * decoder (issue 4 sends none); this is the one field the lab needs.
 */
function authenticateUserLength(token: Uint8Array): number | null {
  if (token.length < 44) return null;
  return (token[36] ?? 0) | ((token[37] ?? 0) << 8);
}
