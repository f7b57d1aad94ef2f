/**
 * A full disk, for real: the receiver's download directory is a small tmpfs that this test
 * mounts (as root) in a temp directory. Both sides see the transfer fail with
 * FILE_DISK_FULL, the `.part` and its manifest stay, and once the tmpfs has grown the same
 * offer resumes from the chunks that were durable.
 *
 * Needs Linux, root and `mount`; elsewhere it says why it skips, and fails under CI=true.
 */

import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LabStatus, requireCapability } from "../netlab/lab-guard.js";
import { findCommand } from "../netlab/netns.js";
import { type Json, killAll, requireBuild, startClient, startRegistry, tempDir } from "./harness.js";

function mountTmpfs(dir: string, sizeBytes: number, remount = false): { ok: boolean; detail: string } {
  const options = `${remount ? "remount," : ""}size=${sizeBytes},mode=0700`;
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", options, "hallway-test", dir], { encoding: "utf8" });
  return { ok: r.status === 0, detail: (r.error?.message ?? r.stderr ?? "").trim() };
}

/** Lazy: detached at once even if a process still has a file open in it. */
function unmount(dir: string): void {
  spawnSync("umount", ["-l", dir]);
}

function probeTmpfs(): LabStatus {
  if (process.platform !== "linux")
    return { canRun: false, why: `tmpfs mounts need Linux, this is ${process.platform}` };
  if (process.getuid?.() !== 0)
    return { canRun: false, why: `mounting a tmpfs needs root, uid is ${process.getuid?.()}` };
  if (!findCommand("mount") || !findCommand("umount"))
    return { canRun: false, why: "`mount`/`umount` not on PATH" };
  const dir = mkdtempSync(join(tmpdir(), "hallway-tmpfs-probe-"));
  try {
    const r = mountTmpfs(dir, 1024 * 1024);
    if (!r.ok) return { canRun: false, why: `mount -t tmpfs failed: ${r.detail}` };
    unmount(dir);
    return { canRun: true, why: "root, tmpfs mounts work" };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const tmpfs = requireCapability("a full disk on a small tmpfs", probeTmpfs());

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
    const inbox = tempDir("full-inbox");
    const mount = mountTmpfs(inbox, 5 * 1024 * 1024);
    expect(mount.ok, mount.detail).toBe(true);
    mounted.unshift(inbox);

    const reg = await startRegistry(tempDir("registry"));
    const alice = startClient("alice", reg.port, tempDir("alice"), ["--register"]);
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
    const atBob = await bob.waitFor(isTransfer(offered.id, "failed"), "disk full at bob", 60_000);
    expect(atBob).toMatchObject({ code: "FILE_DISK_FULL", by: "local" });
    const atAlice = await alice.waitFor(isTransfer(offered.id, "failed"), "disk full at alice", 15_000);
    expect(atAlice).toMatchObject({ code: "FILE_DISK_FULL", by: "peer" });
    expect(readdirSync(inbox).sort()).toEqual(["backup.tar.part", "backup.tar.part.manifest"]);

    // Room again: the same file, offered again, continues the partial file.
    const grown = mountTmpfs(inbox, 32 * 1024 * 1024, true);
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
