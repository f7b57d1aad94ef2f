/**
 * From coefficients to pixels for the JPEG decoder (`jpeg.ts` holds the theory of operation):
 * the zig-zag order, the float inverse DCT (T.81 A.3.3), a progressive frame's coefficients
 * turned into samples after its last scan, and the upsampling and YCbCr → RGB conversion
 * (JFIF) into the pixel sink.
 */

import type { PixelSink } from "./downscale.js";
import type { Component, JpegFrame } from "./jpeg-entropy.js";
import { refuse } from "./refusal.js";

/** Zig-zag position → natural (row-major) index in an 8×8 block (T.81 Figure 5). */
export const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7,
  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46,
  53, 60, 61, 54, 47, 55, 62, 63,
];

/** IDCT basis: COS[x * 8 + u] = C(u) · cos((2x + 1)uπ / 16) / 2. */
const COS = new Float64Array(64);
for (let x = 0; x < 8; x++)
  for (let u = 0; u < 8; u++)
    COS[x * 8 + u] = ((u === 0 ? Math.SQRT1_2 : 1) * Math.cos(((2 * x + 1) * u * Math.PI) / 16)) / 2;

export function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

const tmp = new Float64Array(64);

/** Inverse DCT of a dequantised block (natural order) into `plane` at (x0, y0). */
export function idctInto(block: Int32Array, plane: Uint8Array, stride: number, x0: number, y0: number): void {
  for (let y = 0; y < 8; y++)
    for (let x = 0; x < 8; x++) {
      let s = 0;
      for (let u = 0; u < 8; u++) s += (COS[x * 8 + u] as number) * (block[y * 8 + u] as number);
      tmp[y * 8 + x] = s;
    }
  for (let x = 0; x < 8; x++)
    for (let y = 0; y < 8; y++) {
      let s = 0;
      for (let v = 0; v < 8; v++) s += (COS[y * 8 + v] as number) * (tmp[v * 8 + x] as number);
      plane[(y0 + y) * stride + x0 + x] = clamp(s + 128);
    }
}

/** A progressive frame after its last scan: each component's coefficients into its samples. */
export function planesFromCoefficients(f: JpegFrame, quant: ReadonlyArray<Int32Array | undefined>): void {
  const block = new Int32Array(64);
  for (const c of f.comps) {
    const q = quant[c.tq];
    if (!q) refuse("no quantisation table");
    const coefs = c.coefs as Int32Array;
    if (f.dcOnly) {
      for (let i = 0; i < coefs.length; i++)
        c.plane[i] = clamp(((coefs[i] as number) * (q[0] as number)) / 8 + 128);
      continue;
    }
    for (let by = 0; by < c.bh; by++)
      for (let bx = 0; bx < c.bw; bx++) {
        const base = (by * c.bw + bx) * 64;
        for (let k = 0; k < 64; k++)
          block[ZIGZAG[k] as number] = (coefs[base + k] as number) * (q[k] as number);
        idctInto(block, c.plane, c.bw * 8, bx * 8, by * 8);
      }
  }
}

/** The frame's samples, upsampled and converted to RGB, into the sink `makeSink` gives. */
export function writePixels(
  f: JpegFrame,
  adobeRgb: boolean,
  makeSink: (width: number, height: number) => PixelSink,
): void {
  const outW = f.dcOnly ? Math.ceil(f.width / 8) : f.width;
  const outH = f.dcOnly ? Math.ceil(f.height / 8) : f.height;
  const sink = makeSink(outW, outH);
  const [c0, c1, c2] = f.comps as [Component, Component?, Component?];
  const stride = (c: Component): number => (f.dcOnly ? c.bw : c.bw * 8);
  const sample = (c: Component, x: number, y: number): number =>
    c.plane[Math.floor((y * c.v) / f.vmax) * stride(c) + Math.floor((x * c.h) / f.hmax)] as number;
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const a = sample(c0, x, y);
      if (!c1 || !c2) {
        sink.pixel(x, y, a, a, a, 255);
        continue;
      }
      const b = sample(c1, x, y);
      const c = sample(c2, x, y);
      if (adobeRgb || (c0.id === 82 && c1.id === 71 && c2.id === 66)) sink.pixel(x, y, a, b, c, 255);
      else
        sink.pixel(
          x,
          y,
          clamp(a + 1.402 * (c - 128)),
          clamp(a - 0.344136 * (b - 128) - 0.714136 * (c - 128)),
          clamp(a + 1.772 * (b - 128)),
          255,
        );
    }
  }
}
