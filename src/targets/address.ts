/**
 * IP address text <-> integer. Addresses are bigints so that IPv4 and IPv6 share one range
 * algebra; IPv4 also has a number form for the hot paths (a uint32 fits a double exactly).
 */
export type AddressFamily = 4 | 6;

export interface ParsedAddress {
  readonly family: AddressFamily;
  readonly value: bigint;
}

export const IPV4_MAX = 0xffff_ffffn;
export const IPV6_MAX = (1n << 128n) - 1n;

export function familyMax(family: AddressFamily): bigint {
  return family === 4 ? IPV4_MAX : IPV6_MAX;
}

export function familyBits(family: AddressFamily): number {
  return family === 4 ? 32 : 128;
}

const IPV4_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * Strict dotted quad. Unlike inet_aton we refuse the short forms ("127.1") and leading zeros
 * ("010.0.0.1"): inet_aton reads a leading zero as octal, other tools read it as decimal, and a
 * scanner must not guess which address the user meant.
 */
export function parseIPv4(text: string): number | undefined {
  const match = IPV4_PATTERN.exec(text);
  if (match === null) return undefined;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = match[i] ?? "";
    if (octet.length > 1 && octet.startsWith("0")) return undefined;
    const n = Number(octet);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

export function formatIPv4(value: number | bigint): string {
  const n = Number(value);
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

const HEX_GROUP = /^[0-9a-f]{1,4}$/;

function parseGroups(part: string, allowIPv4Tail: boolean): number[] | undefined {
  if (part === "") return [];
  const pieces = part.split(":");
  const groups: number[] = [];
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i] ?? "";
    if (allowIPv4Tail && i === pieces.length - 1 && piece.includes(".")) {
      // RFC 4291 section 2.2 form 3: the low 32 bits may be written as a dotted quad.
      const v4 = parseIPv4(piece);
      if (v4 === undefined) return undefined;
      groups.push(Math.floor(v4 / 0x10000), v4 & 0xffff);
      continue;
    }
    if (!HEX_GROUP.test(piece)) return undefined;
    groups.push(parseInt(piece, 16));
  }
  return groups;
}

/** RFC 4291 section 2.2 text forms. Zone ids ("%eth0") and brackets are not addresses here. */
export function parseIPv6(text: string): bigint | undefined {
  const lower = text.toLowerCase();
  const halves = lower.split("::");
  if (halves.length > 2) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const head = parseGroups(halves[0] ?? "", false);
    const tail = parseGroups(halves[1] ?? "", true);
    if (head === undefined || tail === undefined) return undefined;
    // "::" stands for at least one zero group (RFC 4291 allows it for exactly one too).
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    const all = parseGroups(lower, true);
    if (all === undefined || all.length !== 8) return undefined;
    groups = all;
  }
  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(group);
  return value;
}

const MAPPED_PREFIX = 0xffffn << 32n;

/** True for ::ffff:0:0/96, the IPv4-mapped block (RFC 4291 section 2.5.5.2). */
export function isIPv4Mapped(value: bigint): boolean {
  return value >> 32n === 0xffffn;
}

export const IPV4_MAPPED_FIRST = MAPPED_PREFIX;
export const IPV4_MAPPED_LAST = MAPPED_PREFIX | IPV4_MAX;

/**
 * RFC 5952 canonical text: lower case, no leading zeros, the longest run of two or more zero
 * groups (the first on a tie) becomes "::", and IPv4-mapped addresses keep the dotted quad
 * (section 5), as Node's own resolver prints them.
 */
export function formatIPv6(value: bigint): string {
  if (isIPv4Mapped(value)) return `::ffff:${formatIPv4(value & IPV4_MAX)}`;
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  const head = hex.slice(0, bestStart).join(":");
  const tail = hex.slice(bestStart + bestLength).join(":");
  return `${head}::${tail}`;
}

export function parseAddress(text: string): ParsedAddress | undefined {
  if (text.includes(":")) {
    const value = parseIPv6(text);
    return value === undefined ? undefined : { family: 6, value };
  }
  const v4 = parseIPv4(text);
  return v4 === undefined ? undefined : { family: 4, value: BigInt(v4) };
}

export function formatAddress(family: AddressFamily, value: bigint): string {
  return family === 4 ? formatIPv4(value) : formatIPv6(value);
}
