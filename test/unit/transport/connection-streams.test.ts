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
} from "../../../src/protocol/frames.js";
import { Connection, interleavePayloads } from "../../../src/transport/connection.js";
import type { StreamCore } from "../../../src/transport/stream-core.js";

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

function frames(payload: Uint8Array | readonly Uint8Array[] | undefined): Frame[] {
  if (!payload) return [];
  const d = decodeFrames(payload instanceof Uint8Array ? payload : Buffer.concat(payload));
  if (!d.ok) throw new Error(d.error.detail);
  return d.value;
}

const streamsOf = (fs: Frame[]) => fs.flatMap((f) => (f.type === "segment" ? [f.stream] : []));

const isProbe = (payload: readonly Uint8Array[]) => frames(payload).some((f) => f.type === "pmtu-probe");

/**
 * The next payload that is not a path-MTU probe (attaching a transfer stream starts the
 * search, and its probes go out first; test/unit/transport/path-mtu.test.ts covers them).
 */
function nextPayload(c: Connection): Uint8Array[] | undefined {
  for (;;) {
    const p = c.pollPayload(0);
    if (p === undefined || !isProbe(p)) return p;
  }
}

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

  it("packs stream 0 first, then takes turns between equal transfer streams", () => {
    const c = new Connection({ keepaliveMs: 10_000, initiator: true }, 0);
    const a = new FakeCore(1);
    const b = new FakeCore(3);
    c.attachStream(1, a);
    c.attachStream(3, b);
    a.pending = 100;
    b.pending = 100;
    c.sendMessage(new TextEncoder().encode("chat"), 0);
    const first = streamsOf(frames(nextPayload(c)));
    expect(first[0]).toBe(0);
    const leaders: number[] = [];
    for (let i = 0; i < 6; i++) leaders.push(streamsOf(frames(nextPayload(c)))[0] as number);
    // Equal segments: the least served stream leads each payload, so they alternate.
    expect(leaders).toEqual([3, 1, 3, 1, 3, 1]);
    expect(a.pending + b.pending).toBeLessThan(200);
  });

  it("shares a payload's room by bytes, not by turns, whatever the streams' segment sizes", () => {
    const c = new Connection({ keepaliveMs: 10_000, initiator: true }, 0);
    const big = new FakeCore(1, 600);
    const small = new FakeCore(3, 100);
    c.attachStream(1, big);
    c.attachStream(3, small);
    big.pending = small.pending = 1_000_000;
    const bytes = new Map<number, number>([
      [1, 0],
      [3, 0],
    ]);
    for (let i = 0; i < 1000; i++) {
      for (const f of frames(nextPayload(c))) {
        if (f.type === "segment") bytes.set(f.stream, (bytes.get(f.stream) ?? 0) + f.payload.length);
      }
    }
    const [b, s] = [bytes.get(1) as number, bytes.get(3) as number];
    // Turns would give the small-segment stream about 2.5 times the bytes (it packs a payload).
    expect(b / s).toBeGreaterThan(0.9);
    expect(b / s).toBeLessThan(1.1);
  });

  it("a stream that had nothing to send banks no credit: it joins as an equal", () => {
    const c = new Connection({ keepaliveMs: 10_000, initiator: true }, 0);
    const busy = new FakeCore(1);
    const late = new FakeCore(3);
    const newcomer = new FakeCore(5);
    c.attachStream(1, busy);
    c.attachStream(3, late);
    busy.pending = 1_000_000;
    for (let i = 0; i < 500; i++) nextPayload(c); // only `busy` sends; `late` is idle
    late.pending = 1_000_000;
    c.attachStream(5, newcomer);
    newcomer.pending = 1_000_000;
    const sent = { 1: 0, 3: 0, 5: 0 } as Record<number, number>;
    for (let i = 0; i < 30; i++) {
      for (const st of streamsOf(frames(nextPayload(c)))) sent[st] = (sent[st] ?? 0) + 1;
    }
    // All three share from now on: nobody starves behind the others' idle past.
    expect(Math.min(sent[1] as number, sent[3] as number, sent[5] as number)).toBeGreaterThanOrEqual(25);
    expect(Math.max(sent[1] as number, sent[3] as number, sent[5] as number)).toBeLessThanOrEqual(35);
  });

  it("sessions to different peers take turns on the socket, one payload each", () => {
    const sessions = ["carol", "dave", "erin"].map((peer, i) => {
      const c = new Connection({ keepaliveMs: 10_000, initiator: true }, 0);
      const core = new FakeCore(1, 1000);
      c.attachStream(1, core);
      core.pending = [5, 2, 0][i] as number;
      return [peer, c] as const;
    });
    const order = [...interleavePayloads(sessions, 0)].filter(([, p]) => !isProbe(p)).map(([peer]) => peer);
    expect(order).toEqual(["carol", "dave", "carol", "dave", "carol", "carol", "carol"]);
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
