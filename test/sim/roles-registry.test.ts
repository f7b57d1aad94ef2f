/**
 * The registry session across processes, as real roles in the simulator (office.ts): the
 * registry restarting, going silent, a second login of the same account. Each test prints
 * its seed.
 */

import { afterEach, describe, expect, it } from "vitest";
import { decodeDatagram } from "../../src/protocol/datagram.js";
import { SimOffice } from "./office.js";

let office: SimOffice | undefined;
afterEach(async () => {
  await office?.close();
  office = undefined;
});

function open(seed: number, loss = 0): SimOffice {
  console.log(`seed ${seed}${loss > 0 ? `, loss ${loss}` : ""}`);
  office = new SimOffice({ seed, faults: { loss } });
  return office;
}

describe("the registry session between real roles in the simulator", () => {
  it("survives the registry restarting mid-conversation: peers keep talking, the outbox drains", async () => {
    const o = open(41, 0.01);
    await o.startRegistry();
    const carol = await o.login("carol");
    await o.world.wait(carol.client.stop(), 30_000, "Carol to log out");
    const alice = await o.login("alice");
    const bob = await o.login("bob");
    const w = o.world;
    await w.wait(alice.client.send("bob", "before"), 30_000, "a send before");
    await w.until(() => bob.of("message").length === 1, 30_000, "the message before");

    await o.crashRegistry();
    // The direct session does not need the registry.
    await w.wait(alice.client.send("bob", "during"), 30_000, "a send during");
    await w.until(() => bob.of("message").length === 2, 30_000, "the message during");
    // A message for someone offline waits in the outbox while no registry answers.
    const forCarol = alice.client.send("carol", "for later");
    await w.advance(20_000);
    expect(alice.of("registry").map((e) => e.status)).toEqual(["connected", "lost"]);
    expect(alice.of("sent").some((s) => s.to === "carol")).toBe(false);

    await o.startRegistry();
    await w.until(
      () => [alice, bob].every((p) => p.of("registry").filter((e) => e.status === "connected").length === 2),
      60_000,
      "both to log in again",
    );
    const id = await w.wait(forCarol, 60_000, "the outbox to drain");
    await w.until(
      () => alice.of("sent").some((s) => s.id === id && s.via === "offline"),
      30_000,
      "it stored",
    );
    const back = await o.login("carol", { register: false }, "carol-again");
    await w.until(() => back.of("message").some((m) => m.id === id), 30_000, "Carol to get it");
    expect(back.of("message").map((m) => m.text)).toEqual(["for later"]);
    await w.wait(bob.client.send("alice", "after"), 30_000, "a send after");
    await w.until(() => alice.of("message").some((m) => m.text === "after"), 30_000, "the message after");
  });

  it("notices a silent registry by its heartbeat, reconnects with growing backoff, and comes back", async () => {
    const o = open(51);
    const heartbeatMs = 2_000;
    await o.startRegistry();
    const alice = await o.login("alice", { heartbeatMs, requestTimeoutMs: 1_000 });
    const w = o.world;
    // When each new session Alice opens to the registry first says hello (a handshake
    // initiation with a sender index not seen before; retransmissions repeat the index).
    const attempts: number[] = [];
    const seen = new Set<number>();
    w.onSend = (from, to, bytes) => {
      const d = decodeDatagram(bytes);
      if (from.host !== alice.host || to.host !== o.registryHost || !d.ok || d.value.kind !== "hs-init")
        return;
      if (seen.has(d.value.senderIndex)) return;
      seen.add(d.value.senderIndex);
      attempts.push(w.now);
    };
    await w.advance(3 * heartbeatMs);
    expect(alice.of("registry").map((e) => e.status)).toEqual(["connected"]);
    w.down(o.registryHost);
    const silentAt = w.now;
    await w.until(() => alice.of("registry").some((e) => e.status === "lost"), 30_000, "Alice to notice");
    // A heartbeat unanswered for its request timeout: within one interval and one timeout.
    expect(w.now - silentAt).toBeLessThanOrEqual(heartbeatMs + 1_000 + 100);
    await w.advance(60_000);
    // Retries back off: 250 ms·2ⁿ, jittered down to half, at most 10 s.
    const gaps = attempts.slice(1).map((t, i) => t - (attempts[i] as number));
    expect(attempts.length).toBeGreaterThanOrEqual(5);
    expect(gaps.every((g) => g <= 10_000 + 5_000 + 100)).toBe(true);
    expect(gaps.at(-1) ?? 0).toBeGreaterThan(gaps[0] ?? 0);
    w.up(o.registryHost);
    await w.until(
      () => alice.of("registry").filter((e) => e.status === "connected").length === 2,
      30_000,
      "Alice to come back",
    );
  });

  it("a second login of the same account takes the session over; the first device stops", async () => {
    const o = open(61);
    await o.startRegistry();
    const first = await o.login("alice", {}, "alice-desk");
    const bob = await o.login("bob");
    const w = o.world;
    const second = await o.login("alice", { register: false }, "alice-laptop");
    const ended = await w.wait(first.client.failed, 30_000, "the first device to be told");
    expect(ended.code).toBe("SESSION_REPLACED");
    expect(first.of("error").map((e) => e.code)).toEqual(["SESSION_REPLACED"]);
    expect(o.registry?.abuse.replaced).toBe(1);
    const id = await w.wait(bob.client.send("alice", "which one?"), 30_000, "Bob's send");
    await w.until(() => second.of("message").some((m) => m.id === id), 30_000, "the laptop to get it");
    await w.advance(10_000);
    expect(first.of("message")).toEqual([]);
    // The first device does not log in again by itself.
    expect(first.of("registry").filter((e) => e.status === "connected")).toHaveLength(1);
  });
});
