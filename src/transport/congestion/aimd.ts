/**
 * AIMD congestion control (the interface and its units: `controller.ts`).
 *
 * `AimdCongestionController` — the default for control and chat: slow start, then additive
 * increase of one segment per window (RFC 5681 §3.1), multiplicative decrease by CUBIC's beta
 * of 0.7 (RFC 9438 §4.6) on loss, no growth while a loss episode is repaired (RFC 6675 §5),
 * and back to one segment after a timeout (RFC 5681 §3.1, "loss window"). Chat is
 * application-limited, so the controller barely matters there; it is simple and well known.
 */

import { type AckSample, type CongestionController, DEFAULT_MAX_SEGMENT_BYTES } from "./controller.js";

export interface AimdCongestionOptions {
  /** RFC 6928 §2: an initial window of 10 segments. */
  initialCwndSegments?: number;
  /** RFC 5681 §3.1: after a loss, no fewer than 2 segments. */
  minCwndSegments?: number;
  /**
   * Growth stops here. Without it an application-limited sender grows the window without
   * bound and then bursts (RFC 7661 §1); the channel's send window caps it as well.
   */
  maxCwndSegments?: number;
}

/** RFC 9438 §4.6: CUBIC's multiplicative decrease factor. */
const BETA = 0.7;

/**
 * The window is kept in bytes and its limits in segments of the current size, so a channel
 * whose segments grow (a path that carries larger datagrams) keeps its limits in step.
 */
export class AimdCongestionController implements CongestionController {
  private cwnd: number;
  private ssthresh = Number.POSITIVE_INFINITY;
  private beforeRto: { cwnd: number; ssthresh: number } | undefined;
  private mss = DEFAULT_MAX_SEGMENT_BYTES;
  private readonly minCwndSegments: number;
  private readonly maxCwndSegments: number;

  constructor(opts: AimdCongestionOptions = {}) {
    this.minCwndSegments = opts.minCwndSegments ?? 2;
    this.maxCwndSegments = opts.maxCwndSegments ?? 4096;
    this.cwnd = Math.min(opts.initialCwndSegments ?? 10, this.maxCwndSegments) * this.mss;
  }

  get cwndBytes(): number {
    return Math.max(this.mss, Math.floor(this.cwnd));
  }

  get ssthreshBytes(): number {
    return this.ssthresh;
  }

  get inSlowStart(): boolean {
    return this.cwnd < this.ssthresh;
  }

  setMaxSegmentBytes(bytes: number): void {
    if (!(bytes > 0) || bytes === this.mss) return;
    // Keep the window's size in segments across the change (the window is a count of
    // datagrams in flight as much as of bytes).
    const scale = bytes / this.mss;
    this.cwnd *= scale;
    if (Number.isFinite(this.ssthresh)) this.ssthresh *= scale;
    this.mss = bytes;
  }

  onAck(ackedBytes: number, _rttMs: number, _now: number, sample?: AckSample): void {
    if (!(ackedBytes > 0)) return;
    if (sample !== undefined && !sample.inRecovery) this.beforeRto = undefined;
    // RFC 6675 §5: the window does not grow while a loss episode is repaired.
    if (sample?.inRecovery) return;
    if (this.cwnd < this.ssthresh) {
      // RFC 5681 §3.1: slow start grows by the bytes acknowledged.
      this.cwnd = Math.min(this.cwnd + ackedBytes, this.ssthresh);
    } else {
      // RFC 5681 §3.1, eq. 3: about one segment per round trip.
      this.cwnd += (this.mss * ackedBytes) / this.cwnd;
    }
    this.cwnd = Math.min(this.cwnd, this.maxCwndSegments * this.mss);
  }

  onLoss(_now: number): void {
    this.ssthresh = Math.max(this.cwnd * BETA, this.minCwndSegments * this.mss);
    this.cwnd = this.ssthresh;
  }

  onRto(_now: number): void {
    this.beforeRto ??= { cwnd: this.cwnd, ssthresh: this.ssthresh };
    this.ssthresh = Math.max(this.cwnd * BETA, this.minCwndSegments * this.mss);
    this.cwnd = this.mss; // RFC 5681 §3.1: loss window of one segment.
  }

  onRtoUndo(_now: number): void {
    if (this.beforeRto === undefined) return;
    // RFC 5682 §3.1 (response to a spurious timeout): back to where the window was.
    this.cwnd = Math.max(this.cwnd, this.beforeRto.cwnd);
    this.ssthresh = this.beforeRto.ssthresh;
    this.beforeRto = undefined;
  }
}
