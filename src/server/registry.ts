/**
 * The registry role: accounts, login sessions, presence, offline messages, history and the
 * audit log, served over secure sessions on one UDP port. This file is the composition: it
 * builds the parts below on one `UdpHost`, routes the host's events to them, runs the
 * intervals (the sweep every half second, the last-seen flush, the counters' log lines) and
 * sends the answers (none over the message limit: an `ok` that would be is `MSG_TOO_LARGE`).
 *
 * It does no IO of its own choosing: time, timers and randomness come from an injected
 * `Runtime` (src/runtime.ts) and its sockets from an injected `DatagramSockets`, both handed to
 * its `UdpHost`, and the runtime handed down to every part (the intervals, the fan-out slices,
 * the drop box's sweep, ids, password salts). A process runs it on `systemRuntime` and real
 * UDP (the defaults); a simulation on virtual time and a virtual network, with a cheaper scrypt
 * cost (`passwordHashing`) so that it can register a thousand accounts. Not yet on it: the
 * store's group commit (the end of its turn is `setImmediate`) and the drop box's file
 * transfers (the peer's `FileTransfers`: its ids, fsync delay and linger timers).
 *
 * The parts, each in a file of its own:
 * - `session-table.ts`: the sessions from handshake to close; anonymous sessions capped per
 *   host and closed when they do not log in in time; heartbeat deadlines as timer data (a
 *   session silent for 3 heartbeat intervals is timed out).
 * - `requests.ts`: request intake and dispatch, strictly in arrival order per session (a
 *   promise chain); unreadable and oversized requests answered with an `err`; requests that
 *   append answered when their group commit has committed (`store/group-commit.ts`).
 * - `abuse-guard.ts`: token buckets per request class, strikes, and ending and blocking an
 *   abusive session (docs/security.md; the numbers in `limits.ts`). Datagrams from a blocked
 *   address are dropped before decryption (`UdpHost` `admit`).
 * - `logins.ts`: register, login (throttled per account and host, scrypt in a fair queue, one
 *   session per account: a login from another device takes over, a `resume` never does),
 *   going offline, `presence.set`.
 * - `presence-board.ts`: who is online (`away` is a flag on the live session), last seen in
 *   batched writes, presence changes fanned out a slice of sessions per turn.
 * - `messages.ts`: offline messages (stored, acknowledged, pushed, delivered receipts) and
 *   history (appends in the group commit, pages, search).
 * - `introductions.ts`: the user directory, `lookup`, and the coordinated `connect` with its
 *   relay channel (`relay.ts`); STUN answers come from `stun-responder.ts`.
 * - `social.ts` (friends, groups, profiles, the messaging policy) says whether a lookup, a
 *   message or a history entry is allowed and whose presence a user may see; the drop box
 *   (`drop-box.ts`) keeps files for groups and for people offline, on this registry's host.
 * - `registry-session.ts`: what the parts share (the session record, `Later`, formatting).
 */

import { asHallwayError } from "../errors.js";
import { systemRuntime } from "../net/system-runtime.js";
import { type HostedConnection, UdpHost } from "../net/udp-host.js";
import type { Address } from "../protocol/address.js";
import { type Control, encodeControl, type SESSION_END_CODES } from "../protocol/control.js";
import { DEFAULT_PORT, MAX_MESSAGE_BYTES } from "../protocol/limits.js";
import type { Runtime, Timer } from "../runtime.js";
import { AbuseGuard } from "./abuse-guard.js";
import { checkScryptParams, DEFAULT_SCRYPT } from "./accounts.js";
import { AnonymousSessions } from "./anonymous-sessions.js";
import { Blocklist } from "./blocklist.js";
import { DropBox } from "./drop-box.js";
import { Introductions } from "./introductions.js";
import { DEFAULT_LIMITS, type Limits } from "./limits.js";
import { LoginThrottle } from "./login-throttle.js";
import { Logins } from "./logins.js";
import { Messages } from "./messages.js";
import { OfficeRoom } from "./office-room.js";
import { PasswordChecks } from "./password-checks.js";
import { PresenceBoard } from "./presence-board.js";
import type { RegistryOptions } from "./registry-options.js";
import type { AbuseCounters, ClientSession, Log } from "./registry-session.js";
import { DEFAULT_RELAY_BYTES_PER_SECOND, Relay } from "./relay.js";
import { Requests } from "./requests.js";
import { SessionTable } from "./session-table.js";
import { Social } from "./social.js";
import type { Store } from "./store/store.js";
import { type StunCounters, stunResponder } from "./stun-responder.js";

export { PROBE_ALLOWANCE_BYTES } from "./introductions.js";
export type { RegistryOptions } from "./registry-options.js";
export { type AbuseCounters, LOG_LEVELS, type LogLevel } from "./registry-session.js";

const LAST_SEEN_FLUSH_MS = 5_000;
/** How often the relay's counters go to the log, when they changed. */
const RELAY_LOG_MS = 60_000;

export class Registry {
  private readonly host: UdpHost;
  private readonly table: SessionTable;
  private sweepTimer: Timer | undefined;
  private flushTimer: Timer | undefined;
  private relayLogTimer: Timer | undefined;
  private relayLogged = "";
  private readonly runtime: Runtime;
  private readonly wall: () => number;
  private readonly log: Log;
  private readonly social: Social;
  private readonly presence: PresenceBoard;
  private readonly messages: Messages;
  private readonly introductions: Introductions;
  private readonly logins: Logins;
  private readonly requests: Requests;
  private readonly office: OfficeRoom;
  readonly stun: StunCounters = { answered: 0, dropped: 0, rateLimited: 0, tooSmall: 0 };
  readonly relay: Relay;
  readonly abuse: AbuseCounters = {
    rateLimited: 0,
    terminated: 0,
    blocked: 0,
    failedLogins: 0,
    throttledLogins: 0,
    replaced: 0,
    anonymousReaped: 0,
    anonymousRefused: 0,
  };
  private readonly limits: Limits;
  private readonly guard: AbuseGuard;
  private readonly blocklist: Blocklist;
  private readonly loginThrottle: LoginThrottle;
  private readonly passwordChecks: PasswordChecks;
  private readonly anonymous: AnonymousSessions<number>;
  private readonly drop: DropBox | undefined;

  constructor(private readonly opts: RegistryOptions) {
    const runtime = opts.runtime ?? systemRuntime;
    this.runtime = runtime;
    this.wall = opts.wallClock ?? (() => runtime.wall());
    const random = (n: number): Uint8Array => runtime.random(n);
    const passwordHashing = opts.passwordHashing ?? DEFAULT_SCRYPT;
    checkScryptParams(passwordHashing);
    this.log = opts.log ?? (() => {});
    this.limits = opts.limits ?? DEFAULT_LIMITS;
    this.blocklist = new Blocklist(this.limits.abuse);
    this.loginThrottle = new LoginThrottle(this.limits.logins);
    this.passwordChecks = new PasswordChecks(
      this.limits.logins.concurrentChecks,
      this.limits.logins.queuedChecksPerHost,
    );
    this.anonymous = new AnonymousSessions(this.limits.anonymous);
    this.table = new SessionTable({
      anonymous: this.anonymous,
      abuse: this.abuse,
      log: this.log,
      host: { close: (conn, reason) => this.host.close(conn, reason) },
      goOffline: (s, event, detail) => this.logins.goOffline(s, event, detail),
    });
    this.presence = new PresenceBoard({
      store: opts.store,
      wall: this.wall,
      soon: (fn) => runtime.soon(fn),
      log: this.log,
      isLive: (s) => this.host.isLive(s.conn),
      send: (s, bytes) => this.sendBytes(s, bytes),
    });
    this.office = new OfficeRoom(opts.store, opts.officeRoom ?? { mode: "off" });
    this.social = new Social({
      office: this.office,
      store: opts.store,
      policy: opts.policy ?? "open",
      quotas: this.limits.quotas,
      wall: this.wall,
      random,
      presenceOf: (user) => this.presence.presenceOf(user),
      push: (user, msg) => {
        const target = this.presence.online.get(user);
        if (target) target.queue = target.queue.then(() => this.reply(target, msg));
      },
      log: this.log,
    });
    this.messages = new Messages({
      store: opts.store,
      social: this.social,
      presence: this.presence,
      quotas: this.limits.quotas,
      wall: this.wall,
      reply: (s, msg) => this.reply(s, msg),
    });
    this.relay = new Relay({
      bytesPerSecond: opts.relayBytesPerSecond ?? DEFAULT_RELAY_BYTES_PER_SECOND,
      random,
    });
    this.introductions = new Introductions({
      store: opts.store,
      social: this.social,
      presence: this.presence,
      relay: this.relay,
      random,
      reply: (s, msg) => this.reply(s, msg),
    });
    this.host = new UdpHost({
      identity: opts.identity,
      acceptIncoming: true,
      host: opts.host ?? "0.0.0.0",
      port: opts.port ?? DEFAULT_PORT,
      keepaliveMs: 15_000,
      runtime,
      ...(opts.sockets === undefined ? {} : { sockets: opts.sockets }),
    });
    this.guard = new AbuseGuard({
      limits: this.limits,
      blocklist: this.blocklist,
      abuse: this.abuse,
      host: this.host,
      wall: this.wall,
      log: this.log,
      audit: (entry) => this.audit(entry),
      endSession: (s, code, message) => this.endSession(s, code, message),
    });
    this.host.handlers = {
      // One map lookup per datagram: a blocked source costs no decryption.
      admit: (from) => !this.blocklist.isBlocked(from.host, from.port, this.host.now()),
      onEstablished: (conn) => this.table.open(conn, this.host.now()),
      onMessage: (conn, bytes) => this.requests.onMessage(conn, bytes),
      onOversized: (conn, head) => this.requests.onOversized(conn, head),
      onClosed: (conn, reason) => this.onClosed(conn, reason),
      onForeignDatagram: stunResponder(this.host, this.stun),
      onRelay: (bytes, from) => {
        const out = this.relay.forward(
          bytes,
          from,
          this.host.now(),
          (u) => this.presence.online.get(u)?.conn.address,
        );
        if (out) this.host.sendRaw(out.bytes, out.to);
        return true;
      },
      onTurn: (now) => this.drop?.onTurn(now),
    };
    this.drop =
      opts.drop &&
      new DropBox({
        host: this.host,
        dir: opts.drop.dir,
        limits: opts.drop.limits,
        ...(opts.drop.sendBytesPerSecond === undefined
          ? {}
          : { sendBytesPerSecond: opts.drop.sendBytesPerSecond }),
        store: opts.store,
        mayTalk: (from, to) => this.social.requireMayTalk(from, to),
        push: (user, msg) => {
          const target = this.presence.online.get(user);
          if (target) target.queue = target.queue.then(() => this.reply(target, msg));
        },
        isOnline: (user) => this.presence.online.has(user),
        runtime,
        wall: this.wall,
        log: this.log,
      });
    this.logins = new Logins({
      store: opts.store,
      office: this.office,
      social: this.social,
      presence: this.presence,
      messages: this.messages,
      relay: this.relay,
      drop: this.drop,
      blocklist: this.blocklist,
      loginThrottle: this.loginThrottle,
      passwordChecks: this.passwordChecks,
      anonymous: this.anonymous,
      abuse: this.abuse,
      sessions: this.table.sessions,
      host: this.host,
      wall: this.wall,
      random,
      passwordHashing,
      log: this.log,
      audit: (entry) => this.audit(entry),
      reply: (s, msg) => this.reply(s, msg),
      endSession: (s, code, message) => this.endSession(s, code, message),
      armHeartbeat: (s) => this.table.armHeartbeat(s),
    });
    this.requests = new Requests({
      sessions: this.table.sessions,
      host: this.host,
      guard: this.guard,
      presence: this.presence,
      logins: this.logins,
      messages: this.messages,
      introductions: this.introductions,
      social: this.social,
      drop: this.drop,
      log: this.log,
      reply: (s, msg) => this.reply(s, msg),
    });
  }

  /** Messages dropped: unreadable, not requests, oversized, or file messages before login. */
  get droppedMessages(): number {
    return this.requests.dropped;
  }

  get endpointStats() {
    return this.host.stats;
  }

  async start(): Promise<Address> {
    const enrolled = await this.office.enrollEveryone(this.wall());
    if (enrolled > 0) this.log(`office room #all: ${enrolled} user(s) enrolled`);
    const addr = await this.host.start();
    this.drop?.start();
    this.sweepTimer = this.runtime.every(500, () => this.sweep());
    this.flushTimer = this.runtime.every(LAST_SEEN_FLUSH_MS, () => void this.presence.flushLastSeen());
    this.relayLogTimer = this.runtime.every(
      RELAY_LOG_MS,
      () => {
        this.logRelay();
        this.guard.logCounters();
      },
      { weak: true },
    );
    return addr;
  }

  /** One log line with the relay's counters, if they moved since the last one. */
  private logRelay(): void {
    const c = this.relay.counters;
    const line = `relay: ${this.relay.size} channels; ${c.forwarded} datagrams (${(c.forwardedBytes / 1e6).toFixed(1)} MB) forwarded, ${c.dropped} dropped, ${c.rateLimited} over budget`;
    if (line === this.relayLogged || (c.forwarded === 0 && c.dropped === 0)) return;
    this.relayLogged = line;
    this.log(line);
  }

  async stop(): Promise<void> {
    this.sweepTimer?.cancel();
    this.flushTimer?.cancel();
    this.relayLogTimer?.cancel();
    this.sweepTimer = undefined;
    this.flushTimer = undefined;
    this.relayLogTimer = undefined;
    this.logRelay();
    this.guard.logCounters();
    this.drop?.stop();
    await this.host.stop("registry shutting down");
    await this.presence.flushLastSeen();
  }

  /** Tells the client why and closes the session; the CLOSE reason carries the code too. */
  private endSession(s: ClientSession, code: (typeof SESSION_END_CODES)[number], message: string): void {
    this.reply(s, { t: "session.end", code, message });
    this.host.close(s.conn, `${code}: ${message}`.slice(0, 200));
  }

  private async audit(entry: Parameters<Store["appendAudit"]>[0]): Promise<void> {
    try {
      await this.opts.store.appendAudit(entry);
    } catch (err) {
      this.log(`audit write failed: ${asHallwayError(err).message}`, "error");
    }
  }

  private reply(s: ClientSession, msg: Control): void {
    if (!this.host.isLive(s.conn)) return;
    let bytes = encodeControl(msg);
    if (bytes.length > MAX_MESSAGE_BYTES && msg.t === "ok") {
      // Every request gets an answer, and none exceeds the message limit.
      bytes = encodeControl({
        t: "err",
        rid: msg.rid,
        code: "MSG_TOO_LARGE",
        message: "the answer is larger than a message may be; ask for a smaller page",
      });
    }
    this.sendBytes(s, bytes);
  }

  private sendBytes(s: ClientSession, bytes: Uint8Array): void {
    try {
      this.host.send(s.conn, bytes);
    } catch (err) {
      this.log(`cannot reply to ${s.user ?? "anonymous"}: ${asHallwayError(err).message}`, "error");
    }
  }

  private onClosed(conn: HostedConnection, reason: string): void {
    this.drop?.onClosed(conn);
    this.table.closed(conn, reason);
  }

  /** Every half second; its work is what is due (anonymous sessions, idle relays, silences). */
  private sweep(): void {
    const t = this.host.now();
    this.table.sweep(t);
    this.relay.sweep(t);
  }
}
