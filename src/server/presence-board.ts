/**
 * Who is online, and telling the others. The logged-in sessions by user, each user's last
 * seen time (refreshed in memory, written out in batches: the store never sees one write per
 * heartbeat), and the fan-out of presence changes, a slice of sessions per turn.
 *
 * `away` is a flag on the live session: everywhere but in what the registry reports, an away
 * user is online.
 */

import { asHallwayError } from "../errors.js";
import { encodeControl, type PresenceStatus } from "../protocol/control.js";
import type { ClientSession, Log } from "./registry-session.js";
import type { Store } from "./store/store.js";

/**
 * Sessions a presence change is pushed to per turn, at most (see `drainFanouts`): libuv reads
 * at most 32 datagrams from a UDP socket per event-loop iteration, and each push brings an
 * ACK back, so more per turn makes the receive queue grow until the kernel drops.
 */
const FANOUT_PER_TURN = 32;

export interface PresenceBoardOptions {
  store: Store;
  wall: () => number;
  /** Runs a function at the end of this turn (`Runtime.soon`): the next fan-out slice. */
  soon: (fn: () => void) => void;
  log: Log;
  /** Whether the session is still up. */
  isLive: (s: ClientSession) => boolean;
  /** Sends encoded bytes to a session. */
  send: (s: ClientSession, bytes: Uint8Array) => void;
}

export class PresenceBoard {
  /** The logged-in session of each user online. */
  readonly online = new Map<string, ClientSession>();
  readonly lastSeen = new Map<string, number>();
  private readonly dirtyLastSeen = new Map<string, number>();
  /** Presence pushes waiting to go out, a slice per turn (`drainFanouts`). */
  private readonly fanouts: Array<{ bytes: Uint8Array; targets: ClientSession[]; next: number }> = [];
  private fanoutScheduled = false;

  constructor(private readonly opts: PresenceBoardOptions) {}

  /** `online` or `away` for a live session, else `offline`. */
  presenceOf(user: string): PresenceStatus {
    const s = this.online.get(user);
    return !s ? "offline" : s.away ? "away" : "online";
  }

  /** To everyone online, or only to `audience` (the friends policy). */
  broadcast(
    user: string,
    status: PresenceStatus,
    audience: ReadonlySet<string> | undefined,
    except?: ClientSession,
    fresh = false,
  ): void {
    // Encoded once for everyone: a presence change may go to the whole office.
    const bytes = encodeControl({
      t: "presence",
      user,
      status,
      at: this.opts.wall(),
      ...(fresh ? { fresh } : {}),
    });
    const targets: ClientSession[] = [];
    for (const name of this.onlineIn(audience)) {
      const s = this.online.get(name);
      if (s !== undefined && s !== except) targets.push(s);
    }
    if (targets.length === 0) return;
    this.fanouts.push({ bytes, targets, next: 0 });
    this.scheduleFanout();
  }

  private scheduleFanout(): void {
    if (this.fanoutScheduled || this.fanouts.length === 0) return;
    this.fanoutScheduled = true;
    this.opts.soon(() => {
      this.fanoutScheduled = false;
      this.drainFanouts();
    });
  }

  /**
   * At most `FANOUT_PER_TURN` sessions per turn, fan-outs in order. 5,000 pushes in one turn
   * (or 256 per turn) left faster than their ACKs could be read back: the registry's socket
   * dropped 7,600 datagrams in three fan-outs to 5,000, and retransmission timeouts made each
   * take 2-7 s. A slice per turn, no larger than what a turn reads, keeps the two in step.
   */
  private drainFanouts(): void {
    let budget = FANOUT_PER_TURN;
    while (budget > 0) {
      const job = this.fanouts[0];
      if (job === undefined) break;
      const end = Math.min(job.targets.length, job.next + budget);
      budget -= end - job.next;
      for (; job.next < end; job.next++) {
        const s = job.targets[job.next] as ClientSession;
        if (this.opts.isLive(s)) this.opts.send(s, job.bytes);
      }
      if (job.next === job.targets.length) this.fanouts.shift();
    }
    this.scheduleFanout();
  }

  /**
   * Who of `audience` is online (everyone online when there is no audience), walking the
   * smaller of the two: a login under the friends policy costs its friends, not the office.
   */
  *onlineIn(audience: ReadonlySet<string> | undefined): Iterable<string> {
    if (audience === undefined) {
      yield* this.online.keys();
    } else if (audience.size < this.online.size) {
      for (const name of audience) if (this.online.has(name)) yield name;
    } else {
      for (const name of this.online.keys()) if (audience.has(name)) yield name;
    }
  }

  touch(user: string): void {
    const at = this.opts.wall();
    this.lastSeen.set(user, at);
    this.dirtyLastSeen.set(user, at);
  }

  touchSeen(user: string): void {
    // Cheap in-memory refresh; written out by the batched flush.
    const at = this.opts.wall();
    if (at - (this.lastSeen.get(user) ?? 0) >= 1000) this.touch(user);
  }

  async flushLastSeen(): Promise<void> {
    if (this.dirtyLastSeen.size === 0) return;
    const entries = [...this.dirtyLastSeen].map(([name, at]) => ({ name, at }));
    this.dirtyLastSeen.clear();
    try {
      await this.opts.store.flushLastSeen(entries);
    } catch (err) {
      this.opts.log(`last-seen flush failed: ${asHallwayError(err).message}`, "error");
    }
  }
}
