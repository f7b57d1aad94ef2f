/**
 * File-transfer control messages: offer, accept, decline, cancel and done. They are control
 * messages like those of `control.ts` (UTF-8 JSON with a type `t`, validated by zod schemas,
 * a total decoder) and travel on stream 0 of the peer-to-peer session, so they are never
 * queued behind a transfer's chunks or stopped by its closed window. The chunks themselves
 * travel on the transfer's own stream (`file-chunk.ts`).
 *
 * ```
 *  sender                                              receiver
 *    ── file.offer {id, stream, name, size, sha256} ─────────────►   (user decides)
 *    ◄─ file.accept {id, have}  |  file.decline {id, message} ──
 *    ══ chunks on `stream` (SEGMENT/ACK frames, one window) ═══►
 *    ◄─ file.done {id}   (every chunk durable and the SHA-256 matched)
 *  either side, any time:  ── file.cancel {id, code, message} ──►
 * ```
 *
 * `have` lists the bytes the receiver already holds (resume), as sorted, disjoint
 * `[start, end)` byte ranges; the sender skips them. It may list fewer than the receiver holds
 * (at most MAX_HAVE_RANGES ranges): claiming less is always safe, it only costs resending.
 * Chunks have no fixed size (`file-chunk.ts`), so neither message names one.
 *
 * Folders travel as one transfer per file. Each offer of a folder's file carries `batch`
 * (the folder: an id, its name, how many files and bytes it holds) and `dir`, the file's
 * folder relative to the batch's root (`2024/march`, `/`-separated; absent at the root).
 * Both are bounded here, and `dir` may hold no `.`, `..` or empty segment and no backslash;
 * the receiver sanitises each segment again and writes nothing outside its download folder.
 * A receiver that does not know these fields ignores them (zod strips unknown keys) and
 * sees separate file offers.
 */

import { z } from "zod";
import { FILE_END_CODES } from "../errors.js";

const utf8 = new TextEncoder();

export { FILE_END_CODES };
export type FileEndCode = (typeof FILE_END_CODES)[number];

/** File names are at most this many UTF-8 bytes (the common file-system limit). */
export const MAX_FILE_NAME_BYTES = 255;
/** Ranges an accept may carry: 32 KiB of JSON at most, far below MAX_MESSAGE_BYTES. */
export const MAX_HAVE_RANGES = 2048;
export const MAX_END_MESSAGE_CHARS = 200;
/** A folder offer's relative path: at most this many UTF-8 bytes and segments. */
export const MAX_DIR_BYTES = 1024;
export const MAX_DIR_DEPTH = 32;
/** Files in one folder offer (docs/cli.md: a bigger folder is refused before anything is sent). */
export const MAX_BATCH_FILES = 10_000;

const transferId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/);
const stream = z.number().int().min(1).max(0xffff);
const offset = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const fileName = z
  .string()
  .min(1)
  .max(MAX_FILE_NAME_BYTES)
  .refine((s) => utf8.encode(s).length <= MAX_FILE_NAME_BYTES, "name too long")
  // A bare name, never a path: the receiver's disk adapter decides the directory.
  .refine(
    (s) => !/[/\\]/.test(s) && !s.includes("\u0000") && s !== "." && s !== "..",
    "name is not a bare file name",
  );
const relativeDir = z
  .string()
  .min(1)
  .max(MAX_DIR_BYTES)
  .refine((s) => utf8.encode(s).length <= MAX_DIR_BYTES, "dir too long")
  .refine((s) => {
    const parts = s.split("/");
    return (
      parts.length <= MAX_DIR_DEPTH &&
      !s.includes("\\") &&
      !s.includes("\u0000") &&
      parts.every((p) => p !== "" && p !== "." && p !== "..")
    );
  }, "dir is not a relative folder path");
const batch = z.object({
  id: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
  name: fileName,
  files: z.number().int().min(1).max(MAX_BATCH_FILES),
  bytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const endMessage = z.string().max(MAX_END_MESSAGE_CHARS);

const haveRanges = z
  .array(z.tuple([offset, offset]))
  .max(MAX_HAVE_RANGES)
  .refine(
    (ranges) =>
      ranges.every(([s, e], i) => s < e && (i === 0 || (ranges[i - 1] as [number, number])[1] <= s)),
    "have ranges must be sorted, non-empty and disjoint",
  );

const offer = z.object({
  t: z.literal("file.offer"),
  id: transferId,
  stream,
  name: fileName,
  size: offset,
  sha256: sha256Hex,
  batch: batch.optional(),
  dir: relativeDir.optional(),
});

export const fileControl = z.union([
  offer,
  z.object({ t: z.literal("file.accept"), id: transferId, have: haveRanges }),
  z.object({ t: z.literal("file.decline"), id: transferId, message: endMessage }),
  z.object({
    t: z.literal("file.cancel"),
    id: transferId,
    code: z.enum(FILE_END_CODES),
    message: endMessage,
  }),
  z.object({ t: z.literal("file.done"), id: transferId }),
]);

export type FileControl = z.infer<typeof fileControl>;
export type FileOffer = Extract<FileControl, { t: "file.offer" }>;
export type FileBatch = z.infer<typeof batch>;
export type FileControlOf<T extends FileControl["t"]> = Extract<FileControl, { t: T }>;

/** Whether a control message type belongs to file transfer (for routing stream-0 messages). */
export function isFileControlType(t: unknown): boolean {
  return typeof t === "string" && t.startsWith("file.");
}

export function encodeFileControl(msg: FileControl): Uint8Array {
  return utf8.encode(JSON.stringify(msg));
}
