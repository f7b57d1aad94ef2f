/**
 * How a decoder gives up on an image (truncated, malformed, over a budget, a kind it does not
 * decode). It never leaves src/media: `decodePreview` turns it into "no preview", and the UI
 * shows the plain file line. An exception rather than a result value because the decoders'
 * bounds checks are many and deep; each decoder's entry point is the only place that catches.
 */
export class ImageRefused extends Error {
  override readonly name = "ImageRefused";
}

export function refuse(why: string): never {
  throw new ImageRefused(why);
}

/** Budgets a decoder is held to before it allocates anything in proportion to the image. */
export interface DecodeLimits {
  /** Most pixels (width × height, as the header says) an image may have to be decoded. */
  maxPixels: number;
  /** Most bytes of decoded data a decoder holds at once (inflated PNG rows, GIF indices, JPEG planes). */
  maxDecodedBytes: number;
  /** The preview's size in pixels (a terminal cell is one pixel wide, two high with ▀). */
  maxWidth: number;
  maxHeight: number;
}
