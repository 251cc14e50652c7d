/** Attempts-per-second limiter shared by the JavaScript engines (the native one has its own). */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly burst: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    // At most 10 ms worth of attempts at once, so a high rate is still smooth.
    this.burst = Math.max(1, ratePerSecond / 100);
    this.tokens = this.burst;
    this.last = this.now();
  }

  get unlimited(): boolean {
    return this.ratePerSecond <= 0;
  }

  /** Takes one token if available. */
  take(): boolean {
    if (this.unlimited) return true;
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until the next token. */
  waitMs(): number {
    if (this.unlimited) return 0;
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(
      this.burst,
      this.tokens + ((now - this.last) / 1000) * this.ratePerSecond,
    );
    this.last = now;
  }
}
