/**
 * Frames: the plaintext inside a sealed DATA datagram. A payload is one or more frames
 * back to back; each starts with a type byte. See docs/protocol.md for the byte layouts.
 *
 * Sequence numbers are u32 and wrap; compare them only with the helpers in `seq.ts`.
 */

import { type Decoded, fail, ok } from "../errors.js";
import { ByteReader, ByteWriter } from "./bytes.js";
import { MAX_DATAGRAM_BYTES, MAX_SACK_RANGES } from "./limits.js";

export const FRAME_SEGMENT = 0x01;
export const FRAME_ACK = 0x02;
export const FRAME_PING = 0x03;
export const FRAME_CLOSE = 0x04;

/** One piece of a reliable message on a stream. `end` marks the message's last piece. */
export interface SegmentFrame {
  type: "segment";
  stream: number;
  seq: number;
  end: boolean;
  payload: Uint8Array;
}

/**
 * Cumulative ACK plus SACK ranges. `cumulative` is the next sequence number the receiver
 * expects (everything before it arrived). Each range is [start, end) above `cumulative`.
 * `windowSegments` is the receiver's free buffer (flow control); `ackDelayMs` is how long
 * the receiver held the ACK, which the sender subtracts from its RTT sample.
 */
export interface AckFrame {
  type: "ack";
  stream: number;
  cumulative: number;
  windowSegments: number;
  ackDelayMs: number;
  ranges: Array<[number, number]>;
}

/** Keepalive and heartbeat: authenticated liveness, no reliability. */
export interface PingFrame {
  type: "ping";
}

/** The sender is closing the session; the reason is a short UTF-8 string. */
export interface CloseFrame {
  type: "close";
  reason: string;
}

export type Frame = SegmentFrame | AckFrame | PingFrame | CloseFrame;

export const SEGMENT_HEADER_BYTES = 1 + 2 + 1 + 4 + 2;
const MAX_CLOSE_REASON_BYTES = 200;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

export function frameBytes(frame: Frame): number {
  switch (frame.type) {
    case "segment":
      return SEGMENT_HEADER_BYTES + frame.payload.length;
    case "ack":
      return 1 + 2 + 4 + 4 + 2 + 1 + frame.ranges.length * 8;
    case "ping":
      return 1;
    case "close":
      return 1 + 1 + Math.min(utf8.encode(frame.reason).length, MAX_CLOSE_REASON_BYTES);
  }
}

export function encodeFrames(frames: readonly Frame[]): Uint8Array {
  // Sized exactly: no reallocation while writing, and `finish` needs no copy.
  let total = 0;
  for (const f of frames) total += frameBytes(f);
  const w = new ByteWriter(Math.max(1, total));
  for (const f of frames) writeFrame(w, f);
  return w.finish();
}

function writeFrame(w: ByteWriter, f: Frame): void {
  switch (f.type) {
    case "segment":
      w.u8(FRAME_SEGMENT)
        .u16(f.stream)
        .u8(f.end ? 1 : 0)
        .u32(f.seq)
        .u16(f.payload.length)
        .bytes(f.payload);
      return;
    case "ack": {
      const ranges = f.ranges.slice(0, MAX_SACK_RANGES);
      w.u8(FRAME_ACK)
        .u16(f.stream)
        .u32(f.cumulative)
        .u32(Math.min(f.windowSegments, 0xffffffff))
        .u16(Math.min(Math.max(0, Math.round(f.ackDelayMs)), 0xffff))
        .u8(ranges.length);
      for (const [start, end] of ranges) w.u32(start).u32(end);
      return;
    }
    case "ping":
      w.u8(FRAME_PING);
      return;
    case "close": {
      const reason = utf8.encode(f.reason).subarray(0, MAX_CLOSE_REASON_BYTES);
      w.u8(FRAME_CLOSE).u8(reason.length).bytes(reason);
      return;
    }
  }
}

/** Total decoder: any byte string becomes a list of frames or a typed error. */
export function decodeFrames(buf: Uint8Array): Decoded<Frame[]> {
  if (buf.length > MAX_DATAGRAM_BYTES) return fail("WIRE_TOO_LARGE", `frames of ${buf.length} bytes`);
  if (buf.length === 0) return fail("WIRE_TRUNCATED", "no frames");
  const r = new ByteReader(buf);
  const frames: Frame[] = [];
  while (r.remaining > 0) {
    const type = r.u8();
    switch (type) {
      case FRAME_SEGMENT: {
        const stream = r.u16();
        const flags = r.u8();
        const seq = r.u32();
        const len = r.u16();
        const payload = r.bytes(len);
        if (r.failed) return fail("WIRE_TRUNCATED", "segment frame");
        if ((flags & ~1) !== 0) return fail("WIRE_BAD_FRAME", `segment flags ${flags}`);
        frames.push({ type: "segment", stream, seq, end: (flags & 1) === 1, payload });
        break;
      }
      case FRAME_ACK: {
        const stream = r.u16();
        const cumulative = r.u32();
        const windowSegments = r.u32();
        const ackDelayMs = r.u16();
        const count = r.u8();
        if (count > MAX_SACK_RANGES) return fail("WIRE_BAD_FRAME", `${count} SACK ranges`);
        const ranges: Array<[number, number]> = [];
        for (let i = 0; i < count; i++) ranges.push([r.u32(), r.u32()]);
        if (r.failed) return fail("WIRE_TRUNCATED", "ack frame");
        frames.push({ type: "ack", stream, cumulative, windowSegments, ackDelayMs, ranges });
        break;
      }
      case FRAME_PING:
        frames.push({ type: "ping" });
        break;
      case FRAME_CLOSE: {
        const len = r.u8();
        const raw = r.bytes(len);
        if (r.failed) return fail("WIRE_TRUNCATED", "close frame");
        if (len > MAX_CLOSE_REASON_BYTES) return fail("WIRE_BAD_FRAME", "close reason too long");
        let reason: string;
        try {
          reason = utf8Decoder.decode(raw);
        } catch {
          return fail("WIRE_BAD_VALUE", "close reason is not UTF-8");
        }
        frames.push({ type: "close", reason });
        break;
      }
      default:
        return fail("WIRE_BAD_FRAME", `unknown frame type 0x${type.toString(16)}`);
    }
  }
  return ok(frames);
}
