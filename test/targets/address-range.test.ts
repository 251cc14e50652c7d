import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  cidrLength,
  intersectRanges,
  normalizeRanges,
  rangesContain,
  subtractRanges,
  unionRanges,
  type AddressRange,
} from "../../src/targets/address-range.js";
import { IPV4_MAX, IPV6_MAX } from "../../src/targets/address.js";

/**
 * Small spaces, so that a Set of every address is a trustworthy model. Each family's window sits
 * either at the bottom or at the top of its address space: the edges are where exclusions broke
 * in nmap (nmap/nmap#2257).
 */
const WINDOW = 40n;

function rangesArb(base4: bigint, base6: bigint): fc.Arbitrary<AddressRange[]> {
  const range = fc
    .tuple(fc.constantFrom(4 as const, 6 as const), fc.bigInt(0n, WINDOW), fc.bigInt(0n, WINDOW))
    .map(([family, a, b]): AddressRange => {
      const base = family === 4 ? base4 : base6;
      return { family, first: base + (a < b ? a : b), last: base + (a < b ? b : a) };
    });
  return fc.array(range, { maxLength: 8 });
}

const scenarioArb = fc
  .tuple(fc.constantFrom(0n, IPV4_MAX - WINDOW), fc.constantFrom(0n, 1n << 64n, IPV6_MAX - WINDOW))
  .chain(([b4, b6]) => fc.tuple(rangesArb(b4, b6), rangesArb(b4, b6)));

function model(ranges: readonly AddressRange[]): Set<string> {
  const set = new Set<string>();
  for (const r of ranges) for (let v = r.first; v <= r.last; v++) set.add(`${r.family}:${v}`);
  return set;
}

function expectNormalised(ranges: readonly AddressRange[]): void {
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i] as AddressRange;
    expect(r.first <= r.last).toBe(true);
    const next = ranges[i + 1];
    if (next !== undefined && next.family === r.family) {
      // Sorted, and a gap of at least one address: adjacent ranges must have been merged.
      expect(next.first > r.last + 1n).toBe(true);
    } else if (next !== undefined) {
      expect(r.family).toBeLessThan(next.family);
    }
  }
}

describe("range algebra against a Set model", () => {
  it("union", () => {
    fc.assert(
      fc.property(scenarioArb, ([a, b]) => {
        const result = unionRanges(a, b);
        expectNormalised(result);
        expect(model(result)).toEqual(new Set([...model(a), ...model(b)]));
      }),
      { numRuns: 500 },
    );
  });

  it("subtract", () => {
    fc.assert(
      fc.property(scenarioArb, ([a, b]) => {
        const result = subtractRanges(a, b);
        expectNormalised(result);
        const removed = model(b);
        expect(model(result)).toEqual(new Set([...model(a)].filter((x) => !removed.has(x))));
      }),
      { numRuns: 500 },
    );
  });

  it("intersect", () => {
    fc.assert(
      fc.property(scenarioArb, ([a, b]) => {
        const result = intersectRanges(a, b);
        expectNormalised(result);
        const other = model(b);
        expect(model(result)).toEqual(new Set([...model(a)].filter((x) => other.has(x))));
      }),
      { numRuns: 500 },
    );
  });

  it("contains agrees with the model", () => {
    const arb = fc
      .tuple(fc.constantFrom(0n, IPV4_MAX - WINDOW), fc.constantFrom(0n, IPV6_MAX - WINDOW))
      .chain(([b4, b6]) =>
        fc.tuple(
          rangesArb(b4, b6),
          fc.constantFrom(4 as const, 6 as const),
          fc.bigInt(0n, WINDOW),
          fc.constant({ 4: b4, 6: b6 }),
        ),
      );
    fc.assert(
      fc.property(arb, ([ranges, family, offset, bases]) => {
        const value = bases[family] + offset;
        const expected = model(ranges).has(`${family}:${value}`);
        expect(rangesContain(normalizeRanges(ranges), { family, value })).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it("never mixes families, even at the same numeric values", () => {
    const v4: AddressRange = { family: 4, first: 0n, last: 10n };
    const v6: AddressRange = { family: 6, first: 5n, last: 20n };
    expect(unionRanges([v4], [v6])).toEqual([v4, v6]);
    expect(intersectRanges([v4], [v6])).toEqual([]);
    expect(subtractRanges([v4], [v6])).toEqual([v4]);
  });
});

describe("range edges (nmap #2257)", () => {
  const r = (first: bigint, last: bigint): AddressRange => ({ family: 4, first, last });

  it("excluding the last address keeps everything before it", () => {
    expect(subtractRanges([r(0n, 255n)], [r(255n, 255n)])).toEqual([r(0n, 254n)]);
  });

  it("excluding the first address keeps everything after it", () => {
    expect(subtractRanges([r(0n, 255n)], [r(0n, 0n)])).toEqual([r(1n, 255n)]);
  });

  it("handles the very top of the IPv4 space", () => {
    const top = r(IPV4_MAX - 3n, IPV4_MAX);
    expect(subtractRanges([top], [r(IPV4_MAX, IPV4_MAX)])).toEqual([
      r(IPV4_MAX - 3n, IPV4_MAX - 1n),
    ]);
    expect(unionRanges([top], [r(IPV4_MAX - 5n, IPV4_MAX - 4n)])).toEqual([
      r(IPV4_MAX - 5n, IPV4_MAX),
    ]);
  });

  it("merges adjacent ranges", () => {
    expect(normalizeRanges([r(10n, 19n), r(0n, 9n), r(20n, 20n)])).toEqual([r(0n, 20n)]);
  });

  it("one exclusion spanning two ranges cuts both", () => {
    expect(subtractRanges([r(0n, 10n), r(20n, 30n)], [r(5n, 25n)])).toEqual([
      r(0n, 4n),
      r(26n, 30n),
    ]);
  });
});

describe("cidrLength", () => {
  it("recognises exact blocks only", () => {
    expect(cidrLength({ family: 4, first: 0n, last: IPV4_MAX })).toBe(0);
    expect(cidrLength({ family: 4, first: 256n, last: 511n })).toBe(24);
    expect(cidrLength({ family: 4, first: 128n, last: 383n })).toBeUndefined(); // unaligned
    expect(cidrLength({ family: 4, first: 0n, last: 2n })).toBeUndefined(); // not a power of two
    expect(cidrLength({ family: 6, first: 0n, last: IPV6_MAX })).toBe(0);
  });
});
