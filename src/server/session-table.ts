/**
 * The registry's sessions: one entry per secure session, from the handshake to its close.
 *
 * A new session is anonymous; a host may hold `anonymous.perHost` such sessions, and one that
 * has not logged in within `anonymous.loginWithinMs` is closed (unless its login is under
 * way). A logged-in session is live while anything arrives from it: one silent for
 * `MISSED_HEARTBEATS` heartbeat intervals is timed out (presence transition + audit
 * `timeout`). The deadlines are timer data (a `TimerHeap`) that `sweep(now)` pops, so a
 * sweep's work follows the sessions that fall silent, not the sessions that exist.
 */

import type { HostedConnection, UdpHost } from "../net/udp-host.js";
import { TimerHeap } from "../protocol/timer-heap.js";
import type { AnonymousSessions } from "./anonymous-sessions.js";
import { type AbuseCounters, type ClientSession, fmt, type Log } from "./registry-session.js";
import type { AuditEvent } from "./store/store.js";

const MISSED_HEARTBEATS = 3;

export interface SessionTableOptions {
  anonymous: AnonymousSessions<number>;
  abuse: AbuseCounters;
  log: Log;
  host: Pick<UdpHost, "close">;
  /** Takes the session's user offline (presence, audit); chained on the session's queue. */
  goOffline: (s: ClientSession, event: AuditEvent, detail?: string) => Promise<void>;
}

export class SessionTable {
  readonly sessions = new Map<number, ClientSession>();
  /**
   * Logged-in sessions by when their heartbeat would be overdue. Entries are refreshed lazily
   * (a message moves the deadline, not the entry), so a sweep pops only what may be due: its
   * work follows the sessions that fall silent, not the sessions that exist.
   */
  private readonly heartbeats = new TimerHeap();

  constructor(private readonly opts: SessionTableOptions) {}

  get(id: number): ClientSession | undefined {
    return this.sessions.get(id);
  }

  /** A new secure session, anonymous; closed at once if its host holds too many such. */
  open(conn: HostedConnection, now: number): void {
    this.sessions.set(conn.session, {
      conn,
      user: undefined,
      heartbeatMs: 10_000,
      lastHeardAt: now,
      addresses: [],
      queue: Promise.resolve(),
      away: false,
      accountWork: 0,
      appended: Promise.resolve(),
    });
    if (!this.opts.anonymous.add(conn.session, conn.address.host, now)) {
      this.opts.abuse.anonymousRefused++;
      this.opts.log(
        `refused a session from ${fmt(conn.address)}: too many sessions from there are not logged in`,
        "warn",
      );
      this.opts.host.close(conn, "too many sessions from your address are not logged in");
    }
  }

  /** The session is gone: its user goes offline, after what its queue holds. */
  closed(conn: HostedConnection, reason: string): void {
    this.opts.anonymous.remove(conn.session);
    const s = this.sessions.get(conn.session);
    if (!s) return;
    this.sessions.delete(conn.session);
    // Ended by the registry (terminated), or the client said goodbye (CLOSE frame) or went
    // silent until the session idled out.
    const ending = s.ending;
    const event = ending?.event ?? (reason === "idle" ? "timeout" : "logout");
    s.queue = s.queue.then(() => this.opts.goOffline(s, event, ending?.detail));
  }

  /** Sessions still anonymous past their deadline are closed: O(those due). */
  private reapAnonymous(now: number): void {
    for (const id of this.opts.anonymous.due(now)) {
      const s = this.sessions.get(id);
      if (!s || s.user !== undefined) continue;
      if (s.accountWork > 0) {
        this.opts.anonymous.add(id, s.conn.address.host, now, true); // logging in: another round
        continue;
      }
      this.opts.abuse.anonymousReaped++;
      this.opts.host.close(s.conn, "no login in time");
    }
  }

  /** What is due at `t`: anonymous sessions past their time, logged-in sessions gone silent. */
  sweep(t: number): void {
    this.reapAnonymous(t);
    for (let due = this.heartbeats.peek(); due !== undefined && due.at <= t; due = this.heartbeats.peek()) {
      this.heartbeats.pop();
      const s = this.sessions.get(due.id);
      if (s === undefined || s.heartbeatCheckAt !== due.at) continue; // a stale entry
      s.heartbeatCheckAt = undefined;
      if (s.user === undefined || s.timingOut) continue;
      if (t - s.lastHeardAt <= MISSED_HEARTBEATS * s.heartbeatMs) {
        this.armHeartbeat(s); // heard from since: check again at the new deadline
        continue;
      }
      s.timingOut = true;
      s.queue = s.queue.then(async () => {
        await this.opts.goOffline(s, "timeout");
        this.opts.host.close(s.conn, "heartbeat timeout");
      });
    }
  }

  /** Schedules the check of a logged-in session's heartbeat deadline, unless one is pending. */
  armHeartbeat(s: ClientSession): void {
    if (s.heartbeatCheckAt !== undefined) return;
    // Just past the deadline: the check then finds it overdue, unless something arrived.
    s.heartbeatCheckAt = s.lastHeardAt + MISSED_HEARTBEATS * s.heartbeatMs + 1;
    this.heartbeats.push(s.heartbeatCheckAt, s.conn.session);
  }
}
