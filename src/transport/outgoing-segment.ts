/**
 * The sender's record of one segment and its state, a new one, the segment being sent in fragments, and
 * what one ACK did (send-scoreboard.ts keeps the scoreboard of these; it re-exports them).
 */

import type { RateSnapshot } from "./delivery-rate.js";

export type SegmentState = "unsent" | "inflight" | "lost" | "sacked";

export interface OutgoingSegment extends RateSnapshot {
  readonly seq: number;
  readonly end: boolean;
  /** Sent before `payload` (`sendSegment`'s header); EMPTY for `send`'s segments. */
  readonly head: Uint8Array;
  readonly payload: Uint8Array;
  /** `head` and `payload` bytes. */
  readonly size: number;
  state: SegmentState;
  transmissions: number;
  /** Position of the latest transmission in send order (for "sent after" comparisons). */
  txOrder: number;
  /** Marked lost by SACK (so its retransmission counts as a fast retransmit). */
  fastLost: boolean;
  /** First sent past the peer's window, as a zero-window probe. */
  probe: boolean;
  /**
   * Payload bytes per datagram of the latest transmission: the whole segment, or, when it went
   * in fragments, the largest fragment. What the path learns from its fate is about that size.
   */
  wireBytes: number;
}

/** A segment queued by `send` and not yet transmitted. */
export function newSegment(
  seq: number,
  head: Uint8Array,
  payload: Uint8Array,
  end: boolean,
): OutgoingSegment {
  return {
    seq,
    end,
    head,
    payload,
    size: head.length + payload.length,
    state: "unsent",
    transmissions: 0,
    sentAtMs: 0,
    txOrder: 0,
    fastLost: false,
    probe: false,
    wireBytes: 0,
    rsDelivered: 0,
    rsDeliveredTimeMs: 0,
    rsFirstSentTimeMs: 0,
    rsAppLimited: false,
  };
}

/** The segment being sent in fragments, and the offset of its next fragment. */
export interface FragmentCursor {
  seg: OutgoingSegment;
  offset: number;
}

/**
 * What one ACK did (one object, reused from ACK to ACK: read it before the next). Loss fields
 * are filled by `detectLosses`.
 */
export interface AckOutcome {
  /** Segments the cumulative point moved past. */
  cumulativeAdvance: number;
  newlyAckedBytes: number;
  newlyAckedSegments: number;
  /** The newly acknowledged segment transmitted last (the RTT and rate sample come from it). */
  newest: OutgoingSegment | undefined;
  /** A segment the timer declared lost, never resent, was acknowledged: the original arrived. */
  spurious: boolean;
  lostSegments: number;
  lostBytes: number;
}
