/**
 * The sans-IO session host (src/transport/session-host.ts) on the seeded SimNetwork, with real
 * Noise handshakes and sealing: sessions and messages, fast links with the adapter's 1 ms timer
 * (file cores hosted directly on the session), and the cost of idle sessions. Transfers across
 * changing paths (a fragment black hole, a smaller MTU, the relay) run through the real wiring
 * in test/sim/file-paths.test.ts. Every test names its seed; time is simulated.
 */

import { describe, expect, it } from "vitest";
import type { FileSender } from "../../src/files/file-sender.js";
import { MAX_DATAGRAM_BYTES } from "../../src/protocol/limits.js";
import { makeFile, sha256 } from "./file-content.js";
import { HostNode } from "./host-sim.js";
import { type LinkOptions, SimNetwork } from "./sim-network.js";

function pair(seed: number, link: LinkOptions, linkMtuBytes?: number) {
  const net = new SimNetwork({ seed, link });
  const mtu = linkMtuBytes === undefined ? {} : { linkMtuBytes };
  const alice = new HostNode("alice", { seed, acceptIncoming: false, ...mtu });
  const bob = new HostNode("bob", { seed: seed + 1, ...mtu });
  net.addNode("alice", alice);
  net.addNode("bob", bob);
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

/** A sender of `file` on `from` and its accepted receiver on `to`, hosted on their session. */
function sendFile(from: HostNode, to: HostNode, id: string, file: Uint8Array, stream = 1): FileSender {
  const sender = from.hostSender(
    { id, stream, name: `${id}.bin`, sizeBytes: file.length, sha256: sha256(file) },
    file,
  );
  to.hostReceiver(sender.offer);
  return sender;
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
      const sender = sendFile(alice, bob, "fast-link", file);
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
      expect(Buffer.compare(bob.received("fast-link"), file)).toBe(0);
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
