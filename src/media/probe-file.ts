/**
 * The disk side of sniffing: what a received file is, read through its descriptor with a
 * few small positional reads (sniff.ts bounds them). Synchronous: it runs once per received
 * file, on a file just written (in the page cache), and costs well under a millisecond.
 */

import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { type MediaInfo, probeMedia } from "./sniff.js";

/** What the file at `path` is, or undefined (not media, or unreadable). Never throws. */
export function probeFile(path: string): MediaInfo | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const handle = fd;
    const size = fstatSync(handle).size;
    return probeMedia((offset, length) => {
      const n = Math.max(0, Math.min(length, size - offset));
      const buf = Buffer.alloc(n);
      const got = n === 0 ? 0 : readSync(handle, buf, 0, n, offset);
      return buf.subarray(0, got);
    }, size);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
