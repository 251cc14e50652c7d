/**
 * Canonical address sets: a list of CIDR prefixes, IPv4 before IPv6, sorted, with no prefix
 * inside or next to another that could merge with it. The list is the minimal CIDR cover of the
 * set's address ranges, so two spellings of the same addresses give the same list, byte for byte,
 * and every generator renders the same addresses whatever order the user wrote them in.
 */
import {
  normalizeRanges,
  parseRangeExpression,
  type AddressFamily,
  type AddressRange,
} from "../../targets/index.js";
import { cidrRange } from "../../targets/address-range.js";
import { formatAddress } from "../../targets/address.js";

export interface Prefix {
  readonly family: AddressFamily;
  /** The network address (host bits zero). */
  readonly value: bigint;
  readonly length: number;
}

const BITS: Record<AddressFamily, number> = { 4: 32, 6: 128 };

/** The whole IPv4 and IPv6 spaces, as ranges. */
export const ALL_RANGES: readonly AddressRange[] = Object.freeze([
  { family: 4, first: 0n, last: (1n << 32n) - 1n },
  { family: 6, first: 0n, last: (1n << 128n) - 1n },
]);

export function prefixRange(prefix: Prefix): AddressRange {
  return cidrRange(prefix.family, prefix.value, prefix.length);
}

/** The minimal CIDR cover of `ranges` (normalised first), in canonical order. */
export function prefixesOf(ranges: readonly AddressRange[]): Prefix[] {
  const out: Prefix[] = [];
  for (const range of normalizeRanges(ranges)) {
    const bits = BITS[range.family];
    let first = range.first;
    while (first <= range.last) {
      // The largest aligned block starting at `first` that stays inside the range.
      let size = 1n;
      let hostBits = 0;
      while (hostBits < bits) {
        const next = size << 1n;
        if ((first & (next - 1n)) !== 0n || first + next - 1n > range.last) break;
        size = next;
        hostBits++;
      }
      out.push(Object.freeze({ family: range.family, value: first, length: bits - hostBits }));
      first += size;
    }
  }
  return out;
}

export function rangesOf(prefixes: readonly Prefix[]): AddressRange[] {
  return normalizeRanges(prefixes.map(prefixRange));
}

/** `10.0.0.0/8`; a single address keeps its prefix length (`203.0.113.10/32`). */
export function formatPrefix(prefix: Prefix): string {
  return `${formatAddress(prefix.family, prefix.value)}/${prefix.length}`;
}

/** `203.0.113.10` for a /32 or /128, else `10.0.0.0/8`: the plan file's spelling. */
export function formatPrefixShort(prefix: Prefix): string {
  return prefix.length === BITS[prefix.family]
    ? formatAddress(prefix.family, prefix.value)
    : formatPrefix(prefix);
}

export function isHostPrefix(prefix: Prefix): boolean {
  return prefix.length === BITS[prefix.family];
}

/** The IPv4 netmask of a prefix (`255.255.255.0`), or its wildcard (`0.0.0.255`, Cisco). */
export function ipv4Mask(length: number, wildcard = false): string {
  const mask = length === 0 ? 0n : ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - length)) - 1n);
  return formatAddress(4, wildcard ? mask ^ ((1n << 32n) - 1n) : mask);
}

/**
 * Parses address expressions (addresses, CIDR blocks, dash ranges) into ranges; returns the
 * first text that does not parse, with the reason.
 */
export function parseAddressList(
  texts: readonly string[],
): { ranges: AddressRange[] } | { bad: string; reason: string } {
  const ranges: AddressRange[] = [];
  for (const text of texts) {
    const parsed = parseRangeExpression(text.trim());
    if ("reason" in parsed) return { bad: text, reason: parsed.reason };
    ranges.push(parsed);
  }
  return { ranges: normalizeRanges(ranges) };
}

export function familiesOf(prefixes: readonly Prefix[]): Set<AddressFamily> {
  return new Set(prefixes.map((p) => p.family));
}

export function comparePrefixes(a: Prefix, b: Prefix): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.value !== b.value) return a.value < b.value ? -1 : 1;
  return a.length - b.length;
}
