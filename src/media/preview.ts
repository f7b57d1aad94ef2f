/**
 * An image's preview from its bytes: sniffed (never by name), its header checked against
 * the budgets, decoded into a box-filtered grid of at most `maxWidth` × `maxHeight` pixels
 * in the xterm 256-colour palette. Anything refused (malformed, truncated, over a budget,
 * a format without a decoder here, such as WebP) is `undefined`: no preview, never a throw.
 */

import { Downscaler, type PreviewPixels, previewSize } from "./downscale.js";
import { decodeGif } from "./gif.js";
import { decodeJpeg } from "./jpeg.js";
import { decodePng } from "./png.js";
import type { DecodeLimits } from "./refusal.js";
import { type MediaInfo, probeBytes } from "./sniff.js";

/**
 * 40 megapixels: a 7000×5700 photo. What it bounds is time (the Huffman decoding of a JPEG
 * of that size takes about a second) and the buffers the formats need: a PNG's inflated
 * rows (MAX_DECODED_BYTES), a GIF frame's indices (one byte a pixel); a large JPEG keeps
 * only one sample per 8×8 block (jpeg.ts).
 */
export const MAX_PIXELS = 40_000_000;
export const MAX_DECODED_BYTES = 64 * 1024 * 1024;
/** A terminal cell is one pixel wide and two high (▀ with a foreground and a background). */
export const PREVIEW_COLS = 48;
export const PREVIEW_ROWS = 16;

export const DEFAULT_LIMITS: DecodeLimits = {
  maxPixels: MAX_PIXELS,
  maxDecodedBytes: MAX_DECODED_BYTES,
  maxWidth: PREVIEW_COLS,
  maxHeight: PREVIEW_ROWS * 2,
};

const DECODERS = { png: decodePng, jpeg: decodeJpeg, gif: decodeGif } as const;

/** Whether a file that sniffed as `info` may get a preview: a format decoded here, within the pixel budget. */
export function canPreview(info: MediaInfo | undefined, limits: DecodeLimits = DEFAULT_LIMITS): boolean {
  return info?.kind === "image" && info.format !== "webp" && info.width * info.height <= limits.maxPixels;
}

export function decodePreview(
  bytes: Uint8Array,
  limits: DecodeLimits = DEFAULT_LIMITS,
): PreviewPixels | undefined {
  const info = probeBytes(bytes);
  if (info?.kind !== "image" || info.format === "webp" || !canPreview(info, limits)) return undefined;
  let out: Downscaler | undefined;
  try {
    DECODERS[info.format](bytes, limits, (w, h) => {
      // The decoder's own size (a JPEG read at an eighth) must still describe the same picture.
      const size = previewSize(info.width, info.height, limits.maxWidth, limits.maxHeight);
      out = new Downscaler(w, h, Math.min(size.width, w), Math.min(size.height, h));
      return out;
    });
  } catch {
    // A refusal (ImageRefused) is the expected way out; anything else would be a decoder bug,
    // and is no preview too: a peer's file must never take the UI down.
    return undefined;
  }
  return out?.result();
}
