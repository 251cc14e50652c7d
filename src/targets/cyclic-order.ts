/**
 * ZMap's way to visit n probes in a pseudo-random order without storing the order (Durumeric,
 * Wustrow, Halderman, "ZMap: Fast Internet-wide Scanning", USENIX Security 2013;
 * zmap/zmap src/cyclic.c and src/shard.c). The walk x <- x * g mod p visits every element of the
 * multiplicative group mod a prime p exactly once when g generates the group; with p > n, the
 * elements 1..n stand for probes 0..n-1 and the few above n are skipped. Neighbouring probes land
 * far apart, so a scan never hammers one subnet, and the whole state is a handful of numbers.
 *
 * Unlike ZMap, which uses a fixed prime per address-space size (2^8+1, 2^16+1, 2^24+43, 2^32+15,
 * ...), we take the smallest prime above n so that at most a few dozen steps are skipped.
 */
import { createHash } from "node:crypto";
import { RingfenceError } from "../errors.js";

export interface CyclicOrderParams {
  /** Number of elements; next() returns values in [0, n). */
  readonly n: number;
  /** Smallest prime above n. */
  readonly prime: number;
  /** A generator of the multiplicative group mod prime. */
  readonly generator: number;
  /** Group element of raw step 0 of the full cycle, in [1, prime - 1]. */
  readonly first: number;
  readonly shardIndex: number;
  readonly shardCount: number;
}

/** Largest n: probes are numbered with doubles, and p < 2^41 keeps the limb products exact. */
export const MAX_CYCLIC_ORDER_SIZE = 2 ** 40;

/** Below this prime, x * g < p^2 < 2^53 and one multiplication is exact. */
const DIRECT_PRIME_LIMIT = 94_906_265; // floor(sqrt(2^53))

export class CyclicOrder {
  readonly params: CyclicOrderParams;
  private readonly n: number;
  private readonly p: number;
  private readonly direct: boolean;
  private readonly multiplier: number;
  // The multiplier g^shardCount mod p split into 12-bit limbs, high to low.
  private readonly l3: number;
  private readonly l2: number;
  private readonly l1: number;
  private readonly l0: number;
  private readonly total: number;
  private x: number;
  private consumed: number;

  private constructor(params: CyclicOrderParams, step: number) {
    this.params = Object.freeze({ ...params });
    const { n, prime, generator, first, shardIndex, shardCount } = params;
    this.n = n;
    this.p = prime;
    this.direct = prime <= DIRECT_PRIME_LIMIT;
    const p = BigInt(prime);
    const g = BigInt(generator);
    this.multiplier = Number(powMod(g, BigInt(shardCount), p));
    this.l3 = Math.floor(this.multiplier / 2 ** 36) % 4096;
    this.l2 = Math.floor(this.multiplier / 2 ** 24) % 4096;
    this.l1 = Math.floor(this.multiplier / 2 ** 12) % 4096;
    this.l0 = this.multiplier % 4096;
    this.total = shardSteps(prime, shardIndex, shardCount);
    if (!Number.isSafeInteger(step) || step < 0 || step > this.total) {
      throw notResumable(`step ${step} is outside [0, ${this.total}] for this shard`);
    }
    // Raw step s of shard i is step i + s * k of the full cycle: first * g^(i + s*k).
    const exponent = (BigInt(shardIndex) + BigInt(step) * BigInt(shardCount)) % (p - 1n);
    this.x = Number((BigInt(first) * powMod(g, exponent, p)) % p);
    this.consumed = step;
  }

  /**
   * An order over [0, n) derived from `seed` alone: the same n and seed give the same order.
   * `shard` splits it like ZMap's --shards/--shard: shard i of k takes raw steps i, i+k, i+2k...
   * of the cycle, so shards are disjoint, together cover everything, and each stays spread out.
   */
  static create(n: number, seed: string, shard?: { index: number; count: number }): CyclicOrder {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`n must be a count, got ${n}`);
    if (n > MAX_CYCLIC_ORDER_SIZE) {
      throw new RingfenceError(
        "RINGFENCE_TARGET_SPACE_TOO_LARGE",
        `${n} probes (addresses x ports) exceed the limit of 2^40 per scan`,
        { hint: "scan fewer addresses or ports per run" },
      );
    }
    const shardIndex = shard?.index ?? 0;
    const shardCount = shard?.count ?? 1;
    checkShard(shardIndex, shardCount);
    const prime = nextPrime(n);
    const factors = primeFactors(prime - 1);
    const random = seededRandom(seed);
    let generator = 1;
    if (prime > 2) {
      do generator = 2 + Number(random() % BigInt(prime - 2));
      while (!isGenerator(generator, prime, factors));
    }
    const first = 1 + Number(random() % BigInt(prime - 1));
    return new CyclicOrder({ n, prime, generator, first, shardIndex, shardCount }, 0);
  }

  /**
   * The order `params` describe, positioned after `step` raw steps (see `step`). Jumps there with
   * one modular exponentiation, so resuming late in a 2^40 walk costs the same as resuming early.
   * Throws RINGFENCE_SCAN_NOT_RESUMABLE if the parameters are not a valid order (corrupt checkpoint).
   */
  static restore(params: CyclicOrderParams, step: number): CyclicOrder {
    const { n, prime, generator, first, shardIndex, shardCount } = params;
    const counts = [n, prime, generator, first, shardIndex, shardCount];
    if (!counts.every((v) => Number.isSafeInteger(v) && v >= 0)) {
      throw notResumable("its parameters are not all non-negative integers");
    }
    if (n > MAX_CYCLIC_ORDER_SIZE || prime <= n || prime > 2 * MAX_CYCLIC_ORDER_SIZE) {
      throw notResumable(`prime ${prime} does not fit n = ${n}`);
    }
    if (!isPrime(prime)) throw notResumable(`${prime} is not prime`);
    if (
      generator < 1 ||
      generator >= prime ||
      !isGenerator(generator, prime, primeFactors(prime - 1))
    ) {
      throw notResumable(`${generator} does not generate the group mod ${prime}`);
    }
    if (first < 1 || first >= prime) throw notResumable(`first element ${first} is out of range`);
    try {
      checkShard(shardIndex, shardCount);
    } catch {
      throw notResumable(`shard ${shardIndex} of ${shardCount} is invalid`);
    }
    return new CyclicOrder(params, step);
  }

  /** The next element in [0, n), or -1 once this shard has visited all of its elements. */
  next(): number {
    const n = this.n;
    const p = this.p;
    while (this.consumed < this.total) {
      const x = this.x;
      this.consumed++;
      this.x = this.direct
        ? (x * this.multiplier) % p
        : mulModLimbs(x, this.l3, this.l2, this.l1, this.l0, p);
      if (x <= n) return x - 1;
    }
    return -1;
  }

  /**
   * Raw steps consumed so far: group elements this shard has walked, counting the ones above n
   * that next() skipped. After next() returned an element e, `step` is exactly what to store in a
   * checkpoint: `restore(params, step).next()` returns the element that follows e. After next()
   * returned -1, `step === totalSteps`.
   */
  get step(): number {
    return this.consumed;
  }

  /** Raw steps this shard takes in all; step / totalSteps is the progress of the shard. */
  get totalSteps(): number {
    return this.total;
  }
}

/**
 * x * m mod p for p < 2^41 and m < 2^48 given as 12-bit limbs, exact in doubles: Horner's rule
 * keeps every intermediate below 2^53 (r * 4096 < 2^41 * 2^12, x * limb < 2^41 * 2^12), where a
 * plain x * m would need up to 82 bits.
 */
function mulModLimbs(x: number, l3: number, l2: number, l1: number, l0: number, p: number): number {
  let r = (x * l3) % p;
  r = (((r * 4096) % p) + ((x * l2) % p)) % p;
  r = (((r * 4096) % p) + ((x * l1) % p)) % p;
  return (((r * 4096) % p) + ((x * l0) % p)) % p;
}

/** a * b mod p with the hot-path arithmetic; exported for tests. Requires a, b < p < 2^41. */
export function mulMod(a: number, b: number, p: number): number {
  if (p <= DIRECT_PRIME_LIMIT) return (a * b) % p;
  const l3 = Math.floor(b / 2 ** 36) % 4096;
  const l2 = Math.floor(b / 2 ** 24) % 4096;
  const l1 = Math.floor(b / 2 ** 12) % 4096;
  return mulModLimbs(a, l3, l2, l1, b % 4096, p);
}

function shardSteps(prime: number, index: number, count: number): number {
  // The full cycle has prime - 1 raw steps, numbered 0 .. prime - 2.
  const lastStep = prime - 2;
  return index > lastStep ? 0 : Math.floor((lastStep - index) / count) + 1;
}

function checkShard(index: number, count: number): void {
  if (
    !Number.isSafeInteger(count) ||
    count < 1 ||
    !Number.isSafeInteger(index) ||
    index < 0 ||
    index >= count
  ) {
    throw new RingfenceError(
      "RINGFENCE_USAGE",
      `shard ${index} of ${count} is invalid; shards are numbered 0 to count - 1`,
    );
  }
}

function notResumable(reason: string): RingfenceError {
  return new RingfenceError(
    "RINGFENCE_SCAN_NOT_RESUMABLE",
    `the saved probe order cannot be resumed: ${reason}`,
    { hint: "start the scan again instead of resuming it" },
  );
}

/** A stream of 64-bit values: SHA-256 of the seed and a counter. Not for secrets, only spread. */
function seededRandom(seed: string): () => bigint {
  let counter = 0;
  return () => {
    const digest = createHash("sha256")
      .update(`ringfence cyclic-order v1\0${seed}\0${counter++}`)
      .digest();
    return digest.readBigUInt64BE(0);
  };
}

export function powMod(base: bigint, exponent: bigint, modulus: bigint): bigint {
  if (modulus === 1n) return 0n;
  let result = 1n;
  let b = base % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}

/**
 * Deterministic Miller-Rabin: the bases 2..17 give no false positive below 3.4e14 (Jaeschke,
 * "On strong pseudoprimes to several bases", 1993), far above our 2^41.
 */
export function isPrime(value: number): boolean {
  if (value < 2) return false;
  for (const small of [2, 3, 5, 7, 11, 13, 17]) {
    if (value === small) return true;
    if (value % small === 0) return false;
  }
  const n = BigInt(value);
  let d = n - 1n;
  let r = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    r++;
  }
  witnesses: for (const a of [2n, 3n, 5n, 7n, 11n, 13n, 17n]) {
    let x = powMod(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    for (let i = 1; i < r; i++) {
      x = (x * x) % n;
      if (x === n - 1n) continue witnesses;
    }
    return false;
  }
  return true;
}

/** Smallest prime strictly greater than n. */
export function nextPrime(n: number): number {
  let candidate = n + 1;
  while (!isPrime(candidate)) candidate++;
  return candidate;
}

/** Distinct prime factors by trial division; at most ~2^20 divisions for values below 2^41. */
export function primeFactors(value: number): number[] {
  const factors: number[] = [];
  let rest = value;
  for (let d = 2; d * d <= rest; d += d === 2 ? 1 : 2) {
    if (rest % d !== 0) continue;
    factors.push(d);
    while (rest % d === 0) rest /= d;
  }
  if (rest > 1) factors.push(rest);
  return factors;
}

/** g generates (Z/pZ)* iff g^((p-1)/q) != 1 for every prime q dividing p - 1. */
function isGenerator(g: number, prime: number, factors: readonly number[]): boolean {
  const p = BigInt(prime);
  return factors.every((q) => powMod(BigInt(g), BigInt((prime - 1) / q), p) !== 1n);
}
