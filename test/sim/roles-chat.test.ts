/**
 * Chat across processes, run as real roles in the simulator (office.ts): the real registry
 * and real peer clients on a seeded LAN in virtual time. Each test prints its seed; a failure
 * names it too, and the same seed replays the same network.
 */

import { afterEach, describe, expect, it } from "vitest";
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

describe("chat between real roles in the simulator", () => {
  it.each([11, 12])("goes direct, with a receipt (seed %i, 2 %% loss)", async (seed) => {
    const o = open(seed, 0.02);
    await o.startRegistry();
    const alice = await o.login("alice");
    const bob = await o.login("bob");
    const id = await o.world.wait(alice.client.send("bob", "hi bob"), 30_000, "the send");
    await o.world.until(() => alice.of("delivered").some((d) => d.id === id), 30_000, "the receipt");
    expect(bob.of("message")).toEqual([
      expect.objectContaining({ id, from: "alice", text: "hi bob", via: "direct" }),
    ]);
    expect(alice.of("sent")).toEqual([expect.objectContaining({ id, to: "bob", via: "direct" })]);
  });

  it("falls back to the registry when no receipt comes, and the recipient sees the message once", async () => {
    const o = open(21);
    await o.startRegistry();
    const alice = await o.login("alice");
    const bob = await o.login("bob");
    const w = o.world;
    const first = await w.wait(alice.client.send("bob", "first"), 30_000, "the first send");
    await w.until(() => alice.of("delivered").some((d) => d.id === first), 30_000, "the first receipt");
    // Bob's receipts no longer reach Alice on their direct path; everything else still flows.
    w.blockOneWay(bob.host, alice.host);
    const second = await w.wait(alice.client.send("bob", "second"), 30_000, "the second send");
    // The direct copy arrives; no receipt does; Alice hands it to the registry, which pushes
    // it to Bob too. He shows it once, and the registry tells Alice it was delivered.
    await w.until(
      () => alice.of("sent").some((s) => s.id === second && s.via === "offline"),
      60_000,
      "the fallback",
    );
    await w.until(
      () => alice.of("delivered").some((d) => d.id === second),
      60_000,
      "the stored copy's receipt",
    );
    await w.advance(10_000);
    expect(bob.of("message").map((m) => m.text)).toEqual(["first", "second"]);
  });

  it("falls back to the registry for a peer that disappeared, who reads it on return", async () => {
    const o = open(31);
    await o.startRegistry();
    const alice = await o.login("alice");
    const bob = await o.login("bob");
    const w = o.world;
    await w.wait(alice.client.send("bob", "hello"), 30_000, "the first send");
    await w.until(() => bob.of("message").length === 1, 30_000, "the first message");
    // Bob's machine loses power: no logout, no CLOSE. The registry notices by his silence.
    await o.crashPeer(bob);
    await w.until(
      () => alice.of("presence").some((p) => p.user === "bob" && p.status === "offline"),
      120_000,
      "the registry to see Bob gone",
    );
    const id = await w.wait(alice.client.send("bob", "are you there?"), 60_000, "the send to Bob gone");
    await w.until(() => alice.of("sent").some((s) => s.id === id), 60_000, "the message stored");
    expect(alice.of("sent").find((s) => s.id === id)?.via).toBe("offline");
    // Bob comes back on a new machine (address) with the same account and message log.
    o.world.up(bob.host);
    const back = await o.login("bob", { register: false });
    await w.until(() => back.of("message").some((m) => m.id === id), 60_000, "Bob to get the stored message");
    expect(back.of("message").filter((m) => m.id === id)).toHaveLength(1);
    await w.until(
      () => alice.of("delivered").some((d) => d.id === id),
      60_000,
      "Alice to hear it was delivered",
    );
  });
});
