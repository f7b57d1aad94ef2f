/**
 * The runtime port: time, timers and randomness as the roles see them. The roles (`peer/`,
 * `server/`) never call `setTimeout`, `Date.now()` or `randomBytes` themselves; each takes a
 * `Runtime` from its composition root, so a simulation can run them in virtual time with a
 * seeded random source (test/sim/role-sim.ts), and the real process runs them on this
 * adapter's `systemRuntime`.
 *
 * `now()` is the monotonic clock the cores and deadlines use; `wall()` is the calendar time
 * that is stored and shown (message times, last seen). A timer is `weak` when it must not keep
 * the process alive by itself (a periodic log line, a linger), as Node's `unref`.
 */

import { randomBytes } from "node:crypto";
import { type Clock, monotonicClock } from "./clock.js";

export interface Timer {
  /** Stops the timer; idempotent, and harmless after it fired. */
  cancel(): void;
}

export interface TimerOptions {
  /** The timer alone does not keep the process alive (Node's `unref`). */
  weak?: boolean;
}

export interface Runtime extends Clock {
  /** Monotonic milliseconds (fractions allowed); never goes back. */
  now(): number;
  /** Milliseconds since the epoch: what is stored and shown. */
  wall(): number;
  /** Calls `fn` once, `ms` from now. */
  after(ms: number, fn: () => void, opts?: TimerOptions): Timer;
  /** Calls `fn` every `ms` until cancelled. */
  every(ms: number, fn: () => void, opts?: TimerOptions): Timer;
  /** Calls `fn` at the end of this turn of the event loop, after what is already due. */
  soon(fn: () => void): void;
  /** `n` bytes from a cryptographically secure source. */
  random(n: number): Uint8Array;
}

function nodeTimer(
  handle: NodeJS.Timeout,
  opts: TimerOptions | undefined,
  clear: (h: NodeJS.Timeout) => void,
): Timer {
  if (opts?.weak) handle.unref();
  return { cancel: () => clear(handle) };
}

/** The process's runtime: Node's timers, the monotonic clock, the wall clock, `randomBytes`. */
export const systemRuntime: Runtime = {
  now: () => monotonicClock.now(),
  wall: () => Date.now(),
  after: (ms, fn, opts) => nodeTimer(setTimeout(fn, Math.max(0, ms)), opts, clearTimeout),
  every: (ms, fn, opts) => nodeTimer(setInterval(fn, Math.max(1, ms)), opts, clearInterval),
  soon: (fn) => {
    setImmediate(fn);
  },
  random: (n) => {
    const b = randomBytes(n);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  },
};
