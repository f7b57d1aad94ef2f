import { describe, expect, it } from "vitest";
import type { Timer } from "../../../src/runtime.js";
import { DrawThrottle, type DrawTimers } from "../../../src/ui/tui/draw-throttle.js";
import { createModel } from "../../../src/ui/tui/model.js";
import { applyEvent } from "../../../src/ui/tui/reducers.js";
import { FRAME_MS } from "../../../src/ui/tui/render.js";
import { screenFrame } from "../../../src/ui/tui/setup-frame.js";

/** Timers in virtual time: `advance` runs what falls due, in order. */
class VirtualTimers implements DrawTimers {
  private nowMs = 0;
  private seq = 0;
  private readonly due = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.nowMs;
  }

  after(ms: number, fn: () => void): Timer {
    const id = ++this.seq;
    this.due.set(id, { at: this.nowMs + ms, fn });
    return { cancel: () => this.due.delete(id) };
  }

  advance(ms: number): void {
    const until = this.nowMs + ms;
    for (;;) {
      const next = [...this.due.entries()].sort((a, b) => a[1].at - b[1].at)[0];
      if (!next || next[1].at > until) break;
      this.due.delete(next[0]);
      this.nowMs = next[1].at;
      next[1].fn();
    }
    this.nowMs = until;
  }
}

const BURST = 10_000;

describe("draw throttle", () => {
  it("a burst of 10 000 messages at one instant costs two draws, and the last one shows them all", () => {
    const timers = new VirtualTimers();
    const m = createModel("alice");
    let draws = 0;
    let lastShown = "";
    const throttle = new DrawThrottle(
      () => {
        draws++;
        lastShown = screenFrame(m, 80, 24, timers.now())
          .map((r) => r.map((s) => s.text).join(""))
          .join("\n");
      },
      FRAME_MS,
      timers,
    );
    for (let i = 1; i <= BURST; i++) {
      applyEvent(
        m,
        {
          event: "message",
          id: `m${i}`,
          from: "bob",
          to: "alice",
          text: `burst ${i}`,
          via: "direct",
          sentAt: 0,
        },
        timers.now(),
      );
      throttle.schedule();
    }
    timers.advance(FRAME_MS * 10);
    expect(draws).toBeLessThanOrEqual(2);
    expect(m.buffers[1]?.unread).toBe(BURST);
    expect(lastShown).toMatch(/ 2 ·bob +10000│/);
  });

  it("events spread over a second draw at most once a frame", () => {
    const timers = new VirtualTimers();
    let draws = 0;
    const throttle = new DrawThrottle(() => draws++, FRAME_MS, timers);
    const spanMs = 1000;
    for (let i = 0; i < BURST; i++) {
      throttle.schedule();
      timers.advance(spanMs / BURST);
    }
    timers.advance(FRAME_MS);
    expect(draws).toBeGreaterThan(1);
    expect(draws).toBeLessThanOrEqual(spanMs / FRAME_MS + 2);
  });

  it("draws at once after a quiet spell, and never after stop()", () => {
    const timers = new VirtualTimers();
    let draws = 0;
    const throttle = new DrawThrottle(() => draws++, FRAME_MS, timers);
    throttle.schedule();
    timers.advance(0);
    expect(draws).toBe(1);
    throttle.schedule();
    timers.advance(FRAME_MS - 1);
    expect(draws).toBe(1);
    timers.advance(1);
    expect(draws).toBe(2);
    throttle.schedule();
    throttle.stop();
    throttle.stop();
    timers.advance(FRAME_MS * 2);
    throttle.drawNow();
    expect(draws).toBe(2);
  });
});
