/**
 * The set of addresses a scan covers, as normalised ranges plus an index -> address mapping.
 * Nothing here is proportional to the number of addresses: a /8 costs what a /24 costs.
 */
import { lookup } from "node:dns/promises";
import { RingfenceError } from "../errors.js";
import { formatAddress, formatIPv4, parseAddress } from "./address.js";
import {
  normalizeRanges,
  rangesContain,
  rangeSize,
  subtractRanges,
  totalSize,
  type AddressRange,
} from "./address-range.js";
import { parseTargetExpression, splitExpressions } from "./target-expression.js";
import { readTargetFile, type SourcedToken } from "./target-file.js";

/** Largest space we index: n = addresses x ports must stay exact for CyclicOrder (2^40). */
export const MAX_TARGET_SPACE = 2 ** 40;
/** Largest IPv6 block accepted per target expression: a /104. */
export const MAX_IPV6_EXPRESSION = 2 ** 24;

export class TargetSpace {
  /** Number of addresses, exact. */
  readonly size: number;
  readonly hasIPv6: boolean;
  /** Normalised: IPv4 ranges first, then IPv6, each sorted; index order follows this order. */
  readonly ranges: readonly AddressRange[];
  private readonly hostnames: ReadonlyMap<string, readonly string[]>;
  /** starts[r] = index of the first address of ranges[r]; doubles are exact below 2^53. */
  private readonly starts: Float64Array;
  /** First address of each IPv4 range as a number, for the allocation-free v4At. */
  private readonly v4First: Float64Array;
  /** Addresses in IPv4 ranges; indexes at or above it are IPv6. */
  private readonly v4Size: number;

  private constructor(
    ranges: readonly AddressRange[],
    hostnames: ReadonlyMap<string, readonly string[]>,
  ) {
    const total = totalSize(ranges);
    if (total > BigInt(MAX_TARGET_SPACE)) {
      throw new RingfenceError(
        "RINGFENCE_TARGET_SPACE_TOO_LARGE",
        `the target space has ${countText(total)} addresses; ringfence scans at most 2^40 per run`,
        { hint: "split the targets over several scans or exclude what you do not need" },
      );
    }
    this.ranges = Object.freeze(ranges.map((r) => Object.freeze({ ...r })));
    this.hostnames = hostnames;
    this.size = Number(total);
    this.starts = new Float64Array(ranges.length);
    this.v4First = new Float64Array(ranges.length);
    let index = 0;
    let v4Size = 0;
    for (let r = 0; r < ranges.length; r++) {
      const range = ranges[r] as AddressRange;
      this.starts[r] = index;
      const count = Number(rangeSize(range));
      if (range.family === 4) {
        this.v4First[r] = Number(range.first);
        v4Size += count;
      } else {
        this.v4First[r] = -1;
      }
      index += count;
    }
    this.v4Size = v4Size;
    this.hasIPv6 = v4Size < this.size;
  }

  /**
   * A space over `ranges` (normalised here). `hostnames` maps canonical address text to the names
   * it was reached under; entries outside the ranges are dropped.
   */
  static fromRanges(
    ranges: readonly AddressRange[],
    hostnames: ReadonlyMap<string, readonly string[]> = new Map(),
  ): TargetSpace {
    const normal = normalizeRanges(ranges);
    const kept = new Map<string, readonly string[]>();
    for (const [address, names] of hostnames) {
      const parsed = parseAddress(address);
      if (parsed !== undefined && rangesContain(normal, parsed)) {
        kept.set(formatAddress(parsed.family, parsed.value), Object.freeze([...names].sort()));
      }
    }
    return new TargetSpace(normal, kept);
  }

  /** Canonical text of the address at `index` (dotted quad, RFC 5952 for IPv6). */
  at(index: number): string {
    const r = this.rangeOf(index);
    const range = this.ranges[r] as AddressRange;
    const offset = index - (this.starts[r] as number);
    if (range.family === 4) return formatIPv4((this.v4First[r] as number) + offset);
    return formatAddress(6, range.first + BigInt(offset));
  }

  /** The IPv4 address at `index` as a uint32, or -1 if that index is IPv6. Allocates nothing. */
  v4At(index: number): number {
    const r = this.rangeOf(index);
    if (index >= this.v4Size) return -1;
    return (this.v4First[r] as number) + (index - (this.starts[r] as number));
  }

  /** Names `address` was given under on the command line or in target files, sorted. */
  hostnamesOf(address: string): readonly string[] {
    const parsed = parseAddress(address);
    if (parsed === undefined) return [];
    return this.hostnames.get(formatAddress(parsed.family, parsed.value)) ?? [];
  }

  /** Every (address, names) pair, for storing a scan's resolved targets with it. */
  hostnameEntries(): [string, readonly string[]][] {
    return [...this.hostnames];
  }

  describe(): string {
    const count = this.ranges.length;
    const v6 = this.ranges.filter((r) => r.family === 6).length;
    const what = `${this.size} ${this.size === 1 ? "address" : "addresses"}`;
    const where = `${count} ${count === 1 ? "range" : "ranges"}`;
    return v6 === 0 || v6 === count ? `${what} in ${where}` : `${what} in ${where} (${v6} IPv6)`;
  }

  /** Index of the range holding `index`: the last range whose start is <= index. */
  private rangeOf(index: number): number {
    if (!(index >= 0 && index < this.size) || !Number.isInteger(index)) {
      throw new RangeError(`index ${index} is outside the target space [0, ${this.size})`);
    }
    const starts = this.starts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((starts[mid] as number) <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

export type Resolver = (host: string) => Promise<string[]>;

export interface TargetSpaceInput {
  /** Command-line expressions; each string may hold several, separated by commas or spaces. */
  targets: string[];
  /** -iL files. */
  inputFiles?: string[];
  /** --exclude values; each may hold several expressions separated by commas. */
  exclude?: string[];
  /** --exclude-file files. */
  excludeFiles?: string[];
  /** Hostname resolver; defaults to the system resolver (getaddrinfo), every address it returns. */
  resolve?: Resolver;
}

export const systemResolver: Resolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);

/** Resolutions in flight at once: enough to hide latency, few enough to be polite to the resolver. */
const RESOLVE_CONCURRENCY = 16;

export async function buildTargetSpace(input: TargetSpaceInput): Promise<TargetSpace> {
  const include = await collectTokens(input.targets, input.inputFiles ?? []);
  const exclude = await collectTokens(input.exclude ?? [], input.excludeFiles ?? []);
  if (include.length === 0) {
    throw new RingfenceError("RINGFENCE_BAD_TARGET", "no targets given", {
      hint: "name addresses, CIDR blocks, ranges or hostnames, or pass -iL FILE",
    });
  }
  const included = parseTokens(include, true);
  const excluded = parseTokens(exclude, false);

  const names = new Set([
    ...included.hosts.map((h) => h.name),
    ...excluded.hosts.map((h) => h.name),
  ]);
  const origins = new Map<string, SourcedToken>();
  for (const host of [...included.hosts, ...excluded.hosts]) {
    if (!origins.has(host.name)) origins.set(host.name, host.source);
  }
  const resolved = await resolveAll([...names], input.resolve ?? systemResolver, origins);

  const hostnames = new Map<string, string[]>();
  const includeRanges = [...included.ranges];
  for (const { name } of included.hosts) {
    for (const address of resolved.get(name) ?? []) {
      includeRanges.push({ family: address.family, first: address.value, last: address.value });
      const key = formatAddress(address.family, address.value);
      const list = hostnames.get(key) ?? [];
      if (!list.includes(name)) list.push(name);
      hostnames.set(key, list);
    }
  }
  const excludeRanges = [...excluded.ranges];
  for (const { name } of excluded.hosts) {
    for (const address of resolved.get(name) ?? []) {
      excludeRanges.push({ family: address.family, first: address.value, last: address.value });
    }
  }

  const ranges = subtractRanges(includeRanges, excludeRanges);
  if (ranges.length === 0) {
    throw new RingfenceError("RINGFENCE_BAD_TARGET", "no targets left after exclusions", {
      hint: "check --exclude and --exclude-file against the targets",
    });
  }
  return TargetSpace.fromRanges(ranges, hostnames);
}

async function collectTokens(expressions: string[], files: string[]): Promise<SourcedToken[]> {
  const tokens: SourcedToken[] = [];
  for (const expression of expressions) {
    for (const token of splitExpressions(expression)) tokens.push({ token, origin: undefined });
  }
  for (const file of files) tokens.push(...(await readTargetFile(file)));
  return tokens;
}

interface ParsedTokens {
  ranges: AddressRange[];
  hosts: { name: string; source: SourcedToken }[];
}

function parseTokens(tokens: readonly SourcedToken[], including: boolean): ParsedTokens {
  const out: ParsedTokens = { ranges: [], hosts: [] };
  for (const source of tokens) {
    const parsed = parseTargetExpression(source.token);
    if (parsed.kind === "invalid") {
      throw new RingfenceError(
        "RINGFENCE_BAD_TARGET",
        `bad target "${source.token}"${at(source)}: ${parsed.reason}`,
      );
    }
    if (parsed.kind === "hostname") {
      out.hosts.push({ name: parsed.name, source });
      continue;
    }
    const range = parsed.range;
    // The cap applies to what we scan, not to what we exclude: excluding a /64 is harmless.
    if (including && range.family === 6 && rangeSize(range) > BigInt(MAX_IPV6_EXPRESSION)) {
      throw new RingfenceError(
        "RINGFENCE_TARGET_SPACE_TOO_LARGE",
        `IPv6 target "${source.token}"${at(source)} has ${countText(rangeSize(range))} addresses; the limit is 2^24 per expression`,
        { hint: "use a smaller prefix (/104 or longer) or list the addresses you want scanned" },
      );
    }
    out.ranges.push(range);
  }
  return out;
}

/** 2^64 reads better than 18446744073709551616. */
function countText(count: bigint): string {
  if (count >= 1n << 20n && (count & (count - 1n)) === 0n)
    return `2^${count.toString(2).length - 1}`;
  return count.toString();
}

function at(source: SourcedToken): string {
  return source.origin === undefined ? "" : ` at ${source.origin}`;
}

async function resolveAll(
  names: string[],
  resolve: Resolver,
  origins: ReadonlyMap<string, SourcedToken>,
): Promise<Map<string, { family: 4 | 6; value: bigint }[]>> {
  const results = new Map<string, { family: 4 | 6; value: bigint }[]>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const name = names[next++] as string;
      results.set(name, await resolveOne(name, resolve, origins.get(name)));
    }
  };
  await Promise.all(Array.from({ length: Math.min(RESOLVE_CONCURRENCY, names.length) }, worker));
  return results;
}

async function resolveOne(
  name: string,
  resolve: Resolver,
  source: SourcedToken | undefined,
): Promise<{ family: 4 | 6; value: bigint }[]> {
  const where = source === undefined ? "" : at(source);
  let answers: string[];
  try {
    answers = await resolve(name);
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    const reason = typeof code === "string" ? code : error instanceof Error ? error.message : "";
    throw new RingfenceError(
      "RINGFENCE_RESOLVE",
      `cannot resolve hostname "${name}"${where}${reason === "" ? "" : `: ${reason}`}`,
      { hint: "check the name, or give the address instead", cause: error },
    );
  }
  if (answers.length === 0) {
    throw new RingfenceError(
      "RINGFENCE_RESOLVE",
      `hostname "${name}"${where} resolved to no addresses`,
    );
  }
  return answers.map((answer) => {
    // A zone id ("fe80::1%eth0") only comes with link-local answers. Our ranges carry no zone,
    // so the address alone is kept rather than failing the whole target list over one answer.
    const parsed = parseAddress(
      answer.includes("%") ? answer.slice(0, answer.indexOf("%")) : answer,
    );
    if (parsed === undefined) {
      throw new RingfenceError(
        "RINGFENCE_RESOLVE",
        `hostname "${name}"${where} resolved to "${answer}", which is not an IP address`,
      );
    }
    return parsed;
  });
}
