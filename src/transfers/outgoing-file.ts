/**
 * A file being sent: opened once, hashed with SHA-256 in one streaming pass before the offer,
 * and then served by positional reads (`readAt`) of the blocks the sender core asks for ahead
 * of its window (the disk adapter, `file-store.ts`).
 */

import { createHash } from "node:crypto";
import { closeSync, createReadStream, fstatSync, openSync } from "node:fs";
import { HallwayError } from "../errors.js";
import { errnoOf, readFully } from "./disk-primitives.js";

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
