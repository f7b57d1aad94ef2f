/**
 * A FileSender's options, the reads it asks of the disk adapter, and its counters
 * (file-sender.ts holds the core and its theory of operation; it re-exports these).
 */

import type { FileBatch } from "../protocol/file-control.js";
import type { CongestionController } from "../transport/congestion/index.js";
import type { ReliableChannelStats } from "../transport/reliable-channel.js";

export interface FileSenderOptions {
  /** Transfer id: 8–64 characters of [A-Za-z0-9_-], unique per sender. */
  id: string;
  /** The session stream the chunks travel on (1–65535, unused by any other transfer). */
  stream: number;
  /** Bare file name shown to the receiver. */
  name: string;
  /** A file of a folder: the folder, and the file's folder relative to its root (file-control.ts). */
  batch?: FileBatch;
  dir?: string;
  sizeBytes: number;
  /** SHA-256 of the whole file (the disk adapter computes it while reading the file once). */
  sha256: Uint8Array;
  /**
   * When (in the caller's clock) an offer nobody answered expires: the transfer ends with
   * FILE_OFFER_EXPIRED and the receiver is told. Default: never.
   */
  offerExpiresAt?: number;
  /** Default: a fresh BbrCongestionController. */
  congestion?: CongestionController;
  /** With the default controller: never faster than this (bytes per second). */
  maxRateBytesPerSecond?: number;
  sendWindowSegments?: number;
  /** Default BULK_DEFAULTS.readAheadBytes. */
  readAheadBytes?: number;
  /** Default BULK_DEFAULTS.readBlockBytes. */
  readBlockBytes?: number;
  /** The largest chunk, default MAX_CHUNK_BYTES (the path usually allows less). */
  maxChunkBytes?: number;
  minRtoMs?: number;
  maxRtoMs?: number;
  initialRtoMs?: number;
}

/**
 * A read the adapter should make: `length` bytes of the file at `offset`, into `into` when
 * given (a buffer of at least `length` bytes the core lends and gets back through `handleRead`).
 */
export interface FileRead {
  offset: number;
  length: number;
  into?: Uint8Array;
}

export interface FileSenderStats {
  sizeBytes: number;
  /** Bytes the receiver already held when it accepted: what the resume saved. */
  skippedBytes: number;
  /**
   * File bytes (chunk payloads, not headers) put on the wire: first transmissions and every
   * retransmission. Minus the bytes this transfer had to deliver, it is what was sent twice.
   */
  sentBytes: number;
  /** File bytes cut into chunks and queued on the channel. */
  queuedBytes: number;
  /** File bytes acknowledged by the receiver's window (not yet durable). */
  acknowledgedBytes: number;
  /** File bytes read through `handleRead`. */
  readBytes: number;
  /** Datagrams that carried chunk data, by size class (keys: each `LADDER` rung's bytes). */
  datagramSizes: Record<string, number>;
  channel: ReliableChannelStats;
}
