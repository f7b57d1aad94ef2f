/**
 * The registry's answer to abuse (docs/security.md; the numbers in `limits.ts`): every
 * request is charged to a token bucket of its class, per user once logged in and per session
 * before; refused and malformed requests are strikes, and enough of them end the session
 * (`session.end` with `SESSION_TERMINATED`, CLOSE) and block its address and port for a time
 * that grows with repeats, all of it logged and audited. Its counters go to the log in one
 * line when they moved.
 */

import type { UdpHost } from "../net/udp-host.js";
import type { SESSION_END_CODES } from "../protocol/control.js";
import type { Blocklist } from "./blocklist.js";
import { CommandLimits } from "./command-limits.js";
import type { CommandClass, Limits } from "./limits.js";
import { type AbuseCounters, type ClientSession, fmt, type Log, seconds } from "./registry-session.js";
import type { Store } from "./store/store.js";
import type { Take } from "./token-buckets.js";

export interface AbuseGuardOptions {
  limits: Limits;
  blocklist: Blocklist;
  abuse: AbuseCounters;
  host: Pick<UdpHost, "now" | "cookieStats" | "refused">;
  wall: () => number;
  log: Log;
  audit: (entry: Parameters<Store["appendAudit"]>[0]) => Promise<void>;
  endSession: (s: ClientSession, code: (typeof SESSION_END_CODES)[number], message: string) => void;
}

export class AbuseGuard {
  private readonly commandLimits: CommandLimits;
  private logged = "";

  constructor(private readonly opts: AbuseGuardOptions) {
    this.commandLimits = new CommandLimits(opts.limits);
  }

  /** The key a session's requests are charged to: its user once logged in. */
  private limitKey(s: ClientSession): string {
    return s.user === undefined ? `s:${s.conn.session}` : `u:${s.user}`;
  }

  /** Charges a request of class `cls`; a refusal is counted (the caller answers and strikes). */
  charge(s: ClientSession, cls: CommandClass, now: number): Take {
    // Logins and registrations are charged to the session even after a login.
    const key = cls === "account" ? `s:${s.conn.session}` : this.limitKey(s);
    const take = this.commandLimits.charge(key, cls, now);
    if (!take.ok) this.opts.abuse.rateLimited++;
    return take;
  }

  /** An offer is a request for work (a receiver, a stream, a check): charged like a write. */
  chargeFileOffer(s: ClientSession, now: number): boolean {
    if (this.commandLimits.charge(this.limitKey(s), "write", now).ok) return true;
    this.opts.abuse.rateLimited++;
    return false;
  }

  /** One strike against the session's key; enough of them end the session. */
  strike(s: ClientSession, now: number, why: string): void {
    if (this.commandLimits.strike(this.limitKey(s), now)) this.terminate(s, why);
  }

  /**
   * Persistent abuse: `session.end` and CLOSE with `SESSION_TERMINATED`, the source address and
   * port blocked, all of it logged and audited.
   */
  private terminate(s: ClientSession, why: string): void {
    if (s.ending) return;
    const { abuse } = this.opts;
    const now = this.opts.host.now();
    const blockMs = this.opts.blocklist.block(s.conn.address, s.user, now);
    const message = `${why}: this session is closed and your address is blocked for ${seconds(blockMs)}`;
    s.ending = { event: "terminated", detail: why };
    this.commandLimits.forgive(this.limitKey(s));
    abuse.terminated++;
    abuse.blocked++;
    const who = s.user ?? "an anonymous session";
    this.opts.log(
      `terminated ${who} from ${fmt(s.conn.address)} (${why}); blocked for ${seconds(blockMs)}`,
      "warn",
    );
    const at = this.opts.wall();
    const address = fmt(s.conn.address);
    const user = s.user ?? "";
    void this.opts.audit({ user, event: "blocked", at, address, detail: `for ${seconds(blockMs)}: ${why}` });
    if (!s.user) void this.opts.audit({ user, event: "terminated", at, address, detail: why });
    this.opts.endSession(s, "SESSION_TERMINATED", message);
  }

  /** One log line with the abuse limits' counters, if they moved since the last one. */
  logCounters(): void {
    const a = this.opts.abuse;
    const c = this.opts.host.cookieStats;
    const line = `abuse: ${a.rateLimited} rate-limited, ${a.terminated} terminated, ${a.failedLogins} failed logins, ${a.throttledLogins} throttled, ${a.replaced} replaced, ${a.anonymousReaped} anonymous reaped, ${a.anonymousRefused} refused; handshakes: ${c.sent} cookies sent, ${c.accepted} with a cookie; ${this.opts.host.refused} datagrams from blocked addresses`;
    if (line === this.logged || (Object.values(a).every((n) => n === 0) && c.sent === 0)) return;
    this.logged = line;
    this.opts.log(line);
  }
}
