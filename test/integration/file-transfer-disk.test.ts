/**
 * A full disk, for real: the receiver's download directory is a tmpfs that this test mounts
 * (as root) in a temp directory, roomy enough when the offer is checked (the file plus the
 * free-space margin) and shrunk to a few MiB once it is accepted: the disk fills up during
 * the transfer, as when something else takes the space. Both sides see the transfer fail
 * with FILE_DISK_FULL, the `.part` and its manifest stay, and once the tmpfs has grown again
 * the same offer resumes from the chunks that were durable.
 *
 * Needs Linux, root and `mount`; elsewhere it says why it skips, and fails under CI=true.
 */

import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FREE_SPACE_MARGIN_BYTES } from "../../src/transfers/file-transfers.js";
import { type Json, killAll, requireBuild, startClient, startRegistry, tempDir } from "./harness.js";
import { mountTmpfs, tmpfs, unmount } from "./tmpfs.js";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const isTransfer = (id: unknown, state: string) => (e: Json) =>
  e.event === "transfer" && e.id === id && e.state === state;

describe.skipIf(!tmpfs.canRun)("file transfer to a full disk", () => {
  const mounted: string[] = [];
  beforeAll(requireBuild);
  afterAll(async () => {
    // Before killAll removes the temp directories, which would fail on a mount point.
    for (const dir of mounted.splice(0)) unmount(dir);
    await killAll();
  });

  it("fails with FILE_DISK_FULL on both sides, keeps the partial file, and resumes once there is room", async () => {
    const size = 12 * 1024 * 1024;
    const roomy = size + FREE_SPACE_MARGIN_BYTES + 32 * 1024 * 1024;
    const inbox = tempDir("full-inbox");
    const mount = mountTmpfs(inbox, roomy);
    expect(mount.ok, mount.detail).toBe(true);
    mounted.unshift(inbox);

    const reg = await startRegistry(tempDir("registry"));
    // 4 MB/s: the tmpfs shrinks before much has arrived.
    const alice = startClient("alice", reg.port, tempDir("alice"), [
      "--register",
      "--transfer-rate",
      "4000000",
    ]);
    await alice.waitFor((e) => e.event === "ready", "alice ready");
    const bob = startClient("bob", reg.port, tempDir("bob"), ["--register", "--accept-files", inbox]);
    await bob.waitFor((e) => e.event === "ready", "bob ready");
    await alice.waitFor(
      (e) => e.event === "presence" && e.user === "bob" && e.status === "online",
      "bob online",
    );
    const data = new Uint8Array(randomBytes(size));
    const src = join(tempDir("src"), "backup.tar");
    writeFileSync(src, data);

    alice.send({ cmd: "sendFile", to: "bob", path: src });
    const offered = await alice.waitFor((e) => e.event === "transfer" && e.state === "offered", "offered");
    await bob.waitFor(isTransfer(offered.id, "accepted"), "accepted");
    const shrunk = mountTmpfs(inbox, 5 * 1024 * 1024, true);
    expect(shrunk.ok, shrunk.detail).toBe(true);
    const atBob = await bob.waitFor(isTransfer(offered.id, "failed"), "disk full at bob", 60_000);
    expect(atBob).toMatchObject({ code: "FILE_DISK_FULL", by: "local" });
    const atAlice = await alice.waitFor(isTransfer(offered.id, "failed"), "disk full at alice", 15_000);
    expect(atAlice).toMatchObject({ code: "FILE_DISK_FULL", by: "peer" });
    expect(readdirSync(inbox).sort()).toEqual(["backup.tar.part", "backup.tar.part.manifest"]);

    // Room again: the same file, offered again, continues the partial file.
    const grown = mountTmpfs(inbox, roomy, true);
    expect(grown.ok, grown.detail).toBe(true);
    const mark = alice.events.length;
    alice.send({ cmd: "sendFile", to: "bob", path: src });
    const again = await alice.waitFor(
      (e) => alice.events.indexOf(e) >= mark && e.event === "transfer" && e.state === "offered",
      "offered again",
    );
    const accepted = await alice.waitFor(isTransfer(again.id, "accepted"), "accepted again");
    const done = await bob.waitFor(isTransfer(again.id, "done"), "done at bob", 60_000);
    await alice.waitFor(isTransfer(again.id, "done"), "done at alice");
    expect(accepted.skippedBytes as number).toBeGreaterThan(size / 4);
    expect(done.path).toBe(join(inbox, "backup.tar"));
    expect(sha256(readFileSync(join(inbox, "backup.tar")))).toBe(sha256(data));
    expect(readdirSync(inbox)).toEqual(["backup.tar"]);
  }, 120_000);
});
