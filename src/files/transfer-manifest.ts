/**
 * The receiver's resume state: which bytes of a file are verified *and durable*. In memory a
 * `RangeSet`; on disk a sidecar manifest next to the partial file, whose bytes this module
 * produces and checks (the disk adapter only stores them).
 *
 * Manifest layout (big-endian):
 *
 *     "HWFM" · u8 version (2) · u64 size · 32-byte SHA-256 of the whole file
 *     · u32 range count · that many (u64 start, u64 end) byte ranges, sorted and disjoint
 *     · u32 CRC-32 of everything before it
 *
 * The CRC catches a torn or truncated sidecar (a crash mid-write); the size and SHA-256 tie it
 * to one file, so a resume can only continue the very same content. Ranges rather than a
 * bitmap: the manifest's size (in memory and on disk) is set by the number of gaps, not by the
 * size of the file, so a 4 TB offer costs nothing until data arrives, and a transfer that
 * receives in order writes a 70-byte manifest however far it got. At most MAX_MANIFEST_RANGES
 * ranges are kept (the largest ones: claiming less is always safe).
 */

import { type Decoded, fail, ok } from "../errors.js";
import { ByteReader, ByteWriter } from "../protocol/bytes.js";
import { crc32 } from "../protocol/crc32.js";
import type { FileOffer } from "../protocol/file-control.js";
import { RangeSet } from "./range-set.js";

const MAGIC = [0x48, 0x57, 0x46, 0x4d]; // "HWFM"
const VERSION = 2;
const FIXED_BYTES = 4 + 1 + 8 + 32 + 4;
const SHA256_BYTES = 32;
/** Ranges a manifest holds at most (1 MiB of manifest). */
export const MAX_MANIFEST_RANGES = 65_536;

/** What a receiver needs to resume a file: the file's identity and the durable bytes. */
export interface TransferManifest {
  sizeBytes: number;
  sha256: Uint8Array;
  have: RangeSet;
}

export function encodeManifest(m: TransferManifest): Uint8Array {
  const ranges = m.have.ranges(MAX_MANIFEST_RANGES);
  const w = new ByteWriter(FIXED_BYTES + ranges.length * 16 + 4);
  for (const b of MAGIC) w.u8(b);
  w.u8(VERSION).u64(m.sizeBytes).bytes(m.sha256).u32(ranges.length);
  for (const [s, e] of ranges) w.u64(s).u64(e);
  const body = w.finish().subarray(0, w.length);
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, crc32(body));
  return out;
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
  const sizeBytes = r.u64();
  const sha256 = r.bytes(SHA256_BYTES).slice();
  const count = r.u32();
  if (r.failed) return fail("WIRE_BAD_VALUE", "manifest size is not a safe integer");
  if (count > MAX_MANIFEST_RANGES) return fail("WIRE_BAD_VALUE", `manifest of ${count} ranges`);
  if (r.remaining !== count * 16 + 4) {
    return fail(
      r.remaining < count * 16 + 4 ? "WIRE_TRUNCATED" : "WIRE_BAD_VALUE",
      "manifest range list length",
    );
  }
  const have = new RangeSet(sizeBytes);
  let previousEnd = -1;
  for (let i = 0; i < count; i++) {
    const start = r.u64();
    const end = r.u64();
    if (r.failed || !(start < end) || start <= previousEnd || end > sizeBytes) {
      return fail("WIRE_BAD_VALUE", "manifest ranges are not sorted, disjoint and inside the file");
    }
    previousEnd = end;
    have.add(start, end);
  }
  const checksum = r.u32();
  if (checksum !== crc32(body)) return fail("WIRE_BAD_VALUE", "manifest checksum mismatch");
  return ok({ sizeBytes, sha256, have });
}

/** Whether a manifest belongs to the file an offer describes (same size and SHA-256). */
export function manifestMatchesOffer(m: TransferManifest, offer: FileOffer): boolean {
  return m.sizeBytes === offer.size && Buffer.from(m.sha256).toString("hex") === offer.sha256;
}
