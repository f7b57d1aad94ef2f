/**
 * The registry's store on a full disk, for real: its data directory is a small tmpfs that the
 * test fills up. Offline messages whose batch cannot commit are answered STORE_FAILED with a
 * retry-after; the sending client keeps them, says so once per message, and stores them once
 * there is room again. Nothing is acknowledged that is not on disk: the recipient gets every
 * message, in order, exactly once.
 *
 * Needs Linux, root and `mount`; elsewhere it says why it skips, and fails under CI=true.
 */

import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Json, killAll, requireBuild, startClient, startRegistry, tempDir } from "./harness.js";
import { fillUp, mountTmpfs, tmpfs, unmount } from "./tmpfs.js";

describe.skipIf(!tmpfs.canRun)("the registry on a full disk", () => {
  const mounted: string[] = [];
  beforeAll(requireBuild);
  afterAll(async () => {
    // Before killAll removes the temp directories, which would fail on a mount point.
    for (const dir of mounted.splice(0)) unmount(dir);
    await killAll();
  });

  it("answers STORE_FAILED while the disk is full, and the client stores the messages once there is room", async () => {
    const dataDir = tempDir("full-registry");
    const mount = mountTmpfs(dataDir, 8 * 1024 * 1024);
    expect(mount.ok, mount.detail).toBe(true);
    mounted.unshift(dataDir);
    const reg = await startRegistry(dataDir);
    const alice = startClient("alice", reg.port, tempDir("alice"), ["--register"]);
    await alice.waitFor((e) => e.event === "ready", "alice ready");
    const bobDir = tempDir("bob");
    const bob = startClient("bob", reg.port, bobDir, ["--register"]);
    await bob.waitFor((e) => e.event === "ready", "bob ready");
    bob.send({ cmd: "quit" });
    expect(await bob.exited).toBe(0);
    await alice.waitFor(
      (e) => e.event === "presence" && e.user === "bob" && e.status === "offline",
      "bob offline",
    );

    const filler = fillUp(dataDir);
    const texts = Array.from({ length: 20 }, (_, i) => `while full ${i}`);
    for (const text of texts) alice.send({ cmd: "send", to: "bob", text });
    const refused = await alice.waitForCount(
      (e) => e.event === "error" && e.code === "STORE_FAILED",
      1,
      "STORE_FAILED for a message",
    );
    expect(refused[0]).toMatchObject({ retryAfterMs: 1000 });
    expect(String(refused[0]?.message)).toMatch(/full|SQLITE_FULL/i);
    expect(alice.events.filter((e) => e.event === "sent" && e.via === "offline")).toEqual([]);

    rmSync(filler);
    const sent = await alice.waitForCount(
      (e) => e.event === "sent" && e.via === "offline",
      20,
      "stored",
      30_000,
    );
    expect(new Set(sent.map((e) => e.id)).size).toBe(20);

    const bob2 = startClient("bob", reg.port, bobDir);
    await bob2.waitFor((e) => e.event === "ready", "bob ready again");
    const isFull = (e: Json) =>
      e.event === "message" && typeof e.text === "string" && e.text.startsWith("while full");
    await bob2.waitForCount(isFull, 20, "the stored messages");
    await new Promise((r) => setTimeout(r, 300)); // room for a duplicate to show up
    expect(bob2.events.filter(isFull).map((e) => e.text)).toEqual(texts);
  });
});
