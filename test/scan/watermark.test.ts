import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Watermark } from "../../src/scan/watermark.js";

describe("Watermark", () => {
  it("never checkpoints past an undecided probe, whatever the completion order", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.array(fc.nat(), { maxLength: 4000 }),
        (count, picks) => {
          const mark = new Watermark();
          // Step before probe i is 10 * i; the order's step after the last draw is 10 * count.
          const seqs = Array.from({ length: count }, (_, i) => mark.issue(10 * i));
          const undecided = new Set(seqs);
          for (const pick of picks) {
            if (undecided.size === 0) break;
            const list = [...undecided];
            const seq = list[pick % list.length]!;
            mark.decide(seq);
            undecided.delete(seq);
            const oldest = Math.min(...undecided);
            const checkpoint = mark.checkpoint(10 * count);
            if (undecided.size > 0) {
              expect(checkpoint).toBe(10 * oldest);
              expect(mark.decidedPrefix).toBe(oldest);
            } else {
              expect(checkpoint).toBe(10 * count);
              expect(mark.decidedPrefix).toBe(count);
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("ignores duplicate and unknown decisions", () => {
    const mark = new Watermark();
    const a = mark.issue(0);
    const b = mark.issue(1);
    mark.decide(b);
    mark.decide(b);
    mark.decide(99);
    expect(mark.pending).toBe(2);
    expect(mark.checkpoint(2)).toBe(0);
    mark.decide(a);
    expect(mark.pending).toBe(0);
    expect(mark.checkpoint(2)).toBe(2);
  });

  it("keeps its window across growth (more than 1024 probes pending)", () => {
    const mark = new Watermark();
    for (let i = 0; i < 5000; i++) mark.issue(i);
    for (let i = 4999; i >= 1; i--) mark.decide(i);
    expect(mark.decidedPrefix).toBe(0);
    expect(mark.checkpoint(5000)).toBe(0);
    mark.decide(0);
    expect(mark.decidedPrefix).toBe(5000);
  });
});
