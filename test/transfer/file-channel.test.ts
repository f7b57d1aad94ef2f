/**
 * The ReliableChannel features the bulk path relies on, unit-tested with hand-built frames
 * and explicit `now`: the segment integrity check, the pacer, delivery-rate samples, and
 * congestion feedback during loss recovery.
 */

import { describe, expect, it } from "vitest";
import type { AckFrame, SegmentFrame } from "../../src/protocol/frames.js";
import {
  type AckSample,
  AimdCongestionController,
  type CongestionController,
} from "../../src/transfer/congestion.js";
import { ReliableChannel, type ReliableChannelOptions } from "../../src/transfer/reliable-channel.js";

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

class SpyController implements CongestionController {
  samples: AckSample[] = [];
  lost: number[] = [];
  pacingRateSegmentsPerMs: number | undefined;
  constructor(public cwndSegments = 10) {}
  onAck(_n: number, _rtt: number, _now: number, sample?: AckSample): void {
    if (sample) this.samples.push(sample);
  }
  onLoss(): void {}
  onRto(): void {}
  onSegmentsLost(count: number): void {
    this.lost.push(count);
  }
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
    cc.pacingRateSegmentsPerMs = 0.5;
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
    cc.pacingRateSegmentsPerMs = 0.001;
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
        deliveredSegments: 5,
        priorDeliveredSegments: 0,
        intervalSegments: 5,
        intervalMs: 10,
      }),
      expect.objectContaining({
        deliveredSegments: 10,
        priorDeliveredSegments: 0,
        intervalSegments: 10,
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
    expect(cc.samples.at(-1)).toMatchObject({ appLimited: true, intervalSegments: 1, inflightSegments: 0 });
  });

  it("keeps reporting ACKs during loss recovery (marked), counts every lost segment, and AIMD does not grow then", () => {
    const cc = new SpyController(20);
    const tx = channel({ congestion: cc });
    for (let i = 0; i < 12; i++) tx.send(enc.encode(`m${i}`), 0);
    drain(tx, 0);
    tx.handleAck(ack(0, [[2, 5]]), 3); // segments 0 and 1 are lost
    expect(cc.lost).toEqual([2]);
    tx.handleAck(ack(0, [[2, 8]]), 4);
    expect(cc.samples.at(-1)).toMatchObject({ inRecovery: true, intervalSegments: expect.any(Number) });
    const aimd = new AimdCongestionController({ initialCwndSegments: 20 });
    aimd.onAck(5, 1, 0, { ...(cc.samples.at(-1) as AckSample) });
    expect(aimd.cwndSegments).toBe(20);
    aimd.onAck(5, 1, 0, { ...(cc.samples.at(-1) as AckSample), inRecovery: false });
    expect(aimd.cwndSegments).toBe(25);
  });
});
