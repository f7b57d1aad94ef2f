/**
 * Small image encoders for the tests, so images are made where they are used: PNG (8-bit
 * samples of any colour type, optionally Adam7-interlaced, every row filtered with Sub) and
 * GIF89a (LZW without compression: a clear code every 254 codes keeps every code 9 bits).
 */

import { crc32, deflateSync } from "node:zlib";

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

export interface PngOptions {
  colorType?: 0 | 2 | 3 | 4 | 6;
  depth?: number;
  palette?: Uint8Array;
  trns?: Uint8Array;
  /** Adam7: the raw image is split into the seven passes. */
  interlace?: boolean;
  /** Replaces the IDAT data (a bomb, a truncation). */
  idat?: Uint8Array;
}

const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/** A PNG of 8-bit samples (`channels` per pixel, row by row, no padding); filter 0 except row 1 (Sub). */
export function encodePng(width: number, height: number, samples: Uint8Array, opts: PngOptions = {}): Buffer {
  const colorType = opts.colorType ?? 6;
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colorType];
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = opts.depth ?? 8;
  ihdr[9] = colorType;
  ihdr[12] = opts.interlace ? 1 : 0;
  const rows: number[] = [];
  const passes = opts.interlace ? ADAM7 : ([[0, 0, 1, 1]] as const);
  for (const [xs, ys, dx, dy] of passes) {
    for (let y = ys; y < height; y += dy) {
      if (xs >= width) break;
      // Filter 1 (Sub) on every row: exercises unfiltering.
      rows.push(1);
      const prev = new Array<number>(channels).fill(0);
      for (let x = xs; x < width; x += dx)
        for (let c = 0; c < channels; c++) {
          const v = samples[(y * width + x) * channels + c] as number;
          rows.push((v - (prev[c] as number)) & 255);
          prev[c] = v;
        }
    }
  }
  const idat = opts.idat ?? deflateSync(Buffer.from(rows));
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", ihdr),
    ...(opts.palette ? [chunk("PLTE", opts.palette)] : []),
    ...(opts.trns ? [chunk("tRNS", opts.trns)] : []),
    chunk("IDAT", idat),
    chunk("IEND", new Uint8Array(0)),
  ]);
}

/** Four quadrants, RGBA: red, green / blue, white. */
export function quadrants(width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const top = y < height / 2;
      const left = x < width / 2;
      const c = top ? (left ? [255, 0, 0] : [0, 255, 0]) : left ? [0, 0, 255] : [255, 255, 255];
      out.set([...c, 255], (y * width + x) * 4);
    }
  return out;
}

/** A GIF89a of palette indices (8-bit codes, a clear code every 254 so codes stay 9 bits). */
export function encodeGif(
  width: number,
  height: number,
  indices: Uint8Array,
  palette: Uint8Array,
  opts: { transparent?: number; interlace?: boolean; screen?: { width: number; height: number } } = {},
): Buffer {
  const screen = opts.screen ?? { width, height };
  const head = Buffer.alloc(13);
  head.write("GIF89a", 0, "latin1");
  head.writeUInt16LE(screen.width, 6);
  head.writeUInt16LE(screen.height, 8);
  head[10] = 0x80 | 7; // global table of 256 colours
  const table = Buffer.alloc(768);
  table.set(palette.subarray(0, 768));
  const gce = Buffer.from([
    0x21,
    0xf9,
    4,
    opts.transparent === undefined ? 0 : 1,
    0,
    0,
    opts.transparent ?? 0,
    0,
  ]);
  const desc = Buffer.alloc(10);
  desc[0] = 0x2c;
  desc.writeUInt16LE(width, 5);
  desc.writeUInt16LE(height, 7);
  desc[9] = opts.interlace ? 0x40 : 0;
  const order: number[] = [];
  if (opts.interlace) {
    for (const [start, step] of [
      [0, 8],
      [4, 8],
      [2, 4],
      [1, 2],
    ] as const)
      for (let y = start; y < height; y += step) order.push(y);
  } else for (let y = 0; y < height; y++) order.push(y);
  const codes: number[] = [256];
  let run = 0;
  for (const y of order)
    for (let x = 0; x < width; x++) {
      if (run === 254) {
        codes.push(256);
        run = 0;
      }
      codes.push(indices[y * width + x] as number);
      run++;
    }
  codes.push(257);
  const packed: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const c of codes) {
    acc |= c << bits;
    bits += 9;
    while (bits >= 8) {
      packed.push(acc & 255);
      acc >>>= 8;
      bits -= 8;
    }
  }
  if (bits > 0) packed.push(acc & 255);
  const blocks: number[] = [8];
  for (let i = 0; i < packed.length; i += 255) {
    const part = packed.slice(i, i + 255);
    blocks.push(part.length, ...part);
  }
  blocks.push(0);
  return Buffer.concat([head, table, gce, desc, Buffer.from(blocks), Buffer.from([0x3b])]);
}
