/**
 * A seeded, simulated datagram network with a virtual clock, for driving sans-IO cores.
 *
 * Nodes are anything with the quinn-style surface of `SimNode`. The network owns the clock:
 * each step it collects every datagram the nodes want to send (`pollTransmit`), then advances
 * the clock to the earliest of the next delivery and every node's `pollTimeout`, delivers what
 * is due and fires the timers that are due. Nothing reads the wall clock and every random
 * choice comes from one seeded generator, so a run is a pure function of its seed and inputs:
 * a failure reproduces exactly from the seed it prints.
 *
 * Links are directional and each has its own faults: loss, duplication, reordering (a random
 * extra delay), base delay plus jitter, corruption (random bytes flipped), an optional
 * bandwidth with a tail-drop queue, an MTU (larger datagrams cross as IP fragments, each lost
 * on its own, and a datagram is lost if any of its fragments is; or, with `dropFragments`, a
 * firewall that drops fragments outright), and a deterministic `drop` hook for surgical faults
 * ("lose the third datagram from a to b").
 */

import { Prng } from "./prng.js";

export type NodeId = string;

export interface Transmit {
  to: NodeId;
  bytes: Uint8Array;
}

/** What the network drives. Mirrors the handle-and-poll surface of every Hallway core. */
export interface SimNode {
  handleDatagram(bytes: Uint8Array, from: NodeId, now: number): void;
  handleTimeout(now: number): void;
  pollTransmit(now: number): Transmit | undefined;
  pollTimeout(): number | undefined;
}

/** A datagram as the `drop` hook sees it. `index` counts datagrams offered to this link, from 0. */
export interface LinkDatagram {
  from: NodeId;
  to: NodeId;
  bytes: Uint8Array;
  index: number;
  now: number;
}

export interface LinkOptions {
  /** One-way base delay, default 1 ms. */
  delayMs?: number;
  /** Uniform extra delay in [0, jitterMs); reorders datagrams that are close together. */
  jitterMs?: number;
  /** Probability that a datagram is lost. */
  lossRate?: number;
  /** Probability that a datagram is delivered twice (the copy gets its own delay). */
  duplicateRate?: number;
  /** Probability that a datagram is held back by an extra delay in [0, reorderDelayMs). */
  reorderRate?: number;
  reorderDelayMs?: number;
  /** Probability that 1–3 random bytes of a datagram are flipped. */
  corruptRate?: number;
  /** Serialisation rate; unlimited when absent. */
  bandwidthBytesPerSecond?: number;
  /** With a bandwidth: datagrams that find more than this many bytes queued are dropped. */
  queueLimitBytes?: number;
  /**
   * The link's MTU. A larger datagram crosses as IPv4 fragments of (MTU − 20) bytes, the first
   * also carrying the 8-byte UDP header; `lossRate` applies to each fragment, and the
   * bandwidth carries each fragment's IP header. Unset: every datagram is one packet.
   */
  mtuBytes?: number;
  /** With `mtuBytes`: every datagram that needs fragments is dropped (a fragment black hole). */
  dropFragments?: boolean;
  /** Deterministic fault injection: return true to drop this datagram. */
  drop?: (d: LinkDatagram) => boolean;
}

/** IPv4 fragments a UDP payload of `bytes` makes on a link of `mtuBytes` (1 without an MTU). */
export function fragmentsOf(bytes: number, mtuBytes: number | undefined): number {
  if (mtuBytes === undefined || bytes + 8 <= mtuBytes - 20) return 1;
  return Math.ceil((bytes + 8) / ((mtuBytes - 20) & ~7));
}

export interface SimStats {
  sent: number;
  delivered: number;
  lost: number;
  dropped: number;
  queueDropped: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
  unroutable: number;
  /** Datagrams dropped because they needed fragments on a `dropFragments` link. */
  fragmentDropped: number;
}

export interface SimNetworkOptions {
  seed: number;
  /** Applied to every link unless `setLink` overrides it. */
  link?: LinkOptions;
  /** Virtual start time, default 0. */
  startMs?: number;
  /** Steps in a row with no delivery, no transmit and no clock advance before it is a livelock; default 10,000. */
  maxStepsWithoutProgress?: number;
}

interface Pending {
  at: number;
  order: number;
  from: NodeId;
  to: NodeId;
  bytes: Uint8Array;
}

interface LinkState {
  opts: LinkOptions;
  offered: number;
  busyUntil: number;
}

/** Binary min-heap on (at, order): equal times deliver in send order. */
class DeliveryQueue {
  private readonly items: Pending[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Pending | undefined {
    return this.items[0];
  }

  push(p: Pending): void {
    const a = this.items;
    a.push(p);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(a[i] as Pending, a[parent] as Pending)) break;
      [a[i], a[parent]] = [a[parent] as Pending, a[i] as Pending];
      i = parent;
    }
  }

  pop(): Pending | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l] as Pending, a[m] as Pending)) m = l;
        if (r < a.length && before(a[r] as Pending, a[m] as Pending)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m] as Pending, a[i] as Pending];
        i = m;
      }
    }
    return top;
  }
}

function before(x: Pending, y: Pending): boolean {
  return x.at < y.at || (x.at === y.at && x.order < y.order);
}

export class SimNetwork {
  readonly seed: number;
  readonly rng: Prng;
  readonly stats: SimStats = {
    sent: 0,
    delivered: 0,
    lost: 0,
    dropped: 0,
    queueDropped: 0,
    duplicated: 0,
    reordered: 0,
    corrupted: 0,
    unroutable: 0,
    fragmentDropped: 0,
  };
  private clock: number;
  private order = 0;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly links = new Map<string, LinkState>();
  private readonly defaultLink: LinkOptions;
  private readonly queue = new DeliveryQueue();
  private readonly maxStepsWithoutProgress: number;
  private stalledSteps = 0;

  constructor(opts: SimNetworkOptions) {
    this.seed = opts.seed;
    this.rng = new Prng(opts.seed);
    this.clock = opts.startMs ?? 0;
    this.defaultLink = opts.link ?? {};
    this.maxStepsWithoutProgress = opts.maxStepsWithoutProgress ?? 10_000;
  }

  /** Virtual time in ms. */
  get now(): number {
    return this.clock;
  }

  /** Datagrams sent and not yet delivered or lost. */
  get inFlight(): number {
    return this.queue.size;
  }

  addNode(id: NodeId, node: SimNode): void {
    if (this.nodes.has(id)) throw new Error(`sim: node ${id} already exists`);
    this.nodes.set(id, node);
  }

  /** Faults of the link from `from` to `to` (directional), merged over the defaults. */
  setLink(from: NodeId, to: NodeId, opts: LinkOptions): void {
    this.link(from, to).opts = { ...this.defaultLink, ...opts };
  }

  /** The same faults in both directions. */
  setLinks(a: NodeId, b: NodeId, opts: LinkOptions): void {
    this.setLink(a, b, opts);
    this.setLink(b, a, opts);
  }

  /**
   * Advances to `untilMs`, processing every delivery and timer due up to and including it.
   * The clock ends at `untilMs` even if the network went quiet earlier.
   */
  run(untilMs: number): void {
    while (this.step(untilMs)) {}
    if (untilMs > this.clock) this.clock = untilMs;
  }

  /**
   * Steps until `done()` holds (checked after every step) or `limitMs` passes. Returns whether
   * `done()` held; the clock stays where `done()` first held.
   */
  runUntil(done: () => boolean, limitMs: number): boolean {
    if (done()) return true;
    while (this.step(limitMs)) {
      if (done()) return true;
    }
    if (limitMs > this.clock) this.clock = limitMs;
    return done();
  }

  /** One step: flush transmits, advance to the next event (if it is <= limitMs), handle it. */
  step(limitMs: number): boolean {
    const flushed = this.flushTransmits();
    const next = this.nextEventAt();
    if (next === undefined || next > limitMs) return false;
    const advanced = next > this.clock;
    if (advanced) this.clock = next;
    const delivered = this.deliverDue();
    this.fireTimers();
    if (advanced || delivered > 0 || flushed > 0) {
      this.stalledSteps = 0;
    } else if (++this.stalledSteps > this.maxStepsWithoutProgress) {
      // A node keeps reporting a past deadline and does nothing when woken. Bounded, so a
      // buggy core fails its test with the seed instead of hanging it.
      throw new Error(`sim seed=${this.seed}: livelock at t=${this.clock}ms`);
    }
    return true;
  }

  private link(from: NodeId, to: NodeId): LinkState {
    const key = `${from}\u0000${to}`;
    let state = this.links.get(key);
    if (state === undefined) {
      state = { opts: this.defaultLink, offered: 0, busyUntil: Number.NEGATIVE_INFINITY };
      this.links.set(key, state);
    }
    return state;
  }

  private flushTransmits(): number {
    let n = 0;
    for (const [id, node] of this.nodes) {
      for (let t = node.pollTransmit(this.clock); t !== undefined; t = node.pollTransmit(this.clock)) {
        this.transmit(id, t);
        n++;
      }
    }
    return n;
  }

  private transmit(from: NodeId, t: Transmit): void {
    this.stats.sent++;
    if (!this.nodes.has(t.to)) {
      this.stats.unroutable++;
      return;
    }
    const link = this.link(from, t.to);
    const o = link.opts;
    const index = link.offered++;
    if (o.drop?.({ from, to: t.to, bytes: t.bytes, index, now: this.clock })) {
      this.stats.dropped++;
      return;
    }
    const fragments = fragmentsOf(t.bytes.length, o.mtuBytes);
    if (fragments > 1 && o.dropFragments) {
      this.stats.fragmentDropped++;
      return;
    }
    let departAt = this.clock;
    if (o.bandwidthBytesPerSecond !== undefined) {
      const start = Math.max(this.clock, link.busyUntil);
      const queuedBytes = ((start - this.clock) * o.bandwidthBytesPerSecond) / 1000;
      if (o.queueLimitBytes !== undefined && queuedBytes > o.queueLimitBytes) {
        this.stats.queueDropped++;
        return;
      }
      const wireBytes = t.bytes.length + 20 * (fragments - 1);
      link.busyUntil = start + (wireBytes * 1000) / o.bandwidthBytesPerSecond;
      departAt = link.busyUntil;
    }
    let lost = false;
    for (let f = 0; f < fragments && !lost; f++) lost = this.rng.chance(o.lossRate ?? 0);
    if (lost) {
      this.stats.lost++;
      return;
    }
    const copies = this.rng.chance(o.duplicateRate ?? 0) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let c = 0; c < copies; c++) {
      let bytes: Uint8Array = t.bytes.slice();
      if (this.rng.chance(o.corruptRate ?? 0) && bytes.length > 0) {
        bytes = this.corrupt(bytes);
        this.stats.corrupted++;
      }
      let at = departAt + (o.delayMs ?? 1) + this.rng.range(0, o.jitterMs ?? 0);
      if (this.rng.chance(o.reorderRate ?? 0)) {
        at += this.rng.range(0, o.reorderDelayMs ?? 0);
        this.stats.reordered++;
      }
      this.queue.push({ at, order: this.order++, from, to: t.to, bytes });
    }
  }

  private corrupt(bytes: Uint8Array): Uint8Array {
    const flips = 1 + this.rng.int(3);
    for (let i = 0; i < flips; i++) {
      const at = this.rng.int(bytes.length);
      bytes[at] = (bytes[at] as number) ^ (1 + this.rng.int(255));
    }
    return bytes;
  }

  private nextEventAt(): number | undefined {
    let next = this.queue.peek()?.at;
    for (const node of this.nodes.values()) {
      const t = node.pollTimeout();
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    return next;
  }

  private deliverDue(): number {
    let n = 0;
    for (let p = this.queue.peek(); p !== undefined && p.at <= this.clock; p = this.queue.peek()) {
      this.queue.pop();
      const node = this.nodes.get(p.to) as SimNode;
      this.stats.delivered++;
      node.handleDatagram(p.bytes, p.from, this.clock);
      n++;
    }
    return n;
  }

  private fireTimers(): void {
    for (const node of this.nodes.values()) {
      const t = node.pollTimeout();
      if (t !== undefined && t <= this.clock) node.handleTimeout(this.clock);
    }
  }
}
