/**
 * At most one draw per `frameMs`, however often something asks for one: the first request
 * after a quiet spell draws at once, later ones within the frame coalesce into a single
 * draw at its end. A burst of messages or a fast transfer's progress events then costs a
 * bounded number of draws, and the keyboard is never starved.
 *
 * The clock and the timer are passed in, so tests drive it in virtual time.
 */

export interface DrawTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_TIMERS: DrawTimers = {
  now: Date.now,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class DrawThrottle {
  private timer: unknown;
  private lastDrawAt = Number.NEGATIVE_INFINITY;
  private stopped = false;

  constructor(
    private readonly draw: () => void,
    private readonly frameMs: number,
    private readonly timers: DrawTimers = REAL_TIMERS,
  ) {}

  /** Draw soon: at once if the last draw is a frame old, else when it will be. */
  schedule(): void {
    if (this.timer !== undefined || this.stopped) return;
    const wait = Math.max(0, this.lastDrawAt + this.frameMs - this.timers.now());
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.drawNow();
    }, wait);
  }

  /** Draw now (a resize, the first frame), and count it as this frame's draw. */
  drawNow(): void {
    if (this.stopped) return;
    if (this.timer !== undefined) {
      this.timers.clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.lastDrawAt = this.timers.now();
    this.draw();
  }

  /** No draw after this. Idempotent. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
