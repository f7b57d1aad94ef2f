/**
 * Image previews: PNG, JPEG (baseline, progressive, restart intervals, grey, 4:4:4) and GIF
 * decode to the colours they hold, downscaled into the preview grid; hostile images
 * (truncated, 60000×60000, a zlib bomb, bad JPEG markers, bad LZW codes, random damage)
 * finish at once with no preview, never a throw.
 */

import { readFileSync } from "node:fs";
import { deflateSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Downscaler } from "../../../src/media/downscale.js";
import { canPreview, DEFAULT_LIMITS, decodePreview, type PreviewPixels } from "../../../src/media/index.js";
import { xterm256 } from "../../../src/media/palette.js";
import { encodeGif, encodePng, quadrants } from "./encode.js";

fc.configureGlobal({ seed: Number(process.env.HALLWAY_FC_SEED ?? 0xdec0de), numRuns: 300 });

const fixture = (name: string): Buffer => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));

const RED = xterm256(255, 0, 0);
const GREEN = xterm256(0, 255, 0);
const BLUE = xterm256(0, 0, 255);
const WHITE = xterm256(255, 255, 255);

/** The colour at a fraction of the preview's width and height. */
function at(p: PreviewPixels, fx: number, fy: number): number {
  return p.colors[Math.floor(fy * p.height) * p.width + Math.floor(fx * p.width)] as number;
}

function expectQuadrants(p: PreviewPixels | undefined): void {
  expect(p).toBeDefined();
  const q = p as PreviewPixels;
  expect([at(q, 0.2, 0.2), at(q, 0.8, 0.2), at(q, 0.2, 0.8), at(q, 0.8, 0.8)]).toEqual([
    RED,
    GREEN,
    BLUE,
    WHITE,
  ]);
}

describe("xterm256", () => {
  it("maps primaries onto the cube and greys onto the ramp", () => {
    expect([RED, GREEN, BLUE, WHITE]).toEqual([196, 46, 21, 231]);
    expect(xterm256(0, 0, 0)).toBe(16);
    expect(xterm256(128, 128, 128)).toBe(244);
  });
});

describe("decodePreview", () => {
  it("PNG RGBA, downscaled into the preview's box with the aspect kept", () => {
    const p = decodePreview(encodePng(200, 100, quadrants(200, 100)));
    expectQuadrants(p);
    expect(p).toMatchObject({ width: 48, height: 24 });
  });

  it("PNG interlaced (Adam7), small images are not upscaled", () => {
    const p = decodePreview(encodePng(13, 9, quadrants(13, 9), { interlace: true }));
    expectQuadrants(p);
    expect(p).toMatchObject({ width: 13, height: 9 });
  });

  it("PNG palette with tRNS, grey and grey+alpha", () => {
    const palette = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]);
    const rgba = quadrants(16, 16);
    const indices = new Uint8Array(256).map((_, i) => {
      const [r, g] = [rgba[i * 4] as number, rgba[i * 4 + 1] as number];
      return r === 255 && g === 255 ? 3 : r === 255 ? 0 : g === 255 ? 1 : 2;
    });
    expectQuadrants(
      decodePreview(encodePng(16, 16, indices, { colorType: 3, palette, trns: new Uint8Array([255, 255]) })),
    );
    const half = new Uint8Array(64).map((_, i) => (i % 8 < 4 ? 0 : 255));
    const grey = decodePreview(encodePng(8, 8, half, { colorType: 0 })) as PreviewPixels;
    expect([at(grey, 0.1, 0.5), at(grey, 0.9, 0.5)]).toEqual([16, 231]);
    // Fully transparent white over black is black.
    const ga = new Uint8Array(128).map((_, i) => (i % 2 === 0 ? 255 : 0));
    expect(decodePreview(encodePng(8, 8, ga, { colorType: 4 }))?.colors.every((c) => c === 16)).toBe(true);
  });

  it("JPEG baseline 4:2:0 (full inverse DCT), 4:4:4 with optimised tables, and grey", () => {
    expectQuadrants(decodePreview(fixture("quad-baseline.jpg")));
    expectQuadrants(decodePreview(fixture("quad-444.jpg")));
    const grey = decodePreview(fixture("quad-gray.jpg")) as PreviewPixels;
    expect(grey).toMatchObject({ width: 43, height: 32 });
    expect(at(grey, 0.8, 0.8)).toBe(WHITE);
  });

  it("JPEG progressive and with a restart interval every MCU (an eighth, from the DC coefficients)", () => {
    const prog = decodePreview(fixture("quad-progressive.jpg"));
    expectQuadrants(prog);
    expect(prog).toMatchObject({ width: 43, height: 32 });
    expectQuadrants(decodePreview(fixture("quad-restart.jpg")));
  });

  it("JPEG decoded as libjpeg decodes it, and progressive (every scan) exactly as its baseline original", () => {
    // texture-djpeg.ppm is libjpeg's own decode of texture.jpg (`djpeg -nosmooth -dct float`:
    // chroma taken from the nearest sample and a float IDCT, as here), through the same box filter.
    const ppm = fixture("texture-djpeg.ppm");
    const start = ppm.length - 96 * 72 * 3;
    const reference = new Downscaler(96, 72, 43, 32);
    for (let i = 0; i < 96 * 72; i++)
      reference.pixel(
        i % 96,
        Math.floor(i / 96),
        ppm[start + i * 3] as number,
        ppm[start + i * 3 + 1] as number,
        ppm[start + i * 3 + 2] as number,
        255,
      );
    const ours = decodePreview(fixture("texture.jpg")) as PreviewPixels;
    const same = ours.colors.filter((c, i) => c === reference.result().colors[i]).length;
    // Rounding may differ by a level here and there (a pixel on a neighbouring colour); today none does.
    expect(same / ours.colors.length).toBeGreaterThan(0.99);
    // jpegtran -progressive (with and without restarts) reorders the same coefficients.
    expect(decodePreview(fixture("texture-progressive.jpg"))).toEqual(ours);
    expect(decodePreview(fixture("texture-progressive-restart.jpg"))).toEqual(ours);
  });

  it("GIF first frame: interlaced, transparency, a frame smaller than the screen", () => {
    const palette = new Uint8Array(768);
    palette.set([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]);
    const rgba = quadrants(20, 20);
    const indices = new Uint8Array(400).map((_, i) => {
      const [r, g] = [rgba[i * 4] as number, rgba[i * 4 + 1] as number];
      return r === 255 && g === 255 ? 3 : r === 255 ? 0 : g === 255 ? 1 : 2;
    });
    expectQuadrants(decodePreview(encodeGif(20, 20, indices, palette, { interlace: true })));
    const clear = decodePreview(encodeGif(20, 20, indices, palette, { transparent: 0 })) as PreviewPixels;
    expect(at(clear, 0.2, 0.2)).toBe(16);
    const inCorner = decodePreview(
      encodeGif(20, 20, indices, palette, { screen: { width: 40, height: 40 } }),
    ) as PreviewPixels;
    expect([at(inCorner, 0.1, 0.1), at(inCorner, 0.9, 0.9)]).toEqual([RED, 16]);
  });
});

describe("decodePreview: hostile images give no preview, at once", () => {
  it("a 60000×60000 header is refused before anything is allocated", () => {
    const png = encodePng(1, 1, new Uint8Array(4));
    png.writeUInt32BE(60000, 16);
    png.writeUInt32BE(60000, 20);
    expect(decodePreview(png)).toBeUndefined();
    const jpeg = Buffer.from(fixture("quad-baseline.jpg"));
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    jpeg.writeUInt16BE(60000, sof + 5);
    jpeg.writeUInt16BE(60000, sof + 7);
    expect(decodePreview(jpeg)).toBeUndefined();
    // The UI does not even start a worker for it; nor for WebP, which is not decoded here.
    expect(canPreview({ kind: "image", format: "png", width: 60000, height: 60000 })).toBe(false);
    expect(canPreview({ kind: "image", format: "webp", width: 60, height: 60 })).toBe(false);
    expect(canPreview({ kind: "image", format: "gif", width: 60, height: 60 })).toBe(true);
    expect(canPreview({ kind: "video", format: "mp4" })).toBe(false);
    const gif = encodeGif(2, 2, new Uint8Array(4), new Uint8Array(768), {
      screen: { width: 65535, height: 65535 },
    });
    expect(decodePreview(gif)).toBeUndefined();
  });

  it("a zlib bomb stops at the size the header implies", () => {
    // 64 MiB of zeros deflate to ~64 KiB; the header says 100×100 grey (10 100 bytes inflated).
    const bomb = deflateSync(Buffer.alloc(64 * 1024 * 1024));
    expect(
      decodePreview(encodePng(100, 100, new Uint8Array(10_000), { colorType: 0, idat: bomb })),
    ).toBeUndefined();
    // Within the pixel budget but over the memory budget: refused before inflating.
    const limits = { ...DEFAULT_LIMITS, maxDecodedBytes: 1024 };
    expect(
      decodePreview(encodePng(100, 100, new Uint8Array(10_000), { colorType: 0 }), limits),
    ).toBeUndefined();
  });

  it("truncated PNG, JPEG and GIF files", () => {
    const png = encodePng(64, 64, quadrants(64, 64));
    expect(decodePreview(png.subarray(0, png.length - 40))).toBeUndefined();
    for (const name of ["quad-baseline.jpg", "quad-progressive.jpg", "quad-restart.jpg"]) {
      const j = fixture(name);
      expect(decodePreview(j.subarray(0, Math.floor(j.length * 0.6)))).toBeUndefined();
    }
    const gif = encodeGif(20, 20, new Uint8Array(400), new Uint8Array(768));
    expect(decodePreview(gif.subarray(0, gif.length - 100))).toBeUndefined();
  });

  it("bad JPEG markers: no frame, bad Huffman tables, a scan before the frame, garbage between segments", () => {
    const j = fixture("quad-baseline.jpg");
    expect(decodePreview(Buffer.from([0xff, 0xd8, 0xff, 0xd9]))).toBeUndefined();
    const dht = Buffer.from(j);
    const at4 = dht.indexOf(Buffer.from([0xff, 0xc4]));
    dht.fill(0xff, at4 + 5, at4 + 21); // 16 code counts of 255: more codes than lengths allow
    expect(decodePreview(dht)).toBeUndefined();
    const sos = j.indexOf(Buffer.from([0xff, 0xda]));
    const sof = j.indexOf(Buffer.from([0xff, 0xc0]));
    const early = Buffer.concat([j.subarray(0, sof), j.subarray(sos)]);
    expect(decodePreview(early)).toBeUndefined();
    const garbage = Buffer.concat([j.subarray(0, 2), Buffer.from("not a marker"), j.subarray(2)]);
    expect(decodePreview(garbage)).toBeUndefined();
    const arithmetic = Buffer.from(j);
    arithmetic[sof + 1] = 0xc9;
    expect(decodePreview(arithmetic)).toBeUndefined();
  });

  it("a GIF with LZW codes past the table", () => {
    const gif = encodeGif(20, 20, new Uint8Array(400), new Uint8Array(768));
    const data = gif.indexOf(Buffer.from([0x08, 0xff])) + 2; // code size, then the first sub-block
    gif.fill(0xff, data + 4, data + 40);
    expect(decodePreview(gif)).toBeUndefined();
  });

  it("random damage to any of the images: no throw, and any preview fits the box", () => {
    const samples = [
      encodePng(40, 30, quadrants(40, 30)),
      encodePng(13, 9, quadrants(13, 9), { interlace: true }),
      encodeGif(
        20,
        20,
        new Uint8Array(400).map((_, i) => i % 4),
        new Uint8Array(768).fill(200),
        { interlace: true },
      ),
      fixture("quad-baseline.jpg"),
      fixture("quad-progressive.jpg"),
      fixture("quad-restart.jpg"),
      fixture("texture-progressive.jpg"),
      fixture("texture-progressive-restart.jpg"),
    ];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: samples.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.option(fc.nat(), { nil: undefined }),
        (which, flips, cut) => {
          const b = Buffer.from(samples[which] as Buffer);
          for (const [i, v] of flips) b[i % b.length] = v;
          const damaged = cut === undefined ? b : b.subarray(0, cut % b.length);
          const p = decodePreview(damaged);
          if (p !== undefined) {
            expect(p.width).toBeLessThanOrEqual(DEFAULT_LIMITS.maxWidth);
            expect(p.height).toBeLessThanOrEqual(DEFAULT_LIMITS.maxHeight);
            expect(p.colors.length).toBe(p.width * p.height);
          }
        },
      ),
    );
  });
});
