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
 *     `protocol/file-control.ts`) goes through `pollControl`/`handleControl` and the adapter
 *     sends it on stream 0 of the session, the control/chat stream. It is ordered and reliable
 *     and never waits behind chunks, so a cancel arrives even while the receiver's window is
 *     closed.
 *   - Data goes on the transfer's own stream (the offer names it) through a `ReliableChannel`
 *     owned by the core, exposed through the same frame surface a channel has
 *     (`StreamCore`, `stream-core.ts`): the session's Connection packs stream 0 first, then transfer streams.
 *
 * One window, not two. Each chunk is one message of exactly one segment on the transfer's
 * channel (`protocol/file-chunk.ts`: byte offset, CRC-32, bytes), cut by the sender as large as
 * a datagram of the session's path carries at that moment (1,200 bytes on a new path, up to
 * 64 KiB once path-MTU discovery proved more; `path-mtu.ts`). The
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
 * Resume: the receiver's state is the set of verified and durable bytes (`RangeSet`),
 * serialised as a sidecar manifest (`transfer-manifest.ts`). A new receiver built from it
 * accepts with those bytes as `have` ranges and the sender never reads them.
 *
 * Disk, asynchronous on both sides and never inside the window's work: the sender asks for
 * blocks of the file with `pollRead()` ahead of the window (at most `readAheadBytes` asked for
 * and not yet sent) and is handed them with `handleRead()`; it cuts chunks out of them just in
 * time, when the channel can send one, so each chunk has the path's size of the moment. The
 * receiver hands verified chunks out through `pollWrite()`, learns of durability through
 * `handleDurable()`, and reads back the bytes of an earlier session (for the SHA-256) through
 * the same `pollRead()`/`handleRead()` pair. Only durable bytes enter the manifest.
 */

import type { FileEndCode } from "../protocol/file-control.js";

/**
 * offered ──accept──► transferring ──all chunks acknowledged (sender)──► finishing
 *    │                    │                                                │
 *    │ decline            │ cancel (either side), failure                  │ file.done (sender)
 *    ▼                    ▼                                                ▼
 *  ended ◄────────────── ended                                         completed
 *
 * The receiver's `finishing` comes after the SHA-256 matched, while its adapter puts the
 * file in place; `file.done` follows that, never the hash alone.
 */
export type FileTransferState = "offered" | "transferring" | "finishing" | "completed" | "ended";

export type FileTransferEvent =
  /** Sender: the receiver accepted and already holds `skippedBytes` bytes. */
  | { type: "accepted"; skippedBytes: number }
  /**
   * Receiver: every chunk is durable and the SHA-256 of the whole file matched. The adapter
   * now puts the file in place and answers `handleFinished` or `handleFinishFailed`.
   */
  | { type: "verified" }
  /**
   * Sender: the receiver reported the file in place (`file.done`). Receiver: the adapter did
   * (`handleFinished`), and `file.done` is on its way.
   */
  | { type: "completed" }
  /** Declined, cancelled or failed; `by` says which side ended it. */
  | { type: "ended"; code: FileEndCode; by: "local" | "peer"; message: string };

/** Defaults of the transfer's channel. */
export const BULK_DEFAULTS = {
  /** Chunks in flight at most (scoreboard bound); the receiver's byte window binds first. */
  sendWindowSegments: 4096,
  /**
   * Chunks the receiver buffers before its window closes: at most 4096, and at most
   * `receiveWindowBytes` at the largest chunk size seen (so 16 MiB of 64 KiB chunks, or
   * 4096 chunks of 1.4 KiB), far above a LAN's BDP either way.
   */
  receiveWindowSegments: 4096,
  receiveWindowBytes: 16 * 1024 * 1024,
  /**
   * The receiver acknowledges every 4th in-order chunk (and at once on a gap or a duplicate,
   * else after its 5 ms delayed-ACK timer) instead of every 2nd: an ACK is a datagram, sealed,
   * sent, received and opened, so this cuts both processes' work per chunk. The sender's BBR
   * keeps transmitting between stretched ACKs through its ACK-aggregation allowance. Every
   * 8th would save a little more, but two transfers sharing a bottleneck then converge to
   * equal shares too slowly (test/sim/file-transfer.test.ts, "similar rates").
   */
  ackEverySegments: 4,
  /** Bytes of the file asked for and not yet cut into chunks, at most. */
  readAheadBytes: 4 * 1024 * 1024,
  /** The largest read the sender (or a resuming receiver) asks for at once. */
  readBlockBytes: 1024 * 1024,
  /**
   * Bytes the receiver holds out of the channel, at most: handed to the disk adapter and not
   * yet durable, or not yet hashed. Twice the peer adapter's fsync batch, so the next batch
   * arrives while one is synced.
   */
  writeBudgetBytes: 16 * 1024 * 1024,
} as const;

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}
