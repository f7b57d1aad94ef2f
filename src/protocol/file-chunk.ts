/**
 * The chunk: one piece of a file, the payload of exactly one SEGMENT frame on a transfer's
 * stream (docs/protocol.md). Layout: u64 byte offset · u32 CRC-32 of the chunk bytes · bytes
 * (the rest of the segment).
 *
 * Chunks have no fixed size: the sender cuts each one as large as a datagram of its path
 * carries at that moment (`transport/path-mtu.ts`: about 1.1 KiB on a fresh path, 64 KiB on a
 * loopback), so a chunk is named by its offset and the receiver writes it there. What the
 * receiver holds is a set of byte ranges (`files/range-set.ts`), whatever size the chunks
 * that filled it had.
 *
 * The datagram's AEAD tag already rejects damage on the wire; the CRC-32 covers the plaintext
 * between decryption and the disk (a bug, a bad buffer reuse), is checked before the chunk is
 * acknowledged, and a mismatch is a loss that the window repairs. CRC-32 is the IEEE 802.3
 * polynomial (zlib's, as PNG and gzip use), so any tool can check a chunk.
 */

import { type Decoded, fail, ok } from "../errors.js";
import { ByteReader } from "./bytes.js";
import { crc32 } from "./crc32.js";
import { SEGMENT_HEADER_BYTES } from "./frames.js";
import { MAX_FRAMES_BYTES } from "./limits.js";

export const CHUNK_HEADER_BYTES = 8 + 4;

/** The largest chunk: a segment that alone fills the largest DATA datagram. */
export const MAX_CHUNK_BYTES = MAX_FRAMES_BYTES - SEGMENT_HEADER_BYTES - CHUNK_HEADER_BYTES;

export interface Chunk {
  offset: number;
  crc32: number;
  bytes: Uint8Array;
}

export { crc32 };

/**
 * The chunk's header alone: what goes before `bytes` on the wire. The file sender sends it as
 * the segment's head and `bytes` as a view of the block it read, so no chunk is ever copied.
 */
export function encodeChunkHeader(offset: number, checksum: number): Uint8Array {
  const out = new Uint8Array(CHUNK_HEADER_BYTES);
  writeU32(out, 0, Math.floor(offset / 0x100000000));
  writeU32(out, 4, offset >>> 0);
  writeU32(out, 8, checksum >>> 0);
  return out;
}

/** Encodes a chunk; `checksum` defaults to the CRC-32 of `bytes` (tests pass a wrong one). */
export function encodeChunk(offset: number, bytes: Uint8Array, checksum = crc32(bytes)): Uint8Array {
  const out = new Uint8Array(CHUNK_HEADER_BYTES + bytes.length);
  out.set(encodeChunkHeader(offset, checksum));
  out.set(bytes, CHUNK_HEADER_BYTES);
  return out;
}

function writeU32(out: Uint8Array, at: number, n: number): void {
  out[at] = n >>> 24;
  out[at + 1] = (n >>> 16) & 0xff;
  out[at + 2] = (n >>> 8) & 0xff;
  out[at + 3] = n & 0xff;
}

/** Total decoder. `bytes` is a view into `buf`. */
export function decodeChunk(buf: Uint8Array): Decoded<Chunk> {
  const r = new ByteReader(buf);
  const offset = r.u64();
  const checksum = r.u32();
  if (r.failed) return fail("WIRE_TRUNCATED", `chunk of ${buf.length} bytes`);
  return ok({ offset, crc32: checksum, bytes: r.rest() });
}

/** The chunk's bytes match its CRC-32. */
export function chunkIntact(chunk: Chunk): boolean {
  return crc32(chunk.bytes) === chunk.crc32;
}
