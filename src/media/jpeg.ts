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
import { type DecodeLimits, refuse } from "./refusal.js";

/** Zig-zag position → natural (row-major) index in an 8×8 block (T.81 Figure 5). */
const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7,
  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46,
  53, 60, 61, 54, 47, 55, 62, 63,
];
/** More scans than any encoder writes (libjpeg's progressive scripts use about 10). */
const MAX_SCANS = 128;

/** IDCT basis: COS[x * 8 + u] = C(u) · cos((2x + 1)uπ / 16) / 2. */
const COS = new Float64Array(64);
for (let x = 0; x < 8; x++)
  for (let u = 0; u < 8; u++)
    COS[x * 8 + u] = ((u === 0 ? Math.SQRT1_2 : 1) * Math.cos(((2 * x + 1) * u * Math.PI) / 16)) / 2;

interface Huffman {
  maxcode: Int32Array;
  valptr: Int32Array;
  mincode: Int32Array;
  values: Uint8Array;
}

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  /** Blocks per line and column, padding of the last MCU included. */
  bw: number;
  bh: number;
  /** Blocks with image data in a non-interleaved scan. */
  blocksPerLine: number;
  blocksPerColumn: number;
  /** Samples: one per block (DC only) or 8×8 per block. */
  plane: Uint8Array;
  /**
   * Progressive: the coefficients of each block, in zig-zag order (64 per block), or only
   * the DC coefficient (one per block) when the preview is read at an eighth.
   */
  coefs?: Int32Array;
  pred: number;
  dcTable?: Huffman;
  acTable?: Huffman;
}

function u16(b: Uint8Array, at: number): number {
  return ((b[at] as number) << 8) | (b[at + 1] as number);
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

function buildHuffman(counts: Uint8Array, values: Uint8Array): Huffman {
  const maxcode = new Int32Array(18).fill(-1);
  const valptr = new Int32Array(17);
  const mincode = new Int32Array(17);
  let code = 0;
  let k = 0;
  for (let l = 1; l <= 16; l++) {
    const n = counts[l - 1] as number;
    valptr[l] = k;
    mincode[l] = code;
    code += n;
    k += n;
    if (code > 1 << l) refuse("bad Huffman table");
    maxcode[l] = n > 0 ? code - 1 : -1;
    code <<= 1;
  }
  return { maxcode, valptr, mincode, values };
}

/** Entropy-coded bits, with byte stuffing; a marker or the end feeds zeros and is counted. */
class BitReader {
  private acc = 0;
  private n = 0;
  private atMarker = false;
  /** Bytes that were not there (the data ended or a marker came early). */
  missing = 0;

  constructor(
    private readonly data: Uint8Array,
    public pos: number,
  ) {}

  private byte(): number {
    const d = this.data;
    if (this.atMarker || this.pos >= d.length) {
      this.missing++;
      return 0;
    }
    const b = d[this.pos] as number;
    if (b === 0xff) {
      if (d[this.pos + 1] === 0x00) {
        this.pos += 2;
        return 0xff;
      }
      this.atMarker = true;
      this.missing++;
      return 0;
    }
    this.pos++;
    return b;
  }

  bit(): number {
    if (this.n === 0) {
      this.acc = this.byte();
      this.n = 8;
    }
    this.n--;
    return (this.acc >> this.n) & 1;
  }

  receive(s: number): number {
    let v = 0;
    for (let i = 0; i < s; i++) v = (v << 1) | this.bit();
    return v;
  }

  /** A magnitude category `s` and its bits, as a signed value (T.81 F.2.2.1 EXTEND). */
  extend(s: number): number {
    if (s === 0) return 0;
    if (s > 16) refuse("bad magnitude");
    const v = this.receive(s);
    return v < 1 << (s - 1) ? v - (1 << s) + 1 : v;
  }

  decode(t: Huffman): number {
    let code = this.bit();
    let l = 1;
    while (code > (t.maxcode[l] as number)) {
      code = (code << 1) | this.bit();
      if (++l > 16) refuse("bad Huffman code");
    }
    const v = t.values[(t.valptr[l] as number) + code - (t.mincode[l] as number)];
    if (v === undefined) refuse("bad Huffman code");
    return v;
  }

  /** At a restart interval's end: the RSTn marker is skipped and the bit buffer emptied. */
  restart(): void {
    this.n = 0;
    this.atMarker = false;
    const d = this.data;
    while (
      this.pos + 1 < d.length &&
      !(d[this.pos] === 0xff && (d[this.pos + 1] as number) >= 0xd0 && (d[this.pos + 1] as number) <= 0xd7)
    )
      this.pos++;
    this.pos += 2;
  }
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
  let frame:
    | {
        width: number;
        height: number;
        progressive: boolean;
        dcOnly: boolean;
        hmax: number;
        vmax: number;
        mcusX: number;
        mcusY: number;
        comps: Component[];
      }
    | undefined;
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
  if (f.progressive) {
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

/**
 * One scan of a progressive frame (T.81 G.1.2): DC first and refinement, AC first and
 * refinement (successive approximation), with end-of-band runs; as libjpeg's jdphuff.c.
 * Coefficients are kept in zig-zag order at `base` of the component's `coefs`.
 */
class ProgressiveScan {
  eobrun = 0;

  constructor(
    private readonly bits: BitReader,
    private readonly ss: number,
    private readonly se: number,
    private readonly ah: number,
    private readonly al: number,
  ) {}

  block(c: Component, base: number): void {
    const coefs = c.coefs as Int32Array;
    const bits = this.bits;
    if (this.ss === 0) {
      if (this.ah > 0) {
        if (bits.bit()) coefs[base] = (coefs[base] as number) | (1 << this.al);
        return;
      }
      if (!c.dcTable) refuse("no DC table");
      c.pred += bits.extend(bits.decode(c.dcTable));
      coefs[base] = c.pred * (1 << this.al);
      return;
    }
    if (!c.acTable) refuse("no AC table");
    if (this.ah === 0) this.acFirst(c.acTable, coefs, base);
    else this.acRefine(c.acTable, coefs, base);
  }

  private endOfBands(r: number): void {
    this.eobrun = 1 << r;
    if (r > 0) this.eobrun += this.bits.receive(r);
  }

  private acFirst(table: Huffman, coefs: Int32Array, base: number): void {
    if (this.eobrun > 0) {
      this.eobrun--;
      return;
    }
    for (let k = this.ss; k <= this.se; ) {
      const rs = this.bits.decode(table);
      const s = rs & 15;
      const r = rs >> 4;
      if (s === 0) {
        if (r < 15) {
          this.endOfBands(r);
          this.eobrun--;
          return;
        }
        k += 16;
        continue;
      }
      k += r;
      if (k > 63) refuse("coefficient past the block");
      coefs[base + k] = this.bits.extend(s) * (1 << this.al);
      k++;
    }
  }

  private acRefine(table: Huffman, coefs: Int32Array, base: number): void {
    const bits = this.bits;
    const p1 = 1 << this.al;
    const m1 = -1 << this.al;
    const refine = (i: number): void => {
      const v = coefs[i] as number;
      if (bits.bit() && (v & p1) === 0) coefs[i] = v >= 0 ? v + p1 : v + m1;
    };
    let k = this.ss;
    if (this.eobrun === 0) {
      for (; k <= this.se; k++) {
        const rs = bits.decode(table);
        let r = rs >> 4;
        const s = rs & 15;
        let value = 0;
        if (s !== 0) {
          if (s !== 1) refuse("bad refinement");
          value = bits.bit() ? p1 : m1;
        } else if (r !== 15) {
          this.endOfBands(r);
          break;
        }
        // Past the coefficients already nonzero (each refined) to the r-th zero one.
        while (k <= this.se) {
          if ((coefs[base + k] as number) !== 0) refine(base + k);
          else if (--r < 0) break;
          k++;
        }
        if (value !== 0 && k <= this.se) coefs[base + k] = value;
      }
    }
    if (this.eobrun > 0) {
      for (; k <= this.se; k++) if ((coefs[base + k] as number) !== 0) refine(base + k);
      this.eobrun--;
    }
  }
}

const tmp = new Float64Array(64);

/** Inverse DCT of a dequantised block (natural order) into `plane` at (x0, y0). */
function idctInto(block: Int32Array, plane: Uint8Array, stride: number, x0: number, y0: number): void {
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
