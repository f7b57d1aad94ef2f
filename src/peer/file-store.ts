/**
 * The disk adapter of file transfer: the only place where transfers touch the file system.
 * The cores (`src/transfer/file-*.ts`) decide what to read and write; this file does it.
 *
 * Sending (`OutgoingFile`): the file is opened once, hashed with SHA-256 in one streaming
 * pass before the offer, and then served by synchronous positional reads (`readSync` on the
 * open descriptor), which the sender core calls only when its read-ahead runs low. Chunks are
 * about 1 KiB, so reads go through a read-ahead block of READ_BLOCK_BYTES: one system call
 * per block instead of one per chunk, and a chunk is a view into its block.
 *
 * Receiving (`IncomingFile`): the offered name is sanitised (`file-name.ts`) and made unique
 * in the download directory (`name (1).ext`; the final name and its `.part` must both be
 * free, and the `.part` is created exclusively, so two transfers never share a file). Chunks
 * are written at their offsets into `<name>.part`: consecutive ones are gathered and issued
 * as one `writev` of up to WRITE_BLOCK_BYTES (a chunk is about 1 KiB; one system call each
 * was a large share of the receiver's time), so a write error may surface at a later `write`
 * or at `sync()`, which issues what is gathered and makes it durable (the caller batches
 * chunks between syncs, and counts a chunk durable only after its sync); the manifest sidecar `<name>.part.manifest` is replaced
 * atomically (write a temporary file, fsync, rename). `finish()` links the `.part` to the
 * final name — a hard link fails rather than overwrite a file that appeared meanwhile, in
 * which case the next free number is taken — then removes the `.part` and the manifest.
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
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
  writevSync,
} from "node:fs";
import { join } from "node:path";
import { HallwayError } from "../errors.js";
import { numberedName, safeFileName } from "./file-name.js";

const MAX_NUMBERED = 10_000;
/** The sender's read-ahead block: one `readSync` serves this many bytes of consecutive chunks. */
export const READ_BLOCK_BYTES = 256 * 1024;
/** The receiver's write block: consecutive chunks up to this size go to disk in one `writev`. */
export const WRITE_BLOCK_BYTES = 256 * 1024;
/** Buffers per `writev`, well under Linux's IOV_MAX of 1024. */
const WRITE_BLOCK_BUFFERS = 512;
const MANIFEST_SUFFIX = ".part.manifest";

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** A file-system failure as a stable code: a full disk is told apart from other write errors. */
export function writeErrorCode(err: unknown): "FILE_DISK_FULL" | "FILE_WRITE_FAILED" {
  const code = errnoOf(err);
  return code === "ENOSPC" || code === "EDQUOT" ? "FILE_DISK_FULL" : "FILE_WRITE_FAILED";
}

function writeDurably(path: string, flags: "w" | "r+", bytes: Uint8Array): void {
  const fd = openSync(path, flags, 0o600);
  try {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Up to `length` bytes at `offsetBytes`: fewer only at the end of the file. */
function readFully(fd: number, offsetBytes: number, length: number): Uint8Array {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, offsetBytes + got);
    if (n === 0) break;
    got += n;
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, got);
}

function sameSize(path: string, sizeBytes: number): boolean {
  try {
    return statSync(path).size === sizeBytes;
  } catch {
    return false;
  }
}

export class OutgoingFile {
  private closed = false;
  /** The latest read-ahead block and the file offset of its first byte. */
  private block: Uint8Array = new Uint8Array(0);
  private blockOffset = 0;

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
   * Exactly `length` bytes at `offsetBytes` (fewer means the file shrank: the core fails the
   * transfer). A view into the read-ahead block when it holds the range; otherwise a new block
   * is read from `offsetBytes` on. Blocks are never reused, so a view stays valid.
   */
  read(offsetBytes: number, length: number): Uint8Array {
    const at = offsetBytes - this.blockOffset;
    if (at < 0 || at + length > this.block.length) {
      this.blockOffset = offsetBytes;
      this.block = readFully(this.fd, offsetBytes, Math.max(length, READ_BLOCK_BYTES));
      return this.block.subarray(0, Math.min(length, this.block.length));
    }
    return this.block.subarray(at, at + length);
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
  /** Consecutive writes not yet issued: `run` goes at `runOffset`, `runBytes` long. */
  private run: Uint8Array[] = [];
  private runOffset = 0;
  private runBytes = 0;

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

  /** Bytes of the partial file (a resumed chunk read back for the SHA-256). */
  read(offsetBytes: number, length: number): Uint8Array {
    return readFully(this.openFd, offsetBytes, length);
  }

  /** Write `bytes` at `offsetBytes`: gathered with the writes before it if they are consecutive. */
  write(offsetBytes: number, bytes: Uint8Array): void {
    if (this.runBytes > 0 && offsetBytes !== this.runOffset + this.runBytes) this.flush();
    if (this.runBytes === 0) this.runOffset = offsetBytes;
    this.run.push(bytes);
    this.runBytes += bytes.length;
    if (this.runBytes >= WRITE_BLOCK_BYTES || this.run.length >= WRITE_BLOCK_BUFFERS) this.flush();
  }

  /** Make every write so far durable. */
  sync(): void {
    this.flush();
    fsyncSync(this.openFd);
  }

  /** Issue the gathered writes. */
  private flush(): void {
    if (this.runBytes === 0) return;
    const { run, runOffset: offset, runBytes: total } = this;
    this.run = [];
    this.runBytes = 0;
    const fd = this.openFd;
    const written = writevSync(fd, run, offset);
    if (written === total) return;
    // A short write (rare on a regular file): the rest one buffer at a time.
    let start = offset;
    for (const b of run) {
      for (let n = Math.max(0, written - (start - offset)); n < b.length; ) {
        n += writeSync(fd, b, n, b.length - n, start + n);
      }
      start += b.length;
    }
  }

  /**
   * Replace the manifest sidecar atomically (a temporary file, fsync, rename). On a full disk
   * there may be no room for the temporary file; a manifest's size is fixed by the file it
   * describes, so the existing one is then overwritten in place, which needs no new space.
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
      if (writeErrorCode(err) !== "FILE_DISK_FULL" || !sameSize(this.manifestPath, bytes.length)) throw err;
      writeDurably(this.manifestPath, "r+", bytes);
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
