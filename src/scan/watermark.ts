/**
 * Tracks which issued probes are still undecided, so that a checkpoint never skips one.
 * Probes are issued in order (sequence numbers 0, 1, 2, ...) but finish in any order; the
 * checkpoint is the order position recorded just before the oldest undecided probe was drawn.
 */
export class Watermark {
  private stepBefore = new Float64Array(1024);
  private decided = new Uint8Array(1024);
  /** Sequence number of the oldest undecided probe (or of the next one, if none is pending). */
  private head = 0;
  private next = 0;

  /** Records a probe drawn when the order stood at `stepBefore`; returns its sequence number. */
  issue(stepBefore: number): number {
    if (this.next - this.head === this.stepBefore.length) this.grow();
    const slot = this.next % this.stepBefore.length;
    this.stepBefore[slot] = stepBefore;
    this.decided[slot] = 0;
    return this.next++;
  }

  decide(seq: number): void {
    if (seq < this.head || seq >= this.next) return;
    this.decided[seq % this.decided.length] = 1;
    while (this.head < this.next && this.decided[this.head % this.decided.length] === 1)
      this.head++;
  }

  /** Probes issued and decided without a gap from the first one. */
  get decidedPrefix(): number {
    return this.head;
  }

  get pending(): number {
    return this.next - this.head;
  }

  /** Where to restart the order; `current` is the order's step now (used when nothing is pending). */
  checkpoint(current: number): number {
    return this.head < this.next ? this.stepBefore[this.head % this.stepBefore.length]! : current;
  }

  private grow(): void {
    const size = this.stepBefore.length * 2;
    const steps = new Float64Array(size);
    const decided = new Uint8Array(size);
    for (let seq = this.head; seq < this.next; seq++) {
      steps[seq % size] = this.stepBefore[seq % this.stepBefore.length]!;
      decided[seq % size] = this.decided[seq % this.decided.length]!;
    }
    this.stepBefore = steps;
    this.decided = decided;
  }
}
