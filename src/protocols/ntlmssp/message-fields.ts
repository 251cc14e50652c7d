import { decodeIssue, type DecodeIssue } from "../netbios/decode-issue.js";

/**
 * Pieces every NTLMSSP message shares (MS-NLMP §2.2.1): the 8-byte signature, the message type,
 * the 8-byte "fields" descriptors (Len, MaxLen, BufferOffset) that point into the payload, and
 * the VERSION structure (§2.2.2.10).
 */

/** MS-NLMP §2.2.1: Signature, "NTLMSSP\0". */
export const NTLMSSP_SIGNATURE = Buffer.from("NTLMSSP\0", "latin1");

/** MS-NLMP §2.2.1: MessageType values. */
export const NTLMSSP_MESSAGE_TYPE = {
  negotiate: 1,
  challenge: 2,
  authenticate: 3,
} as const;

/** MS-NLMP §2.2.2.10: NTLMRevisionCurrent of every NTLM since Windows Server 2003. */
export const NTLMSSP_REVISION_W2K3 = 0x0f;

/** MS-NLMP §2.2.2.10 VERSION. `build` is ProductBuild (little-endian 16-bit). */
export interface NtlmVersion {
  readonly major: number;
  readonly minor: number;
  readonly build: number;
  readonly ntlmRevision: number;
}

export const VERSION_LENGTH = 8;

/** A payload descriptor: Len (2), MaxLen (2), BufferOffset (4), MS-NLMP §2.2.1.1–2.2.1.3. */
export interface PayloadField {
  readonly length: number;
  readonly offset: number;
  /** Where the descriptor itself sits, for issue offsets. */
  readonly at: number;
}

export function view(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** True when `bytes` starts with the NTLMSSP signature (a raw, non-SPNEGO token). */
export function isNtlmsspToken(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && view(bytes).subarray(0, 8).equals(NTLMSSP_SIGNATURE);
}

/** The MessageType of an NTLMSSP token, or null if it is not one (or too short to tell). */
export function ntlmsspMessageType(bytes: Uint8Array): number | null {
  return isNtlmsspToken(bytes) && bytes.length >= 12 ? view(bytes).readUInt32LE(8) : null;
}

/** Checks the signature and MessageType and that `minLength` bytes are present. */
export function checkHeader(
  bytes: Uint8Array,
  messageType: number,
  minLength: number,
  what: string,
): DecodeIssue | null {
  if (bytes.length < 8 || !isNtlmsspToken(bytes)) {
    return bytes.length < 8 && NTLMSSP_SIGNATURE.subarray(0, bytes.length).equals(view(bytes))
      ? decodeIssue("signature", 0, "cut short in the NTLMSSP signature", 8 - bytes.length)
      : decodeIssue("signature", 0, 'not an NTLMSSP message (no "NTLMSSP\\0" signature)');
  }
  if (bytes.length < 12) {
    return decodeIssue("message-type", 8, "cut short before MessageType", 12 - bytes.length);
  }
  const type = view(bytes).readUInt32LE(8);
  if (type !== messageType) {
    return decodeIssue("message-type", 8, `MessageType ${type} is not ${what} (${messageType})`);
  }
  if (bytes.length < minLength) {
    return decodeIssue(
      "header",
      bytes.length,
      `${what} header cut short: ${bytes.length} of ${minLength} bytes`,
      minLength - bytes.length,
    );
  }
  return null;
}

export function readPayloadField(bytes: Uint8Array, at: number): PayloadField {
  const v = view(bytes);
  // MaxLen (at + 2) "SHOULD be set to the value of Len" and "MUST be ignored on receipt".
  return { length: v.readUInt16LE(at), offset: v.readUInt32LE(at + 4), at };
}

export function writePayloadField(out: Buffer, at: number, length: number, offset: number): void {
  out.writeUInt16LE(length, at);
  out.writeUInt16LE(length, at + 2);
  out.writeUInt32LE(offset, at + 4);
}

/**
 * Checks that every non-empty field lies inside the message, after `headerEnd`, and that no two
 * overlap. Empty fields are not checked: MS-NLMP lets their offset point anywhere.
 */
export function checkPayloadFields(
  bytes: Uint8Array,
  headerEnd: number,
  fields: readonly (readonly [string, PayloadField])[],
): DecodeIssue | null {
  const present = fields.filter(([, f]) => f.length > 0);
  for (const [name, f] of present) {
    if (f.offset < headerEnd) {
      return decodeIssue(
        name,
        f.at,
        `${name} at offset ${f.offset} overlaps the fixed header (ends at ${headerEnd})`,
      );
    }
    if (f.offset + f.length > bytes.length) {
      return decodeIssue(
        name,
        f.at,
        `${name} (offset ${f.offset}, length ${f.length}) runs past the ${bytes.length}-byte message`,
        f.offset + f.length - bytes.length,
      );
    }
  }
  for (let i = 0; i < present.length; i++) {
    for (let j = i + 1; j < present.length; j++) {
      const [aName, a] = present[i]!;
      const [bName, b] = present[j]!;
      if (a.offset < b.offset + b.length && b.offset < a.offset + a.length) {
        return decodeIssue(bName, b.at, `${bName} overlaps ${aName}`);
      }
    }
  }
  return null;
}

export function readVersion(bytes: Uint8Array, at: number): NtlmVersion {
  const v = view(bytes);
  return {
    major: v.readUInt8(at),
    minor: v.readUInt8(at + 1),
    build: v.readUInt16LE(at + 2),
    // at + 4..6: Reserved
    ntlmRevision: v.readUInt8(at + 7),
  };
}

export function writeVersion(out: Buffer, at: number, version: NtlmVersion): void {
  checkByte(version.major, "VERSION major");
  checkByte(version.minor, "VERSION minor");
  checkByte(version.ntlmRevision, "VERSION ntlmRevision");
  if (!Number.isInteger(version.build) || version.build < 0 || version.build > 0xffff) {
    throw new RangeError(`VERSION build must be a 16-bit integer, got ${version.build}`);
  }
  out.writeUInt8(version.major, at);
  out.writeUInt8(version.minor, at + 1);
  out.writeUInt16LE(version.build, at + 2);
  out.fill(0, at + 4, at + 7);
  out.writeUInt8(version.ntlmRevision, at + 7);
}

function checkByte(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) {
    throw new RangeError(`${what} must be a byte, got ${value}`);
  }
}

/** NegotiateFlags as unsigned; a negative int32 from `|`-ing 0x80000000 is taken as its bits. */
export function checkFlags(flags: number): number {
  if (!Number.isInteger(flags) || flags < -0x80000000 || flags > 0xffffffff) {
    throw new RangeError(`NegotiateFlags must be a 32-bit integer, got ${flags}`);
  }
  return flags >>> 0;
}

/** UTF-16LE, rejecting odd lengths (MS-NLMP strings are whole code units). */
export function readUnicode(
  bytes: Uint8Array,
  offset: number,
  length: number,
  what: string,
  at: number,
): string | DecodeIssue {
  if (length % 2 !== 0) {
    return decodeIssue(what, at, `${what} is UTF-16 but has an odd length (${length})`);
  }
  return view(bytes).toString("utf16le", offset, offset + length);
}

/** OEM strings: the code page is the peer's, unknowable here; Latin-1 keeps every byte. */
export function readOem(bytes: Uint8Array, offset: number, length: number): string {
  return view(bytes).toString("latin1", offset, offset + length);
}

export function oemBytes(text: string, what: string): Buffer {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0xff) {
      throw new RangeError(`${what} must be single-byte (OEM) text, got ${JSON.stringify(text)}`);
    }
  }
  return Buffer.from(text, "latin1");
}

export function checkFieldLength(length: number, what: string): void {
  if (length > 0xffff) throw new RangeError(`${what} is ${length} bytes; at most 65535 fit`);
}
