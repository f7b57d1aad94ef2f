/**
 * The entropy-coded side of the JPEG decoder (`jpeg.ts` holds the theory of operation): the
 * Huffman tables (T.81 Annex C), the bit reader with its byte stuffing and restart markers
 * (F.2.2), the frame's components with their decoding state, and the scans of a progressive
 * frame (G.1.2).
 */

import { refuse } from "./refusal.js";

export interface Huffman {
  maxcode: Int32Array;
  valptr: Int32Array;
  mincode: Int32Array;
  values: Uint8Array;
}

export interface Component {
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

/** The frame header (SOF) and the components it sizes. */
export interface JpegFrame {
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

export function buildHuffman(counts: Uint8Array, values: Uint8Array): Huffman {
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
export class BitReader {
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

/**
 * One scan of a progressive frame (T.81 G.1.2): DC first and refinement, AC first and
 * refinement (successive approximation), with end-of-band runs; as libjpeg's jdphuff.c.
 * Coefficients are kept in zig-zag order at `base` of the component's `coefs`.
 */
export class ProgressiveScan {
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
