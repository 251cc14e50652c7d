import { decodeIssue, type DecodeIssue } from "../netbios/decode-issue.js";

/**
 * A small, bounded DER reader and writer for the handful of ASN.1 types SPNEGO uses (X.690
 * §8 and §10). Only what RFC 4178 / RFC 2743 need: low-tag-number identifiers, definite lengths
 * of at most 4 length octets, OBJECT IDENTIFIER, ENUMERATED, BIT STRING, OCTET STRING and
 * GeneralString. Everything is checked against the enclosing element; nothing is read past it.
 * There is deliberately no generic recursive parser: callers walk a fixed grammar, so the nesting
 * depth is bounded by the code (six levels for SPNEGO), never by the input.
 */

/** X.690 §8.1.2.2: class bits and the constructed bit of an identifier octet. */
export const DER_CONSTRUCTED = 0x20;
export const DER_CONTEXT = 0x80;
export const DER_APPLICATION = 0x40;

/** Universal tags used here (X.680 §8.4). */
export const DER_TAG = {
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  enumerated: 0x0a,
  generalString: 0x1b,
  sequence: 0x30,
} as const;

/** Length octets accepted in the long form: 4 (X.690 §8.1.3.5 allows 126; SPNEGO needs 2). */
const MAX_LENGTH_OCTETS = 4;
/** OID subidentifiers beyond 2^53 cannot be held exactly in a number; they are refused. */
const MAX_SUBIDENTIFIER = Number.MAX_SAFE_INTEGER;

export interface DerElement {
  /** The identifier octet, e.g. 0x30 SEQUENCE, 0xa0 [0] constructed, 0x60 [APPLICATION 0]. */
  readonly tag: number;
  /** Offset of the identifier octet in the original input. */
  readonly offset: number;
  /** Just past the element, in the coordinates of the `bytes` given to readElement. */
  readonly next: number;
  /** The contents octets (a view into the input). */
  readonly value: Uint8Array;
  /** Offset of the contents in the original input. */
  readonly valueOffset: number;
}

/**
 * Read one TLV at `pos`, which must end at or before `limit`. `base` is added to every reported
 * offset so that issues point into the original message. Never throws.
 */
export function readElement(
  bytes: Uint8Array,
  pos: number,
  limit: number,
  what: string,
  base = 0,
): DerElement | DecodeIssue {
  if (pos >= limit) return decodeIssue(what, base + pos, `expected ${what}, found the end`, 1);
  const tag = bytes[pos]!;
  // X.690 §8.1.2.4: tag number 31 announces the high-tag-number form, unused by SPNEGO.
  if ((tag & 0x1f) === 0x1f) {
    return decodeIssue(what, base + pos, "high-tag-number identifiers are not used by SPNEGO");
  }
  if (pos + 1 >= limit) return decodeIssue(what, base + pos + 1, "cut short before the length", 1);
  const first = bytes[pos + 1]!;
  let length: number;
  let valueStart: number;
  if (first < 0x80) {
    // X.690 §8.1.3.4 short form.
    length = first;
    valueStart = pos + 2;
  } else if (first === 0x80) {
    // X.690 §8.1.3.6: indefinite form, forbidden by DER (§10.1).
    return decodeIssue(what, base + pos + 1, "indefinite length (BER only; DER requires definite)");
  } else {
    // X.690 §8.1.3.5 long form: the low 7 bits count the length octets (0x7f is reserved).
    const count = first & 0x7f;
    if (count > MAX_LENGTH_OCTETS) {
      return decodeIssue(what, base + pos + 1, `${count} length octets (at most 4 accepted)`);
    }
    if (pos + 2 + count > limit) {
      return decodeIssue(
        what,
        base + pos + 2,
        "cut short in the length octets",
        pos + 2 + count - limit,
      );
    }
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[pos + 2 + i]!;
    valueStart = pos + 2 + count;
  }
  if (valueStart + length > limit) {
    return decodeIssue(
      what,
      base + pos,
      `length ${length} runs past the enclosing element`,
      valueStart + length - limit,
    );
  }
  return {
    tag,
    offset: base + pos,
    next: valueStart + length,
    value: bytes.subarray(valueStart, valueStart + length),
    valueOffset: base + valueStart,
  };
}

/**
 * The elements of a constructed value, in order. At most value.length / 2 of them (each takes
 * two octets at least), so the work and the array are bounded by the input.
 */
export function readChildren(parent: DerElement, what: string): DerElement[] | DecodeIssue {
  if ((parent.tag & DER_CONSTRUCTED) === 0) {
    return decodeIssue(what, parent.offset, `${what} must be constructed`);
  }
  const children: DerElement[] = [];
  let pos = 0;
  while (pos < parent.value.length) {
    const child = readElement(parent.value, pos, parent.value.length, what, parent.valueOffset);
    if ("kind" in child) return child;
    children.push(child);
    pos = child.next;
  }
  return children;
}

/** The single element a context-specific [n] EXPLICIT wrapper holds. */
export function readExplicit(wrapper: DerElement, what: string): DerElement | DecodeIssue {
  const children = readChildren(wrapper, what);
  if ("kind" in children) return children;
  if (children.length !== 1) {
    return decodeIssue(
      what,
      wrapper.offset,
      `${what} must hold exactly one element, found ${children.length}`,
    );
  }
  return children[0]!;
}

/** Check an element's tag. */
export function expectTag(el: DerElement, tag: number, what: string): DecodeIssue | null {
  return el.tag === tag
    ? null
    : decodeIssue(
        what,
        el.offset,
        `${what}: expected tag 0x${tag.toString(16)}, found 0x${el.tag.toString(16)}`,
      );
}

/** X.690 §8.19: OBJECT IDENTIFIER contents to dotted form. */
export function decodeOid(el: DerElement, what = "oid"): string | DecodeIssue {
  const bad = expectTag(el, DER_TAG.oid, what);
  if (bad !== null) return bad;
  const bytes = el.value;
  if (bytes.length === 0) return decodeIssue(what, el.offset, "empty OBJECT IDENTIFIER");
  const arcs: number[] = [];
  let value = 0;
  let fresh = true;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    // X.690 §8.19.2: a subidentifier's first octet is never 0x80 (no leading zero groups).
    if (fresh && b === 0x80) {
      return decodeIssue(what, el.valueOffset + i, "non-minimal OID subidentifier");
    }
    value = value * 128 + (b & 0x7f);
    if (value > MAX_SUBIDENTIFIER) {
      return decodeIssue(what, el.valueOffset + i, "OID subidentifier too large");
    }
    fresh = (b & 0x80) === 0;
    if (fresh) {
      if (arcs.length === 0) {
        // X.690 §8.19.4: the first subidentifier is X*40 + Y, X in 0..2.
        const x = value < 40 ? 0 : value < 80 ? 1 : 2;
        arcs.push(x, value - x * 40);
      } else {
        arcs.push(value);
      }
      value = 0;
    }
  }
  if (!fresh) {
    return decodeIssue(what, el.valueOffset + bytes.length, "OID ends inside a subidentifier");
  }
  return arcs.join(".");
}

/** X.690 §8.19: dotted OID to its contents octets. Throws RangeError on a malformed OID. */
export function oidContents(oid: string): Buffer {
  const arcs = oid.split(".").map((part) => (/^\d+$/.test(part) ? Number(part) : NaN));
  const [x, y] = arcs;
  if (
    arcs.length < 2 ||
    arcs.some((a) => !Number.isSafeInteger(a)) ||
    x === undefined ||
    y === undefined ||
    x > 2 ||
    (x < 2 && y > 39)
  ) {
    throw new RangeError(`not an OBJECT IDENTIFIER: ${JSON.stringify(oid)}`);
  }
  const out: number[] = [];
  for (const sub of [x * 40 + y, ...arcs.slice(2)]) {
    const groups: number[] = [];
    let rest = sub;
    do {
      groups.unshift(rest % 128);
      rest = Math.floor(rest / 128);
    } while (rest > 0);
    for (let i = 0; i < groups.length - 1; i++) groups[i] = groups[i]! | 0x80;
    out.push(...groups);
  }
  return Buffer.from(out);
}

/** X.690 §8.4 / §8.3: a small ENUMERATED or INTEGER (at most 4 octets), two's complement. */
export function decodeSmallInteger(
  el: DerElement,
  tag: number,
  what: string,
): number | DecodeIssue {
  const bad = expectTag(el, tag, what);
  if (bad !== null) return bad;
  if (el.value.length === 0 || el.value.length > 4) {
    return decodeIssue(what, el.offset, `${what} must be 1 to 4 octets, got ${el.value.length}`);
  }
  let value = 0;
  for (const b of el.value) value = value * 256 + b;
  return (el.value[0]! & 0x80) !== 0 ? value - 256 ** el.value.length : value;
}

/** X.690 §10.2: definite length in the fewest octets. */
function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const octets: number[] = [];
  let rest = length;
  while (rest > 0) {
    octets.unshift(rest & 0xff);
    rest = Math.floor(rest / 256);
  }
  return Buffer.from([0x80 | octets.length, ...octets]);
}

/** One DER element with the given identifier octet and contents. */
export function tlv(tag: number, ...contents: Uint8Array[]): Buffer {
  const body = Buffer.concat(contents);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}
