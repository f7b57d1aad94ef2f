/**
 * Sessions that have not logged in yet (docs/security.md, "Anonymous sessions"). Each gets a
 * deadline `loginWithinMs` after its handshake; `due(now)` hands back the ones past it that
 * are still anonymous, in O(due): every deadline is the same distance from its session's
 * start, so the deadlines are a FIFO. At most `perHost` anonymous sessions per source host.
 * Sans-IO: `now` is the caller's.
 */

import type { Limits } from "./limits.js";

interface Entry {
  host: string;
  deadline: number;
}

export class AnonymousSessions<S> {
  private readonly entries = new Map<S, Entry>();
  private readonly perHost = new Map<string, number>();
  private queue: Array<{ session: S; deadline: number }> = [];
  private head = 0;

  constructor(private readonly limits: Limits["anonymous"]) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * A new session from `host`; false (and not added) when the host has its fill already.
   * `again`: a session given another round (it was busy logging in), counted whatever the cap.
   */
  add(session: S, host: string, now: number, again = false): boolean {
    const n = this.perHost.get(host) ?? 0;
    if (n >= this.limits.perHost && !again) return false;
    const deadline = now + this.limits.loginWithinMs;
    this.entries.set(session, { host, deadline });
    this.perHost.set(host, n + 1);
    this.queue.push({ session, deadline });
    return true;
  }

  /** The session logged in, or closed: it no longer counts. */
  remove(session: S): void {
    const e = this.entries.get(session);
    if (e === undefined) return;
    this.entries.delete(session);
    const n = (this.perHost.get(e.host) ?? 1) - 1;
    if (n > 0) this.perHost.set(e.host, n);
    else this.perHost.delete(e.host);
  }

  /** Sessions still anonymous past their deadline; they are removed. */
  due(now: number): S[] {
    const out: S[] = [];
    while (this.head < this.queue.length) {
      const next = this.queue[this.head] as { session: S; deadline: number };
      if (next.deadline > now) break;
      this.head++;
      const e = this.entries.get(next.session);
      if (e !== undefined && e.deadline === next.deadline) {
        this.remove(next.session);
        out.push(next.session);
      }
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}
