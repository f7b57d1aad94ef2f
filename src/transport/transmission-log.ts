/**
 * The sender's transmissions in the order they were made, for loss detection by packet
 * threshold in transmission order (RFC 9002 §6.1.1, RFC 8985; send-scoreboard.ts). Each
 * transmission gets the next order number; a later transmission of the same segment, or its
 * acknowledgement, makes the older entry stale, and stale entries are skipped once.
 */

import type { OutgoingSegment } from "./outgoing-segment.js";

export class TransmissionLog {
  /** `txOrders[i]` is the order of `txSegs[i]`. */
  private txSegs: OutgoingSegment[] = [];
  private txOrders: number[] = [];
  private txHead = 0;
  private txCounter = 0;

  /** `seg` goes out now: it gets the next transmission order. */
  record(seg: OutgoingSegment): void {
    seg.txOrder = ++this.txCounter;
    this.txSegs.push(seg);
    this.txOrders.push(seg.txOrder);
  }

  /**
   * The oldest transmission still in flight whose order is at most `threshold` (it is taken off
   * the log), or undefined if the oldest one in flight is newer.
   */
  nextLost(threshold: number): OutgoingSegment | undefined {
    while (this.txHead < this.txSegs.length) {
      const seg = this.txSegs[this.txHead] as OutgoingSegment;
      const order = this.txOrders[this.txHead] as number;
      // A later transmission of this segment, or its acknowledgement, made the entry stale.
      if (seg.txOrder !== order || seg.state !== "inflight") {
        this.txHead++;
        continue;
      }
      if (order > threshold) return undefined;
      this.txHead++;
      return seg;
    }
    return undefined;
  }

  compact(): void {
    if (this.txHead > 1024 && this.txHead * 2 > this.txSegs.length) {
      this.txSegs.splice(0, this.txHead);
      this.txOrders.splice(0, this.txHead);
      this.txHead = 0;
    }
  }
}
