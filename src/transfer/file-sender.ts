/**
 * FileSender: the sending side of one file transfer, sans-IO (theory of operation in
 * `file-transfer.ts`).
 *
 * State machine
 * -------------
 *
 *     offered ───────────── file.accept ─────────────────────► transferring
 *     transferring ──────── every queued chunk acknowledged ───► finishing
 *     transferring, finishing ── file.done ────────────────────► completed
 *     offered ───────────── file.decline ────────────────────► ended (FILE_DECLINED)
 *     offered ───────────── `offerExpiresAt` passes ──────────► ended (FILE_OFFER_EXPIRED)
 *     not yet completed ─── cancel(), file.cancel, a failure ──► ended (its code)
 *
 * `file.done` may overtake the last ACKs (it travels on stream 0), so it completes the
 * transfer from `transferring` too. The transfer's channel is created at once but sends
 * nothing before the accept; after the transfer ends it sends nothing at all.
 *
 * Chunks are read lazily: whenever the channel has fewer than `feedAheadChunks` unsent
 * segments, the next chunk the receiver does not hold (ascending index) is read through
 * `readChunk`, checksummed and queued. Memory is therefore bounded by the send window plus
 * the read-ahead, whatever the file size.
 *
 * Errors: invalid options throw `INTERNAL` (local misuse). A `readChunk` that throws or
 * returns the wrong length ends the transfer with `FILE_READ_FAILED` (the file changed under
 * us) and tells the receiver. A peer that violates the protocol (an impossible `have` range,
 * `file.done` before the accept) ends it with `FILE_PROTOCOL_ERROR`.
 */

import { HallwayError } from "../errors.js";
import {
  CHUNK_HEADER_BYTES,
  chunkCountOf,
  chunkLengthOf,
  DEFAULT_CHUNK_BYTES,
  encodeChunk,
} from "../protocol/file-chunk.js";
import { type FileControl, type FileEndCode, type FileOffer, fileControl } from "../protocol/file-offer.js";
import type { AckFrame, SegmentFrame } from "../protocol/frames.js";
import { BbrCongestionController, type CongestionController } from "./congestion.js";
import {
  BULK_DEFAULTS,
  type FileTransferEvent,
  type FileTransferState,
  type StreamCore,
  toHex,
} from "./file-transfer.js";
import { ReliableChannel, type ReliableChannelStats } from "./reliable-channel.js";
import { ChunkSet, chunkSetBytes } from "./transfer-manifest.js";

export interface FileSenderOptions {
  /** Transfer id: 8–64 characters of [A-Za-z0-9_-], unique per sender. */
  id: string;
  /** The session stream the chunks travel on (1–65535, unused by any other transfer). */
  stream: number;
  /** Bare file name shown to the receiver. */
  name: string;
  sizeBytes: number;
  /** SHA-256 of the whole file (the disk adapter computes it while reading the file once). */
  sha256: Uint8Array;
  /** Default DEFAULT_CHUNK_BYTES. */
  chunkBytes?: number;
  /** Bytes of chunk `index`: exactly `chunkBytes`, or fewer for the last chunk. */
  readChunk: (index: number) => Uint8Array;
  /**
   * When (in the caller's clock) an offer nobody answered expires: the transfer ends with
   * FILE_OFFER_EXPIRED and the receiver is told. Default: never.
   */
  offerExpiresAt?: number;
  /** Default: a fresh BbrCongestionController. */
  congestion?: CongestionController;
  sendWindowSegments?: number;
  feedAheadChunks?: number;
  minRtoMs?: number;
  maxRtoMs?: number;
  initialRtoMs?: number;
}

export interface FileSenderStats {
  chunkCount: number;
  /** Chunks the receiver already held when it accepted. */
  skippedChunks: number;
  /** File bytes of those chunks: what the resume saved. */
  skippedBytes: number;
  /**
   * File bytes (chunk payloads, not headers) put on the wire: first transmissions and every
   * retransmission. Minus the bytes this transfer had to deliver, it is what was sent twice.
   */
  sentBytes: number;
  /** Distinct chunks read and queued on the channel. */
  chunksQueued: number;
  /** Chunks acknowledged by the receiver's window (not yet durable). */
  chunksAcknowledged: number;
  channel: ReliableChannelStats;
}

export class FileSender implements StreamCore {
  readonly offer: FileOffer;
  private readonly chunkCount: number;
  private readonly readChunk: (index: number) => Uint8Array;
  private readonly feedAheadChunks: number;
  private readonly channel: ReliableChannel;
  private readonly offerExpiresAt: number | undefined;
  private mode: FileTransferState = "offered";
  private have: ChunkSet;
  private nextIndex = 0;
  private chunksQueued = 0;
  private sentBytes = 0;
  private readonly control: FileControl[] = [];
  private readonly events: FileTransferEvent[] = [];

  constructor(opts: FileSenderOptions) {
    const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (opts.sha256.length !== 32) throw new HallwayError("INTERNAL", "FileSender: sha256 must be 32 bytes");
    const offer = fileControl.safeParse({
      t: "file.offer",
      id: opts.id,
      stream: opts.stream,
      name: opts.name,
      size: opts.sizeBytes,
      sha256: toHex(opts.sha256),
      chunkBytes,
    });
    if (!offer.success || offer.data.t !== "file.offer") {
      const issue = offer.success ? undefined : offer.error.issues[0];
      throw new HallwayError(
        "INTERNAL",
        `FileSender: invalid offer (${issue?.path.join(".") ?? "t"}: ${issue?.message ?? "not an offer"})`,
      );
    }
    this.offer = offer.data;
    this.chunkCount = chunkCountOf(opts.sizeBytes, chunkBytes);
    this.readChunk = opts.readChunk;
    this.offerExpiresAt = opts.offerExpiresAt;
    this.feedAheadChunks = Math.max(1, opts.feedAheadChunks ?? BULK_DEFAULTS.feedAheadChunks);
    this.have = new ChunkSet(0);
    this.channel = new ReliableChannel({
      stream: opts.stream,
      maxSegmentPayloadBytes: CHUNK_HEADER_BYTES + chunkBytes,
      maxMessageBytes: CHUNK_HEADER_BYTES + chunkBytes,
      sendWindowSegments: opts.sendWindowSegments ?? BULK_DEFAULTS.sendWindowSegments,
      // Also our guess of the receiver's window until its first ACK.
      receiveWindowSegments: BULK_DEFAULTS.receiveWindowSegments,
      congestion: opts.congestion ?? new BbrCongestionController(),
      ...(opts.minRtoMs !== undefined && { minRtoMs: opts.minRtoMs }),
      ...(opts.maxRtoMs !== undefined && { maxRtoMs: opts.maxRtoMs }),
      ...(opts.initialRtoMs !== undefined && { initialRtoMs: opts.initialRtoMs }),
    });
    this.control.push(this.offer);
  }

  get id(): string {
    return this.offer.id;
  }

  get state(): FileTransferState {
    return this.mode;
  }

  get stats(): FileSenderStats {
    const channel = this.channel.stats;
    return {
      chunkCount: this.chunkCount,
      skippedChunks: this.have.count,
      skippedBytes: chunkSetBytes(this.have, this.offer.size, this.offer.chunkBytes),
      sentBytes: this.sentBytes,
      chunksQueued: this.chunksQueued,
      chunksAcknowledged: channel.deliveredSegments,
      channel,
    };
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
    switch (msg.t) {
      case "file.accept":
        if (this.mode !== "offered") return; // a duplicate: the first one counts
        this.handleAccept(msg.have);
        return;
      case "file.decline":
        if (this.mode !== "offered") {
          this.fail("FILE_PROTOCOL_ERROR", "declined after accepting");
          return;
        }
        this.end("FILE_DECLINED", "peer", msg.message);
        return;
      case "file.cancel":
        this.end(msg.code, "peer", msg.message);
        return;
      case "file.done":
        if (this.mode === "offered") {
          this.fail("FILE_PROTOCOL_ERROR", "done before accept");
          return;
        }
        this.mode = "completed";
        this.events.push({ type: "completed" });
        return;
      case "file.offer":
        return;
    }
  }

  /** Cancel the transfer (idempotent; nothing happens once it has ended or completed). */
  cancel(message: string): void {
    if (this.terminal) return;
    this.control.push({ t: "file.cancel", id: this.offer.id, code: "FILE_CANCELLED", message });
    this.end("FILE_CANCELLED", "local", message);
  }

  // ===================================================================== stream surface

  handleSegment(frame: SegmentFrame, now: number): void {
    if (this.sending) this.channel.handleSegment(frame, now);
  }

  handleAck(frame: AckFrame, now: number): void {
    if (!this.sending) return;
    this.channel.handleAck(frame, now);
    this.checkAllAcknowledged();
  }

  pollFrame(now: number, maxBytes: number): SegmentFrame | AckFrame | undefined {
    if (!this.sending) return undefined;
    this.feed(now);
    if (!this.sending) return undefined;
    const frame = this.channel.pollFrame(now, maxBytes);
    if (frame?.type === "segment") this.sentBytes += Math.max(0, frame.payload.length - CHUNK_HEADER_BYTES);
    return frame;
  }

  pollTimeout(): number | undefined {
    if (this.mode === "offered") return this.offerExpiresAt;
    return this.sending ? this.channel.pollTimeout() : undefined;
  }

  handleTimeout(now: number): void {
    if (this.mode === "offered" && this.offerExpiresAt !== undefined && now >= this.offerExpiresAt) {
      this.fail("FILE_OFFER_EXPIRED", "nobody answered the offer in time");
      return;
    }
    if (this.sending) this.channel.handleTimeout(now);
  }

  // ===================================================================== internals

  private get terminal(): boolean {
    return this.mode === "completed" || this.mode === "ended";
  }

  private get sending(): boolean {
    return this.mode === "transferring" || this.mode === "finishing";
  }

  private handleAccept(have: Array<[number, number]>): void {
    const set = new ChunkSet(this.chunkCount);
    for (const [start, end] of have) {
      if (end > this.chunkCount) {
        this.fail("FILE_PROTOCOL_ERROR", `have range [${start}, ${end}) past the end`);
        return;
      }
      set.addRange(start, end);
    }
    this.have = set;
    this.mode = "transferring";
    this.events.push({ type: "accepted", skippedChunks: set.count });
    this.checkAllAcknowledged();
  }

  /** Keeps `feedAheadChunks` chunks queued ahead of the channel's transmissions. */
  private feed(now: number): void {
    while (this.mode === "transferring" && this.channel.unsentSegments < this.feedAheadChunks) {
      const index = this.have.nextMissing(this.nextIndex);
      if (index === undefined) {
        this.nextIndex = this.chunkCount;
        return;
      }
      const expected = chunkLengthOf(index, this.offer.size, this.offer.chunkBytes);
      let bytes: Uint8Array;
      try {
        bytes = this.readChunk(index);
      } catch (err) {
        this.fail("FILE_READ_FAILED", `chunk ${index}: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
      if (bytes.length !== expected) {
        this.fail("FILE_READ_FAILED", `chunk ${index} has ${bytes.length} bytes, expected ${expected}`);
        return;
      }
      // A fresh buffer nobody else holds: the channel may keep it without a copy.
      this.channel.send(encodeChunk(index, bytes), now, true);
      this.nextIndex = index + 1;
      this.chunksQueued++;
    }
  }

  private checkAllAcknowledged(): void {
    if (this.mode !== "transferring") return;
    if (this.have.nextMissing(this.nextIndex) !== undefined) return;
    if (this.channel.pendingSegments === 0) this.mode = "finishing";
  }

  /** A failure on our side or the peer's: tell the peer, report it, stop. */
  private fail(code: FileEndCode, message: string): void {
    this.control.push({ t: "file.cancel", id: this.offer.id, code, message: message.slice(0, 200) });
    this.end(code, "local", message);
  }

  private end(code: FileEndCode, by: "local" | "peer", message: string): void {
    this.mode = "ended";
    this.events.push({ type: "ended", code, by, message });
  }
}
