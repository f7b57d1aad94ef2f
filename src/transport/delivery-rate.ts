/**
 * DeliveryRateSampler: the reliable channel's delivery-rate estimation, in bytes
 * (draft-cheng-iccrg-delivery-rate-estimation), sans-IO.
 *
 * Each transmission records how much had been delivered, and when, at the moment it was sent
 * (`onTransmit`, a `RateSnapshot` kept on the segment). When the newest acknowledged
 * transmission comes back, the rate over its flight is `delivered now - delivered then` over
 * the longer of its send and ACK intervals (the send interval keeps ACK compression from
 * inflating the rate). A sample taken while the sender had nothing to send, or was held by
 * the peer's window or the send window, is marked app-limited: it measures the application,
 * not the network. The samples feed the congestion controller (`AckSample`).
 */

import type { AckSample } from "./congestion/index.js";

/** What a transmission remembers of the delivery state when it was sent (draft §3.2). */
export interface RateSnapshot {
  /** `now` of the latest transmission. */
  sentAtMs: number;
  rsDelivered: number;
  rsDeliveredTimeMs: number;
  rsFirstSentTimeMs: number;
  rsAppLimited: boolean;
}

export class DeliveryRateSampler {
  // Draft §3.1, in bytes.
  private delivered = 0;
  private deliveredSegmentCount = 0;
  private deliveredTimeMs = 0;
  private firstSentTimeMs = 0;
  /** Non-zero while app-limited: the `delivered` count at which that episode ends. */
  private appLimitedUntil = 0;

  /** Bytes acknowledged over the channel's life. */
  get deliveredBytes(): number {
    return this.delivered;
  }

  /** Segments acknowledged over the channel's life. */
  get deliveredSegments(): number {
    return this.deliveredSegmentCount;
  }

  /** A segment goes out with `inflightBytes` in flight before it: snapshot the state. */
  onTransmit(seg: RateSnapshot, inflightBytes: number, now: number): void {
    if (inflightBytes === 0) {
      // Nothing in flight: a rate interval starts now (draft §3.2).
      this.firstSentTimeMs = now;
      this.deliveredTimeMs = now;
    }
    seg.rsDelivered = this.delivered;
    seg.rsDeliveredTimeMs = this.deliveredTimeMs;
    seg.rsFirstSentTimeMs = this.firstSentTimeMs;
    seg.rsAppLimited = this.appLimitedUntil !== 0;
  }

  /** One ACK newly acknowledged `segments` segments of `bytes` in all. */
  onDelivered(bytes: number, segments: number, now: number): void {
    this.delivered += bytes;
    this.deliveredSegmentCount += segments;
    this.deliveredTimeMs = now;
  }

  /** The sample of one ACK, from its newest acknowledged transmission (draft §3.3, GenerateRateSample). */
  sample(
    newest: RateSnapshot,
    rttSampleMs: number | undefined,
    inRecovery: boolean,
    inflightBytes: number,
  ): AckSample {
    if (this.appLimitedUntil !== 0 && this.delivered > this.appLimitedUntil) this.appLimitedUntil = 0;
    const sendElapsed = newest.sentAtMs - newest.rsFirstSentTimeMs;
    const ackElapsed = this.deliveredTimeMs - newest.rsDeliveredTimeMs;
    this.firstSentTimeMs = newest.sentAtMs;
    return {
      inRecovery,
      rttSampleMs,
      deliveredBytes: this.delivered,
      priorDeliveredBytes: newest.rsDelivered,
      intervalBytes: this.delivered - newest.rsDelivered,
      intervalMs: Math.max(sendElapsed, ackElapsed),
      appLimited: newest.rsAppLimited,
      inflightBytes,
    };
  }

  /**
   * Nothing could be sent with `inflightBytes` in flight: the application (or the peer's
   * window, or the send window) is the limit, so samples until this flight is delivered do not
   * measure the network (draft §3.4). The caller checks that the congestion window had room.
   */
  noteAppLimited(inflightBytes: number): void {
    this.appLimitedUntil = Math.max(this.delivered + inflightBytes, 1);
  }
}
