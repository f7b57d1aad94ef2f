/**
 * A FileReceiver's bookkeeping of the file's bytes (file-receiver.ts holds the theory of
 * operation and decides when each step runs): the durable ranges (the manifest's set), the
 * chunks held in memory on their way to the disk (queued for `pollWrite`, being written,
 * waiting for a sync), and the SHA-256 over the file in order, with the read-back it needs for
 * bytes durable from an earlier session. Which delivered chunks are held (new, inside the
 * file) and when a written one becomes durable are decided here too.
 */

import { createHash, type Hash } from "node:crypto";
import { decodeChunk } from "../protocol/file-chunk.js";
import type { FileRead } from "./file-sender-options.js";
import type { RangeSet } from "./range-set.js";

/**
 * One verified chunk for the disk adapter: write `bytes` at `offsetBytes`, report it with
 * `handleWritten(offsetBytes)` once the write returns, and `handleDurable(offsetBytes)` once a
 * sync made it durable.
 */
export interface ChunkWrite {
  offsetBytes: number;
  bytes: Uint8Array;
}

export interface HeldChunk {
  offset: number;
  length: number;
  /** The chunk's bytes until written and hashed, then EMPTY (`release`). */
  bytes: Uint8Array;
  handedOut: boolean;
  written: boolean;
  durable: boolean;
  hashed: boolean;
}

export class HeldChunks {
  /** Chunks not yet durable, by offset. */
  readonly pending = new Map<number, HeldChunk>();
  private writeQueue: HeldChunk[] = [];
  private writeHead = 0;
  /** Chunks not yet hashed, in arrival (= file) order. */
  private hashQueue: HeldChunk[] = [];
  private hashHead = 0;
  /** Bytes held in memory: not yet written or not yet hashed. */
  heldBytes = 0;
  private readonly hash: Hash = createHash("sha256");
  /** The first byte of the file not yet hashed. */
  hashNext = 0;
  /** The read-back asked for (handed out once through pollRead), if any. */
  readBack: (FileRead & { handedOut: boolean }) | undefined;

  constructor(
    private readonly sizeBytes: number,
    /** Durable bytes: the manifest's set. */
    readonly have: RangeSet,
    private readonly readBlockBytes: number,
  ) {}

  /** The next chunk to hand to the disk adapter. */
  nextWrite(): ChunkWrite | undefined {
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

  /** The write of the chunk at `offsetBytes` returned; false if that was known or not asked for. */
  written(offsetBytes: number): boolean {
    const chunk = this.pending.get(offsetBytes);
    if (chunk === undefined || !chunk.handedOut || chunk.written) return false;
    chunk.written = true;
    this.release(chunk);
    return true;
  }

  /**
   * A chunk the channel delivered: held for the disk and the hash if it is new, and its length
   * returned; 0 if its bytes are held already (a resume whose `have` was truncated); what is
   * wrong with it if it breaks the protocol (shorter than its header, empty, outside the file).
   */
  take(message: Uint8Array): number | string {
    const decoded = decodeChunk(message);
    if (!decoded.ok) return "a chunk shorter than its header";
    const { offset, bytes } = decoded.value;
    const end = offset + bytes.length;
    if (bytes.length === 0 || end > this.sizeBytes) {
      return `a chunk of ${bytes.length} bytes at ${offset} is outside the file`;
    }
    if (this.have.has(offset, end) || this.pending.has(offset) || end <= this.hashNext) return 0;
    this.hold(offset, bytes);
    return bytes.length;
  }

  /** The chunk at `offsetBytes`, if it was handed out for writing, is durable: its range joins `have`. */
  durable(offsetBytes: number): void {
    const chunk = this.pending.get(offsetBytes);
    if (!chunk?.handedOut) return;
    this.pending.delete(offsetBytes);
    this.have.add(chunk.offset, chunk.offset + chunk.length);
    chunk.durable = true;
  }

  /** Holds a new chunk (inside the file, not held before) for the disk and the hash. */
  private hold(offset: number, bytes: Uint8Array): void {
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
  }

  /** Bytes read back for the hash at `offset` (the read-back asked for). */
  hashReadBack(offset: number, bytes: Uint8Array): void {
    this.readBack = undefined;
    this.hash.update(bytes);
    this.hashNext = offset + bytes.length;
  }

  /** The SHA-256 of the file (once every byte was hashed). */
  digest(): Buffer {
    return this.hash.digest();
  }

  /** A chunk written and hashed is not held any more: its bytes go, and leave the budget. */
  private release(chunk: HeldChunk): void {
    if (!chunk.written || !chunk.hashed || chunk.bytes === EMPTY) return;
    this.heldBytes -= chunk.length;
    chunk.bytes = EMPTY;
  }

  /** Feeds the SHA-256 every byte from `hashNext` on that is in memory, or asks to read it back. */
  advanceHash(): void {
    while (this.hashNext < this.sizeBytes) {
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

  /** The transfer ended: chunks being written stay known, so that their durability still reaches the manifest. */
  clear(): void {
    for (const [offset, chunk] of this.pending) if (!chunk.handedOut) this.pending.delete(offset);
    this.writeQueue = [];
    this.writeHead = 0;
    this.hashQueue = [];
    this.hashHead = 0;
    this.heldBytes = 0;
    this.readBack = undefined;
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
