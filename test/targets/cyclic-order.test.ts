import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RingfenceError } from "../../src/errors.js";
import {
  CyclicOrder,
  isPrime,
  mulMod,
  nextPrime,
  primeFactors,
  type CyclicOrderParams,
} from "../../src/targets/cyclic-order.js";

function drain(order: CyclicOrder): number[] {
  const out: number[] = [];
  for (let e = order.next(); e !== -1; e = order.next()) out.push(e);
  return out;
}

/** Every element with the step value observed right after next() returned it. */
function walk(order: CyclicOrder): { element: number; stepAfter: number }[] {
  const out: { element: number; stepAfter: number }[] = [];
  for (let e = order.next(); e !== -1; e = order.next())
    out.push({ element: e, stepAfter: order.step });
  return out;
}

/** Checks without one expect() per element, so that large walks stay fast. */
function expectPermutation(elements: readonly number[], n: number): void {
  expect(elements).toHaveLength(n);
  const seen = new Uint8Array(n);
  let outOfRange = 0;
  let repeats = 0;
  for (const e of elements) {
    if (!(Number.isInteger(e) && e >= 0 && e < n)) outOfRange++;
    else if (seen[e] === 1) repeats++;
    else seen[e] = 1;
  }
  expect({ outOfRange, repeats }).toEqual({ outOfRange: 0, repeats: 0 });
}

describe("number theory helpers", () => {
  it("isPrime agrees with trial division", () => {
    const slow = (v: number): boolean => {
      if (v < 2) return false;
      for (let d = 2; d * d <= v; d++) if (v % d === 0) return false;
      return true;
    };
    for (let v = 0; v < 5000; v++) expect(isPrime(v), String(v)).toBe(slow(v));
    // Strong pseudoprimes to base 2 must not fool it.
    for (const v of [2047, 3277, 4033, 4681, 8321, 3215031751]) expect(isPrime(v)).toBe(false);
    expect(isPrime(2 ** 31 - 1)).toBe(true);
  });

  it("nextPrime is strictly greater and primeFactors multiply back", () => {
    expect(nextPrime(0)).toBe(2);
    expect(nextPrime(1)).toBe(2);
    expect(nextPrime(2)).toBe(3);
    expect(nextPrime(2 ** 32)).toBe(2 ** 32 + 15); // ZMap's prime for the IPv4 space
    expect(nextPrime(2 ** 24)).toBe(2 ** 24 + 43); // and for a /8
    expect(primeFactors(2 ** 32 + 14)).toEqual([2, 3, 5, 131, 364289]);
  });

  it("mulMod is exact for primes up to 2^41", () => {
    const p = nextPrime(2 ** 40);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: p - 1 }),
        fc.integer({ min: 0, max: p - 1 }),
        (a, b) => {
          expect(mulMod(a, b, p)).toBe(Number((BigInt(a) * BigInt(b)) % BigInt(p)));
        },
      ),
      { numRuns: 2000 },
    );
    // The largest operands, where a plain double product would lose ~28 bits.
    expect(mulMod(p - 1, p - 1, p)).toBe(1);
    expect(mulMod(p - 2, p - 1, p)).toBe(2);
  });
});

describe("CyclicOrder", () => {
  it("visits every element exactly once for every small n", () => {
    for (let n = 0; n <= 64; n++) {
      for (const seed of ["a", "b", "scan-42"])
        expectPermutation(drain(CyclicOrder.create(n, seed)), n);
    }
  });

  it("handles n = 1 and n = 2", () => {
    const one = CyclicOrder.create(1, "x");
    expect(one.next()).toBe(0);
    expect(one.next()).toBe(-1);
    expect(one.next()).toBe(-1);
    expect(one.params.prime).toBe(2);
    const two = CyclicOrder.create(2, "x");
    expect(drain(two).sort()).toEqual([0, 1]);
    expect(two.next()).toBe(-1);
    expect(two.params.prime).toBe(3);
    expect(two.step).toBe(two.totalSteps);
  });

  it("visits every element exactly once for n of a few hundred thousand", () => {
    const n = 300_007;
    expectPermutation(drain(CyclicOrder.create(n, "large")), n);
  });

  it("chooses a verified generator and the smallest prime above n", () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 1_000_000 }), fc.string(), (n, seed) => {
        const { prime, generator, first } = CyclicOrder.create(n, seed).params;
        expect(prime).toBe(nextPrime(n));
        expect(first >= 1 && first < prime).toBe(true);
        expect(generator >= 2 && generator < prime).toBe(true);
        for (const q of primeFactors(prime - 1)) {
          let x = 1n;
          let base = BigInt(generator);
          let e = BigInt((prime - 1) / q);
          while (e > 0n) {
            if (e & 1n) x = (x * base) % BigInt(prime);
            base = (base * base) % BigInt(prime);
            e >>= 1n;
          }
          expect(x).not.toBe(1n);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("is deterministic per seed and differs between seeds", () => {
    const n = 5000;
    const a1 = drain(CyclicOrder.create(n, "seed-a"));
    const a2 = drain(CyclicOrder.create(n, "seed-a"));
    const b = drain(CyclicOrder.create(n, "seed-b"));
    expect(a2).toEqual(a1);
    expect(b).not.toEqual(a1);
    expect(CyclicOrder.create(n, "seed-a").params).toEqual(CyclicOrder.create(n, "seed-a").params);
  });

  it("spreads neighbours apart", () => {
    const n = 65_536;
    const order = drain(CyclicOrder.create(n, "spread"));
    let close = 0;
    for (let i = 1; i < order.length; i++) {
      if (Math.abs((order[i] as number) - (order[i - 1] as number)) < 16) close++;
    }
    // A random permutation has ~0.05% of such pairs; a sequential walk would have 100%.
    expect(close / n).toBeLessThan(0.01);
  });

  it("splits into disjoint shards that together cover everything", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 1, max: 9 }),
        fc.string(),
        (n, count, seed) => {
          const all: number[] = [];
          let steps = 0;
          for (let index = 0; index < count; index++) {
            const shard = CyclicOrder.create(n, seed, { index, count });
            expect(shard.params.shardIndex).toBe(index);
            all.push(...drain(shard));
            steps += shard.totalSteps;
          }
          expectPermutation(all, n);
          expect(steps).toBe(nextPrime(n) - 1); // the shards split the whole cycle
        },
      ),
      { numRuns: 100 },
    );
  });

  it("shard i takes every k-th step of the unsharded walk", () => {
    const n = 2000;
    const full = CyclicOrder.create(n, "s");
    const rawElements: number[] = [];
    // The raw walk, with -1 at the steps that skipped a value above n.
    const stepsToElement = new Map<number, number>();
    for (const { element, stepAfter } of walk(full)) stepsToElement.set(stepAfter - 1, element);
    for (let t = 0; t < full.totalSteps; t++) rawElements.push(stepsToElement.get(t) ?? -1);
    const k = 3;
    for (let i = 0; i < k; i++) {
      const expected = rawElements.filter((e, t) => t % k === i && e !== -1);
      expect(drain(CyclicOrder.create(n, "s", { index: i, count: k }))).toEqual(expected);
    }
  });

  it("restores at any step and reproduces the tail", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2000 }),
        fc.string(),
        fc.integer({ min: 1, max: 4 }),
        fc.nat(),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (n, seed, count, indexSeed, at) => {
          const index = indexSeed % count;
          const order = CyclicOrder.create(n, seed, { index, count });
          const full = walk(order);
          const step = Math.floor(at * order.totalSteps);
          const params = JSON.parse(JSON.stringify(order.params)) as CyclicOrderParams;
          const resumed = CyclicOrder.restore(params, step);
          expect(resumed.step).toBe(step);
          expect(drain(resumed)).toEqual(
            full.filter((x) => x.stepAfter > step).map((x) => x.element),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("restoring at the step read after next() continues with the following element", () => {
    const order = CyclicOrder.create(1000, "checkpoint", { index: 1, count: 2 });
    const seen: number[] = [];
    for (let i = 0; i < 100; i++) seen.push(order.next());
    const checkpoint = order.step;
    const expectedNext = order.next();
    expect(CyclicOrder.restore(order.params, checkpoint).next()).toBe(expectedNext);
    const atEnd = CyclicOrder.create(10, "end");
    drain(atEnd);
    expect(CyclicOrder.restore(atEnd.params, atEnd.step).next()).toBe(-1);
  });

  it("refuses corrupt checkpoints and bad arguments", () => {
    const params = CyclicOrder.create(1000, "x").params;
    const bad: CyclicOrderParams[] = [
      { ...params, prime: params.prime + 1 }, // not prime
      { ...params, prime: 7 }, // does not fit n
      { ...params, generator: 1 }, // generates nothing
      { ...params, first: 0 },
      { ...params, first: params.prime },
      { ...params, shardIndex: 2, shardCount: 2 },
      { ...params, n: 1.5 },
    ];
    for (const p of bad) {
      expect(() => CyclicOrder.restore(p, 0), JSON.stringify(p)).toThrow(
        expect.objectContaining({ code: "RINGFENCE_SCAN_NOT_RESUMABLE" }),
      );
    }
    // A generator that fails the p-1 factor test: a quadratic residue (4 = 2^2) never generates.
    expect(() => CyclicOrder.restore({ ...params, generator: 4 }, 0)).toThrow(RingfenceError);
    expect(() => CyclicOrder.restore(params, -1)).toThrow(
      expect.objectContaining({ code: "RINGFENCE_SCAN_NOT_RESUMABLE" }),
    );
    expect(() => CyclicOrder.restore(params, params.prime)).toThrow(
      expect.objectContaining({ code: "RINGFENCE_SCAN_NOT_RESUMABLE" }),
    );
    expect(() => CyclicOrder.create(2 ** 40 + 1, "x")).toThrow(
      expect.objectContaining({ code: "RINGFENCE_TARGET_SPACE_TOO_LARGE" }),
    );
    expect(() => CyclicOrder.create(10, "x", { index: 3, count: 3 })).toThrow(
      expect.objectContaining({ code: "RINGFENCE_USAGE" }),
    );
    expect(() => CyclicOrder.create(10, "x", { index: 0, count: 0 })).toThrow(
      expect.objectContaining({ code: "RINGFENCE_USAGE" }),
    );
    expect(() => CyclicOrder.create(-1, "x")).toThrow(RangeError);
  });

  it("walks a /8 x 5 ports for millions of steps", () => {
    const n = 2 ** 24 * 5;
    const order = CyclicOrder.create(n, "slash-8");
    const seen = new Uint8Array(Math.ceil(n / 8));
    let outOfRange = 0;
    let repeats = 0;
    for (let i = 0; i < 3_000_000; i++) {
      const e = order.next();
      if (!(e >= 0 && e < n)) {
        outOfRange++;
        continue;
      }
      const bit = 1 << (e & 7);
      if ((seen[e >>> 3] as number) & bit) repeats++;
      seen[e >>> 3] = (seen[e >>> 3] as number) | bit;
    }
    expect({ outOfRange, repeats }).toEqual({ outOfRange: 0, repeats: 0 });
    expect(order.step).toBeGreaterThanOrEqual(3_000_000);
  });

  it("walks n = 2^40 with the limb arithmetic and jumps consistently", () => {
    const n = 2 ** 40;
    const order = CyclicOrder.create(n, "huge", { index: 2, count: 5 });
    const seen = new Set<number>();
    let outOfRange = 0;
    for (let i = 0; i < 100_000; i++) {
      const e = order.next();
      if (!(e >= 0 && e < n)) outOfRange++;
      seen.add(e);
    }
    expect(outOfRange).toBe(0);
    expect(seen.size).toBe(100_000);
    // Stepping from a late checkpoint must agree with jumping straight past it.
    const late = Math.floor(order.totalSteps * 0.7);
    const before = CyclicOrder.restore(order.params, late - 500);
    while (before.step < late) before.next();
    const after = CyclicOrder.restore(order.params, before.step);
    const fromJump = Array.from({ length: 1000 }, () => after.next());
    const fromSteps = Array.from({ length: 1000 }, () => before.next());
    expect(fromJump).toEqual(fromSteps);
  });
});
