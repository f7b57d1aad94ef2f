/**
 * The walking skeleton end to end, with real processes and real UDP on loopback:
 * register, presence, a direct message with a receipt, 100 offline messages that survive
 * a SIGKILL of the registry, delivered in order and exactly once.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Json, killAll, requireBuild, startClient, startRegistry, tempDir } from "./harness.js";

beforeAll(requireBuild);
afterAll(killAll);

describe("walking skeleton", () => {
  it("delivers direct and offline messages across a registry crash", async () => {
    const regDir = tempDir("registry");
    const reg = await startRegistry(regDir);
    const alice = startClient("alice", reg.port, tempDir("alice"), ["--register"]);
    await alice.waitFor((e) => e.event === "ready", "alice ready");
    const bobDir = tempDir("bob");
    const bob = startClient("bob", reg.port, bobDir, ["--register"]);
    await bob.waitFor((e) => e.event === "ready", "bob ready");

    // Each sees the other's presence.
    await alice.waitFor(
      (e) => e.event === "presence" && e.user === "bob" && e.status === "online",
      "bob online",
    );
    await bob.waitFor(
      (e) => e.event === "presence" && e.user === "alice" && e.status === "online",
      "alice online",
    );

    // A direct message with a delivery receipt.
    alice.send({ cmd: "send", to: "bob", text: "hello bob" });
    const sent = await alice.waitFor((e) => e.event === "sent" && e.to === "bob", "sent");
    expect(sent.via).toBe("direct");
    const got = await bob.waitFor((e) => e.event === "message" && e.text === "hello bob", "message at bob");
    expect(got).toMatchObject({ from: "alice", to: "bob", via: "direct", id: sent.id });
    await alice.waitFor((e) => e.event === "delivered" && e.id === sent.id, "receipt");

    // bob quits; alice sees him go and sends 100 messages, which the registry stores.
    bob.send({ cmd: "quit" });
    expect(await bob.exited).toBe(0);
    await alice.waitFor(
      (e) => e.event === "presence" && e.user === "bob" && e.status === "offline",
      "bob offline",
    );
    for (let i = 0; i < 100; i++) alice.send({ cmd: "send", to: "bob", text: `offline ${i}` });
    const stored = await alice.waitForCount((e) => e.event === "sent" && e.via === "offline", 100, "stored");
    expect(stored).toHaveLength(100);

    // The registry dies without warning and comes back on the same port and data.
    await reg.proc.kill("SIGKILL");
    const reg2 = await startRegistry(regDir, reg.port);
    expect(reg2.port).toBe(reg.port);

    // alice reconnects and logs in again by herself.
    await alice.waitForCount((e) => e.event === "ready", 2, "alice logged in again", 30_000);

    // bob logs in and gets all 100, in order, exactly once.
    const bob2 = startClient("bob", reg.port, bobDir);
    await bob2.waitFor((e) => e.event === "ready", "bob ready again");
    const isOffline = (e: Json) =>
      e.event === "message" && typeof e.text === "string" && e.text.startsWith("offline ");
    await bob2.waitForCount(isOffline, 100, "offline messages");
    // Give any duplicate a chance to show up before counting.
    await new Promise((r) => setTimeout(r, 500));
    const texts = bob2.events.filter(isOffline).map((e) => e.text);
    expect(texts).toEqual(Array.from({ length: 100 }, (_, i) => `offline ${i}`));
    expect(bob2.events.filter(isOffline).every((e) => e.via === "offline")).toBe(true);

    // Delivery receipts reach alice for the stored messages too.
    const storedIds = new Set(stored.map((e) => e.id));
    await alice.waitForCount(
      (e) => e.event === "delivered" && storedIds.has(e.id as string),
      100,
      "offline receipts",
    );

    // History has both directions of the conversation.
    bob2.send({ cmd: "history", with: "alice", limit: 500 });
    const hist = await bob2.waitFor((e) => e.event === "history", "history");
    expect((hist.messages as unknown[]).length).toBe(101);
  });
});
