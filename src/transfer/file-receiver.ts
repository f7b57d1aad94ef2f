/**
 * FileReceiver: the receiving side of one file transfer, sans-IO (theory of operation in
 * `file-transfer.ts`).
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
 */

import { createHash, type Hash } from "node:crypto";
import { MisuseError } from "../errors.js";
import { CHUNK_HEADER_BYTES, chunkIntact, decodeChunk, MAX_CHUNK_BYTES } from "../protocol/file-chunk.js";
import {
  type FileControl,
  type FileEndCode,
  type FileOffer,
  MAX_HAVE_RANGES,
} from "../protocol/file-offer.js";
import type { AckFrame, SegmentFrame } from "../protocol/frames.js";
import type { FileRead } from "./file-sender.js";
import { BULK_DEFAULTS, type FileTransferEvent, type FileTransferState, toHex } from "./file-transfer.js";
import { RangeSet } from "./range-set.js";
import { ReliableChannel, type ReliableChannelStats, type SegmentPath } from "./reliable-channel.js";
import type { StreamCore } from "./stream-core.js";
import { encodeManifest, manifestMatchesOffer, type TransferManifest } from "./transfer-manifest.js";

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

/**
 * One verified chunk for the disk adapter: write `bytes` at `offsetBytes`, report it with
 * `handleWritten(offsetBytes)` once the write returns, and `handleDurable(offsetBytes)` once a
 * sync made it durable.
 */
export interface ChunkWrite {
  offsetBytes: number;
  bytes: Uint8Array;
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

interface HeldChunk {
  offset: number;
  length: number;
  /** The chunk's bytes until written and hashed, then EMPTY (`release`). */
  bytes: Uint8Array;
  handedOut: boolean;
  written: boolean;
  durable: boolean;
  hashed: boolean;
}

export class FileReceiver implements StreamCore {
  readonly offer: FileOffer;
  private readonly have: RangeSet;
  private readonly resumedBytes: number;
  private readonly writeBudgetBytes: number;
  private readonly readBlockBytes: number;
  private readonly channel: ReliableChannel;
  private readonly offerExpiresAt: number | undefined;
  private mode: FileTransferState = "offered";
  /** Chunks not yet durable, by offset. */
  private readonly pending = new Map<number, HeldChunk>();
  private writeQueue: HeldChunk[] = [];
  private writeHead = 0;
  /** Chunks not yet hashed, in arrival (= file) order. */
  private hashQueue: HeldChunk[] = [];
  private hashHead = 0;
  private heldBytes = 0;
  private readonly hash: Hash = createHash("sha256");
  private hashNext = 0;
  /** The read-back asked for (handed out once through pollRead), if any. */
  private readBack: (FileRead & { handedOut: boolean }) | undefined;
  private readonly control: FileControl[] = [];
  private readonly events: FileTransferEvent[] = [];
  private counters = { chunksReceived: 0, receivedBytes: 0, duplicateChunks: 0, readBackBytes: 0 };

  constructor(opts: FileReceiverOptions) {
    const { offer } = opts;
    this.offer = offer;
    if (opts.resume !== undefined && !manifestMatchesOffer(opts.resume, offer)) {
      throw new MisuseError("FileReceiver: the manifest describes another file");
    }
    this.have = opts.resume?.have.clone() ?? new RangeSet(offer.size);
    this.resumedBytes = this.have.size;
    this.writeBudgetBytes = Math.max(1, opts.writeBudgetBytes ?? BULK_DEFAULTS.writeBudgetBytes);
    this.readBlockBytes = Math.max(1, opts.readBlockBytes ?? BULK_DEFAULTS.readBlockBytes);
    this.offerExpiresAt = opts.offerExpiresAt;
    const chunkMessageBytes = CHUNK_HEADER_BYTES + MAX_CHUNK_BYTES;
    this.channel = new ReliableChannel({
      stream: offer.stream,
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
      sizeBytes: this.offer.size,
      resumedBytes: this.resumedBytes,
      durableBytes: this.have.size,
      crcErrors: channel.integrityDropped,
      pendingWrites: this.pending.size,
      heldBytes: this.heldBytes,
      channel,
    };
  }

  /** Bytes durable: `stats.durableBytes`, without building the stats (asked every turn). */
  get durableBytes(): number {
    return this.have.size;
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
    while (this.writeHead < this.writeQueue.length) {
      const chunk = this.writeQueue[this.writeHead] as HeldChunk;
      this.writeHead++;
      if (this.writeHead > 256 && this.writeHead * 2 > this.writeQueue.length) {
        this.writeQueue = this.writeQueue.slice(this.writeHead);
        this.writeHead = 0;
      }
      chunk.handedOut = true;
      return { offsetBytes: chunk.offset, bytes: chunk.bytes };
    }
    return undefined;
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
    const chunk = this.pending.get(offsetBytes);
    if (chunk === undefined || !chunk.handedOut || chunk.written) return;
    chunk.written = true;
    this.release(chunk);
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
      const chunk = this.pending.get(offsetBytes);
      if (chunk?.handedOut) {
        this.pending.delete(offsetBytes);
        this.have.add(chunk.offset, chunk.offset + chunk.length);
      }
      return;
    }
    if (this.mode !== "transferring") return;
    const chunk = this.pending.get(offsetBytes);
    if (chunk === undefined) {
      if (this.have.has(offsetBytes)) return;
      throw new MisuseError(`FileReceiver: nothing at ${offsetBytes} was handed out for writing`);
    }
    if (!chunk.handedOut) {
      throw new MisuseError(`FileReceiver: the chunk at ${offsetBytes} is not being written`);
    }
    this.handleWritten(offsetBytes, now);
    this.pending.delete(offsetBytes);
    this.have.add(chunk.offset, chunk.offset + chunk.length);
    chunk.durable = true;
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
    const r = this.readBack;
    if (r === undefined || r.handedOut || this.mode !== "transferring") return undefined;
    r.handedOut = true;
    return { offset: r.offset, length: r.length };
  }

  handleRead(offset: number, bytes: Uint8Array, _now: number): void {
    const r = this.readBack;
    if (this.mode !== "transferring" || r === undefined || r.offset !== offset) return;
    if (bytes.length !== r.length) {
      this.fail("FILE_READ_FAILED", `read back ${bytes.length} bytes at ${offset}, expected ${r.length}`);
      return;
    }
    this.readBack = undefined;
    this.hash.update(bytes);
    this.hashNext = offset + bytes.length;
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
      have: this.have,
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
    while (this.mode === "transferring" && this.heldBytes < this.writeBudgetBytes) {
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
    const { offset, bytes } = decoded.value;
    const end = offset + bytes.length;
    if (bytes.length === 0 || end > this.offer.size) {
      this.fail("FILE_PROTOCOL_ERROR", `a chunk of ${bytes.length} bytes at ${offset} is outside the file`);
      return;
    }
    if (this.have.has(offset, end) || this.pending.has(offset) || end <= this.hashNext) {
      this.counters.duplicateChunks++;
      return;
    }
    this.counters.chunksReceived++;
    this.counters.receivedBytes += bytes.length;
    const chunk: HeldChunk = {
      offset,
      length: bytes.length,
      bytes,
      handedOut: false,
      written: false,
      durable: false,
      hashed: false,
    };
    this.pending.set(offset, chunk);
    this.writeQueue.push(chunk);
    this.hashQueue.push(chunk);
    this.heldBytes += bytes.length;
    this.advanceHash();
  }

  /** A chunk written and hashed is not held any more: its bytes go, and leave the budget. */
  private release(chunk: HeldChunk): void {
    if (!chunk.written || !chunk.hashed || chunk.bytes === EMPTY) return;
    this.heldBytes -= chunk.length;
    chunk.bytes = EMPTY;
  }

  /** Feeds the SHA-256 every byte from `hashNext` on that is in memory, or asks to read it back. */
  private advanceHash(): void {
    while (this.hashNext < this.offer.size && this.mode === "transferring") {
      const head = this.hashQueue[this.hashHead];
      if (head !== undefined && head.offset <= this.hashNext) {
        const end = head.offset + head.length;
        if (end > this.hashNext) {
          this.hash.update(head.bytes.subarray(this.hashNext - head.offset));
          this.hashNext = end;
        }
        head.hashed = true;
        this.release(head);
        this.hashQueue[this.hashHead] = DONE;
        this.hashHead++;
        if (this.hashHead > 256 && this.hashHead * 2 > this.hashQueue.length) {
          this.hashQueue = this.hashQueue.slice(this.hashHead);
          this.hashHead = 0;
        }
        continue;
      }
      const durable = this.have.rangeAt(this.hashNext);
      if (durable === undefined || this.readBack !== undefined) return;
      // Durable before this session: read it back (up to the next chunk in memory).
      const limit = Math.min(
        durable[1],
        head?.offset ?? Number.POSITIVE_INFINITY,
        this.hashNext + this.readBlockBytes,
      );
      this.readBack = { offset: this.hashNext, length: limit - this.hashNext, handedOut: false };
      return;
    }
  }

  private checkComplete(): void {
    if (this.mode !== "transferring" || !this.have.complete || this.hashNext < this.offer.size) return;
    if (this.pending.size > 0) return;
    const digest = toHex(this.hash.digest());
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
    // Chunks being written stay known, so that their durability still reaches the manifest.
    for (const [offset, chunk] of this.pending) if (!chunk.handedOut) this.pending.delete(offset);
    this.writeQueue = [];
    this.writeHead = 0;
    this.hashQueue = [];
    this.hashHead = 0;
    this.heldBytes = 0;
    this.readBack = undefined;
    this.events.push({ type: "ended", code, by, message });
  }
}

const EMPTY = new Uint8Array(0);
const DONE: HeldChunk = {
  offset: 0,
  length: 0,
  bytes: EMPTY,
  handedOut: true,
  written: true,
  durable: true,
  hashed: true,
};
