/**
 * The runtime port: time, timers and randomness as the roles see them. The roles (`peer/`,
 * `server/`) and the presenters (`ui/`) never call `setTimeout`, `Date.now()` or
 * `randomBytes` themselves; each takes a `Runtime` from its composition root, so a simulation
 * can run them in virtual time with a seeded random source (test/sim/role-sim.ts), and a real
 * process runs them on `net/system-runtime.ts`. Like `errors.ts`, every layer may import it:
 * it is types only.
 *
 * `now()` is the monotonic clock the cores and deadlines use; `wall()` is the calendar time
 * that is stored and shown (message times, last seen). A timer is `weak` when it must not keep
 * the process alive by itself (a periodic log line, a linger), as Node's `unref`.
 */

export interface Timer {
  /** Stops the timer; idempotent, and harmless after it fired. */
  cancel(): void;
}

export interface TimerOptions {
  /** The timer alone does not keep the process alive (Node's `unref`). */
  weak?: boolean;
}

export interface Runtime {
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
