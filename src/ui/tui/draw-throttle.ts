/**
 * At most one draw per `frameMs`, however often something asks for one: the first request
 * after a quiet spell draws at once, later ones within the frame coalesce into a single
 * draw at its end. A burst of messages or a fast transfer's progress events then costs a
 * bounded number of draws, and the keyboard is never starved.
 *
 * The clock and the timer are the runtime's (src/runtime.ts), so tests drive it in virtual time.
 */

import type { Runtime, Timer } from "../../runtime.js";

/** What the throttle uses of the runtime: the monotonic clock and one timer. */
export type DrawTimers = Pick<Runtime, "now" | "after">;

export class DrawThrottle {
  private timer: Timer | undefined;
  private lastDrawAt = Number.NEGATIVE_INFINITY;
  private stopped = false;

  constructor(
    private readonly draw: () => void,
    private readonly frameMs: number,
    private readonly timers: DrawTimers,
  ) {}

  /** Draw soon: at once if the last draw is a frame old, else when it will be. */
  schedule(): void {
    if (this.timer !== undefined || this.stopped) return;
    const wait = Math.max(0, this.lastDrawAt + this.frameMs - this.timers.now());
    this.timer = this.timers.after(wait, () => {
      this.timer = undefined;
      this.drawNow();
    });
  }

  /** Draw now (a resize, the first frame), and count it as this frame's draw. */
  drawNow(): void {
    if (this.stopped) return;
    if (this.timer !== undefined) {
      this.timer.cancel();
      this.timer = undefined;
    }
    this.lastDrawAt = this.timers.now();
    this.draw();
  }

  /** No draw after this. Idempotent. */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }
}
