/**
 * Blocked source addresses (docs/security.md, "Blocks"): after a session is terminated for
 * abuse, datagrams from its address and port are dropped before any decryption, for a time
 * that doubles with each offence of the same host or user (`abuse.blockMs` up to
 * `abuse.maxBlockMs`), until neither has offended for `abuse.forgetOffencesAfterMs`.
 *
 * The user of a terminated session may not log in again for the same time (from anywhere:
 * a new port would otherwise start the flood afresh, at the cost of a handshake and a login).
 *
 * `isBlocked` is one map lookup: it runs for every datagram. Sans-IO: `now` is the caller's.
 */

import type { Address } from "../protocol/address.js";
import type { Limits } from "./limits.js";
import { LruMap } from "./token-buckets.js";

interface Offences {
  count: number;
  lastAt: number;
}

export class Blocklist {
  /** `host|port` → blocked until. */
  private readonly blocked = new LruMap<string, number>(65_536);
  private readonly offences = new LruMap<string, Offences>(65_536);
  /** user → blocked until. */
  private readonly users = new LruMap<string, number>(65_536);

  constructor(private readonly abuse: Limits["abuse"]) {}

  /** Blocks `address`; returns for how long (ms). */
  block(address: Address, user: string | undefined, now: number): number {
    const keys = [`h:${address.host}`, ...(user === undefined ? [] : [`u:${user}`])];
    let repeats = 0;
    for (const k of keys) {
      const o = this.offences.get(k);
      const count = o && now - o.lastAt < this.abuse.forgetOffencesAfterMs ? o.count + 1 : 1;
      this.offences.set(k, { count, lastAt: now });
      repeats = Math.max(repeats, count - 1);
    }
    const ms = Math.min(this.abuse.maxBlockMs, this.abuse.blockMs * 2 ** Math.min(repeats, 30));
    this.blocked.set(`${address.host}|${address.port}`, now + ms);
    if (user !== undefined) this.users.set(user, now + ms);
    return ms;
  }

  /** How long `user` may not log in yet (0: may). */
  userBlockedFor(user: string, now: number): number {
    const until = this.users.peek(user);
    if (until === undefined) return 0;
    if (now < until) return Math.ceil(until - now);
    this.users.delete(user);
    return 0;
  }

  isBlocked(host: string, port: number, now: number): boolean {
    const k = `${host}|${port}`;
    const until = this.blocked.peek(k);
    if (until === undefined) return false;
    if (now < until) return true;
    this.blocked.delete(k);
    return false;
  }

  /** Addresses blocked now or until their next lookup. */
  get size(): number {
    return this.blocked.size;
  }
}
