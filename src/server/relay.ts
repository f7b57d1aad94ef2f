/**
 * The registry's relay (docs/nat-traversal.md, "Relay"): the last-resort path for two peers
 * whose NATs let no direct path through. Sans-IO: the registry passes the time and a way to
 * find a user's current session address, and sends what `forward` returns.
 *
 * - **Channels.** A `connect` between two users who may talk opens one channel, named by a
 *   random 16-byte token that only those two learn (over their Noise sessions with the
 *   registry). A channel idle for `idleMs` is forgotten; a user holds at most
 *   `maxChannelsPerUser` (the oldest goes first); a user's channels end when they log out.
 * - **Authenticated.** An envelope is forwarded only if its token names a channel and it
 *   comes from the current session address of one of the channel's two users, and only to
 *   the other user's current session address. Knowing a token is not enough without that
 *   user's address, and a spoofed address is not enough without the token.
 * - **Rate-limited per session.** Each user (one session each: the newest login wins) has a
 *   byte budget of `bytesPerSecond` with a burst of `burstBytes`; envelopes over it are
 *   dropped and counted, and the peers' congestion control sees loss, as on any narrow link.
 * - Never throws for any input; every envelope is either forwarded or counted as dropped.
 */

import type { Address } from "../protocol/address.js";
import { relayDiagnostics } from "../protocol/diagnostics.js";
import { HostRateLimiter } from "../protocol/host-rate-limiter.js";
import { decodeRelay, RELAY_TOKEN_BYTES } from "../protocol/relay.js";

export interface RelayOptions {
  /** Bytes per second each user may send through the relay; 0 turns the relay off. */
  bytesPerSecond: number;
  burstBytes?: number;
  idleMs?: number;
  maxChannelsPerUser?: number;
  random: (n: number) => Uint8Array;
}

export interface RelayCounters {
  forwarded: number;
  forwardedBytes: number;
  /** Dropped: malformed, unknown channel, not from a member's session, member offline. */
  dropped: number;
  /** Dropped: over the sender's byte budget. */
  rateLimited: number;
}

/**
 * Published on `hallway:relay` (protocol/diagnostics.ts) for every envelope: forwarded,
 * dropped or over its sender's budget, with its size and source.
 */
export interface RelayDiagnostic {
  relay: Relay;
  outcome: "forwarded" | "dropped" | "rateLimited";
  bytes: number;
  from: Address;
  /** The relay's live counters (read them, do not keep them). */
  counters: Readonly<RelayCounters>;
}

/** Default budget: 4 MB/s per user, a small fraction of an office LAN, plenty for chat and files. */
export const DEFAULT_RELAY_BYTES_PER_SECOND = 4_000_000;
export const DEFAULT_RELAY_IDLE_MS = 120_000;
export const DEFAULT_RELAY_CHANNELS_PER_USER = 32;

interface Channel {
  users: readonly [string, string];
  lastUsed: number;
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");

function sameAddress(a: Address, b: Address): boolean {
  return a.host === b.host && a.port === b.port;
}

export class Relay {
  readonly counters: RelayCounters = { forwarded: 0, forwardedBytes: 0, dropped: 0, rateLimited: 0 };
  private readonly channels = new Map<string, Channel>();
  /** Per user, their channels' tokens, oldest first. */
  private readonly byUser = new Map<string, string[]>();
  private readonly budget: HostRateLimiter;
  private readonly idleMs: number;
  private readonly maxChannelsPerUser: number;

  constructor(private readonly opts: RelayOptions) {
    this.idleMs = opts.idleMs ?? DEFAULT_RELAY_IDLE_MS;
    this.maxChannelsPerUser = opts.maxChannelsPerUser ?? DEFAULT_RELAY_CHANNELS_PER_USER;
    this.budget = new HostRateLimiter(
      opts.bytesPerSecond,
      undefined,
      opts.burstBytes ?? Math.max(64 * 1024, opts.bytesPerSecond / 4),
    );
  }

  get enabled(): boolean {
    return this.opts.bytesPerSecond > 0;
  }

  get size(): number {
    return this.channels.size;
  }

  /** A new channel between two users; its token in hex, or undefined with the relay off. */
  open(a: string, b: string, now: number): string | undefined {
    if (!this.enabled) return undefined;
    const token = hex(this.opts.random(RELAY_TOKEN_BYTES));
    this.channels.set(token, { users: [a, b], lastUsed: now });
    for (const user of [a, b]) {
      const list = this.byUser.get(user) ?? [];
      list.push(token);
      while (list.length > this.maxChannelsPerUser) this.remove(list[0] as string);
      this.byUser.set(user, list);
    }
    return token;
  }

  /**
   * The envelope to send on and where, or undefined if it is dropped (and counted).
   * `sessionAddress` gives a user's current session address if they are online.
   */
  forward(
    bytes: Uint8Array,
    from: Address,
    now: number,
    sessionAddress: (user: string) => Address | undefined,
  ): { to: Address; bytes: Uint8Array } | undefined {
    const env = decodeRelay(bytes);
    const token = env.ok ? hex(env.value.token) : "";
    const channel = this.channels.get(token);
    if (!channel || now - channel.lastUsed > this.idleMs) return this.count("dropped", bytes, from);
    const [a, b] = channel.users;
    const aAt = sessionAddress(a);
    const bAt = sessionAddress(b);
    let sender: string;
    let to: Address | undefined;
    if (aAt && sameAddress(aAt, from)) [sender, to] = [a, bAt];
    else if (bAt && sameAddress(bAt, from)) [sender, to] = [b, aAt];
    else return this.count("dropped", bytes, from);
    if (to === undefined) return this.count("dropped", bytes, from);
    if (!this.budget.take(sender, now, bytes.length)) return this.count("rateLimited", bytes, from);
    if (channel.lastUsed !== now) {
      // To the back: the map stays in least-recently-used order, which `sweep` relies on.
      channel.lastUsed = now;
      this.channels.delete(token);
      this.channels.set(token, channel);
    }
    this.counters.forwardedBytes += bytes.length;
    this.count("forwarded", bytes, from);
    return { to, bytes };
  }

  /** Counts an envelope's fate, and publishes it on `hallway:relay` if anyone listens. */
  private count(outcome: RelayDiagnostic["outcome"], bytes: Uint8Array, from: Address): undefined {
    this.counters[outcome]++;
    if (relayDiagnostics.hasSubscribers) {
      const message: RelayDiagnostic = {
        relay: this,
        outcome,
        bytes: bytes.length,
        from,
        counters: this.counters,
      };
      relayDiagnostics.publish(message);
    }
    return undefined;
  }

  /** A user logged out or timed out: their channels end. */
  dropUser(user: string): void {
    for (const token of [...(this.byUser.get(user) ?? [])]) this.remove(token);
    this.byUser.delete(user);
    this.budget.forget(user);
  }

  /**
   * Forgets channels idle for longer than `idleMs`. The map is in least-recently-used order,
   * so this stops at the first channel still in use: its work is the channels that expire.
   */
  sweep(now: number): void {
    for (const [token, channel] of this.channels) {
      if (now - channel.lastUsed <= this.idleMs) return;
      this.remove(token);
    }
  }

  private remove(token: string): void {
    const channel = this.channels.get(token);
    if (!channel) return;
    this.channels.delete(token);
    for (const user of channel.users) {
      const list = this.byUser.get(user);
      if (!list) continue;
      const i = list.indexOf(token);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.byUser.delete(user);
    }
  }
}
