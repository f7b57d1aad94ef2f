/**
 * What a file is, from its bytes: image dimensions from headers, durations of video and
 * audio from the few boxes or chunks that hold them, and nothing for anything else, whatever
 * the name. Hostile headers (huge sizes, box loops, truncation) give bounded answers.
 */

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { mediaText, probeBytes, probeFile } from "../../../src/media/index.js";
import { encodeGif, encodePng, quadrants } from "./encode.js";

const fixture = (name: string): Buffer => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));

function box(type: string, body: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head.write(type, 4, "latin1");
  return Buffer.concat([head, body]);
}

/** ftyp, a large mdat first (as cameras write), then moov with mvhd: 90 s at timescale 600. */
function mp4(brand: string, version: 0 | 1 = 0): Buffer {
  const ftyp = box("ftyp", Buffer.from(`${brand}\0\0\0\0isom`, "latin1"));
  const mdat = box("mdat", Buffer.alloc(4096));
  const mvhd = Buffer.alloc(version === 1 ? 112 : 100);
  mvhd[0] = version;
  if (version === 1) {
    mvhd.writeUInt32BE(600, 20);
    mvhd.writeUInt32BE(0, 24);
    mvhd.writeUInt32BE(90 * 600, 28);
  } else {
    mvhd.writeUInt32BE(600, 12);
    mvhd.writeUInt32BE(90 * 600, 16);
  }
  return Buffer.concat([
    ftyp,
    mdat,
    box("moov", Buffer.concat([box("mvhd", mvhd), box("trak", Buffer.alloc(8))])),
  ]);
}

function wav(seconds: number): Buffer {
  const rate = 8000;
  const data = Buffer.alloc(rate * 2 * seconds);
  const fmt = Buffer.alloc(16);
  fmt.writeUInt16LE(1, 0);
  fmt.writeUInt16LE(1, 2);
  fmt.writeUInt32LE(rate, 4);
  fmt.writeUInt32LE(rate * 2, 8);
  fmt.writeUInt16LE(2, 12);
  fmt.writeUInt16LE(16, 14);
  const chunk = (id: string, body: Buffer): Buffer => {
    const h = Buffer.alloc(8);
    h.write(id, 0, "latin1");
    h.writeUInt32LE(body.length, 4);
    return Buffer.concat([h, body]);
  };
  const body = Buffer.concat([
    Buffer.from("WAVE"),
    chunk("LIST", Buffer.alloc(5)),
    Buffer.alloc(1),
    chunk("fmt ", fmt),
    chunk("data", data),
  ]);
  return Buffer.concat([Buffer.from("RIFF"), Buffer.from(new Uint32Array([body.length]).buffer), body]);
}

/** CBR MPEG-1 layer III, 128 kbit/s, 44.1 kHz: 417-byte frames after a small ID3v2 tag. */
function mp3(frames: number): Buffer {
  const id3 = Buffer.from([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, 10, ...new Array(10).fill(0)]);
  const frame = Buffer.alloc(417);
  frame.set([0xff, 0xfb, 0x90, 0x00]);
  return Buffer.concat([id3, ...new Array(frames).fill(frame)]);
}

describe("probeBytes: images by content", () => {
  it("reads PNG, JPEG, GIF and WebP dimensions from their headers", () => {
    expect(probeBytes(encodePng(20, 10, quadrants(20, 10)))).toEqual({
      kind: "image",
      format: "png",
      width: 20,
      height: 10,
    });
    expect(probeBytes(fixture("quad-baseline.jpg"))).toEqual({
      kind: "image",
      format: "jpeg",
      width: 64,
      height: 48,
    });
    expect(probeBytes(fixture("quad-progressive.jpg"))).toMatchObject({ width: 640, height: 480 });
    expect(probeBytes(encodeGif(3, 2, new Uint8Array(6), new Uint8Array(768)))).toMatchObject({
      format: "gif",
      width: 3,
      height: 2,
    });
    const vp8x = Buffer.alloc(30);
    vp8x.write("RIFF", 0);
    vp8x.write("WEBPVP8X", 8);
    vp8x.writeUIntLE(1919, 24, 3);
    vp8x.writeUIntLE(1079, 27, 3);
    expect(probeBytes(vp8x)).toEqual({ kind: "image", format: "webp", width: 1920, height: 1080 });
  });

  it("takes a 60000×60000 header at its word without reading further", () => {
    const huge = encodePng(1, 1, new Uint8Array(4));
    huge.writeUInt32BE(60000, 16);
    huge.writeUInt32BE(60000, 20);
    expect(probeBytes(huge)).toMatchObject({ width: 60000, height: 60000 });
    expect(mediaText({ kind: "image", format: "png", width: 60000, height: 60000 })).toBe(
      "PNG image, 60000×60000",
    );
  });

  it("knows nothing of text, of a name, or of a JPEG whose segments lead nowhere", () => {
    expect(probeBytes(Buffer.from("just text, though the file is called cat.png"))).toBeUndefined();
    expect(probeBytes(Buffer.alloc(0))).toBeUndefined();
    const loop = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x02, ...new Array(2000).fill(0xff)]);
    expect(probeBytes(loop)).toBeUndefined();
    expect(probeBytes(fixture("quad-baseline.jpg").subarray(0, 20))).toBeUndefined();
  });
});

describe("probeBytes: video and audio with a duration where it is cheap", () => {
  it("MP4 and M4A from mvhd (versions 0 and 1), after a leading mdat", () => {
    expect(probeBytes(mp4("isom"))).toEqual({ kind: "video", format: "mp4", durationMs: 90_000 });
    expect(probeBytes(mp4("qt  ", 1))).toEqual({ kind: "video", format: "mov", durationMs: 90_000 });
    expect(probeBytes(mp4("M4A "))).toEqual({ kind: "audio", format: "m4a", durationMs: 90_000 });
    expect(mediaText({ kind: "video", format: "mp4", durationMs: 3_723_000 })).toBe("MP4 video, 1:02:03");
  });

  it("WAV from fmt and data, MP3 from its frames, FLAC from STREAMINFO", () => {
    expect(probeBytes(wav(3))).toEqual({ kind: "audio", format: "wav", durationMs: 3000 });
    const m = probeBytes(mp3(100));
    expect(m).toMatchObject({ kind: "audio", format: "mp3" });
    // 100 frames of 1152 samples at 44.1 kHz is 2.61 s; the CBR estimate from the size is as good.
    expect(Math.abs(((m as { durationMs: number }).durationMs ?? 0) - 2612)).toBeLessThan(20);
    const flac = Buffer.alloc(42);
    flac.write("fLaC", 0);
    flac.writeUInt32BE(34, 4);
    flac.writeUIntBE((44100 << 4) | 0x1, 18, 3);
    flac.writeUInt32BE(44100 * 5, 22);
    expect(probeBytes(flac)).toEqual({ kind: "audio", format: "flac", durationMs: 5000 });
    expect(mediaText({ kind: "audio", format: "wav", durationMs: 3000 })).toBe("WAV audio, 0:03");
  });

  it("a box that claims to be larger than the file, or of size zero in a loop, ends the walk", () => {
    const bad = mp4("isom");
    bad.writeUInt32BE(0xffffff00, 20); // the mdat's size
    expect(probeBytes(bad)).toEqual({ kind: "video", format: "mp4" });
    const zero = Buffer.concat([box("ftyp", Buffer.from("isom\0\0\0\0", "latin1")), Buffer.alloc(8)]);
    expect(probeBytes(zero)).toEqual({ kind: "video", format: "mp4" });
  });
});

describe("probeFile", () => {
  it("reads a file on disk by descriptor, and says nothing of one that is not there", () => {
    const dir = mkdtempSync(join(tmpdir(), "hallway-media-"));
    writeFileSync(join(dir, "clip.txt"), mp4("isom"));
    expect(probeFile(join(dir, "clip.txt"))).toEqual({ kind: "video", format: "mp4", durationMs: 90_000 });
    expect(probeFile(join(dir, "missing"))).toBeUndefined();
  });
});
