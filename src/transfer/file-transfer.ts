/**
 * File transfer over the one window: what the sender (`file-sender.ts`) and the receiver
 * (`file-receiver.ts`) share. Sans-IO like every core: no sockets, timers, clock or disk.
 *
 * Theory of operation
 * ===================
 *
 * Control and data take different paths:
 *
 *   - Control (`file.offer`, `file.accept`, `file.decline`, `file.cancel`, `file.done`,
 *     `protocol/file-offer.ts`) goes through `pollControl`/`handleControl` and the adapter
 *     sends it on stream 0 of the session, the control/chat stream. It is ordered and reliable
 *     and never waits behind chunks, so a cancel arrives even while the receiver's window is
 *     closed.
 *   - Data goes on the transfer's own stream (the offer names it) through a `ReliableChannel`
 *     owned by the core, exposed through the same frame surface a channel has
 *     (`StreamCore`): the session's Connection packs stream 0 first, then transfer streams.
 *
 * One window, not two. Each chunk is one message of exactly one segment on the transfer's
 * channel (`protocol/file-chunk.ts`: index, CRC-32, bytes; ≤ 1200 bytes on the wire). The
 * channel's scoreboard, SACK, RFC 6298 timer, fast retransmit, zero-window probing and flow
 * control are used unchanged; the bulk path plugs in only three things, all through options
 * the channel offers to any stream: a segment integrity check (`verifySegment`: a chunk whose
 * CRC-32 fails is dropped unacknowledged, so the window repairs it as a loss), a loss-tolerant
 * paced controller (`BbrCongestionController`), and larger windows.
 *
 * We considered a second channel mode (chunks delivered out of order straight to a
 * random-access sink) and chose ordered delivery, because with it:
 *   - The channel's receive buffer *is* the flow control. The receiver pulls chunks from the
 *     channel only while fewer than `writeBudgetChunks` writes are not yet durable; chunks it
 *     does not pull stay held in the channel, the advertised window shrinks to zero and the
 *     sender stops (persist timer, probes). A stalled disk never overruns memory: the
 *     receiver holds at most `receiveWindowSegments + writeBudgetChunks` chunks.
 *   - The SHA-256 of the whole file is computed in passing: the sender queues missing chunks
 *     in ascending order, the channel delivers them in that order, so the hash consumes each
 *     chunk as it goes by. Only chunks from an earlier session (resume) are read back, through
 *     the injected `readChunk`.
 *   - The price is head-of-line blocking: a lost chunk holds later ones in the receive buffer
 *     until fast retransmit repairs it, about one round trip, i.e. a BDP of memory. On a LAN
 *     that is kilobytes, well inside the window.
 *
 * Resume: the receiver's state is the set of verified and durable chunks (`ChunkSet`),
 * serialised as a sidecar manifest (`transfer-manifest.ts`). A new receiver built from it
 * accepts with those chunks as `have` ranges and the sender never queues them.
 *
 * Disk: the sender reads through an injected synchronous `readChunk(index)` (called only when
 * the channel's queue runs low, so at most `feedAheadChunks` chunks wait unsent); the receiver
 * hands verified chunks out through `pollWrite()` and learns of durability through
 * `handleDurable(index)`. Only durable chunks enter the manifest.
 */

import type { FileEndCode } from "../protocol/file-offer.js";
import type { AckFrame, SegmentFrame } from "../protocol/frames.js";

/** The frame surface of anything that owns a stream of a session (a ReliableChannel has it). */
export interface StreamCore {
  handleSegment(frame: SegmentFrame, now: number): void;
  handleAck(frame: AckFrame, now: number): void;
  pollFrame(now: number, maxBytes: number): SegmentFrame | AckFrame | undefined;
  pollTimeout(): number | undefined;
  handleTimeout(now: number): void;
}

/**
 * offered ──accept──► transferring ──all chunks acknowledged (sender)──► finishing
 *    │                    │                                                │
 *    │ decline            │ cancel (either side), failure                  │ file.done / verified
 *    ▼                    ▼                                                ▼
 *  ended ◄────────────── ended                                         completed
 */
export type FileTransferState = "offered" | "transferring" | "finishing" | "completed" | "ended";

export type FileTransferEvent =
  /** Sender: the receiver accepted and already holds `skippedChunks` chunks. */
  | { type: "accepted"; skippedChunks: number }
  /** Every chunk is durable at the receiver and the SHA-256 of the whole file matched. */
  | { type: "completed" }
  /** Declined, cancelled or failed; `by` says which side ended it. */
  | { type: "ended"; code: FileEndCode; by: "local" | "peer"; message: string };

/** Defaults of the transfer's channel. */
export const BULK_DEFAULTS = {
  /** Chunks in flight at most (scoreboard bound): 1 MiB, far above a LAN's BDP. */
  sendWindowSegments: 1024,
  /** Chunks the receiver buffers before its window closes. */
  receiveWindowSegments: 1024,
  /**
   * The receiver acknowledges every 4th in-order chunk (and at once on a gap or a duplicate,
   * else after its 5 ms delayed-ACK timer) instead of every 2nd: an ACK is a datagram, sealed,
   * sent, received and opened, so this cuts both processes' work per chunk. The sender's BBR
   * keeps transmitting between stretched ACKs through its ACK-aggregation allowance. Every
   * 8th would save a little more, but two transfers sharing a bottleneck then converge to
   * equal shares too slowly (test/transfer/file-transfer.sim.test.ts, "similar rates").
   */
  ackEverySegments: 4,
  /** Chunks read ahead of the channel's transmissions. */
  feedAheadChunks: 16,
  /**
   * Chunks handed to the disk adapter and not yet durable, at most (~4.7 MB held in memory):
   * twice the peer adapter's fsync batch, so the next batch arrives while one is synced.
   */
  writeBudgetChunks: 4096,
} as const;

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}
