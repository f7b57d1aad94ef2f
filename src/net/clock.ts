/**
 * The clock: monotonic milliseconds, the one time source of a process's cores and adapters.
 * Each composition root makes one and hands it down; cores only ever see `now` arguments, so
 * a simulation can give them virtual time instead.
 */

import { performance } from "node:perf_hooks";

export interface Clock {
  /** Monotonic milliseconds (fractions allowed); never goes back. */
  now(): number;
}

export const monotonicClock: Clock = { now: () => performance.now() };

/**
 * Wall-clock milliseconds since the epoch, for times that are stored or shown (a store's
 * delivery, migration and creation times); it can jump, unlike the monotonic clock. The
 * stores take it as the default of their `now` option.
 */
export const wallClock = { now: (): number => Date.now() };
