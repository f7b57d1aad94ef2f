/**
 * A restarted peer is a new session at once: bob is SIGKILLed mid-transfer and started again
 * right away, before the registry could time his old session out. His new login tells alice
 * (`presence` with `fresh`), so she drops the session to the dead process at once: the
 * transfer on it fails with FILE_PEER_LOST, and the file sent again goes over a new session
 * and resumes from bob's partial file, instead of waiting a minute on the old one.
 */

import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killAll, requireBuild, startClient, tempDir } from "./harness.js";
import { isTransfer, randomFile, sha256, transferPair } from "./transfer-helpers.js";

beforeAll(requireBuild);
afterAll(killAll);

describe("a restarted peer", () => {
  it("is a new session at once: the re-sent file resumes without waiting on the dead one", async () => {
    const inbox = tempDir("inbox");
    const { alice, bob, port, bobDir } = await transferPair({
      aliceExtra: ["--transfer-rate", "4000000"],
      bobExtra: ["--accept-files", inbox],
    });
    const size = 12 * 1024 * 1024;
    const { data, src } = randomFile("big.bin", size);

    alice.send({ cmd: "sendFile", to: "bob", path: src });
    const first = await bob.waitFor((e) => e.event === "transfer" && e.state === "accepted", "accepted");
    await bob.waitFor(
      (e) => isTransfer(first.id, "progress")(e) && (e.bytes as number) >= size / 4,
      "a quarter at bob",
      60_000,
    );
    await bob.kill("SIGKILL");
    const bob2 = startClient("bob", port, bobDir, ["--accept-files", inbox]);
    await bob2.waitFor((e) => e.event === "ready", "bob ready again");
    // Well inside the session's 60 s idle timeout: only the fresh login can end it this soon.
    const lost = await alice.waitFor(isTransfer(first.id, "failed"), "the old session dropped", 10_000);
    expect(lost.code).toBe("FILE_PEER_LOST");
    expect(
      alice.events.some((e) => e.event === "presence" && e.user === "bob" && e.status === "offline"),
    ).toBe(false);

    const mark = alice.events.length;
    alice.send({ cmd: "sendFile", to: "bob", path: src });
    const again = await alice.waitFor(
      (e) => alice.events.indexOf(e) >= mark && e.event === "transfer" && e.state === "accepted",
      "accepted on a new session",
      10_000,
    );
    expect(again.skippedBytes as number).toBeGreaterThan(0);
    const done = await bob2.waitFor(isTransfer(again.id, "done"), "done at bob", 60_000);
    await alice.waitFor(isTransfer(again.id, "done"), "done at alice");
    expect(sha256(readFileSync(done.path as string))).toBe(sha256(data));
  }, 120_000);
});
