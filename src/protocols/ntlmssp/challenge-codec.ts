import { decodeIssue, isDecodeIssue, type DecodeIssue } from "../netbios/decode-issue.js";
import {
  NTLMSSP_NEGOTIATE_TARGET_INFO,
  NTLMSSP_NEGOTIATE_UNICODE,
  NTLMSSP_NEGOTIATE_VERSION,
} from "./flags.js";
import {
  NTLMSSP_MESSAGE_TYPE,
  NTLMSSP_SIGNATURE,
  checkFieldLength,
  checkFlags,
  checkHeader,
  checkPayloadFields,
  oemBytes,
  readOem,
  readPayloadField,
  readUnicode,
  readVersion,
  view,
  writePayloadField,
  writeVersion,
  type NtlmVersion,
  type PayloadField,
} from "./message-fields.js";
import { decodeTargetInfo, encodeTargetInfo, type AvPair, type TargetInfo } from "./target-info.js";

/**
 * NTLMSSP CHALLENGE_MESSAGE, MS-NLMP §2.2.1.2:
 *
 *   0  Signature "NTLMSSP\0"        8
 *   8  MessageType = 2              4
 *  12  TargetNameFields             8   (Len, MaxLen, BufferOffset)
 *  20  NegotiateFlags               4
 *  24  ServerChallenge              8
 *  32  Reserved                     8
 *  40  TargetInfoFields             8
 *  48  Version                      8   (iff NTLMSSP_NEGOTIATE_VERSION)
 *  56  Payload
 *
 * Servers before Windows Server 2003 end the header at 48 (no VERSION; research Appendix D);
 * pre-NTLMv2 implementations end it at 32 or 40 (no TargetInfoFields, Davenport "Type 2
 * Message"). The decoder finds the header's end from the payload offsets, the way nmap's
 * `get_host_info_from_security_blob` does, and refuses payload fields that overlap the header,
 * each other, or run past the message.
 */

const MIN_HEADER = 32;
const CONTEXT_END = 40;
const TARGET_INFO_FIELDS_END = 48;
const VERSION_END = 56;
const SERVER_CHALLENGE_LENGTH = 8;

export interface ChallengeMessage {
  readonly flags: number;
  /** TargetName (UTF-16LE with NTLMSSP_NEGOTIATE_UNICODE, else OEM), or null when empty. */
  readonly targetName: string | null;
  readonly serverChallenge: Uint8Array;
  /** TargetInfo when NTLMSSP_NEGOTIATE_TARGET_INFO is set and the list is non-empty. */
  readonly targetInfo: TargetInfo | null;
  /** VERSION, present iff NTLMSSP_NEGOTIATE_VERSION is set and the header has room for it. */
  readonly version: NtlmVersion | null;
  /** Where the fixed header ends: 32, 40, 48 (Windows 2000/XP) or 56 (with VERSION). */
  readonly headerLength: 32 | 40 | 48 | 56;
  /** Oddities that did not stop decoding (e.g. the VERSION flag without room for VERSION). */
  readonly notes: readonly string[];
}

export interface ChallengeInit {
  readonly flags: number;
  readonly targetName?: string | null;
  /** ServerChallenge, 8 bytes. */
  readonly serverChallenge: Uint8Array;
  /** AV_PAIRs without MsvAvEOL (see buildTargetInfo); sets NTLMSSP_NEGOTIATE_TARGET_INFO. */
  readonly targetInfo?: readonly AvPair[] | null;
  /** Sets NTLMSSP_NEGOTIATE_VERSION and a 56-byte header; without it the header is 48 bytes. */
  readonly version?: NtlmVersion | null;
}

/**
 * Build a CHALLENGE_MESSAGE as Windows lays it out: header (48 bytes, or 56 with VERSION), then
 * TargetName, then TargetInfo. The TARGET_INFO and VERSION flags follow the fields given; a flag
 * set without its field throws RangeError.
 */
export function encodeChallenge(init: ChallengeInit): Buffer {
  const initFlags = checkFlags(init.flags);
  if (init.serverChallenge.length !== SERVER_CHALLENGE_LENGTH) {
    throw new RangeError(`ServerChallenge must be 8 bytes, got ${init.serverChallenge.length}`);
  }
  const version = init.version ?? null;
  const pairs = init.targetInfo ?? null;
  if ((initFlags & NTLMSSP_NEGOTIATE_VERSION) !== 0 && version === null) {
    throw new RangeError("NTLMSSP_NEGOTIATE_VERSION is set but no version was given");
  }
  if ((initFlags & NTLMSSP_NEGOTIATE_TARGET_INFO) !== 0 && pairs === null) {
    throw new RangeError("NTLMSSP_NEGOTIATE_TARGET_INFO is set but no targetInfo was given");
  }
  let flags = initFlags;
  if (version !== null) flags |= NTLMSSP_NEGOTIATE_VERSION;
  if (pairs !== null) flags |= NTLMSSP_NEGOTIATE_TARGET_INFO;

  const name = init.targetName ?? "";
  const nameBytes =
    (flags & NTLMSSP_NEGOTIATE_UNICODE) !== 0
      ? Buffer.from(name, "utf16le")
      : oemBytes(name, "TargetName");
  const infoBytes = pairs === null ? Buffer.alloc(0) : encodeTargetInfo(pairs);
  checkFieldLength(nameBytes.length, "TargetName");
  checkFieldLength(infoBytes.length, "TargetInfo");

  const header = version === null ? TARGET_INFO_FIELDS_END : VERSION_END;
  const out = Buffer.alloc(header + nameBytes.length + infoBytes.length);
  NTLMSSP_SIGNATURE.copy(out, 0);
  out.writeUInt32LE(NTLMSSP_MESSAGE_TYPE.challenge, 8);
  writePayloadField(out, 12, nameBytes.length, header);
  out.writeUInt32LE(flags >>> 0, 20);
  out.set(init.serverChallenge, 24);
  // 32..40 Reserved stays zero.
  writePayloadField(out, 40, infoBytes.length, header + nameBytes.length);
  if (version !== null) writeVersion(out, TARGET_INFO_FIELDS_END, version);
  nameBytes.copy(out, header);
  infoBytes.copy(out, header + nameBytes.length);
  return out;
}

/** Parse a CHALLENGE_MESSAGE. Never throws; reads only inside `bytes`. */
export function decodeChallenge(bytes: Uint8Array): ChallengeMessage | DecodeIssue {
  const bad = checkHeader(bytes, NTLMSSP_MESSAGE_TYPE.challenge, MIN_HEADER, "CHALLENGE");
  if (bad !== null) return bad;
  const v = view(bytes);
  const flags = v.readUInt32LE(20);
  const nameField = readPayloadField(bytes, 12);
  const nameStart = nameField.length > 0 ? nameField.offset : Infinity;

  // The optional header parts exist only if the message is long enough and TargetName does not
  // start inside them.
  const hasContext = bytes.length >= CONTEXT_END && nameStart >= CONTEXT_END;
  const hasInfoFields =
    bytes.length >= TARGET_INFO_FIELDS_END && nameStart >= TARGET_INFO_FIELDS_END;
  const wantsInfo = (flags & NTLMSSP_NEGOTIATE_TARGET_INFO) !== 0;
  if (wantsInfo && !hasInfoFields) {
    return decodeIssue(
      "target-info",
      Math.min(bytes.length, 40),
      "NTLMSSP_NEGOTIATE_TARGET_INFO is set but the header has no TargetInfoFields",
    );
  }
  const infoField: PayloadField | null = hasInfoFields ? readPayloadField(bytes, 40) : null;
  const used: [string, PayloadField][] = [["target-name", nameField]];
  if (wantsInfo && infoField !== null) used.push(["target-info", infoField]);

  const notes: string[] = [];
  const firstPayload = Math.min(
    ...used.filter(([, f]) => f.length > 0).map(([, f]) => f.offset),
    bytes.length,
  );
  const wantsVersion = (flags & NTLMSSP_NEGOTIATE_VERSION) !== 0;
  const hasVersion = wantsVersion && hasInfoFields && firstPayload >= VERSION_END;
  if (wantsVersion && !hasVersion) {
    notes.push("NTLMSSP_NEGOTIATE_VERSION is set but the payload leaves no room for VERSION");
  }
  const headerLength = hasVersion
    ? VERSION_END
    : hasInfoFields
      ? TARGET_INFO_FIELDS_END
      : hasContext
        ? CONTEXT_END
        : MIN_HEADER;
  const bad2 = checkPayloadFields(bytes, headerLength, used);
  if (bad2 !== null) return bad2;

  let targetName: string | null = null;
  if (nameField.length > 0) {
    const text =
      (flags & NTLMSSP_NEGOTIATE_UNICODE) !== 0
        ? readUnicode(bytes, nameField.offset, nameField.length, "target-name", nameField.at)
        : readOem(bytes, nameField.offset, nameField.length);
    if (isDecodeIssue(text)) return text;
    targetName = text;
  }
  let targetInfo: TargetInfo | null = null;
  if (wantsInfo && infoField !== null && infoField.length > 0) {
    const info = decodeTargetInfo(
      bytes.subarray(infoField.offset, infoField.offset + infoField.length),
      infoField.offset,
    );
    if (isDecodeIssue(info)) return info;
    targetInfo = info;
  }
  return {
    flags,
    targetName,
    serverChallenge: Uint8Array.from(bytes.subarray(24, 24 + SERVER_CHALLENGE_LENGTH)),
    targetInfo,
    version: hasVersion ? readVersion(bytes, TARGET_INFO_FIELDS_END) : null,
    headerLength,
    notes,
  };
}
