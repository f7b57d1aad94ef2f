/**
 * FileReceiver: the receiving side of one file transfer, sans-IO (theory of operation in
 * `file-core.ts`).
 *
 * State machine
 * -------------
 *
 *     offered ──accept()──► transferring ──every chunk durable, SHA-256 matches──► finishing
 *        │                      │                                                    │   │
 *        │ decline(), expiry    │ cancel(), file.cancel, SHA-256 mismatch, write     │   │ handleFinished():
 *        ▼                      ▼ failure, protocol violation                        │   ▼ the file is in place
 *      ended ◄──────────────── ended ◄── handleFinishFailed(), cancel(), file.cancel ─┘ completed
 *
 * A chunk's way in: SEGMENT frame (or its fragments, reassembled by the channel) → the
 * channel's `verifySegment` checks its CRC-32 (a mismatch is counted in `crcErrors` and
 * dropped unacknowledged: a loss the sender repairs) → the channel acknowledges and buffers
 * it, delivering in order → `pump` pulls it while the memory budget allows → checked against
 * the offer (inside the file, not empty) → queued for `pollWrite` and for the running SHA-256
 * → `handleWritten` lets go of its bytes (once hashed) → `handleDurable`, after a sync, adds
 * its range to the manifest's set. Chunks whose bytes the set already
 * holds (a resume whose `have` was truncated) are counted as duplicates and not written again.
 *
 * The SHA-256 runs over the file in order: `hashNext` is the first byte not yet hashed. The
 * chunks arrive in ascending order (the sender cuts them so and the channel delivers in
 * order), so the hash consumes each as it goes by; bytes durable from an earlier session are
 * read back first (`pollRead`/`handleRead`, asynchronous like the writes).
 *
 * Invariants: the bytes of the chunks held (not yet written, or not yet hashed) never exceed
 * `writeBudgetBytes` by more than one chunk; the channel holds at most
 * `receiveWindowSegments` segments; so the receiver's memory is bounded whatever the disk
 * does.
 *
 * Completion needs every chunk durable *and* the hash over all of them: the SHA-256 is
 * finished and compared to the offer's; a mismatch ends the transfer with
 * `FILE_HASH_MISMATCH` (and tells the sender). A match is not done yet: the core emits
 * `verified` and waits in `finishing` while the adapter gives the file its final name and
 * makes that durable (rename, fsync of the directory). Only its `handleFinished` sends
 * `file.done`, so a sender shows done only when the file is there; `handleFinishFailed`
 * ends the transfer with the adapter's code instead, and the sender hears it. Meanwhile,
 * and after completion, the channel keeps answering retransmissions with ACKs until the
 * adapter drops the transfer.
 *
 * Errors: invalid options throw `INTERNAL` (local misuse: a manifest of another file, `accept`
 * in the wrong state). Sender violations (a chunk outside the file, an empty chunk, a
 * multi-segment message) end the transfer with `FILE_PROTOCOL_ERROR`; a read-back that fails
 * ends it with `FILE_READ_FAILED`.
 *
 * This file is the core: the states, the control messages, the stream surface and when each
 * step runs. The bookkeeping of the bytes (the durable ranges, the chunks held on their way to
 * the disk, the SHA-256 in file order and its read-backs, which chunks are new) is
 * `held-chunks.ts`; the options and counters, the channel they make and the stats are
 * `file-receiver-options.ts`.
 */

import { MisuseError } from "../errors.js";
import { CHUNK_HEADER_BYTES, MAX_CHUNK_BYTES } from "../protocol/file-chunk.js";
import {
  type FileControl,
  type FileEndCode,
  type FileOffer,
  MAX_HAVE_RANGES,
} from "../protocol/file-control.js";
import type { AckFrame, SegmentFrame } from "../protocol/frames.js";
import type { ReliableChannel, SegmentPath } from "../transport/reliable-channel.js";
import type { StreamCore } from "../transport/stream-core.js";
import { BULK_DEFAULTS, type FileTransferEvent, type FileTransferState, toHex } from "./file-core.js";
import {
  type FileReceiverOptions,
  type FileReceiverStats,
  receiverChannel,
  receiverStats,
} from "./file-receiver-options.js";
import type { FileRead } from "./file-sender-options.js";
import { type ChunkWrite, HeldChunks } from "./held-chunks.js";
import { RangeSet } from "./range-set.js";
import { encodeManifest, manifestMatchesOffer } from "./transfer-manifest.js";

export type { FileReceiverOptions, FileReceiverStats } from "./file-receiver-options.js";
export type { ChunkWrite } from "./held-chunks.js";

export class FileReceiver implements StreamCore {
  readonly offer: FileOffer;
  private readonly resumedBytes: number;
  private readonly writeBudgetBytes: number;
  /** The durable ranges, the chunks held on their way to the disk, the SHA-256 (held-chunks.ts). */
  private readonly chunks: HeldChunks;
  private readonly channel: ReliableChannel;
  private readonly offerExpiresAt: number | undefined;
  private mode: FileTransferState = "offered";
  private readonly control: FileControl[] = [];
  private readonly events: FileTransferEvent[] = [];
  private counters = { chunksReceived: 0, receivedBytes: 0, duplicateChunks: 0, readBackBytes: 0 };

  constructor(opts: FileReceiverOptions) {
    const { offer } = opts;
    this.offer = offer;
    if (opts.resume !== undefined && !manifestMatchesOffer(opts.resume, offer)) {
      throw new MisuseError("FileReceiver: the manifest describes another file");
    }
    const have = opts.resume?.have.clone() ?? new RangeSet(offer.size);
    this.resumedBytes = have.size;
    this.writeBudgetBytes = Math.max(1, opts.writeBudgetBytes ?? BULK_DEFAULTS.writeBudgetBytes);
    const readBlockBytes = Math.max(1, opts.readBlockBytes ?? BULK_DEFAULTS.readBlockBytes);
    this.chunks = new HeldChunks(offer.size, have, readBlockBytes);
    this.offerExpiresAt = opts.offerExpiresAt;
    this.channel = receiverChannel(opts);
  }

  get id(): string {
    return this.offer.id;
  }

  get state(): FileTransferState {
    return this.mode;
  }

  get stats(): FileReceiverStats {
    return receiverStats(this.counters, this.offer, this.resumedBytes, this.chunks, this.channel.stats);
  }

  /** Bytes durable: `stats.durableBytes`, without building the stats (asked every turn). */
  get durableBytes(): number {
    return this.chunks.have.size;
  }

  /** Bytes held before the accept or accepted since: the whole file once all arrived. */
  get arrivedBytes(): number {
    return this.resumedBytes + this.counters.receivedBytes;
  }

  attachPath(path: SegmentPath): void {
    this.channel.attachPath(path);
  }

  /** Accept the offer: ask for the bytes not yet held. */
  accept(): void {
    this.expectOffered("accept");
    this.mode = "transferring";
    this.control.push({
      t: "file.accept",
      id: this.offer.id,
      have: this.chunks.have.ranges(MAX_HAVE_RANGES),
    });
    this.advanceHash();
    this.pump();
    this.checkComplete();
  }

  decline(message: string): void {
    this.expectOffered("decline");
    this.control.push({ t: "file.decline", id: this.offer.id, message: message.slice(0, 200) });
    this.end("FILE_DECLINED", "local", message);
  }

  /** Refuse the offer with a code the sender hears (`FILE_TOO_LARGE`, `FILE_NO_SPACE`). */
  refuse(code: FileEndCode, message: string): void {
    this.expectOffered("refuse");
    this.fail(code, message);
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

  /** Next verified chunk to write; report it with `handleWritten`, then `handleDurable`. */
  pollWrite(): ChunkWrite | undefined {
    if (this.mode !== "transferring") return undefined;
    return this.chunks.nextWrite();
  }

  /**
   * The write of the chunk at `offsetBytes` (from `pollWrite`) returned: the file has its
   * bytes, so the core lets go of them (once hashed) and they stop counting against the
   * budget, while the chunk waits for a sync to become durable. Holding every chunk until its
   * sync would keep megabytes alive for tens of milliseconds, long enough for the GC to move
   * them to the old generation, which only a full mark-compact frees. Idempotent.
   */
  handleWritten(offsetBytes: number, _now: number): void {
    if (this.mode !== "transferring") return;
    if (!this.chunks.written(offsetBytes)) return;
    this.pump();
  }

  /**
   * The chunk written at `offsetBytes` (from `pollWrite`) is durable (written, if
   * `handleWritten` did not say so, and synced). Idempotent. Also after the transfer ended,
   * for chunks that were being written: the manifest then lists them.
   */
  handleDurable(offsetBytes: number, now: number): void {
    if (this.mode === "ended") {
      // Durable is durable: a transfer that failed (a full disk) still lists it for a resume.
      this.chunks.durable(offsetBytes);
      return;
    }
    if (this.mode !== "transferring") return;
    const chunk = this.chunks.pending.get(offsetBytes);
    if (chunk === undefined) {
      if (this.chunks.have.has(offsetBytes)) return;
      throw new MisuseError(`FileReceiver: nothing at ${offsetBytes} was handed out for writing`);
    }
    if (!chunk.handedOut) {
      throw new MisuseError(`FileReceiver: the chunk at ${offsetBytes} is not being written`);
    }
    this.handleWritten(offsetBytes, now);
    this.chunks.durable(offsetBytes);
    this.checkComplete();
  }

  /**
   * The disk adapter could not write or sync a chunk: the transfer fails, and the sender is
   * told why (`FILE_DISK_FULL` for a full disk or quota, else `FILE_WRITE_FAILED`).
   */
  handleWriteFailed(
    offsetBytes: number,
    message: string,
    _now: number,
    code: "FILE_WRITE_FAILED" | "FILE_DISK_FULL" = "FILE_WRITE_FAILED",
  ): void {
    if (this.terminal) return;
    this.fail(code, `at ${offsetBytes}: ${message}`);
  }

  /** The file is in place under its final name, durably: tell the sender it is done. */
  handleFinished(_now: number): void {
    if (this.mode !== "finishing") return;
    this.mode = "completed";
    this.control.push({ t: "file.done", id: this.offer.id });
    this.events.push({ type: "completed" });
  }

  /** Every byte arrived, but the file could not be put in place: the transfer fails, and the sender hears why. */
  handleFinishFailed(code: "FILE_WRITE_FAILED" | "FILE_DISK_FULL", message: string, _now: number): void {
    if (this.mode !== "finishing") return;
    this.fail(code, message);
  }

  /** Bytes durable from an earlier session to read back for the SHA-256; answer with `handleRead`. */
  pollRead(): FileRead | undefined {
    const r = this.chunks.readBack;
    if (r === undefined || r.handedOut || this.mode !== "transferring") return undefined;
    r.handedOut = true;
    return { offset: r.offset, length: r.length };
  }

  handleRead(offset: number, bytes: Uint8Array, _now: number): void {
    const r = this.chunks.readBack;
    if (this.mode !== "transferring" || r === undefined || r.offset !== offset) return;
    if (bytes.length !== r.length) {
      this.fail("FILE_READ_FAILED", `read back ${bytes.length} bytes at ${offset}, expected ${r.length}`);
      return;
    }
    this.chunks.hashReadBack(offset, bytes);
    this.counters.readBackBytes += bytes.length;
    this.advanceHash();
    this.pump();
    this.checkComplete();
  }

  handleReadFailed(offset: number, message: string): void {
    if (this.terminal) return;
    this.fail("FILE_READ_FAILED", `reading back at ${offset}: ${message}`);
  }

  /** The resume state: verified, durable bytes, as sidecar-manifest bytes. */
  manifest(): Uint8Array {
    return encodeManifest({
      sizeBytes: this.offer.size,
      sha256: Buffer.from(this.offer.sha256, "hex"),
      have: this.chunks.have,
    });
  }

  // ===================================================================== stream surface

  handleSegment(frame: SegmentFrame, now: number): void {
    if (this.mode === "ended") return;
    const total = frame.fragment?.total ?? frame.payload.length;
    if (!frame.end || total > CHUNK_HEADER_BYTES + MAX_CHUNK_BYTES) {
      this.fail("FILE_PROTOCOL_ERROR", "a chunk must be one segment of at most the largest chunk");
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
      throw new MisuseError(`FileReceiver: cannot ${action} a transfer that is ${this.mode}`);
    }
  }

  /** Pulls chunks out of the channel while the memory budget has room (flow control). */
  private pump(): void {
    while (this.mode === "transferring" && this.chunks.heldBytes < this.writeBudgetBytes) {
      const message = this.channel.pollMessage();
      if (message === undefined) return;
      this.takeChunk(message);
    }
  }

  private takeChunk(message: Uint8Array): void {
    const taken = this.chunks.take(message);
    if (typeof taken === "string") {
      this.fail("FILE_PROTOCOL_ERROR", taken);
      return;
    }
    if (taken === 0) {
      this.counters.duplicateChunks++;
      return;
    }
    this.counters.chunksReceived++;
    this.counters.receivedBytes += taken;
    this.advanceHash();
  }

  /** Feeds the SHA-256 every byte from `hashNext` on that is in memory, or asks to read it back. */
  private advanceHash(): void {
    if (this.mode === "transferring") this.chunks.advanceHash();
  }

  private checkComplete(): void {
    if (this.mode !== "transferring" || !this.chunks.have.complete || this.chunks.hashNext < this.offer.size)
      return;
    if (this.chunks.pending.size > 0) return;
    const digest = toHex(this.chunks.digest());
    if (digest !== this.offer.sha256) {
      this.fail("FILE_HASH_MISMATCH", `SHA-256 ${digest.slice(0, 16)}… differs from the offer's`);
      return;
    }
    this.mode = "finishing";
    this.events.push({ type: "verified" });
  }

  /** A failure on our side or the peer's: tell the peer, report it, stop. */
  private fail(code: FileEndCode, message: string): void {
    this.control.push({ t: "file.cancel", id: this.offer.id, code, message: message.slice(0, 200) });
    this.end(code, "local", message);
  }

  private end(code: FileEndCode, by: "local" | "peer", message: string): void {
    this.mode = "ended";
    this.chunks.clear();
    this.events.push({ type: "ended", code, by, message });
  }
}
