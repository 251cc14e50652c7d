import { decodeIssue, isDecodeIssue, type DecodeIssue } from "../netbios/decode-issue.js";
import { readUnicode, view } from "./message-fields.js";

/**
 * CHALLENGE TargetInfo: a list of AV_PAIRs ending with MsvAvEOL, MS-NLMP §2.2.2.1.
 * Each pair is AvId (2, LE), AvLen (2, LE), Value (AvLen bytes).
 */

/** MS-NLMP §2.2.2.1 AvId values. */
export const AV_ID = {
  eol: 0x0000,
  nbComputerName: 0x0001,
  nbDomainName: 0x0002,
  dnsComputerName: 0x0003,
  dnsDomainName: 0x0004,
  dnsTreeName: 0x0005,
  flags: 0x0006,
  timestamp: 0x0007,
  singleHost: 0x0008,
  targetName: 0x0009,
  channelBindings: 0x000a,
} as const;

export interface AvPair {
  readonly id: number;
  readonly value: Uint8Array;
}

/**
 * The decoded TargetInfo. `pairs` keeps every pair in wire order (without the terminating EOL)
 * so that a re-encode is byte-exact; the named fields hold the first pair of each known id.
 */
export interface TargetInfo {
  readonly pairs: readonly AvPair[];
  /** MsvAvNbComputerName (1), UTF-16LE. */
  readonly nbComputerName?: string;
  /** MsvAvNbDomainName (2). */
  readonly nbDomainName?: string;
  /** MsvAvDnsComputerName (3). */
  readonly dnsComputerName?: string;
  /** MsvAvDnsDomainName (4). */
  readonly dnsDomainName?: string;
  /** MsvAvDnsTreeName (5): the forest. */
  readonly dnsTreeName?: string;
  /** MsvAvFlags (6), 32-bit. */
  readonly flags?: number;
  /** MsvAvTimestamp (7): the server's clock as a FILETIME, rendered as ISO 8601 (ms precision). */
  readonly timestamp?: string;
  /** MsvAvTargetName (9), an SPN; clients send it in AUTHENTICATE. */
  readonly targetName?: string;
}

/** Named fields for `buildTargetInfo`, in the order Windows writes them. */
export interface TargetInfoInit {
  readonly nbDomainName?: string;
  readonly nbComputerName?: string;
  readonly dnsDomainName?: string;
  readonly dnsComputerName?: string;
  readonly dnsTreeName?: string;
  readonly flags?: number;
  /** FILETIME (100 ns since 1601-01-01 UTC) or an ISO 8601 instant. */
  readonly timestamp?: bigint | string;
  readonly targetName?: string;
}

const PAIR_HEADER = 4;
type StringKey =
  | "nbComputerName"
  | "nbDomainName"
  | "dnsComputerName"
  | "dnsDomainName"
  | "dnsTreeName"
  | "targetName";
const STRING_IDS: ReadonlyMap<number, StringKey> = new Map<number, StringKey>([
  [AV_ID.nbComputerName, "nbComputerName"],
  [AV_ID.nbDomainName, "nbDomainName"],
  [AV_ID.dnsComputerName, "dnsComputerName"],
  [AV_ID.dnsDomainName, "dnsDomainName"],
  [AV_ID.dnsTreeName, "dnsTreeName"],
  [AV_ID.targetName, "targetName"],
]);
/** FILETIME epoch (1601-01-01) to Unix epoch, in milliseconds. */
const FILETIME_UNIX_OFFSET_MS = 11_644_473_600_000n;

/**
 * Parse TargetInfo. `base` is where the list sits in the enclosing message, for issue offsets.
 * Never throws; at most length/4 pairs; the list must end with MsvAvEOL.
 */
export function decodeTargetInfo(bytes: Uint8Array, base = 0): TargetInfo | DecodeIssue {
  const v = view(bytes);
  const pairs: AvPair[] = [];
  const named: { -readonly [K in keyof TargetInfo]?: TargetInfo[K] } = {};
  let pos = 0;
  for (;;) {
    if (pos + PAIR_HEADER > bytes.length) {
      return decodeIssue(
        "av-pair",
        base + pos,
        "TargetInfo ends without MsvAvEOL",
        pos + PAIR_HEADER - bytes.length,
      );
    }
    const id = v.readUInt16LE(pos);
    const length = v.readUInt16LE(pos + 2);
    const start = pos + PAIR_HEADER;
    if (start + length > bytes.length) {
      return decodeIssue(
        "av-pair",
        base + pos,
        `AV_PAIR ${id} (AvLen ${length}) runs past TargetInfo`,
        start + length - bytes.length,
      );
    }
    if (id === AV_ID.eol) {
      if (length !== 0) return decodeIssue("av-pair", base + pos, "MsvAvEOL with a non-zero AvLen");
      break;
    }
    // A copy, so that the decoded value does not alias the caller's receive buffer.
    pairs.push({ id, value: Uint8Array.from(bytes.subarray(start, start + length)) });
    pos = start + length;

    const stringKey = STRING_IDS.get(id);
    if (stringKey !== undefined) {
      const text = readUnicode(bytes, start, length, `av-pair-${id}`, base + start);
      if (isDecodeIssue(text)) return text;
      if (named[stringKey] === undefined) named[stringKey] = text;
    } else if (id === AV_ID.flags || id === AV_ID.timestamp) {
      const want = id === AV_ID.flags ? 4 : 8;
      if (length !== want) {
        return decodeIssue(
          `av-pair-${id}`,
          base + start - PAIR_HEADER,
          `${id === AV_ID.flags ? "MsvAvFlags" : "MsvAvTimestamp"} must be ${want} bytes, got ${length}`,
        );
      }
      if (id === AV_ID.flags) named.flags ??= v.readUInt32LE(start);
      else named.timestamp ??= filetimeToIso(v.readBigUInt64LE(start));
    }
  }
  return { ...named, pairs };
}

/** Serialise AV_PAIRs and the terminating MsvAvEOL (an EOL inside `pairs` is refused). */
export function encodeTargetInfo(pairs: readonly AvPair[]): Buffer {
  let length = PAIR_HEADER;
  for (const pair of pairs) {
    if (!Number.isInteger(pair.id) || pair.id <= 0 || pair.id > 0xffff) {
      throw new RangeError(`AvId must be 1..65535 (EOL is added for you), got ${pair.id}`);
    }
    if (pair.value.length > 0xffff) throw new RangeError(`AV_PAIR ${pair.id} value too long`);
    length += PAIR_HEADER + pair.value.length;
  }
  const out = Buffer.alloc(length);
  let pos = 0;
  for (const pair of pairs) {
    pos = out.writeUInt16LE(pair.id, pos);
    pos = out.writeUInt16LE(pair.value.length, pos);
    out.set(pair.value, pos);
    pos += pair.value.length;
  }
  // The closing MsvAvEOL is the four zero bytes Buffer.alloc left.
  return out;
}

/**
 * AV_PAIRs from named fields, in the order Windows Server writes them (NbDomainName,
 * NbComputerName, DnsDomainName, DnsComputerName, DnsTreeName, Timestamp); Flags and TargetName,
 * which servers do not send, go last.
 */
export function buildTargetInfo(init: TargetInfoInit): AvPair[] {
  const pairs: AvPair[] = [];
  const text = (id: number, value: string | undefined) => {
    if (value !== undefined) pairs.push({ id, value: Buffer.from(value, "utf16le") });
  };
  text(AV_ID.nbDomainName, init.nbDomainName);
  text(AV_ID.nbComputerName, init.nbComputerName);
  text(AV_ID.dnsDomainName, init.dnsDomainName);
  text(AV_ID.dnsComputerName, init.dnsComputerName);
  text(AV_ID.dnsTreeName, init.dnsTreeName);
  if (init.timestamp !== undefined) {
    const filetime =
      typeof init.timestamp === "bigint" ? init.timestamp : isoToFiletime(init.timestamp);
    const value = Buffer.alloc(8);
    value.writeBigUInt64LE(filetime);
    pairs.push({ id: AV_ID.timestamp, value });
  }
  if (init.flags !== undefined) {
    const value = Buffer.alloc(4);
    value.writeUInt32LE(init.flags >>> 0);
    pairs.push({ id: AV_ID.flags, value });
  }
  text(AV_ID.targetName, init.targetName);
  return pairs;
}

/** FILETIME (100 ns ticks since 1601-01-01 UTC, MS-DTYP §2.3.3) to ISO 8601, ms precision. */
export function filetimeToIso(filetime: bigint): string {
  // Every 64-bit FILETIME is within Date's ±8.64e15 ms range, so toISOString cannot throw.
  const ms = filetime / 10_000n - FILETIME_UNIX_OFFSET_MS;
  return new Date(Number(ms)).toISOString();
}

/** ISO 8601 instant to FILETIME; throws RangeError on an unparseable or pre-1601 date. */
export function isoToFiletime(iso: string): bigint {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new RangeError(`not an ISO 8601 instant: ${JSON.stringify(iso)}`);
  const filetime = (BigInt(ms) + FILETIME_UNIX_OFFSET_MS) * 10_000n;
  if (filetime < 0n) throw new RangeError(`${iso} is before the FILETIME epoch (1601)`);
  return filetime;
}
