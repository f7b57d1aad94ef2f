/**
 * Unit tests for ReliableChannel: hand-built frames, explicit `now`, no network.
 */

import { describe, expect, it } from "vitest";
import { HallwayError, MisuseError } from "../../../src/errors.js";
import type { AckFrame, SegmentFrame } from "../../../src/protocol/frames.js";
import { SEQ_MODULO } from "../../../src/protocol/seq.js";
import type { CongestionController } from "../../../src/transport/congestion/index.js";
import { ReliableChannel, type ReliableChannelOptions } from "../../../src/transport/reliable-channel.js";

const STREAM = 3;
const enc = new TextEncoder();
const dec = new TextDecoder();

function channel(opts: Partial<ReliableChannelOptions> = {}): ReliableChannel {
  return new ReliableChannel({
    stream: STREAM,
    maxSegmentPayloadBytes: 100,
    maxMessageBytes: 10_000,
    ...opts,
  });
}

/** Everything the channel wants to send at `now`. */
function drain(ch: ReliableChannel, now: number, maxBytes = 1200): Array<SegmentFrame | AckFrame> {
  const out: Array<SegmentFrame | AckFrame> = [];
  for (let f = ch.pollFrame(now, maxBytes); f !== undefined; f = ch.pollFrame(now, maxBytes)) out.push(f);
  return out;
}

function segments(frames: Array<SegmentFrame | AckFrame>): SegmentFrame[] {
  return frames.filter((f): f is SegmentFrame => f.type === "segment");
}

function acks(frames: Array<SegmentFrame | AckFrame>): AckFrame[] {
  return frames.filter((f): f is AckFrame => f.type === "ack");
}

function seg(seq: number, text = `m${seq}`, end = true, stream = STREAM): SegmentFrame {
  return { type: "segment", stream, seq, end, payload: enc.encode(text) };
}

function ack(
  cumulative: number,
  ranges: Array<[number, number]> = [],
  more: Partial<AckFrame> = {},
): AckFrame {
  return { type: "ack", stream: STREAM, cumulative, windowSegments: 1024, ackDelayMs: 0, ranges, ...more };
}

function messages(ch: ReliableChannel): string[] {
  const out: string[] = [];
  for (let m = ch.pollMessage(); m !== undefined; m = ch.pollMessage()) out.push(dec.decode(m));
  return out;
}

/**
 * A controller that counts in the 2-byte segments these tests send ("m0" … "m9"): the window
 * the channel sees is in bytes.
 */
class SpyCongestion implements CongestionController {
  acked = 0;
  losses = 0;
  rtos = 0;
  constructor(public cwndSegments = 10) {}
  get cwndBytes(): number {
    return this.cwndSegments * 2;
  }
  setMaxSegmentBytes(): void {}
  onAck(bytes: number): void {
    this.acked += bytes / 2;
  }
  onLoss(): void {
    this.losses++;
  }
  onRto(): void {
    this.rtos++;
  }
}

describe("ReliableChannel: sending", () => {
  it("throws MSG_TOO_LARGE for a message above maxMessageBytes, and accepts exactly the limit", () => {
    const ch = channel({ maxMessageBytes: 1000 });
    let caught: unknown;
    try {
      ch.send(new Uint8Array(1001), 0);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(HallwayError);
    expect((caught as HallwayError).code).toBe("MSG_TOO_LARGE");
    expect(ch.idle).toBe(true);
    ch.send(new Uint8Array(1000), 0);
    expect(segments(drain(ch, 0))).toHaveLength(10);
  });

  it("fragments a message into maxSegmentPayloadBytes pieces; only the last has end", () => {
    const ch = channel({ maxSegmentPayloadBytes: 10 });
    ch.send(enc.encode("abcdefghij0123456789xyz!?"), 0);
    const out = segments(drain(ch, 0));
    expect(out.map((s) => [s.seq, s.end, dec.decode(s.payload)])).toEqual([
      [0, false, "abcdefghij"],
      [1, false, "0123456789"],
      [2, true, "xyz!?"],
    ]);
    const rx = channel({ maxSegmentPayloadBytes: 10 });
    for (const s of [out[2], out[0], out[1]]) rx.handleSegment(s as SegmentFrame, 1);
    expect(messages(rx)).toEqual(["abcdefghij0123456789xyz!?"]);
  });

  it("sends an empty message as one empty end segment and delivers it as empty", () => {
    const tx = channel();
    tx.send(new Uint8Array(0), 0);
    const out = segments(drain(tx, 0));
    expect(out).toEqual([{ type: "segment", stream: STREAM, seq: 0, end: true, payload: new Uint8Array(0) }]);
    const rx = channel();
    rx.handleSegment(out[0] as SegmentFrame, 1);
    const m = rx.pollMessage();
    expect(m).toBeInstanceOf(Uint8Array);
    expect(m?.length).toBe(0);
    expect(rx.pollMessage()).toBeUndefined();
  });

  it("copies the caller's buffer at send time", () => {
    const ch = channel();
    const buf = enc.encode("hello");
    ch.send(buf, 0);
    buf.fill(0);
    expect(dec.decode(segments(drain(ch, 0))[0]?.payload)).toBe("hello");
  });

  it("returns nothing when the next frame does not fit maxBytes", () => {
    const ch = channel();
    ch.send(enc.encode("0123456789"), 0);
    expect(ch.pollFrame(0, 19)).toBeUndefined(); // 10-byte header + 10 bytes payload = 20
    expect(ch.pollFrame(0, 20)?.type).toBe("segment");
  });

  it("wraps sequence numbers past 2^32 - 1", () => {
    const initialSeq = SEQ_MODULO - 2;
    const tx = channel({ initialSeq });
    for (const t of ["a", "b", "c", "d"]) tx.send(enc.encode(t), 0);
    const out = segments(drain(tx, 0));
    expect(out.map((s) => s.seq)).toEqual([SEQ_MODULO - 2, SEQ_MODULO - 1, 0, 1]);
    const rx = channel({ initialSeq });
    // Out of order across the wrap: the SACK range itself wraps.
    rx.handleSegment(out[1] as SegmentFrame, 1);
    rx.handleSegment(out[2] as SegmentFrame, 1);
    const sack = acks(drain(rx, 1))[0];
    expect(sack?.cumulative).toBe(SEQ_MODULO - 2);
    expect(sack?.ranges).toEqual([[SEQ_MODULO - 1, 1]]);
    rx.handleSegment(out[3] as SegmentFrame, 2);
    rx.handleSegment(out[0] as SegmentFrame, 2);
    expect(messages(rx)).toEqual(["a", "b", "c", "d"]);
    const final = acks(drain(rx, 2))[0] as AckFrame;
    expect(final.cumulative).toBe(2);
    tx.handleAck(final, 3);
    expect(tx.idle).toBe(true);
  });

  it("ignores ACKs for data never sent", () => {
    const ch = channel();
    ch.send(enc.encode("x"), 0);
    drain(ch, 0);
    ch.handleAck(ack(5), 1);
    expect(ch.idle).toBe(false);
    ch.handleAck(ack(1), 2);
    expect(ch.idle).toBe(true);
  });

  it("ignores frames for another stream", () => {
    const ch = channel();
    ch.handleSegment(seg(0, "x", true, STREAM + 1), 0);
    expect(ch.pollMessage()).toBeUndefined();
    expect(ch.pollTimeout()).toBeUndefined();
    ch.send(enc.encode("x"), 0);
    drain(ch, 0);
    ch.handleAck({ ...ack(1), stream: STREAM + 1 }, 1);
    expect(ch.idle).toBe(false);
  });
});

describe("ReliableChannel: receiving and ACKs", () => {
  it("delays a lone in-order ACK by ackDelayMs and reports the delay", () => {
    const rx = channel({ ackDelayMs: 5 });
    rx.handleSegment(seg(0), 100);
    expect(drain(rx, 100)).toEqual([]);
    expect(rx.pollTimeout()).toBe(105);
    expect(rx.idle).toBe(false);
    rx.handleTimeout(105);
    expect(drain(rx, 105)).toEqual([
      { type: "ack", stream: STREAM, cumulative: 1, windowSegments: 1023, ackDelayMs: 5, ranges: [] },
    ]);
    expect(rx.pollTimeout()).toBeUndefined();
    expect(messages(rx)).toEqual(["m0"]);
    expect(rx.idle).toBe(true);
  });

  it("ACKs every second in-order segment at once", () => {
    const rx = channel();
    rx.handleSegment(seg(0), 10);
    rx.handleSegment(seg(1), 11);
    expect(acks(drain(rx, 11))).toMatchObject([{ cumulative: 2, ackDelayMs: 0 }]);
  });

  it("with ackEverySegments, ACKs every n-th in-order segment at once and the rest on the timer", () => {
    const rx = channel({ ackEverySegments: 4, ackDelayMs: 5 });
    for (let i = 0; i < 3; i++) rx.handleSegment(seg(i), 10 + i);
    expect(drain(rx, 12)).toEqual([]);
    rx.handleSegment(seg(3), 13);
    expect(acks(drain(rx, 13))).toMatchObject([{ cumulative: 4, ackDelayMs: 0 }]);
    rx.handleSegment(seg(4), 14);
    expect(drain(rx, 14)).toEqual([]);
    rx.handleTimeout(19);
    expect(acks(drain(rx, 19))).toMatchObject([{ cumulative: 5, ackDelayMs: 5 }]);
    // A gap is still reported at once.
    rx.handleSegment(seg(6), 20);
    expect(acks(drain(rx, 20))).toMatchObject([{ cumulative: 5, ranges: [[6, 7]] }]);
    expect(() => channel({ ackEverySegments: 0 })).toThrow(HallwayError);
  });

  it("ACKs out-of-order segments at once, with SACK ranges, the most recent first", () => {
    const rx = channel();
    rx.handleSegment(seg(0), 0);
    for (const s of [2, 3, 6, 9, 7]) rx.handleSegment(seg(s), 1);
    const a = acks(drain(rx, 1));
    expect(a).toHaveLength(1);
    expect(a[0]?.cumulative).toBe(1);
    expect(a[0]?.ranges).toEqual([
      [6, 8],
      [2, 4],
      [9, 10],
    ]);
    expect(messages(rx)).toEqual(["m0"]);
    // Filling the first hole delivers through the next one and ACKs at once.
    rx.handleSegment(seg(1), 2);
    expect(messages(rx)).toEqual(["m1", "m2", "m3"]);
    expect(acks(drain(rx, 2))).toMatchObject([
      {
        cumulative: 4,
        ranges: [
          [6, 8],
          [9, 10],
        ],
      },
    ]);
  });

  it("drops duplicates, counts them, and re-ACKs at once", () => {
    const rx = channel();
    rx.handleSegment(seg(0), 0);
    rx.handleSegment(seg(2), 0);
    drain(rx, 0);
    rx.handleSegment(seg(0, "changed"), 1); // below cumulative
    rx.handleSegment(seg(2, "changed"), 1); // already buffered
    expect(rx.stats.duplicatesDropped).toBe(2);
    expect(acks(drain(rx, 1))).toMatchObject([{ cumulative: 1, ranges: [[2, 3]] }]);
    rx.handleSegment(seg(1), 2);
    expect(messages(rx)).toEqual(["m0", "m1", "m2"]);
    expect(rx.stats.messagesDelivered).toBe(3);
  });

  it("drops segments beyond the receive window and tells the peer where the edge is", () => {
    const rx = channel({ receiveWindowSegments: 4, maxMessageBytes: 100 });
    rx.handleSegment(seg(4), 0);
    expect(rx.stats.outOfWindowDropped).toBe(1);
    expect(rx.stats.bufferedSegments).toBe(0);
    expect(acks(drain(rx, 0))).toMatchObject([{ cumulative: 0, windowSegments: 4, ranges: [] }]);
    for (const s of [0, 1, 2, 3]) rx.handleSegment(seg(s), 1);
    expect(rx.stats.bufferedSegments).toBe(4);
    rx.handleSegment(seg(4), 1);
    expect(rx.stats.outOfWindowDropped).toBe(2);
    expect(acks(drain(rx, 1)).at(-1)).toMatchObject({ cumulative: 4, windowSegments: 0 });
  });

  it("sends a window update as soon as the application drains a closed window", () => {
    const rx = channel({ receiveWindowSegments: 8, maxMessageBytes: 100 });
    for (let s = 0; s < 8; s++) rx.handleSegment(seg(s), 1);
    expect(acks(drain(rx, 1)).at(-1)).toMatchObject({ cumulative: 8, windowSegments: 0 });
    expect(rx.pollMessage()).toBeDefined();
    expect(drain(rx, 2)).toEqual([]); // one segment freed: below the SWS threshold
    expect(rx.pollMessage()).toBeDefined();
    expect(rx.pollTimeout()).toBe(2); // due at once: the latest `now` the channel has seen
    expect(acks(drain(rx, 2))).toMatchObject([{ cumulative: 8, windowSegments: 2 }]);
  });

  it("caps SACK ranges at 32 and to the byte budget", () => {
    const rx = channel();
    for (let s = 2; s <= 80; s += 2) rx.handleSegment(seg(s), 0);
    const full = acks(drain(rx, 0))[0] as AckFrame;
    expect(full.ranges).toHaveLength(32);
    expect(full.ranges[0]).toEqual([80, 81]);
    rx.handleSegment(seg(82), 1);
    expect(rx.pollFrame(1, 13)).toBeUndefined(); // a bare ACK is 14 bytes
    const small = rx.pollFrame(1, 14 + 3 * 8) as AckFrame;
    expect(small.ranges).toEqual([
      [82, 83],
      [2, 3],
      [4, 5],
    ]);
  });

  it("drops a peer's message that exceeds maxMessageBytes, whole, and carries on", () => {
    const rx = channel({ maxMessageBytes: 10 });
    rx.handleSegment(seg(0, "12345678", false), 0);
    rx.handleSegment(seg(1, "12345678", false), 0);
    rx.handleSegment(seg(2, "tail", true), 0);
    rx.handleSegment(seg(3, "ok", true), 0);
    expect(messages(rx)).toEqual(["ok"]);
    expect(rx.stats.oversizedDropped).toBe(1);
    expect(rx.stats.bufferedSegments).toBe(0);
  });

  it("hands the first segment of a dropped oversized message to onOversized, once", () => {
    const heads: string[] = [];
    const rx = channel({
      maxMessageBytes: 10,
      onOversized: (head) => heads.push(new TextDecoder().decode(head)),
    });
    rx.handleSegment(seg(0, '{"rid":7,', false), 0);
    rx.handleSegment(seg(1, "12345678", false), 0);
    rx.handleSegment(seg(2, "tail", true), 0);
    expect(heads).toEqual(['{"rid":7,']);
    expect(messages(rx)).toEqual([]);
  });
});

describe("ReliableChannel: retransmission", () => {
  it("backs the RTO off exponentially, clamped to maxRtoMs", () => {
    const ch = channel();
    ch.send(enc.encode("x"), 0);
    expect(segments(drain(ch, 0))).toHaveLength(1);
    const fired: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t = ch.pollTimeout() as number;
      fired.push(t);
      ch.handleTimeout(t);
      expect(segments(drain(ch, t)).map((s) => s.seq)).toEqual([0]);
    }
    expect(fired).toEqual([300, 900, 2100, 4500, 8500, 12500, 16500]);
    expect(ch.stats.retransmits).toBe(7);
    expect(ch.stats.segmentsSent).toBe(8);
  });

  it("honours minRtoMs, maxRtoMs and initialRtoMs", () => {
    const ch = channel({ initialRtoMs: 100, minRtoMs: 50, maxRtoMs: 250 });
    expect(ch.stats.rtoMs).toBe(100);
    ch.send(enc.encode("x"), 0);
    drain(ch, 0);
    ch.handleAck(ack(1), 2); // 2 ms sample: 2 + 4 * 1 = 6, raised to the floor
    expect(ch.stats.rtoMs).toBe(50);
    ch.send(enc.encode("y"), 10);
    drain(ch, 10);
    for (const expected of [100, 200, 250, 250]) {
      ch.handleTimeout(ch.pollTimeout() as number);
      expect(ch.stats.rtoMs).toBe(expected);
    }
  });

  it("takes no RTT sample from a retransmitted segment (Karn) and collapses the back-off on a fresh one", () => {
    const ch = channel();
    ch.send(enc.encode("x"), 0);
    drain(ch, 0);
    ch.handleTimeout(300);
    drain(ch, 300);
    ch.handleAck(ack(1), 301);
    expect(ch.stats.srttMs).toBeUndefined();
    expect(ch.stats.rtoMs).toBe(600); // still backed off
    ch.send(enc.encode("y"), 400);
    drain(ch, 400);
    ch.handleAck(ack(2), 410);
    expect(ch.stats.srttMs).toBe(10);
    expect(ch.stats.rtoMs).toBe(30); // 10 + 4 * 5, raised to the 30 ms floor
  });

  it("subtracts the peer's ACK delay from RTT samples, but never below the minimum RTT", () => {
    const ch = channel();
    ch.send(enc.encode("a"), 0);
    drain(ch, 0);
    ch.handleAck(ack(1, [], { ackDelayMs: 5 }), 20);
    // The first raw sample (20) is also the minimum, so its delay cannot be subtracted.
    expect(ch.stats.srttMs).toBe(20);
    ch.send(enc.encode("b"), 100);
    drain(ch, 100);
    ch.handleAck(ack(2, [], { ackDelayMs: 10 }), 130); // 30 - 10 = 20 >= min RTT 20
    expect(ch.stats.srttMs).toBe(20);
  });

  it("retransmits on timeout but skips segments the peer SACKed", () => {
    const cc = new SpyCongestion(10);
    const ch = channel({ congestion: cc });
    for (let i = 0; i < 5; i++) ch.send(enc.encode(`m${i}`), 0);
    expect(segments(drain(ch, 0))).toHaveLength(5);
    ch.handleAck(ack(0, [[1, 3]]), 5);
    const rto = ch.pollTimeout() as number;
    ch.handleTimeout(rto);
    expect(cc.rtos).toBe(1);
    expect(segments(drain(ch, rto)).map((s) => s.seq)).toEqual([0, 3, 4]);
    expect(ch.stats.retransmits).toBe(3);
    expect(ch.stats.fastRetransmits).toBe(0);
  });

  it("fast-retransmits a hole once three later segments are SACKed, once per loss event", () => {
    const cc = new SpyCongestion(20);
    const ch = channel({ congestion: cc });
    for (let i = 0; i < 12; i++) ch.send(enc.encode(`m${i}`), 0);
    expect(segments(drain(ch, 0))).toHaveLength(12);
    ch.handleAck(ack(0, [[1, 3]]), 2); // two later segments SACKed: not yet
    expect(segments(drain(ch, 2))).toEqual([]);
    ch.handleAck(ack(0, [[1, 4]]), 3); // three: segment 0 is lost
    expect(segments(drain(ch, 3)).map((s) => s.seq)).toEqual([0]);
    expect(ch.stats.fastRetransmits).toBe(1);
    expect(cc.losses).toBe(1);
    // A second hole in the same window: retransmitted too, but the same loss event.
    ch.handleAck(
      ack(0, [
        [1, 6],
        [7, 10],
      ]),
      4,
    );
    expect(segments(drain(ch, 4)).map((s) => s.seq)).toEqual([6]);
    expect(cc.losses).toBe(1);
    // More SACKs: both retransmissions are in flight and are not repeated.
    ch.handleAck(
      ack(0, [
        [1, 6],
        [7, 12],
      ]),
      5,
    );
    expect(segments(drain(ch, 5))).toEqual([]);
    expect(ch.stats.retransmits).toBe(2);
    expect(ch.stats.fastRetransmits).toBe(2);
    ch.handleAck(ack(12), 6);
    expect(ch.idle).toBe(true);
    expect(cc.rtos).toBe(0);
  });

  it("stops at the peer's zero window, probes one segment on the timer, and resumes on a window update", () => {
    const cc = new SpyCongestion(10);
    const ch = channel({ congestion: cc });
    ch.send(enc.encode("a"), 0);
    drain(ch, 0);
    ch.handleAck(ack(1, [], { windowSegments: 0 }), 10);
    ch.send(enc.encode("b"), 20);
    ch.send(enc.encode("c"), 20);
    expect(drain(ch, 20)).toEqual([]);
    const persist = ch.pollTimeout() as number;
    expect(persist).toBeGreaterThan(20);
    ch.handleTimeout(persist);
    expect(segments(drain(ch, persist)).map((s) => s.seq)).toEqual([1]); // exactly one probe
    // The peer drops the probe (no room) and repeats its zero window; the probe is repeated
    // with back-off, and a closed window is not congestion.
    ch.handleAck(ack(1, [], { windowSegments: 0 }), persist + 1);
    const again = ch.pollTimeout() as number;
    ch.handleTimeout(again);
    expect(segments(drain(ch, again)).map((s) => s.seq)).toEqual([1]);
    expect(cc.rtos).toBe(0);
    ch.handleAck(ack(1, [], { windowSegments: 4 }), again + 1);
    expect(segments(drain(ch, again + 1)).map((s) => s.seq)).toEqual([1, 2]);
  });

  it("respects the congestion window and reports ACKed segments to the controller", () => {
    const cc = new SpyCongestion(2);
    const ch = channel({ congestion: cc });
    for (let i = 0; i < 5; i++) ch.send(enc.encode(`m${i}`), 0);
    expect(segments(drain(ch, 0)).map((s) => s.seq)).toEqual([0, 1]);
    ch.handleAck(ack(2), 5);
    expect(cc.acked).toBe(2);
    expect(segments(drain(ch, 5)).map((s) => s.seq)).toEqual([2, 3]);
  });

  it("caps segments in flight at sendWindowSegments", () => {
    const ch = channel({ sendWindowSegments: 3, congestion: new SpyCongestion(100) });
    for (let i = 0; i < 5; i++) ch.send(enc.encode(`m${i}`), 0);
    expect(segments(drain(ch, 0)).map((s) => s.seq)).toEqual([0, 1, 2]);
  });

  it("piggybacks an owed ACK ahead of data", () => {
    const ch = channel();
    ch.handleSegment(seg(0), 0); // ACK delayed
    ch.send(enc.encode("reply"), 1);
    expect(drain(ch, 1).map((f) => f.type)).toEqual(["ack", "segment"]);
  });

  it("is idle only with nothing queued, nothing in flight and no ACK owed", () => {
    const ch = channel();
    expect(ch.idle).toBe(true);
    ch.send(enc.encode("x"), 0);
    expect(ch.idle).toBe(false);
    drain(ch, 0);
    expect(ch.idle).toBe(false);
    ch.handleAck(ack(1), 1);
    expect(ch.idle).toBe(true);
    expect(ch.pollTimeout()).toBeUndefined();
  });
});

describe("ReliableChannel: options", () => {
  it("rejects a receive window that could never hold a maximum-size message", () => {
    let caught: unknown;
    try {
      channel({ maxSegmentPayloadBytes: 100, receiveWindowSegments: 10, maxMessageBytes: 1001 });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MisuseError);
    expect((caught as HallwayError).code).toBe("MISUSE");
    expect((caught as HallwayError).origin).toBe("local");
    expect(() =>
      channel({ maxSegmentPayloadBytes: 100, receiveWindowSegments: 10, maxMessageBytes: 1000 }),
    ).not.toThrow();
  });

  it("rejects out-of-range stream, initialSeq and segment size", () => {
    expect(() => channel({ stream: 0x10000 })).toThrow(HallwayError);
    expect(() => channel({ initialSeq: SEQ_MODULO })).toThrow(HallwayError);
    expect(() => channel({ maxSegmentPayloadBytes: 0 })).toThrow(HallwayError);
  });
});
