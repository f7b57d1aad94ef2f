import { describe, expect, it } from "vitest";
import {
  isPrivateIPv4,
  type LanChange,
  LanDirectory,
  type LanSighting,
} from "../../../src/peer/lan-directory.js";
import { PEER_SERVICE, QueryPacer, readPeerResponse } from "../../../src/peer/lan-mdns.js";
import { encodePeerTxt } from "../../../src/protocol/mdns-txt.js";

const IFACES = [{ address: "10.1.2.3", netmask: "255.255.255.0" }];
const fp = (n: number) => `${n.toString(16).padStart(4, "0")}-0000-0000-0000-0000-0000-0000-0000`;
const ME = { user: "me", fingerprint: fp(0xffff) };

function sighting(
  user: string,
  n: number,
  extra: Partial<LanSighting> & { presence?: "online" | "away" } = {},
): LanSighting {
  const { presence = "online", ...rest } = extra;
  return {
    instance: `${user} (${n}).${PEER_SERVICE}`,
    txt: encodePeerTxt({ version: 1, user, fingerprint: fp(n), presence }),
    addresses: [`10.1.2.${(n % 250) + 4}`],
    port: 4000 + n,
    ttlSeconds: 120,
    ...rest,
  };
}

function directory(maxEntries?: number): LanDirectory {
  return new LanDirectory({
    me: ME,
    version: 1,
    interfaces: () => IFACES,
    ...(maxEntries === undefined ? {} : { maxEntries }),
  });
}

function drain(d: LanDirectory): LanChange[] {
  const out: LanChange[] = [];
  for (let c = d.pollChange(); c; c = d.pollChange()) out.push(c);
  return out;
}

describe("LAN directory", () => {
  it("adds a peer once, reports what changes, and keeps our own announcement out", () => {
    const d = directory();
    expect(d.handleSighting(sighting("bob", 1), 0)).toBe(true);
    expect(d.handleSighting(sighting("bob", 1), 1000)).toBe(true);
    expect(d.handleSighting(sighting("bob", 1, { presence: "away" }), 2000)).toBe(true);
    expect(d.handleSighting(sighting("me", 0xffff), 0)).toBe(false);
    expect(drain(d).map((c) => [c.kind, c.peer.presence])).toEqual([
      ["up", "online"],
      ["changed", "away"],
    ]);
    expect(d.reachable("bob")).toMatchObject({
      user: "bob",
      fingerprint: fp(1),
      address: { host: "10.1.2.5", port: 4001 },
      presence: "away",
      lastSeenMs: 2000,
      conflicting: false,
    });
  });

  it("expires an entry when its TTL runs out without a new sighting, and honours goodbyes", () => {
    const d = directory();
    d.handleSighting(sighting("bob", 1, { ttlSeconds: 10 }), 0);
    d.handleSighting(sighting("carol", 2), 0);
    d.handleSighting(sighting("bob", 1, { ttlSeconds: 10 }), 5_000);
    expect(d.pollTimeout()).toBe(15_000);
    d.handleTimeout(14_999);
    expect(d.size).toBe(2);
    d.handleTimeout(15_000);
    expect(d.list().map((p) => p.user)).toEqual(["carol"]);
    d.handleGoodbye(`CAROL (2).${PEER_SERVICE}`);
    expect(d.size).toBe(0);
    expect(
      drain(d)
        .filter((c) => c.kind === "down")
        .map((c) => (c.kind === "down" ? [c.peer.user, c.why] : [])),
    ).toEqual([
      ["bob", "expired"],
      ["carol", "goodbye"],
    ]);
  });

  it("never keeps an entry longer than two minutes, whatever TTL it claims", () => {
    const d = directory();
    d.handleSighting(sighting("bob", 1, { ttlSeconds: 4500 }), 0);
    expect(d.pollTimeout()).toBe(120_000);
  });

  it("marks two devices with one name and two keys as conflicting, and trusts neither", () => {
    const d = directory();
    d.handleSighting(sighting("bob", 1), 0);
    d.handleSighting(sighting("bob", 2), 0);
    expect(d.devicesOf("bob").map((p) => p.conflicting)).toEqual([true, true]);
    expect(d.reachable("bob")).toBeUndefined();
    d.handleGoodbye(`bob (2).${PEER_SERVICE}`);
    expect(d.reachable("bob")).toMatchObject({ fingerprint: fp(1), conflicting: false });
  });

  it("counts and drops malformed TXT, other versions, and non-private or foreign addresses", () => {
    const d = directory();
    expect(d.handleSighting({ ...sighting("bob", 1), txt: [Buffer.from("v=1")] }, 0)).toBe(false);
    expect(
      d.handleSighting(
        {
          ...sighting("bob", 1),
          txt: encodePeerTxt({ version: 2, user: "bob", fingerprint: fp(1), presence: "online" }),
        },
        0,
      ),
    ).toBe(false);
    // Public, private but on no subnet of ours, and a loopback claim.
    for (const host of ["8.8.8.8", "192.168.7.7", "127.0.0.1"]) {
      expect(d.handleSighting(sighting("bob", 1, { addresses: [host] }), 0)).toBe(false);
    }
    expect(d.handleSighting(sighting("bob", 1, { port: 0 }), 0)).toBe(false);
    expect(d.counts).toEqual({ malformed: 1, otherVersion: 1, foreign: 4, evicted: 0 });
    expect(d.size).toBe(0);
    // The address the answer came from counts first: a forged A record does not move a peer.
    d.handleSighting(sighting("bob", 1, { addresses: ["10.1.2.99"], referer: "10.1.2.50" }), 0);
    expect(d.reachable("bob")?.address.host).toBe("10.1.2.50");
  });

  it("is bounded under a flood: the least recently seen go first", () => {
    const d = directory(100);
    for (let i = 0; i < 1000; i++) d.handleSighting(sighting(`u${i}`, i), i);
    expect(d.size).toBe(100);
    expect(d.counts.evicted).toBe(900);
    // Seeing an old one again refreshes it: it outlives the newer ones that were not seen.
    d.handleSighting(sighting("u900", 900), 2000);
    for (let i = 1000; i < 1099; i++) d.handleSighting(sighting(`u${i}`, i), 3000 + i);
    expect(d.reachable("u900")).toBeDefined();
    expect(d.reachable("u901")).toBeUndefined();
  });

  it("keeps 500 peers of one LAN correct over repeated rounds of answers", () => {
    const d = new LanDirectory({
      me: ME,
      version: 1,
      interfaces: () => [{ address: "10.1.0.1", netmask: "255.255.0.0" }],
    });
    const peers = Array.from({ length: 500 }, (_, i) => ({
      ...sighting(`p${i}`, i),
      addresses: [`10.1.${Math.floor(i / 250)}.${(i % 250) + 2}`],
    }));
    // Three rounds of answers a minute apart; 50 peers leave after the first.
    for (let round = 0; round < 3; round++) {
      for (const [i, s] of peers.entries())
        if (round === 0 || i >= 50) d.handleSighting(s, round * 60_000 + i);
      d.handleTimeout(round * 60_000 + 1000);
    }
    expect(d.size).toBe(450);
    expect(d.reachable("p49")).toBeUndefined();
    expect(d.reachable("p499")?.address).toEqual({ host: "10.1.1.251", port: 4499 });
    expect(drain(d).filter((c) => c.kind === "up")).toHaveLength(500);
  });

  it("knows the RFC 1918 ranges", () => {
    for (const ip of ["10.0.0.1", "172.16.0.1", "172.31.255.254", "192.168.1.1"])
      expect(isPrivateIPv4(ip)).toBe(true);
    for (const ip of [
      "172.15.0.1",
      "172.32.0.1",
      "192.169.0.1",
      "11.0.0.1",
      "10.0.0.256",
      "::1",
      "fc00::1",
    ]) {
      expect(isPrivateIPv4(ip)).toBe(false);
    }
  });
});

describe("reading mDNS responses", () => {
  const instance = `alice (d57a).${PEER_SERVICE}`;
  const txt = [
    Buffer.from("v=1"),
    Buffer.from("user=alice"),
    Buffer.from(`fp=${fp(1)}`),
    Buffer.from("st=online"),
  ];

  it("finds each announced peer with its SRV, TXT and A records", () => {
    const packet = {
      answers: [{ name: PEER_SERVICE, type: "PTR", ttl: 120, data: instance }],
      additionals: [
        { name: instance, type: "SRV", ttl: 120, data: { target: "hw-1.local", port: 4242 } },
        { name: instance, type: "TXT", ttl: 120, data: txt },
        { name: "hw-1.local", type: "A", ttl: 120, data: "10.1.2.9" },
        { name: "other.local", type: "A", ttl: 120, data: "10.1.2.10" },
      ],
    };
    expect(readPeerResponse(packet, "10.1.2.9")).toEqual({
      sightings: [
        { instance, txt, addresses: ["10.1.2.9"], referer: "10.1.2.9", port: 4242, ttlSeconds: 120 },
      ],
      goodbyes: [],
    });
  });

  it("reads TTL 0 as a goodbye, and skips answers without SRV or TXT or of other services", () => {
    expect(
      readPeerResponse({ answers: [{ name: PEER_SERVICE, type: "PTR", ttl: 0, data: instance }] }, undefined),
    ).toEqual({ sightings: [], goodbyes: [instance] });
    expect(
      readPeerResponse(
        {
          answers: [
            { name: PEER_SERVICE, type: "PTR", ttl: 120, data: instance },
            { name: "_hallway._udp.local", type: "PTR", ttl: 120, data: "x._hallway._udp.local" },
          ],
        },
        undefined,
      ),
    ).toEqual({ sightings: [], goodbyes: [] });
  });
});

describe("query pacing (duplicate question suppression)", () => {
  it("puts its own query off while others ask, and asks when nobody did for requeryMs", () => {
    const pacer = new QueryPacer(60_000, () => 0.5);
    pacer.sent(0);
    expect(pacer.due(59_999)).toBe(false);
    expect(pacer.due(60_000)).toBe(true);
    // Another browser asked at 50 s: ours waits until 110 s, plus up to 20% jitter.
    pacer.seen(50_000);
    expect(pacer.due(100_000)).toBe(false);
    expect(pacer.waitMs(100_000)).toBe(10_000 + 6_000);
    expect(pacer.due(110_000)).toBe(true);
  });

  it("does not take the echo of its own query for another browser's", () => {
    const pacer = new QueryPacer(60_000, () => 0);
    pacer.sent(10_000);
    pacer.seen(10_003);
    expect(pacer.due(70_000)).toBe(true);
  });

  it("keeps 500 browsers to about one query per period, and every one asks in time for the TTL", () => {
    let state = 42;
    const random = () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state / 2 ** 31;
    };
    const pacers = Array.from({ length: 500 }, () => new QueryPacer(60_000, random));
    const wakeAt = pacers.map((_, i) => 1000 + i); // after the start-up queries
    const queries: number[] = [];
    for (let now = 1000; now < 30 * 60_000; now = Math.min(...wakeAt)) {
      const i = wakeAt.indexOf(now);
      const p = pacers[i] as QueryPacer;
      if (p.due(now)) {
        p.sent(now);
        queries.push(now);
        // Everyone else sees it a millisecond later.
        for (const [j, q] of pacers.entries()) if (j !== i) q.seen(now + 1);
      }
      wakeAt[i] = now + Math.max(1, p.waitMs(now));
    }
    const steady = queries.filter((t) => t > 5 * 60_000);
    console.log(`500 browsers, 25 min: ${steady.length} queries on the LAN`);
    const minutes = 25;
    expect(steady.length).toBeLessThanOrEqual(minutes + 2);
    // No gap between queries reaches the 120 s TTL: every entry is refreshed in time.
    const gaps = steady.slice(1).map((t, k) => t - (steady[k] as number));
    expect(Math.max(...gaps)).toBeLessThan(120_000);
  });
});
