/**
 * File transfers through the real wiring (file-peers.ts) across paths that change under them,
 * on a seeded SimWorld: a fragment black hole, a smaller MTU, the registry's relay (the real
 * `Relay` on a socket of the LAN), and a move from the relay to a direct path. Every test
 * names its seed; time is virtual.
 */

import { afterEach, describe, expect, it } from "vitest";
import type { Address } from "../../src/protocol/address.js";
import { DEFAULT_DATAGRAM_BYTES } from "../../src/protocol/limits.js";
import { Relay } from "../../src/server/relay.js";
import { type FilePeer, filePair, makeFile, removeFolders, sha256 } from "./file-peers.js";
import { Prng } from "./prng.js";
import { type LinkFaults, SimWorld } from "./role-sim.js";

afterEach(removeFolders);

function hex(bytes: Uint8Array): string {
  return Buffer.from(sha256(bytes)).toString("hex");
}

/** Waits until `peer` has acknowledged (sender) or made durable (receiver) `bytes` of transfer `id`. */
async function progressed(world: SimWorld, peer: FilePeer, id: string, bytes: number): Promise<void> {
  await world.until(
    () => peer.bytesOf(peer.transfers.numberOf(id)) >= bytes,
    60_000,
    `${bytes} bytes of ${id}`,
  );
}

const JUMBO: LinkFaults = { delayMs: 1, jitterMs: 0, mtuBytes: 9000, bytesPerSecond: 100_000_000 };

describe("a transfer across a path that changes", () => {
  it("survives a path that starts dropping fragments: black hole, fall back, finish seed=102", async () => {
    const seed = 102;
    const world = new SimWorld({ seed });
    // A jumbo path first (the hosts know their link carries 9000-byte frames)…
    const jumbo = { linkMtuBytes: 9000 };
    const { alice, bob } = await filePair(world, { link: JUMBO, alice: jumbo, bob: jumbo });
    const file = makeFile(seed, 12_000_000);
    const id = await alice.sendFile("black-hole.bin", file);
    const msg = () => `seed=${seed} t=${world.now.toFixed(0)} path=${JSON.stringify(alice.path())}`;
    await progressed(world, alice, id, 3_000_000);
    expect(alice.path().datagramBytes, msg()).toBeGreaterThan(8192);
    // …then a firewall that drops every fragment, while large datagrams are in flight.
    world.setLinks(alice.host, bob.host, { ...JUMBO, mtuBytes: 1500, dropFragments: true });
    await world.until(() => alice.endOf(id) !== undefined, 120_000, "the end");
    const end = alice.endOf(id);
    expect(end?.state, msg()).toBe("done");
    await world.until(() => bob.endOf(id) !== undefined, 1_000, "the receiver's end");
    expect(hex(bob.received(id)), msg()).toBe(hex(file));
    const path = alice.path();
    expect(path.blackHoles, msg()).toBeGreaterThanOrEqual(1);
    expect(path.plpmtuBytes, msg()).toBe(1472);
    expect(end?.pathMtuBytes, msg()).toBe(1472);
    expect(world.faultCounts.fragmentDropped, msg()).toBeGreaterThan(0);
    // What was lost in the hole was sent again, in pieces the path carries.
    expect(end?.retransmittedBytes, msg()).toBeGreaterThan(0);
  });

  it("a link whose MTU shrinks mid-transfer keeps carrying reassembled fragments, and loss there shrinks the datagrams seed=103", async () => {
    const seed = 103;
    const world = new SimWorld({ seed });
    const jumbo = { linkMtuBytes: 9000 };
    const { alice, bob } = await filePair(world, { link: JUMBO, alice: jumbo, bob: jumbo });
    const file = makeFile(seed, 12_000_000);
    const id = await alice.sendFile("mtu-shrinks.bin", file);
    await progressed(world, alice, id, 3_000_000);
    // 1500-byte frames and 0.5 % loss per frame: an 8 KiB datagram (6 fragments) is lost 3 % of
    // the time, and its surviving fragments are wasted; smaller datagrams waste less.
    world.setLinks(alice.host, bob.host, { ...JUMBO, mtuBytes: 1500, loss: 0.005 });
    await world.until(() => alice.endOf(id) !== undefined, 120_000, "the end");
    const path = alice.path();
    const msg = `seed=${seed} ${JSON.stringify(path)}`;
    expect(alice.endOf(id)?.state, msg).toBe("done");
    await world.until(() => bob.endOf(id) !== undefined, 1_000, "the receiver's end");
    expect(hex(bob.received(id)), msg).toBe(hex(file));
    expect(path.blackHoles, msg).toBe(0);
    expect(path.datagramBytes, msg).toBeLessThanOrEqual(8192);
  });
});

describe("a transfer through the relay", () => {
  /**
   * The registry's relay role on a node of the LAN: the real `Relay` forwards envelopes
   * between the two members of the channel it opened, within its byte budget.
   */
  async function relayed(seed: number) {
    const world = new SimWorld({ seed, faults: { delayMs: 1, jitterMs: 0 } });
    const { alice, bob } = await filePair(world, { connect: false });
    const relayHost = world.newHost();
    const rng = new Prng(seed ^ 0x4e1a);
    const relay = new Relay({ bytesPerSecond: 50_000_000, random: (n) => rng.bytes(n) });
    const members = new Map<string, Address>([
      ["alice", alice.address],
      ["bob", bob.address],
    ]);
    const socket = world.socketsOn(relayHost).open("udp4");
    const at = await world.wait(socket.bind(7743), 1_000, "the relay's socket");
    socket.onDatagram((bytes, from) => {
      const out = relay.forward(bytes, from, world.now, (user) => members.get(user));
      if (out) socket.send(out.bytes, out.to);
    });
    // Both learn the channel's token from the registry (here: from the test) and open it.
    const token = new Uint8Array(Buffer.from(relay.open("alice", "bob", world.now) as string, "hex"));
    const via = alice.udp.openRelay(at, token);
    bob.udp.openRelay(at, token);
    let largestToRelay = 0;
    world.onSend = (from, to, bytes) => {
      if (from.host === alice.host && to.host === relayHost)
        largestToRelay = Math.max(largestToRelay, bytes.length);
    };
    alice.conn = await world.wait(alice.udp.connect(via), 10_000, "the handshake through the relay");
    await world.until(() => bob.conn !== undefined, 10_000, "bob's session");
    return { world, relay, alice, bob, largest: () => largestToRelay };
  }

  it("carries a transfer in envelopes of at most 1,200 bytes and never probes for more seed=104", async () => {
    const seed = 104;
    const { world, relay, alice, bob, largest } = await relayed(seed);
    const file = makeFile(seed, 2_000_000);
    const id = await alice.sendFile("over-relay.bin", file);
    await world.until(() => alice.endOf(id) !== undefined, 120_000, "the end");
    const end = alice.endOf(id);
    const msg = `seed=${seed} ${JSON.stringify(end)}`;
    expect(end?.state, msg).toBe("done");
    await world.until(() => bob.endOf(id) !== undefined, 1_000, "the receiver's end");
    expect(hex(bob.received(id)), msg).toBe(hex(file));
    expect(relay.counters.forwarded, msg).toBeGreaterThan(1000);
    expect(largest(), "envelope included").toBeLessThanOrEqual(DEFAULT_DATAGRAM_BYTES + 17);
    const path = alice.path();
    expect(path.state, msg).toBe("disabled");
    expect(path.probesSent, msg).toBe(0);
    expect(Object.keys(end?.datagramSizes ?? {}), msg).toEqual([String(DEFAULT_DATAGRAM_BYTES)]);
  });

  it("a transfer begun on the relay moves to a direct path and finishes there in larger datagrams seed=105", async () => {
    const seed = 105;
    const { world, alice, bob, largest } = await relayed(seed);
    const file = makeFile(seed, 6_000_000);
    const id = await alice.sendFile("relay-then-direct.bin", file);
    await progressed(world, alice, id, 1_000_000);
    expect(alice.endOf(id), `seed=${seed}`).toBeUndefined();
    expect(largest(), "envelope included").toBeLessThanOrEqual(DEFAULT_DATAGRAM_BYTES + 17);
    // A punched hole answered: alice moves the live session; bob follows by roaming.
    alice.udp.moveTo(alice.session, bob.address);
    await world.until(() => alice.endOf(id) !== undefined, 120_000, "the end");
    const end = alice.endOf(id);
    const msg = `seed=${seed} ${JSON.stringify(end)}`;
    expect(end?.state, msg).toBe("done");
    await world.until(() => bob.endOf(id) !== undefined, 1_000, "the receiver's end");
    expect(hex(bob.received(id)), msg).toBe(hex(file));
    expect(bob.session.address, msg).toEqual(alice.address);
    expect(end?.datagramSizes?.["1472"] ?? 0, msg).toBeGreaterThan(0);
    expect(alice.path().state, msg).not.toBe("disabled");
  });
});
