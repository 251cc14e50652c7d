/**
 * The authorized scope: the addresses this run may send probes to. Every probe is checked
 * against it, so the checks are precomputed: allowsV4 is a binary search over typed arrays.
 */
import { createHash } from "node:crypto";
import { RingfenceError } from "../errors.js";
import {
  formatAddress,
  formatRange,
  intersectRanges,
  normalizeRanges,
  parseAddress,
  parseRangeExpression,
  rangesContain,
  subtractRanges,
  unionRanges,
  type AddressRange,
  type ParsedAddress,
  type TargetSpace,
} from "../targets/index.js";
import { isInitialNetworkNamespace } from "./network-namespace.js";

/** The built-in lab's addresses: loopback, so a default run never leaves the machine. */
export const LAB_RANGE = "127.20.0.0/14";

/** RFC 5737 documentation ranges. See the guard in RangeScope for why they are special. */
export const TEST_NET_RANGES: readonly string[] = Object.freeze([
  "192.0.2.0/24",
  "198.51.100.0/24",
  "203.0.113.0/24",
]);

export interface Scope {
  readonly name: string;
  /** The scope file's path, or "default" for the built-in lab scope. */
  readonly source: string;
  /** SHA-256 (hex) of the authorized ranges (allow minus deny), one canonical range per line. */
  readonly digest: string;
  /** allow minus deny, normalised, as written in the scope (before the TEST-NET guard). */
  readonly authorized: readonly AddressRange[];
  /** True when TEST-NET is refused because we run in the initial network namespace. */
  readonly testNetGuard: boolean;
  allows(address: string): boolean;
  /** allows() for an IPv4 address as a uint32; no allocation. */
  allowsV4(address: number): boolean;
  /** The first address of `space` (in index order) that is not allowed, if any. */
  firstOutside(space: TargetSpace): string | undefined;
  describe(): string;
}

export interface ScopeDefinition {
  readonly name: string;
  readonly source: string;
  readonly allow: readonly AddressRange[];
  readonly deny?: readonly AddressRange[];
}

export interface ScopeOptions {
  /** Overrides the network namespace check; tests use it, the CLI never does. */
  readonly initialNetworkNamespace?: boolean;
}

const MAPPED_FIRST = 0xffffn << 32n;
const MAPPED_BLOCK: readonly AddressRange[] = [
  { family: 6, first: MAPPED_FIRST, last: MAPPED_FIRST | 0xffff_ffffn },
];

function literalRanges(expressions: readonly string[]): AddressRange[] {
  return expressions.map((expression) => {
    const range = parseRangeExpression(expression);
    if ("reason" in range) throw new Error(`built-in range ${expression}: ${range.reason}`);
    return range;
  });
}

const TEST_NET = normalizeRanges(literalRanges(TEST_NET_RANGES));

/**
 * A socket sends to ::ffff:a.b.c.d as IPv4 to a.b.c.d (RFC 4291 section 2.5.5.2), so mapped
 * addresses are judged as the IPv4 address they carry: the part of a range inside ::ffff:0:0/96
 * becomes an IPv4 range.
 */
function foldMapped(ranges: readonly AddressRange[]): AddressRange[] {
  const inside = intersectRanges(ranges, MAPPED_BLOCK).map((r): AddressRange => ({
    family: 4,
    first: r.first - MAPPED_FIRST,
    last: r.last - MAPPED_FIRST,
  }));
  return unionRanges(subtractRanges(ranges, MAPPED_BLOCK), inside);
}

/** The mapped twins of the IPv4 ranges, so that allows("::ffff:127.20.0.1") agrees with v4. */
function withMappedTwins(ranges: readonly AddressRange[]): AddressRange[] {
  const twins = ranges
    .filter((r) => r.family === 4)
    .map((r): AddressRange => ({
      family: 6,
      first: r.first + MAPPED_FIRST,
      last: r.last + MAPPED_FIRST,
    }));
  return unionRanges(ranges, twins);
}

function summarize(ranges: readonly AddressRange[]): string {
  if (ranges.length === 0) return "nothing";
  const shown = ranges.slice(0, 4).map(formatRange).join(", ");
  return ranges.length > 4 ? `${shown} and ${ranges.length - 4} more` : shown;
}

class RangeScope implements Scope {
  readonly name: string;
  readonly source: string;
  readonly digest: string;
  readonly authorized: readonly AddressRange[];
  readonly testNetGuard: boolean;
  /** What allows() accepts: authorized, minus TEST-NET under the guard, plus mapped twins. */
  private readonly effective: readonly AddressRange[];
  private readonly v4First: Float64Array;
  private readonly v4Last: Float64Array;

  constructor(definition: ScopeDefinition, options: ScopeOptions) {
    this.name = definition.name;
    this.source = definition.source;
    const authorized = subtractRanges(
      foldMapped(definition.allow),
      foldMapped(definition.deny ?? []),
    );
    this.authorized = Object.freeze(authorized.map((r) => Object.freeze({ ...r })));
    this.digest = createHash("sha256")
      .update(
        authorized
          .map((r) => `${formatAddress(r.family, r.first)}-${formatAddress(r.family, r.last)}\n`)
          .join(""),
      )
      .digest("hex");
    // TEST-NET is the one place where "documentation addresses" are not harmless: on the machines
    // ringfence is built on, 192.0.2.0/24 is the real uplink, and from the initial namespace any
    // TEST-NET probe leaves the host. Inside a namespace (the lab's) the scope file decides.
    this.testNetGuard = options.initialNetworkNamespace ?? isInitialNetworkNamespace();
    const effective = this.testNetGuard ? subtractRanges(authorized, TEST_NET) : authorized;
    this.effective = withMappedTwins(effective);
    const v4 = effective.filter((r) => r.family === 4);
    this.v4First = Float64Array.from(v4, (r) => Number(r.first));
    this.v4Last = Float64Array.from(v4, (r) => Number(r.last));
  }

  allows(address: string): boolean {
    const parsed = parseAddress(address);
    return parsed !== undefined && rangesContain(this.effective, parsed);
  }

  allowsV4(address: number): boolean {
    // Not a uint32 (NaN, negative, fractional, too big): not an address, so not allowed.
    if (address >>> 0 !== address) return false;
    const first = this.v4First;
    const last = this.v4Last;
    let lo = 0;
    let hi = first.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (address > (last[mid] as number)) lo = mid + 1;
      else if (address >= (first[mid] as number)) return true;
      else hi = mid - 1;
    }
    return false;
  }

  firstOutside(space: TargetSpace): string | undefined {
    // Both lists are normalised in index order, so the first leftover range starts at the
    // lowest index outside the scope.
    const outside = subtractRanges(space.ranges, this.effective)[0];
    return outside === undefined ? undefined : formatAddress(outside.family, outside.first);
  }

  describe(): string {
    const from = this.source === "default" ? "built-in default" : this.source;
    const guarded =
      this.testNetGuard && intersectRanges(this.authorized, TEST_NET).length > 0
        ? "; TEST-NET refused in the initial network namespace"
        : "";
    return `scope "${this.name}" (${summarize(this.authorized)}) from ${from}${guarded}`;
  }
}

export function createScope(definition: ScopeDefinition, options: ScopeOptions = {}): Scope {
  return new RangeScope(definition, options);
}

/** Only the built-in lab's loopback range, nothing else. */
export function defaultScope(options: ScopeOptions = {}): Scope {
  return createScope(
    { name: "lab", source: "default", allow: literalRanges([LAB_RANGE]) },
    options,
  );
}

function inTestNet(address: ParsedAddress): boolean {
  if (address.family === 6 && address.value >> 32n === 0xffffn) {
    return rangesContain(TEST_NET, { family: 4, value: address.value & 0xffff_ffffn });
  }
  return rangesContain(TEST_NET, address);
}

/** The error to raise when `address` is not allowed by `scope`. */
export function scopeViolation(address: string, scope: Scope): RingfenceError {
  const parsed = parseAddress(address);
  if (scope.testNetGuard && parsed !== undefined && inTestNet(parsed)) {
    return new RingfenceError(
      "RINGFENCE_SCOPE_VIOLATION",
      `${address} is in a TEST-NET range (RFC 5737), which ringfence refuses from the initial network namespace because the probes would leave this machine`,
      { hint: "run the scan inside a network namespace, where the scope file decides" },
    );
  }
  return new RingfenceError(
    "RINGFENCE_SCOPE_VIOLATION",
    `${address} is outside the authorized scope "${scope.name}" (${summarize(scope.authorized)}); add it to a scope file and pass --scope FILE if you are authorized to scan it`,
  );
}
