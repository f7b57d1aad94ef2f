/**
 * Property tests (fast-check) for the file-transfer codecs: control messages, chunks and the
 * resume manifest (with ChunkSet). Decoders are total; what the encoders write decodes back.
 * Failures print fast-check's seed and shrink path.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../src/errors.js";
import {
  CHUNK_HEADER_BYTES,
  chunkCountOf,
  chunkIntact,
  chunkLengthOf,
  crc32,
  decodeChunk,
  encodeChunk,
  MAX_CHUNK_BYTES,
  MIN_CHUNK_BYTES,
} from "../../src/protocol/file-chunk.js";
import {
  decodeFileControl,
  encodeFileControl,
  FILE_END_CODES,
  type FileControl,
  MAX_HAVE_RANGES,
} from "../../src/protocol/file-offer.js";
import { SEGMENT_HEADER_BYTES } from "../../src/protocol/frames.js";
import { DEFAULT_DATAGRAM_BYTES, MAX_FRAMES_BYTES } from "../../src/protocol/limits.js";
import {
  ChunkSet,
  chunkSetBytes,
  decodeManifest,
  encodeManifest,
} from "../../src/transfer/transfer-manifest.js";

fc.configureGlobal({ seed: Number(process.env.HALLWAY_FC_SEED ?? 0xf11e), numRuns: 300 });

const utf8 = new TextEncoder();
const transferId = fc.stringMatching(/^[A-Za-z0-9_-]{8,64}$/);
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex"));
const fileName = fc
  .string({ unit: "grapheme", minLength: 1, maxLength: 60 })
  .filter(
    (s) =>
      !/[/\\]/.test(s) && !s.includes("\u0000") && s !== "." && s !== ".." && utf8.encode(s).length <= 255,
  );
const endMessage = fc.string({ maxLength: 200 });
/** Sorted, disjoint, non-empty [start, end) ranges. */
const haveRanges = fc.uniqueArray(fc.integer({ min: 0, max: 100_000 }), { maxLength: 40 }).map((points) => {
  const sorted = [...points].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (let i = 0; i + 1 < sorted.length; i += 2) out.push([sorted[i] as number, sorted[i + 1] as number]);
  return out;
});

const fileControl: fc.Arbitrary<FileControl> = fc.oneof(
  fc
    .record({
      t: fc.constant("file.offer" as const),
      id: transferId,
      stream: fc.integer({ min: 1, max: 0xffff }),
      name: fileName,
      size: fc.oneof(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 2 ** 40 })),
      sha256: hex64,
      chunkBytes: fc.integer({ min: MIN_CHUNK_BYTES, max: MAX_CHUNK_BYTES }),
    })
    .filter((o) => chunkCountOf(o.size, o.chunkBytes) <= 0xffffffff), // chunk indexes are u32
  fc.record({ t: fc.constant("file.accept" as const), id: transferId, have: haveRanges }),
  fc.record({ t: fc.constant("file.decline" as const), id: transferId, message: endMessage }),
  fc.record({
    t: fc.constant("file.cancel" as const),
    id: transferId,
    code: fc.constantFrom(...FILE_END_CODES),
    message: endMessage,
  }),
  fc.record({ t: fc.constant("file.done" as const), id: transferId }),
);

function expectTypedError(decoded: { ok: boolean; error?: { code: string } }): void {
  if (!decoded.ok) expect(ERROR_CODES).toContain(decoded.error?.code);
}

describe("file control messages", () => {
  it("round-trip", () => {
    fc.assert(
      fc.property(fileControl, (msg) => {
        expect(decodeFileControl(encodeFileControl(msg))).toEqual({ ok: true, value: msg });
      }),
    );
  });

  it("are total on random bytes and on damaged encodings", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => expectTypedError(decodeFileControl(bytes))),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fileControl, fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }), (msg, cut, at, mask) => {
        const bytes = encodeFileControl(msg);
        const damaged = bytes.slice(0, cut % (bytes.length + 1));
        if (damaged.length > 0)
          damaged[at % damaged.length] = (damaged[at % damaged.length] as number) ^ mask;
        const decoded = decodeFileControl(damaged);
        expectTypedError(decoded);
        if (decoded.ok) expect(decodeFileControl(encodeFileControl(decoded.value))).toEqual(decoded);
      }),
    );
  });

  it("reject paths, unsorted ranges, oversized chunks and unknown codes", () => {
    const offer = {
      t: "file.offer",
      id: "transfer-1",
      stream: 1,
      name: "a.txt",
      size: 10,
      sha256: "0".repeat(64),
      chunkBytes: 1024,
    };
    const enc = (o: unknown) => utf8.encode(JSON.stringify(o));
    expect(decodeFileControl(enc(offer)).ok).toBe(true);
    for (const bad of [
      { ...offer, name: "../etc/passwd" },
      { ...offer, name: "dir\\file" },
      { ...offer, name: ".." },
      { ...offer, stream: 0 },
      { ...offer, chunkBytes: MAX_CHUNK_BYTES + 1 },
      { ...offer, size: -1 },
      { ...offer, size: 2 ** 40, chunkBytes: 16 }, // more than 2^32 chunks
      { ...offer, sha256: "XYZ" },
      { t: "file.accept", id: "transfer-1", have: [[5, 3]] },
      {
        t: "file.accept",
        id: "transfer-1",
        have: [
          [0, 5],
          [4, 8],
        ],
      },
      {
        t: "file.accept",
        id: "transfer-1",
        have: Array.from({ length: MAX_HAVE_RANGES + 1 }, (_, i) => [2 * i, 2 * i + 1]),
      },
      { t: "file.cancel", id: "transfer-1", code: "NOPE", message: "" },
      { t: "file.done", id: "short" },
    ]) {
      expect(decodeFileControl(enc(bad)), JSON.stringify(bad).slice(0, 80)).toMatchObject({
        ok: false,
        error: { code: "PROTO_BAD_MESSAGE" },
      });
    }
    expect(decodeFileControl(utf8.encode("{"))).toMatchObject({
      ok: false,
      error: { code: "PROTO_BAD_MESSAGE" },
    });
  });
});

describe("chunk codec", () => {
  it("round-trips and checks the CRC-32 of the bytes", () => {
    fc.assert(
      fc.property(u32, fc.uint8Array({ maxLength: MAX_CHUNK_BYTES }), (index, bytes) => {
        const encoded = encodeChunk(index, bytes);
        expect(encoded.length).toBe(CHUNK_HEADER_BYTES + bytes.length);
        const decoded = decodeChunk(encoded);
        expect(decoded).toEqual({ ok: true, value: { index, crc32: crc32(bytes), bytes } });
        expect(decoded.ok && chunkIntact(decoded.value)).toBe(true);
      }),
    );
  });

  it("detects any damage to the bytes or the checksum", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 1024 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (bytes, at, mask) => {
          const encoded = encodeChunk(7, bytes);
          const pos = 4 + (at % (encoded.length - 4));
          encoded[pos] = (encoded[pos] as number) ^ mask;
          const decoded = decodeChunk(encoded);
          expect(decoded.ok && chunkIntact(decoded.value)).toBe(false);
        },
      ),
    );
  });

  it("is total, and a chunk segment fits a 1200-byte datagram", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 20 }), (b) => expectTypedError(decodeChunk(b))));
    expect(decodeChunk(new Uint8Array(7))).toMatchObject({ ok: false, error: { code: "WIRE_TRUNCATED" } });
    expect(SEGMENT_HEADER_BYTES + CHUNK_HEADER_BYTES + MAX_CHUNK_BYTES).toBe(MAX_FRAMES_BYTES);
    expect(MAX_FRAMES_BYTES + 13 + 16).toBe(DEFAULT_DATAGRAM_BYTES);
  });

  it("CRC-32 is the IEEE one (check value of '123456789')", () => {
    expect(crc32(utf8.encode("123456789"))).toBe(0xcbf43926);
  });

  it("chunk geometry: counts and the short last chunk, including exact multiples and empty files", () => {
    expect(chunkCountOf(0, 1024)).toBe(0);
    expect(chunkCountOf(1, 1024)).toBe(1);
    expect(chunkCountOf(2048, 1024)).toBe(2);
    expect(chunkCountOf(2049, 1024)).toBe(3);
    expect(chunkLengthOf(1, 2048, 1024)).toBe(1024);
    expect(chunkLengthOf(2, 2049, 1024)).toBe(1);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.integer({ min: 16, max: 1153 }),
        (size, chunk) => {
          const n = chunkCountOf(size, chunk);
          let total = 0;
          for (const i of [0, n - 1])
            if (i >= 0 && n > 0) expect(chunkLengthOf(i, size, chunk)).toBeGreaterThan(0);
          total = n === 0 ? 0 : (n - 1) * chunk + chunkLengthOf(n - 1, size, chunk);
          expect(total).toBe(size);
        },
      ),
    );
  });
});

const chunkSet = fc
  .integer({ min: 0, max: 300 })
  .chain((count) =>
    fc.tuple(fc.constant(count), fc.uniqueArray(fc.integer({ min: 0, max: Math.max(0, count - 1) }))),
  )
  .map(([count, members]) => {
    const set = new ChunkSet(count);
    for (const m of members) set.add(m);
    return set;
  });

describe("ChunkSet", () => {
  it("ranges, nextMissing and count agree with has", () => {
    fc.assert(
      fc.property(chunkSet, fc.integer({ min: 1, max: 5 }), (set, maxRanges) => {
        const members = Array.from({ length: set.chunkCount }, (_, i) => i).filter((i) => set.has(i));
        expect(set.count).toBe(members.length);
        const all = set.ranges();
        expect(all.flatMap(([s, e]) => Array.from({ length: e - s }, (_, k) => s + k))).toEqual(members);
        // Capped ranges are a sorted, disjoint subset: safe to claim in an accept.
        const capped = set.ranges(maxRanges);
        expect(capped.length).toBeLessThanOrEqual(maxRanges);
        for (const [i, [s, e]] of capped.entries()) {
          for (let k = s; k < e; k++) expect(set.has(k)).toBe(true);
          if (i > 0) expect((capped[i - 1] as [number, number])[1]).toBeLessThan(s);
        }
        const firstMissing = Array.from({ length: set.chunkCount }, (_, i) => i).find((i) => !set.has(i));
        expect(set.nextMissing(0)).toBe(firstMissing);
        expect(set.complete).toBe(firstMissing === undefined);
      }),
    );
  });

  it("chunkSetBytes counts the file bytes of its chunks, the short last one included", () => {
    fc.assert(
      fc.property(
        chunkSet,
        fc.integer({ min: MIN_CHUNK_BYTES, max: 2048 }),
        fc.nat(),
        (set, chunkBytes, cut) => {
          // A file of set.chunkCount chunks whose last one is 1..chunkBytes long.
          const size = set.chunkCount === 0 ? 0 : (set.chunkCount - 1) * chunkBytes + 1 + (cut % chunkBytes);
          let expected = 0;
          for (let i = 0; i < set.chunkCount; i++) {
            if (set.has(i)) expected += chunkLengthOf(i, size, chunkBytes);
          }
          expect(chunkSetBytes(set, size, chunkBytes)).toBe(expected);
        },
      ),
    );
  });
});

describe("transfer manifest", () => {
  const manifest = fc
    .tuple(
      fc.integer({ min: MIN_CHUNK_BYTES, max: MAX_CHUNK_BYTES }),
      fc.integer({ min: 0, max: 400 }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uniqueArray(fc.nat()),
      fc.integer({ min: 0, max: MAX_CHUNK_BYTES - 1 }),
    )
    .map(([chunkBytes, fullChunks, sha256, picks, tail]) => {
      const sizeBytes = fullChunks * chunkBytes + (fullChunks > 0 ? tail : 0);
      const have = new ChunkSet(chunkCountOf(sizeBytes, chunkBytes));
      for (const p of picks) if (have.chunkCount > 0) have.add(p % have.chunkCount);
      return { sizeBytes, chunkBytes, sha256, have };
    });

  it("round-trips", () => {
    fc.assert(
      fc.property(manifest, (m) => {
        const decoded = decodeManifest(encodeManifest(m));
        expect(decoded.ok).toBe(true);
        if (!decoded.ok) return;
        expect(decoded.value.sizeBytes).toBe(m.sizeBytes);
        expect(decoded.value.chunkBytes).toBe(m.chunkBytes);
        expect(Buffer.compare(decoded.value.sha256, m.sha256)).toBe(0);
        expect(decoded.value.have.ranges()).toEqual(m.have.ranges());
      }),
    );
  });

  it("rejects any torn or damaged sidecar, and random bytes, with a typed error", () => {
    fc.assert(
      fc.property(manifest, fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), (m, at, mask, cut) => {
        const bytes = encodeManifest(m);
        const damaged = cut ? bytes.slice(0, at % bytes.length) : bytes.slice();
        if (!cut) damaged[at % damaged.length] = (damaged[at % damaged.length] as number) ^ mask;
        const decoded = decodeManifest(damaged);
        expect(decoded.ok).toBe(false);
        expectTypedError(decoded);
      }),
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => expectTypedError(decodeManifest(b))));
  });
});
