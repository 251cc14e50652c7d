import { isDecodeIssue, type DecodeIssue } from "../netbios/decode-issue.js";
import {
  NTLMSSP_NEGOTIATE_56,
  NTLMSSP_NEGOTIATE_128,
  NTLMSSP_NEGOTIATE_ANONYMOUS,
  NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY,
  NTLMSSP_NEGOTIATE_NTLM,
  NTLMSSP_NEGOTIATE_UNICODE,
  NTLMSSP_REQUEST_TARGET,
} from "./flags.js";
import {
  NTLMSSP_MESSAGE_TYPE,
  NTLMSSP_SIGNATURE,
  checkHeader,
  checkPayloadFields,
  readOem,
  readPayloadField,
  readUnicode,
  view,
  writePayloadField,
} from "./message-fields.js";

/**
 * NTLMSSP AUTHENTICATE_MESSAGE, MS-NLMP §2.2.1.3, in its anonymous form only (no credentials, no
 * crypto: ringfence never authenticates as anyone):
 *
 *   0  Signature "NTLMSSP\0"                 8
 *   8  MessageType = 3                       4
 *  12  LmChallengeResponseFields             8   (Len, MaxLen, BufferOffset)
 *  20  NtChallengeResponseFields             8
 *  28  DomainNameFields                      8
 *  36  UserNameFields                        8
 *  44  WorkstationFields                     8
 *  52  EncryptedRandomSessionKeyFields       8
 *  60  NegotiateFlags                        4
 *  64  Version (8) and MIC (16), optional; absent here
 *  64  Payload
 *
 * MS-NLMP §3.2.5.1.2 / §3.3.1 ("Special case for anonymous authentication"): the user name and
 * password are empty, NtChallengeResponse is empty, and the client sets
 * NTLMSSP_NEGOTIATE_ANONYMOUS. The same pseudocode sets LmChallengeResponse to Z(1), one zero
 * byte; impacket sends it empty. Both forms are accepted by Windows and Samba
 * (auth_check_password's anonymous test takes an empty or one-zero-byte LM response), so the
 * encoder offers both, empty by default. No session key is exchanged (KEY_EXCH is never set), so
 * nothing can be signed or sealed with this session.
 */

/** The 64-byte header without Version and MIC. */
const HEADER = 64;

export interface AnonymousAuthenticateInit {
  /**
   * The CHALLENGE's NegotiateFlags: UNICODE, NTLM, EXTENDED_SESSIONSECURITY, 128 and 56 are kept
   * where the server offered them (MS-NLMP §3.1.5.1.2: the client's flags are a subset of the
   * server's), everything that needs a key (SIGN, SEAL, KEY_EXCH) is dropped, ANONYMOUS is added.
   */
  readonly challengeFlags: number;
  /** MS-NLMP pseudocode: "z1" (LmChallengeResponse = one zero byte); impacket: "empty" (default). */
  readonly lmResponse?: "empty" | "z1";
}

/** What the lab's server reads from an AUTHENTICATE_MESSAGE. */
export interface AuthenticateMessage {
  readonly flags: number;
  readonly lmChallengeResponse: Uint8Array;
  readonly ntChallengeResponse: Uint8Array;
  readonly domain: string;
  readonly user: string;
  readonly workstation: string;
  readonly encryptedRandomSessionKey: Uint8Array;
  /** MS-NLMP §3.3.1: empty NT response and user name with an empty or Z(1) LM response. */
  readonly anonymous: boolean;
}

const KEPT_FLAGS =
  NTLMSSP_NEGOTIATE_UNICODE |
  NTLMSSP_NEGOTIATE_NTLM |
  NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY |
  NTLMSSP_NEGOTIATE_128 |
  NTLMSSP_NEGOTIATE_56;

/** Flags of our anonymous AUTHENTICATE for a server's CHALLENGE flags. */
export function anonymousAuthenticateFlags(challengeFlags: number): number {
  return (
    ((challengeFlags & KEPT_FLAGS) | NTLMSSP_REQUEST_TARGET | NTLMSSP_NEGOTIATE_ANONYMOUS) >>> 0
  );
}

/** Build the anonymous AUTHENTICATE_MESSAGE (64 bytes, or 65 with the Z(1) LM response). */
export function encodeAnonymousAuthenticate(init: AnonymousAuthenticateInit): Buffer {
  const lm = init.lmResponse === "z1" ? Buffer.alloc(1) : Buffer.alloc(0);
  const out = Buffer.alloc(HEADER + lm.length);
  NTLMSSP_SIGNATURE.copy(out, 0);
  out.writeUInt32LE(NTLMSSP_MESSAGE_TYPE.authenticate, 8);
  // Every empty field points at the payload start, as Windows writes them.
  writePayloadField(out, 12, lm.length, HEADER);
  writePayloadField(out, 20, 0, HEADER + lm.length);
  writePayloadField(out, 28, 0, HEADER + lm.length);
  writePayloadField(out, 36, 0, HEADER + lm.length);
  writePayloadField(out, 44, 0, HEADER + lm.length);
  writePayloadField(out, 52, 0, HEADER + lm.length);
  out.writeUInt32LE(anonymousAuthenticateFlags(init.challengeFlags), 60);
  lm.copy(out, HEADER);
  return out;
}

/**
 * Parse an AUTHENTICATE_MESSAGE's fields (for the lab's server; responses are not verified:
 * there is no crypto here). The header is taken as 64 bytes whatever Version/MIC follow, since
 * payload offsets are checked only against the 64-byte minimum. Never throws.
 */
export function decodeAuthenticate(bytes: Uint8Array): AuthenticateMessage | DecodeIssue {
  const bad = checkHeader(bytes, NTLMSSP_MESSAGE_TYPE.authenticate, HEADER, "AUTHENTICATE");
  if (bad !== null) return bad;
  const flags = view(bytes).readUInt32LE(60);
  const fields = {
    lm: readPayloadField(bytes, 12),
    nt: readPayloadField(bytes, 20),
    domain: readPayloadField(bytes, 28),
    user: readPayloadField(bytes, 36),
    workstation: readPayloadField(bytes, 44),
    key: readPayloadField(bytes, 52),
  };
  // Only bounds are checked: Windows lets empty fields share an offset, and some clients write
  // overlapping empty descriptors; checkPayloadFields ignores empty ones.
  const bad2 = checkPayloadFields(bytes, HEADER, [
    ["lm-challenge-response", fields.lm],
    ["nt-challenge-response", fields.nt],
    ["domain-name", fields.domain],
    ["user-name", fields.user],
    ["workstation", fields.workstation],
    ["encrypted-random-session-key", fields.key],
  ]);
  if (bad2 !== null) return bad2;
  const unicode = (flags & NTLMSSP_NEGOTIATE_UNICODE) !== 0;
  const text = (f: typeof fields.domain, what: string): string | DecodeIssue =>
    unicode
      ? readUnicode(bytes, f.offset, f.length, what, f.at)
      : readOem(bytes, f.offset, f.length);
  const domain = text(fields.domain, "domain-name");
  if (isDecodeIssue(domain)) return domain;
  const user = text(fields.user, "user-name");
  if (isDecodeIssue(user)) return user;
  const workstation = text(fields.workstation, "workstation");
  if (isDecodeIssue(workstation)) return workstation;
  const cut = (f: typeof fields.lm) =>
    Uint8Array.from(bytes.subarray(f.offset, f.offset + f.length));
  const lmChallengeResponse = cut(fields.lm);
  const ntChallengeResponse = cut(fields.nt);
  const anonymous =
    user === "" &&
    ntChallengeResponse.length === 0 &&
    (lmChallengeResponse.length === 0 ||
      (lmChallengeResponse.length === 1 && lmChallengeResponse[0] === 0));
  return {
    flags,
    lmChallengeResponse,
    ntChallengeResponse,
    domain,
    user,
    workstation,
    encryptedRandomSessionKey: cut(fields.key),
    anonymous,
  };
}
