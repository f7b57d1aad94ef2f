/**
 * A FileReceiver's options and counters, the bulk channel its options make, and its stats
 * (file-receiver.ts holds the core and its theory of operation; it re-exports the types).
 */

import { CHUNK_HEADER_BYTES, chunkIntact, decodeChunk, MAX_CHUNK_BYTES } from "../protocol/file-chunk.js";
import type { FileOffer } from "../protocol/file-control.js";
import { ReliableChannel, type ReliableChannelStats } from "../transport/reliable-channel.js";
import { BULK_DEFAULTS } from "./file-core.js";
import type { HeldChunks } from "./held-chunks.js";
import type { TransferManifest } from "./transfer-manifest.js";

export interface FileReceiverOptions {
  offer: FileOffer;
  /** Resume from this manifest (it must describe the offered file). */
  resume?: TransferManifest;
  /** Default BULK_DEFAULTS.writeBudgetBytes. */
  writeBudgetBytes?: number;
  receiveWindowSegments?: number;
  /** Default BULK_DEFAULTS.receiveWindowBytes. */
  receiveWindowBytes?: number;
  ackDelayMs?: number;
  /** Default BULK_DEFAULTS.ackEverySegments. */
  ackEverySegments?: number;
  /** The largest read-back asked for at once, default BULK_DEFAULTS.readBlockBytes. */
  readBlockBytes?: number;
  /**
   * When (in the caller's clock) an offer the user has not answered expires: it ends with
   * FILE_OFFER_EXPIRED and the sender is told. Default: never.
   */
  offerExpiresAt?: number;
}

export interface FileReceiverStats {
  sizeBytes: number;
  /** Bytes held when accepting (resume). */
  resumedBytes: number;
  /** Bytes verified, durable and in the manifest. */
  durableBytes: number;
  /** Bytes accepted from the wire (CRC good, inside the file, new). */
  receivedBytes: number;
  /** Chunks accepted from the wire. */
  chunksReceived: number;
  /** Chunks received whose bytes were already held. */
  duplicateChunks: number;
  /** Chunks whose CRC-32 did not match: dropped unacknowledged and repaired as losses. */
  crcErrors: number;
  /** Chunks not yet durable (queued for `pollWrite`, being written, or waiting for a sync). */
  pendingWrites: number;
  /** Bytes held in memory out of the channel: not yet written or not yet hashed. */
  heldBytes: number;
  /** Bytes read back through `handleRead` for the SHA-256. */
  readBackBytes: number;
  channel: ReliableChannelStats;
}

/** The counters a receiver keeps itself; the rest of its stats come from its parts. */
export interface ReceiverCounters {
  chunksReceived: number;
  receivedBytes: number;
  duplicateChunks: number;
  readBackBytes: number;
}

/**
 * The receiving end of a transfer's channel: every message one chunk of one segment, the bulk
 * window, and each chunk's CRC-32 checked before it is acknowledged.
 */
export function receiverChannel(opts: FileReceiverOptions): ReliableChannel {
  const chunkMessageBytes = CHUNK_HEADER_BYTES + MAX_CHUNK_BYTES;
  return new ReliableChannel({
    stream: opts.offer.stream,
    maxSegmentPayloadBytes: chunkMessageBytes,
    maxMessageBytes: chunkMessageBytes,
    receiveWindowSegments: opts.receiveWindowSegments ?? BULK_DEFAULTS.receiveWindowSegments,
    receiveWindowBytes: opts.receiveWindowBytes ?? BULK_DEFAULTS.receiveWindowBytes,
    ...(opts.ackDelayMs !== undefined && { ackDelayMs: opts.ackDelayMs }),
    ackEverySegments: opts.ackEverySegments ?? BULK_DEFAULTS.ackEverySegments,
    verifySegment: (frame) => {
      const chunk = decodeChunk(frame.payload);
      // Too short to be a chunk is the sender's bug, not damage: let `pump` report it.
      return !chunk.ok || chunkIntact(chunk.value);
    },
  });
}

/** A receiver's stats from its counters, the chunks it holds and its channel's. */
export function receiverStats(
  counters: ReceiverCounters,
  offer: FileOffer,
  resumedBytes: number,
  chunks: HeldChunks,
  channel: ReliableChannelStats,
): FileReceiverStats {
  return {
    ...counters,
    sizeBytes: offer.size,
    resumedBytes,
    durableBytes: chunks.have.size,
    crcErrors: channel.integrityDropped,
    pendingWrites: chunks.pending.size,
    heldBytes: chunks.heldBytes,
    channel,
  };
}
