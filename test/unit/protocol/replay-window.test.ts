import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { REPLAY_WINDOW_PACKETS, ReplayWindow } from "../../../src/protocol/replay-window.js";

/** The specification the ring must match: accept once, and only within the window. */
class ModelWindow {
  private readonly seen = new Set<number>();
  private top = -1;

  accept(n: number): boolean {
    const ok =
      Number.isSafeInteger(n) &&
      n >= 0 &&
      !this.seen.has(n) &&
      (n > this.top || this.top - n < REPLAY_WINDOW_PACKETS);
    if (ok) {
      this.seen.add(n);
      this.top = Math.max(this.top, n);
    }
    return ok;
  }
}

describe("ReplayWindow", () => {
  it("is at least 2048 packets wide", () => {
    expect(REPLAY_WINDOW_PACKETS).toBeGreaterThanOrEqual(2048);
  });

  it("accepts each packet number once, in any order within the window", () => {
    const w = new ReplayWindow();
    expect(w.highest).toBe(-1);
    expect(w.accept(0)).toBe(true);
    expect(w.accept(0)).toBe(false);
    expect(w.accept(5)).toBe(true);
    expect(w.accept(3)).toBe(true);
    expect(w.accept(3)).toBe(false);
    expect(w.check(4)).toBe(true);
    expect(w.check(5)).toBe(false);
    expect(w.highest).toBe(5);
  });

  it("check() never changes the window", () => {
    const w = new ReplayWindow();
    expect(w.check(10)).toBe(true);
    expect(w.check(10)).toBe(true);
    expect(w.highest).toBe(-1);
    expect(w.accept(10)).toBe(true);
  });

  it("refuses packets that fell out of the window, accepts the oldest one still inside", () => {
    const w = new ReplayWindow();
    const top = 10_000;
    expect(w.accept(top)).toBe(true);
    expect(w.accept(top - REPLAY_WINDOW_PACKETS)).toBe(false);
    expect(w.accept(top - REPLAY_WINDOW_PACKETS + 1)).toBe(true);
    expect(w.accept(top - REPLAY_WINDOW_PACKETS + 1)).toBe(false);
  });

  it("forgets old bits when it jumps far ahead, and keeps recent ones across block boundaries", () => {
    const w = new ReplayWindow();
    for (let n = 0; n < 100; n++) expect(w.accept(n)).toBe(true);
    expect(w.accept(1_000_000)).toBe(true);
    // Slots reused for new blocks start empty: numbers near the new top are fresh.
    for (let n = 1_000_000 - 1; n > 1_000_000 - 64; n--) expect(w.accept(n)).toBe(true);
    expect(w.accept(31)).toBe(false);
  });

  it("clears a recycled ring slot: n + ringBits lands on n's old bit", () => {
    // 65 blocks of 32 bits: n and n + 2080 share a slot and a bit position.
    const ringBits = REPLAY_WINDOW_PACKETS + 32;
    for (const n of [40, 31, 0, 5000]) {
      const w = new ReplayWindow();
      expect(w.accept(n)).toBe(true);
      expect(w.accept(n + ringBits + 1)).toBe(true);
      expect(w.accept(n + ringBits)).toBe(true);
    }
    // The same through many small steps instead of one jump.
    const w = new ReplayWindow();
    for (let n = 0; n < 3 * ringBits; n += 3) expect(w.accept(n)).toBe(true);
    const top = w.highest;
    for (let n = top - 2 * 1000 + 1; n < top; n += 3) expect(w.accept(n), `n = ${n}`).toBe(n % 3 !== 0);
  });

  it("handles packet numbers up to 2^53 - 1 and refuses anything else", () => {
    const w = new ReplayWindow();
    const max = Number.MAX_SAFE_INTEGER;
    expect(w.accept(max - 1)).toBe(true);
    expect(w.accept(max)).toBe(true);
    expect(w.accept(max)).toBe(false);
    expect(w.accept(max - 1)).toBe(false);
    expect(w.accept(max - 2)).toBe(true);
    expect(w.check(max + 1)).toBe(false);
    expect(w.check(-1)).toBe(false);
    expect(w.check(1.5)).toBe(false);
    expect(w.check(Number.NaN)).toBe(false);
  });

  it("matches the set model on random reordered, duplicated and jumping sequences", () => {
    const step = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: -40, max: 40 }) },
      { weight: 2, arbitrary: fc.integer({ min: -3000, max: 3000 }) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 1_000_000 }) },
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 400 }), fc.nat(2 ** 40), (steps, start) => {
        const w = new ReplayWindow();
        const model = new ModelWindow();
        let base = start;
        for (const s of steps) {
          const n = Math.max(0, base + s);
          base = Math.max(base, n);
          const expected = model.accept(n);
          expect(w.check(n)).toBe(expected);
          expect(w.accept(n)).toBe(expected);
          // Afterwards n is always a replay, whatever happened to it.
          expect(w.check(n)).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });
});
