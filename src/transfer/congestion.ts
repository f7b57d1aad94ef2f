/**
 * Congestion control for the reliable channel, measured in segments.
 *
 * The channel asks `cwndSegments` before every transmission (segments in flight must stay
 * below it) and reports events: newly acknowledged segments, one loss event per recovery
 * episode (fast retransmit), and retransmission timeouts. Controllers are pure state: no
 * clock, `now` is an argument.
 *
 * `AimdCongestionController` is the simple default: slow start, then additive increase of one
 * segment per window (RFC 5681 §3.1), multiplicative decrease by CUBIC's beta of 0.7
 * (RFC 9438 §4.6) on loss, and back to one segment after a timeout (RFC 5681 §3.1, "loss
 * window"). A later, loss-tolerant rate-based controller for bulk transfers implements the
 * same interface.
 */

export interface CongestionController {
  /** Segments the sender may have in flight; the channel always allows at least one. */
  readonly cwndSegments: number;
  /** `ackedSegments` newly acknowledged (cumulatively or by SACK); `rttMs` is the latest RTT. */
  onAck(ackedSegments: number, rttMs: number, now: number): void;
  /** A loss event detected by SACK; called once per recovery episode. */
  onLoss(now: number): void;
  /** The retransmission timer expired. */
  onRto(now: number): void;
}

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

export class AimdCongestionController implements CongestionController {
  private cwnd: number;
  private ssthresh = Number.POSITIVE_INFINITY;
  private readonly minCwnd: number;
  private readonly maxCwnd: number;

  constructor(opts: AimdCongestionOptions = {}) {
    this.minCwnd = opts.minCwndSegments ?? 2;
    this.maxCwnd = opts.maxCwndSegments ?? 4096;
    this.cwnd = Math.min(opts.initialCwndSegments ?? 10, this.maxCwnd);
  }

  get cwndSegments(): number {
    return Math.max(1, Math.floor(this.cwnd));
  }

  get ssthreshSegments(): number {
    return this.ssthresh;
  }

  get inSlowStart(): boolean {
    return this.cwnd < this.ssthresh;
  }

  onAck(ackedSegments: number, _rttMs: number, _now: number): void {
    if (!(ackedSegments > 0)) return;
    if (this.cwnd < this.ssthresh) {
      // RFC 5681 §3.1: slow start grows by the number of segments acknowledged.
      this.cwnd = Math.min(this.cwnd + ackedSegments, this.ssthresh);
    } else {
      // RFC 5681 §3.1, eq. 3: about one segment per round trip.
      this.cwnd += ackedSegments / this.cwnd;
    }
    this.cwnd = Math.min(this.cwnd, this.maxCwnd);
  }

  onLoss(_now: number): void {
    this.ssthresh = Math.max(this.cwnd * BETA, this.minCwnd);
    this.cwnd = this.ssthresh;
  }

  onRto(_now: number): void {
    this.ssthresh = Math.max(this.cwnd * BETA, this.minCwnd);
    this.cwnd = 1; // RFC 5681 §3.1: loss window of one segment.
  }
}
