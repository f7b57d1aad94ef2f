/**
 * Pacer: the reliable channel's token bucket of bytes, sans-IO.
 *
 * When the congestion controller reports a pacing rate, segments (new data and
 * retransmissions; ACKs are never paced) leave through a bucket refilled at that rate and
 * holding at most `max(4 segments, 2 ms of the rate)`, so a 1 ms adapter timer can still reach
 * the rate. A segment leaves when the bucket holds its size and takes it out; a segment the
 * bucket holds back sets the pacing `deadline`, which the channel's `pollTimeout` reports: the
 * core says when the next datagram may go. Without a rate (the AIMD default) the bucket is
 * off and the window alone clocks transmissions.
 */

/** Smallest pacing burst, in segments (Linux fq and quinn's pacer allow a few segments too). */
const PACER_MIN_BURST_SEGMENTS = 4;
/** The bucket holds this much time at the pacing rate, so a 1 ms timer can reach the rate. */
const PACER_BURST_MS = 2;
/** Float slack: a bucket this close to the size it needs is full enough. */
const PACER_EPSILON = 1e-9;

export class Pacer {
  private tokens = 0;
  /** When the bucket was last refilled; undefined while unpaced (the bucket is off). */
  private refillAtMs: number | undefined;
  private deadlineMs: number | undefined;

  /** When a segment the bucket held back may go, if one was held back. */
  get deadline(): number | undefined {
    return this.deadlineMs;
  }

  /**
   * May a segment (or fragment) of `bytes` go now at `rateBytesPerMs`? If not, `deadline` says
   * when it may. A segment larger than the bucket goes when the bucket is full.
   */
  allows(
    now: number,
    bytes: number,
    rateBytesPerMs: number | undefined,
    largestSegmentBytes: number,
  ): boolean {
    const rate = rateBytesPerMs;
    if (rate === undefined || !(rate > 0) || !Number.isFinite(rate)) {
      this.refillAtMs = undefined;
      this.deadlineMs = undefined;
      return true;
    }
    const burst = Math.max(
      PACER_MIN_BURST_SEGMENTS * Math.max(largestSegmentBytes, bytes),
      rate * PACER_BURST_MS,
    );
    this.tokens =
      this.refillAtMs === undefined
        ? burst
        : Math.min(burst, this.tokens + Math.max(0, now - this.refillAtMs) * rate);
    this.refillAtMs = now;
    const need = Math.min(bytes, burst);
    const wait = (need - this.tokens) / rate;
    if (this.tokens >= need - PACER_EPSILON || now + wait <= now) {
      this.deadlineMs = undefined;
      return true;
    }
    this.deadlineMs = now + wait;
    return false;
  }

  /** Bytes that left: taken out of the bucket (nothing while unpaced). */
  charge(bytes: number): void {
    if (this.refillAtMs !== undefined) this.tokens -= bytes;
  }

  /** Bytes charged that will be charged again piece by piece (a segment sent in fragments). */
  refund(bytes: number): void {
    if (this.refillAtMs !== undefined) this.tokens += bytes;
  }

  /** Nothing waits to be sent: no release time to wake up for. */
  clearDeadline(): void {
    this.deadlineMs = undefined;
  }

  /** The release time passed: the next `allows` refills the bucket. */
  handleTimeout(now: number): void {
    if (this.deadlineMs !== undefined && now >= this.deadlineMs) this.deadlineMs = undefined;
  }
}
