/**
 * FileSender: the sending side of one file transfer, sans-IO (theory of operation in
 * `file-core.ts`).
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
 * Reading and cutting: after the accept, `pollRead()` asks for the bytes the receiver does not
 * hold, in ascending order and in blocks of at most `readBlockBytes`, while fewer than
 * `readAheadBytes` are asked for and not yet cut; the adapter reads them asynchronously and
 * hands them in with `handleRead()`. Chunks are cut from the oldest block just in time: only
 * when the channel could transmit a new segment at once (`canSendNew`), as large as the path
 * carries then. Memory is therefore bounded by the send window plus the read-ahead, whatever
 * the file size, and a chunk is never cut at a size the path has since given up.
 *
 * Errors: invalid options throw `INTERNAL` (local misuse). A read that fails or comes back
 * short ends the transfer with `FILE_READ_FAILED` (the file changed under us) and tells the
 * receiver. A peer that violates the protocol (an impossible `have` range, `file.done` before
 * the accept) ends it with `FILE_PROTOCOL_ERROR`.
 *
 * The options, the reads asked of the adapter and the counters are `file-sender-options.ts`.
 */

import { MisuseError } from "../errors.js";
import { CHUNK_HEADER_BYTES, crc32, encodeChunkHeader, MAX_CHUNK_BYTES } from "../protocol/file-chunk.js";
import { type FileControl, type FileEndCode, type FileOffer, fileControl } from "../protocol/file-control.js";
import { type AckFrame, frameBytes, type SegmentFrame, segmentPayloadBytes } from "../protocol/frames.js";
import { AEAD_TAG_BYTES, DATA_HEADER_BYTES } from "../protocol/limits.js";
import { seqLt } from "../protocol/seq.js";
import { BbrCongestionController } from "../transport/congestion/index.js";
import { LADDER } from "../transport/path-mtu.js";
import { ReliableChannel, type SegmentPath } from "../transport/reliable-channel.js";
import type { StreamCore } from "../transport/stream-core.js";
import { BULK_DEFAULTS, type FileTransferEvent, type FileTransferState, toHex } from "./file-core.js";
import type { FileRead, FileSenderOptions, FileSenderStats } from "./file-sender-options.js";
import { RangeSet } from "./range-set.js";

export type { FileRead, FileSenderOptions, FileSenderStats } from "./file-sender-options.js";

interface Block {
  offset: number;
  bytes: Uint8Array | undefined;
  length: number;
  /** What the block is read into: a pool buffer when `length` is a whole block. */
  buffer: Uint8Array;
  /** Sequence number of the last chunk cut from it, once all are cut. */
  lastSeq: number;
}

export class FileSender implements StreamCore {
  readonly offer: FileOffer;
  private readonly channel: ReliableChannel;
  private readonly offerExpiresAt: number | undefined;
  private readonly readAheadBytes: number;
  private readonly readBlockBytes: number;
  private readonly maxChunkBytes: number;
  private mode: FileTransferState = "offered";
  private have: RangeSet;
  /** Blocks asked for, in file order; `bytes` is set once read. The head is being cut. */
  private blocks: Block[] = [];
  /** Offset within the head block of the next chunk. */
  private cutAt = 0;
  /**
   * Blocks cut whole, oldest first, whose chunks the channel still holds for retransmission:
   * each goes back to `pool` once the peer acknowledges its last chunk cumulatively.
   */
  private cutBlocks: Block[] = [];
  /**
   * Block buffers to read into again. Reading into the same few buffers, and sending chunks
   * as views of them, keeps a transfer from allocating (and the GC from sweeping) its whole
   * size in fresh off-heap buffers: at a gigabit that churn alone set off a full mark-compact
   * several times a second.
   */
  private pool: Uint8Array[] = [];
  /** The next byte not yet asked for. */
  private readCursor = 0;
  /** Bytes asked for and not yet cut. */
  private aheadBytes = 0;
  private counters = { sentBytes: 0, queuedBytes: 0, readBytes: 0 };
  private readonly sizeClasses = new Map<number, number>();
  private readonly reads: FileRead[] = [];
  private readonly control: FileControl[] = [];
  private readonly events: FileTransferEvent[] = [];

  constructor(opts: FileSenderOptions) {
    if (opts.sha256.length !== 32) throw new MisuseError("FileSender: sha256 must be 32 bytes");
    const offer = fileControl.safeParse({
      t: "file.offer",
      id: opts.id,
      stream: opts.stream,
      name: opts.name,
      size: opts.sizeBytes,
      sha256: toHex(opts.sha256),
      ...(opts.batch === undefined ? {} : { batch: opts.batch }),
      ...(opts.dir === undefined ? {} : { dir: opts.dir }),
    });
    if (!offer.success || offer.data.t !== "file.offer") {
      const issue = offer.success ? undefined : offer.error.issues[0];
      throw new MisuseError(
        `FileSender: invalid offer (${issue?.path.join(".") ?? "t"}: ${issue?.message ?? "not an offer"})`,
      );
    }
    this.offer = offer.data;
    this.offerExpiresAt = opts.offerExpiresAt;
    this.readAheadBytes = Math.max(1, opts.readAheadBytes ?? BULK_DEFAULTS.readAheadBytes);
    this.readBlockBytes = Math.max(1, opts.readBlockBytes ?? BULK_DEFAULTS.readBlockBytes);
    this.maxChunkBytes = Math.max(1, Math.min(MAX_CHUNK_BYTES, opts.maxChunkBytes ?? MAX_CHUNK_BYTES));
    this.have = new RangeSet(0);
    this.channel = new ReliableChannel({
      stream: opts.stream,
      maxSegmentPayloadBytes: CHUNK_HEADER_BYTES + this.maxChunkBytes,
      maxMessageBytes: CHUNK_HEADER_BYTES + this.maxChunkBytes,
      sendWindowSegments: opts.sendWindowSegments ?? BULK_DEFAULTS.sendWindowSegments,
      // Also our guess of the receiver's window until its first ACK.
      receiveWindowSegments: BULK_DEFAULTS.receiveWindowSegments,
      congestion:
        opts.congestion ??
        new BbrCongestionController(
          opts.maxRateBytesPerSecond === undefined
            ? {}
            : { maxRateBytesPerMs: opts.maxRateBytesPerSecond / 1000 },
        ),
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
      sizeBytes: this.offer.size,
      skippedBytes: this.have.size,
      ...this.counters,
      acknowledgedBytes: channel.deliveredBytes - CHUNK_HEADER_BYTES * channel.deliveredSegments,
      datagramSizes: Object.fromEntries(
        [...this.sizeClasses].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v]),
      ),
      channel,
    };
  }

  attachPath(path: SegmentPath): void {
    this.channel.attachPath(path);
  }

  /** Next control message to send on stream 0. */
  pollControl(): FileControl | undefined {
    return this.control.shift();
  }

  pollEvent(): FileTransferEvent | undefined {
    return this.events.shift();
  }

  /** Next block of the file to read, ahead of the window; answer with `handleRead`. */
  pollRead(): FileRead | undefined {
    this.planReads();
    return this.reads.shift();
  }

  /** The bytes of a read `pollRead` asked for. A short read means the file changed. */
  handleRead(offset: number, bytes: Uint8Array, now: number): void {
    if (this.mode !== "transferring") return;
    const block = this.blocks.find((b) => b.offset === offset && b.bytes === undefined);
    if (block === undefined) return;
    if (bytes.length !== block.length) {
      this.fail(
        "FILE_READ_FAILED",
        `read ${bytes.length} bytes at ${offset}, expected ${block.length}: the file changed`,
      );
      return;
    }
    block.bytes = bytes;
    this.counters.readBytes += bytes.length;
    this.checkAllAcknowledged(now);
  }

  /** A read `pollRead` asked for failed: the transfer cannot go on. */
  handleReadFailed(offset: number, message: string): void {
    if (this.terminal) return;
    this.fail("FILE_READ_FAILED", `at ${offset}: ${message}`);
  }

  /** A control message from the peer about this transfer (others are ignored). */
  handleControl(msg: FileControl, now: number): void {
    if (msg.id !== this.offer.id || this.terminal) return;
    switch (msg.t) {
      case "file.accept":
        if (this.mode !== "offered") return; // a duplicate: the first one counts
        this.handleAccept(msg.have, now);
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
    this.recycle();
    this.checkAllAcknowledged(now);
  }

  pollFrame(now: number, maxBytes: number): SegmentFrame | AckFrame | undefined {
    if (!this.sending) return undefined;
    this.cut(now);
    const frame = this.channel.pollFrame(now, maxBytes);
    if (frame?.type === "segment") {
      const header = frame.fragment === undefined || frame.fragment.offset === 0 ? CHUNK_HEADER_BYTES : 0;
      this.counters.sentBytes += Math.max(0, segmentPayloadBytes(frame) - header);
      const rung = sizeClassOf(frameBytes(frame) + DATA_HEADER_BYTES + AEAD_TAG_BYTES);
      this.sizeClasses.set(rung, (this.sizeClasses.get(rung) ?? 0) + 1);
    }
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

  private handleAccept(have: Array<[number, number]>, now: number): void {
    const set = new RangeSet(this.offer.size);
    for (const [start, end] of have) {
      if (end > this.offer.size) {
        this.fail("FILE_PROTOCOL_ERROR", `have range [${start}, ${end}) past the end`);
        return;
      }
      set.add(start, end);
    }
    this.have = set;
    this.mode = "transferring";
    this.events.push({ type: "accepted", skippedBytes: set.size });
    this.checkAllAcknowledged(now);
  }

  /** Asks for the next missing bytes while the read-ahead has room. */
  private planReads(): void {
    while (this.mode === "transferring" && this.aheadBytes < this.readAheadBytes) {
      const gap = this.have.nextGap(this.readCursor);
      if (gap === undefined) {
        this.readCursor = this.offer.size;
        return;
      }
      const length = Math.min(this.readBlockBytes, gap[1] - gap[0]);
      const buffer =
        length === this.readBlockBytes ? (this.pool.pop() ?? new Uint8Array(length)) : new Uint8Array(length);
      const read = { offset: gap[0], length, into: buffer };
      this.blocks.push({ offset: gap[0], bytes: undefined, length, buffer, lastSeq: 0 });
      this.reads.push(read);
      this.readCursor = gap[0] + length;
      this.aheadBytes += length;
    }
  }

  /** Cuts the next chunk from the head block when the channel can send it at once. */
  private cut(now: number): void {
    if (this.mode !== "transferring" || !this.channel.canSendNew()) return;
    const block = this.blocks[0];
    if (block?.bytes === undefined) return;
    const room = Math.min(this.maxChunkBytes, this.channel.segmentBudgetBytes - CHUNK_HEADER_BYTES);
    const take = Math.max(1, Math.min(room, block.length - this.cutAt));
    const bytes = block.bytes.subarray(this.cutAt, this.cutAt + take);
    // A view of the block: the block is not reused before the peer acknowledges it (`recycle`).
    const seq = this.channel.sendSegment(
      encodeChunkHeader(block.offset + this.cutAt, crc32(bytes)),
      bytes,
      now,
    );
    this.counters.queuedBytes += take;
    this.aheadBytes -= take;
    this.cutAt += take;
    if (this.cutAt >= block.length) {
      this.blocks.shift();
      this.cutAt = 0;
      block.lastSeq = seq;
      this.cutBlocks.push(block);
    }
  }

  /** Blocks whose every chunk is acknowledged go back to the pool. */
  private recycle(): void {
    const una = this.channel.sendUnacknowledged;
    while (this.cutBlocks.length > 0 && seqLt((this.cutBlocks[0] as Block).lastSeq, una)) {
      const block = this.cutBlocks.shift() as Block;
      if (block.buffer.length === this.readBlockBytes) this.pool.push(block.buffer);
    }
  }

  private checkAllAcknowledged(_now: number): void {
    if (this.mode !== "transferring") return;
    if (this.blocks.length > 0 || this.have.nextGap(this.readCursor) !== undefined) return;
    if (this.channel.pendingSegments === 0) this.mode = "finishing";
  }

  /** A failure on our side or the peer's: tell the peer, report it, stop. */
  private fail(code: FileEndCode, message: string): void {
    this.control.push({ t: "file.cancel", id: this.offer.id, code, message: message.slice(0, 200) });
    this.end(code, "local", message);
  }

  private end(code: FileEndCode, by: "local" | "peer", message: string): void {
    this.mode = "ended";
    this.blocks = [];
    this.cutBlocks = [];
    this.pool = [];
    this.reads.length = 0;
    this.events.push({ type: "ended", code, by, message });
  }
}

/** The smallest path-MTU rung a datagram of `bytes` fits (at least its frame; headers are close). */
function sizeClassOf(bytes: number): number {
  for (const rung of LADDER) if (bytes <= rung) return rung;
  return LADDER[LADDER.length - 1] as number;
}
