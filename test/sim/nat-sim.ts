/**
 * A seeded simulation of two peers behind NATs, for the connectivity-check core: addresses,
 * ports, per-hop TTL and Linux-conntrack-like NAT, on a virtual clock. Small on purpose: it
 * models exactly the behaviour hole punching depends on.
 *
 *   peer a ── nat a ── internet router ── nat b ── peer b        each hop: `hopMs`, TTL - 1
 *
 * NAT (per side): `none` routes; `cone` keeps the source port when that public tuple is free
 * (MASQUERADE); `symmetric` takes a random port for every new destination (--random-fully).
 * Like conntrack, a NAT remembers every flow it has seen in both directions: an inbound
 * datagram that matches no mapping is dropped, but its flow is remembered, and a later
 * outbound mapping that would collide with it is moved to another port. That is the trap
 * low-TTL opening probes avoid.
 */

import type { Address } from "../../src/protocol/address.js";
import { Prng } from "./prng.js";

export type SimNatKind = "none" | "cone" | "symmetric";

interface Flow {
  /** Inside address (undefined for an inbound flow that matched nothing). */
  inside: Address | undefined;
  remote: string;
  publicPort: number;
}

const key = (a: Address) => `${a.host}:${a.port}`;

class Nat {
  private readonly flows: Flow[] = [];
  constructor(
    readonly kind: SimNatKind,
    readonly wan: string,
    private readonly prng: Prng,
  ) {}

  private taken(remote: string, port: number): boolean {
    return this.flows.some((f) => f.remote === remote && f.publicPort === port);
  }

  /** Translates an outbound datagram's source. */
  outbound(src: Address, dst: Address): Address {
    if (this.kind === "none") return src;
    const remote = key(dst);
    const existing = this.flows.find((f) => f.inside && key(f.inside) === key(src) && f.remote === remote);
    if (existing) return { host: this.wan, port: existing.publicPort };
    let port = src.port;
    if (this.kind === "symmetric" || this.taken(remote, port)) {
      do port = 1024 + this.prng.int(64_000);
      while (this.taken(remote, port));
    }
    this.flows.push({ inside: src, remote, publicPort: port });
    return { host: this.wan, port };
  }

  /** Translates an inbound datagram's destination, or drops it (remembering the flow). */
  inbound(src: Address, dst: Address): Address | undefined {
    if (this.kind === "none") return dst;
    const remote = key(src);
    const flow = this.flows.find((f) => f.remote === remote && f.publicPort === dst.port);
    if (flow) return flow.inside;
    this.flows.push({ inside: undefined, remote, publicPort: dst.port });
    return undefined;
  }
}

export interface SimDatagram {
  from: Address;
  to: Address;
  bytes: Uint8Array;
  ttl: number;
}

/** What a simulated peer does with the network: the sans-IO core under test plus glue. */
export interface NatSimPeer {
  handle(bytes: Uint8Array, from: Address, now: number): void;
  poll(now: number): Array<{ to: Address; bytes: Uint8Array; ttl?: number }>;
  timeout(): number | undefined;
  tick(now: number): void;
}

interface InFlight {
  at: number;
  d: SimDatagram;
  /** Where it is: the index of the next hop to process. */
  hop: number;
  side: "a" | "b";
}

/** The two inside addresses; `a` and `b` are the peers' private addresses, sockets on port 5000. */
export const SIM_PEER = {
  a: { host: "10.0.1.2", port: 5000 },
  b: { host: "10.0.2.2", port: 5000 },
} as const;
const WAN = { a: "198.51.100.1", b: "203.0.113.1" } as const;

export class NatSim {
  readonly nats: { a: Nat; b: Nat };
  private readonly queue: InFlight[] = [];
  now = 0;
  delivered = 0;
  droppedTtl = 0;
  droppedNat = 0;

  constructor(
    kinds: { a: SimNatKind; b: SimNatKind },
    seed: number,
    private readonly hopMs = 5,
  ) {
    const prng = new Prng(seed);
    this.nats = { a: new Nat(kinds.a, WAN.a, prng), b: new Nat(kinds.b, WAN.b, prng) };
  }

  /** The address the registry would observe for a peer's socket (its srflx candidate). */
  reflexive(side: "a" | "b", registry: Address = { host: "192.0.2.10", port: 7743 }): Address {
    return this.nats[side].outbound(SIM_PEER[side], registry);
  }

  /** The address others reach a peer's host candidate at, if its NAT is `none`. */
  publicHost(side: "a" | "b"): Address {
    return this.nats[side].kind === "none" ? SIM_PEER[side] : { host: "10.99.99.99", port: 1 };
  }

  private other(side: "a" | "b"): "a" | "b" {
    return side === "a" ? "b" : "a";
  }

  /**
   * Sends from a peer. Path hops: own NAT (TTL-1, source translated), internet router
   * (TTL-1), far NAT (TTL-1, destination translated or dropped), far peer.
   */
  send(side: "a" | "b", to: Address, bytes: Uint8Array, ttl = 64): void {
    this.queue.push({ at: this.now + this.hopMs, d: { from: SIM_PEER[side], to, bytes, ttl }, hop: 0, side });
  }

  /** Advances one event; returns the datagrams delivered to each side at that moment. */
  run(peers: { a: NatSimPeer; b: NatSimPeer }, until: number, done: () => boolean): void {
    const flush = (side: "a" | "b") => {
      for (const t of peers[side].poll(this.now)) this.send(side, t.to, t.bytes, t.ttl);
    };
    flush("a");
    flush("b");
    while (!done()) {
      const timers = [peers.a.timeout(), peers.b.timeout()].filter((t): t is number => t !== undefined);
      this.queue.sort((x, y) => x.at - y.at);
      const nextAt = Math.min(this.queue[0]?.at ?? Number.POSITIVE_INFINITY, ...timers);
      if (!Number.isFinite(nextAt) || nextAt > until) return;
      this.now = Math.max(this.now, nextAt);
      const due = this.queue[0];
      if (due && due.at <= this.now) {
        this.queue.shift();
        this.step(due, peers);
      }
      for (const side of ["a", "b"] as const) {
        const t = peers[side].timeout();
        if (t !== undefined && t <= this.now) peers[side].tick(this.now);
        flush(side);
      }
    }
  }

  private step(f: InFlight, peers: { a: NatSimPeer; b: NatSimPeer }): void {
    const far = this.other(f.side);
    const d = f.d;
    if (f.hop === 3) {
      this.delivered++;
      peers[far].handle(d.bytes, d.from, this.now);
      return;
    }
    d.ttl -= 1;
    if (d.ttl <= 0) {
      this.droppedTtl++;
      return;
    }
    if (f.hop === 0) d.from = this.nats[f.side].outbound(d.from, d.to);
    if (f.hop === 2) {
      const inside = this.nats[far].inbound(d.from, d.to);
      const wanted = this.nats[far].kind === "none" ? key(d.to) === key(SIM_PEER[far]) : inside !== undefined;
      if (!wanted || !inside) {
        this.droppedNat++;
        return;
      }
      d.to = inside;
    }
    this.queue.push({ ...f, at: this.now + this.hopMs, hop: f.hop + 1 });
  }
}
