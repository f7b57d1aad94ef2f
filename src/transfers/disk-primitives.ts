/**
 * The file-system steps under the disk adapter (`file-store.ts`): free space, error codes,
 * durable small writes, positional reads that fill their buffer, and received folders made
 * exclusively (`reserveFolder`) or followed safely under their root (`incomingFolder`).
 */

import {
  closeSync,
  fsyncSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  read,
  statfsSync,
  statSync,
  writeSync,
} from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { HallwayError } from "../errors.js";
import { numberedName, safeFileName } from "./file-name.js";

export const MAX_NUMBERED = 10_000;

export function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** A file-system failure as a stable code: a full disk is told apart from other write errors. */
/**
 * Bytes free to an unprivileged user on the file system that holds `dir` (or, while `dir`
 * does not exist yet, its nearest existing parent); undefined if it cannot be told.
 */
export function freeBytes(dir: string): number | undefined {
  for (let at = dir; ; at = dirname(at)) {
    try {
      const s = statfsSync(at);
      return s.bavail * s.bsize;
    } catch (err) {
      if (errnoOf(err) !== "ENOENT" || dirname(at) === at) return undefined;
    }
  }
}

export function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function writeErrorCode(err: unknown): "FILE_DISK_FULL" | "FILE_WRITE_FAILED" {
  const code = errnoOf(err);
  return code === "ENOSPC" || code === "EDQUOT" ? "FILE_DISK_FULL" : "FILE_WRITE_FAILED";
}

export function writeDurably(path: string, flags: "w" | "r+", bytes: Uint8Array): void {
  const fd = openSync(path, flags, 0o600);
  try {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, done);
    // In place, an older and longer content must not leave its tail behind.
    if (flags === "r+") ftruncateSync(fd, bytes.length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Up to `length` bytes at `offsetBytes`, asynchronously, into `into` (a fresh buffer without
 * it): fewer only at the end of the file.
 */
export function readFully(
  fd: number,
  offsetBytes: number,
  length: number,
  into?: Uint8Array,
): Promise<Uint8Array> {
  const buf = into === undefined || into.length < length ? Buffer.allocUnsafe(length) : into;
  return new Promise((resolve, reject) => {
    const step = (got: number): void => {
      if (got >= length) {
        resolve(new Uint8Array(buf.buffer, buf.byteOffset, got));
        return;
      }
      read(fd, buf, got, length - got, offsetBytes + got, (err, n) => {
        if (err) reject(err);
        else if (n === 0) resolve(new Uint8Array(buf.buffer, buf.byteOffset, got));
        else step(got + n);
      });
    };
    step(0);
  });
}

/**
 * Whether `sizeBytes` fit in the blocks the file at `path` already holds, so that writing them
 * in place needs no new space (a manifest grows with the ranges it lists, but a few KiB of
 * ranges still fit the one block its first version took).
 */
export function fitsAllocated(path: string, sizeBytes: number): boolean {
  try {
    return statSync(path).blocks * 512 >= sizeBytes;
  } catch {
    return false;
  }
}

/**
 * A new folder for a received folder: its sanitised name in `dir`, numbered (`photos (1)`)
 * when taken, created exclusively so that two folders never merge. Returns its path.
 */
export function reserveFolder(dir: string, offeredName: string): string {
  mkdirSync(dir, { recursive: true });
  const base = safeFileName(offeredName);
  for (let n = 0; n < MAX_NUMBERED; n++) {
    const path = join(dir, numberedName(base, n));
    try {
      mkdirSync(path, { mode: 0o700 });
      return path;
    } catch (err) {
      if (errnoOf(err) !== "EEXIST") throw err;
    }
  }
  throw new HallwayError("FILE_WRITE_FAILED", `no free name for ${base} in ${dir}`);
}

/**
 * The folder under a received folder's `root` for a file's relative `dir` (as offered:
 * `/`-separated), made on the way. Each segment is sanitised like a file name, and each
 * must be a real folder, not a symbolic link, so nothing is ever written outside `root`.
 */
export function incomingFolder(root: string, dir: string | undefined): string {
  let path = root;
  for (const segment of dir === undefined ? [] : dir.split("/")) {
    path = join(path, safeFileName(segment));
    try {
      mkdirSync(path, { mode: 0o700 });
    } catch (err) {
      if (errnoOf(err) !== "EEXIST") throw err;
    }
    const st = lstatSync(path);
    if (!st.isDirectory() || st.isSymbolicLink()) {
      throw new HallwayError("FILE_WRITE_FAILED", `${path} is not a folder`);
    }
  }
  const inside = relative(root, path);
  if (inside.startsWith(`..${sep}`) || inside === "..") {
    throw new HallwayError("FILE_WRITE_FAILED", `${dir} leads outside the download folder`);
  }
  return path;
}
