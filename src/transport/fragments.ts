/**
 * Segments in fragments, both ways, sans-IO.
 *
 * A segment is cut no longer than its path carries at that moment. When the path shrinks
 * after a segment was cut (a black hole found by path-MTU discovery, a move to the relay),
 * the segment is sent again as fragments: SEGMENT frames with `fragment` set (its byte
 * offset and the segment's total size), each sized to the path (`cutFragment`). The receiver
 * collects them back into the whole segment (`FragmentCollector`) before it treats the
 * segment as arrived. One transmission is all of its fragments: the window, the pacer and the
 * RTT sample see one segment, and a lost fragment loses the segment.
 */

import { FRAGMENT_HEADER_BYTES, SEGMENT_HEADER_BYTES, type SegmentFrame } from "../protocol/frames.js";
import { seqLt } from "../protocol/seq.js";
import type { FragmentCursor } from "./send-scoreboard.js";

/** A fragment smaller than this is not worth a frame: wait for a datagram with more room. */
export const MIN_FRAGMENT_BYTES = 256;
/** Segments whose fragments are being collected at once, at most (each ≤ 64 KiB). */
const MAX_PARTIAL_SEGMENTS = 64;

/** The payload bytes of a fragment that fits a frame of `maxBytes` and a path of `budgetBytes`. */
export function fragmentRoom(maxBytes: number, budgetBytes: number): number {
  return Math.min(
    maxBytes - SEGMENT_HEADER_BYTES - FRAGMENT_HEADER_BYTES,
    budgetBytes - FRAGMENT_HEADER_BYTES,
  );
}

/** The next fragment at the cursor, `room` bytes at most; the cursor moves past it. */
export function cutFragment(stream: number, cursor: FragmentCursor, room: number): SegmentFrame {
  const { seg } = cursor;
  const start = cursor.offset;
  const end = Math.min(seg.size, start + room);
  cursor.offset = end;
  // Offsets count `head` then `payload`; a fragment may hold the tail of one and the start
  // of the other.
  const h = seg.head.length;
  const frame: SegmentFrame = {
    type: "segment",
    stream,
    seq: seg.seq,
    end: seg.end,
    payload: seg.payload.subarray(Math.max(0, start - h), Math.max(0, end - h)),
    fragment: { offset: start, total: seg.size },
  };
  if (start < h) frame.head = seg.head.subarray(start, Math.min(end, h));
  return frame;
}

/** A segment arriving in fragments: its bytes so far, and which byte ranges arrived. */
interface PartialSegment {
  bytes: Uint8Array;
  end: boolean;
  /** Sorted, disjoint [start, end) ranges received. */
  ranges: Array<[number, number]>;
  received: number;
}

/** What became of a fragment that did not complete its segment. */
export type FragmentRefused = "dropped" | "duplicate" | "waiting";

export class FragmentCollector {
  private readonly partial = new Map<number, PartialSegment>();

  get size(): number {
    return this.partial.size;
  }

  /**
   * Adds one fragment to its segment's partial copy; returns the whole segment once every
   * byte has arrived. Fragments that contradict what arrived before (another total or `end`),
   * and segments beyond MAX_PARTIAL_SEGMENTS, are `dropped`: the sender's timer repairs them.
   */
  collect(frame: SegmentFrame): SegmentFrame | FragmentRefused {
    const { offset, total } = frame.fragment as { offset: number; total: number };
    let partial = this.partial.get(frame.seq);
    if (partial === undefined) {
      if (this.partial.size >= MAX_PARTIAL_SEGMENTS) return "dropped";
      partial = { bytes: new Uint8Array(total), end: frame.end, ranges: [], received: 0 };
      this.partial.set(frame.seq, partial);
    } else if (partial.bytes.length !== total || partial.end !== frame.end) {
      return "dropped";
    }
    const added = addRange(partial.ranges, offset, offset + frame.payload.length);
    if (added === 0) return "duplicate";
    partial.bytes.set(frame.payload, offset);
    partial.received += added;
    if (partial.received < total) return "waiting";
    this.partial.delete(frame.seq);
    return {
      type: "segment",
      stream: frame.stream,
      seq: frame.seq,
      end: partial.end,
      payload: partial.bytes,
    };
  }

  /** Fragments of segments that have since arrived whole are of no more use. */
  forgetArrived(rcvNxt: number, buffered: ReadonlyMap<number, unknown>): void {
    for (const seq of this.partial.keys()) {
      if (seqLt(seq, rcvNxt) || buffered.has(seq)) this.partial.delete(seq);
    }
  }
}

/**
 * Adds [start, end) to sorted, disjoint ranges, merging neighbours; returns how many of its
 * bytes were new.
 */
function addRange(ranges: Array<[number, number]>, start: number, end: number): number {
  let covered = 0;
  let i = 0;
  while (i < ranges.length && (ranges[i] as [number, number])[1] < start) i++;
  let lo = start;
  let hi = end;
  let j = i;
  while (j < ranges.length && (ranges[j] as [number, number])[0] <= end) {
    const r = ranges[j] as [number, number];
    covered += Math.max(0, Math.min(r[1], end) - Math.max(r[0], start));
    lo = Math.min(lo, r[0]);
    hi = Math.max(hi, r[1]);
    j++;
  }
  ranges.splice(i, j - i, [lo, hi]);
  return end - start - covered;
}
