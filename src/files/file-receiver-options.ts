/**
 * A FileReceiver's options and counters (file-receiver.ts holds the core and its theory of
 * operation; it re-exports these).
 */

import type { FileOffer } from "../protocol/file-control.js";
import type { ReliableChannelStats } from "../transport/reliable-channel.js";
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
