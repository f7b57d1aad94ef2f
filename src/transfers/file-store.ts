/**
 * The disk adapter of file transfer: the only place where transfers touch the file system.
 * The cores (`src/files/file-*.ts`) decide what to read and write; this file does it.
 *
 * Reads, writes and fsyncs of file data are asynchronous (libuv's thread pool), so the event
 * loop keeps sealing and sending while the disk works: a 1 MiB read, a gathered write or an
 * fsync never stalls a turn. The caller keeps at most a few in flight per transfer.
 *
 * Sending (`OutgoingFile`): the file is opened once, hashed with SHA-256 in one streaming
 * pass before the offer, and then served by positional reads (`readAt`) of the blocks the
 * sender core asks for ahead of its window.
 *
 * Receiving (`IncomingFile`): the offered name is sanitised (`file-name.ts`) and made unique
 * in the download directory (`name (1).ext`; the final name and its `.part` must both be
 * free, and the `.part` is created exclusively, so two transfers never share a file). Chunks
 * are written at their offsets into `<name>.part`, consecutive ones gathered into one `writev`
 * (`writeAt`); `sync()` makes what was written durable (the caller counts a chunk durable only
 * after a sync that began after its write completed). The manifest sidecar
 * `<name>.part.manifest` is replaced atomically (write a temporary file, fsync, rename).
 * `finish()` links the `.part` to the final name — a hard link fails rather than overwrite a
 * file that appeared meanwhile, in which case the next free number is taken — fsyncs the
 * directory so that the name is durable, then removes the `.part` and the manifest.
 *
 * Resume: `findPartial` looks for a `.part` whose manifest the caller accepts (the transfer
 * layer checks it describes the offered file: size, chunk size, SHA-256) and reopens it.
 *
 * The parts: `disk-primitives.ts` (free space, error codes, durable writes, full reads,
 * received folders), `outgoing-file.ts` (`OutgoingFile`), and this file (`IncomingFile`),
 * which re-exports the others for the transfer layer.
 */

import {
  closeSync,
  existsSync,
  fsync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writev,
} from "node:fs";
import { open as openAsync, rename as renameAsync, rm as rmAsync } from "node:fs/promises";
import { join } from "node:path";
import { HallwayError } from "../errors.js";
import {
  errnoOf,
  fitsAllocated,
  MAX_NUMBERED,
  readFully,
  syncDirectory,
  writeDurably,
  writeErrorCode,
} from "./disk-primitives.js";
import { numberedName, safeFileName } from "./file-name.js";

export {
  freeBytes,
  incomingFolder,
  reserveFolder,
  syncDirectory,
  writeErrorCode,
} from "./disk-primitives.js";
export { OutgoingFile } from "./outgoing-file.js";

/** The receiver's write block: consecutive chunks up to this size go to disk in one `writev`. */
export const WRITE_BLOCK_BYTES = 1024 * 1024;
/** Buffers per `writev`, well under Linux's IOV_MAX of 1024. */
export const WRITE_BLOCK_BUFFERS = 512;
const MANIFEST_SUFFIX = ".part.manifest";

export class IncomingFile {
  private fd: number | undefined;

  private constructor(
    readonly dir: string,
    /** The sanitised name this transfer aims for (without a number). */
    readonly baseName: string,
    /** The free name reserved when the transfer started. */
    private chosenName: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  /** Reserve a free name in `dir` for an offered name and create its `.part` exclusively. */
  static create(dir: string, offeredName: string): IncomingFile {
    mkdirSync(dir, { recursive: true });
    const base = safeFileName(offeredName);
    for (let n = 0; n < MAX_NUMBERED; n++) {
      const name = numberedName(base, n);
      const final = join(dir, name);
      if (existsSync(final) || existsSync(`${final}.part`) || existsSync(`${final}.part.manifest`)) continue;
      try {
        return new IncomingFile(dir, base, name, openSync(`${final}.part`, "wx+", 0o600));
      } catch (err) {
        if (errnoOf(err) === "EEXIST") continue;
        throw err;
      }
    }
    throw new HallwayError("FILE_WRITE_FAILED", `no free name for ${base} in ${dir}`);
  }

  /**
   * A partial file in `dir` whose manifest bytes `pick` accepts, reopened for writing, or
   * undefined. `.part` paths in `exclude` belong to running transfers and are skipped.
   */
  static findPartial(
    dir: string,
    pick: (manifest: Uint8Array) => boolean,
    exclude: ReadonlySet<string>,
  ): { file: IncomingFile; manifest: Uint8Array } | undefined {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return undefined;
    }
    for (const entry of entries.sort()) {
      if (!entry.endsWith(MANIFEST_SUFFIX)) continue;
      const name = entry.slice(0, -MANIFEST_SUFFIX.length);
      const partPath = join(dir, `${name}.part`);
      if (exclude.has(partPath) || !existsSync(partPath)) continue;
      let manifest: Uint8Array;
      try {
        manifest = new Uint8Array(readFileSync(join(dir, entry)));
      } catch {
        continue;
      }
      if (!pick(manifest)) continue;
      try {
        return { file: new IncomingFile(dir, name, name, openSync(partPath, "r+")), manifest };
      } catch {
        // Not writable any more: start afresh instead.
      }
    }
    return undefined;
  }

  get name(): string {
    return this.chosenName;
  }

  get partPath(): string {
    return join(this.dir, `${this.chosenName}.part`);
  }

  get manifestPath(): string {
    return `${this.partPath}.manifest`;
  }

  /** Bytes of the partial file (resumed bytes read back for the SHA-256). */
  readAt(offsetBytes: number, length: number): Promise<Uint8Array> {
    return readFully(this.openFd, offsetBytes, length);
  }

  /** Writes `buffers`, back to back, at `offsetBytes` (one `writev`, repeated if it is short). */
  writeAt(offsetBytes: number, buffers: Uint8Array[]): Promise<void> {
    const fd = this.openFd;
    return new Promise((resolve, reject) => {
      const step = (pieces: Uint8Array[], at: number): void => {
        writev(fd, pieces, at, (err, written) => {
          if (err) {
            reject(err);
            return;
          }
          // A short write (rare on a regular file): continue after what was written.
          let skip = written;
          const rest: Uint8Array[] = [];
          for (const p of pieces) {
            if (skip >= p.length) {
              skip -= p.length;
              continue;
            }
            rest.push(skip > 0 ? p.subarray(skip) : p);
            skip = 0;
          }
          if (rest.length === 0) resolve();
          else step(rest, at + written);
        });
      };
      step(buffers, offsetBytes);
    });
  }

  /** Makes every write that completed before this call durable. */
  sync(): Promise<void> {
    const fd = this.openFd;
    return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
  }

  /** The same, blocking: only for shutdown, when no turn will follow. */
  syncNow(): void {
    fsyncSync(this.openFd);
  }

  /**
   * Replace the manifest sidecar atomically (a temporary file, fsync, rename). On a full disk
   * there may be no room for the temporary file; the existing one is then overwritten in
   * place when the new bytes fit the blocks it already holds, which needs no new space.
   * A crash in the middle of that write leaves a torn manifest, which its CRC rejects: the
   * resume is lost, never the file's integrity.
   */
  saveManifest(bytes: Uint8Array): void {
    const tmp = `${this.manifestPath}.tmp`;
    try {
      writeDurably(tmp, "w", bytes);
      renameSync(tmp, this.manifestPath);
    } catch (err) {
      rmSync(tmp, { force: true });
      // A full disk, or a folder that takes no new names (made read-only while the `.part`
      // stays writable): rewritten in place, which needs neither new space nor a new name.
      const errno = errnoOf(err);
      const inPlace = writeErrorCode(err) === "FILE_DISK_FULL" || errno === "EACCES" || errno === "EPERM";
      if (!inPlace || !fitsAllocated(this.manifestPath, bytes.length)) throw err;
      writeDurably(this.manifestPath, "r+", bytes);
    }
  }

  /**
   * The same replacement, off the event loop (the periodic saves during a transfer: a small
   * file's fsync waits for the file system's journal, several milliseconds on a virtual disk).
   * At most one at a time per file; the caller keeps count of it so the descriptors close only
   * after it settles.
   */
  async saveManifestAsync(bytes: Uint8Array): Promise<void> {
    const tmp = `${this.manifestPath}.tmp-async`;
    try {
      const handle = await openAsync(tmp, "w", 0o600);
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await renameAsync(tmp, this.manifestPath);
    } catch (err) {
      await rmAsync(tmp, { force: true });
      throw err;
    }
  }

  /** Give the complete file its final name (never overwriting); returns its path. */
  finish(): string {
    this.closeFd();
    for (let n = 0; n < MAX_NUMBERED; n++) {
      const name = n === 0 ? this.chosenName : numberedName(this.baseName, n);
      const final = join(this.dir, name);
      // Another transfer's partial file reserves its name too.
      if (n > 0 && (name === this.chosenName || existsSync(`${final}.part`))) continue;
      try {
        linkSync(this.partPath, final);
      } catch (err) {
        if (errnoOf(err) === "EEXIST") continue;
        throw err;
      }
      try {
        // The new name is durable before anyone hears the file is done.
        syncDirectory(this.dir);
      } catch (err) {
        rmSync(final, { force: true });
        throw err;
      }
      rmSync(this.partPath, { force: true });
      rmSync(this.manifestPath, { force: true });
      this.chosenName = name;
      return final;
    }
    throw new HallwayError("FILE_WRITE_FAILED", `no free name for ${this.baseName} in ${this.dir}`);
  }

  /** Close and remove the partial file and its manifest (declined, cancelled, failed). */
  discard(): void {
    this.closeFd();
    rmSync(this.partPath, { force: true });
    rmSync(this.manifestPath, { force: true });
    rmSync(`${this.manifestPath}.tmp`, { force: true });
    rmSync(`${this.manifestPath}.tmp-async`, { force: true });
  }

  /** Close but keep the partial file and manifest (for a later resume). Idempotent. */
  closeFd(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  private get openFd(): number {
    if (this.fd === undefined) throw new HallwayError("INTERNAL", "IncomingFile: already closed");
    return this.fd;
  }
}
