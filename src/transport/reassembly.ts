/**
 * Reassembly: the receiver's half of the reliable channel, sans-IO (the channel's theory of
 * operation is at the top of `reliable-channel.ts`; this is its "Receiver" part in full).
 *
 * Fragments of a segment are collected (`fragments.ts`) and the whole segment then arrives
 * as one. Segment payloads are kept as the views they arrived in: the caller hands over
 * buffers that nobody reuses (the session opens each datagram into a fresh one).
 *
 * `rcvNxt` is the next sequence number expected (the cumulative ACK). In-order segments are
 * appended to the message being reassembled; a segment with `end` completes a message, which
 * waits in `ready` until `pollMessage`. Out-of-order segments wait in `ooo`, summarised as
 * sorted SACK ranges. Memory is bounded by `receiveWindowSegments`:
 *
 *     held (reassembling + ready, undelivered)  +  ooo  <=  receiveWindowSegments
 *     advertised window = receiveWindowSegments - held (and, with receiveWindowBytes, no more
 *     than the free bytes hold at the largest segment size seen); right edge = rcvNxt + window
 *
 * Segments at or beyond the right edge are dropped. An in-order arrival moves `rcvNxt` and
 * `held` up together, so the segment count alone never moves the edge left; the byte bound
 * could (a segment larger than any before shrinks the estimate), so the edge advertised is
 * remembered (`promisedEdge`) and the window never ends short of it: the byte bound limits
 * what is promised next, not what was promised. Only `pollMessage` moves the edge right.
 * A receiver that stops calling `pollMessage` (a file receiver whose disk is behind) therefore
 * closes the window in bounded memory, and the sender waits on the persist timer.
 *
 * A window promised in segments while they were small would hold far more bytes once they
 * grow (4,096 segments of 64 KiB are 256 MiB), so the bytes are also checked on arrival: a
 * segment inside the promised window that would take the buffer past `receiveWindowBytes`
 * is dropped unacknowledged (`overBytes`), a loss to the sender until the application drains.
 *
 * Integrity: an optional `verifySegment` check runs on every new in-window segment before it
 * is buffered. A segment that fails it is dropped *unacknowledged* and counted
 * (`integrityDropped`): to the sender that is exactly a loss, repaired by SACK or the timer.
 *
 * ACK policy (RFC 5681 §4.2, RFC 1122 §4.2.3.2): ACK at once for an out-of-order or duplicate
 * segment, one that fills a gap, or every `ackEverySegments` in-order segments; otherwise
 * after `ackDelayMs`. `ackDeadline` says when an ACK is owed; the channel piggybacks it ahead
 * of data. When the application drains enough to reopen a small window, a window update is
 * owed at once (RFC 1122 §4.2.3.3 receiver-side SWS rule).
 */

import { type AckFrame, frameBytes, type SegmentFrame } from "../protocol/frames.js";
import { MAX_SACK_RANGES } from "../protocol/limits.js";
import { seqAdd, seqDiff, seqGt, seqGte, seqLt } from "../protocol/seq.js";
import type { ResolvedChannelOptions } from "./channel-options.js";
import { FragmentCollector } from "./fragments.js";

interface ReadyMessage {
  bytes: Uint8Array;
  segments: number;
}

const EMPTY_READY: ReadyMessage = { bytes: new Uint8Array(0), segments: 0 };

export class Reassembly {
  private rcvNxt: number;
  private readonly ooo = new Map<number, SegmentFrame>();
  /** Sorted, disjoint [start, end) ranges of `ooo`, all above `rcvNxt`. */
  private oooRanges: Array<[number, number]> = [];
  private lastOooSeq: number | undefined;
  private readonly fragments = new FragmentCollector();
  private partial: Uint8Array[] = [];
  private partialBytes = 0;
  private discardingMessage = false;
  private readonly ready: ReadyMessage[] = [];
  private readyHead = 0;
  /** Segments accepted in order and not yet handed to the application, and their bytes. */
  private heldSegments = 0;
  private heldBytes = 0;
  /** Payload bytes of `ooo`. */
  private oooBytes = 0;
  /** The largest segment received: the unit of the byte-bounded window. */
  private largestReceivedBytes = 0;
  /** The right edge advertised so far (absolute sequence number): never moved left. */
  private promisedEdge: number;
  private ackDeadlineMs: number | undefined;
  /** Arrival time of the newest segment not yet acknowledged (for the ACK-delay field). */
  private ackDelayBase: number | undefined;
  private segmentsSinceAck = 0;
  private lastAdvertisedWindow: number;

  readonly counters = {
    duplicatesDropped: 0,
    messagesDelivered: 0,
    outOfWindowDropped: 0,
    oversizedDropped: 0,
    integrityDropped: 0,
    fragmentsDropped: 0,
  };

  constructor(
    private readonly stream: number,
    initialSeq: number,
    private readonly opts: ResolvedChannelOptions,
  ) {
    this.rcvNxt = initialSeq;
    this.lastAdvertisedWindow = opts.receiveWindowSegments;
    // Nothing is promised before the first ACK (the sender's guess of our window is its own).
    this.promisedEdge = initialSeq;
  }

  /** When an ACK is owed, if one is. */
  get ackDeadline(): number | undefined {
    return this.ackDeadlineMs;
  }

  /** Segments held right now (undelivered plus out-of-order). */
  get bufferedSegments(): number {
    return this.heldSegments + this.ooo.size;
  }

  handleSegment(frame: SegmentFrame, now: number): void {
    const offset = seqDiff(frame.seq, this.rcvNxt);
    if (offset < 0 || this.ooo.has(frame.seq)) {
      // Already acknowledged or buffered: our ACK was probably lost, so repeat it now.
      this.counters.duplicatesDropped++;
      this.ackNow(now);
      return;
    }
    if (offset >= this.advertisedWindow()) {
      // Beyond the buffer (or a zero-window probe): drop, and tell the peer where the edge is.
      this.counters.outOfWindowDropped++;
      this.ackNow(now);
      return;
    }
    let whole = frame;
    if (frame.fragment !== undefined) {
      const assembled = this.fragments.collect(frame);
      if (assembled === "dropped") this.counters.fragmentsDropped++;
      else if (assembled === "duplicate") this.counters.duplicatesDropped++;
      if (typeof assembled === "string") return;
      whole = assembled;
    }
    if (this.opts.verifySegment !== undefined && !this.opts.verifySegment(whole)) {
      // Damaged: never acknowledged, so the sender repairs it like any other loss.
      this.counters.integrityDropped++;
      return;
    }
    if (this.overBytes(offset, whole.payload.length)) {
      // Within the window promised, but not within the bytes: dropped unacknowledged, a loss
      // to the sender, repaired once the application has drained (see the header).
      this.counters.outOfWindowDropped++;
      return;
    }
    this.ackDelayBase = now;
    if (whole.payload.length > this.largestReceivedBytes) this.largestReceivedBytes = whole.payload.length;
    if (offset > 0) {
      this.ooo.set(whole.seq, whole);
      this.oooBytes += whole.payload.length;
      this.insertOooRange(whole.seq);
      this.lastOooSeq = whole.seq;
      this.ackNow(now);
      return;
    }
    this.acceptInOrder(whole.end, whole.payload);
    const filledGap = this.drainOoo();
    if (filledGap || this.oooRanges.length > 0) {
      this.ackNow(now);
      return;
    }
    this.segmentsSinceAck++;
    if (this.segmentsSinceAck >= this.opts.ackEverySegments) {
      this.ackNow(now);
    } else if (this.ackDeadlineMs === undefined) {
      this.ackDeadlineMs = now + this.opts.ackDelayMs;
    }
  }

  /** The next complete message; `now` is the latest time the channel saw (for a window update). */
  pollMessage(now: number): Uint8Array | undefined {
    if (this.readyHead >= this.ready.length) return undefined;
    const msg = this.ready[this.readyHead] as ReadyMessage;
    this.ready[this.readyHead] = EMPTY_READY;
    this.readyHead++;
    if (this.readyHead > 64 && this.readyHead * 2 > this.ready.length) {
      this.ready.splice(0, this.readyHead);
      this.readyHead = 0;
    }
    this.heldSegments -= msg.segments;
    this.heldBytes -= msg.bytes.length;
    this.counters.messagesDelivered++;
    this.maybeSendWindowUpdate(now);
    return msg.bytes;
  }

  /** The ACK owed, with as many SACK ranges as fit `maxBytes`; undefined if none fits. */
  buildAck(now: number, maxBytes: number): AckFrame | undefined {
    const window = this.advertisedWindow();
    const ack: AckFrame = {
      type: "ack",
      stream: this.stream,
      cumulative: this.rcvNxt,
      windowSegments: window,
      ackDelayMs: this.ackDelayBase === undefined ? 0 : Math.max(0, now - this.ackDelayBase),
      ranges: [],
    };
    const base = frameBytes(ack);
    if (base > maxBytes) return undefined;
    const room = Math.min(MAX_SACK_RANGES, Math.floor((maxBytes - base) / 8));
    if (room > 0 && this.oooRanges.length > 0) {
      // RFC 2018 §4: the first block reports the most recently received segment.
      const recent = this.oooRanges.find(
        ([s, e]) => this.lastOooSeq !== undefined && seqGte(this.lastOooSeq, s) && seqLt(this.lastOooSeq, e),
      );
      if (recent !== undefined) ack.ranges.push([recent[0], recent[1]]);
      for (const r of this.oooRanges) {
        if (ack.ranges.length >= room) break;
        if (r !== recent) ack.ranges.push([r[0], r[1]]);
      }
    }
    this.ackDeadlineMs = undefined;
    this.ackDelayBase = undefined;
    this.segmentsSinceAck = 0;
    this.lastAdvertisedWindow = window;
    const edge = seqAdd(this.rcvNxt, window);
    if (seqGt(edge, this.promisedEdge)) this.promisedEdge = edge;
    return ack;
  }

  /**
   * The window: free segments of the buffer, also bounded by its free bytes at the largest
   * segment size seen, but never short of an edge already promised.
   */
  /**
   * Whether a segment of `bytes` at `offset` would take the buffer past `receiveWindowBytes`:
   * an in-order one counts against what the application has not taken (`held`), an
   * out-of-order one against that and the out-of-order bytes. An empty buffer takes any one
   * segment, and a gap is always filled (out-of-order bytes never block the segment they wait
   * for), so the buffer holds at most twice the bound plus a segment, and never stalls.
   */
  private overBytes(offset: number, bytes: number): boolean {
    const limit = this.opts.receiveWindowBytes;
    if (limit === undefined) return false;
    const counted = offset === 0 ? this.heldBytes : this.heldBytes + this.oooBytes;
    return counted > 0 && counted + bytes > limit;
  }

  private advertisedWindow(): number {
    const { receiveWindowSegments, receiveWindowBytes } = this.opts;
    let window = Math.max(0, receiveWindowSegments - this.heldSegments);
    if (receiveWindowBytes !== undefined && this.largestReceivedBytes > 0) {
      const free = receiveWindowBytes - this.heldBytes - this.oooBytes;
      window = Math.min(window, Math.max(0, Math.floor(free / this.largestReceivedBytes)));
    }
    return Math.max(window, seqDiff(this.promisedEdge, this.rcvNxt));
  }

  private ackNow(now: number): void {
    this.ackDeadlineMs = this.ackDeadlineMs === undefined ? now : Math.min(this.ackDeadlineMs, now);
  }

  private acceptInOrder(end: boolean, payload: Uint8Array): void {
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    if (this.fragments.size > 0) this.fragments.forgetArrived(this.rcvNxt, this.ooo);
    if (this.discardingMessage) {
      if (end) this.discardingMessage = false;
      return;
    }
    this.partial.push(payload);
    this.partialBytes += payload.length;
    this.heldSegments++;
    this.heldBytes += payload.length;
    if (
      this.partialBytes > this.opts.maxMessageBytes ||
      (!end && this.partial.length >= this.opts.receiveWindowSegments)
    ) {
      // The peer sends a message larger than we accept or can ever buffer: drop it whole.
      this.counters.oversizedDropped++;
      const head = this.partial[0];
      if (head !== undefined) this.opts.onOversized?.(head);
      this.heldSegments -= this.partial.length;
      this.heldBytes -= this.partialBytes;
      this.partial = [];
      this.partialBytes = 0;
      this.discardingMessage = !end;
      return;
    }
    if (end) {
      this.ready.push({ bytes: concat(this.partial, this.partialBytes), segments: this.partial.length });
      this.partial = [];
      this.partialBytes = 0;
    }
  }

  /** Moves buffered segments that now continue the in-order stream; true if any moved. */
  private drainOoo(): boolean {
    const head = this.oooRanges[0];
    if (head === undefined || head[0] !== this.rcvNxt) return false;
    this.oooRanges.shift();
    for (let seq = head[0]; seq !== head[1]; seq = seqAdd(seq, 1)) {
      const seg = this.ooo.get(seq) as SegmentFrame;
      this.ooo.delete(seq);
      this.oooBytes -= seg.payload.length;
      this.acceptInOrder(seg.end, seg.payload);
    }
    return true;
  }

  private insertOooRange(seq: number): void {
    const ranges = this.oooRanges;
    const next = seqAdd(seq, 1);
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i] as [number, number];
      if (seqLt(seq, r[0])) {
        if (next === r[0]) r[0] = seq;
        else ranges.splice(i, 0, [seq, next]);
        return;
      }
      if (seq === r[1]) {
        r[1] = next;
        const after = ranges[i + 1];
        if (after !== undefined && after[0] === next) {
          r[1] = after[1];
          ranges.splice(i + 1, 1);
        }
        return;
      }
    }
    ranges.push([seq, next]);
  }

  /**
   * RFC 1122 §4.2.3.3 (receiver SWS avoidance): announce a reopened window once it has grown
   * by a quarter of the buffer, so a stalled sender resumes without waiting for its probe.
   */
  private maybeSendWindowUpdate(now: number): void {
    const threshold = Math.max(1, Math.floor(this.opts.receiveWindowSegments / 4));
    const window = this.advertisedWindow();
    if (this.lastAdvertisedWindow < threshold && window - this.lastAdvertisedWindow >= threshold) {
      this.ackNow(now);
    }
  }
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
