/**
 * LossRecovery: the reliable channel's retransmission and persist timer and its loss
 * episodes, sans-IO (the theory of operation is at the top of `reliable-channel.ts`:
 * "Retransmission timer", "Spurious timeouts", "Zero window", and loss detection's "one
 * congestion response per episode").
 *
 * One timer, `deadline`: armed when a segment is sent and none is running (RFC 6298 §5.1),
 * restarted when the cumulative ACK advances and stopped when nothing is outstanding (§5.2,
 * §5.3), and run as the persist timer while the peer's window is closed with data waiting
 * (RFC 9293 §3.8.6.1). A loss episode starts at the first loss SACK reveals and ends when
 * everything sent before it is acknowledged (RFC 6675 §5); a timeout starts one too.
 */

import { seqGte } from "../protocol/seq.js";
import type { SegmentPath } from "./channel-options.js";
import type { CongestionController } from "./congestion/index.js";
import type { RttEstimator } from "./rtt-estimator.js";
import type { SendScoreboard } from "./send-scoreboard.js";

export class LossRecovery {
  private rtoDeadline: number | undefined;
  private inFastRecovery = false;
  /** Losses of segments sent before this belong to the episode already reacted to. */
  private recoveryEnd: number | undefined;
  /** A timeout fired and no segment it declared lost has been resent and acknowledged yet. */
  private rtoMayBeSpurious = false;
  /** Timeouts found spurious (the originals arrived) and undone. */
  spuriousTimeouts = 0;

  constructor(
    private readonly sb: SendScoreboard,
    private readonly congestion: CongestionController,
    private readonly rtt: RttEstimator,
  ) {}

  /** When the retransmission or persist timer expires, if it runs. */
  get deadline(): number | undefined {
    return this.rtoDeadline;
  }

  /** A loss episode found by SACK is being repaired. */
  get inRecovery(): boolean {
    return this.inFastRecovery;
  }

  /** A segment went out (RFC 6298 §5.1). */
  onTransmit(now: number): void {
    if (this.rtoDeadline === undefined) this.rtoDeadline = now + this.rtt.rtoMs;
  }

  /**
   * An ACK acknowledged a segment the last timeout declared lost and that was never resent
   * (`spurious`): the timeout was spurious, so the window comes back, and the segments it
   * declared lost that were not resent yet are in flight again instead of being sent twice.
   */
  onAcked(spurious: boolean, now: number): void {
    if (!spurious || !this.rtoMayBeSpurious) return;
    this.rtoMayBeSpurious = false;
    this.spuriousTimeouts++;
    this.congestion.onRtoUndo?.(now);
    this.inFastRecovery = false;
    this.recoveryEnd = undefined;
    this.sb.restoreTimedOut();
  }

  /** The cumulative point moved to `sndUna`: the episode is over once it passed its end. */
  onCumulative(sndUna: number): void {
    if (this.recoveryEnd !== undefined && seqGte(sndUna, this.recoveryEnd)) {
      this.recoveryEnd = undefined;
      this.inFastRecovery = false;
    }
  }

  /** Loss detection found losses: one congestion response per episode (RFC 6675 §5). */
  onLosses(lostSegments: number, lostBytes: number, now: number): void {
    if (lostSegments === 0) return;
    this.congestion.onSegmentsLost?.(lostSegments, lostBytes, now);
    // Losses of data sent before the episode began are part of it.
    if (this.recoveryEnd === undefined) {
      this.congestion.onLoss(now);
      this.inFastRecovery = true;
      this.recoveryEnd = this.sb.sendEdge();
    }
  }

  /** The end of an ACK: Limited Transmit's credit, and the timer (RFC 6298 §5.2, §5.3). */
  afterAck(advanced: boolean, newlyAckedBytes: number, now: number): void {
    this.sb.noteAckProgress(advanced, newlyAckedBytes > 0 && this.recoveryEnd === undefined);
    if (advanced) {
      // Stop the timer when all is acknowledged, else restart it.
      this.rtoDeadline = undefined;
      this.sb.probeAllowed = false;
    }
    this.update(now);
  }

  /** Runs the timer while data is in flight, or while a closed window holds data waiting. */
  update(now: number): void {
    if (this.sb.sentSegments > 0 || this.sb.blockedByPeerWindow) {
      if (this.rtoDeadline === undefined) this.rtoDeadline = now + this.rtt.rtoMs;
    } else {
      this.rtoDeadline = undefined;
      this.sb.probeAllowed = false;
    }
  }

  /** The timer, if it expired: persist probe, probe repeat, or retransmission timeout. */
  handleTimeout(now: number, path: SegmentPath | undefined): boolean {
    if (this.rtoDeadline === undefined || now < this.rtoDeadline) return false;
    if (this.sb.sentSegments === 0) {
      // Persist timer (RFC 9293 §3.8.6.1): allow one segment past a closed window.
      this.sb.probeAllowed = true;
    } else if (this.sb.onlyProbeOutstanding) {
      // Only a window probe is outstanding: repeat it; a closed window is not congestion.
      this.sb.markProbeLost();
    } else {
      // RFC 6298 §5.4–5.6, RFC 6675 §5.1: every unSACKed segment is presumed lost.
      const largest = this.sb.markInflightLost();
      path?.onTimeout(largest, now);
      this.congestion.onRto(now);
      this.rtoMayBeSpurious = true;
      this.inFastRecovery = false;
      this.recoveryEnd = this.sb.sendEdge();
    }
    this.sb.stopFragments();
    this.rtt.backOff(); // RFC 6298 §5.5
    this.rtoDeadline = now + this.rtt.rtoMs; // RFC 6298 §5.6
    return true;
  }
}
