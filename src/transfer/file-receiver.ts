/**
 * FileReceiver: the receiving side of one file transfer, sans-IO (theory of operation in
 * `file-transfer.ts`).
 *
 * State machine
 * -------------
 *
 *     offered ──accept()──► transferring ──every chunk durable, SHA-256 matches──► completed
 *        │ decline(), expiry    │
 *        ▼                      │ cancel(), file.cancel, SHA-256 mismatch, write failure,
 *      ended ◄──────────────────┘ protocol violation
 *
 * A chunk's way in: SEGMENT frame → the channel's `verifySegment` checks its CRC-32 (a
 * mismatch is counted in `crcErrors` and dropped unacknowledged: a loss the sender repairs)
 * → the channel acknowledges and buffers it, delivering in order → `pump` pulls it while the
 * write budget allows → checked against the offer (index in range, exact length) → queued
 * for `pollWrite` and fed to the running SHA-256 → `handleDurable` adds it to the manifest's
 * set. Chunks the set already holds (a resume whose `have` was truncated) are counted as
 * duplicates and not written again.
 *
 * Invariants: `pending` (handed out or waiting for `pollWrite`, not yet durable) never
 * exceeds `writeBudgetChunks`; the channel holds at most `receiveWindowSegments`; so the
 * receiver's chunk memory is bounded by their sum whatever the disk does. `hashNext` is the
 * first chunk not yet hashed; every chunk below it is in `pending` or durable.
 *
 * Completion needs every chunk durable *and* the hash over all of them: the SHA-256 is
 * finished and compared to the offer's; a match sends `file.done`, a mismatch ends the
 * transfer with `FILE_HASH_MISMATCH` (and tells the sender). After completion the channel
 * keeps answering retransmissions with ACKs until the adapter drops the transfer.
 *
 * Errors: invalid options throw `INTERNAL` (local misuse: a manifest of another file, a
 * resume without `readChunk`, `accept` in the wrong state). Sender violations (a chunk out of
 * range or of the wrong length, a multi-segment message) end the transfer with
 * `FILE_PROTOCOL_ERROR`.
 */

import { createHash, type Hash } from "node:crypto";
import { HallwayError } from "../errors.js";
import {
  CHUNK_HEADER_BYTES,
  chunkCountOf,
  chunkIntact,
  chunkLengthOf,
  decodeChunk,
} from "../protocol/file-chunk.js";
import {
  type FileControl,
  type FileEndCode,
  type FileOffer,
  MAX_HAVE_RANGES,
} from "../protocol/file-offer.js";
import type { AckFrame, SegmentFrame } from "../protocol/frames.js";
import {
  BULK_DEFAULTS,
  type FileTransferEvent,
  type FileTransferState,
  type StreamCore,
  toHex,
} from "./file-transfer.js";
import { ReliableChannel, type ReliableChannelStats } from "./reliable-channel.js";
import {
  ChunkSet,
  chunkSetBytes,
  encodeManifest,
  manifestMatchesOffer,
  type TransferManifest,
} from "./transfer-manifest.js";

export interface FileReceiverOptions {
  offer: FileOffer;
  /** Resume from this manifest (it must describe the offered file). */
  resume?: TransferManifest;
  /**
   * Reads a durable chunk back from the partial file, for the SHA-256 of chunks that did not
   * pass through this receiver (resume). Required when `resume` holds any chunk.
   */
  readChunk?: (index: number) => Uint8Array;
  writeBudgetChunks?: number;
  receiveWindowSegments?: number;
  ackDelayMs?: number;
  /** Default BULK_DEFAULTS.ackEverySegments. */
  ackEverySegments?: number;
  /**
   * When (in the caller's clock) an offer the user has not answered expires: it ends with
   * FILE_OFFER_EXPIRED and the sender is told. Default: never.
   */
  offerExpiresAt?: number;
}

/** One verified chunk for the disk adapter: write `bytes` at `offsetBytes`, then `handleDurable(index)`. */
export interface ChunkWrite {
  index: number;
  offsetBytes: number;
  bytes: Uint8Array;
}

export interface FileReceiverStats {
  chunkCount: number;
  /** Chunks held when accepting (resume). */
  resumedChunks: number;
  /** File bytes of those chunks. */
  resumedBytes: number;
  /** Chunks verified, durable and in the manifest. */
  durableChunks: number;
  /** Chunks accepted from the wire (CRC good, in range, new). */
  chunksReceived: number;
  /** Chunks received that were already held. */
  duplicateChunks: number;
  /** Chunks whose CRC-32 did not match: dropped unacknowledged and repaired as losses. */
  crcErrors: number;
  /** Chunks not yet durable (queued for `pollWrite` or being written). */
  pendingWrites: number;
  /** Chunks in memory: pending writes plus the channel's buffer. */
  bufferedChunks: number;
  /** Chunks read back through `readChunk` for the SHA-256. */
  readBacks: number;
  channel: ReliableChannelStats;
}

interface PendingChunk {
  bytes: Uint8Array;
  handedOut: boolean;
}

export class FileReceiver implements StreamCore {
  readonly offer: FileOffer;
  private readonly chunkCount: number;
  private readonly have: ChunkSet;
  private readonly resumedChunks: number;
  private readonly resumedBytes: number;
  private readonly readChunk: ((index: number) => Uint8Array) | undefined;
  private readonly writeBudgetChunks: number;
  private readonly channel: ReliableChannel;
  private readonly offerExpiresAt: number | undefined;
  private mode: FileTransferState = "offered";
  private readonly pending = new Map<number, PendingChunk>();
  private writeQueue: number[] = [];
  private readonly hash: Hash = createHash("sha256");
  private hashNext = 0;
  private readonly control: FileControl[] = [];
  private readonly events: FileTransferEvent[] = [];
  private counters = { chunksReceived: 0, duplicateChunks: 0, readBacks: 0 };

  constructor(opts: FileReceiverOptions) {
    const { offer } = opts;
    this.offer = offer;
    this.chunkCount = chunkCountOf(offer.size, offer.chunkBytes);
    if (opts.resume !== undefined && !manifestMatchesOffer(opts.resume, offer)) {
      throw new HallwayError("INTERNAL", "FileReceiver: the manifest describes another file");
    }
    this.have = opts.resume?.have.clone() ?? new ChunkSet(this.chunkCount);
    this.resumedChunks = this.have.count;
    this.resumedBytes = chunkSetBytes(this.have, offer.size, offer.chunkBytes);
    this.readChunk = opts.readChunk;
    if (this.have.count > 0 && this.readChunk === undefined) {
      throw new HallwayError("INTERNAL", "FileReceiver: resuming needs readChunk for the SHA-256");
    }
    this.writeBudgetChunks = Math.max(1, opts.writeBudgetChunks ?? BULK_DEFAULTS.writeBudgetChunks);
    this.offerExpiresAt = opts.offerExpiresAt;
    const chunkMessageBytes = CHUNK_HEADER_BYTES + offer.chunkBytes;
    this.channel = new ReliableChannel({
      stream: offer.stream,
      maxSegmentPayloadBytes: chunkMessageBytes,
      maxMessageBytes: chunkMessageBytes,
      receiveWindowSegments: opts.receiveWindowSegments ?? BULK_DEFAULTS.receiveWindowSegments,
      ...(opts.ackDelayMs !== undefined && { ackDelayMs: opts.ackDelayMs }),
      ackEverySegments: opts.ackEverySegments ?? BULK_DEFAULTS.ackEverySegments,
      verifySegment: (frame) => {
        const chunk = decodeChunk(frame.payload);
        // Too short to be a chunk is the sender's bug, not damage: let `pump` report it.
        return !chunk.ok || chunkIntact(chunk.value);
      },
    });
  }

  get id(): string {
    return this.offer.id;
  }

  get state(): FileTransferState {
    return this.mode;
  }

  get stats(): FileReceiverStats {
    const channel = this.channel.stats;
    return {
      ...this.counters,
      chunkCount: this.chunkCount,
      resumedChunks: this.resumedChunks,
      resumedBytes: this.resumedBytes,
      durableChunks: this.have.count,
      crcErrors: channel.integrityDropped,
      pendingWrites: this.pending.size,
      bufferedChunks: this.pending.size + channel.bufferedSegments,
      channel,
    };
  }

  /** Accept the offer: ask for the chunks not yet held. */
  accept(): void {
    this.expectOffered("accept");
    this.mode = "transferring";
    this.control.push({ t: "file.accept", id: this.offer.id, have: this.have.ranges(MAX_HAVE_RANGES) });
    this.advanceHash();
    this.pump();
    this.checkComplete();
  }

  decline(message: string): void {
    this.expectOffered("decline");
    this.control.push({ t: "file.decline", id: this.offer.id, message: message.slice(0, 200) });
    this.end("FILE_DECLINED", "local", message);
  }

  /** Cancel the transfer (idempotent; nothing happens once it has ended or completed). */
  cancel(message: string): void {
    if (this.terminal) return;
    this.fail("FILE_CANCELLED", message);
  }

  /** Next control message to send on stream 0. */
  pollControl(): FileControl | undefined {
    return this.control.shift();
  }

  pollEvent(): FileTransferEvent | undefined {
    return this.events.shift();
  }

  /** A control message from the peer about this transfer (others are ignored). */
  handleControl(msg: FileControl, _now: number): void {
    if (msg.id !== this.offer.id || this.terminal) return;
    if (msg.t === "file.cancel") this.end(msg.code, "peer", msg.message);
  }

  /** Next verified chunk to write; report it with `handleDurable` once it is on disk. */
  pollWrite(): ChunkWrite | undefined {
    if (this.mode !== "transferring") return undefined;
    const index = this.writeQueue.shift();
    if (index === undefined) return undefined;
    const chunk = this.pending.get(index) as PendingChunk;
    chunk.handedOut = true;
    return { index, offsetBytes: index * this.offer.chunkBytes, bytes: chunk.bytes };
  }

  /** The chunk from `pollWrite` is durable (written and synced). Idempotent. */
  handleDurable(index: number, _now: number): void {
    if (this.mode !== "transferring") return;
    const chunk = this.pending.get(index);
    if (chunk === undefined) {
      if (this.have.has(index)) return;
      throw new HallwayError("INTERNAL", `FileReceiver: chunk ${index} was never handed out for writing`);
    }
    if (!chunk.handedOut)
      throw new HallwayError("INTERNAL", `FileReceiver: chunk ${index} is not being written`);
    this.pending.delete(index);
    this.have.add(index);
    this.pump();
    this.checkComplete();
  }

  /**
   * The disk adapter could not write or sync a chunk: the transfer fails, and the sender is
   * told why (`FILE_DISK_FULL` for a full disk or quota, else `FILE_WRITE_FAILED`).
   */
  handleWriteFailed(
    index: number,
    message: string,
    _now: number,
    code: "FILE_WRITE_FAILED" | "FILE_DISK_FULL" = "FILE_WRITE_FAILED",
  ): void {
    if (this.terminal) return;
    this.fail(code, `chunk ${index}: ${message}`);
  }

  /** The resume state: verified, durable chunks, as sidecar-manifest bytes. */
  manifest(): Uint8Array {
    return encodeManifest({
      sizeBytes: this.offer.size,
      chunkBytes: this.offer.chunkBytes,
      sha256: Buffer.from(this.offer.sha256, "hex"),
      have: this.have,
    });
  }

  // ===================================================================== stream surface

  handleSegment(frame: SegmentFrame, now: number): void {
    if (this.mode === "ended") return;
    if (!frame.end || frame.payload.length > CHUNK_HEADER_BYTES + this.offer.chunkBytes) {
      this.fail("FILE_PROTOCOL_ERROR", "a chunk must be one segment of at most chunkBytes");
      return;
    }
    this.channel.handleSegment(frame, now);
    this.pump();
  }

  handleAck(frame: AckFrame, now: number): void {
    if (this.mode !== "ended") this.channel.handleAck(frame, now);
  }

  pollFrame(now: number, maxBytes: number): SegmentFrame | AckFrame | undefined {
    return this.mode === "ended" ? undefined : this.channel.pollFrame(now, maxBytes);
  }

  pollTimeout(): number | undefined {
    if (this.mode === "offered") return this.offerExpiresAt;
    return this.mode === "ended" ? undefined : this.channel.pollTimeout();
  }

  handleTimeout(now: number): void {
    if (this.mode === "offered" && this.offerExpiresAt !== undefined && now >= this.offerExpiresAt) {
      this.fail("FILE_OFFER_EXPIRED", "the offer was not answered in time");
      return;
    }
    if (this.mode !== "ended") this.channel.handleTimeout(now);
  }

  // ===================================================================== internals

  private get terminal(): boolean {
    return this.mode === "completed" || this.mode === "ended";
  }

  private expectOffered(action: string): void {
    if (this.mode !== "offered") {
      throw new HallwayError("INTERNAL", `FileReceiver: cannot ${action} a transfer that is ${this.mode}`);
    }
  }

  /** Pulls chunks out of the channel while the write budget has room (flow control). */
  private pump(): void {
    while (this.mode === "transferring" && this.pending.size < this.writeBudgetChunks) {
      const message = this.channel.pollMessage();
      if (message === undefined) return;
      this.takeChunk(message);
    }
  }

  private takeChunk(message: Uint8Array): void {
    const decoded = decodeChunk(message);
    if (!decoded.ok) {
      this.fail("FILE_PROTOCOL_ERROR", "a chunk shorter than its header");
      return;
    }
    const { index, bytes } = decoded.value;
    if (index >= this.chunkCount) {
      this.fail("FILE_PROTOCOL_ERROR", `chunk ${index} is past the end`);
      return;
    }
    const expected = chunkLengthOf(index, this.offer.size, this.offer.chunkBytes);
    if (bytes.length !== expected) {
      this.fail("FILE_PROTOCOL_ERROR", `chunk ${index} has ${bytes.length} bytes, expected ${expected}`);
      return;
    }
    if (this.have.has(index) || this.pending.has(index)) {
      this.counters.duplicateChunks++;
      return;
    }
    this.counters.chunksReceived++;
    this.pending.set(index, { bytes, handedOut: false });
    this.writeQueue.push(index);
    this.advanceHash();
  }

  /** Feeds the SHA-256 every chunk from `hashNext` on that is in memory or durable. */
  private advanceHash(): void {
    while (this.hashNext < this.chunkCount && this.mode === "transferring") {
      const chunk = this.pending.get(this.hashNext);
      if (chunk !== undefined) {
        this.hash.update(chunk.bytes);
      } else if (this.have.has(this.hashNext)) {
        const bytes = this.readBack(this.hashNext);
        if (bytes === undefined) return;
        this.hash.update(bytes);
      } else {
        return;
      }
      this.hashNext++;
    }
  }

  private readBack(index: number): Uint8Array | undefined {
    const expected = chunkLengthOf(index, this.offer.size, this.offer.chunkBytes);
    let bytes: Uint8Array;
    try {
      bytes = (this.readChunk as (index: number) => Uint8Array)(index);
    } catch (err) {
      this.fail("FILE_READ_FAILED", `chunk ${index}: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
    if (bytes.length !== expected) {
      this.fail("FILE_READ_FAILED", `chunk ${index} reads ${bytes.length} bytes, expected ${expected}`);
      return undefined;
    }
    this.counters.readBacks++;
    return bytes;
  }

  private checkComplete(): void {
    if (this.mode !== "transferring" || !this.have.complete || this.hashNext < this.chunkCount) return;
    const digest = toHex(this.hash.digest());
    if (digest !== this.offer.sha256) {
      this.fail("FILE_HASH_MISMATCH", `SHA-256 ${digest.slice(0, 16)}… differs from the offer's`);
      return;
    }
    this.mode = "completed";
    this.control.push({ t: "file.done", id: this.offer.id });
    this.events.push({ type: "completed" });
  }

  /** A failure on our side or the peer's: tell the peer, report it, stop. */
  private fail(code: FileEndCode, message: string): void {
    this.control.push({ t: "file.cancel", id: this.offer.id, code, message: message.slice(0, 200) });
    this.end(code, "local", message);
  }

  private end(code: FileEndCode, by: "local" | "peer", message: string): void {
    this.mode = "ended";
    this.pending.clear();
    this.writeQueue = [];
    this.events.push({ type: "ended", code, by, message });
  }
}
