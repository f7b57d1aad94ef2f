/**
 * The connections' wake-ups for the session host (`session-host.ts` holds the theory of
 * operation): one heap entry per armed deadline, refreshed lazily. A connection whose deadline
 * moves earlier gets a new entry; an entry that no longer matches its connection's `wakeAt`
 * (or whose session is gone) is dropped when it comes up, so a wake-up may come early, never
 * late, and a turn pops only what is due.
 */

import type { SessionId } from "../protocol/endpoint.js";
import { TimerHeap } from "../protocol/timer-heap.js";
import type { Live } from "./session-host-types.js";

export class ConnectionWakeups {
  private readonly heap = new TimerHeap();

  constructor(private readonly live: ReadonlyMap<SessionId, Live>) {}

  /** The next session due at `now`, its wake-up disarmed; undefined when none is. */
  popDue(now: number): SessionId | undefined {
    for (;;) {
      const next = this.heap.peek();
      if (next === undefined || next.at > now) return undefined;
      this.heap.pop();
      const live = this.live.get(next.id);
      if (live === undefined || live.wakeAt !== next.at) continue;
      live.wakeAt = undefined;
      return next.id;
    }
  }

  /** The earliest armed wake-up, if any. */
  earliest(): number | undefined {
    for (;;) {
      const next = this.heap.peek();
      if (next === undefined) return undefined;
      if (this.live.get(next.id)?.wakeAt === next.at) return next.at;
      this.heap.pop();
    }
  }

  /** Arms the connection's wake-up if its deadline is now earlier than its heap entry. */
  schedule(id: SessionId): void {
    const live = this.live.get(id);
    if (!live) return;
    const at = live.conn.pollTimeout();
    if (at === undefined) return;
    if (live.wakeAt !== undefined && live.wakeAt <= at) return;
    live.wakeAt = at;
    this.heap.push(at, id);
  }
}
