/**
 * A full disk, for real: a small tmpfs mounted (as root) on a temp directory. Needs Linux,
 * root and `mount`; `tmpfs.canRun` says whether it can run here and `tmpfs.why` why not (the
 * tests skip with that reason, and fail under CI=true through `requireCapability`).
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LabStatus, requireCapability } from "../netlab/lab-guard.js";
import { findCommand } from "../netlab/netns.js";

/** Mounts a tmpfs of `sizeBytes` on `dir`, or (with `remount`) resizes the one there. */
export function mountTmpfs(dir: string, sizeBytes: number, remount = false): { ok: boolean; detail: string } {
  const options = `${remount ? "remount," : ""}size=${sizeBytes},mode=0700`;
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", options, "hallway-test", dir], { encoding: "utf8" });
  return { ok: r.status === 0, detail: (r.error?.message ?? r.stderr ?? "").trim() };
}

/** Lazy: detached at once even if a process still has a file open in it. */
export function unmount(dir: string): void {
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

export const tmpfs = requireCapability("a full disk on a small tmpfs", probeTmpfs());

/** Fills the file system of `dir` to the last byte with `name`, which the caller removes to make room. */
export function fillUp(dir: string, name = "filler"): string {
  const path = join(dir, name);
  const { bavail, bsize } = statfsSync(dir);
  writeFileSync(path, Buffer.alloc(Number(bavail) * Number(bsize)));
  return path;
}
