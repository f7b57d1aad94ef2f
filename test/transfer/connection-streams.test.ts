/**
 * Connection hosting transfer cores: stream-id parity, routing of SEGMENT/ACK frames to the
 * attached core, stream 0 first in every payload, round-robin between transfer streams, and
 * retired streams. Hand-built frames, explicit `now`, no sockets.
 */

import { describe, expect, it } from "vitest";
import {
  type AckFrame,
  decodeFrames,
  encodeFrames,
  type Frame,
  type SegmentFrame,
} from "../../src/protocol/frames.js";
import { Connection } from "../../src/transfer/connection.js";
import type { StreamCore } from "../../src/transfer/file-transfer.js";

/** A core that emits `pending` segments of `bytes` bytes and records what it is fed. */
class FakeCore implements StreamCore {
  readonly segments: SegmentFrame[] = [];
  readonly acks: AckFrame[] = [];
  pending = 0;
  timeouts = 0;
  private seq = 0;

  constructor(
    readonly stream: number,
    private readonly bytes = 300,
  ) {}

  handleSegment(frame: SegmentFrame): void {
    this.segments.push(frame);
  }
  handleAck(frame: AckFrame): void {
    this.acks.push(frame);
  }
  pollFrame(_now: number, maxBytes: number): SegmentFrame | undefined {
    if (this.pending === 0 || maxBytes < this.bytes + 10) return undefined;
    this.pending--;
    return {
      type: "segment",
      stream: this.stream,
      seq: this.seq++,
      end: true,
      payload: new Uint8Array(this.bytes),
    };
  }
  pollTimeout(): number | undefined {
    return 500;
  }
  handleTimeout(): void {
    this.timeouts++;
  }
}

const seg = (stream: number, seq = 0): SegmentFrame => ({
  type: "segment",
  stream,
  seq,
  end: true,
  payload: new Uint8Array([1, 2, 3]),
});

function frames(payload: Uint8Array | undefined): Frame[] {
  if (!payload) return [];
  const d = decodeFrames(payload);
  if (!d.ok) throw new Error(d.error.detail);
  return d.value;
}

const streamsOf = (fs: Frame[]) => fs.flatMap((f) => (f.type === "segment" ? [f.stream] : []));

describe("Connection transfer streams", () => {
  it("allocates odd ids on the initiator and even ids on the responder", () => {
    const a = new Connection({ keepaliveMs: 1000, initiator: true }, 0);
    const b = new Connection({ keepaliveMs: 1000, initiator: false }, 0);
    expect([a.allocateStream(), a.allocateStream(), a.allocateStream()]).toEqual([1, 3, 5]);
    expect([b.allocateStream(), b.allocateStream()]).toEqual([2, 4]);
    expect(a.isPeerStream(2)).toBe(true);
    expect(a.isPeerStream(7)).toBe(false);
    expect(b.isPeerStream(7)).toBe(true);
    expect(b.isPeerStream(0)).toBe(false);
    expect(b.isPeerStream(0x10000)).toBe(false);
  });

  it("skips ids in use and runs out at 65535", () => {
    const a = new Connection({ keepaliveMs: 1000, initiator: true }, 0);
    expect(a.attachStream(1, new FakeCore(1))).toBe(true);
    expect(a.allocateStream()).toBe(3);
    let last: number | undefined;
    for (let id = a.allocateStream(); id !== undefined; id = a.allocateStream()) last = id;
    expect(last).toBe(0xffff);
  });

  it("routes a stream's frames to its core, never to a plain channel", () => {
    const c = new Connection({ keepaliveMs: 1000, initiator: true }, 0);
    const core = new FakeCore(2);
    expect(c.attachStream(2, core)).toBe(true);
    expect(c.attachStream(2, new FakeCore(2))).toBe(false);
    expect(c.attachStream(0, new FakeCore(0))).toBe(false);
    const ack: AckFrame = {
      type: "ack",
      stream: 2,
      cumulative: 1,
      windowSegments: 8,
      ackDelayMs: 0,
      ranges: [],
    };
    c.handlePayload(encodeFrames([seg(2), ack]), 1);
    expect(core.segments).toHaveLength(1);
    expect(core.acks).toHaveLength(1);
    expect(c.pollMessage()).toBeUndefined();
    expect(c.pollTimeout()).toBe(500);
    c.handleTimeout(600);
    expect(core.timeouts).toBe(1);
  });

  it("packs stream 0 first, then shares the rest round-robin", () => {
    const c = new Connection({ keepaliveMs: 10_000, initiator: true }, 0);
    const a = new FakeCore(1);
    const b = new FakeCore(3);
    c.attachStream(1, a);
    c.attachStream(3, b);
    a.pending = 100;
    b.pending = 100;
    c.sendMessage(new TextEncoder().encode("chat"), 0);
    const first = streamsOf(frames(c.pollPayload(0)));
    expect(first[0]).toBe(0);
    const leaders: number[] = [];
    for (let i = 0; i < 6; i++) leaders.push(streamsOf(frames(c.pollPayload(0)))[0] as number);
    // Each payload starts one transfer further on.
    expect(leaders).toEqual([3, 1, 3, 1, 3, 1]);
    expect(a.pending + b.pending).toBeLessThan(200);
  });

  it("retires a detached stream: late frames open no channel and the id is not reused", () => {
    const c = new Connection({ keepaliveMs: 1000, initiator: false }, 0);
    const core = new FakeCore(1);
    c.attachStream(1, core);
    c.detachStream(1);
    c.detachStream(1);
    c.handlePayload(encodeFrames([seg(1)]), 1);
    expect(core.segments).toHaveLength(0);
    expect(c.pollMessage()).toBeUndefined();
    expect(c.attachStream(1, new FakeCore(1))).toBe(false);
    // A stream nobody attached still opens a plain channel, as before.
    c.handlePayload(encodeFrames([seg(5)]), 2);
    expect(c.pollMessage()?.stream).toBe(5);
  });
});
