/**
 * NTLMSSP NegotiateFlags, MS-NLMP §2.2.2.5. The letters in the comments are the spec's bit
 * names (A is the least significant bit); the "r" bits are reserved in the current spec and
 * carry the names older implementations (impacket, Samba, Davenport) gave them.
 */

/** A: Unicode strings in the payload (UTF-16LE). */
export const NTLMSSP_NEGOTIATE_UNICODE = 0x00000001;
/** B: OEM (code page) strings in the payload. */
export const NTLMSSP_NEGOTIATE_OEM = 0x00000002;
/** C: the server must return its name in CHALLENGE.TargetName. */
export const NTLMSSP_REQUEST_TARGET = 0x00000004;
/** D: session key negotiation for message signatures. */
export const NTLMSSP_NEGOTIATE_SIGN = 0x00000010;
/** E: session key negotiation for message confidentiality. */
export const NTLMSSP_NEGOTIATE_SEAL = 0x00000020;
/** F: connectionless authentication. */
export const NTLMSSP_NEGOTIATE_DATAGRAM = 0x00000040;
/** G: LAN Manager session key computation. */
export const NTLMSSP_NEGOTIATE_LM_KEY = 0x00000080;
/** H: NTLM v1 session security. */
export const NTLMSSP_NEGOTIATE_NTLM = 0x00000200;
/** r8: "NT only" in older implementations. */
export const NTLMSSP_NEGOTIATE_NT_ONLY = 0x00000400;
/** J: anonymous connection. */
export const NTLMSSP_NEGOTIATE_ANONYMOUS = 0x00000800;
/** K: NEGOTIATE carries a DomainName. */
export const NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED = 0x00001000;
/** L: NEGOTIATE carries a Workstation name. */
export const NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED = 0x00002000;
/** r7: "local call" in older implementations. */
export const NTLMSSP_NEGOTIATE_LOCAL_CALL = 0x00004000;
/** M: a signature block on all messages. */
export const NTLMSSP_NEGOTIATE_ALWAYS_SIGN = 0x00008000;
/** N: CHALLENGE.TargetName is a domain name. */
export const NTLMSSP_TARGET_TYPE_DOMAIN = 0x00010000;
/** O: CHALLENGE.TargetName is a server name. */
export const NTLMSSP_TARGET_TYPE_SERVER = 0x00020000;
/** r6: "target type share" in older implementations. */
export const NTLMSSP_TARGET_TYPE_SHARE = 0x00040000;
/** P: NTLM v1 with extended session security (a.k.a. NTLM2). */
export const NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x00080000;
/** Q: identify-level token. */
export const NTLMSSP_NEGOTIATE_IDENTIFY = 0x00100000;
/** R: LMOWF session key. */
export const NTLMSSP_REQUEST_NON_NT_SESSION_KEY = 0x00400000;
/** S: CHALLENGE.TargetInfo is populated. */
export const NTLMSSP_NEGOTIATE_TARGET_INFO = 0x00800000;
/** T: the VERSION field is present (MS-NLMP §2.2.2.10). */
export const NTLMSSP_NEGOTIATE_VERSION = 0x02000000;
/** U: 128-bit session key. */
export const NTLMSSP_NEGOTIATE_128 = 0x20000000;
/** V: explicit key exchange. */
export const NTLMSSP_NEGOTIATE_KEY_EXCH = 0x40000000;
/** W: 56-bit encryption. */
export const NTLMSSP_NEGOTIATE_56 = 0x80000000;

/** Bit → name, most significant first, as Wireshark lists them. */
const FLAG_NAMES: readonly (readonly [number, string])[] = [
  [NTLMSSP_NEGOTIATE_56, "NEGOTIATE_56"],
  [NTLMSSP_NEGOTIATE_KEY_EXCH, "NEGOTIATE_KEY_EXCH"],
  [NTLMSSP_NEGOTIATE_128, "NEGOTIATE_128"],
  [NTLMSSP_NEGOTIATE_VERSION, "NEGOTIATE_VERSION"],
  [NTLMSSP_NEGOTIATE_TARGET_INFO, "NEGOTIATE_TARGET_INFO"],
  [NTLMSSP_REQUEST_NON_NT_SESSION_KEY, "REQUEST_NON_NT_SESSION_KEY"],
  [NTLMSSP_NEGOTIATE_IDENTIFY, "NEGOTIATE_IDENTIFY"],
  [NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY, "NEGOTIATE_EXTENDED_SESSIONSECURITY"],
  [NTLMSSP_TARGET_TYPE_SHARE, "TARGET_TYPE_SHARE"],
  [NTLMSSP_TARGET_TYPE_SERVER, "TARGET_TYPE_SERVER"],
  [NTLMSSP_TARGET_TYPE_DOMAIN, "TARGET_TYPE_DOMAIN"],
  [NTLMSSP_NEGOTIATE_ALWAYS_SIGN, "NEGOTIATE_ALWAYS_SIGN"],
  [NTLMSSP_NEGOTIATE_LOCAL_CALL, "NEGOTIATE_LOCAL_CALL"],
  [NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED, "NEGOTIATE_OEM_WORKSTATION_SUPPLIED"],
  [NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED, "NEGOTIATE_OEM_DOMAIN_SUPPLIED"],
  [NTLMSSP_NEGOTIATE_ANONYMOUS, "NEGOTIATE_ANONYMOUS"],
  [NTLMSSP_NEGOTIATE_NT_ONLY, "NEGOTIATE_NT_ONLY"],
  [NTLMSSP_NEGOTIATE_NTLM, "NEGOTIATE_NTLM"],
  [NTLMSSP_NEGOTIATE_LM_KEY, "NEGOTIATE_LM_KEY"],
  [NTLMSSP_NEGOTIATE_DATAGRAM, "NEGOTIATE_DATAGRAM"],
  [NTLMSSP_NEGOTIATE_SEAL, "NEGOTIATE_SEAL"],
  [NTLMSSP_NEGOTIATE_SIGN, "NEGOTIATE_SIGN"],
  [NTLMSSP_REQUEST_TARGET, "REQUEST_TARGET"],
  [NTLMSSP_NEGOTIATE_OEM, "NEGOTIATE_OEM"],
  [NTLMSSP_NEGOTIATE_UNICODE, "NEGOTIATE_UNICODE"],
];

/**
 * The names of the bits set in `flags` (without the NTLMSSP_ prefix), most significant first;
 * bits with no name appear as hex, e.g. "0x10000000".
 */
export function negotiateFlagNames(flags: number): string[] {
  const names: string[] = [];
  let rest = flags >>> 0;
  for (const [bit, name] of FLAG_NAMES) {
    if ((rest & bit) >>> 0 === bit) {
      names.push(name);
      rest = (rest & ~bit) >>> 0;
    }
  }
  for (let bit = 31; bit >= 0 && rest !== 0; bit--) {
    const mask = 2 ** bit;
    if ((rest & mask) >>> 0 !== 0) {
      names.push(`0x${mask.toString(16).padStart(8, "0")}`);
      rest = (rest & ~mask) >>> 0;
    }
  }
  return names;
}

/** nmap's NEGOTIATE flags (smbauth.lua): UNICODE|REQUEST_TARGET|SIGN|NTLM|ALWAYS_SIGN = 0x8215. */
export const NMAP_NEGOTIATE_FLAGS =
  NTLMSSP_NEGOTIATE_UNICODE |
  NTLMSSP_REQUEST_TARGET |
  NTLMSSP_NEGOTIATE_SIGN |
  NTLMSSP_NEGOTIATE_NTLM |
  NTLMSSP_NEGOTIATE_ALWAYS_SIGN;
