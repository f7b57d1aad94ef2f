/**
 * The transfer disk adapter on a real temporary directory: hostile names stay inside the
 * download directory, nothing is overwritten, the `.part` becomes the final file atomically,
 * the manifest sidecar round-trips, and the sender's hash and positional reads.
 */

import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { HallwayError } from "../../src/errors.js";
import {
  IncomingFile,
  OutgoingFile,
  READ_BLOCK_BYTES,
  WRITE_BLOCK_BYTES,
  writeErrorCode,
} from "../../src/peer/file-store.js";
import { ChunkSet, decodeManifest, encodeManifest } from "../../src/transfer/transfer-manifest.js";

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "hallway-store-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("IncomingFile", () => {
  it("puts ../../etc/passwd inside the download directory", () => {
    const root = tmp();
    const inbox = join(root, "a", "inbox");
    const f = IncomingFile.create(inbox, "../../etc/passwd");
    expect(f.partPath).toBe(join(inbox, "passwd.part"));
    f.write(0, new TextEncoder().encode("x"));
    f.sync();
    expect(f.finish()).toBe(join(inbox, "passwd"));
    expect(readdirSync(inbox)).toEqual(["passwd"]);
    expect(existsSync(join(root, "etc"))).toBe(false);
  });

  it("writes chunks at their offsets and renames on finish, removing the manifest", () => {
    const inbox = tmp();
    const f = IncomingFile.create(inbox, "data.bin");
    f.write(4, new Uint8Array([5, 6, 7]));
    f.write(0, new Uint8Array([1, 2, 3, 4]));
    f.sync();
    const have = new ChunkSet(2);
    have.add(0);
    const manifest = encodeManifest({ sizeBytes: 20, chunkBytes: 16, sha256: new Uint8Array(32), have });
    f.saveManifest(manifest);
    expect(readdirSync(inbox).sort()).toEqual(["data.bin.part", "data.bin.part.manifest"]);
    const back = decodeManifest(readFileSync(f.manifestPath));
    expect(back.ok && back.value.have.has(0)).toBe(true);
    expect(f.finish()).toBe(join(inbox, "data.bin"));
    expect([...readFileSync(join(inbox, "data.bin"))]).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(readdirSync(inbox)).toEqual(["data.bin"]);
  });

  it("gathers consecutive writes into blocks and puts every byte at its offset by sync", () => {
    const inbox = tmp();
    const f = IncomingFile.create(inbox, "big.bin");
    const chunk = 1000;
    const data = randomBytes(2 * WRITE_BLOCK_BYTES + 5 * chunk + 7);
    const count = Math.ceil(data.length / chunk);
    const piece = (i: number) =>
      new Uint8Array(data.subarray(i * chunk, Math.min((i + 1) * chunk, data.length)));
    // In order with two holes, then the holes (a resume or a reordered batch), then the rest.
    for (let i = 0; i < count - 10; i++) if (i !== 5 && i !== 300) f.write(i * chunk, piece(i));
    f.write(300 * chunk, piece(300));
    f.write(5 * chunk, piece(5));
    for (let i = count - 10; i < count; i++) f.write(i * chunk, piece(i));
    f.sync();
    expect(Buffer.from(f.read(0, data.length))).toEqual(data);
    expect(Buffer.from(readFileSync(f.partPath))).toEqual(data);
    f.discard();
  });

  it("never overwrites: existing files and partial files push the name to (n)", () => {
    const inbox = tmp();
    writeFileSync(join(inbox, "a.txt"), "mine");
    writeFileSync(join(inbox, "a (1).txt.part"), "someone else's partial");
    const f = IncomingFile.create(inbox, "a.txt");
    expect(f.name).toBe("a (2).txt");
    // A file that appears under the chosen name meanwhile is not overwritten either.
    writeFileSync(join(inbox, "a (2).txt"), "raced");
    expect(f.finish()).toBe(join(inbox, "a (3).txt"));
    expect(readFileSync(join(inbox, "a.txt"), "utf8")).toBe("mine");
    expect(readFileSync(join(inbox, "a (2).txt"), "utf8")).toBe("raced");
  });

  it("discard removes the partial file and its manifest", () => {
    const inbox = tmp();
    const f = IncomingFile.create(inbox, "x");
    f.saveManifest(new Uint8Array([1]));
    f.discard();
    f.discard();
    expect(readdirSync(inbox)).toEqual([]);
  });

  it("tells a full disk apart from other write failures", () => {
    expect(writeErrorCode(Object.assign(new Error("full"), { code: "ENOSPC" }))).toBe("FILE_DISK_FULL");
    expect(writeErrorCode(Object.assign(new Error("io"), { code: "EIO" }))).toBe("FILE_WRITE_FAILED");
  });
});

describe("OutgoingFile", () => {
  it("hashes the file and serves positional reads", async () => {
    const data = randomBytes(100_000);
    const path = join(tmp(), "f.bin");
    writeFileSync(path, data);
    const f = await OutgoingFile.open(path);
    expect(f.sizeBytes).toBe(data.length);
    expect(Buffer.from(f.sha256).toString("hex")).toBe(createHash("sha256").update(data).digest("hex"));
    expect(Buffer.from(f.read(99_990, 10))).toEqual(data.subarray(99_990));
    expect(f.read(99_995, 10)).toHaveLength(5);
    f.close();
    f.close();
  });

  it("serves every chunk of a file larger than its read-ahead block, in order and out of order", async () => {
    const chunk = 1000; // not a divisor of the block: chunks straddle block boundaries
    const data = randomBytes(2 * READ_BLOCK_BYTES + 12_345);
    const path = join(tmp(), "big.bin");
    writeFileSync(path, data);
    const f = await OutgoingFile.open(path);
    const count = Math.ceil(data.length / chunk);
    const length = (i: number) => Math.min(chunk, data.length - i * chunk);
    const views: Uint8Array[] = [];
    for (let i = 0; i < count; i++) views.push(f.read(i * chunk, length(i)));
    // Views stay valid after later blocks were read.
    for (let i = 0; i < count; i++) {
      expect(Buffer.from(views[i] as Uint8Array)).toEqual(data.subarray(i * chunk, i * chunk + length(i)));
    }
    // A resume skips around: backwards and past the block just read.
    for (const i of [count - 1, 3, 700, 2]) {
      expect(Buffer.from(f.read(i * chunk, length(i)))).toEqual(
        data.subarray(i * chunk, i * chunk + length(i)),
      );
    }
    f.close();
  });

  it("fails with FILE_NOT_FOUND for a missing file or a directory", async () => {
    const d = tmp();
    for (const path of [join(d, "nope"), d]) {
      const err = await OutgoingFile.open(path).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HallwayError);
      expect((err as HallwayError).code).toBe("FILE_NOT_FOUND");
    }
  });
});
