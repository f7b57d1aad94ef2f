/**
 * UdpHost's relay channels on real loopback sockets: a session whose handshake and data go
 * through a relay (the registry's `Relay` forwarding on a third socket), then moves to the
 * direct address without a new handshake, and the far side follows.
 */

import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { type HostedConnection, isRelayAddress, UdpHost } from "../../../src/net/udp-host.js";
import type { Address } from "../../../src/protocol/address.js";
import { generateIdentity } from "../../../src/protocol/noise.js";
import { encodeRelay } from "../../../src/protocol/relay.js";
import { Relay } from "../../../src/server/relay.js";

const random = (n: number) => new Uint8Array(randomBytes(n));
const hosts: UdpHost[] = [];

function host(acceptIncoming: boolean): UdpHost {
  const h = new UdpHost({ identity: generateIdentity(random), acceptIncoming, host: "127.0.0.1", port: 0 });
  hosts.push(h);
  return h;
}

function next<T>(register: (done: (value: T) => void) => void): Promise<T> {
  return new Promise((resolve) => register(resolve));
}

afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

describe("UdpHost relay channels", () => {
  it("carry a handshake and messages, then the session moves to the direct path", async () => {
    const registry = host(false);
    const alice = host(false);
    const bob = host(true);
    const [r, a, b] = await Promise.all([registry.start(), alice.start(), bob.start()]);
    const relay = new Relay({ bytesPerSecond: 10_000_000, random });
    const sessions: Record<string, Address> = { alice: a, bob: b };
    registry.handlers.onRelay = (bytes, from) => {
      const out = relay.forward(bytes, from, performance.now(), (u) => sessions[u]);
      if (out) registry.sendRaw(out.bytes, out.to);
      return true;
    };
    const token = Buffer.from(relay.open("alice", "bob", performance.now()) as string, "hex");
    const aliceVia = alice.openRelay(r, token);
    const bobVia = bob.openRelay(r, token);
    expect(isRelayAddress(aliceVia) && isRelayAddress(bobVia)).toBe(true);
    expect(alice.openRelay(r, token)).toEqual(aliceVia); // the same channel, the same address

    const bobSees = next<HostedConnection>((done) => {
      bob.handlers.onEstablished = done;
    });
    const toBob = await alice.connect(aliceVia);
    const atBob = await bobSees;
    expect(atBob.address).toEqual(bobVia);

    const got: string[] = [];
    bob.handlers.onMessage = (_c, m) => got.push(Buffer.from(m).toString());
    alice.send(toBob, new TextEncoder().encode("through the relay"));
    await expect.poll(() => got).toEqual(["through the relay"]);
    expect(relay.counters.forwarded).toBeGreaterThanOrEqual(4); // three handshake messages, data

    // Up to the direct path: alice moves, bob follows her newest authenticated datagram.
    const forwardedBefore = relay.counters.forwarded;
    const bobMoved = next<HostedConnection>((done) => {
      bob.handlers.onAddressChanged = done;
    });
    alice.moveTo(toBob, b);
    expect((await bobMoved).address).toEqual(a);
    alice.send(toBob, new TextEncoder().encode("direct now"));
    await expect.poll(() => got).toEqual(["through the relay", "direct now"]);
    const reply: string[] = [];
    alice.handlers.onMessage = (_c, m) => reply.push(Buffer.from(m).toString());
    bob.send(atBob, new TextEncoder().encode("and back"));
    await expect.poll(() => reply).toEqual(["and back"]);
    // Nothing more went through the relay after the move, beyond what was in flight.
    expect(relay.counters.forwarded - forwardedBefore).toBeLessThanOrEqual(2);
  });

  it("drops envelopes for unknown channels or from anyone but the relay, and counts them", async () => {
    const registry = host(false);
    const bob = host(true);
    const stranger = host(false);
    const [r, b] = await Promise.all([registry.start(), bob.start(), stranger.start()]);
    const token = random(16);
    bob.openRelay(r, token);
    stranger.sendRaw(encodeRelay(token, new Uint8Array(1200).fill(0x91)), b); // not from the relay
    stranger.sendRaw(encodeRelay(random(16), new Uint8Array(64)), b); // no such channel
    await expect.poll(() => bob.foreignDropped).toBe(2);
    expect(bob.stats.received).toBe(0);
  });
});
