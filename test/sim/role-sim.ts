/**
 * The roles themselves (the real `Registry` and `PeerClient`) on a seeded, simulated LAN in
 * virtual time: no process, no real socket, no real timer. Each role is built exactly as a
 * composition root builds it, with two ports swapped: its `Runtime` (src/runtime.ts) is this
 * world's virtual clock, timers and seeded random bytes, and its `DatagramSockets`
 * (src/net/datagram-socket.ts) are sockets on this world's LAN. Everything above the ports
 * (UdpHost's turn, the session host, Noise, the reliable window, the registry's parts, the
 * client's parts, SQLite stores on temporary files) is the production code.
 *
 * Time: `now` only moves when the real event loop has nothing left to do. The roles are
 * asynchronous (the store, scrypt on the thread pool, the disk), so between two virtual
 * events the world lets the real loop settle: promises resolve, thread-pool work completes
 * (the world counts outstanding requests with async_hooks), and only when all of it is done
 * does the clock jump to the next timer or datagram delivery. A virtual second with nothing
 * due costs nothing; a heartbeat timeout of 30 s takes milliseconds.
 *
 * Randomness: the network's faults (loss, delay jitter) and each role's `random` come from
 * one seeded generator, and so do the static keys (`identity`); each test prints its seed.
 * The thread pool's completion order is the machine's, so a run is reproducible in its
 * network behaviour, not bit for bit.
 *
 * The LAN: every node has an address of its own (10.99.x.y); a datagram to an address and port
 * is delivered after the link's delay unless the link loses it or a rule blocks it (`block`,
 * a firewall between two nodes; `down`, a node unplugged). Nothing leaves the simulator.
 *
 * Link faults beyond loss and delay (the link model of sim-network.ts), all off by default and
 * settable for the whole LAN (`faults`) or per direction between two nodes (`setLink`):
 * duplication, reordering (an extra delay), corruption (bytes flipped, which the AEAD
 * rejects), a rate with a tail-drop queue, and an MTU (a larger datagram crosses as IPv4
 * fragments, each lost on its own; with `dropFragments`, a firewall drops them all).
 */

import { createHook } from "node:async_hooks";
import { statfsSync } from "node:fs";
import { tmpdir } from "node:os";
import { HallwayError } from "../../src/errors.js";
import type { DatagramSocket, DatagramSockets } from "../../src/net/datagram-socket.js";
import type { Address } from "../../src/protocol/address.js";
import type { Identity } from "../../src/protocol/endpoint.js";
import { generateIdentity } from "../../src/protocol/noise.js";
import type { Runtime, Timer, TimerOptions } from "../../src/runtime.js";
import { Prng } from "./prng.js";
import { fragmentsOf } from "./sim-network.js";

/** Outstanding thread-pool and I/O requests of this process (scrypt, fs, close), by async id. */
const outstanding = new Set<number>();
const REQUEST_TYPE = /(REQ|REQUEST|REQCALLBACK|REQPROMISE|JOB)$/;
createHook({
  init(id, type) {
    if (REQUEST_TYPE.test(type)) outstanding.add(id);
  },
  destroy(id) {
    outstanding.delete(id);
  },
}).enable();

interface Event {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export interface LinkFaults {
  /** Probability that a datagram is lost. */
  loss?: number;
  /** One-way delay in ms (default 0.5). */
  delayMs?: number;
  /** Uniform extra delay in [0, jitterMs) (default 0.2). */
  jitterMs?: number;
  /** Probability that a datagram is delivered twice (the copy has its own delay). */
  duplicate?: number;
  /** Probability that a datagram is held back by an extra delay in [0, reorderDelayMs). */
  reorder?: number;
  reorderDelayMs?: number;
  /** Probability that 1–3 bytes of a datagram are flipped. */
  corrupt?: number;
  /** Serialisation rate of the link (default unlimited); `queueLimitBytes` bounds its queue. */
  bytesPerSecond?: number;
  queueLimitBytes?: number;
  /** The link's MTU (default none: every datagram is one packet); see sim-network.ts. */
  mtuBytes?: number;
  /** With `mtuBytes`: every datagram that needs IP fragments is dropped (a black hole). */
  dropFragments?: boolean;
}

const NO_EXTRA_FAULTS = {
  duplicate: 0,
  reorder: 0,
  reorderDelayMs: 0,
  corrupt: 0,
  bytesPerSecond: Number.POSITIVE_INFINITY,
  queueLimitBytes: Number.POSITIVE_INFINITY,
  mtuBytes: Number.POSITIVE_INFINITY,
  dropFragments: false,
};

export interface WorldOptions {
  seed: number;
  faults?: LinkFaults;
}

/**
 * Where simulations keep their files: a RAM file system when there is one with room (an fsync
 * there costs nothing, and hundreds of them on a busy disk would cost most of a test's real
 * time; the adapters cannot tell), else the system's temporary folder.
 */
export const SIM_TEMP_ROOT = (() => {
  try {
    const s = statfsSync("/dev/shm");
    return s.bavail * s.bsize > 2 ** 30 ? "/dev/shm" : tmpdir();
  } catch {
    return tmpdir();
  }
})();

/** The wall clock's reading at virtual time 0: a Monday morning. */
const EPOCH = Date.UTC(2026, 10, 2, 9, 0, 0);

export class SimWorld {
  /** Virtual monotonic milliseconds since the world began. */
  now = 0;
  readonly prng: Prng;
  /** The LAN's faults: loss, delay and jitter always set, the others off unless set. */
  faults: Required<Pick<LinkFaults, "loss" | "delayMs" | "jitterMs">> & LinkFaults;
  /** Datagrams delivered, lost to faults, and dropped by rules or for want of a socket. */
  readonly counts = { delivered: 0, lost: 0, blocked: 0, unbound: 0 };
  /** What the extra link faults did (see `LinkFaults`). */
  readonly faultCounts = { duplicated: 0, reordered: 0, corrupted: 0, queueDropped: 0, fragmentDropped: 0 };
  /** Per-direction faults (`setLink`), over `faults`; and when each rate-limited link is free. */
  private readonly links = new Map<string, LinkFaults>();
  private readonly busyUntil = new Map<string, number>();
  private readonly events: Event[] = [];
  private seq = 0;
  private readonly sockets = new Map<string, SimSocket>();
  private readonly blocked = new Set<string>();
  private readonly downHosts = new Set<string>();
  private nextHost = 1;
  private nextPort = new Map<string, number>();
  /** Sees every datagram sent, at its sending, whatever becomes of it (tests that watch the wire). */
  onSend: ((from: Address, to: Address, bytes: Uint8Array) => void) | undefined;

  constructor(readonly opts: WorldOptions) {
    this.prng = new Prng(opts.seed);
    this.faults = { loss: 0, delayMs: 0.5, jitterMs: 0.2, ...opts.faults };
  }

  /** Faults of the link from host `from` to host `to` (one direction), over `faults`. */
  setLink(from: string, to: string, faults: LinkFaults): void {
    this.links.set(`${from}|${to}`, faults);
  }

  /** The same faults both ways between two hosts. */
  setLinks(a: string, b: string, faults: LinkFaults): void {
    this.setLink(a, b, faults);
    this.setLink(b, a, faults);
  }

  /** A new node's address on the LAN. */
  newHost(): string {
    const n = this.nextHost++;
    return `10.99.${n >> 8}.${n & 255}`;
  }

  /** A static key pair drawn from the seed. */
  identity(): Identity {
    return generateIdentity((n) => this.prng.bytes(n));
  }

  /** A runtime whose time is this world's and whose random bytes come from its seed. */
  runtime(): Runtime {
    const rng = this.prng.fork();
    return {
      now: () => this.now,
      wall: () => EPOCH + Math.floor(this.now),
      after: (ms, fn, _opts?: TimerOptions) => this.schedule(ms, fn),
      every: (ms, fn, _opts?: TimerOptions) => {
        let current: Timer | undefined;
        let stopped = false;
        const tick = () => {
          if (stopped) return;
          current = this.schedule(ms, tick);
          fn();
        };
        current = this.schedule(ms, tick);
        return {
          cancel: () => {
            stopped = true;
            current?.cancel();
          },
        };
      },
      soon: (fn) => {
        this.schedule(0, fn);
      },
      random: (n) => rng.bytes(n),
    };
  }

  /** Sockets bound on `host` (a node of this LAN). */
  socketsOn(host: string): DatagramSockets {
    return { open: () => new SimSocket(this, host), hasIPv6: () => false };
  }

  /** A firewall between two hosts, both ways: their datagrams to each other are dropped. */
  block(a: string, b: string): void {
    this.blocked.add(`${a}|${b}`).add(`${b}|${a}`);
  }

  /** A one-way firewall: datagrams from `from` to `to` are dropped; the other way passes. */
  blockOneWay(from: string, to: string): void {
    this.blocked.add(`${from}|${to}`);
  }

  unblock(a: string, b: string): void {
    this.blocked.delete(`${a}|${b}`);
    this.blocked.delete(`${b}|${a}`);
  }

  /** A host unplugged: it neither sends nor receives until `up`. */
  down(host: string): void {
    this.downHosts.add(host);
  }

  up(host: string): void {
    this.downHosts.delete(host);
  }

  // ------------------------------------------------------------------ running

  /** Runs until `done()` holds, or fails after `maxMs` of virtual time. */
  async until(done: () => boolean, maxMs: number, what = "the condition"): Promise<void> {
    const deadline = this.now + maxMs;
    for (;;) {
      await this.settle();
      if (done()) return;
      const next = this.nextAt();
      if (next === undefined || next > deadline) {
        throw new Error(
          `sim (seed ${this.opts.seed}): ${what} did not hold within ${maxMs} ms of virtual time (now ${this.now.toFixed(1)} ms)`,
        );
      }
      this.fireAt(next);
    }
  }

  /** Waits for a promise the roles settle, running the world meanwhile. */
  async wait<T>(p: Promise<T>, maxMs: number, what = "a promise"): Promise<T> {
    let settled = false;
    let value: T | undefined;
    let error: unknown;
    let failed = false;
    p.then(
      (v) => {
        settled = true;
        value = v;
      },
      (e) => {
        settled = true;
        failed = true;
        error = e;
      },
    );
    await this.until(() => settled, maxMs, what);
    if (failed) throw error;
    return value as T;
  }

  /** Runs `ms` of virtual time. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      await this.settle();
      const next = this.nextAt();
      if (next === undefined || next > end) break;
      this.fireAt(next);
    }
    this.now = end;
  }

  /**
   * Lets the real event loop finish what it has: promises, immediates, thread-pool work. One
   * turn of the loop at a time, until a turn leaves no immediate, no outstanding request and
   * no virtual event due now.
   */
  private async settle(): Promise<void> {
    for (;;) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (outstanding.size > 0 || process.getActiveResourcesInfo().includes("Immediate")) continue;
      const next = this.nextAt();
      if (next !== undefined && next <= this.now) {
        this.fireAt(this.now);
        continue;
      }
      return;
    }
  }

  private nextAt(): number | undefined {
    while (this.events.length > 0 && this.events[0]?.cancelled) this.pop();
    return this.events[0]?.at;
  }

  /** Advances to `at` and runs every event due then, in order (new ones due then too). */
  private fireAt(at: number): void {
    if (at > this.now) this.now = at;
    for (let ev = this.events[0]; ev && ev.at <= this.now; ev = this.events[0]) {
      this.pop();
      if (!ev.cancelled) ev.fn();
    }
  }

  schedule(ms: number, fn: () => void): Timer {
    const ev: Event = { at: this.now + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.push(ev);
    return {
      cancel: () => {
        ev.cancelled = true;
      },
    };
  }

  // A binary heap on (at, seq).
  private push(ev: Event): void {
    const h = this.events;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i] as Event, h[p] as Event)) break;
      [h[i], h[p]] = [h[p] as Event, h[i] as Event];
      i = p;
    }
  }

  private pop(): void {
    const h = this.events;
    const last = h.pop();
    if (h.length === 0 || last === undefined) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l] as Event, h[m] as Event)) m = l;
      if (r < h.length && before(h[r] as Event, h[m] as Event)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m] as Event, h[i] as Event];
      i = m;
    }
  }

  // ------------------------------------------------------------------ the LAN

  bind(socket: SimSocket, host: string, port: number): number {
    let p = port;
    if (p === 0) {
      p = this.nextPort.get(host) ?? 40_000;
      while (this.sockets.has(`${host}:${p}`)) p++;
      this.nextPort.set(host, p + 1);
    }
    const key = `${host}:${p}`;
    if (this.sockets.has(key)) throw new HallwayError("PORT_IN_USE", `UDP port ${p} is already in use`);
    this.sockets.set(key, socket);
    return p;
  }

  unbind(host: string, port: number, socket: SimSocket): void {
    const key = `${host}:${port}`;
    if (this.sockets.get(key) === socket) this.sockets.delete(key);
  }

  transmit(from: Address, to: Address, bytes: Uint8Array): void {
    const host = to.host === "127.0.0.1" || to.host === "0.0.0.0" ? from.host : to.host;
    this.onSend?.(from, to, bytes);
    if (
      this.downHosts.has(from.host) ||
      this.downHosts.has(host) ||
      this.blocked.has(`${from.host}|${host}`)
    ) {
      this.counts.blocked++;
      return;
    }
    const key = `${from.host}|${host}`;
    const override = this.links.get(key);
    const f: Required<LinkFaults> = { ...NO_EXTRA_FAULTS, ...this.faults, ...override };
    const fragments = fragmentsOf(bytes.length, Number.isFinite(f.mtuBytes) ? f.mtuBytes : undefined);
    if (fragments > 1 && f.dropFragments) {
      this.faultCounts.fragmentDropped++;
      return;
    }
    let queuedMs = 0;
    if (Number.isFinite(f.bytesPerSecond)) {
      const start = Math.max(this.now, this.busyUntil.get(key) ?? 0);
      if (((start - this.now) * f.bytesPerSecond) / 1000 > f.queueLimitBytes) {
        this.faultCounts.queueDropped++;
        return;
      }
      const done = start + ((bytes.length + 20 * (fragments - 1)) * 1000) / f.bytesPerSecond;
      this.busyUntil.set(key, done);
      queuedMs = done - this.now;
    }
    let lost = false;
    for (let i = 0; i < fragments && !lost; i++) lost = this.prng.chance(f.loss);
    if (lost) {
      this.counts.lost++;
      return;
    }
    const copies = this.prng.chance(f.duplicate) ? 2 : 1;
    if (copies === 2) this.faultCounts.duplicated++;
    for (let c = 0; c < copies; c++) {
      let copy = c === 0 ? bytes : bytes.slice();
      if (this.prng.chance(f.corrupt) && copy.length > 0) copy = this.corrupt(copy);
      let delay = queuedMs + f.delayMs + this.prng.next() * f.jitterMs;
      if (this.prng.chance(f.reorder)) {
        delay += this.prng.next() * f.reorderDelayMs;
        this.faultCounts.reordered++;
      }
      this.deliverAfter(delay, host, to.port, copy, from);
    }
  }

  private deliverAfter(delay: number, host: string, port: number, bytes: Uint8Array, from: Address): void {
    this.schedule(delay, () => {
      if (this.downHosts.has(host)) {
        this.counts.blocked++;
        return;
      }
      const socket = this.sockets.get(`${host}:${port}`);
      if (socket === undefined) {
        this.counts.unbound++;
        return;
      }
      this.counts.delivered++;
      socket.deliver(bytes, from);
    });
  }

  private corrupt(bytes: Uint8Array): Uint8Array {
    const out = bytes.slice();
    const flips = 1 + this.prng.int(3);
    for (let i = 0; i < flips; i++) {
      const at = this.prng.int(out.length);
      out[at] = (out[at] as number) ^ (1 + this.prng.int(255));
    }
    this.faultCounts.corrupted++;
    return out;
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** A UDP socket on the simulated LAN. */
class SimSocket implements DatagramSocket {
  private port = 0;
  private handler: ((bytes: Uint8Array, from: Address) => void) | undefined;
  private closed = false;

  constructor(
    private readonly world: SimWorld,
    private readonly host: string,
  ) {}

  async bind(port: number): Promise<Address> {
    this.port = this.world.bind(this, this.host, port);
    return this.address();
  }

  address(): Address {
    return { host: this.host, port: this.port };
  }

  onDatagram(handler: (bytes: Uint8Array, from: Address) => void): void {
    this.handler = handler;
  }

  send(bytes: Uint8Array | readonly Uint8Array[], to: Address): void {
    if (this.closed || this.port === 0) return;
    // A copy: the sender may reuse its buffers once the send returns, as with a real socket.
    const flat = Array.isArray(bytes)
      ? concat(bytes as readonly Uint8Array[])
      : (bytes as Uint8Array).slice();
    this.world.transmit(this.address(), to, flat);
  }

  deliver(bytes: Uint8Array, from: Address): void {
    if (!this.closed) this.handler?.(bytes, from);
  }

  sizeBuffers(bytes: number): { receive: number; send: number } {
    return { receive: bytes, send: bytes };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.world.unbind(this.host, this.port, this);
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
