/**
 * Login throttling (docs/security.md, "Password guessing"). Failed logins are counted per
 * account and source host together, per source host, and per account; past each count's free
 * allowance every further try must wait, `firstDelayMs` doubling per failure up to `maxDelayMs`,
 * counted from the last failure. A try that must wait is refused at once (`RATE_LIMITED`),
 * before any password work.
 *
 * The owner keeps access: a login from the device key that last logged in to the account (a
 * known device) is never made to wait, and the per-(account, host) key means guesses from
 * elsewhere do not slow the owner's host. Only the per-account count (a distributed attack)
 * slows the owner, and only on a device the registry has not seen for the account.
 *
 * Counts are forgotten `forgetAfterMs` after their last failure; a successful login clears
 * the (account, host) count, and the account's count too when it comes from a known device.
 * Sans-IO: `now` is the caller's. Memory is bounded (least recently used out).
 */

import type { Limits } from "./limits.js";
import { LruMap } from "./token-buckets.js";

interface Failures {
  count: number;
  lastAt: number;
}

export class LoginThrottle {
  private readonly failures = new LruMap<string, Failures>(65_536);

  constructor(private readonly limits: Limits["logins"]) {}

  /** How long a try for `account` from `host` must still wait (0: go ahead). */
  waitMs(account: string, host: string, knownDevice: boolean, now: number): number {
    if (knownDevice) return 0;
    const l = this.limits;
    return Math.max(
      this.wait(`a:${account}|${host}`, l.freeFailures, now),
      this.wait(`h:${host}`, l.freeFailuresPerHost, now),
      this.wait(`a:${account}`, l.freeFailuresPerAccount, now),
    );
  }

  /** A wrong password (or an unknown account) from `host`. */
  failed(account: string, host: string, now: number): void {
    for (const k of [`a:${account}|${host}`, `h:${host}`, `a:${account}`]) {
      const f = this.live(k, now);
      this.failures.set(k, { count: (f?.count ?? 0) + 1, lastAt: now });
    }
  }

  succeeded(account: string, host: string, knownDevice: boolean): void {
    this.failures.delete(`a:${account}|${host}`);
    if (knownDevice) this.failures.delete(`a:${account}`);
  }

  /** Failures counted now under the (account, host) key, for logs. */
  failuresOf(account: string, host: string, now: number): number {
    return this.live(`a:${account}|${host}`, now)?.count ?? 0;
  }

  private live(key: string, now: number): Failures | undefined {
    const f = this.failures.peek(key);
    if (f === undefined) return undefined;
    if (now - f.lastAt >= this.limits.forgetAfterMs) {
      this.failures.delete(key);
      return undefined;
    }
    return f;
  }

  private wait(key: string, free: number, now: number): number {
    const f = this.live(key, now);
    if (f === undefined || f.count < free) return 0;
    const delay = Math.min(
      this.limits.maxDelayMs,
      this.limits.firstDelayMs * 2 ** Math.min(30, f.count - free),
    );
    return Math.max(0, Math.ceil(f.lastAt + delay - now));
  }
}
