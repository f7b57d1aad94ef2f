/**
 * The sans-IO session host (src/transport/session-host.ts) on the seeded SimNetwork, with real
 * Noise handshakes and sealing: sessions and messages, file transfers across paths that change
 * under them (a fragment black hole, a smaller MTU, the relay, a move from the relay to a
 * direct path), fast links with the adapter's 1 ms timer, and the cost of idle sessions. Every
 * test names its seed; time is simulated.
 */

import { describe, expect, it } from "vitest";
import type { FileSender } from "../../src/files/file-sender.js";
import { DEFAULT_DATAGRAM_BYTES, MAX_DATAGRAM_BYTES } from "../../src/protocol/limits.js";
import { type LinkOptions, SimNetwork } from "../sim/sim-network.js";
import { makeFile, sha256 } from "./file-sim.js";
import { addressOf, HostNode, RelayNode } from "./host-sim.js";

function pair(seed: number, link: LinkOptions, linkMtuBytes?: number) {
  const net = new SimNetwork({ seed, link });
  const mtu = linkMtuBytes === undefined ? {} : { linkMtuBytes };
  const alice = new HostNode("alice", { seed, acceptIncoming: false, ...mtu });
  const bob = new HostNode("bob", { seed: seed + 1, ...mtu });
  net.addNode("alice", alice);
  net.addNode("bob", bob);
  bob.onOffer = (offer) => {
    const r = bob.receive(offer);
    r.accept();
    return r;
  };
  return { net, alice, bob };
}

function connect(net: SimNetwork, alice: HostNode, bob: HostNode, seed: number): void {
  alice.connect(bob, net.now);
  expect(
    net.runUntil(() => alice.session !== undefined && bob.session !== undefined, net.now + 10_000),
    `seed=${seed}: no session`,
  ).toBe(true);
}

/** The node's session (the test established it). */
function sessionOf(n: HostNode) {
  if (n.session === undefined) throw new Error(`${n.id} has no session`);
  return n.session;
}

/** The path statistics of the node's session. */
function pathOf(n: HostNode) {
  const stats = n.host.connectionStats(sessionOf(n));
  if (stats === undefined) throw new Error(`${n.id}'s session is gone`);
  return stats.path;
}

function sendFile(from: HostNode, id: string, file: Uint8Array, stream = 1): FileSender {
  return from.send({ id, stream, name: `${id}.bin`, sizeBytes: file.length, sha256: sha256(file), file });
}

describe("SessionHost on a simulated network", () => {
  it("opens a session and carries messages both ways, in order, over loss and reordering seed=101", () => {
    const seed = 101;
    const { net, alice, bob } = pair(seed, {
      delayMs: 2,
      lossRate: 0.1,
      reorderRate: 0.1,
      reorderDelayMs: 5,
    });
    connect(net, alice, bob, seed);
    for (let i = 0; i < 50; i++) {
      alice.sendChat(`a${i}`, net.now);
      bob.sendChat(`b${i}`, net.now);
      net.run(net.now + 1);
    }
    expect(
      net.runUntil(() => alice.chat.length === 50 && bob.chat.length === 50, net.now + 30_000),
      `seed=${seed}`,
    ).toBe(true);
    expect(bob.chat.map((c) => c.text)).toEqual(Array.from({ length: 50 }, (_, i) => `a${i}`));
    expect(alice.chat.map((c) => c.text)).toEqual(Array.from({ length: 50 }, (_, i) => `b${i}`));
    expect(alice.session?.remoteKey).toEqual(bob.identity.publicKey);
  });

  it("a close sends what was queued before it (the last answers, a goodbye), then the CLOSE seed=109", () => {
    const seed = 109;
    const { net, alice, bob } = pair(seed, { delayMs: 1 });
    connect(net, alice, bob, seed);
    // Queued and closed in the same turn: nothing of it was packed yet.
    for (let i = 0; i < 5; i++) bob.sendChat(`answer ${i}`, net.now);
    bob.host.close(sessionOf(bob), "goodbye", net.now);
    net.run(net.now + 1000);
    expect(alice.chat.map((c) => c.text)).toEqual(Array.from({ length: 5 }, (_, i) => `answer ${i}`));
    expect(alice.log.find((e) => e.type === "closed")).toMatchObject({ reason: "goodbye" });
  });

  it("a transfer survives a path that starts dropping fragments: black hole, fall back, finish seed=102", () => {
    const seed = 102;
    // A jumbo path first (the host knows its link carries 9000-byte frames)…
    const jumbo: LinkOptions = { delayMs: 1, mtuBytes: 9000, bandwidthBytesPerSecond: 100_000_000 };
    const { net, alice, bob } = pair(seed, jumbo, 9000);
    connect(net, alice, bob, seed);
    const file = makeFile(seed, 12_000_000);
    const sender = sendFile(alice, "black-hole", file);
    const msg = () => `seed=${seed} t=${net.now.toFixed(0)} path=${JSON.stringify(pathOf(alice))}`;
    net.runUntil(() => sender.stats.acknowledgedBytes > 3_000_000, 60_000);
    expect(pathOf(alice).datagramBytes, msg()).toBeGreaterThan(8192);
    // …then a firewall that drops every fragment, while large datagrams are in flight.
    net.setLinks("alice", "bob", { ...jumbo, mtuBytes: 1500, dropFragments: true });
    expect(
      net.runUntil(() => sender.state === "completed", net.now + 120_000),
      msg(),
    ).toBe(true);
    expect(Buffer.compare(bob.disks.get("black-hole")?.bytes as Uint8Array, file), msg()).toBe(0);
    const path = pathOf(alice);
    expect(path?.blackHoles, msg()).toBeGreaterThanOrEqual(1);
    expect(path?.plpmtuBytes, msg()).toBe(1472);
    expect(net.stats.fragmentDropped, msg()).toBeGreaterThan(0);
    // The chunks cut large before the fall were resent in pieces the path carries.
    expect(sender.stats.channel.fragmentsSent, msg()).toBeGreaterThan(0);
  });

  it("a link whose MTU shrinks mid-transfer keeps carrying reassembled fragments, and loss there shrinks the datagrams seed=103", () => {
    const seed = 103;
    const jumbo: LinkOptions = { delayMs: 1, mtuBytes: 9000, bandwidthBytesPerSecond: 100_000_000 };
    const { net, alice, bob } = pair(seed, jumbo, 9000);
    connect(net, alice, bob, seed);
    const file = makeFile(seed, 12_000_000);
    const sender = sendFile(alice, "mtu-shrinks", file);
    net.runUntil(() => sender.stats.acknowledgedBytes > 3_000_000, 60_000);
    // 1500-byte frames and 0.5 % loss per frame: an 8 KiB datagram (6 fragments) is lost 3 % of
    // the time, and its surviving fragments are wasted; smaller datagrams waste less.
    net.setLinks("alice", "bob", { ...jumbo, mtuBytes: 1500, lossRate: 0.005 });
    expect(
      net.runUntil(() => sender.state === "completed", net.now + 120_000),
      `seed=${seed}`,
    ).toBe(true);
    expect(Buffer.compare(bob.disks.get("mtu-shrinks")?.bytes as Uint8Array, file), `seed=${seed}`).toBe(0);
    const path = pathOf(alice);
    expect(path?.blackHoles, `seed=${seed} ${JSON.stringify(path)}`).toBe(0);
    expect(path?.datagramBytes, `seed=${seed} ${JSON.stringify(path)}`).toBeLessThanOrEqual(8192);
  });
});

describe("SessionHost through the relay", () => {
  function relayed(seed: number) {
    const net = new SimNetwork({ seed, link: { delayMs: 1, mtuBytes: 1500 } });
    const relay = new RelayNode("relay", seed, 50_000_000);
    const alice = new HostNode("alice", { seed, acceptIncoming: false });
    const bob = new HostNode("bob", { seed: seed + 1 });
    for (const n of [relay, alice, bob]) net.addNode(n.id, n);
    bob.onOffer = (offer) => {
      const r = bob.receive(offer);
      r.accept();
      return r;
    };
    // Both learn the channel's token from the registry (here: from the test) and open it.
    const token = relay.open("alice", "bob", 0);
    const viaAlice = alice.host.openRelay(addressOf("relay"), token);
    bob.host.openRelay(addressOf("relay"), token);
    const largest = { alice: 0 };
    net.setLink("alice", "relay", {
      delayMs: 1,
      drop: (d) => {
        largest.alice = Math.max(largest.alice, d.bytes.length);
        return false;
      },
    });
    alice.connect(viaAlice, 0);
    expect(net.runUntil(() => alice.session !== undefined && bob.session !== undefined, 10_000)).toBe(true);
    return { net, relay, alice, bob, largest };
  }

  it("carries a transfer in envelopes of at most 1,200 bytes and never probes for more seed=104", () => {
    const seed = 104;
    const { net, relay, alice, bob, largest } = relayed(seed);
    const file = makeFile(seed, 2_000_000);
    const sender = sendFile(alice, "over-relay", file);
    expect(
      net.runUntil(() => sender.state === "completed", 120_000),
      `seed=${seed}`,
    ).toBe(true);
    expect(Buffer.compare(bob.disks.get("over-relay")?.bytes as Uint8Array, file)).toBe(0);
    expect(relay.relay.counters.forwarded).toBeGreaterThan(1000);
    expect(largest.alice, "envelope included").toBeLessThanOrEqual(DEFAULT_DATAGRAM_BYTES + 17);
    const path = pathOf(alice);
    expect(path?.state).toBe("disabled");
    expect(path?.probesSent).toBe(0);
    expect(Object.keys(sender.stats.datagramSizes)).toEqual([String(DEFAULT_DATAGRAM_BYTES)]);
  });

  it("a transfer begun on the relay moves to a direct path and finishes there in larger datagrams seed=105", () => {
    const seed = 105;
    const { net, alice, bob } = relayed(seed);
    const file = makeFile(seed, 6_000_000);
    const sender = sendFile(alice, "relay-then-direct", file);
    net.runUntil(() => sender.stats.acknowledgedBytes > 1_000_000, 60_000);
    expect(sender.state).toBe("transferring");
    const before = { ...sender.stats.datagramSizes };
    // A punched hole answered: alice moves the live session; bob follows by roaming.
    alice.host.moveTo(sessionOf(alice), addressOf("bob"), net.now);
    expect(
      net.runUntil(() => sender.state === "completed", net.now + 120_000),
      `seed=${seed}`,
    ).toBe(true);
    expect(Buffer.compare(bob.disks.get("relay-then-direct")?.bytes as Uint8Array, file)).toBe(0);
    expect(bob.session?.address).toEqual(addressOf("alice"));
    expect(alice.log.some((e) => e.type === "address-changed")).toBe(true);
    expect(before).toEqual({ [String(DEFAULT_DATAGRAM_BYTES)]: before[String(DEFAULT_DATAGRAM_BYTES)] });
    const after = sender.stats.datagramSizes;
    expect(after["1472"] ?? 0, `seed=${seed} ${JSON.stringify(after)}`).toBeGreaterThan(0);
    expect(pathOf(alice).state).not.toBe("disabled");
  });
});

describe("SessionHost at high rates, with the adapter's 1 ms timer", () => {
  for (const [name, bytesPerSecond, megabytes] of [
    ["1 Gbit/s", 125_000_000, 24],
    ["10 Gbit/s", 1_250_000_000, 64],
  ] as const) {
    it(`keeps a ${name} link busy with one transfer (pacing, window and ACKs at that rate) seed=106`, () => {
      const seed = 106;
      const link: LinkOptions = {
        delayMs: 0.05,
        mtuBytes: 65_536,
        bandwidthBytesPerSecond: bytesPerSecond,
        queueLimitBytes: 4 * 1024 * 1024,
      };
      const { net, alice, bob } = pair(seed, link, 65_536);
      connect(net, alice, bob, seed);
      const file = makeFile(seed, megabytes * 1_000_000);
      const sender = sendFile(alice, "fast-link", file);
      const start = net.now;
      expect(
        net.runUntil(() => sender.state === "completed", net.now + 60_000),
        `seed=${seed}`,
      ).toBe(true);
      const seconds = (net.now - start) / 1000;
      const share = file.length / seconds / bytesPerSecond;
      const c = sender.stats.channel;
      console.log(
        `seed=${seed} ${name}: ${(file.length / seconds / 1e6).toFixed(0)} MB/s = ${(100 * share).toFixed(0)}% of the link; ` +
          `retransmitted ${c.retransmittedBytes} B, srtt ${c.srttMs?.toFixed(2)} ms, sizes ${JSON.stringify(sender.stats.datagramSizes)}`,
      );
      expect(Buffer.compare(bob.disks.get("fast-link")?.bytes as Uint8Array, file)).toBe(0);
      // Startup, the first round trips at the base size and the probes included.
      expect(share, `seed=${seed}`).toBeGreaterThan(0.8);
      expect(sender.stats.datagramSizes[String(MAX_DATAGRAM_BYTES)] ?? 0).toBeGreaterThan(0);
    });
  }
});

describe("SessionHost: idle sessions cost nothing", () => {
  it("a datagram on one of 200 sessions packs that one session, and quiet sessions wake only for their own timers seed=107", () => {
    const seed = 107;
    const net = new SimNetwork({ seed, link: { delayMs: 1 } });
    const registry = new HostNode("registry", { seed });
    net.addNode("registry", registry);
    const clients: HostNode[] = [];
    for (let i = 0; i < 200; i++) {
      const c = new HostNode(`client-${i}`, { seed: seed + 1 + i, acceptIncoming: false });
      net.addNode(c.id, c);
      c.connect(registry, net.now);
      clients.push(c);
    }
    expect(net.runUntil(() => registry.host.stats.sessions === 200, 30_000)).toBe(true);
    // Quiet for a while (below the 15 s keepalive): nothing is due, nothing is visited.
    net.run(net.now + 5_000);
    const before = registry.host.stats;
    net.run(net.now + 5_000);
    const quiet = registry.host.stats;
    expect(quiet.connectionsPacked - before.connectionsPacked).toBe(0);
    expect(quiet.timerWakeups - before.timerWakeups).toBe(0);
    // One client speaks: the registry visits that one session (to acknowledge), no other.
    (clients[17] as HostNode).sendChat("hello", net.now);
    net.runUntil(() => registry.otherMessages.length + registry.chat.length > 0, net.now + 1000);
    net.run(net.now + 20);
    const after = registry.host.stats;
    expect(after.connectionsPacked - quiet.connectionsPacked).toBeLessThanOrEqual(3);
  });
});
