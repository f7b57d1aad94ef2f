import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ErrorCode } from "../../../src/errors.js";
import type { Address } from "../../../src/protocol/address.js";
import { encodeData, encodeDataHeader, encodeHsInit, HS_INIT_BYTES } from "../../../src/protocol/datagram.js";
import {
  DEFAULT_PROLOGUE,
  Endpoint,
  type EndpointEvent,
  type EndpointOptions,
  MAX_INITIATOR_PAYLOAD_BYTES,
  MAX_RESPONDER_PAYLOAD_BYTES,
} from "../../../src/protocol/endpoint.js";
import { MAX_FRAMES_BYTES } from "../../../src/protocol/limits.js";
import { generateIdentity, HandshakeState, type Identity } from "../../../src/protocol/noise.js";
import { Prng } from "../../sim/prng.js";

// --- deterministic helpers -----------------------------------------------------------------------

/** xorshift32 byte generator: the same seed always gives the same keys, indexes and losses. */
/** Deterministic bytes for keys and indexes (the simulator's seeded generator). */
function seeded(seed: number): (n: number) => Uint8Array {
  const prng = new Prng(seed);
  return (n) => prng.bytes(n);
}

function chance(random: (n: number) => Uint8Array): number {
  const b = random(4);
  return (
    (((b[0] as number) << 24) | ((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number)) >>> 0
  );
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);
const kindOf = (bytes: Uint8Array): number => (bytes[0] as number) & 0x0f;
const HS_INIT = 1;
const HS_RESP = 2;
const HS_FINAL = 3;
const DATA = 4;
const COOKIE = 7;

const totalDropped = (ep: Endpoint): number =>
  Object.values(ep.stats.dropped).reduce((a, b) => a + (b ?? 0), 0);
const handled = (ep: Endpoint): number => ep.stats.received + totalDropped(ep);

// --- the packet pump -----------------------------------------------------------------------------

interface Packet {
  from: Address;
  to: Address;
  bytes: Uint8Array;
  at: number;
}

type Timed = EndpointEvent & { at: number };

const keyOf = (a: Address): string => `${a.host}:${a.port}`;

/**
 * A tiny deterministic network: zero latency, FIFO delivery, a virtual clock that jumps to the
 * next deadline any endpoint asked for, and a `filter` to drop (or capture) packets.
 */
class Net {
  now = 0;
  readonly log: Packet[] = [];
  /** Answers to HS_INIT larger than the HS_INIT: must stay empty (anti-amplification). */
  readonly amplification: string[] = [];
  filter: (p: Packet) => boolean = () => true;
  private readonly nodes = new Map<string, Endpoint>();
  private readonly addresses = new Map<Endpoint, Address>();
  private readonly eventLog = new Map<Endpoint, Timed[]>();
  private readonly queue: Packet[] = [];

  add(ep: Endpoint, address: Address): Endpoint {
    this.nodes.set(keyOf(address), ep);
    this.addresses.set(ep, address);
    this.eventLog.set(ep, []);
    return ep;
  }

  /** The endpoint's host now sends from, and is reachable at, another address (NAT rebinding). */
  move(ep: Endpoint, address: Address): void {
    this.nodes.delete(keyOf(this.addresses.get(ep) as Address));
    this.nodes.set(keyOf(address), ep);
    this.addresses.set(ep, address);
  }

  events(ep: Endpoint): Timed[] {
    this.collect(ep);
    return this.eventLog.get(ep) as Timed[];
  }

  eventsOf<T extends EndpointEvent["type"]>(
    ep: Endpoint,
    type: T,
  ): Array<Extract<EndpointEvent, { type: T }> & { at: number }> {
    return this.events(ep).filter((e) => e.type === type) as Array<
      Extract<EndpointEvent, { type: T }> & { at: number }
    >;
  }

  sent(kind: number, from?: Endpoint): Packet[] {
    const addr = from && this.addresses.get(from);
    return this.log.filter(
      (p) => kindOf(p.bytes) === kind && (addr === undefined || keyOf(p.from) === keyOf(addr)),
    );
  }

  /** Hand a datagram straight to whoever listens at `to`. */
  inject(bytes: Uint8Array, from: Address, to: Address): void {
    this.deliver({ from, to, bytes, at: this.now });
    this.drain();
  }

  flush(): void {
    for (const ep of this.nodes.values()) this.queue.push(...this.collect(ep));
    this.drain();
  }

  run(until: number): void {
    this.flush();
    for (;;) {
      let next: number | undefined;
      for (const ep of this.nodes.values()) {
        const t = ep.pollTimeout();
        if (t !== undefined && (next === undefined || t < next)) next = t;
      }
      if (next === undefined || next > until) break;
      this.now = Math.max(this.now, next);
      for (const ep of this.nodes.values()) ep.handleTimeout(this.now);
      this.flush();
    }
    this.now = Math.max(this.now, until);
  }

  private drain(): void {
    for (let p = this.queue.shift(); p !== undefined; p = this.queue.shift()) {
      if (this.filter(p)) this.deliver(p);
    }
  }

  private deliver(p: Packet): void {
    const dst = this.nodes.get(keyOf(p.to));
    if (dst === undefined) return;
    dst.handleDatagram(p.bytes, p.from, this.now);
    const answers = this.collect(dst);
    if (p.bytes[0] === 0x91) {
      for (const a of answers) {
        if (a.bytes.length > p.bytes.length) this.amplification.push(`${a.bytes.length} > ${p.bytes.length}`);
      }
    }
    this.queue.push(...answers);
  }

  private collect(ep: Endpoint): Packet[] {
    const from = this.addresses.get(ep) as Address;
    const out: Packet[] = [];
    for (let t = ep.pollTransmit(); t !== undefined; t = ep.pollTransmit()) {
      const p = { from, to: t.to, bytes: new Uint8Array(Buffer.concat(t.bytes)), at: this.now };
      this.log.push(p);
      out.push(p);
    }
    for (let e = ep.pollEvent(); e !== undefined; e = ep.pollEvent()) {
      this.eventLog.get(ep)?.push({ ...e, at: this.now });
    }
    return out;
  }
}

const ALICE: Address = { host: "10.0.0.1", port: 1000 };
const BOB: Address = { host: "10.0.0.2", port: 2000 };

interface Pair {
  net: Net;
  a: Endpoint;
  b: Endpoint;
  aId: Identity;
  bId: Identity;
}

function pair(seed = 1, aOpts: Partial<EndpointOptions> = {}, bOpts: Partial<EndpointOptions> = {}): Pair {
  const net = new Net();
  const aRandom = seeded(seed * 2 + 1);
  const bRandom = seeded(seed * 2 + 2);
  const aId = generateIdentity(aRandom);
  const bId = generateIdentity(bRandom);
  const a = net.add(new Endpoint({ identity: aId, random: aRandom, acceptIncoming: false, ...aOpts }), ALICE);
  const b = net.add(new Endpoint({ identity: bId, random: bRandom, acceptIncoming: true, ...bOpts }), BOB);
  return { net, a, b, aId, bId };
}

/** Connect Alice to Bob and run until both are established; returns both session ids. */
function established(p: Pair, payload?: Uint8Array): { aSession: number; bSession: number } {
  const aSession = p.a.connect(BOB, p.net.now, { payload });
  p.net.run(p.net.now);
  const bEst = p.net.eventsOf(p.b, "established");
  expect(p.net.eventsOf(p.a, "established").map((e) => e.session)).toEqual([aSession]);
  expect(bEst.length).toBe(1);
  return { aSession, bSession: (bEst[0] as { session: number }).session };
}

/** An HS_INIT from a throwaway initiator, as an attacker or a real peer would send it. */
function hsInit(senderIndex: number, seed: number): Uint8Array {
  const random = seeded(seed);
  const hs = new HandshakeState({
    initiator: true,
    staticKeys: generateIdentity(random),
    prologue: DEFAULT_PROLOGUE,
    random,
  });
  const msg1 = hs.writeMessage(new Uint8Array(0));
  if (!msg1.ok) throw new Error("cannot build msg1");
  return encodeHsInit(senderIndex, msg1.value);
}

// --- tests ---------------------------------------------------------------------------------------

describe("Endpoint handshake", () => {
  it("completes XX, carries both handshake payloads, and goes quiet once confirmed", () => {
    const p = pair(1, {}, { responderPayload: (from) => text(`welcome ${from.host}`) });
    const aSession = p.a.connect(BOB, 0, { payload: text("hello, I am alice") });
    expect(p.a.send(aSession, text("too early"), 0)).toBe(false);
    p.net.run(0);

    const [aEst] = p.net.eventsOf(p.a, "established");
    const [bEst] = p.net.eventsOf(p.b, "established");
    expect(aEst).toMatchObject({
      session: aSession,
      initiator: true,
      address: BOB,
      remoteKey: p.bId.publicKey,
    });
    expect(str(aEst?.remotePayload ?? new Uint8Array())).toBe("welcome 10.0.0.1");
    expect(bEst).toMatchObject({ initiator: false, address: ALICE, remoteKey: p.aId.publicKey });
    expect(str(bEst?.remotePayload ?? new Uint8Array())).toBe("hello, I am alice");
    // msg1, msg2, msg3 and the responder's empty confirmation; the confirmation is no "data".
    expect(p.net.log.map((x) => kindOf(x.bytes))).toEqual([HS_INIT, HS_RESP, HS_FINAL, DATA]);
    expect(p.net.sent(HS_INIT)[0]?.bytes.length).toBe(HS_INIT_BYTES);
    expect(p.net.eventsOf(p.a, "data")).toEqual([]);
    expect(p.a.sessionInfo(aSession)).toMatchObject({
      established: true,
      address: BOB,
      remoteKey: p.bId.publicKey,
    });

    p.net.run(10_000);
    expect(p.net.log.length).toBe(4);
    expect(p.a.stats).toEqual({ dropped: {}, sent: 2, received: 2 });
    expect(p.b.stats).toEqual({ dropped: {}, sent: 2, received: 2 });
    expect(p.net.amplification).toEqual([]);
  });

  it("gives each session a distinct non-zero index", () => {
    const p = pair(2);
    const ids = new Set<number>();
    for (let i = 0; i < 50; i++) ids.add(p.a.connect({ host: "10.9.9.9", port: 1 + i }, 0));
    expect(ids.size).toBe(50);
    expect(ids.has(0)).toBe(false);
    // Even with degenerate randomness, indexes stay unique and non-zero.
    const zeros = new Endpoint({
      identity: p.aId,
      random: (n) => new Uint8Array(n).fill(0),
      acceptIncoming: false,
    });
    const z1 = zeros.connect(BOB, 0);
    const z2 = zeros.connect(BOB, 0);
    expect([z1, z2]).toEqual([1, 2]);
  });

  it("recovers a lost msg1 by retransmission", () => {
    const p = pair(3);
    let dropped = 0;
    p.net.filter = (x) => !(kindOf(x.bytes) === HS_INIT && dropped++ === 0);
    p.a.connect(BOB, 0);
    p.net.run(200);
    expect(p.net.eventsOf(p.a, "established")).toEqual([]);
    p.net.run(1000);
    const [est] = p.net.eventsOf(p.a, "established");
    expect(est?.at).toBe(250);
    expect(p.net.eventsOf(p.b, "established").length).toBe(1);
  });

  it("recovers a lost msg2: the duplicate msg1 gets the cached msg2, byte for byte", () => {
    const p = pair(4);
    let dropped = 0;
    p.net.filter = (x) => !(kindOf(x.bytes) === HS_RESP && dropped++ === 0);
    p.a.connect(BOB, 0);
    p.net.run(1000);
    const replies = p.net.sent(HS_RESP);
    expect(replies.length).toBe(2);
    expect(replies[1]?.bytes).toEqual(replies[0]?.bytes);
    expect(p.net.eventsOf(p.a, "established").length).toBe(1);
    expect(p.net.eventsOf(p.b, "established").length).toBe(1);
    expect(p.b.stats.received).toBe(3); // msg1, its duplicate, msg3
  });

  it("recovers a lost msg3; data sent before the responder has keys is dropped, not misread", () => {
    const p = pair(5);
    let dropped = 0;
    p.net.filter = (x) => !(kindOf(x.bytes) === HS_FINAL && dropped++ === 0);
    const aSession = p.a.connect(BOB, 0);
    p.net.run(0);
    expect(p.net.eventsOf(p.a, "established").length).toBe(1);
    expect(p.net.eventsOf(p.b, "established").length).toBe(0);
    expect(p.a.send(aSession, text("early"), 0)).toBe(true);
    p.net.run(0);
    expect(p.b.stats.dropped.CRYPTO_DECRYPT_FAILED).toBe(1);

    p.net.run(250);
    expect(p.net.eventsOf(p.b, "established").length).toBe(1);
    expect(p.a.send(aSession, text("on time"), 250)).toBe(true);
    p.net.run(5000);
    expect(p.net.eventsOf(p.b, "data").map((e) => str(e.payload))).toEqual(["on time"]);
    expect(p.net.sent(HS_FINAL).length).toBe(2);
  });

  it("resends msg3 until the responder's confirmation gets through, which the responder repeats", () => {
    const p = pair(6);
    let dropped = 0;
    p.net.filter = (x) => !(kindOf(x.bytes) === DATA && dropped++ === 0);
    p.a.connect(BOB, 0);
    p.net.run(10_000);
    expect(p.net.sent(HS_FINAL).length).toBe(2);
    expect(p.net.sent(DATA, p.b).length).toBe(2);
    expect(p.net.eventsOf(p.b, "established").length).toBe(1);
    expect(p.net.eventsOf(p.a, "failed")).toEqual([]);
  });

  it("does not let a spoofed HS_RESP or HS_FINAL disturb a handshake in progress", () => {
    const p = pair(7);
    const held = new Map<number, Packet>();
    p.net.filter = (x) => {
      const kind = kindOf(x.bytes);
      if ((kind !== HS_RESP && kind !== HS_FINAL) || held.has(kind)) return true;
      held.set(kind, x);
      return false;
    };
    const aSession = p.a.connect(BOB, 0);
    p.net.run(0);
    const msg2 = held.get(HS_RESP) as Packet;
    const forged2 = Uint8Array.from(msg2.bytes);
    forged2[forged2.length - 1] = (forged2[forged2.length - 1] as number) ^ 1;
    p.net.inject(forged2, BOB, ALICE);
    expect(p.a.stats.dropped.CRYPTO_HANDSHAKE_FAILED).toBe(1);
    expect(p.a.sessionInfo(aSession)?.established).toBe(false);
    p.net.inject(msg2.bytes, BOB, ALICE);
    expect(p.a.sessionInfo(aSession)?.established).toBe(true);

    // Bob is still "responding": a forged msg3 is refused, the genuine one then completes.
    const msg3 = held.get(HS_FINAL) as Packet;
    const forged3 = Uint8Array.from(msg3.bytes);
    forged3[20] = (forged3[20] as number) ^ 0x80;
    p.net.inject(forged3, ALICE, BOB);
    expect(p.b.stats.dropped.CRYPTO_HANDSHAKE_FAILED).toBe(1);
    expect(p.net.eventsOf(p.b, "established")).toEqual([]);
    p.net.inject(msg3.bytes, ALICE, BOB);
    expect(p.net.eventsOf(p.b, "established").length).toBe(1);
    expect(p.net.eventsOf(p.a, "failed")).toEqual([]);
  });

  it("fails with CRYPTO_UNEXPECTED_KEY and never sends msg3 when the responder's key is not the expected one", () => {
    const p = pair(8);
    const mallory = generateIdentity(seeded(99));
    const aSession = p.a.connect(BOB, 0, { expectedRemoteKey: mallory.publicKey, payload: text("secret") });
    p.net.run(10_000);
    const failed = p.net.eventsOf(p.a, "failed");
    expect(failed).toMatchObject([{ session: aSession, code: "CRYPTO_UNEXPECTED_KEY" }]);
    expect(failed[0]?.message).toMatch(/not the expected/);
    expect(p.net.eventsOf(p.a, "established")).toEqual([]);
    expect(p.net.sent(HS_FINAL)).toEqual([]);
    expect(p.a.sessionInfo(aSession)).toBeUndefined();
    // The responder's half-open session expires quietly, counted.
    expect(p.net.events(p.b)).toEqual([]);
    expect(p.b.stats.dropped.CRYPTO_HANDSHAKE_TIMEOUT).toBe(1);
  });

  it("completes when the responder's key is the expected one", () => {
    const p = pair(9);
    p.a.connect(BOB, 0, { expectedRemoteKey: p.bId.publicKey });
    p.net.run(0);
    expect(p.net.eventsOf(p.a, "established").length).toBe(1);
  });

  it("fails with CRYPTO_HANDSHAKE_TIMEOUT after backing off, when nobody answers", () => {
    const p = pair(10);
    const aSession = p.a.connect({ host: "10.0.0.99", port: 9 }, 0);
    expect(p.a.pollTimeout()).toBe(250);
    p.net.run(20_000);
    expect(p.net.sent(HS_INIT).map((x) => x.at)).toEqual([0, 250, 750, 1750, 3750]);
    expect(p.net.eventsOf(p.a, "failed")).toMatchObject([
      { session: aSession, code: "CRYPTO_HANDSHAKE_TIMEOUT", at: 5000 },
    ]);
    expect(p.a.pollTimeout()).toBeUndefined();
    expect(p.a.sessionInfo(aSession)).toBeUndefined();
  });

  it("fails with CRYPTO_HANDSHAKE_TIMEOUT when the responder never confirms", () => {
    const p = pair(11);
    p.net.filter = (x) => kindOf(x.bytes) !== DATA;
    p.a.connect(BOB, 0);
    p.net.run(20_000);
    expect(p.net.eventsOf(p.a, "established").length).toBe(1);
    expect(p.net.eventsOf(p.a, "failed")).toMatchObject([{ code: "CRYPTO_HANDSHAKE_TIMEOUT", at: 5000 }]);
    expect(p.net.sent(HS_FINAL).map((x) => x.at)).toEqual([0, 250, 750, 1750, 3750]);
  });

  it("keeps many sessions' timers in order: every retransmit and deadline fires exactly on time", () => {
    const p = pair(14);
    const random = seeded(14);
    const starts = new Map<number, number>();
    let t = 0;
    for (let i = 0; i < 200; i++) {
      t += chance(random) % 40;
      p.net.run(t);
      starts.set(p.a.connect({ host: "10.0.0.99", port: 1 + i }, t), t);
    }
    p.net.run(100_000);
    const failed = p.net.eventsOf(p.a, "failed");
    expect(failed.length).toBe(200);
    for (const f of failed) expect(f.at).toBe((starts.get(f.session) as number) + 5000);
    const sendsPerPort = new Map<number, number[]>();
    for (const x of p.net.sent(HS_INIT))
      sendsPerPort.set(x.to.port, [...(sendsPerPort.get(x.to.port) ?? []), x.at]);
    for (const times of sendsPerPort.values()) {
      const t0 = times[0] as number;
      expect(times.map((x) => x - t0)).toEqual([0, 250, 750, 1750, 3750]);
    }
  });

  it("honours custom timers", () => {
    const p = pair(12, { handshakeRetransmitMs: 100, handshakeTimeoutMs: 1000 });
    p.a.connect({ host: "10.0.0.99", port: 9 }, 0);
    p.net.run(5000);
    expect(p.net.sent(HS_INIT).map((x) => x.at)).toEqual([0, 100, 300, 700]);
    expect(p.net.eventsOf(p.a, "failed")[0]?.at).toBe(1000);
  });

  it("lets the caller move a handshake to another path", () => {
    const p = pair(13);
    const aSession = p.a.connect({ host: "10.0.0.99", port: 9 }, 0);
    p.net.run(100);
    p.a.setAddress(aSession, BOB);
    p.net.run(1000);
    expect(p.net.eventsOf(p.a, "established")).toMatchObject([{ at: 250, address: BOB }]);
    expect(p.net.eventsOf(p.a, "address-changed")).toEqual([]);
  });
});

describe("Endpoint data", () => {
  it("carries data both ways, in order, on the right sessions", () => {
    const p = pair(20);
    const { aSession, bSession } = established(p);
    for (let i = 0; i < 50; i++) {
      expect(p.a.send(aSession, text(`a${i}`), p.net.now)).toBe(true);
      expect(p.b.send(bSession, text(`b${i}`), p.net.now)).toBe(true);
    }
    p.net.run(p.net.now);
    const atB = p.net.eventsOf(p.b, "data");
    const atA = p.net.eventsOf(p.a, "data");
    expect(atB.map((e) => str(e.payload))).toEqual(Array.from({ length: 50 }, (_, i) => `a${i}`));
    expect(atA.map((e) => str(e.payload))).toEqual(Array.from({ length: 50 }, (_, i) => `b${i}`));
    expect(atB.every((e) => e.session === bSession && e.address.port === ALICE.port)).toBe(true);
    expect(atA.every((e) => e.session === aSession)).toBe(true);
    expect(p.net.amplification).toEqual([]);
  });

  it("uses AES-256-GCM for the transport keys only when both sides offer it, and carries data either way", () => {
    for (const [aAes, bAes, expected] of [
      [true, true, "aes-256-gcm"],
      [true, false, "chacha20-poly1305"],
      [false, true, "chacha20-poly1305"],
      [false, false, "chacha20-poly1305"],
    ] as const) {
      const p = pair(31, { aesGcm: aAes }, { aesGcm: bAes });
      const { aSession, bSession } = established(p, text("hello from alice"));
      const ciphers = [p.net.eventsOf(p.a, "established"), p.net.eventsOf(p.b, "established")].map(
        (e) => (e[0] as { cipher: string }).cipher,
      );
      expect(ciphers, `${aAes} ${bAes}`).toEqual([expected, expected]);
      // The caller's payload arrives without the transport-parameters byte.
      const bEst = p.net.eventsOf(p.b, "established")[0] as { remotePayload: Uint8Array };
      expect(new TextDecoder().decode(bEst.remotePayload)).toBe("hello from alice");
      p.a.send(aSession, [text("in "), text("pieces")], p.net.now);
      p.b.send(bSession, text("back"), p.net.now);
      p.net.run(p.net.now);
      const got = (ep: Endpoint) =>
        p.net
          .eventsOf(ep, "data")
          .map((e) => new TextDecoder().decode((e as { payload: Uint8Array }).payload));
      expect(got(p.b), `${aAes} ${bAes}`).toEqual(["in pieces"]);
      expect(got(p.a), `${aAes} ${bAes}`).toEqual(["back"]);
    }
  });

  it("rejects empty or oversized payloads as local misuse, and sessions that cannot send", () => {
    const p = pair(21);
    const { aSession } = established(p);
    expect(() => p.a.send(aSession, new Uint8Array(0), 0)).toThrow(
      expect.objectContaining({ code: "MSG_EMPTY" }),
    );
    // The largest payload fills the largest datagram; one byte more is misuse.
    expect(p.a.send(aSession, new Uint8Array(MAX_FRAMES_BYTES), 0)).toBe(true);
    expect(() => p.a.send(aSession, new Uint8Array(MAX_FRAMES_BYTES + 1), 0)).toThrow(
      expect.objectContaining({ code: "MSG_TOO_LARGE" }),
    );
    expect(() => p.a.connect(BOB, 0, { payload: new Uint8Array(MAX_INITIATOR_PAYLOAD_BYTES + 1) })).toThrow(
      expect.objectContaining({ code: "MSG_TOO_LARGE" }),
    );
    expect(p.a.send(12345, text("x"), 0)).toBe(false);
  });

  it("drops and counts a replayed DATA datagram", () => {
    const p = pair(22);
    const { aSession } = established(p);
    p.a.send(aSession, text("once"), 0);
    p.net.run(0);
    const data = p.net.sent(DATA, p.a)[0] as Packet;
    p.net.inject(data.bytes, ALICE, BOB);
    p.net.inject(data.bytes, ALICE, BOB);
    expect(p.b.stats.dropped.CRYPTO_REPLAY).toBe(2);
    expect(p.net.eventsOf(p.b, "data").map((e) => str(e.payload))).toEqual(["once"]);
    // The responder's confirmation replayed at the initiator, too.
    p.net.inject((p.net.sent(DATA, p.b)[0] as Packet).bytes, BOB, ALICE);
    expect(p.a.stats.dropped.CRYPTO_REPLAY).toBe(1);
  });

  it("drops and counts DATA with any single bit flipped, and the forgeries do not advance the window", () => {
    const p = pair(23);
    const { aSession } = established(p);
    let captured: Uint8Array | undefined;
    p.net.filter = (x) => {
      if (kindOf(x.bytes) !== DATA || captured) return true;
      captured = x.bytes;
      return false;
    };
    p.a.send(aSession, text("tamper with me"), 0);
    p.net.run(0);
    const original = captured as Uint8Array;
    const codes = new Set<ErrorCode>();
    for (let bit = 0; bit < original.length * 8; bit++) {
      const forged = Uint8Array.from(original);
      forged[bit >> 3] = (forged[bit >> 3] as number) ^ (1 << (bit & 7));
      const before = { ...p.b.stats.dropped };
      const received = p.b.stats.received;
      p.net.inject(forged, ALICE, BOB);
      expect(p.b.stats.received, `bit ${bit}`).toBe(received);
      for (const [code, n] of Object.entries(p.b.stats.dropped)) {
        if (n !== before[code as ErrorCode]) codes.add(code as ErrorCode);
      }
    }
    expect(totalDropped(p.b)).toBe(original.length * 8);
    expect([...codes].every((c) => c.startsWith("WIRE_") || c === "CRYPTO_DECRYPT_FAILED")).toBe(true);
    expect(codes.has("CRYPTO_DECRYPT_FAILED")).toBe(true);
    expect(p.net.eventsOf(p.b, "data")).toEqual([]);
    p.net.inject(original, ALICE, BOB);
    expect(p.net.eventsOf(p.b, "data").map((e) => str(e.payload))).toEqual(["tamper with me"]);
  });

  it("counts DATA for an unknown receiver index as WIRE_UNKNOWN_SESSION", () => {
    const p = pair(24);
    established(p);
    const header = encodeDataHeader(0xdeadbeef, 0);
    p.net.inject(encodeData(header, new Uint8Array(16)), ALICE, BOB);
    expect(p.b.stats.dropped.WIRE_UNKNOWN_SESSION).toBe(1);
  });

  it("never throws on garbage, and counts every datagram exactly once", () => {
    const p = pair(25);
    const { aSession, bSession } = established(p);
    const indexBytes = (i: number): number[] => [i >>> 24, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff];
    const datagram = fc.oneof(
      fc.uint8Array({ maxLength: 1600 }),
      // Plausible headers aimed at live sessions reach the deeper paths.
      fc
        .tuple(
          fc.constantFrom(0x92, 0x93, 0x94),
          fc.constantFrom(aSession, bSession, 1),
          fc.constantFrom(aSession, bSession, 1),
          fc.uint8Array({ maxLength: 200 }),
        )
        .map(([b0, i1, i2, rest]) => Uint8Array.from([b0, ...indexBytes(i1), ...indexBytes(i2), ...rest])),
      fc
        .tuple(
          fc.uint8Array({ minLength: 6, maxLength: 6 }),
          fc.uint8Array({ minLength: 1194, maxLength: 1300 }),
        )
        .map(([head, rest]) => Uint8Array.from([0x91, ...head, ...rest])),
    );
    fc.assert(
      fc.property(datagram, fc.boolean(), (bytes, toAlice) => {
        const target = toAlice ? p.a : p.b;
        const before = handled(target);
        expect(() =>
          target.handleDatagram(bytes, { host: "203.0.113.7", port: 4444 }, p.net.now),
        ).not.toThrow();
        expect(handled(target)).toBe(before + 1);
        p.net.now += 1;
      }),
      { numRuns: 1500 },
    );
    p.net.run(p.net.now);
    expect(p.net.amplification).toEqual([]);
    // The real session is unharmed.
    p.a.send(aSession, text("still here"), p.net.now);
    p.net.run(p.net.now);
    expect(p.net.eventsOf(p.b, "data").map((e) => str(e.payload))).toEqual(["still here"]);
  });
});

describe("Endpoint lifecycle", () => {
  it("closes idle sessions: each side after idleTimeoutMs without an authenticated datagram", () => {
    const p = pair(30);
    const { aSession, bSession } = established(p);
    // Alice talks every 10 s but hears nothing back, so only Bob's session stays fresh.
    for (let t = 10_000; t <= 50_000; t += 10_000) {
      p.net.run(t);
      expect(p.a.send(aSession, text(`ping ${t}`), t)).toBe(true);
    }
    p.net.run(200_000);
    expect(p.net.eventsOf(p.a, "closed")).toMatchObject([{ session: aSession, reason: "idle", at: 60_000 }]);
    expect(p.net.eventsOf(p.b, "closed")).toMatchObject([{ session: bSession, reason: "idle", at: 110_000 }]);
    expect(p.a.sessionInfo(aSession)).toBeUndefined();
    expect(p.a.pollTimeout()).toBeUndefined();
  });

  it("close() is idempotent and emits one 'closed' with reason 'local'", () => {
    const p = pair(31);
    const { aSession, bSession } = established(p);
    p.a.close(aSession);
    p.a.close(aSession);
    expect(p.net.eventsOf(p.a, "closed")).toMatchObject([{ session: aSession, reason: "local" }]);
    expect(p.a.send(aSession, text("x"), 0)).toBe(false);
    expect(p.a.sessionInfo(aSession)).toBeUndefined();
    p.b.send(bSession, text("anyone?"), 0);
    p.net.run(0);
    expect(p.a.stats.dropped.WIRE_UNKNOWN_SESSION).toBe(1);
    // Closing a handshake in progress works too.
    const pending = p.a.connect({ host: "10.0.0.99", port: 9 }, 0);
    p.a.close(pending);
    p.net.run(10_000);
    expect(p.net.eventsOf(p.a, "failed")).toEqual([]);
    expect(p.net.sent(HS_INIT).length).toBe(2);
  });

  it("follows a peer that roams, but not backwards to an older path", () => {
    const p = pair(32);
    const { aSession, bSession } = established(p);
    let held: Packet | undefined;
    p.net.filter = (x) => {
      if (kindOf(x.bytes) !== DATA || keyOf(x.from) !== keyOf(ALICE) || held) return true;
      held = x;
      return false;
    };
    p.a.send(aSession, text("old path, delayed"), 0);
    p.net.run(0);
    const roamed = { host: "192.168.7.7", port: 3333 };
    p.net.move(p.a, roamed);
    p.a.send(aSession, text("new path"), 0);
    p.net.run(0);
    expect(p.net.eventsOf(p.b, "address-changed")).toEqual([
      { type: "address-changed", session: bSession, address: roamed, at: 0 },
    ]);
    expect(p.b.sessionInfo(bSession)?.address).toEqual(roamed);

    // The delayed packet from the old path is accepted, but the session stays on the new path.
    p.net.inject((held as Packet).bytes, ALICE, BOB);
    expect(p.net.eventsOf(p.b, "data").map((e) => str(e.payload))).toEqual(["new path", "old path, delayed"]);
    expect(p.net.eventsOf(p.b, "address-changed").length).toBe(1);

    p.b.send(bSession, text("found you"), 0);
    p.net.run(0);
    expect(p.net.eventsOf(p.a, "data").map((e) => str(e.payload))).toEqual(["found you"]);
  });
});

describe("Endpoint responder defences", () => {
  it("never answers an HS_INIT with more bytes than it received", () => {
    const big = pair(40, {}, { responderPayload: () => new Uint8Array(MAX_RESPONDER_PAYLOAD_BYTES).fill(7) });
    big.a.connect(BOB, 0);
    big.net.run(0);
    const reply = big.net.sent(HS_RESP)[0] as Packet;
    expect(reply.bytes.length).toBeLessThanOrEqual(HS_INIT_BYTES);
    expect(big.net.eventsOf(big.a, "established")[0]?.remotePayload.length).toBe(MAX_RESPONDER_PAYLOAD_BYTES);
    expect(big.net.amplification).toEqual([]);

    const tooBig = pair(41, {}, { responderPayload: () => new Uint8Array(MAX_RESPONDER_PAYLOAD_BYTES + 1) });
    tooBig.a.connect(BOB, 0);
    tooBig.net.run(0);
    expect(tooBig.net.sent(HS_RESP)).toEqual([]);
    expect(tooBig.b.stats.dropped.MSG_TOO_LARGE).toBe(1);
  });

  it("answers a duplicate HS_INIT with the same bytes and no new session; later ones as replays", () => {
    const p = pair(42);
    const init = hsInit(777, 1234);
    const src = { host: "10.1.1.1", port: 5000 };
    p.b.handleDatagram(init, src, 0);
    p.b.handleDatagram(init, src, 10);
    const first = p.b.pollTransmit();
    const second = p.b.pollTransmit();
    expect(first?.to).toEqual(src);
    expect(second?.bytes).toEqual(first?.bytes);
    expect(p.b.pollTransmit()).toBeUndefined();
    expect(p.b.stats.received).toBe(2);
    // The same init from another source is another handshake.
    p.b.handleDatagram(init, { host: "10.1.1.1", port: 5001 }, 20);
    expect(p.b.pollTransmit()?.bytes).not.toEqual(first?.bytes);
  });

  it("refuses HS_INIT when it does not accept incoming sessions", () => {
    const p = pair(43);
    p.net.inject(hsInit(5, 5), BOB, ALICE);
    expect(p.a.stats.dropped.WIRE_BAD_KIND).toBe(1);
    expect(p.a.pollTransmit()).toBeUndefined();
  });

  it("rate-limits HS_INIT per source host with a token bucket (cookies off)", () => {
    const p = pair(44, {}, { cookies: false });
    const x = { host: "10.2.2.2", port: 1 };
    const replies = (): number => {
      let n = 0;
      while (p.b.pollTransmit()) n++;
      return n;
    };
    for (let i = 1; i <= 25; i++) p.b.handleDatagram(hsInit(i, i), { ...x, port: i }, 0);
    expect(replies()).toBe(20);
    expect(p.b.stats.dropped.PROTO_RATE_LIMITED).toBe(5);
    // Another host has its own bucket.
    p.b.handleDatagram(hsInit(100, 100), { host: "10.3.3.3", port: 1 }, 0);
    expect(replies()).toBe(1);
    // 100 ms refill two tokens at 20 per second.
    for (let i = 200; i < 203; i++) p.b.handleDatagram(hsInit(i, i), x, 100);
    expect(replies()).toBe(2);
    expect(p.b.stats.dropped.PROTO_RATE_LIMITED).toBe(6);
  });

  it("answers HS_INIT over a host's bucket with a stateless COOKIE, no larger than 21 bytes", () => {
    const p = pair(46);
    const x = { host: "10.2.2.2", port: 1 };
    for (let i = 1; i <= 25; i++) p.b.handleDatagram(hsInit(i, i), { ...x, port: i }, 0);
    const out: Array<{ to: Address; bytes: Uint8Array }> = [];
    for (let t = poll(p.b); t; t = poll(p.b)) out.push(t);
    expect(out.filter((o) => kindOf(o.bytes) === HS_RESP)).toHaveLength(20);
    const cookies = out.filter((o) => kindOf(o.bytes) === COOKIE);
    expect(cookies.map((c) => c.bytes.length)).toEqual([21, 21, 21, 21, 21]);
    expect(p.b.cookieStats.sent).toBe(5);
    // No state for the five: only the twenty handshakes are half-open.
    p.b.handleTimeout(5000);
    expect(p.b.stats.dropped.CRYPTO_HANDSHAKE_TIMEOUT).toBe(20);
  });

  it("drops new HS_INIT beyond maxSessions", () => {
    const p = pair(45, {}, { maxSessions: 3 });
    for (let i = 1; i <= 4; i++) p.b.handleDatagram(hsInit(i, i), { host: `10.4.0.${i}`, port: 1 }, 0);
    let n = 0;
    while (poll(p.b)) n++;
    expect(n).toBe(3);
    expect(p.b.stats.dropped.PROTO_RATE_LIMITED).toBe(1);
    // Half-open sessions expire, which makes room again.
    p.b.handleTimeout(5000);
    expect(p.b.stats.dropped.CRYPTO_HANDSHAKE_TIMEOUT).toBe(3);
    p.b.handleDatagram(hsInit(9, 9), { host: "10.4.0.9", port: 1 }, 5000);
    expect(poll(p.b)).toBeDefined();
  });
});

describe("Endpoint simulation (seeded lossy network)", () => {
  it("completes or fails cleanly under 20% loss and 10% duplication", () => {
    let completed = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const p = pair(1000 + seed);
      const random = seeded(seed);
      const extra: Packet[] = [];
      p.net.filter = (x) => {
        if (chance(random) % 10 === 0) extra.push(x);
        return chance(random) % 5 !== 0;
      };
      const aSession = p.a.connect(BOB, 0);
      for (let t = 0; t <= 20_000; t += 50) {
        p.net.run(t);
        for (const x of extra.splice(0)) p.net.inject(x.bytes, x.from, x.to);
        if (p.a.sessionInfo(aSession)?.established) p.a.send(aSession, text(`t${t}`), t);
      }
      const aFailed = p.net.eventsOf(p.a, "failed");
      const bEst = p.net.eventsOf(p.b, "established");
      expect(p.net.amplification, `seed ${seed}`).toEqual([]);
      expect(bEst.length, `seed ${seed}`).toBeLessThanOrEqual(1);
      if (aFailed.length === 0) {
        completed++;
        expect(bEst[0]?.remoteKey, `seed ${seed}`).toEqual(p.aId.publicKey);
        const got = p.net.eventsOf(p.b, "data").map((e) => str(e.payload));
        expect(new Set(got).size, `seed ${seed}: no duplicates delivered`).toBe(got.length);
        expect(got.length, `seed ${seed}`).toBeGreaterThan(0);
      } else {
        expect(aFailed[0]?.code, `seed ${seed}`).toBe("CRYPTO_HANDSHAKE_TIMEOUT");
      }
    }
    expect(completed).toBeGreaterThanOrEqual(36);
  });
});

describe("Endpoint stateless cookies under load", () => {
  const FLOODER = "10.9.9.9";

  /** A flood of valid HS_INITs from `hosts`, never answering anything. */
  function flood(p: Pair, hosts: string[], perHost: number, at: number, seed: number): void {
    let n = seed;
    for (const host of hosts) {
      for (let i = 0; i < perHost; i++) {
        n++;
        p.net.inject(hsInit(n, n), { host, port: 10_000 + (n % 50_000) }, BOB);
      }
    }
    void at;
  }

  it("a flood from one address leaves a client at the same address, another port, getting in by cookie", () => {
    const p = pair(61);
    // The client shares the flooder's address (a NAT); it dials while the flood goes on.
    p.net.move(p.a, { host: FLOODER, port: 4000 });
    flood(p, [FLOODER], 100, 0, 1000);
    expect(p.b.cookieStats.sent).toBeGreaterThan(0);
    const before = p.b.cookieStats.accepted;
    const { aSession } = established(p);
    expect(aSession).toBeGreaterThan(0);
    // It came in with a cookie: the flooder had spent the address's bucket.
    expect(p.b.cookieStats.accepted).toBe(before + 1);
    expect(p.a.cookieStats.received).toBe(1);
  });

  it("a flood from many addresses (over the load threshold) costs no DH: cookies only, and clients still get in", () => {
    const p = pair(62, {}, { freeHandshakesPerSecond: 50 });
    const hosts = Array.from({ length: 200 }, (_, i) => `10.8.${i >> 8}.${i & 0xff}`);
    flood(p, hosts, 5, 0, 5000);
    // The first 32 started handshakes; with 32 waiting for message 3 (a flood never sends it)
    // the responder is busy, and all the rest got cookies.
    const halfOpen = p.net.sent(HS_RESP, p.b).length;
    expect(halfOpen).toBe(32);
    expect(p.b.cookieStats.sent).toBe(200 * 5 - 32);
    // A client elsewhere is busy-answered too, answers the cookie and is in.
    const { aSession } = established(p);
    expect(aSession).toBeGreaterThan(0);
    expect(p.b.cookieStats.accepted).toBe(1);
  });

  it("half-open handshakes make it busy until they expire; completed ones do not count", () => {
    const p = pair(66, {}, { busyHalfOpen: 3, freeHandshakesPerSecond: 1000 });
    // A real client completes: no half-open left behind.
    established(p);
    expect(p.b.cookieStats.sent).toBe(0);
    const kinds = (): number[] => {
      const k: number[] = [];
      for (let t = poll(p.b); t; t = poll(p.b)) k.push(kindOf(t.bytes));
      return k;
    };
    const at = p.net.now;
    for (let i = 0; i < 4; i++)
      p.b.handleDatagram(hsInit(100 + i, 100 + i), { host: `10.5.0.${i}`, port: 1 }, at);
    expect(kinds()).toEqual([HS_RESP, HS_RESP, HS_RESP, COOKIE]);
    // They expire after the handshake timeout; then a new initiation is answered again.
    p.b.handleTimeout(at + 5000);
    p.b.handleDatagram(hsInit(200, 200), { host: "10.5.1.1", port: 1 }, at + 5000);
    expect(kinds()).toEqual([HS_RESP]);
  });

  it("a cookie for one address is worthless from another, and it expires with the secret", () => {
    const p = pair(63, {}, { freeHandshakesPerSecond: 1, cookieRotateMs: 1000 });
    p.net.inject(hsInit(1, 1), { host: "10.1.0.1", port: 1 }, BOB); // spends the free token
    p.b.handleDatagram(hsInit(2, 2), { host: "10.1.0.2", port: 1 }, 0);
    const reply = poll(p.b);
    expect(reply && kindOf(reply.bytes)).toBe(COOKIE);
    const cookie = (reply as { bytes: Uint8Array }).bytes.subarray(5);
    const withCookie = (index: number, seed: number) => {
      const plain = hsInit(index, seed);
      const noiseLen = ((plain[5] as number) << 8) | (plain[6] as number);
      const out = plain.slice();
      out[7 + noiseLen] = 1;
      out.set(cookie, 8 + noiseLen);
      return out;
    };
    const kinds = (): number[] => {
      const k: number[] = [];
      for (let t = poll(p.b); t; t = poll(p.b)) k.push(kindOf(t.bytes));
      return k;
    };
    // From another address the cookie does not count: another cookie reply, no handshake.
    p.b.handleDatagram(withCookie(3, 3), { host: "10.1.0.3", port: 1 }, 10);
    expect(kinds()).toEqual([COOKIE]);
    // From its own address it does.
    p.b.handleDatagram(withCookie(4, 4), { host: "10.1.0.2", port: 1 }, 20);
    expect(kinds()).toEqual([HS_RESP]);
    // One rotation later it still does (the previous secret), two rotations later not.
    p.b.handleDatagram(withCookie(5, 5), { host: "10.1.0.2", port: 1 }, 1500);
    expect(kinds()).toEqual([HS_RESP]);
    p.b.handleDatagram(hsInit(7, 7), { host: "10.1.0.9", port: 1 }, 3600); // busy again
    expect(kinds()).toEqual([HS_RESP]);
    p.b.handleDatagram(withCookie(6, 6), { host: "10.1.0.2", port: 1 }, 3600);
    expect(kinds()).toEqual([COOKIE]);
  });

  it("a spoofed source never holds a cookie, so it only ever gets cookies sent to it", () => {
    const p = pair(64, {}, { freeHandshakesPerSecond: 1, handshakesPerSecondPerHost: 1 });
    let sessionsStarted = 0;
    for (let i = 0; i < 500; i++) {
      p.b.handleDatagram(hsInit(i + 1, i + 1), { host: `10.7.${i >> 8}.${i & 0xff}`, port: 9 }, i);
      for (let t = poll(p.b); t; t = poll(p.b)) {
        if (kindOf(t.bytes) === HS_RESP) sessionsStarted++;
        // Anti-amplification: every answer is smaller than the 1200-byte HS_INIT.
        expect(t.bytes.length).toBeLessThan(HS_INIT_BYTES);
      }
    }
    // One free handshake a second: about one per 1000 ms of this half-second flood.
    expect(sessionsStarted).toBeLessThanOrEqual(2);
  });

  it("the initiator resends msg1 with the cookie once at once, and ignores forged cookies beyond", () => {
    const p = pair(65, {}, { freeHandshakesPerSecond: 1 });
    p.net.inject(hsInit(1, 1), { host: "10.1.0.1", port: 1 }, BOB); // spends the free token
    let cookieReplies = 0;
    p.net.filter = (pkt) => {
      if (kindOf(pkt.bytes) === COOKIE) cookieReplies++;
      return true;
    };
    const aSession = p.a.connect(BOB, p.net.now);
    p.net.run(p.net.now);
    expect(p.net.eventsOf(p.a, "established").map((e) => e.session)).toEqual([aSession]);
    expect(cookieReplies).toBe(1);
    // Two HS_INITs: the first, and the one with the cookie.
    expect(p.net.sent(HS_INIT, p.a)).toHaveLength(2);
  });
});

/** The next datagram `ep` sends, its pieces joined as the socket joins them. */
function poll(ep: Endpoint): { to: Address; bytes: Uint8Array } | undefined {
  const t = ep.pollTransmit();
  return t && { to: t.to, bytes: new Uint8Array(Buffer.concat(t.bytes)) };
}
