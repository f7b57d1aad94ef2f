/**
 * The ReliableChannel features the bulk path relies on, unit-tested with hand-built frames
 * and explicit `now`: the segment integrity check, the pacer, delivery-rate samples, and
 * congestion feedback during loss recovery.
 */

import { describe, expect, it } from "vitest";
import {
  type AckFrame,
  decodeFrames,
  encodeFrames,
  type SegmentFrame,
} from "../../../src/protocol/frames.js";
import {
  type AckSample,
  AimdCongestionController,
  type CongestionController,
} from "../../../src/transport/congestion/index.js";
import { ReliableChannel, type ReliableChannelOptions } from "../../../src/transport/reliable-channel.js";

const STREAM = 9;
const enc = new TextEncoder();

function channel(opts: Partial<ReliableChannelOptions> = {}): ReliableChannel {
  return new ReliableChannel({ stream: STREAM, maxSegmentPayloadBytes: 100, maxMessageBytes: 100, ...opts });
}

function drain(ch: ReliableChannel, now: number): Array<SegmentFrame | AckFrame> {
  const out: Array<SegmentFrame | AckFrame> = [];
  for (let f = ch.pollFrame(now, 1200); f !== undefined; f = ch.pollFrame(now, 1200)) out.push(f);
  return out;
}

function seqs(frames: Array<SegmentFrame | AckFrame>): number[] {
  return frames.filter((f): f is SegmentFrame => f.type === "segment").map((f) => f.seq);
}

function seg(seq: number, text: string): SegmentFrame {
  return { type: "segment", stream: STREAM, seq, end: true, payload: enc.encode(text) };
}

function ack(cumulative: number, ranges: Array<[number, number]> = []): AckFrame {
  return { type: "ack", stream: STREAM, cumulative, windowSegments: 1024, ackDelayMs: 0, ranges };
}

/** These tests send 2-byte messages ("m0" … "m9"): a segment is 2 bytes. */
const SEG = 2;

class SpyController implements CongestionController {
  samples: AckSample[] = [];
  lost: number[] = [];
  pacingRateBytesPerMs: number | undefined;
  constructor(public cwndSegments = 10) {}
  get cwndBytes(): number {
    return this.cwndSegments * SEG;
  }
  setMaxSegmentBytes(): void {}
  onAck(_n: number, _rtt: number, _now: number, sample?: AckSample): void {
    if (sample) this.samples.push(sample);
  }
  onLoss(): void {}
  onRto(): void {}
  onSegmentsLost(count: number): void {
    this.lost.push(count);
  }
}

/** A receiver bounded at 1,000 segments and 100 KB, acknowledging at once. */
function byteBoundedReceiver(): ReliableChannel {
  return new ReliableChannel({
    stream: STREAM,
    maxSegmentPayloadBytes: 60_000,
    maxMessageBytes: 60_000,
    receiveWindowSegments: 1000,
    receiveWindowBytes: 100_000,
    ackDelayMs: 0,
  });
}

/** A one-segment message of `n` bytes. */
function wholeSeg(seq: number, n: number): SegmentFrame {
  return { type: "segment", stream: STREAM, seq, end: true, payload: bytes(n) };
}

describe("ReliableChannel: segment integrity check", () => {
  it("drops a segment that fails verifySegment unacknowledged, as a loss, and accepts a good copy", () => {
    const rx = channel({ verifySegment: (f) => new TextDecoder().decode(f.payload) !== "bad" });
    rx.handleSegment(seg(0, "bad"), 0);
    expect(rx.stats.integrityDropped).toBe(1);
    expect(rx.stats.bufferedSegments).toBe(0);
    expect(drain(rx, 100)).toEqual([]); // nothing to acknowledge: the sender will see a loss
    rx.handleSegment(seg(0, "good"), 101);
    expect(new TextDecoder().decode(rx.pollMessage())).toBe("good");
    // A damaged copy of a segment already held is a duplicate, not an integrity failure.
    rx.handleSegment(seg(0, "bad"), 102);
    expect(rx.stats.integrityDropped).toBe(1);
    expect(rx.stats.duplicatesDropped).toBe(1);
  });
});

describe("ReliableChannel: pacing", () => {
  it("releases segments at the controller's rate after a small burst, and says when the next may go", () => {
    const cc = new SpyController(100);
    cc.pacingRateBytesPerMs = 0.5 * SEG;
    const tx = channel({ congestion: cc });
    for (let i = 0; i < 10; i++) tx.send(enc.encode(`m${i}`), 0);
    expect(seqs(drain(tx, 0))).toEqual([0, 1, 2, 3]); // the minimum burst of 4
    expect(tx.pollTimeout()).toBe(2); // one segment per 2 ms
    expect(seqs(drain(tx, 1))).toEqual([]);
    tx.handleTimeout(2);
    expect(seqs(drain(tx, 2))).toEqual([4]);
    expect(seqs(drain(tx, 6))).toEqual([5, 6]);
  });

  it("never holds back an ACK, and without a rate the window alone clocks transmissions", () => {
    const cc = new SpyController(100);
    cc.pacingRateBytesPerMs = 0.001 * SEG;
    const ch = channel({ congestion: cc });
    for (let i = 0; i < 6; i++) ch.send(enc.encode(`m${i}`), 0);
    drain(ch, 0);
    ch.handleSegment(seg(0, "from peer"), 1);
    ch.handleSegment(seg(1, "from peer"), 1);
    expect(drain(ch, 1).map((f) => f.type)).toEqual(["ack"]);
    const unpaced = channel({ congestion: new AimdCongestionController() });
    for (let i = 0; i < 20; i++) unpaced.send(enc.encode(`m${i}`), 0);
    expect(seqs(drain(unpaced, 0))).toHaveLength(10);
    expect(unpaced.pollTimeout()).toBe(300); // only the retransmission timer
  });
});

describe("ReliableChannel: delivery-rate samples", () => {
  it("reports segments delivered over the flight's interval, round-trip markers and app-limited flights", () => {
    const cc = new SpyController(10);
    const tx = channel({ congestion: cc });
    for (let i = 0; i < 10; i++) tx.send(enc.encode(`m${i}`), 0);
    expect(seqs(drain(tx, 0))).toHaveLength(10);
    tx.handleAck(ack(5), 10);
    tx.handleAck(ack(10), 12);
    expect(cc.samples).toEqual([
      expect.objectContaining({
        deliveredBytes: 5 * SEG,
        priorDeliveredBytes: 0,
        intervalBytes: 5 * SEG,
        intervalMs: 10,
      }),
      expect.objectContaining({
        deliveredBytes: 10 * SEG,
        priorDeliveredBytes: 0,
        intervalBytes: 10 * SEG,
        intervalMs: 12,
      }),
    ]);
    expect(cc.samples[0]?.rttSampleMs).toBe(10);
    expect(cc.samples.every((s) => !s.inRecovery)).toBe(true);
    // Nothing left to send with room in the window: the next flight is app-limited.
    drain(tx, 12);
    tx.send(enc.encode("late"), 20);
    drain(tx, 20);
    tx.handleAck(ack(11), 30);
    expect(cc.samples.at(-1)).toMatchObject({ appLimited: true, intervalBytes: 4, inflightBytes: 0 });
  });

  it("keeps reporting ACKs during loss recovery (marked), counts every lost segment, and AIMD does not grow then", () => {
    const cc = new SpyController(20);
    const tx = channel({ congestion: cc });
    for (let i = 0; i < 12; i++) tx.send(enc.encode(`m${i}`), 0);
    drain(tx, 0);
    tx.handleAck(ack(0, [[2, 5]]), 3); // segments 0 and 1 are lost
    expect(cc.lost).toEqual([2]);
    tx.handleAck(ack(0, [[2, 8]]), 4);
    expect(cc.samples.at(-1)).toMatchObject({ inRecovery: true, intervalBytes: expect.any(Number) });
    const aimd = new AimdCongestionController({ initialCwndSegments: 20 });
    aimd.setMaxSegmentBytes(1000);
    aimd.onAck(5000, 1, 0, { ...(cc.samples.at(-1) as AckSample) });
    expect(aimd.cwndBytes).toBe(20_000);
    aimd.onAck(5000, 1, 0, { ...(cc.samples.at(-1) as AckSample), inRecovery: false });
    expect(aimd.cwndBytes).toBe(25_000);
  });
});

/** A path whose segment budget the test sets, recording what the channel reports. */
class TestPath {
  segmentBudgetBytes: number;
  acked: number[] = [];
  lost: number[] = [];
  timeouts: number[] = [];
  constructor(budget: number) {
    this.segmentBudgetBytes = budget;
  }
  onSegmentAcked(bytes: number): void {
    this.acked.push(bytes);
  }
  onSegmentLost(bytes: number): void {
    this.lost.push(bytes);
  }
  onTimeout(largest: number): void {
    this.timeouts.push(largest);
  }
}

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);

describe("ReliableChannel: segments that outgrow their path", () => {
  it("cuts segments to the path's budget, and resends one cut too large in fragments the receiver reassembles", () => {
    const path = new TestPath(4000);
    const tx = new ReliableChannel({
      stream: STREAM,
      maxSegmentPayloadBytes: 60_000,
      maxMessageBytes: 60_000,
      path,
      congestion: new SpyController(1_000_000),
    });
    const rx = new ReliableChannel({
      stream: STREAM,
      maxSegmentPayloadBytes: 60_000,
      maxMessageBytes: 60_000,
    });
    expect(tx.segmentBudgetBytes).toBe(4000);
    const message = new Uint8Array(10_000).map((_, i) => i % 251);
    tx.send(message, 0);
    const first = tx.pollFrame(0, 5000) as SegmentFrame;
    expect(first.payload.length).toBe(4000);
    // The path shrinks (a black hole): what is left was cut at 4000 bytes and goes in pieces.
    path.segmentBudgetBytes = 1000;
    const pieces: SegmentFrame[] = [];
    for (let f = tx.pollFrame(1, 1200); f !== undefined; f = tx.pollFrame(1, 1200))
      pieces.push(f as SegmentFrame);
    expect(pieces.every((p) => p.payload.length <= 996 && p.fragment !== undefined)).toBe(true);
    expect(tx.stats.fragmentsSent).toBe(pieces.length);
    // Delivered out of order and with a duplicate, they make the same message.
    rx.handleSegment(first, 2);
    for (const p of [...pieces].reverse()) rx.handleSegment(p, 3);
    rx.handleSegment(pieces[0] as SegmentFrame, 3);
    expect(Buffer.compare(rx.pollMessage() as Uint8Array, message)).toBe(0);
    // The window counted each fragmented segment once.
    const ackFrame = rx.pollFrame(4, 1200) as AckFrame;
    expect(ackFrame).toMatchObject({ type: "ack", cumulative: 3 });
    tx.handleAck(ackFrame, 5);
    expect(tx.stats.deliveredSegments).toBe(3);
    // The path learns of the datagram sizes that carried them: one whole, two in fragments.
    expect(path.acked).toEqual([4000, 996, 996]);
  });

  it("sends a head and a body as one segment, whole or in fragments that split either", () => {
    const path = new TestPath(60_000);
    const opts = { stream: STREAM, maxSegmentPayloadBytes: 60_000, maxMessageBytes: 60_000 };
    const tx = new ReliableChannel({ ...opts, path, congestion: new SpyController(1_000_000) });
    const rx = new ReliableChannel(opts);
    // Through the codec, as on the wire: the receiver sees one payload.
    const wire = (f: SegmentFrame): SegmentFrame => {
      const d = decodeFrames(encodeFrames([f]));
      if (!d.ok) throw new Error(d.error.detail);
      return d.value[0] as SegmentFrame;
    };
    const head = new Uint8Array(300).map((_, i) => 255 - (i % 255));
    const body = new Uint8Array(5000).map((_, i) => i % 251);
    const whole = Buffer.concat([head, body]);
    expect(tx.sendSegment(head, body, 0)).toBe(0);
    expect(tx.sendSegment(head, body, 0)).toBe(1);
    expect(() => tx.sendSegment(head, new Uint8Array(60_000), 0)).toThrow(/exceeds/);
    const first = tx.pollFrame(0, 60_000) as SegmentFrame;
    expect(first.head).toBe(head);
    expect(first.payload).toBe(body);
    rx.handleSegment(wire(first), 1);
    expect(Buffer.compare(rx.pollMessage() as Uint8Array, whole)).toBe(0);
    // The path shrinks below the head's size: the first fragment is part of the head alone.
    path.segmentBudgetBytes = 260;
    const pieces: SegmentFrame[] = [];
    for (let f = tx.pollFrame(1, 1200); f !== undefined; f = tx.pollFrame(1, 1200))
      pieces.push(f as SegmentFrame);
    expect(pieces.length).toBeGreaterThan(2);
    expect(pieces[0]?.payload.length).toBe(0);
    expect(pieces[1]?.head?.length).toBeGreaterThan(0);
    expect(pieces[1]?.payload.length).toBeGreaterThan(0);
    for (const p of pieces) rx.handleSegment(wire(p), 2);
    expect(Buffer.compare(rx.pollMessage() as Uint8Array, whole)).toBe(0);
    tx.handleAck(rx.pollFrame(3, 1200) as AckFrame, 4);
    expect(tx.sendUnacknowledged).toBe(2);
  });

  it("drops fragments that contradict what arrived, and bounds the segments being reassembled", () => {
    const rx = new ReliableChannel({
      stream: STREAM,
      maxSegmentPayloadBytes: 60_000,
      maxMessageBytes: 60_000,
      receiveWindowSegments: 200,
    });
    const frag = (seq: number, offset: number, total: number, n = 100): SegmentFrame => ({
      type: "segment",
      stream: STREAM,
      seq,
      end: true,
      payload: bytes(n),
      fragment: { offset, total },
    });
    rx.handleSegment(frag(0, 0, 300), 0);
    rx.handleSegment(frag(0, 100, 400), 0); // another total: not the same segment
    expect(rx.stats.fragmentsDropped).toBe(1);
    for (let seq = 1; seq <= 64; seq++) rx.handleSegment(frag(seq, 0, 300), 0);
    expect(rx.stats.fragmentsDropped).toBe(2); // the 65th partial segment is refused
    rx.handleSegment(frag(0, 100, 300), 0);
    rx.handleSegment(frag(0, 200, 300), 0);
    expect(rx.pollMessage()).toHaveLength(300);
  });

  it("bounds its receive window in bytes at the largest segment seen, and never takes back an edge", () => {
    const rx = byteBoundedReceiver();
    rx.handleSegment(wholeSeg(0, 1000), 0);
    const small = rx.pollFrame(0, 1200) as AckFrame;
    // 99 KB free at 1 KB segments: 99 more segments.
    expect(small.cumulative + small.windowSegments).toBe(100);
    // Larger segments: the bound in segments shrinks, but the edge already advertised stays.
    rx.handleSegment(wholeSeg(1, 20_000), 1);
    const after = rx.pollFrame(1, 1200) as AckFrame;
    expect(after.cumulative + after.windowSegments).toBe(100);
    // The edge promised at 1 KB a segment would hold 2 MB at 20 KB: inside it, what would take
    // the buffer past 100 KB is dropped unacknowledged (a loss to the sender), in order or not.
    for (let seq = 2; seq < 100; seq++) rx.handleSegment(wholeSeg(seq, 20_000), 2);
    expect(rx.stats.bufferedSegments).toBe(5); // 1 KB + 4 × 20 KB
    expect(rx.stats.outOfWindowDropped).toBe(95);
    rx.handleSegment(wholeSeg(100, 20_000), 2);
    expect(rx.stats.outOfWindowDropped).toBe(96);
    // Reading frees the bytes; the edge promised still stands, and the dropped segments,
    // sent again, are taken as the bytes allow.
    for (let m = rx.pollMessage(); m !== undefined; m = rx.pollMessage()) {}
    const reopened = rx.pollFrame(3, 1200) as AckFrame;
    expect(reopened.cumulative + reopened.windowSegments).toBe(100);
    for (let seq = 5; seq < 100; seq++) rx.handleSegment(wholeSeg(seq, 20_000), 4);
    expect(rx.stats.bufferedSegments).toBe(5); // 5 × 20 KB
  });

  it("never lets an out-of-order backlog block the segment it waits for", () => {
    const rx = byteBoundedReceiver();
    // An edge promised at 1 KB a segment, then 20 KB segments with the first of them lost:
    // those after it fill the buffer's bytes out of order, the rest are dropped.
    rx.handleSegment(wholeSeg(0, 1000), 0);
    rx.pollFrame(0, 1200);
    expect(rx.pollMessage()).toBeDefined();
    for (let seq = 2; seq < 30; seq++) rx.handleSegment(wholeSeg(seq, 20_000), 1);
    expect(rx.stats.bufferedSegments).toBe(5);
    // The repair of 1 is taken although the bytes are spoken for: it fills the gap, and the
    // whole run is delivered.
    rx.handleSegment(wholeSeg(1, 20_000), 2);
    let delivered = 0;
    for (let m = rx.pollMessage(); m !== undefined; m = rx.pollMessage()) delivered++;
    expect(delivered).toBe(6);
  });
});

describe("ReliableChannel: a timeout that was not", () => {
  it("restores the window and re-sends nothing more when the originals turn out to have arrived", () => {
    const path = new TestPath(1000);
    const cc = new AimdCongestionController({ initialCwndSegments: 20 });
    const tx = new ReliableChannel({
      stream: STREAM,
      maxSegmentPayloadBytes: 1000,
      maxMessageBytes: 1000,
      path,
      congestion: cc,
    });
    for (let i = 0; i < 10; i++) tx.send(bytes(1000, i), 0);
    expect(seqs(drain(tx, 0))).toHaveLength(10);
    const cwnd = cc.cwndBytes;
    // The receiver stalls: the timer fires, the window collapses, one segment is resent.
    const rto = tx.pollTimeout() as number;
    tx.handleTimeout(rto);
    expect(cc.cwndBytes).toBe(1000);
    expect(path.timeouts).toEqual([1000]);
    expect(seqs(drain(tx, rto))).toEqual([0]);
    // Then every original is acknowledged: 1–9 were never resent, so the timeout was spurious.
    tx.handleAck(ack(10), rto + 1);
    expect(tx.stats.spuriousTimeouts).toBe(1);
    expect(cc.cwndBytes).toBeGreaterThanOrEqual(cwnd);
    expect(tx.stats.retransmits).toBe(1);
    expect(tx.idle).toBe(true);
  });

  it("does not take the ACK of an original for the ACK of its resend when judging losses", () => {
    const tx = channel({ congestion: new SpyController(100) });
    for (let i = 0; i < 6; i++) tx.send(enc.encode(`m${i}`), 0);
    drain(tx, 0);
    tx.handleTimeout(tx.pollTimeout() as number);
    const resentAt = tx.pollTimeout() as number;
    drain(tx, 310); // everything resent (the spy's window holds them all)
    // The original of segment 5 arrives right after the resend, too soon to be the resend:
    // segments 0–4, resent just before it, are not declared lost for it.
    tx.handleAck(ack(0, [[5, 6]]), 310.1);
    expect(tx.stats.fastRetransmits).toBe(0);
    void resentAt;
  });
});
