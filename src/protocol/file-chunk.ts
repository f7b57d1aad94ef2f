/**
 * The chunk: one piece of a file, the payload of exactly one SEGMENT frame on a transfer's
 * stream (docs/protocol.md). Layout: u32 chunk index · u32 CRC-32 of the chunk bytes · bytes
 * (the rest of the segment; every chunk but the last is exactly the offer's `chunkBytes`).
 *
 * The datagram's AEAD tag already rejects damage on the wire; the CRC-32 covers the plaintext
 * between decryption and the disk (a bug, a bad buffer reuse), is checked before the chunk is
 * acknowledged, and a mismatch is a loss that the window repairs. CRC-32 is the IEEE 802.3
 * polynomial (the `crc-32` package, as zlib and PNG), so any tool can check a chunk.
 */

import CRC32 from "crc-32";
import { type Decoded, fail, ok } from "../errors.js";
import { ByteReader, ByteWriter } from "./bytes.js";
import { SEGMENT_HEADER_BYTES } from "./frames.js";
import { MAX_FRAMES_BYTES } from "./limits.js";

export const CHUNK_HEADER_BYTES = 4 + 4;

/** The largest chunk whose segment alone fills a default 1200-byte DATA datagram. */
export const MAX_CHUNK_BYTES = MAX_FRAMES_BYTES - SEGMENT_HEADER_BYTES - CHUNK_HEADER_BYTES;

/**
 * 1 KiB: offsets are plain multiples, and the segment (1042 bytes) leaves 129 bytes of the
 * datagram for a piggybacked ACK or a chat segment of stream 0.
 */
export const DEFAULT_CHUNK_BYTES = 1024;

/** Below this the per-chunk overhead (18 bytes of headers) dominates; offers must not go lower. */
export const MIN_CHUNK_BYTES = 16;

/** Chunk indexes are u32. */
export const MAX_CHUNK_COUNT = 0xffffffff;

export interface Chunk {
  index: number;
  crc32: number;
  bytes: Uint8Array;
}

/** CRC-32 (IEEE) of the bytes, as an unsigned 32-bit number. */
export function crc32(bytes: Uint8Array): number {
  return CRC32.buf(bytes) >>> 0;
}

/** Encodes a chunk; `crc32` defaults to the checksum of `bytes` (tests pass a wrong one). */
export function encodeChunk(index: number, bytes: Uint8Array, checksum = crc32(bytes)): Uint8Array {
  return new ByteWriter(CHUNK_HEADER_BYTES + bytes.length).u32(index).u32(checksum).bytes(bytes).finish();
}

/** Total decoder. `bytes` is a view into `buf`. */
export function decodeChunk(buf: Uint8Array): Decoded<Chunk> {
  const r = new ByteReader(buf);
  const index = r.u32();
  const checksum = r.u32();
  if (r.failed) return fail("WIRE_TRUNCATED", `chunk of ${buf.length} bytes`);
  return ok({ index, crc32: checksum, bytes: r.rest() });
}

/** The chunk's bytes match its CRC-32. */
export function chunkIntact(chunk: Chunk): boolean {
  return crc32(chunk.bytes) === chunk.crc32;
}

/** Chunks of a file: ceil(size / chunkBytes); 0 for an empty file. */
export function chunkCountOf(sizeBytes: number, chunkBytes: number): number {
  return Math.ceil(sizeBytes / chunkBytes);
}

/** Length of chunk `index`: `chunkBytes`, except a shorter last chunk. */
export function chunkLengthOf(index: number, sizeBytes: number, chunkBytes: number): number {
  return Math.max(0, Math.min(chunkBytes, sizeBytes - index * chunkBytes));
}
