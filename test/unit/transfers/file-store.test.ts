/**
 * The transfer disk adapter on a real temporary directory: hostile names stay inside the
 * download directory, nothing is overwritten, the `.part` becomes the final file atomically,
 * the manifest sidecar round-trips, gathered asynchronous writes land at their offsets, and
 * the sender's hash and asynchronous positional reads.
 */

import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { HallwayError } from "../../../src/errors.js";
import { RangeSet } from "../../../src/files/range-set.js";
import { decodeManifest, encodeManifest } from "../../../src/files/transfer-manifest.js";
import { IncomingFile, OutgoingFile, writeErrorCode } from "../../../src/transfers/file-store.js";

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
  it("puts ../../etc/passwd inside the download directory", async () => {
    const root = tmp();
    const inbox = join(root, "a", "inbox");
    const f = IncomingFile.create(inbox, "../../etc/passwd");
    expect(f.partPath).toBe(join(inbox, "passwd.part"));
    await f.writeAt(0, [new TextEncoder().encode("x")]);
    await f.sync();
    expect(f.finish()).toBe(join(inbox, "passwd"));
    expect(readdirSync(inbox)).toEqual(["passwd"]);
    expect(existsSync(join(root, "etc"))).toBe(false);
  });

  it("writes chunks at their offsets and renames on finish, removing the manifest", async () => {
    const inbox = tmp();
    const f = IncomingFile.create(inbox, "data.bin");
    await f.writeAt(4, [new Uint8Array([5, 6, 7])]);
    await f.writeAt(0, [new Uint8Array([1, 2]), new Uint8Array([3, 4])]);
    await f.sync();
    const have = new RangeSet(20, [[0, 7]]);
    const manifest = encodeManifest({ sizeBytes: 20, sha256: new Uint8Array(32), have });
    f.saveManifest(manifest);
    expect(readdirSync(inbox).sort()).toEqual(["data.bin.part", "data.bin.part.manifest"]);
    const back = decodeManifest(readFileSync(f.manifestPath));
    expect(back.ok && back.value.have.has(0)).toBe(true);
    expect(f.finish()).toBe(join(inbox, "data.bin"));
    expect([...readFileSync(join(inbox, "data.bin"))]).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(readdirSync(inbox)).toEqual(["data.bin"]);
  });

  it("writes gathered runs of chunks, in any order, every byte at its offset", async () => {
    const inbox = tmp();
    const f = IncomingFile.create(inbox, "big.bin");
    const chunk = 1000;
    const data = randomBytes(600 * chunk + 7);
    const count = Math.ceil(data.length / chunk);
    const piece = (i: number) =>
      new Uint8Array(data.subarray(i * chunk, Math.min((i + 1) * chunk, data.length)));
    const run = async (from: number, to: number) => {
      const pieces = [];
      for (let i = from; i < to; i++) pieces.push(piece(i));
      await f.writeAt(from * chunk, pieces);
    };
    // Runs with two holes, then the holes (a resume or a reordered batch), then the rest.
    await run(0, 5);
    await run(6, 300);
    await run(301, count - 10);
    await run(300, 301);
    await run(5, 6);
    await run(count - 10, count);
    await f.sync();
    expect(Buffer.from(await f.readAt(0, data.length))).toEqual(data);
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
    expect(Buffer.from(await f.readAt(99_990, 10))).toEqual(data.subarray(99_990));
    // Past the end: short, which the sender core reads as "the file changed".
    expect(await f.readAt(99_995, 10)).toHaveLength(5);
    // Several reads at once, as the sender keeps them in flight, each with its own buffer.
    const blocks = await Promise.all([0, 40_000, 80_000].map((at) => f.readAt(at, 20_000)));
    for (const [i, b] of blocks.entries()) {
      expect(Buffer.from(b)).toEqual(data.subarray(i * 40_000, i * 40_000 + 20_000));
    }
    f.close();
    f.close();
    await expect(f.readAt(0, 1)).rejects.toThrow(HallwayError);
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
