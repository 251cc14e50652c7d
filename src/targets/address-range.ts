/**
 * Set algebra over inclusive address ranges. Every function returns a normalised list: sorted by
 * (family, first), IPv4 before IPv6, no two ranges overlapping or adjacent. Keeping the lists
 * normalised is what makes exclusions exact at the range edges, where nmap went wrong
 * (nmap/nmap#2257: an --exclude touching the end of a range dropped or kept the wrong address).
 */
import {
  familyBits,
  familyMax,
  formatAddress,
  type AddressFamily,
  type ParsedAddress,
} from "./address.js";

export interface AddressRange {
  readonly family: AddressFamily;
  /** First address, inclusive. */
  readonly first: bigint;
  /** Last address, inclusive. */
  readonly last: bigint;
}

export function compareRanges(a: AddressRange, b: AddressRange): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.first !== b.first) return a.first < b.first ? -1 : 1;
  if (a.last !== b.last) return a.last < b.last ? -1 : 1;
  return 0;
}

export function rangeSize(range: AddressRange): bigint {
  return range.last - range.first + 1n;
}

export function totalSize(ranges: readonly AddressRange[]): bigint {
  let total = 0n;
  for (const range of ranges) total += rangeSize(range);
  return total;
}

/** Sorts, then merges overlapping and adjacent ranges of the same family. */
export function normalizeRanges(ranges: readonly AddressRange[]): AddressRange[] {
  const sorted = [...ranges].sort(compareRanges);
  const out: AddressRange[] = [];
  for (const range of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && last.family === range.family && range.first <= last.last + 1n) {
      if (range.last > last.last) out[out.length - 1] = { ...last, last: range.last };
    } else {
      out.push({ family: range.family, first: range.first, last: range.last });
    }
  }
  return out;
}

export function unionRanges(
  a: readonly AddressRange[],
  b: readonly AddressRange[],
): AddressRange[] {
  return normalizeRanges([...a, ...b]);
}

/** Addresses of `from` that are not in `remove`. */
export function subtractRanges(
  from: readonly AddressRange[],
  remove: readonly AddressRange[],
): AddressRange[] {
  const a = normalizeRanges(from);
  const b = normalizeRanges(remove);
  const out: AddressRange[] = [];
  let j = 0;
  for (const range of a) {
    // Ranges of `b` wholly before `range` are also before every later range of `a`.
    while (j < b.length && isBefore(b[j] as AddressRange, range)) j++;
    let start = range.first;
    for (let k = j; k < b.length; k++) {
      const cut = b[k] as AddressRange;
      if (cut.family !== range.family || cut.first > range.last) break;
      if (cut.first > start) out.push({ family: range.family, first: start, last: cut.first - 1n });
      if (cut.last >= range.last) {
        start = range.last + 1n;
        break;
      }
      if (cut.last + 1n > start) start = cut.last + 1n;
    }
    if (start <= range.last) out.push({ family: range.family, first: start, last: range.last });
  }
  return out;
}

function isBefore(candidate: AddressRange, range: AddressRange): boolean {
  return (
    candidate.family < range.family ||
    (candidate.family === range.family && candidate.last < range.first)
  );
}

/** Addresses in both `a` and `b`. */
export function intersectRanges(
  a: readonly AddressRange[],
  b: readonly AddressRange[],
): AddressRange[] {
  const left = normalizeRanges(a);
  const right = normalizeRanges(b);
  const out: AddressRange[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length && j < right.length) {
    const x = left[i] as AddressRange;
    const y = right[j] as AddressRange;
    if (x.family !== y.family) {
      if (x.family < y.family) i++;
      else j++;
      continue;
    }
    const first = x.first > y.first ? x.first : y.first;
    const last = x.last < y.last ? x.last : y.last;
    // Both inputs are normalised, so the pieces come out disjoint and never adjacent.
    if (first <= last) out.push({ family: x.family, first, last });
    if (x.last < y.last) i++;
    else j++;
  }
  return out;
}

/** Binary search in a normalised list. */
export function rangesContain(ranges: readonly AddressRange[], address: ParsedAddress): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const range = ranges[mid] as AddressRange;
    if (
      range.family < address.family ||
      (range.family === address.family && range.last < address.value)
    ) {
      lo = mid + 1;
    } else if (range.family > address.family || range.first > address.value) {
      hi = mid - 1;
    } else {
      return true;
    }
  }
  return false;
}

/** The range of `prefix`/`length`; host bits in `value` are ignored (nmap does the same). */
export function cidrRange(family: AddressFamily, value: bigint, length: number): AddressRange {
  const hostBits = BigInt(familyBits(family) - length);
  const hostMask = (1n << hostBits) - 1n;
  const first = value & ~hostMask & familyMax(family);
  return { family, first, last: first | hostMask };
}

/** Prefix length if `range` is exactly one CIDR block, otherwise undefined. */
export function cidrLength(range: AddressRange): number | undefined {
  const size = rangeSize(range);
  if ((size & (size - 1n)) !== 0n) return undefined;
  if ((range.first & (size - 1n)) !== 0n) return undefined;
  let hostBits = 0;
  while (1n << BigInt(hostBits) < size) hostBits++;
  return familyBits(range.family) - hostBits;
}

/**
 * Shortest expression that parses back to the same range: a single address, a CIDR block, or a
 * dash range.
 */
export function formatRange(range: AddressRange): string {
  const first = formatAddress(range.family, range.first);
  if (range.first === range.last) return first;
  const length = cidrLength(range);
  if (length !== undefined) return `${first}/${length}`;
  return `${first}-${formatAddress(range.family, range.last)}`;
}
