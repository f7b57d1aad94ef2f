/**
 * What a file is, from its bytes, never its name: images (PNG, JPEG, GIF, WebP) with their
 * dimensions from the header, and video and audio with a duration where it costs a few
 * small reads (MP4/MOV/M4A `mvhd`, WAV `fmt ` and `data`, FLAC STREAMINFO, MP3 Xing/Info
 * frame count or the constant bit rate, AVI `avih`). Pure: bytes come through `ReadAt`, so
 * tests feed buffers and `probe-file.ts` feeds a file descriptor. Every read is bounded and
 * every walk over boxes, chunks or markers has a step limit, so a hostile file costs at most
 * MAX_STEPS small reads.
 */

export type ImageFormat = "png" | "jpeg" | "gif" | "webp";

export type MediaInfo =
  | { kind: "image"; format: ImageFormat; width: number; height: number }
  | { kind: "video" | "audio"; format: string; durationMs?: number };

/** Up to `length` bytes at `offset` (fewer at the end of the file, none past it). */
export type ReadAt = (offset: number, length: number) => Uint8Array;

/** Boxes, chunks or segments a walk looks at before it gives up. */
const MAX_STEPS = 256;

function ascii(b: Uint8Array, at: number, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(b[at + i] ?? 0);
  return s;
}

function u16be(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
}

function u32be(b: Uint8Array, at: number): number {
  return (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0;
}

function u16le(b: Uint8Array, at: number): number {
  return (b[at] ?? 0) | ((b[at + 1] ?? 0) << 8);
}

function u24le(b: Uint8Array, at: number): number {
  return u16le(b, at) | ((b[at + 2] ?? 0) << 16);
}

function u32le(b: Uint8Array, at: number): number {
  return (u16le(b, at) | (u16le(b, at + 2) << 16)) >>> 0;
}

const PNG_SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

function startsWith(b: Uint8Array, bytes: readonly number[]): boolean {
  return bytes.every((v, i) => b[i] === v);
}

function image(format: ImageFormat, width: number, height: number): MediaInfo | undefined {
  return width > 0 && height > 0 ? { kind: "image", format, width, height } : undefined;
}

/** A JPEG's size from its frame header (SOFn), walking the segments before it. */
function jpegSize(read: ReadAt, size: number): MediaInfo | undefined {
  let pos = 2;
  for (let step = 0; step < MAX_STEPS && pos + 4 <= size; step++) {
    const h = read(pos, 9);
    if (h[0] !== 0xff) return undefined;
    const marker = h[1] ?? 0;
    if (marker === 0xff) {
      pos += 1; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      pos += 2;
      continue;
    }
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) return image("jpeg", u16be(h, 7), u16be(h, 5));
    if (marker === 0xd9 || marker === 0xda) return undefined;
    const len = u16be(h, 2);
    if (len < 2) return undefined;
    pos += 2 + len;
  }
  return undefined;
}

function webpSize(head: Uint8Array): MediaInfo | undefined {
  const chunk = ascii(head, 12, 4);
  if (chunk === "VP8 " && head[23] === 0x9d && head[24] === 0x01 && head[25] === 0x2a)
    return image("webp", u16le(head, 26) & 0x3fff, u16le(head, 28) & 0x3fff);
  if (chunk === "VP8L" && head[20] === 0x2f) {
    const bits = u32le(head, 21);
    return image("webp", (bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1);
  }
  if (chunk === "VP8X") return image("webp", u24le(head, 24) + 1, u24le(head, 27) + 1);
  return undefined;
}

/** MP4, MOV, M4A: the movie header's duration, found by walking the top-level boxes to `moov`. */
function isoMedia(read: ReadAt, size: number, head: Uint8Array): MediaInfo | undefined {
  const brand = ascii(head, 8, 4);
  const audio = /^M4[ABP] $/.test(brand);
  const format = brand === "qt  " ? "mov" : audio ? "m4a" : "mp4";
  const info: MediaInfo = { kind: audio ? "audio" : "video", format };
  const box = (at: number): { type: string; start: number; end: number } | undefined => {
    const h = read(at, 16);
    if (h.length < 8) return undefined;
    let len = u32be(h, 0);
    let start = at + 8;
    if (len === 1) {
      len = u32be(h, 8) * 2 ** 32 + u32be(h, 12);
      start = at + 16;
    } else if (len === 0) {
      len = size - at;
    }
    if (len < start - at) return undefined;
    return { type: ascii(h, 4, 4), start, end: at + len };
  };
  let at = 0;
  for (let step = 0; step < MAX_STEPS && at + 8 <= size; step++) {
    const b = box(at);
    if (!b) break;
    if (b.type === "moov") {
      let child = b.start;
      for (let s = 0; s < MAX_STEPS && child + 8 <= Math.min(b.end, size); s++) {
        const c = box(child);
        if (!c) break;
        if (c.type === "mvhd") {
          const m = read(c.start, 32);
          const v1 = m[0] === 1;
          const timescale = v1 ? u32be(m, 20) : u32be(m, 12);
          const duration = v1 ? u32be(m, 24) * 2 ** 32 + u32be(m, 28) : u32be(m, 16);
          if (timescale > 0 && duration > 0 && (v1 || duration !== 0xffffffff))
            return { ...info, durationMs: Math.round((duration * 1000) / timescale) };
          return info;
        }
        child = c.end;
      }
      return info;
    }
    at = b.end;
  }
  return info;
}

/** WAV: the data chunk's bytes over the format's bytes per second. */
function wav(read: ReadAt, size: number): MediaInfo {
  const info: MediaInfo = { kind: "audio", format: "wav" };
  let byteRate = 0;
  let at = 12;
  for (let step = 0; step < MAX_STEPS && at + 8 <= size; step++) {
    const h = read(at, 20);
    const id = ascii(h, 0, 4);
    const len = u32le(h, 4);
    if (id === "fmt ") byteRate = u32le(h, 16);
    if (id === "data") {
      const bytes = Math.min(len, size - at - 8);
      return byteRate > 0 ? { ...info, durationMs: Math.round((bytes * 1000) / byteRate) } : info;
    }
    at += 8 + len + (len % 2);
  }
  return info;
}

function flac(head: Uint8Array): MediaInfo {
  const info: MediaInfo = { kind: "audio", format: "flac" };
  // STREAMINFO is the first metadata block: 20 bits of sample rate, then 3 + 5 bits, then 36 bits of samples.
  if ((head[4] ?? 0) & 0x7f) return info;
  const rate = ((head[18] ?? 0) << 12) | ((head[19] ?? 0) << 4) | ((head[20] ?? 0) >> 4);
  const samples = ((head[21] ?? 0) & 0x0f) * 2 ** 32 + u32be(head, 22);
  return rate > 0 && samples > 0 ? { ...info, durationMs: Math.round((samples * 1000) / rate) } : info;
}

const MP3_BITRATES_V1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const MP3_BITRATES_V2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
const MP3_RATES = [44100, 48000, 32000];

interface Mp3Frame {
  bytes: number;
  bitrate: number;
  rate: number;
  samples: number;
  sideInfo: number;
}

/** An MPEG audio layer III frame header at `at` of `h`, or undefined. */
function mp3Frame(h: Uint8Array, at: number): Mp3Frame | undefined {
  if (h[at] !== 0xff || ((h[at + 1] ?? 0) & 0xe0) !== 0xe0) return undefined;
  const version = ((h[at + 1] ?? 0) >> 3) & 3; // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
  const layer = ((h[at + 1] ?? 0) >> 1) & 3; // 1: layer III
  const bitrateIndex = (h[at + 2] ?? 0) >> 4;
  const rateIndex = ((h[at + 2] ?? 0) >> 2) & 3;
  if (version === 1 || layer !== 1 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3)
    return undefined;
  const v1 = version === 3;
  const bitrate = ((v1 ? MP3_BITRATES_V1 : MP3_BITRATES_V2)[bitrateIndex] as number) * 1000;
  const rate = (MP3_RATES[rateIndex] as number) / (v1 ? 1 : version === 2 ? 2 : 4);
  const samples = v1 ? 1152 : 576;
  const padding = ((h[at + 2] ?? 0) >> 1) & 1;
  const mono = (h[at + 3] ?? 0) >> 6 === 3;
  return {
    bytes: Math.floor((samples / 8) * (bitrate / rate)) + padding,
    bitrate,
    rate,
    samples,
    sideInfo: v1 ? (mono ? 17 : 32) : mono ? 9 : 17,
  };
}

/** MP3: after an ID3v2 tag, two frame headers in a row; the duration from Xing/Info, else CBR. */
function mp3(read: ReadAt, size: number, head: Uint8Array): MediaInfo | undefined {
  let start = 0;
  if (ascii(head, 0, 3) === "ID3") {
    const tag =
      (((head[6] ?? 0) & 0x7f) << 21) |
      (((head[7] ?? 0) & 0x7f) << 14) |
      (((head[8] ?? 0) & 0x7f) << 7) |
      ((head[9] ?? 0) & 0x7f);
    start = 10 + tag + ((head[5] ?? 0) & 0x10 ? 10 : 0);
  }
  const h = read(start, 4096);
  const first = mp3Frame(h, 0);
  if (!first || !mp3Frame(read(start + first.bytes, 4), 0)) return undefined;
  const info: MediaInfo = { kind: "audio", format: "mp3" };
  const xing = 4 + first.sideInfo;
  const tag = ascii(h, xing, 4);
  if ((tag === "Xing" || tag === "Info") && (h[xing + 7] ?? 0) & 1) {
    const frames = u32be(h, xing + 8);
    if (frames > 0) return { ...info, durationMs: Math.round((frames * first.samples * 1000) / first.rate) };
  }
  return { ...info, durationMs: Math.round(((size - start) * 8 * 1000) / first.bitrate) };
}

/** AVI: microseconds per frame times frames, from the main header (`avih`). */
function avi(head: Uint8Array): MediaInfo {
  const info: MediaInfo = { kind: "video", format: "avi" };
  if (ascii(head, 12, 4) !== "LIST" || ascii(head, 20, 8) !== "hdrlavih") return info;
  const usPerFrame = u32le(head, 32);
  const frames = u32le(head, 48);
  return usPerFrame > 0 && frames > 0
    ? { ...info, durationMs: Math.round((usPerFrame * frames) / 1000) }
    : info;
}

/** What the file of `size` bytes is, or undefined for anything else. Never throws. */
export function probeMedia(read: ReadAt, size: number): MediaInfo | undefined {
  try {
    const head = read(0, 64);
    if (startsWith(head, PNG_SIGNATURE) && ascii(head, 12, 4) === "IHDR")
      return image("png", u32be(head, 16), u32be(head, 20));
    if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return jpegSize(read, size);
    if (ascii(head, 0, 6) === "GIF87a" || ascii(head, 0, 6) === "GIF89a")
      return image("gif", u16le(head, 6), u16le(head, 8));
    const riff = ascii(head, 0, 4) === "RIFF" ? ascii(head, 8, 4) : "";
    if (riff === "WEBP") return webpSize(head);
    if (riff === "WAVE") return wav(read, size);
    if (riff === "AVI ") return avi(head);
    if (ascii(head, 4, 4) === "ftyp") return isoMedia(read, size, head);
    if (ascii(head, 0, 4) === "fLaC") return flac(head);
    if (ascii(head, 0, 4) === "OggS") return { kind: "audio", format: "ogg" };
    if (startsWith(head, [0x1a, 0x45, 0xdf, 0xa3])) return { kind: "video", format: "matroska" };
    return mp3(read, size, head);
  } catch {
    return undefined;
  }
}

/** The same over bytes in memory. */
export function probeBytes(bytes: Uint8Array): MediaInfo | undefined {
  return probeMedia((offset, length) => bytes.subarray(offset, offset + length), bytes.length);
}
