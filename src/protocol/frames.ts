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
export const FRAME_PADDING = 0x05;
export const FRAME_PMTU_PROBE = 0x06;
export const FRAME_PMTU_ACK = 0x07;

/** Segment flags: the message's last piece, and a piece of a segment (see `fragment`). */
const FLAG_END = 1;
const FLAG_FRAGMENT = 2;

/**
 * One piece of a reliable message on a stream. `end` marks the message's last piece.
 *
 * `fragment` is set when a segment larger than the path now carries is (re)sent in pieces:
 * `payload` is then the bytes at `offset` of the segment's `total` bytes. It only happens when
 * a path stops carrying datagrams as large as it did (path-MTU black hole): segments already
 * queued or in flight at the larger size are resent this way instead of being stuck.
 */
export interface SegmentFrame {
  type: "segment";
  stream: number;
  seq: number;
  end: boolean;
  payload: Uint8Array;
  fragment?: { offset: number; total: number };
  /**
   * Bytes that go before `payload` in the same segment, for a sender whose message is a small
   * header and a view into a buffer it keeps (a file chunk's: no copy to join them). Only
   * outgoing frames have it; a decoded frame's payload is the whole.
   */
  head?: Uint8Array;
}

/** Payload bytes of a segment frame: its `head` and its `payload`. */
export function segmentPayloadBytes(f: SegmentFrame): number {
  return (f.head?.length ?? 0) + f.payload.length;
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

/** Fills a datagram to the size being probed; carries nothing and is never acknowledged. */
export interface PaddingFrame {
  type: "padding";
  /** Bytes after the frame's 3-byte header. */
  length: number;
}

/**
 * A path-MTU probe (RFC 8899 §4.1: a probe is a padded datagram the peer acknowledges). The
 * peer answers every one it receives with a PMTU_ACK naming the probe and the size of the
 * datagram it arrived in; probes are not retransmitted: a lost probe is the answer "too big".
 */
export interface PmtuProbeFrame {
  type: "pmtu-probe";
  id: number;
}

export interface PmtuAckFrame {
  type: "pmtu-ack";
  id: number;
  /** Size of the UDP payload the probe arrived in. */
  datagramBytes: number;
}

export type Frame =
  | SegmentFrame
  | AckFrame
  | PingFrame
  | CloseFrame
  | PaddingFrame
  | PmtuProbeFrame
  | PmtuAckFrame;

export const SEGMENT_HEADER_BYTES = 1 + 2 + 1 + 4 + 2;
/** A fragment's extra header: u16 offset and u16 total of the segment it is part of. */
export const FRAGMENT_HEADER_BYTES = 4;
export const PADDING_HEADER_BYTES = 1 + 2;
/** Largest frame area of any datagram (a 64 KiB UDP payload less the DATA header and tag). */
const MAX_FRAMES_AREA_BYTES = MAX_DATAGRAM_BYTES;
const MAX_CLOSE_REASON_BYTES = 200;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

export function frameBytes(frame: Frame): number {
  switch (frame.type) {
    case "segment":
      return SEGMENT_HEADER_BYTES + (frame.fragment ? FRAGMENT_HEADER_BYTES : 0) + segmentPayloadBytes(frame);
    case "ack":
      return 1 + 2 + 4 + 4 + 2 + 1 + frame.ranges.length * 8;
    case "ping":
      return 1;
    case "close":
      return 1 + 1 + Math.min(utf8.encode(frame.reason).length, MAX_CLOSE_REASON_BYTES);
    case "padding":
      return PADDING_HEADER_BYTES + frame.length;
    case "pmtu-probe":
      return 1 + 4;
    case "pmtu-ack":
      return 1 + 4 + 4;
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

/** Segment payloads at least this large are not copied by `encodeFramePieces`. */
const GATHER_BYTES = 512;

/**
 * The same bytes as `encodeFrames`, as a list of pieces to be sealed and sent with one
 * gathered write: headers and small frames are written into small buffers, and a large
 * segment payload (a file chunk of up to 64 KiB) is a piece of its own, the caller's buffer
 * itself, never copied.
 */
export function encodeFramePieces(frames: readonly Frame[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let small: Frame[] = [];
  const flush = (): void => {
    if (small.length > 0) pieces.push(encodeFrames(small));
    small = [];
  };
  for (const f of frames) {
    if (f.type !== "segment" || f.payload.length < GATHER_BYTES) {
      small.push(f);
      continue;
    }
    flush();
    const w = new ByteWriter(frameBytes(f) - f.payload.length);
    writeSegmentHeader(w, f);
    if (f.head !== undefined) w.bytes(f.head);
    pieces.push(w.finish());
    pieces.push(f.payload);
  }
  flush();
  return pieces;
}

function writeSegmentHeader(w: ByteWriter, f: SegmentFrame): void {
  w.u8(FRAME_SEGMENT)
    .u16(f.stream)
    .u8((f.end ? FLAG_END : 0) | (f.fragment ? FLAG_FRAGMENT : 0))
    .u32(f.seq);
  if (f.fragment) w.u16(f.fragment.offset).u16(f.fragment.total);
  w.u16(segmentPayloadBytes(f));
}

function writeFrame(w: ByteWriter, f: Frame): void {
  switch (f.type) {
    case "segment":
      writeSegmentHeader(w, f);
      if (f.head !== undefined) w.bytes(f.head);
      w.bytes(f.payload);
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
    case "padding":
      // The writer's buffer starts zeroed and is sized exactly: skipping is writing zeros.
      w.u8(FRAME_PADDING).u16(f.length).skip(f.length);
      return;
    case "pmtu-probe":
      w.u8(FRAME_PMTU_PROBE).u32(f.id);
      return;
    case "pmtu-ack":
      w.u8(FRAME_PMTU_ACK).u32(f.id).u32(f.datagramBytes);
      return;
  }
}

/** Total decoder: any byte string becomes a list of frames or a typed error. */
export function decodeFrames(buf: Uint8Array): Decoded<Frame[]> {
  if (buf.length > MAX_FRAMES_AREA_BYTES) return fail("WIRE_TOO_LARGE", `frames of ${buf.length} bytes`);
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
        const fragmented = (flags & FLAG_FRAGMENT) !== 0;
        const offset = fragmented ? r.u16() : 0;
        const total = fragmented ? r.u16() : 0;
        const len = r.u16();
        const payload = r.bytes(len);
        if (r.failed) return fail("WIRE_TRUNCATED", "segment frame");
        if ((flags & ~(FLAG_END | FLAG_FRAGMENT)) !== 0)
          return fail("WIRE_BAD_FRAME", `segment flags ${flags}`);
        const end = (flags & FLAG_END) !== 0;
        if (!fragmented) {
          frames.push({ type: "segment", stream, seq, end, payload });
          break;
        }
        if (len === 0 || offset + len > total) return fail("WIRE_BAD_FRAME", "fragment outside its segment");
        frames.push({ type: "segment", stream, seq, end, payload, fragment: { offset, total } });
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
      case FRAME_PADDING: {
        const length = r.u16();
        r.skip(length);
        if (r.failed) return fail("WIRE_TRUNCATED", "padding frame");
        frames.push({ type: "padding", length });
        break;
      }
      case FRAME_PMTU_PROBE: {
        const id = r.u32();
        if (r.failed) return fail("WIRE_TRUNCATED", "pmtu probe frame");
        frames.push({ type: "pmtu-probe", id });
        break;
      }
      case FRAME_PMTU_ACK: {
        const id = r.u32();
        const datagramBytes = r.u32();
        if (r.failed) return fail("WIRE_TRUNCATED", "pmtu ack frame");
        frames.push({ type: "pmtu-ack", id, datagramBytes });
        break;
      }
      default:
        return fail("WIRE_BAD_FRAME", `unknown frame type 0x${type.toString(16)}`);
    }
  }
  return ok(frames);
}
