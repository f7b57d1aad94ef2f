/**
 * A folder sent with real processes on loopback: one number for the folder, one answer for
 * all its files, relative folders kept under a new folder in the receiver's download folder
 * (numbered the second time, never merged or overwritten), a symbolic link to outside the
 * folder not followed, and a declined folder that stops the sender.
 */

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Json,
  killAll,
  type Proc,
  requireBuild,
  startClient,
  startRegistry,
  tempDir,
} from "./harness.js";

beforeAll(requireBuild);
afterAll(killAll);

const TEST_MS = 90_000;
const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

/** Every file under `dir`, relative, sorted. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)))
    .sort();
}

function photos(): string {
  const base = tempDir("src");
  const root = join(base, "photos");
  mkdirSync(join(root, "2024", "march"), { recursive: true });
  writeFileSync(join(root, "a.jpg"), Buffer.alloc(70_000, 1));
  writeFileSync(join(root, "2024", "b.jpg"), Buffer.alloc(5_000, 2));
  writeFileSync(join(root, "2024", "march", "c d.jpg"), "three");
  writeFileSync(join(root, "2024", "empty"), "");
  writeFileSync(join(base, "secret.txt"), "outside");
  symlinkSync(join(base, "secret.txt"), join(root, "2024", "escape.txt"));
  return root;
}

async function pair(bobDownloads: string): Promise<{ alice: Proc; bob: Proc }> {
  const reg = await startRegistry(tempDir("registry"));
  const alice = startClient("alice", reg.port, tempDir("alice"), ["--register"]);
  await alice.waitFor((e) => e.event === "ready", "alice ready");
  const bob = startClient("bob", reg.port, tempDir("bob"), ["--register", "--download-dir", bobDownloads]);
  await bob.waitFor((e) => e.event === "ready", "bob ready");
  await alice.waitFor((e) => e.event === "presence" && e.user === "bob", "bob online");
  return { alice, bob };
}

const transfer = (state: string, n?: unknown) => (e: Json) =>
  e.event === "transfer" && e.state === state && (n === undefined || e.n === n);

describe("sending a folder", () => {
  it(
    "arrives whole under one answer, folders kept, a link to outside left out; a second copy is numbered",
    async () => {
      const downloads = tempDir("downloads");
      const { alice, bob } = await pair(downloads);
      const root = photos();

      alice.send({ cmd: "sendFile", to: "bob", path: root, id: "f1" });
      const left = await alice.waitFor(
        (e) => e.event === "error" && e.code === "FILE_READ_FAILED",
        "left out",
      );
      expect(left.message).toMatch(/escape\.txt: a symbolic link to outside the folder \(not followed\)/);
      const ok = await alice.waitFor((e) => e.id === "f1", "sendFile answer");
      expect(ok).toMatchObject({ event: "ok", cmd: "sendFile", n: expect.any(Number) });

      const offer = await bob.waitFor(transfer("offered"), "the folder's first offer");
      expect(offer.batch).toMatchObject({ name: "photos", files: 4, bytes: 75_005 });
      // One answer (by any of its files' ids) takes the whole folder, later files too.
      bob.send({ cmd: "acceptFile", id: offer.id });
      const done = await bob.waitForCount(transfer("done", offer.n), 4, "four files done");
      const last = done.find((e) => (e.batch as Json).filesDone === 4) as Json;
      expect((last.batch as Json).path).toBe(join(downloads, "photos"));
      expect(tree(join(downloads, "photos"))).toEqual([
        "2024/b.jpg",
        "2024/empty",
        "2024/march/c d.jpg",
        "a.jpg",
      ]);
      for (const f of tree(join(downloads, "photos")))
        expect(sha(join(downloads, "photos", f))).toBe(sha(join(root, f)));
      await alice.waitForCount(transfer("done", ok.n), 4, "four files sent");

      // The same folder again: a new folder beside the first, nothing overwritten.
      alice.send({ cmd: "sendFile", to: "bob", path: root });
      const again = await bob.waitFor((e) => transfer("offered")(e) && e.n !== offer.n, "second offer");
      bob.send({ cmd: "acceptFile", id: again.id });
      await bob.waitForCount(transfer("done", again.n), 4, "four more files");
      expect(readdirSync(downloads).sort()).toEqual(["photos", "photos (1)"]);
      expect(tree(join(downloads, "photos (1)"))).toEqual(tree(join(downloads, "photos")));
      expect(existsSync(join(downloads, "secret.txt"))).toBe(false);
    },
    TEST_MS,
  );

  it(
    "declined, stops the sender at once: no more offers, nothing written",
    async () => {
      const downloads = tempDir("downloads");
      const { alice, bob } = await pair(downloads);
      alice.send({ cmd: "sendFile", to: "bob", path: photos() });
      const offer = await bob.waitFor(transfer("offered"), "first offer");
      bob.send({ cmd: "declineFile", id: offer.id });
      const declined = await alice.waitFor(
        (e) => e.event === "transfer" && e.state === "failed" && e.code === "FILE_DECLINED",
        "declined at alice",
      );
      expect(declined).toMatchObject({ by: "peer", n: expect.any(Number) });
      // Give a wrongly continuing sender time to offer the rest.
      await new Promise((r) => setTimeout(r, 1500));
      const offers = alice.events.filter((e) => transfer("offered")(e));
      expect(offers.length).toBeLessThanOrEqual(2);
      expect(alice.events.filter((e) => e.event === "transfer" && e.state === "done")).toEqual([]);
      expect(readdirSync(downloads)).toEqual([]);
    },
    TEST_MS,
  );
});
