/**
 * The channel's output side (`reliable-channel.ts` holds the theory of operation): which frame
 * goes next (an ACK that is due or rides ahead of data, else the segment NextSeg names once
 * the pacer lets it go), whole or in fragments when the path shrank after it was cut, and what
 * each transmission tells the pacer, the delivery-rate sampler, the scoreboard and the
 * retransmission timer.
 */

import {
  type AckFrame,
  FRAGMENT_HEADER_BYTES,
  frameBytes,
  SEGMENT_HEADER_BYTES,
  type SegmentFrame,
} from "../protocol/frames.js";
import type { CongestionController } from "./congestion/index.js";
import type { DeliveryRateSampler } from "./delivery-rate.js";
import { cutFragment, fragmentRoom, MIN_FRAGMENT_BYTES } from "./fragments.js";
import type { LossRecovery } from "./loss-recovery.js";
import { Pacer } from "./pacer.js";
import type { Reassembly } from "./reassembly.js";
import type { FragmentCursor, OutgoingSegment, SendScoreboard } from "./send-scoreboard.js";

export class Transmitter {
  private readonly pacer = new Pacer();
  /** The largest segment sent so far (the congestion controller's unit). */
  private largestSegmentBytes = 0;
  /** Fragments sent, for the channel's stats. */
  fragmentsSent = 0;

  constructor(
    private readonly stream: number,
    private readonly sb: SendScoreboard,
    private readonly rx: Reassembly,
    private readonly rate: DeliveryRateSampler,
    private readonly recovery: LossRecovery,
    private readonly congestion: CongestionController,
  ) {}

  /** When the pacer lets the next segment go, if it holds one back. */
  get deadline(): number | undefined {
    return this.pacer.deadline;
  }

  /** The pacer's release time: the next `nextFrame` refills the bucket and sends. */
  handleTimeout(now: number): void {
    this.pacer.handleTimeout(now);
  }

  /** The next frame that fits `maxBytes`, segments cut to at most `budgetBytes` (the path's). */
  nextFrame(now: number, maxBytes: number, budgetBytes: number): SegmentFrame | AckFrame | undefined {
    const ackDeadline = this.rx.ackDeadline;
    const cursor = this.sb.fragmentCursor;
    if (cursor !== undefined) {
      // The rest of a fragmented transmission goes first, each fragment paced like a segment
      // (a burst of them would overflow the very queues that made the path shrink).
      if (ackDeadline !== undefined && ackDeadline <= now) return this.rx.buildAck(now, maxBytes);
      if (
        !this.pacerAllows(now, Math.min(fragmentRoom(maxBytes, budgetBytes), cursor.seg.size - cursor.offset))
      ) {
        return undefined;
      }
      return this.nextFragment(maxBytes, budgetBytes);
    }
    let next = this.sb.nextSegmentToSend(this.congestion.cwndBytes);
    if (next === undefined) {
      this.pacer.clearDeadline();
      if (this.sb.inflightBytes < this.congestion.cwndBytes && this.sb.lostSegments === 0) {
        this.rate.noteAppLimited(this.sb.inflightBytes);
      }
    } else if (
      !this.pacerAllows(
        now,
        next.seg.size > budgetBytes ? fragmentRoom(maxBytes, budgetBytes) : next.seg.size,
      )
    ) {
      next = undefined;
    }
    if (ackDeadline !== undefined && (next !== undefined || ackDeadline <= now)) {
      // Due, or piggybacked ahead of data that goes out anyway.
      return this.rx.buildAck(now, maxBytes);
    }
    if (next === undefined) return undefined;
    const seg = next.seg;
    if (seg.size > budgetBytes) {
      // Cut when the path carried more than it does now: send it in fragments.
      if (maxBytes < SEGMENT_HEADER_BYTES + FRAGMENT_HEADER_BYTES + MIN_FRAGMENT_BYTES) return undefined;
      this.transmit(seg, next.retransmit, now);
      // The pacer is charged fragment by fragment (`nextFragment`), not for the whole segment.
      this.pacer.refund(seg.size);
      seg.wireBytes = Math.min(seg.size, fragmentRoom(maxBytes, budgetBytes));
      this.sb.startFragments(seg);
      return this.nextFragment(maxBytes, budgetBytes);
    }
    const frame: SegmentFrame = {
      type: "segment",
      stream: this.stream,
      seq: seg.seq,
      end: seg.end,
      payload: seg.payload,
    };
    if (seg.head.length > 0) frame.head = seg.head;
    if (frameBytes(frame) > maxBytes) return undefined;
    this.transmit(seg, next.retransmit, now);
    return frame;
  }

  private transmit(seg: OutgoingSegment, retransmit: boolean, now: number): void {
    const size = seg.size;
    this.rate.onTransmit(seg, this.sb.inflightBytes, now);
    if (size > this.largestSegmentBytes) {
      this.largestSegmentBytes = size;
      this.congestion.setMaxSegmentBytes(size);
    }
    this.pacer.charge(size);
    this.sb.transmit(seg, retransmit, this.congestion.cwndBytes, now);
    this.recovery.onTransmit(now);
  }

  private pacerAllows(now: number, bytes: number): boolean {
    return this.pacer.allows(now, bytes, this.congestion.pacingRateBytesPerMs, this.largestSegmentBytes);
  }

  /** The next fragment of the segment being sent in pieces, sized to the path and `maxBytes`. */
  private nextFragment(maxBytes: number, budgetBytes: number): SegmentFrame | undefined {
    const cursor = this.sb.fragmentCursor as FragmentCursor;
    const room = fragmentRoom(maxBytes, budgetBytes);
    if (room < Math.min(MIN_FRAGMENT_BYTES, cursor.seg.size - cursor.offset)) return undefined;
    const start = cursor.offset;
    const frame = cutFragment(this.stream, cursor, room);
    this.pacer.charge(cursor.offset - start);
    if (cursor.offset >= cursor.seg.size) this.sb.stopFragments();
    this.fragmentsSent++;
    return frame;
  }
}
