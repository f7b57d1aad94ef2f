/**
 * Box-filter downscaling into a preview-sized grid, fed one pixel at a time by the decoders,
 * so no decoder needs the whole image in RGBA: memory is the preview's, not the image's.
 * Transparent pixels are composed over black (most terminals' background).
 */

import { xterm256 } from "./palette.js";

/** A decoded preview: `width` × `height` pixels as xterm 256-colour indices, row by row. */
export interface PreviewPixels {
  width: number;
  height: number;
  colors: Uint8Array;
}

/** What a decoder writes pixels into: (x, y) in the size it was made for, 8-bit channels. */
export interface PixelSink {
  pixel(x: number, y: number, r: number, g: number, b: number, a: number): void;
}

/** The preview size of a `w` × `h` image within `maxW` × `maxH`, aspect kept, never upscaled. */
export function previewSize(
  w: number,
  h: number,
  maxW: number,
  maxH: number,
): { width: number; height: number } {
  const scale = Math.min(1, maxW / w, maxH / h);
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

export class Downscaler implements PixelSink {
  private readonly sums: Float64Array;
  private readonly xmap: Uint32Array;
  private readonly ymap: Uint32Array;

  constructor(
    srcW: number,
    srcH: number,
    readonly width: number,
    readonly height: number,
  ) {
    this.sums = new Float64Array(width * height * 4);
    this.xmap = new Uint32Array(srcW);
    this.ymap = new Uint32Array(srcH);
    for (let x = 0; x < srcW; x++) this.xmap[x] = Math.floor((x * width) / srcW);
    for (let y = 0; y < srcH; y++) this.ymap[y] = Math.floor((y * height) / srcH);
  }

  pixel(x: number, y: number, r: number, g: number, b: number, a: number): void {
    const tx = this.xmap[x];
    const ty = this.ymap[y];
    if (tx === undefined || ty === undefined) return;
    const i = (ty * this.width + tx) * 4;
    const s = this.sums;
    s[i] = (s[i] as number) + r * a;
    s[i + 1] = (s[i + 1] as number) + g * a;
    s[i + 2] = (s[i + 2] as number) + b * a;
    s[i + 3] = (s[i + 3] as number) + 255;
  }

  result(): PreviewPixels {
    const colors = new Uint8Array(this.width * this.height);
    const s = this.sums;
    for (let p = 0; p < colors.length; p++) {
      const n = s[p * 4 + 3] as number;
      colors[p] =
        n === 0
          ? 16
          : xterm256(
              Math.round((s[p * 4] as number) / n),
              Math.round((s[p * 4 + 1] as number) / n),
              Math.round((s[p * 4 + 2] as number) / n),
            );
    }
    return { width: this.width, height: this.height, colors };
  }
}
