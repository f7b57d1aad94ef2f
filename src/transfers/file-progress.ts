/**
 * The rate and ETA of one transfer, for its `progress` events. Pure: the caller passes the
 * time, so the arithmetic is tested with fixed clocks.
 *
 * The rate is measured over a sliding window of the most recent samples (WINDOW_MS): long
 * enough to smooth the bursts of batched disk syncs (a receiver's bytes grow in steps of a
 * sync batch), short enough to follow a link that slows down or recovers. The first sample is
 * taken when the transfer is accepted, with the bytes the receiver already held, so a resume
 * does not count those as transferred at infinite speed.
 */

/** How far back the rate looks. */
export const RATE_WINDOW_MS = 2000;

export interface ProgressRate {
  /** Bytes per second over the last RATE_WINDOW_MS (0 until time has passed). */
  bytesPerSecond: number;
  /** Seconds until `totalBytes` at that rate, rounded up; null while the rate is 0. */
  etaSeconds: number | null;
}

export class ProgressMeter {
  private readonly samples: Array<{ atMs: number; bytes: number }> = [];

  constructor(
    startMs: number,
    startBytes: number,
    private readonly totalBytes: number,
    private readonly windowMs = RATE_WINDOW_MS,
  ) {
    this.samples.push({ atMs: startMs, bytes: startBytes });
  }

  /** Records `bytes` done at `nowMs` and returns the rate and ETA. */
  sample(nowMs: number, bytes: number): ProgressRate {
    this.samples.push({ atMs: nowMs, bytes });
    // Keep one sample at or before the window's start, so the window is always spanned.
    while (this.samples.length > 2 && (this.samples[1]?.atMs ?? nowMs) <= nowMs - this.windowMs) {
      this.samples.shift();
    }
    const first = this.samples[0] as { atMs: number; bytes: number };
    const elapsedMs = nowMs - first.atMs;
    const bytesPerSecond =
      elapsedMs > 0 ? Math.max(0, Math.round(((bytes - first.bytes) * 1000) / elapsedMs)) : 0;
    const left = Math.max(0, this.totalBytes - bytes);
    return {
      bytesPerSecond,
      etaSeconds: left === 0 ? 0 : bytesPerSecond > 0 ? Math.ceil(left / bytesPerSecond) : null,
    };
  }
}
