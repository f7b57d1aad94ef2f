/**
 * Property tests (fast-check) for the file-transfer codecs: control messages, chunks and the
 * resume manifest (with RangeSet). Decoders are total; what the encoders write decodes back.
 * Failures print fast-check's seed and shrink path.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../../src/errors.js";
import { RangeSet } from "../../../src/files/range-set.js";
import { decodeManifest, encodeManifest, MAX_MANIFEST_RANGES } from "../../../src/files/transfer-manifest.js";
import {
  CHUNK_HEADER_BYTES,
  chunkIntact,
  crc32,
  decodeChunk,
  encodeChunk,
  MAX_CHUNK_BYTES,
} from "../../../src/protocol/file-chunk.js";
import {
  encodeFileControl,
  FILE_END_CODES,
  type FileControl,
  MAX_HAVE_RANGES,
} from "../../../src/protocol/file-control.js";
import { SEGMENT_HEADER_BYTES } from "../../../src/protocol/frames.js";
import { MAX_DATAGRAM_BYTES, MAX_FRAMES_BYTES } from "../../../src/protocol/limits.js";
import { decodeFileControl } from "../../../src/protocol/stream-message.js";

fc.configureGlobal({ seed: Number(process.env.HALLWAY_FC_SEED ?? 0xf11e), numRuns: 300 });

const utf8 = new TextEncoder();
const transferId = fc.stringMatching(/^[A-Za-z0-9_-]{8,64}$/);
const offset = fc.oneof(
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
);
const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex"));
const fileName = fc
  .string({ unit: "grapheme", minLength: 1, maxLength: 60 })
  .filter(
    (s) =>
      !/[/\\]/.test(s) && !s.includes("\u0000") && s !== "." && s !== ".." && utf8.encode(s).length <= 255,
  );
const endMessage = fc.string({ maxLength: 200 });
/** Sorted, disjoint, non-empty [start, end) byte ranges. */
const haveRanges = fc.uniqueArray(fc.integer({ min: 0, max: 2 ** 40 }), { maxLength: 40 }).map((points) => {
  const sorted = [...points].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (let i = 0; i + 1 < sorted.length; i += 2) out.push([sorted[i] as number, sorted[i + 1] as number]);
  return out;
});

const fileControl: fc.Arbitrary<FileControl> = fc.oneof(
  fc.record({
    t: fc.constant("file.offer" as const),
    id: transferId,
    stream: fc.integer({ min: 1, max: 0xffff }),
    name: fileName,
    size: fc.oneof(
      fc.integer({ min: 0, max: 10_000_000 }),
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    ),
    sha256: hex64,
  }),
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

  it("reject paths, unsorted ranges, impossible sizes and unknown codes", () => {
    const offer = {
      t: "file.offer",
      id: "transfer-1",
      stream: 1,
      name: "a.txt",
      size: 10,
      sha256: "0".repeat(64),
    };
    const enc = (o: unknown) => utf8.encode(JSON.stringify(o));
    expect(decodeFileControl(enc(offer)).ok).toBe(true);
    for (const bad of [
      { ...offer, name: "../etc/passwd" },
      { ...offer, name: "dir\\file" },
      { ...offer, name: ".." },
      { ...offer, stream: 0 },
      { ...offer, size: -1 },
      { ...offer, size: 2 ** 53 }, // beyond a safe integer
      { ...offer, size: 1.5 },
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
      fc.property(offset, fc.uint8Array({ maxLength: 4096 }), (at, bytes) => {
        const encoded = encodeChunk(at, bytes);
        expect(encoded.length).toBe(CHUNK_HEADER_BYTES + bytes.length);
        const decoded = decodeChunk(encoded);
        expect(decoded).toEqual({ ok: true, value: { offset: at, crc32: crc32(bytes), bytes } });
        expect(decoded.ok && chunkIntact(decoded.value)).toBe(true);
      }),
    );
    // The largest chunk too.
    const big = new Uint8Array(MAX_CHUNK_BYTES).fill(7);
    const decoded = decodeChunk(encodeChunk(2 ** 40, big));
    expect(decoded.ok && decoded.value.offset === 2 ** 40 && chunkIntact(decoded.value)).toBe(true);
  });

  it("detects any damage to the bytes or the checksum", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 1024 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (bytes, at, mask) => {
          const encoded = encodeChunk(7, bytes);
          const pos = 8 + (at % (encoded.length - 8));
          encoded[pos] = (encoded[pos] as number) ^ mask;
          const decoded = decodeChunk(encoded);
          expect(decoded.ok && chunkIntact(decoded.value)).toBe(false);
        },
      ),
    );
  });

  it("is total, refuses offsets beyond 2^53, and the largest chunk segment fills the largest datagram", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 24 }), (b) => expectTypedError(decodeChunk(b))));
    expect(decodeChunk(new Uint8Array(11))).toMatchObject({ ok: false, error: { code: "WIRE_TRUNCATED" } });
    const huge = new Uint8Array(12).fill(0xff);
    expect(decodeChunk(huge).ok).toBe(false);
    expect(SEGMENT_HEADER_BYTES + CHUNK_HEADER_BYTES + MAX_CHUNK_BYTES).toBe(MAX_FRAMES_BYTES);
    expect(MAX_FRAMES_BYTES + 13 + 16).toBe(MAX_DATAGRAM_BYTES);
  });

  it("CRC-32 is the IEEE one (check value of '123456789')", () => {
    expect(crc32(utf8.encode("123456789"))).toBe(0xcbf43926);
  });
});

/** A RangeSet over [0, limit) built from random adds, with a plain boolean array beside it. */
const rangeSet = fc
  .integer({ min: 0, max: 400 })
  .chain((limit) =>
    fc.tuple(
      fc.constant(limit),
      fc.array(fc.tuple(fc.integer({ min: -5, max: limit + 5 }), fc.integer({ min: 0, max: 40 })), {
        maxLength: 30,
      }),
    ),
  )
  .map(([limit, adds]) => {
    const set = new RangeSet(limit);
    const model = new Array<boolean>(limit).fill(false);
    for (const [start, len] of adds) {
      let fresh = 0;
      for (let i = Math.max(0, start); i < Math.min(limit, start + len); i++) {
        if (!model[i]) fresh++;
        model[i] = true;
      }
      expect(set.add(start, start + len)).toBe(fresh);
    }
    return { set, model };
  });

describe("RangeSet", () => {
  it("size, ranges, has, rangeAt and nextGap agree with a plain set of offsets", () => {
    fc.assert(
      fc.property(rangeSet, fc.integer({ min: 1, max: 5 }), ({ set, model }, maxRanges) => {
        const members = model.flatMap((v, i) => (v ? [i] : []));
        expect(set.size).toBe(members.length);
        const all = set.ranges();
        expect(all.flatMap(([s, e]) => Array.from({ length: e - s }, (_, k) => s + k))).toEqual(members);
        // Merged: never two ranges that touch.
        for (let i = 1; i < all.length; i++) {
          expect((all[i - 1] as [number, number])[1]).toBeLessThan((all[i] as [number, number])[0]);
        }
        // Capped ranges are a sorted, disjoint subset: safe to claim in an accept.
        const capped = set.ranges(maxRanges);
        expect(capped.length).toBeLessThanOrEqual(maxRanges);
        for (const [s, e] of capped) expect(set.has(s, e)).toBe(true);
        for (let i = 0; i < model.length; i++) {
          expect(set.has(i)).toBe(model[i]);
          const r = set.rangeAt(i);
          expect(r !== undefined).toBe(model[i]);
          if (r) expect(r[0] <= i && i < r[1]).toBe(true);
        }
        const firstGap = model.indexOf(false);
        const gap = set.nextGap(0);
        if (firstGap < 0) {
          expect(gap).toBeUndefined();
        } else {
          let end = firstGap;
          while (end < model.length && !model[end]) end++;
          expect(gap).toEqual([firstGap, end]);
        }
        expect(set.complete).toBe(firstGap < 0);
      }),
    );
  });
});

describe("transfer manifest", () => {
  const manifest = fc
    .tuple(
      fc.oneof(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 5000 })), {
        maxLength: 20,
      }),
    )
    .map(([sizeBytes, sha256, adds]) => {
      const have = new RangeSet(sizeBytes);
      for (const [at, len] of adds) {
        const start = Math.floor(at * sizeBytes);
        have.add(start, start + len);
      }
      return { sizeBytes, sha256, have };
    });

  it("round-trips", () => {
    fc.assert(
      fc.property(manifest, (m) => {
        const decoded = decodeManifest(encodeManifest(m));
        expect(decoded.ok).toBe(true);
        if (!decoded.ok) return;
        expect(decoded.value.sizeBytes).toBe(m.sizeBytes);
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

  it("is as large as the gaps, not the file: a finished 4 TB file is one range", () => {
    const have = new RangeSet(4e12);
    have.add(0, 4e12);
    expect(encodeManifest({ sizeBytes: 4e12, sha256: new Uint8Array(32), have }).length).toBeLessThan(100);
    // At most MAX_MANIFEST_RANGES ranges are kept: the largest ones, a subset of the truth.
    const scattered = new RangeSet(10 * MAX_MANIFEST_RANGES);
    for (let i = 0; i < MAX_MANIFEST_RANGES + 10; i++) scattered.add(i * 8, i * 8 + 1 + (i % 3));
    const decoded = decodeManifest(
      encodeManifest({ sizeBytes: scattered.limit, sha256: new Uint8Array(32), have: scattered }),
    );
    expect(decoded.ok && decoded.value.have.count).toBe(MAX_MANIFEST_RANGES);
  });
});
