/**
 * GIF decoder for previews: the first image of the file (GIF87a/89a), its colour table
 * (local, else global), transparency from the graphic control extension before it, and
 * interlaced rows. The LZW decoder writes into an index buffer of exactly the frame's size
 * and stops there, so a stream that would expand further costs nothing more. Pixels of the
 * logical screen outside the frame are transparent.
 */

import type { PixelSink } from "./downscale.js";
import { type DecodeLimits, refuse } from "./refusal.js";

function u16(b: Uint8Array, at: number): number {
  return (b[at] as number) | ((b[at + 1] as number) << 8);
}

const MAX_CODE = 4096;

/** LZW (GIF flavour, variable code width up to 12 bits) into `out`; refuses a stream that ends early. */
function lzw(data: Uint8Array, minSize: number, out: Uint8Array): void {
  const clear = 1 << minSize;
  const end = clear + 1;
  const prefix = new Int16Array(MAX_CODE);
  const suffix = new Uint8Array(MAX_CODE);
  const first = new Uint8Array(MAX_CODE);
  const stack = new Uint8Array(MAX_CODE + 1);
  for (let i = 0; i < clear; i++) {
    prefix[i] = -1;
    suffix[i] = i;
    first[i] = i;
  }
  let size = minSize + 1;
  let next = end + 1;
  let old = -1;
  let bits = 0;
  let acc = 0;
  let pos = 0;
  let n = 0;
  while (n < out.length) {
    while (bits < size) {
      if (pos >= data.length) refuse("image data ends early");
      acc |= (data[pos++] as number) << bits;
      bits += 8;
    }
    const code = acc & ((1 << size) - 1);
    acc >>>= size;
    bits -= size;
    if (code === clear) {
      size = minSize + 1;
      next = end + 1;
      old = -1;
      continue;
    }
    if (code === end) break;
    if (old === -1) {
      if (code >= clear) refuse("bad first code");
      out[n++] = code;
      old = code;
      continue;
    }
    let c = code;
    let sp = 0;
    if (code > next || (code === next && next >= MAX_CODE)) refuse("bad code");
    if (code === next) {
      stack[sp++] = first[old] as number;
      c = old;
    }
    while (c >= clear) {
      stack[sp++] = suffix[c] as number;
      c = prefix[c] as number;
    }
    stack[sp++] = c;
    const head = c;
    while (sp > 0 && n < out.length) out[n++] = stack[--sp] as number;
    if (next < MAX_CODE) {
      prefix[next] = old;
      suffix[next] = head;
      first[next] = first[old] as number;
      next++;
      if (next === 1 << size && size < 12) size++;
    }
    old = code;
  }
  if (n < out.length) refuse("image data ends early");
}

/** The row of the image that the `i`-th decoded row of an interlaced frame of `h` rows is. */
function interlacedRow(i: number, h: number): number {
  const p1 = Math.ceil(h / 8);
  const p2 = Math.ceil((h - 4) / 8);
  const p3 = Math.ceil((h - 2) / 4);
  if (i < p1) return i * 8;
  if (i < p1 + p2) return (i - p1) * 8 + 4;
  if (i < p1 + p2 + p3) return (i - p1 - p2) * 4 + 2;
  return (i - p1 - p2 - p3) * 2 + 1;
}

export function decodeGif(
  bytes: Uint8Array,
  limits: DecodeLimits,
  makeSink: (width: number, height: number) => PixelSink,
): void {
  const sig = String.fromCharCode(...bytes.subarray(0, 6));
  if (bytes.length < 13 || (sig !== "GIF87a" && sig !== "GIF89a")) refuse("not a GIF");
  const width = u16(bytes, 6);
  const height = u16(bytes, 8);
  if (width === 0 || height === 0) refuse("empty");
  if (width * height > limits.maxPixels) refuse("over the pixel budget");
  const flags = bytes[10] as number;
  let pos = 13;
  let global: Uint8Array | undefined;
  if (flags & 0x80) {
    const n = 3 << ((flags & 7) + 1);
    global = bytes.subarray(pos, pos + n);
    pos += n;
  }
  let transparent = -1;
  const need = (n: number): void => {
    if (pos + n > bytes.length) refuse("truncated");
  };
  const subBlocks = (): Uint8Array[] => {
    const parts: Uint8Array[] = [];
    for (;;) {
      need(1);
      const len = bytes[pos++] as number;
      if (len === 0) return parts;
      need(len);
      parts.push(bytes.subarray(pos, pos + len));
      pos += len;
    }
  };
  for (;;) {
    need(1);
    const block = bytes[pos++];
    if (block === 0x3b) refuse("no image");
    if (block === 0x21) {
      need(1);
      const label = bytes[pos++];
      const parts = subBlocks();
      const gce = parts[0];
      if (label === 0xf9 && gce && gce.length >= 4)
        transparent = (gce[0] as number) & 1 ? (gce[3] as number) : -1;
      continue;
    }
    if (block !== 0x2c) refuse("unknown block");
    need(9);
    const left = u16(bytes, pos);
    const top = u16(bytes, pos + 2);
    const fw = u16(bytes, pos + 4);
    const fh = u16(bytes, pos + 6);
    const fflags = bytes[pos + 8] as number;
    pos += 9;
    let table = global;
    if (fflags & 0x80) {
      const n = 3 << ((fflags & 7) + 1);
      need(n);
      table = bytes.subarray(pos, pos + n);
      pos += n;
    }
    if (!table) refuse("no colour table");
    if (fw * fh > limits.maxPixels || fw * fh > limits.maxDecodedBytes) refuse("over the budget");
    need(1);
    const minSize = bytes[pos++] as number;
    if (minSize < 1 || minSize > 11) refuse("bad code size");
    const indices = new Uint8Array(fw * fh);
    lzw(Buffer.concat(subBlocks()), minSize, indices);
    const sink = makeSink(width, height);
    // Decoded row i of an interlaced frame is image row interlacedRow(i): which holds each image row.
    const order = (fflags & 0x40) !== 0 ? new Uint32Array(fh) : undefined;
    if (order) for (let i = 0; i < fh; i++) order[interlacedRow(i, fh)] = i;
    const colours = table.length / 3;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const fx = x - left;
        const fy = y - top;
        if (fx < 0 || fy < 0 || fx >= fw || fy >= fh) {
          sink.pixel(x, y, 0, 0, 0, 0);
          continue;
        }
        const row = order ? (order[fy] as number) : fy;
        const i = indices[row * fw + fx] as number;
        if (i === transparent || i >= colours) sink.pixel(x, y, 0, 0, 0, 0);
        else
          sink.pixel(
            x,
            y,
            table[i * 3] as number,
            table[i * 3 + 1] as number,
            table[i * 3 + 2] as number,
            255,
          );
      }
    }
    return;
  }
}
