/**
 * Paths between real peers in the simulator (office.ts): a file transfer that starts on the
 * registry's relay, because a firewall drops the direct path, and moves to the direct path
 * when the firewall opens, without losing or repeating a byte. Prints its seed.
 */

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SimOffice } from "./office.js";
import { Prng } from "./prng.js";

let office: SimOffice | undefined;
afterEach(async () => {
  await office?.close();
  office = undefined;
});

describe("paths between real peers in the simulator", () => {
  it("upgrades a transfer from the relay to the direct path while it runs", async () => {
    const seed = 71;
    console.log(`seed ${seed}`);
    const o = new SimOffice({ seed, faults: { loss: 0.005 } });
    office = o;
    // The relay carries 512 KiB/s per user, so a 4 MiB file is still under way when the
    // firewall opens.
    await o.startRegistry({ relayBytesPerSecond: 512 * 1024 });
    const w = o.world;
    const alice = await o.login("alice", { pathRetryMs: 2_000 });
    const bob = await o.login("bob", { pathRetryMs: 2_000, autoAcceptDir: join(o.dir, "bob-files") });
    w.block(alice.host, bob.host);

    const body = new Prng(seed).bytes(4 * 1024 * 1024);
    const path = join(o.dir, "report.bin");
    writeFileSync(path, body);
    await w.wait(alice.client.sendFile("bob", path), 30_000, "the offer");
    await w.until(
      () => alice.of("path").some((p) => p.peer === "bob" && p.kind === "relay"),
      30_000,
      "the relay",
    );
    await w.until(
      () => alice.of("transfer").some((t) => t.state === "progress" && t.bytes > 0),
      30_000,
      "bytes to move on the relay",
    );
    const onRelay = w.counts.delivered;
    w.unblock(alice.host, bob.host);
    await w.until(
      () => alice.of("path").some((p) => p.peer === "bob" && p.kind !== "relay"),
      30_000,
      "the upgrade to a direct path",
    );
    const upgradedAt =
      alice
        .of("transfer")
        .filter((t) => t.state === "progress")
        .at(-1)?.bytes ?? 0;
    expect(upgradedAt).toBeLessThan(body.length);
    await w.until(
      () => bob.of("transfer").some((t) => t.state === "done"),
      120_000,
      "the transfer to finish",
    );
    const done = bob.of("transfer").find((t) => t.state === "done");
    expect(done?.sha256).toBe(createHash("sha256").update(body).digest("hex"));
    expect(
      createHash("sha256")
        .update(readFileSync(done?.path ?? ""))
        .digest("hex"),
    ).toBe(done?.sha256);
    expect(w.counts.delivered).toBeGreaterThan(onRelay);
    // The relay carried only what went before the upgrade.
    const relayed = o.registry?.relay.counters.forwardedBytes ?? 0;
    expect(relayed).toBeGreaterThan(0);
    expect(relayed).toBeLessThan(body.length * 1.5);
  });
});
