/**
 * The process's `Runtime` (src/runtime.ts): Node's timers, the monotonic clock
 * (`clock.ts`), the wall clock and `crypto.randomBytes`. Composition roots hand it down; a
 * simulation hands down a virtual one instead.
 */

import { randomBytes } from "node:crypto";
import type { Runtime, Timer, TimerOptions } from "../runtime.js";
import { monotonicClock } from "./clock.js";

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
