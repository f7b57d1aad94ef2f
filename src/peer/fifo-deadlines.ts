/**
 * Deadlines that fall due in the order they were set, because they all share one timeout
 * (a request's answer, a message's receipt): one timer serves them all, armed for the oldest.
 * Setting or clearing a deadline is a map operation; no timer is created or cancelled per
 * message. A cleared head leaves the timer armed, and its wake-up only re-arms it. Time and
 * the timer are the runtime's (monotonic `now()`).
 */

import type { Runtime, Timer } from "../runtime.js";

export class FifoDeadlines<K> {
  /** Insertion order is deadline order (one timeout for all). */
  private readonly due = new Map<K, number>();
  private timer: Timer | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly onExpired: (key: K) => void,
    private readonly runtime: Runtime,
  ) {}

  get size(): number {
    return this.due.size;
  }

  /** Starts (or restarts) `key`'s timeout. */
  set(key: K): void {
    this.due.delete(key);
    this.due.set(key, this.runtime.now() + this.timeoutMs);
    if (this.timer === undefined) this.arm();
  }

  /** Stops `key`'s timeout; returns whether it was running. */
  delete(key: K): boolean {
    return this.due.delete(key);
  }

  has(key: K): boolean {
    return this.due.has(key);
  }

  /** Stops every timeout, without calling `onExpired`. */
  clear(): void {
    this.due.clear();
    this.timer?.cancel();
    this.timer = undefined;
  }

  private arm(): void {
    const first = this.due.values().next();
    if (first.done) return;
    this.timer = this.runtime.after(Math.max(0, first.value - this.runtime.now()), () => this.fire());
  }

  private fire(): void {
    this.timer = undefined;
    const now = this.runtime.now();
    for (const [key, at] of this.due) {
      if (at > now) break;
      this.due.delete(key);
      this.onExpired(key);
    }
    if (this.timer === undefined) this.arm();
  }
}
