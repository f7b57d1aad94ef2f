/**
 * The disk adapter of file transfer: the only place where transfers touch the file system.
 * The cores (`src/transfer/file-*.ts`) decide what to read and write; this file does it.
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
 */

import { createHash } from "node:crypto";
import {
  closeSync,
  createReadStream,
  existsSync,
  fstatSync,
  fsync,
  fsyncSync,
  ftruncateSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  read,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
  writeSync,
  writev,
} from "node:fs";
import { open as openAsync, rename as renameAsync, rm as rmAsync } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { HallwayError } from "../errors.js";
import { numberedName, safeFileName } from "./file-name.js";

const MAX_NUMBERED = 10_000;
/** The receiver's write block: consecutive chunks up to this size go to disk in one `writev`. */
export const WRITE_BLOCK_BYTES = 1024 * 1024;
/** Buffers per `writev`, well under Linux's IOV_MAX of 1024. */
export const WRITE_BLOCK_BUFFERS = 512;
const MANIFEST_SUFFIX = ".part.manifest";

function errnoOf(err: unknown): string | undefined {
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

function writeDurably(path: string, flags: "w" | "r+", bytes: Uint8Array): void {
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
function readFully(fd: number, offsetBytes: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
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
function fitsAllocated(path: string, sizeBytes: number): boolean {
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

export class OutgoingFile {
  private closed = false;

  private constructor(
    private readonly fd: number,
    readonly sizeBytes: number,
    readonly sha256: Uint8Array,
  ) {}

  /** Open and hash a regular file. Rejects with FILE_NOT_FOUND or FILE_READ_FAILED. */
  static async open(path: string): Promise<OutgoingFile> {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (err) {
      const code = errnoOf(err);
      if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") {
        throw new HallwayError("FILE_NOT_FOUND", `no file at ${path}`);
      }
      throw new HallwayError("FILE_READ_FAILED", `cannot open ${path}: ${code ?? String(err)}`);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new HallwayError("FILE_NOT_FOUND", `${path} is not a regular file`);
      const hash = createHash("sha256");
      // The same descriptor: what we hash is what we serve, even if the path is replaced.
      const stream = createReadStream("", { fd, autoClose: false, start: 0 });
      for await (const piece of stream) hash.update(piece as Buffer);
      return new OutgoingFile(fd, st.size, new Uint8Array(hash.digest()));
    } catch (err) {
      closeSync(fd);
      if (err instanceof HallwayError) throw err;
      throw new HallwayError("FILE_READ_FAILED", `cannot read ${path}: ${errnoOf(err) ?? String(err)}`);
    }
  }

  /**
   * `length` bytes at `offsetBytes`, into `into` when given (fewer means the file shrank: the
   * core fails the transfer).
   */
  readAt(offsetBytes: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new HallwayError("INTERNAL", "OutgoingFile: already closed"));
    return readFully(this.fd, offsetBytes, length, into);
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

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
