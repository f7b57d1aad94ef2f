/**
 * Property tests (fast-check) for the wire helpers the reliable channel stands on:
 * u32 sequence arithmetic and the frame codec. Failures print fast-check's seed and path.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../../src/errors.js";
import {
  decodeFrames,
  encodeFramePieces,
  encodeFrames,
  type Frame,
  frameBytes,
} from "../../../src/protocol/frames.js";
import { MAX_DATAGRAM_BYTES, MAX_SACK_RANGES } from "../../../src/protocol/limits.js";
import { SEQ_MODULO, seqAdd, seqDiff, seqGt, seqGte, seqLt, seqLte } from "../../../src/protocol/seq.js";

// Deterministic by default, like every other test here; set HALLWAY_FC_SEED to explore.
// fast-check prints the seed and shrink path of any failure.
fc.configureGlobal({ seed: Number(process.env.HALLWAY_FC_SEED ?? 0x4a11), numRuns: 500 });

const u32 = fc.integer({ min: 0, max: SEQ_MODULO - 1 });
/**
 * Distances the helpers can represent. seq.ts documents (-2^31, 2^31], but the code returns
 * [-2^31, 2^31): exactly half the space away reads as -2^31 (see the last property below).
 */
const distance = fc.integer({ min: -0x80000000, max: 0x7fffffff });
/** Values near the wrap point are where bugs live; mix them in. */
const seq = fc.oneof(
  u32,
  fc.integer({ min: SEQ_MODULO - 100, max: SEQ_MODULO - 1 }),
  fc.integer({ min: 0, max: 100 }),
);

const segmentFrame = fc.record({
  type: fc.constant("segment" as const),
  stream: fc.integer({ min: 0, max: 0xffff }),
  seq: u32,
  end: fc.boolean(),
  // Small payloads, and large ones (file chunks, which go out as pieces of their own).
  payload: fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ minLength: 500, maxLength: 4000 })),
});
const fragmentFrame = fc
  .tuple(segmentFrame, fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 1000 }))
  .filter(([f]) => f.payload.length > 0)
  .map(([f, at, extra]) => ({ ...f, fragment: { offset: at, total: at + f.payload.length + extra } }));
const pmtuFrames = fc.oneof(
  fc.record({ type: fc.constant("pmtu-probe" as const), id: u32 }),
  fc.record({ type: fc.constant("pmtu-ack" as const), id: u32, datagramBytes: u32 }),
  fc.record({ type: fc.constant("padding" as const), length: fc.integer({ min: 0, max: 3000 }) }),
);
const ackFrame = fc.record({
  type: fc.constant("ack" as const),
  stream: fc.integer({ min: 0, max: 0xffff }),
  cumulative: u32,
  windowSegments: u32,
  ackDelayMs: fc.integer({ min: 0, max: 0xffff }),
  ranges: fc.array(fc.tuple(u32, u32), { maxLength: MAX_SACK_RANGES }),
});
const pingFrame = fc.constant({ type: "ping" as const });
const closeFrame = fc.record({
  type: fc.constant("close" as const),
  // At most 4 UTF-8 bytes per code point: 50 stay within the 200-byte limit. A leading
  // U+FEFF is left out: TextDecoder drops it as a byte order mark.
  reason: fc.string({ unit: "binary", maxLength: 50 }).filter((s) => !s.startsWith("\ufeff")),
});
const frame: fc.Arbitrary<Frame> = fc.oneof(
  segmentFrame,
  fragmentFrame,
  ackFrame,
  pingFrame,
  closeFrame,
  pmtuFrames,
);
const frames = fc.array(frame, { minLength: 1, maxLength: 5 });

describe("seq helpers (u32 serial arithmetic, RFC 1982)", () => {
  it("seqAdd stays in [0, 2^32) and seqDiff inverts it", () => {
    fc.assert(
      fc.property(seq, distance, (a, d) => {
        const b = seqAdd(a, d);
        expect(Number.isInteger(b) && b >= 0 && b < SEQ_MODULO).toBe(true);
        expect(seqDiff(b, a)).toBe(d);
      }),
    );
  });

  it("seqDiff is in [-2^31, 2^31) and adding it back gives the other value", () => {
    fc.assert(
      fc.property(seq, seq, (a, b) => {
        const d = seqDiff(b, a);
        expect(d >= -0x80000000 && d < 0x80000000).toBe(true);
        expect(seqAdd(a, d)).toBe(b);
      }),
    );
  });

  it("comparisons are consistent with each other and with seqDiff", () => {
    fc.assert(
      fc.property(seq, seq, (a, b) => {
        expect(seqLt(a, b)).toBe(seqDiff(b, a) > 0);
        expect(seqLt(a, b)).toBe(seqGt(b, a));
        expect(seqLte(a, b)).toBe(seqGte(b, a));
        expect(seqLte(a, b)).toBe(seqLt(a, b) || a === b);
        expect(seqLt(a, a)).toBe(false);
        // Exactly one of a < b, b < a, a = b, except at exactly half the space, where the
        // order is undefined (RFC 1982 §3.2) and neither is less.
        const holds = [seqLt(a, b), seqLt(b, a), a === b].filter(Boolean).length;
        expect(holds).toBe(seqDiff(b, a) === -0x80000000 ? 0 : 1);
      }),
    );
  });

  it("a step forward is always later, across the wrap too", () => {
    fc.assert(
      fc.property(seq, fc.integer({ min: 1, max: 0x7fffffff }), (a, k) => {
        expect(seqLt(a, seqAdd(a, k))).toBe(true);
        expect(seqGt(seqAdd(a, k), a)).toBe(true);
      }),
    );
    expect(seqLt(SEQ_MODULO - 1, 0)).toBe(true);
    expect(seqAdd(SEQ_MODULO - 1, 1)).toBe(0);
    expect(seqDiff(0, SEQ_MODULO - 1)).toBe(1);
    expect(seqDiff(0x80000000, 0)).toBe(-0x80000000);
  });
});

describe("frame codec", () => {
  it("round-trips any valid frame list", () => {
    fc.assert(
      fc.property(frames, (fs) => {
        const bytes = encodeFrames(fs);
        fc.pre(bytes.length <= MAX_DATAGRAM_BYTES);
        const decoded = decodeFrames(bytes);
        expect(decoded).toEqual({ ok: true, value: fs });
      }),
    );
  });

  it("encodes to the same bytes in pieces, with large payloads as pieces of their own, uncopied", () => {
    fc.assert(
      fc.property(frames, (fs) => {
        const pieces = encodeFramePieces(fs);
        expect(Buffer.concat(pieces)).toEqual(Buffer.from(encodeFrames(fs)));
        for (const f of fs) {
          if (f.type === "segment" && f.payload.length >= 512) expect(pieces).toContain(f.payload);
        }
      }),
    );
  });

  it("a segment's head goes on the wire before its payload, as one payload", () => {
    fc.assert(
      fc.property(
        segmentFrame,
        fc.uint8Array({ minLength: 0, maxLength: 16 }),
        fc.integer({ min: 0, max: 2000 }),
        (f, head, bodyLength) => {
          const body = new Uint8Array(bodyLength).fill(7);
          const split: Frame = { ...f, head, payload: body };
          const whole: Frame = { ...f, payload: Buffer.concat([head, body]) };
          const wire = encodeFrames([split]);
          expect(Buffer.from(wire)).toEqual(Buffer.from(encodeFrames([whole])));
          expect(Buffer.concat(encodeFramePieces([split]))).toEqual(Buffer.from(wire));
          expect(frameBytes(split)).toBe(wire.length);
          const back = decodeFrames(wire);
          expect(back.ok && back.value[0]).toMatchObject({ payload: new Uint8Array(whole.payload) });
        },
      ),
      { numRuns: 100 },
    );
  });

  it("frameBytes is the encoded size", () => {
    fc.assert(
      fc.property(frame, (f) => {
        expect(encodeFrames([f]).length).toBe(frameBytes(f));
      }),
    );
  });

  it("is total: random bytes decode to frames or a wire error, never a throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: MAX_DATAGRAM_BYTES + 100 }), (bytes) => {
        const decoded = decodeFrames(bytes);
        if (decoded.ok) {
          // Whatever decodes is canonical: it re-encodes and decodes to the same frames.
          expect(decodeFrames(encodeFrames(decoded.value))).toEqual(decoded);
        } else {
          expect(ERROR_CODES).toContain(decoded.error.code);
          expect(decoded.error.code.startsWith("WIRE_")).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("is total on damaged valid encodings: truncated or with flipped bytes", () => {
    fc.assert(
      fc.property(
        frames,
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }),
        (fs, cut, flips) => {
          const bytes = encodeFrames(fs);
          const damaged = bytes.slice(0, cut % (bytes.length + 1));
          for (const [at, mask] of flips) {
            if (damaged.length > 0)
              damaged[at % damaged.length] = (damaged[at % damaged.length] as number) ^ mask;
          }
          const decoded = decodeFrames(damaged);
          if (!decoded.ok) expect(decoded.error.code.startsWith("WIRE_")).toBe(true);
        },
      ),
    );
  });

  it("rejects empty and oversized inputs with stable codes", () => {
    expect(decodeFrames(new Uint8Array(0))).toMatchObject({ ok: false, error: { code: "WIRE_TRUNCATED" } });
    expect(decodeFrames(new Uint8Array(MAX_DATAGRAM_BYTES + 1))).toMatchObject({
      ok: false,
      error: { code: "WIRE_TOO_LARGE" },
    });
  });
});
