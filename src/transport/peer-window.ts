/**
 * The peer's receive window as the sender sees it (flow control; `send-scoreboard.ts` holds
 * the segments, `reliable-channel.ts` the theory of operation): its right edge, which only
 * grows, the zero-window probes sent past it, and whether the persist timer allows one.
 */

import { seqAdd, seqGt, seqLt } from "../protocol/seq.js";
import { MAX_WINDOW_SEGMENTS } from "./channel-options.js";
import type { OutgoingSegment } from "./outgoing-segment.js";

export class PeerWindow {
  /** Peer's right edge: first sequence number it has no room for. */
  private edge: number;
  /** False until the first ACK replaces our guess of the peer's window. */
  private known = false;
  /** The persist timer expired: one new segment may go past the peer's closed window. */
  probeAllowed = false;
  /** Zero-window probes in flight (a handful at most). */
  private probes: OutgoingSegment[] = [];

  /**
   * Until the first ACK we assume the peer was configured like us, with `peerWindowGuess`
   * segments of buffer (the usual case). If its buffer is smaller, the excess is dropped there
   * and retransmitted: slower, never wrong.
   */
  constructor(initialSeq: number, peerWindowGuess: number) {
    this.edge = seqAdd(initialSeq, peerWindowGuess);
  }

  get rightEdge(): number {
    return this.edge;
  }

  /**
   * The window an ACK advertises. The receiver never shrinks its edge, so the largest one seen
   * is current. No honest receiver advertises more than MAX_WINDOW_SEGMENTS; the clamp keeps a
   * bogus window from wrapping sequence comparisons. A zero-window probe that reached a closed
   * window was dropped there: once the window opens past it, `resend` gets it, to go now
   * rather than on the backed-off timer.
   */
  update(cumulative: number, windowSegments: number, resend: (seg: OutgoingSegment) => void): void {
    const edge = seqAdd(cumulative, Math.min(windowSegments, MAX_WINDOW_SEGMENTS));
    if (this.known && !seqGt(edge, this.edge)) return;
    this.known = true;
    this.edge = edge;
    if (this.probes.length === 0) return;
    const still: OutgoingSegment[] = [];
    for (const seg of this.probes) {
      if (seg.state !== "inflight" || !seg.probe) continue;
      if (seqLt(seg.seq, this.edge)) resend(seg);
      else still.push(seg);
    }
    this.probes = still;
  }

  /** New data goes out: a probe if it lies past the window (a probe is exactly one segment). */
  onTransmitNew(seg: OutgoingSegment): void {
    seg.probe = !seqLt(seg.seq, this.edge);
    if (seg.probe) this.probes.push(seg);
    this.probeAllowed = false;
  }
}
