/**
 * Congestion control for the reliable channel, measured in bytes (RFC 9002 §7, RFC 5681 count
 * bytes too): a session's segments change size as its path MTU is discovered (`path-mtu.ts`),
 * from 1,200-byte datagrams to 64 KiB ones, and a window or a rate counted in segments would
 * change meaning with them.
 *
 * The channel asks `cwndBytes` before every transmission (bytes in flight must stay below it)
 * and, when the controller offers one, paces transmissions at `pacingRateBytesPerMs`. It tells
 * the controller the largest segment it sends (`setMaxSegmentBytes`), the unit of the floors
 * and initial windows below ("4 segments" is 4 of those). It reports events: every ACK that
 * newly acknowledges data (with an `AckSample`: recovery state, RTT sample and a delivery-rate
 * sample), one loss event per recovery episode (fast retransmit), every segment declared lost,
 * and retransmission timeouts. Controllers are pure state: no clock, `now` is an argument.
 *
 * Two controllers implement the interface: `AimdCongestionController` (`aimd.ts`), the
 * default for control and chat, and `BbrCongestionController` (`bbr.ts`), a model-based one
 * for bulk transfers.
 */

/** What the channel knows about one ACK that newly acknowledged data. */
export interface AckSample {
  /** A loss episode found by SACK is being repaired (RFC 6675 §5). */
  inRecovery: boolean;
  /** The RTT sample this ACK produced (Karn-valid, ACK delay removed), if any. */
  rttSampleMs: number | undefined;
  /** Bytes acknowledged over the channel's life, this ACK included. */
  deliveredBytes: number;
  /** `deliveredBytes` when the newest acknowledged segment was sent: a round-trip marker. */
  priorDeliveredBytes: number;
  /** Delivery-rate sample: bytes delivered over `intervalMs` (delivery-rate estimation draft). */
  intervalBytes: number;
  intervalMs: number;
  /** The sample was taken while the sender could not fill the window: a lower bound only. */
  appLimited: boolean;
  /** Bytes in flight after this ACK. */
  inflightBytes: number;
}

export interface CongestionController {
  /** Bytes the sender may have in flight; the channel always allows at least one segment. */
  readonly cwndBytes: number;
  /** Pacing rate; undefined means unpaced (the window alone clocks transmissions). */
  readonly pacingRateBytesPerMs?: number | undefined;
  /** The largest segment the channel sends now: the unit of floors and initial windows. */
  setMaxSegmentBytes(bytes: number): void;
  /**
   * `ackedBytes` newly acknowledged (cumulatively or by SACK); `rttMs` is the latest RTT.
   * Called for every such ACK, during loss recovery too (`sample.inRecovery`).
   */
  onAck(ackedBytes: number, rttMs: number, now: number, sample?: AckSample): void;
  /** A loss event detected by SACK; called once per recovery episode. */
  onLoss(now: number): void;
  /** The retransmission timer expired. */
  onRto(now: number): void;
  /**
   * The last timeout was spurious: a segment it declared lost was acknowledged before it was
   * sent again, so the original got through (RFC 5682, F-RTO's conclusion without its
   * probing). Undo what `onRto` did to the window.
   */
  onRtoUndo?(now: number): void;
  /** Segments newly declared lost by SACK, every one of them (loss-rate accounting). */
  onSegmentsLost?(count: number, bytes: number, now: number): void;
}

/** The segment size a controller assumes until the channel says otherwise (1,200-byte datagrams). */
export const DEFAULT_MAX_SEGMENT_BYTES = 1150;
