import { decodeIssue, type DecodeIssue } from "./decode-issue.js";

/**
 * NetBIOS names on the wire (RFC 1001 §14.1 "first-level encoding", RFC 1002 §4.1 "name format").
 *
 * A NetBIOS name is 16 bytes: 15 name bytes padded (with spaces, or NULs for the "*" wildcard)
 * plus a suffix byte that says which service registered it (<00> workstation, <20> server...).
 * On the wire it is "half-ASCII" encoded into a 32-byte DNS label, each nibble + 'A', optionally
 * followed by NetBIOS scope labels, and may be replaced by an RFC 1035 §4.1.4 compression pointer.
 */

/** The bytes of a NetBIOS name excluding the suffix. */
export const NETBIOS_NAME_LENGTH = 15;

/** RFC 1035 §2.3.4: a domain name is at most 255 octets on the wire; RFC 1002 keeps the limit. */
const MAX_WIRE_NAME = 255;
const ENCODED_LABEL_LENGTH = 32;

/**
 * Pad a name to 15 bytes. RFC 1002 §4.2.17 pads the wildcard "*" with NULs (nmap, nbtscan and
 * Windows all send `CKAAAA…`); every other name is padded with spaces (RFC 1001 §14.1).
 */
export function netbiosNameBytes(name: string, suffix: number): Buffer {
  if (name.length === 0 || name.length > NETBIOS_NAME_LENGTH) {
    throw new RangeError(`NetBIOS name must be 1 to 15 characters, got ${JSON.stringify(name)}`);
  }
  if (!Number.isInteger(suffix) || suffix < 0 || suffix > 0xff) {
    throw new RangeError(`NetBIOS suffix must be a byte, got ${suffix}`);
  }
  const out = Buffer.alloc(NETBIOS_NAME_LENGTH + 1, name === "*" ? 0x00 : 0x20);
  const raw = Buffer.from(name, "latin1");
  if (raw.length !== name.length) throw new RangeError("NetBIOS names are single-byte (latin1)");
  raw.copy(out, 0);
  out[NETBIOS_NAME_LENGTH] = suffix;
  return out;
}

/** 15 raw name bytes → the name as users see it: trailing padding removed. */
export function netbiosNameFromBytes(bytes: Uint8Array): string {
  let end = Math.min(bytes.length, NETBIOS_NAME_LENGTH);
  // Spaces are the RFC padding; NULs pad the wildcard and appear in some buggy stacks.
  while (end > 0 && (bytes[end - 1] === 0x20 || bytes[end - 1] === 0x00)) end--;
  return Buffer.from(bytes.subarray(0, end)).toString("latin1");
}

/** First-level encode `name<suffix>` into a complete wire name (length byte, 32 chars, root). */
export function encodeNetbiosName(name: string, suffix: number): Buffer {
  const raw = netbiosNameBytes(name, suffix);
  const out = Buffer.alloc(ENCODED_LABEL_LENGTH + 2);
  out[0] = ENCODED_LABEL_LENGTH;
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i] ?? 0;
    out[1 + 2 * i] = 0x41 + (byte >> 4);
    out[2 + 2 * i] = 0x41 + (byte & 0x0f);
  }
  out[ENCODED_LABEL_LENGTH + 1] = 0; // root label: no NetBIOS scope
  return out;
}

export interface WireName {
  /** Decoded NetBIOS name (padding trimmed), or null when the first label is not a NetBIOS name. */
  readonly name: string | null;
  readonly suffix: number | null;
  /** NetBIOS scope (the labels after the first), dot-joined; "" when none. */
  readonly scope: string;
  /** Offset just after the name in the original position (after a pointer, not its target). */
  readonly next: number;
}

/**
 * Read a (possibly compressed) name at `offset`. Hostile input cannot make this loop or allocate
 * beyond the buffer: every pointer must point strictly before the start of the previous segment,
 * so segment starts strictly decrease, and the total is capped at 255 bytes (RFC 1035 §2.3.4).
 */
export function readWireName(bytes: Uint8Array, offset: number): WireName | DecodeIssue {
  const labels: Uint8Array[] = [];
  let pos = offset;
  let segmentStart = offset;
  let next = -1;
  let total = 0;
  for (;;) {
    if (pos >= bytes.length) {
      return decodeIssue("name", pos, "name runs past the end of the datagram", 1);
    }
    const len = bytes[pos] ?? 0;
    const tag = len & 0xc0;
    if (tag === 0xc0) {
      // RFC 1035 §4.1.4 compression pointer: 14-bit offset from the start of the message.
      if (pos + 2 > bytes.length) {
        return decodeIssue("name", pos, "compression pointer cut short", pos + 2 - bytes.length);
      }
      const target = ((len & 0x3f) << 8) | (bytes[pos + 1] ?? 0);
      if (target >= segmentStart) {
        return decodeIssue(
          "name",
          pos,
          `compression pointer to ${target} does not point backwards`,
        );
      }
      if (next < 0) next = pos + 2;
      pos = target;
      segmentStart = target;
      continue;
    }
    if (tag !== 0) {
      // 0x40 and 0x80 are reserved label types (RFC 1035 §4.1.4, RFC 6891 §5).
      return decodeIssue("name", pos, `reserved label type 0x${tag.toString(16)}`);
    }
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    total += len + 1;
    if (total + 1 > MAX_WIRE_NAME) {
      return decodeIssue("name", pos, "name is longer than 255 bytes");
    }
    if (pos + 1 + len > bytes.length) {
      return decodeIssue(
        "name",
        pos,
        "label runs past the end of the datagram",
        pos + 1 + len - bytes.length,
      );
    }
    labels.push(bytes.subarray(pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  const first = labels[0];
  const scope = labels
    .slice(1)
    .map((l) => Buffer.from(l).toString("latin1"))
    .join(".");
  const decoded = first === undefined ? null : decodeFirstLevel(first);
  return {
    name: decoded === null ? null : netbiosNameFromBytes(decoded.subarray(0, NETBIOS_NAME_LENGTH)),
    suffix: decoded === null ? null : (decoded[NETBIOS_NAME_LENGTH] ?? null),
    scope,
    next,
  };
}

/** Undo first-level encoding of a 32-byte label; null if it is not one (wrong size or letters). */
function decodeFirstLevel(label: Uint8Array): Buffer | null {
  if (label.length !== ENCODED_LABEL_LENGTH) return null;
  const out = Buffer.alloc(ENCODED_LABEL_LENGTH / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = (label[2 * i] ?? 0) - 0x41;
    const lo = (label[2 * i + 1] ?? 0) - 0x41;
    if (hi < 0 || hi > 15 || lo < 0 || lo > 15) return null;
    out[i] = (hi << 4) | lo;
  }
  return out;
}
