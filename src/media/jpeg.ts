/**
 * JPEG decoder for previews (ITU T.81): Huffman-coded baseline and extended sequential
 * (SOF0, SOF1, 8-bit) and progressive (SOF2) frames, grey or YCbCr (or Adobe RGB), any
 * sampling factors, restart intervals. Arithmetic coding, lossless, 12-bit and CMYK files are
 * refused (no preview; the file line still shows).
 *
 * A preview is tiny, so the decoder mostly needs no inverse DCT: when an eighth of the image
 * still has at least the preview's pixels, each 8×8 block becomes one pixel, its mean, which
 * is the DC coefficient (DC × Q0 / 8 + 128). A baseline file's AC coefficients are still
 * decoded (they are interleaved with the DC ones) but not kept; a progressive file's AC
 * scans are skipped altogether. Only images smaller than that get every coefficient and a
 * float IDCT (a progressive one keeps its coefficients until the last scan). Every buffer is
 * sized from the frame header after the budget check; the number of scans is capped.
 */

import type { PixelSink } from "./downscale.js";
import { previewSize } from "./downscale.js";
import {
  BitReader,
  buildHuffman,
  type Component,
  type Huffman,
  type JpegFrame,
  ProgressiveScan,
} from "./jpeg-entropy.js";
import { clamp, idctInto, planesFromCoefficients, writePixels, ZIGZAG } from "./jpeg-pixels.js";
import { type DecodeLimits, refuse } from "./refusal.js";

/** More scans than any encoder writes (libjpeg's progressive scripts use about 10). */
const MAX_SCANS = 128;

function u16(b: Uint8Array, at: number): number {
  return ((b[at] as number) << 8) | (b[at + 1] as number);
}

/** Where the next marker (not a stuffed byte, not RSTn) starts at or after `pos`. */
function nextMarker(d: Uint8Array, pos: number): number {
  let p = pos;
  while (p + 1 < d.length) {
    if (d[p] === 0xff) {
      const m = d[p + 1] as number;
      if (m !== 0 && m !== 0xff && !(m >= 0xd0 && m <= 0xd7)) return p;
    }
    p++;
  }
  return d.length;
}

export function decodeJpeg(
  bytes: Uint8Array,
  limits: DecodeLimits,
  makeSink: (width: number, height: number) => PixelSink,
): void {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) refuse("not a JPEG");
  const dcTables: Array<Huffman | undefined> = [];
  const acTables: Array<Huffman | undefined> = [];
  const quant: Array<Int32Array | undefined> = [];
  let restartInterval = 0;
  let adobeRgb = false;
  let frame: JpegFrame | undefined;
  let scans = 0;
  let ended = false;
  let pos = 2;
  while (pos < bytes.length) {
    if (bytes[pos] !== 0xff) refuse("bad marker");
    while (bytes[pos] === 0xff) pos++;
    const marker = bytes[pos++] as number;
    if (marker === 0xd9) {
      ended = true;
      break;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (pos + 2 > bytes.length) refuse("truncated");
    const len = u16(bytes, pos);
    if (len < 2 || pos + len > bytes.length) refuse("bad segment length");
    const seg = bytes.subarray(pos + 2, pos + len);
    pos += len;
    if (marker === 0xc0 || marker === 0xc1 || marker === 0xc2) {
      if (frame) refuse("two frames");
      if (seg.length < 6 || seg[0] !== 8) refuse("not an 8-bit frame");
      const height = u16(seg, 1);
      const width = u16(seg, 3);
      const n = seg[5] as number;
      if (width === 0 || height === 0) refuse("no size in the frame header");
      if (width * height > limits.maxPixels) refuse("over the pixel budget");
      if ((n !== 1 && n !== 3) || seg.length < 6 + 3 * n) refuse("unsupported components");
      const raw = [...Array(n).keys()].map((i) => ({
        id: seg[6 + i * 3] as number,
        h: (seg[7 + i * 3] as number) >> 4,
        v: (seg[7 + i * 3] as number) & 15,
        tq: (seg[8 + i * 3] as number) & 3,
      }));
      if (raw.some((c) => c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4)) refuse("bad sampling factors");
      const hmax = Math.max(...raw.map((c) => c.h));
      const vmax = Math.max(...raw.map((c) => c.v));
      const mcusX = Math.ceil(width / (8 * hmax));
      const mcusY = Math.ceil(height / (8 * vmax));
      const progressive = marker === 0xc2;
      const target = previewSize(width, height, limits.maxWidth, limits.maxHeight);
      const dcOnly = Math.ceil(width / 8) >= target.width && Math.ceil(height / 8) >= target.height;
      const planeBytes = raw.reduce((n, c) => n + mcusX * c.h * mcusY * c.v * (dcOnly ? 1 : 64), 0);
      if (planeBytes * (progressive ? 5 : 1) > limits.maxDecodedBytes) refuse("over the memory budget");
      const comps = raw.map((c): Component => {
        const bw = mcusX * c.h;
        const bh = mcusY * c.v;
        return {
          ...c,
          bw,
          bh,
          blocksPerLine: Math.ceil(Math.ceil((width * c.h) / hmax) / 8),
          blocksPerColumn: Math.ceil(Math.ceil((height * c.v) / vmax) / 8),
          plane: new Uint8Array(dcOnly ? bw * bh : bw * bh * 64),
          ...(progressive ? { coefs: new Int32Array(bw * bh * (dcOnly ? 1 : 64)) } : {}),
          pred: 0,
        };
      });
      frame = { width, height, progressive, dcOnly, hmax, vmax, mcusX, mcusY, comps };
    } else if (marker >= 0xc3 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      refuse("unsupported JPEG process");
    } else if (marker === 0xc4) {
      let p = 0;
      while (p < seg.length) {
        if (p + 17 > seg.length) refuse("short DHT");
        const tc = (seg[p] as number) >> 4;
        const th = (seg[p] as number) & 15;
        const counts = seg.subarray(p + 1, p + 17);
        const total = counts.reduce((a, b) => a + b, 0);
        if (total > 256 || p + 17 + total > seg.length || tc > 1 || th > 3) refuse("bad DHT");
        const table = buildHuffman(counts, seg.subarray(p + 17, p + 17 + total));
        (tc === 0 ? dcTables : acTables)[th] = table;
        p += 17 + total;
      }
    } else if (marker === 0xdb) {
      let p = 0;
      while (p < seg.length) {
        const wide = (seg[p] as number) >> 4;
        const tq = (seg[p] as number) & 15;
        if (tq > 3 || p + 1 + 64 * (wide ? 2 : 1) > seg.length) refuse("bad DQT");
        const q = new Int32Array(64);
        for (let k = 0; k < 64; k++) q[k] = wide ? u16(seg, p + 1 + 2 * k) : (seg[p + 1 + k] as number);
        quant[tq] = q;
        p += 1 + 64 * (wide ? 2 : 1);
      }
    } else if (marker === 0xdd) {
      if (seg.length < 2) refuse("bad DRI");
      restartInterval = u16(seg, 0);
    } else if (marker === 0xee) {
      adobeRgb = String.fromCharCode(...seg.subarray(0, 5)) === "Adobe" && seg[11] === 0;
    } else if (marker === 0xda) {
      if (!frame) refuse("scan before frame");
      if (++scans > MAX_SCANS) refuse("too many scans");
      const f = frame;
      const ns = seg[0] as number;
      if (ns < 1 || ns > 4 || seg.length < 4 + 2 * ns) refuse("bad scan header");
      const inScan = [...Array(ns).keys()].map((i) => {
        const c = f.comps.find((x) => x.id === seg[1 + 2 * i]);
        if (!c) refuse("scan names an unknown component");
        const t = seg[2 + 2 * i] as number;
        c.dcTable = dcTables[t >> 4];
        c.acTable = acTables[t & 15];
        c.pred = 0;
        return c;
      });
      const ss = seg[1 + 2 * ns] as number;
      const ah = (seg[3 + 2 * ns] as number) >> 4;
      const al = (seg[3 + 2 * ns] as number) & 15;
      const se = seg[2 + 2 * ns] as number;
      // A progressive AC scan adds detail a DC-only preview does not show: skipped.
      if (f.progressive && ss !== 0 && f.dcOnly) {
        pos = nextMarker(bytes, pos);
        continue;
      }
      if (f.progressive && (se > 63 || ss > se || (ss === 0 && se !== 0) || (ss > 0 && ns !== 1)))
        refuse("bad progressive scan");
      const bits = new BitReader(bytes, pos);
      const block = new Int32Array(64);
      const progressive = new ProgressiveScan(bits, ss, se, ah, al);
      const decodeBlock = (c: Component, bx: number, by: number): void => {
        if (f.progressive) {
          progressive.block(c, (by * c.bw + bx) * (f.dcOnly ? 1 : 64));
          return;
        }
        if (!c.dcTable) refuse("no DC table");
        c.pred += bits.extend(bits.decode(c.dcTable));
        if (!c.acTable) refuse("no AC table");
        const q = quant[c.tq];
        if (!q) refuse("no quantisation table");
        if (!f.dcOnly) {
          block.fill(0);
          block[0] = c.pred * (q[0] as number);
        }
        for (let k = 1; k < 64; ) {
          const rs = bits.decode(c.acTable);
          const s = rs & 15;
          const r = rs >> 4;
          if (s === 0) {
            if (r !== 15) break;
            k += 16;
            continue;
          }
          k += r;
          if (k > 63) refuse("coefficient past the block");
          const v = bits.extend(s);
          if (!f.dcOnly) block[ZIGZAG[k] as number] = v * (q[k] as number);
          k++;
        }
        if (f.dcOnly) c.plane[by * c.bw + bx] = clamp((c.pred * (q[0] as number)) / 8 + 128);
        else idctInto(block, c.plane, c.bw * 8, bx * 8, by * 8);
      };
      let mcu = 0;
      const restartDue = (): void => {
        if (restartInterval > 0 && mcu > 0 && mcu % restartInterval === 0) {
          bits.restart();
          progressive.eobrun = 0;
          for (const c of inScan) c.pred = 0;
        }
        mcu++;
      };
      if (inScan.length === 1) {
        const c = inScan[0] as Component;
        for (let by = 0; by < c.blocksPerColumn; by++)
          for (let bx = 0; bx < c.blocksPerLine; bx++) {
            restartDue();
            decodeBlock(c, bx, by);
          }
      } else {
        for (let my = 0; my < f.mcusY; my++)
          for (let mx = 0; mx < f.mcusX; mx++) {
            restartDue();
            for (const c of inScan)
              for (let v = 0; v < c.v; v++)
                for (let h = 0; h < c.h; h++) decodeBlock(c, mx * c.h + h, my * c.v + v);
          }
      }
      // A few bytes short is an encoder's sloppiness; more is a truncated or damaged file.
      if (bits.missing > 4) refuse("scan data ends early");
      pos = nextMarker(bytes, bits.pos);
    }
  }
  if (!frame || scans === 0 || !ended) refuse("no complete image");
  const f = frame;
  if (f.progressive) planesFromCoefficients(f, quant);
  writePixels(f, adobeRgb, makeSink);
}
