import { describe, expect, it } from "vitest";
import { TokenBucket } from "../../src/scan/engines/token-bucket.js";

/** A clock the test moves by hand: rate limiting is checked without measuring time. */
function manualClock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function drain(bucket: TokenBucket): number {
  let taken = 0;
  while (bucket.take()) taken++;
  return taken;
}

describe("TokenBucket", () => {
  it("allows rate × elapsed attempts, with a burst of at most 10 ms worth", () => {
    const clock = manualClock();
    const bucket = new TokenBucket(10_000, clock.now);
    expect(drain(bucket)).toBe(100); // initial burst: 10 ms at 10k/s
    let total = 0;
    for (let i = 0; i < 100; i++) {
      clock.advance(10);
      total += drain(bucket);
    }
    expect(total).toBe(10_000); // one second of clock time, 10k attempts
  });

  it("does not bank idle time beyond the burst", () => {
    const clock = manualClock();
    const bucket = new TokenBucket(1000, clock.now);
    drain(bucket);
    clock.advance(60_000);
    expect(drain(bucket)).toBe(10);
  });

  it("says how long to wait for the next token", () => {
    const clock = manualClock();
    const bucket = new TokenBucket(100, clock.now);
    drain(bucket);
    expect(bucket.waitMs()).toBe(10);
    clock.advance(10);
    expect(bucket.waitMs()).toBe(0);
  });

  it("is unlimited at rate 0", () => {
    const bucket = new TokenBucket(0);
    expect(bucket.unlimited).toBe(true);
    for (let i = 0; i < 1000; i++) expect(bucket.take()).toBe(true);
  });
});
