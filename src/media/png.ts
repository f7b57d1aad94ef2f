/**
 * PNG decoder for previews (ISO/IEC 15948): every colour type and bit depth, palettes with
 * tRNS, Adam7 interlacing. The header is checked against the pixel budget before anything
 * is inflated, and the IDAT stream is inflated with a ceiling of exactly the bytes the
 * header implies, so a decompression bomb stops at that ceiling. Chunk CRCs are not checked
 * (zlib's Adler-32 guards the pixel data; a preview needs no more). Pixels go to a sink.
 */

import { inflateSync } from "node:zlib";
import type { PixelSink } from "./downscale.js";
import { type DecodeLimits, refuse } from "./refusal.js";

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
/** Adam7 passes: x start, y start, x step, y step. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;
/** Samples per pixel by colour type, and the bit depths each allows. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

interface Header {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlaced: boolean;
}

function u32(b: Uint8Array, at: number): number {
  return (
    (((b[at] as number) << 24) |
      ((b[at + 1] as number) << 16) |
      ((b[at + 2] as number) << 8) |
      (b[at + 3] as number)) >>>
    0
  );
}

function passes(h: Header): Array<{ xs: number; ys: number; dx: number; dy: number; w: number; h: number }> {
  const list = h.interlaced ? ADAM7 : ([[0, 0, 1, 1]] as const);
  return list
    .map(([xs, ys, dx, dy]) => ({
      xs,
      ys,
      dx,
      dy,
      w: Math.ceil((h.width - xs) / dx),
      h: Math.ceil((h.height - ys) / dy),
    }))
    .filter((p) => p.w > 0 && p.h > 0);
}

/** Decodes `bytes` into the sink `makeSink` gives for the image's size; refuses anything off. */
export function decodePng(
  bytes: Uint8Array,
  limits: DecodeLimits,
  makeSink: (width: number, height: number) => PixelSink,
): void {
  if (bytes.length < 33 || !SIGNATURE.every((v, i) => bytes[i] === v)) refuse("not a PNG");
  let header: Header | undefined;
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let pos = 8;
  for (;;) {
    if (pos + 12 > bytes.length) refuse("truncated");
    const len = u32(bytes, pos);
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    const data = pos + 8;
    if (len > bytes.length - data - 4) refuse("truncated chunk");
    const body = bytes.subarray(data, data + len);
    pos = data + len + 4;
    if (type === "IHDR") {
      if (len < 13) refuse("short IHDR");
      header = {
        width: u32(body, 0),
        height: u32(body, 4),
        depth: body[8] as number,
        colorType: body[9] as number,
        interlaced: body[12] === 1,
      };
      if (body[10] !== 0 || body[11] !== 0 || (body[12] as number) > 1) refuse("unknown method");
      if (!DEPTHS[header.colorType]?.includes(header.depth)) refuse("bad depth or colour type");
      if (header.width === 0 || header.height === 0) refuse("empty");
      if (header.width * header.height > limits.maxPixels) refuse("over the pixel budget");
    } else if (!header) {
      refuse("IHDR is not first");
    } else if (type === "PLTE") {
      palette = body;
    } else if (type === "tRNS") {
      trns = body;
    } else if (type === "IDAT") {
      idat.push(body);
    } else if (type === "IEND") {
      break;
    }
  }
  if (!header || idat.length === 0) refuse("no image data");
  const h = header;
  if (h.colorType === 3 && (!palette || palette.length < 3)) refuse("no palette");
  const channels = CHANNELS[h.colorType] as number;
  const bitsPerPixel = channels * h.depth;
  const filterBytes = Math.max(1, bitsPerPixel >> 3);
  const list = passes(h);
  const expected = list.reduce((n, p) => n + p.h * (1 + Math.ceil((p.w * bitsPerPixel) / 8)), 0);
  if (expected > limits.maxDecodedBytes) refuse("over the memory budget");
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat), { maxOutputLength: expected });
  } catch {
    refuse("bad or oversized image data");
  }
  if (raw.length < expected) refuse("truncated image data");
  const sink = makeSink(h.width, h.height);
  const sample16 = h.depth === 16;
  const maxValue = (1 << h.depth) - 1;
  const transparentGrey =
    trns && h.colorType === 0 && trns.length >= 2 ? (trns[0] as number) * 256 + (trns[1] as number) : -1;
  const transparentRgb =
    trns && h.colorType === 2 && trns.length >= 6
      ? [0, 2, 4].map((i) => (trns[i] as number) * 256 + (trns[i + 1] as number))
      : undefined;
  let at = 0;
  let cur = new Uint8Array(0);
  let x = 0;
  // One sample: `c`-th channel of pixel x of the current line, at the file's depth.
  const s = (c: number): number => {
    if (sample16) {
      const i = (x * channels + c) * 2;
      return (cur[i] as number) * 256 + (cur[i + 1] as number);
    }
    if (h.depth === 8) return cur[x * channels + c] as number;
    const bit = x * h.depth;
    return ((cur[bit >> 3] as number) >> (8 - h.depth - (bit & 7))) & maxValue;
  };
  const to8 = (v: number): number =>
    sample16 ? v >> 8 : h.depth === 8 ? v : Math.round((v * 255) / maxValue);
  for (const p of list) {
    const stride = Math.ceil((p.w * bitsPerPixel) / 8);
    let prev = new Uint8Array(stride);
    cur = new Uint8Array(stride);
    for (let y = 0; y < p.h; y++) {
      const filter = raw[at] as number;
      const line = raw.subarray(at + 1, at + 1 + stride);
      at += 1 + stride;
      unfilter(filter, line, prev, cur, filterBytes);
      const py = p.ys + y * p.dy;
      for (x = 0; x < p.w; x++) {
        const px = p.xs + x * p.dx;
        switch (h.colorType) {
          case 0: {
            const v = s(0);
            const g = to8(v);
            sink.pixel(px, py, g, g, g, v === transparentGrey ? 0 : 255);
            break;
          }
          case 2: {
            const r = s(0);
            const g = s(1);
            const b = s(2);
            const clear =
              transparentRgb && r === transparentRgb[0] && g === transparentRgb[1] && b === transparentRgb[2];
            sink.pixel(px, py, to8(r), to8(g), to8(b), clear ? 0 : 255);
            break;
          }
          case 3: {
            const i = s(0);
            const pal = palette as Uint8Array;
            if (i * 3 + 2 >= pal.length) refuse("palette index out of range");
            const a = trns && i < trns.length ? (trns[i] as number) : 255;
            sink.pixel(px, py, pal[i * 3] as number, pal[i * 3 + 1] as number, pal[i * 3 + 2] as number, a);
            break;
          }
          case 4: {
            const g = to8(s(0));
            sink.pixel(px, py, g, g, g, to8(s(1)));
            break;
          }
          default:
            sink.pixel(px, py, to8(s(0)), to8(s(1)), to8(s(2)), to8(s(3)));
        }
      }
      [prev, cur] = [cur, prev];
    }
  }
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** One scanline's filter undone into `out`, with the previous (unfiltered) line `prev`. */
function unfilter(filter: number, line: Uint8Array, prev: Uint8Array, out: Uint8Array, bpp: number): void {
  const n = line.length;
  switch (filter) {
    case 0:
      out.set(line);
      return;
    case 1:
      for (let i = 0; i < n; i++)
        out[i] = ((line[i] as number) + (i >= bpp ? (out[i - bpp] as number) : 0)) & 255;
      return;
    case 2:
      for (let i = 0; i < n; i++) out[i] = ((line[i] as number) + (prev[i] as number)) & 255;
      return;
    case 3:
      for (let i = 0; i < n; i++) {
        const left = i >= bpp ? (out[i - bpp] as number) : 0;
        out[i] = ((line[i] as number) + ((left + (prev[i] as number)) >> 1)) & 255;
      }
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const left = i >= bpp ? (out[i - bpp] as number) : 0;
        const upLeft = i >= bpp ? (prev[i - bpp] as number) : 0;
        out[i] = ((line[i] as number) + paeth(left, prev[i] as number, upLeft)) & 255;
      }
      return;
    default:
      refuse("unknown filter");
  }
}
