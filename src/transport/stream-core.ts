/**
 * The frame surface of anything that owns a stream of a session: a `ReliableChannel` has it,
 * and so do the file cores, which own one channel each. The session's `Connection` routes a
 * stream's SEGMENT and ACK frames to its core, packs what the core polls, and wakes it at its
 * deadline; the transport owns this interface, the cores above it implement it.
 */

import type { AckFrame, SegmentFrame } from "../protocol/frames.js";
import type { SegmentPath } from "./channel-options.js";

export interface StreamCore {
  /** The session's path (segment budget, loss reporting), given when the core is attached. */
  attachPath?(path: SegmentPath): void;
  handleSegment(frame: SegmentFrame, now: number): void;
  handleAck(frame: AckFrame, now: number): void;
  pollFrame(now: number, maxBytes: number): SegmentFrame | AckFrame | undefined;
  pollTimeout(): number | undefined;
  handleTimeout(now: number): void;
}
