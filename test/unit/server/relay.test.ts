import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Address } from "../../../src/protocol/address.js";
import { encodeRelay } from "../../../src/protocol/relay.js";
import { Relay } from "../../../src/server/relay.js";

let counter = 0;
const random = (n: number) => Uint8Array.from({ length: n }, () => (counter++ * 37) & 0xff);
const ALICE: Address = { host: "198.51.100.1", port: 4000 };
const BOB: Address = { host: "203.0.113.9", port: 5000 };
const where: Record<string, Address | undefined> = { alice: ALICE, bob: BOB };
const sessionAddress = (user: string) => where[user];
const inner = (n = 100) => new Uint8Array(n).fill(0x94);
const env = (token: string, n?: number) => encodeRelay(new Uint8Array(Buffer.from(token, "hex")), inner(n));

describe("Relay (the registry's last-resort path)", () => {
  it("forwards an envelope unchanged between the two users of a channel, each way", () => {
    const relay = new Relay({ bytesPerSecond: 1_000_000, random });
    const token = relay.open("alice", "bob", 0) as string;
    const e = env(token);
    expect(relay.forward(e, ALICE, 1, sessionAddress)).toEqual({ to: BOB, bytes: e });
    expect(relay.forward(e, BOB, 2, sessionAddress)).toEqual({ to: ALICE, bytes: e });
    expect(relay.counters).toMatchObject({ forwarded: 2, forwardedBytes: 2 * e.length, dropped: 0 });
  });

  it("drops an unknown token, a stranger's address, and a member whose partner is offline", () => {
    const relay = new Relay({ bytesPerSecond: 1_000_000, random });
    const token = relay.open("alice", "bob", 0) as string;
    const other = new Relay({ bytesPerSecond: 1_000_000, random }).open("alice", "bob", 0) as string;
    expect(relay.forward(env(other), ALICE, 1, sessionAddress)).toBeUndefined();
    expect(relay.forward(env(token), { host: "192.0.2.66", port: 4000 }, 1, sessionAddress)).toBeUndefined();
    expect(relay.forward(env(token), { ...ALICE, port: 4001 }, 1, sessionAddress)).toBeUndefined();
    expect(relay.forward(env(token), ALICE, 1, (u) => (u === "alice" ? ALICE : undefined))).toBeUndefined();
    expect(relay.counters).toMatchObject({ forwarded: 0, dropped: 4 });
  });

  it("holds each user to a byte budget: over it is dropped and counted, and it refills", () => {
    const relay = new Relay({ bytesPerSecond: 10_000, burstBytes: 2_000, random });
    const token = relay.open("alice", "bob", 0) as string;
    const e = env(token, 983); // 1000 bytes with the header
    expect(relay.forward(e, ALICE, 0, sessionAddress)).toBeDefined();
    expect(relay.forward(e, ALICE, 0, sessionAddress)).toBeDefined();
    expect(relay.forward(e, ALICE, 0, sessionAddress)).toBeUndefined();
    expect(relay.forward(e, BOB, 0, sessionAddress)).toBeDefined(); // bob has a budget of his own
    expect(relay.forward(e, ALICE, 100, sessionAddress)).toBeDefined(); // 100 ms = 1000 bytes
    expect(relay.counters).toMatchObject({ forwarded: 4, rateLimited: 1 });
  });

  it("forgets idle channels and a user's channels at logout, and caps channels per user", () => {
    const relay = new Relay({ bytesPerSecond: 1_000_000, idleMs: 1000, maxChannelsPerUser: 2, random });
    const idle = relay.open("alice", "bob", 0) as string;
    expect(relay.forward(env(idle), ALICE, 1001, sessionAddress)).toBeUndefined();
    relay.sweep(1001);
    expect(relay.size).toBe(0);

    const first = relay.open("alice", "bob", 2000) as string;
    relay.open("alice", "carol", 2000);
    relay.open("alice", "dave", 2000); // alice's third: her oldest goes
    expect(relay.size).toBe(2);
    expect(relay.forward(env(first), ALICE, 2001, sessionAddress)).toBeUndefined();
    relay.dropUser("alice");
    expect(relay.size).toBe(0);
  });

  it("sweeps only what expired: a channel in use, opened before an idle one, stays", () => {
    const relay = new Relay({ bytesPerSecond: 1_000_000, idleMs: 1000, random });
    const old = relay.open("alice", "bob", 0) as string;
    relay.open("alice", "carol", 100);
    relay.open("alice", "dave", 200);
    expect(relay.forward(env(old), ALICE, 900, sessionAddress)).toBeDefined();
    relay.sweep(1150); // carol's has been idle 1050 ms, dave's 950, the first 250
    expect(relay.size).toBe(2);
    expect(relay.forward(env(old), BOB, 1150, sessionAddress)).toBeDefined();
    relay.sweep(2100);
    expect(relay.size).toBe(1);
    relay.sweep(2151);
    expect(relay.size).toBe(0);
  });

  it("opens nothing when turned off", () => {
    const relay = new Relay({ bytesPerSecond: 0, random });
    expect(relay.enabled).toBe(false);
    expect(relay.open("alice", "bob", 0)).toBeUndefined();
  });

  it("never throws and forwards nothing for arbitrary bytes from anywhere", () => {
    const relay = new Relay({ bytesPerSecond: 1_000_000, random });
    relay.open("alice", "bob", 0);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1600 }), fc.boolean(), (bytes, fromAlice) => {
        expect(relay.forward(bytes, fromAlice ? ALICE : BOB, 1, sessionAddress)).toBeUndefined();
      }),
    );
  });
});
