/**
 * "Done" means the file is there: the receiver's download folder becomes read-only while a
 * file arrives (new names can no longer be made in it; the open `.part` still takes writes).
 * Every byte arrives and checks out, but the file cannot be renamed into place, so neither
 * side reports done: both fail with FILE_WRITE_FAILED, the receiver keeps the `.part` for a
 * resume and says so, and once the folder is writable again the same offer finishes.
 *
 * Read-only for root too: as root the folder gets the immutable attribute (`chattr +i`,
 * which root's permission override does not pass); otherwise it is chmod 0500.
 */

import { spawnSync } from "node:child_process";
import { chmodSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findCommand } from "../netlab/netns.js";
import { killAll, requireBuild, tempDir } from "./harness.js";
import { isTransfer, randomFile, sha256, transferPair } from "./transfer-helpers.js";

const asRoot = process.getuid?.() === 0;

function readOnly(dir: string, on: boolean): void {
  if (!asRoot) {
    chmodSync(dir, on ? 0o500 : 0o700);
    return;
  }
  const r = spawnSync("chattr", [on ? "+i" : "-i", dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`chattr ${on ? "+i" : "-i"} ${dir}: ${r.stderr || r.error?.message}`);
}

describe("file transfer into a folder made read-only", () => {
  const locked: string[] = [];
  beforeAll(() => {
    requireBuild();
    // Not a silent skip: without chattr, root cannot make a folder read-only for itself.
    if (asRoot && !findCommand("chattr")) throw new Error("running as root needs `chattr` (e2fsprogs)");
  });
  afterAll(async () => {
    for (const dir of locked.splice(0)) readOnly(dir, false);
    await killAll();
  });

  it("both sides fail with FILE_WRITE_FAILED, none says done, and the kept data resumes", async () => {
    const size = 3 * 1024 * 1024;
    const inbox = tempDir("ro-inbox");
    // Slow enough that the folder changes while the file is on its way.
    const { alice, bob } = await transferPair({
      aliceExtra: ["--transfer-rate", "1500000"],
      bobExtra: ["--accept-files", inbox],
    });
    const { data, src } = randomFile("report.bin", size);

    alice.send({ cmd: "sendFile", to: "bob", path: src });
    const offered = await alice.waitFor((e) => e.event === "transfer" && e.state === "offered", "offered");
    // A third of the way in, so that the manifest lists bytes already.
    await bob.waitFor(
      (e) => isTransfer(offered.id, "progress")(e) && (e.bytes as number) >= size / 3,
      "a third at bob",
      60_000,
    );
    readOnly(inbox, true);
    locked.push(inbox);

    const atBob = await bob.waitFor(isTransfer(offered.id, "failed"), "failed at bob", 60_000);
    expect(atBob).toMatchObject({ code: "FILE_WRITE_FAILED", by: "local", partial: "kept" });
    const atAlice = await alice.waitFor(isTransfer(offered.id, "failed"), "failed at alice", 15_000);
    expect(atAlice).toMatchObject({ code: "FILE_WRITE_FAILED", by: "peer" });
    expect(String(atAlice.message)).toContain("kept for a resume");
    // Every byte had arrived: the failure is the rename, not the data.
    expect(atBob.bytes).toBe(size);
    expect([...alice.events, ...bob.events].filter(isTransfer(offered.id, "done"))).toEqual([]);
    expect(readdirSync(inbox)).toContain("report.bin.part");
    expect(readdirSync(inbox)).not.toContain("report.bin");

    // Writable again: the same file offered again finishes from what was kept.
    readOnly(inbox, false);
    locked.splice(locked.indexOf(inbox), 1);
    const mark = alice.events.length;
    alice.send({ cmd: "sendFile", to: "bob", path: src });
    const again = await alice.waitFor(
      (e) => alice.events.indexOf(e) >= mark && e.event === "transfer" && e.state === "offered",
      "offered again",
    );
    const accepted = await alice.waitFor(isTransfer(again.id, "accepted"), "accepted again");
    const done = await bob.waitFor(isTransfer(again.id, "done"), "done at bob", 60_000);
    await alice.waitFor(isTransfer(again.id, "done"), "done at alice");
    // The manifest, rewritten in place at the failure, lists every byte: nothing is sent again.
    expect(accepted.skippedBytes).toBe(size);
    expect(done.path).toBe(join(inbox, "report.bin"));
    expect(sha256(readFileSync(join(inbox, "report.bin")))).toBe(sha256(data));
    expect(readdirSync(inbox)).toEqual(["report.bin"]);
  }, 120_000);
});
