/**
 * The receiver's resume state: which chunks of a file are verified *and durable*. In memory a
 * `ChunkSet` (one bit per chunk); on disk a sidecar manifest next to the partial file, whose
 * bytes this module produces and checks (the disk adapter only stores them).
 *
 * Manifest layout (big-endian):
 *
 *     "HWFM" · u8 version (1) · u32 chunkBytes · u64 size · 32-byte SHA-256 of the whole file
 *     · bitmap, ceil(chunks / 8) bytes, bit i % 8 (LSB first) of byte i / 8 set = chunk i held
 *     · u32 CRC-32 of everything before it
 *
 * The CRC catches a torn or truncated sidecar (a crash mid-write); the size, chunk size and
 * SHA-256 tie it to one file, so a resume can only continue the very same content. A bitmap
 * rather than ranges: its size is fixed by the file (1 bit per KiB: 128 KiB for 1 GiB), and
 * rewriting it after every batch of durable chunks costs the same however scattered they are.
 */

import { type Decoded, fail, ok } from "../errors.js";
import { ByteReader, ByteWriter } from "../protocol/bytes.js";
import {
  chunkCountOf,
  chunkLengthOf,
  crc32,
  MAX_CHUNK_BYTES,
  MAX_CHUNK_COUNT,
  MIN_CHUNK_BYTES,
} from "../protocol/file-chunk.js";
import type { FileOffer } from "../protocol/file-offer.js";

const MAGIC = [0x48, 0x57, 0x46, 0x4d]; // "HWFM"
const VERSION = 1;
const FIXED_BYTES = 4 + 1 + 4 + 8 + 32;
const SHA256_BYTES = 32;

/**
 * A set of chunk indexes in [0, chunkCount), as a bitmap. The bitmap is allocated on the first
 * `add`: an offer (peer input) can name up to 2^32 chunks, and merely receiving one must not
 * allocate 512 MiB.
 */
export class ChunkSet {
  private allocated: Uint8Array | undefined;
  private present = 0;

  constructor(
    readonly chunkCount: number,
    bitmap?: Uint8Array,
  ) {
    if (bitmap === undefined) return;
    const bits = this.bits;
    bits.set(bitmap.subarray(0, bits.length));
    // Bits past the last chunk are not chunks.
    if (chunkCount % 8 !== 0 && bits.length > 0) {
      bits[bits.length - 1] = (bits[bits.length - 1] as number) & ((1 << (chunkCount % 8)) - 1);
    }
    for (const b of bits) this.present += popcount(b);
  }

  private get bits(): Uint8Array {
    this.allocated ??= new Uint8Array(Math.ceil(this.chunkCount / 8));
    return this.allocated;
  }

  /** Chunks in the set. */
  get count(): number {
    return this.present;
  }

  get complete(): boolean {
    return this.present === this.chunkCount;
  }

  has(index: number): boolean {
    if (this.present === 0 || !(index >= 0 && index < this.chunkCount)) return false;
    return (((this.bits[index >>> 3] as number) >>> (index & 7)) & 1) === 1;
  }

  /** Adds a chunk; true if it was not there yet. */
  add(index: number): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= this.chunkCount || this.has(index)) return false;
    this.bits[index >>> 3] = (this.bits[index >>> 3] as number) | (1 << (index & 7));
    this.present++;
    return true;
  }

  /** Adds [start, end), clamped to the set's range. */
  addRange(start: number, end: number): void {
    for (let i = Math.max(0, start); i < Math.min(end, this.chunkCount); i++) this.add(i);
  }

  /** The first index at or after `from` that is not in the set, or undefined. */
  nextMissing(from: number): number | undefined {
    let i = Math.max(0, from);
    if (this.present === 0) return i < this.chunkCount ? i : undefined;
    while (i < this.chunkCount) {
      if ((i & 7) === 0 && this.bits[i >>> 3] === 0xff) {
        i += 8;
        continue;
      }
      if (!this.has(i)) return i;
      i++;
    }
    return undefined;
  }

  /**
   * The set as sorted, disjoint [start, end) ranges. With `maxRanges`, only the largest ranges
   * are kept (a subset of the set: what a resume may safely claim).
   */
  ranges(maxRanges = Number.POSITIVE_INFINITY): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let i = this.present === 0 ? this.chunkCount : 0;
    while (i < this.chunkCount) {
      if (!this.has(i)) {
        i++;
        continue;
      }
      const start = i;
      while (i < this.chunkCount && this.has(i)) i++;
      out.push([start, i]);
    }
    if (out.length <= maxRanges) return out;
    return out
      .sort((a, b) => b[1] - b[0] - (a[1] - a[0]) || a[0] - b[0])
      .slice(0, Math.max(0, maxRanges))
      .sort((a, b) => a[0] - b[0]);
  }

  bitmap(): Uint8Array {
    return this.bits.slice();
  }

  clone(): ChunkSet {
    return this.present === 0 ? new ChunkSet(this.chunkCount) : new ChunkSet(this.chunkCount, this.bits);
  }
}

/** Bytes of the file that the chunks of `set` hold (the last chunk may be short). */
export function chunkSetBytes(set: ChunkSet, sizeBytes: number, chunkBytes: number): number {
  const last = set.chunkCount - 1;
  const shortBy = last >= 0 && set.has(last) ? chunkBytes - chunkLengthOf(last, sizeBytes, chunkBytes) : 0;
  return set.count * chunkBytes - shortBy;
}

function popcount(b: number): number {
  let n = 0;
  for (let x = b; x !== 0; x &= x - 1) n++;
  return n;
}

/** What a receiver needs to resume a file: the file's identity and the durable chunks. */
export interface TransferManifest {
  sizeBytes: number;
  chunkBytes: number;
  sha256: Uint8Array;
  have: ChunkSet;
}

export function encodeManifest(m: TransferManifest): Uint8Array {
  const w = new ByteWriter(FIXED_BYTES + Math.ceil(m.have.chunkCount / 8) + 4);
  for (const b of MAGIC) w.u8(b);
  w.u8(VERSION).u32(m.chunkBytes).u64(m.sizeBytes).bytes(m.sha256).bytes(m.have.bitmap());
  const body = w.finish();
  return new ByteWriter(body.length + 4).bytes(body).u32(crc32(body)).finish();
}

/** Total decoder: a manifest, or a typed error (a torn, foreign or damaged sidecar). */
export function decodeManifest(bytes: Uint8Array): Decoded<TransferManifest> {
  if (bytes.length < FIXED_BYTES + 4) return fail("WIRE_TRUNCATED", `manifest of ${bytes.length} bytes`);
  const body = bytes.subarray(0, bytes.length - 4);
  const r = new ByteReader(bytes);
  for (const b of MAGIC) {
    if (r.u8() !== b) return fail("WIRE_BAD_VALUE", "not a Hallway transfer manifest");
  }
  const version = r.u8();
  if (version !== VERSION) return fail("WIRE_BAD_VERSION", `manifest version ${version}`);
  const chunkBytes = r.u32();
  const sizeBytes = r.u64();
  const sha256 = r.bytes(SHA256_BYTES).slice();
  if (r.failed) return fail("WIRE_BAD_VALUE", "manifest size is not a safe integer");
  if (chunkBytes < MIN_CHUNK_BYTES || chunkBytes > MAX_CHUNK_BYTES) {
    return fail("WIRE_BAD_VALUE", `manifest chunk size ${chunkBytes}`);
  }
  const chunkCount = chunkCountOf(sizeBytes, chunkBytes);
  if (chunkCount > MAX_CHUNK_COUNT) return fail("WIRE_BAD_VALUE", "manifest has too many chunks");
  const bitmapBytes = Math.ceil(chunkCount / 8);
  if (r.remaining !== bitmapBytes + 4) {
    return fail(
      r.remaining < bitmapBytes + 4 ? "WIRE_TRUNCATED" : "WIRE_BAD_VALUE",
      "manifest bitmap length",
    );
  }
  const bitmap = r.bytes(bitmapBytes);
  const checksum = r.u32();
  if (checksum !== crc32(body)) return fail("WIRE_BAD_VALUE", "manifest checksum mismatch");
  if (
    chunkCount % 8 !== 0 &&
    bitmapBytes > 0 &&
    (bitmap[bitmapBytes - 1] as number) >>> (chunkCount % 8) !== 0
  ) {
    return fail("WIRE_BAD_VALUE", "manifest marks chunks past the end of the file");
  }
  return ok({ sizeBytes, chunkBytes, sha256, have: new ChunkSet(chunkCount, bitmap) });
}

/** Whether a manifest belongs to the file an offer describes (same size, chunking and SHA-256). */
export function manifestMatchesOffer(m: TransferManifest, offer: FileOffer): boolean {
  return (
    m.sizeBytes === offer.size &&
    m.chunkBytes === offer.chunkBytes &&
    Buffer.from(m.sha256).toString("hex") === offer.sha256
  );
}
