import { type DecodeIssue } from "../netbios/decode-issue.js";
import {
  NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED,
  NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED,
  NTLMSSP_NEGOTIATE_VERSION,
} from "./flags.js";
import {
  NTLMSSP_MESSAGE_TYPE,
  NTLMSSP_SIGNATURE,
  VERSION_LENGTH,
  checkFieldLength,
  checkFlags,
  checkHeader,
  checkPayloadFields,
  oemBytes,
  readOem,
  readPayloadField,
  readVersion,
  view,
  writePayloadField,
  writeVersion,
  type NtlmVersion,
} from "./message-fields.js";

/**
 * NTLMSSP NEGOTIATE_MESSAGE, MS-NLMP §2.2.1.1:
 *
 *   0  Signature "NTLMSSP\0"        8
 *   8  MessageType = 1              4
 *  12  NegotiateFlags               4
 *  16  DomainNameFields             8   (Len, MaxLen, BufferOffset; OEM text)
 *  24  WorkstationFields            8
 *  32  Version                      8   (only meaningful with NTLMSSP_NEGOTIATE_VERSION)
 *  40  Payload
 *
 * Clients before the VERSION field existed (Windows 2000/XP, nmap) send the 32-byte form that
 * ends after WorkstationFields; the decoder takes both.
 */

/** The 32-byte form without the Version field (nmap, Windows 2000/XP). */
const SHORT_HEADER = 32;
const FULL_HEADER = SHORT_HEADER + VERSION_LENGTH;

export interface NegotiateMessage {
  readonly flags: number;
  /** DomainName (OEM), present when NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED is set; else null. */
  readonly domain: string | null;
  /** Workstation (OEM), present when NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED is set. */
  readonly workstation: string | null;
  /** VERSION, present iff NTLMSSP_NEGOTIATE_VERSION is set and the message has room for it. */
  readonly version: NtlmVersion | null;
}

export interface NegotiateInit {
  readonly flags: number;
  readonly domain?: string | null;
  readonly workstation?: string | null;
  readonly version?: NtlmVersion | null;
}

/**
 * Build a NEGOTIATE_MESSAGE. The OEM_DOMAIN_SUPPLIED, OEM_WORKSTATION_SUPPLIED and VERSION flags
 * are set when the matching field is given; NTLMSSP_NEGOTIATE_VERSION without a version throws.
 * With no version and no names the result is the 32-byte form nmap sends.
 */
export function encodeNegotiate(init: NegotiateInit): Buffer {
  const initFlags = checkFlags(init.flags);
  const domain = init.domain ?? null;
  const workstation = init.workstation ?? null;
  const version = init.version ?? null;
  if ((initFlags & NTLMSSP_NEGOTIATE_VERSION) !== 0 && version === null) {
    throw new RangeError("NTLMSSP_NEGOTIATE_VERSION is set but no version was given");
  }
  let flags = initFlags;
  if (domain !== null) flags |= NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED;
  if (workstation !== null) flags |= NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED;
  if (version !== null) flags |= NTLMSSP_NEGOTIATE_VERSION;

  const domainBytes = domain === null ? Buffer.alloc(0) : oemBytes(domain, "DomainName");
  const workstationBytes =
    workstation === null ? Buffer.alloc(0) : oemBytes(workstation, "Workstation");
  checkFieldLength(domainBytes.length, "DomainName");
  checkFieldLength(workstationBytes.length, "Workstation");

  const long = version !== null || domain !== null || workstation !== null;
  const header = long ? FULL_HEADER : SHORT_HEADER;
  const out = Buffer.alloc(header + domainBytes.length + workstationBytes.length);
  NTLMSSP_SIGNATURE.copy(out, 0);
  out.writeUInt32LE(NTLMSSP_MESSAGE_TYPE.negotiate, 8);
  out.writeUInt32LE(flags >>> 0, 12);
  // Payload order as Windows writes it: DomainName, then Workstation.
  const domainAt = header;
  const workstationAt = header + domainBytes.length;
  writePayloadField(out, 16, domainBytes.length, domainBytes.length > 0 ? domainAt : 0);
  writePayloadField(
    out,
    24,
    workstationBytes.length,
    workstationBytes.length > 0 ? workstationAt : 0,
  );
  if (version !== null) writeVersion(out, SHORT_HEADER, version);
  domainBytes.copy(out, domainAt);
  workstationBytes.copy(out, workstationAt);
  return out;
}

/** Parse a NEGOTIATE_MESSAGE (for the lab's SMB server). Never throws. */
export function decodeNegotiate(bytes: Uint8Array): NegotiateMessage | DecodeIssue {
  const bad = checkHeader(bytes, NTLMSSP_MESSAGE_TYPE.negotiate, SHORT_HEADER, "NEGOTIATE");
  if (bad !== null) return bad;
  const flags = view(bytes).readUInt32LE(12);
  const domainField = readPayloadField(bytes, 16);
  const workstationField = readPayloadField(bytes, 24);
  const hasDomain = (flags & NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED) !== 0;
  const hasWorkstation = (flags & NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED) !== 0;
  const used: [string, typeof domainField][] = [];
  if (hasDomain) used.push(["domain-name", domainField]);
  if (hasWorkstation) used.push(["workstation", workstationField]);

  // VERSION sits at 32 when the flag is set, the message reaches 40 and no payload starts
  // before 40; otherwise it is absent rather than an error (MS-NLMP §2.2.2.10: VERSION is for
  // debugging only and does not affect processing).
  const firstPayload = Math.min(
    ...used.filter(([, f]) => f.length > 0).map(([, f]) => f.offset),
    bytes.length,
  );
  const wantsVersion = (flags & NTLMSSP_NEGOTIATE_VERSION) !== 0;
  const hasVersion = wantsVersion && bytes.length >= FULL_HEADER && firstPayload >= FULL_HEADER;
  const bad2 = checkPayloadFields(bytes, hasVersion ? FULL_HEADER : SHORT_HEADER, used);
  if (bad2 !== null) return bad2;
  return {
    flags,
    domain: hasDomain ? readOem(bytes, domainField.offset, domainField.length) : null,
    workstation: hasWorkstation
      ? readOem(bytes, workstationField.offset, workstationField.length)
      : null,
    version: hasVersion ? readVersion(bytes, SHORT_HEADER) : null,
  };
}
