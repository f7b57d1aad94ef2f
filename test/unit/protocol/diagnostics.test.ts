import { channel, subscribe, unsubscribe } from "node:diagnostics_channel";
import { afterEach, describe, expect, it } from "vitest";
import type { Address } from "../../../src/protocol/address.js";
import { DIAGNOSTICS_CHANNELS } from "../../../src/protocol/diagnostics.js";
import { Endpoint, type EndpointDiagnostic } from "../../../src/protocol/endpoint.js";
import type { AckFrame, SegmentFrame } from "../../../src/protocol/frames.js";
import { generateIdentity } from "../../../src/protocol/noise.js";
import { encodeRelay } from "../../../src/protocol/relay.js";
import { Relay, type RelayDiagnostic } from "../../../src/server/relay.js";
import { type ChannelDiagnostic, ReliableChannel } from "../../../src/transport/reliable-channel.js";
import { Prng } from "../../sim/prng.js";

const seeded = (seed: number) => {
  const prng = new Prng(seed);
  return (n: number) => prng.bytes(n);
};
const A: Address = { host: "10.0.0.1", port: 4000 };
const B: Address = { host: "10.0.0.2", port: 5000 };

/** Subscribes for the test's duration; returns what was published. */
const subscriptions: Array<[string, (m: unknown) => void]> = [];
function listen<T>(name: string): T[] {
  const seen: T[] = [];
  const fn = (m: unknown) => seen.push(m as T);
  subscribe(name, fn);
  subscriptions.push([name, fn]);
  return seen;
}
afterEach(() => {
  for (const [name, fn] of subscriptions.splice(0)) unsubscribe(name, fn);
});

describe("diagnostics_channel", () => {
  it("is silent and costs a property read while nobody listens", () => {
    for (const name of Object.values(DIAGNOSTICS_CHANNELS)) expect(channel(name).hasSubscribers).toBe(false);
    // A channel published to with nobody listening: the counters still count.
    const ep = new Endpoint({
      identity: generateIdentity(seeded(1)),
      random: seeded(2),
      acceptIncoming: true,
    });
    ep.handleDatagram(new Uint8Array([0xff, 1, 2]), A, 0);
    expect(Object.values(ep.stats.dropped)).toEqual([1]);
  });

  it("hallway:endpoint: every datagram counted, sent, received or dropped with its code", () => {
    const seen = listen<EndpointDiagnostic>(DIAGNOSTICS_CHANNELS.endpoint);
    const a = new Endpoint({
      identity: generateIdentity(seeded(3)),
      random: seeded(4),
      acceptIncoming: false,
    });
    const b = new Endpoint({
      identity: generateIdentity(seeded(5)),
      random: seeded(6),
      acceptIncoming: true,
    });
    b.handleDatagram(new Uint8Array([0xff, 1, 2]), A, 0);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ endpoint: b, counter: "dropped", address: A });
    expect(b.stats.dropped[seen[0]?.code as keyof typeof b.stats.dropped]).toBe(1);

    // A handshake: each datagram is published once as sent by one side and received by the other.
    a.connect(B, 1);
    for (let turn = 0; turn < 4; turn++) {
      for (const [from, to, fromAddr] of [
        [a, b, A],
        [b, a, B],
      ] as const) {
        for (let t = from.pollTransmit(); t !== undefined; t = from.pollTransmit()) {
          to.handleDatagram(Uint8Array.from(Buffer.concat(t.bytes)), fromAddr, 2 + turn);
        }
      }
    }
    const sent = seen.filter((m) => m.counter === "sent");
    const received = seen.filter((m) => m.counter === "received");
    expect(sent.length).toBeGreaterThanOrEqual(3); // HS_INIT, HS_RESP, HS_FINAL, confirmation
    expect(received).toHaveLength(sent.length);
    expect(sent.filter((m) => m.endpoint === a)).toHaveLength(a.stats.sent);
    expect(received.filter((m) => m.endpoint === b)).toHaveLength(b.stats.received);
    expect(sent.find((m) => m.endpoint === a)?.address).toEqual(B);
  });

  it("hallway:channel: what changed in a channel's counters, with its stats", () => {
    const seen = listen<ChannelDiagnostic>(DIAGNOSTICS_CHANNELS.channel);
    const tx = new ReliableChannel({ stream: 0, maxSegmentPayloadBytes: 100, maxMessageBytes: 4096 });
    const rx = new ReliableChannel({ stream: 0, maxSegmentPayloadBytes: 100, maxMessageBytes: 4096 });
    tx.send(new Uint8Array(250), 0); // three segments
    const frames: SegmentFrame[] = [];
    for (let f = tx.pollFrame(0, 1200); f !== undefined; f = tx.pollFrame(0, 1200))
      frames.push(f as SegmentFrame);
    expect(frames).toHaveLength(3);
    const fromTx = seen.filter((m) => m.channel === tx);
    expect(fromTx.reduce((n, m) => n + (m.changed.segmentsSent ?? 0), 0)).toBe(3);
    expect(fromTx.at(-1)?.stats.segmentsSent).toBe(3);

    // The second segment is lost: the receiver buffers the third and acknowledges at once.
    rx.handleSegment(frames[0] as SegmentFrame, 1);
    rx.handleSegment(frames[2] as SegmentFrame, 1);
    rx.handleSegment(frames[2] as SegmentFrame, 1); // a duplicate
    expect(seen.filter((m) => m.channel === rx).map((m) => m.changed)).toEqual([{ duplicatesDropped: 1 }]);
    const ack = rx.pollFrame(1, 1200) as AckFrame;
    tx.handleAck(ack, 2);
    expect(seen.at(-1)).toMatchObject({ channel: tx, changed: { deliveredSegments: 2 } });
    // The timer resends the hole; the message is whole once it arrives.
    tx.handleTimeout(tx.pollTimeout() as number);
    const resent = tx.pollFrame(400, 1200) as SegmentFrame;
    expect(seen.at(-1)).toMatchObject({ channel: tx, changed: { retransmits: 1, segmentsSent: 1 } });
    rx.handleSegment(resent, 401);
    expect(rx.pollMessage()).toHaveLength(250);
    expect(seen.at(-1)).toMatchObject({ channel: rx, changed: { messagesDelivered: 1 } });
  });

  it("hallway:relay: every envelope forwarded or dropped", () => {
    const seen = listen<RelayDiagnostic>(DIAGNOSTICS_CHANNELS.relay);
    const relay = new Relay({ bytesPerSecond: 1_000_000, random: seeded(7) });
    const token = relay.open("alice", "bob", 0) as string;
    const where: Record<string, Address> = { alice: A, bob: B };
    const env = encodeRelay(new Uint8Array(Buffer.from(token, "hex")), new Uint8Array(50));
    relay.forward(env, A, 1, (u) => where[u]);
    relay.forward(env, { host: "10.9.9.9", port: 1 }, 1, (u) => where[u]);
    expect(seen.map((m) => [m.outcome, m.bytes])).toEqual([
      ["forwarded", env.length],
      ["dropped", env.length],
    ]);
    expect(seen[1]?.counters).toMatchObject({ forwarded: 1, dropped: 1 });
    expect(seen[1]?.from).toEqual({ host: "10.9.9.9", port: 1 });
  });

  it("stops publishing when the subscriber leaves", () => {
    const seen = listen<RelayDiagnostic>(DIAGNOSTICS_CHANNELS.relay);
    const relay = new Relay({ bytesPerSecond: 1_000_000, random: seeded(8) });
    relay.forward(new Uint8Array(20), A, 1, () => undefined);
    for (const [name, fn] of subscriptions.splice(0)) unsubscribe(name, fn);
    relay.forward(new Uint8Array(20), A, 2, () => undefined);
    expect(seen).toHaveLength(1);
    expect(relay.counters.dropped).toBe(2);
  });
});
