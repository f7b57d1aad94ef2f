/**
 * The registry role: accounts, login sessions, presence, offline messages, history and the
 * audit log, served over secure sessions on one UDP port.
 *
 * Presence lives in memory. Any authenticated request refreshes a session's liveness; a
 * session silent for 3 heartbeat intervals is timed out (presence transition + audit
 * `timeout`). The store sees transitions and a batched last-seen flush, never one write
 * per heartbeat. `away` is a flag on the live session (`presence.set`): everywhere but in
 * what the registry reports, an away user is online (lookup, connect, relay, delivery).
 *
 * Requests of one session are handled strictly in arrival order (a promise chain per
 * session), so a client's offline messages are stored in the order it sent them. Pushes to
 * a session caused by someone else's request go through the same chain.
 *
 * Appends are pipelined (group commit, `store/group-commit.ts`): a request that appends
 * (`history.append`, `history.batch`, `offline.send`) takes its place in the store's next
 * batch, in arrival order, and the session's next request runs at once; its answer goes out
 * when the batch has committed, never before. So one client's burst, and every client's
 * requests of one turn, share a transaction and an fsync. A batch that fails to commit
 * answers each of its requests `STORE_FAILED` with a retry-after; the client keeps the
 * messages and sends them again. A `history` page waits for the session's own appends.
 *
 * Files for groups and for people offline wait in the drop box (`drop-box.ts`), which runs
 * the peer's transfer layer on this registry's `UdpHost`: this file routes the `file.*`
 * messages of logged-in sessions and the `drop.*` requests to it, and calls it at login.
 *
 * Friends, groups, profiles and the messaging policy live in `social.ts`; this file asks it
 * whether a lookup, an offline message or a history entry is allowed, and whose presence a
 * user may see.
 *
 * Abuse limits (docs/security.md; the numbers in `limits.ts`):
 * - Every request is charged to a token bucket of its class, per user once logged in and per
 *   session before; over it, `RATE_LIMITED` with a retry-after, answered at once. Refused and
 *   malformed requests are strikes; enough of them and the session gets `session.end`
 *   (`SESSION_TERMINATED`), is closed, and its address and port are blocked: datagrams from
 *   there are dropped before decryption (`UdpHost` `admit`) for a time that grows with repeats.
 * - Logins: failures are throttled per account and host (`login-throttle.ts`), scrypt runs in a
 *   fair queue of bounded concurrency (`password-checks.ts`), and both are logged and audited.
 * - A session that has not logged in within `anonymous.loginWithinMs` is closed; a host may
 *   hold `anonymous.perHost` such sessions.
 * - One account, one session: a login from another device takes over and the old session gets
 *   `session.end` (`SESSION_REPLACED`); a `resume` login (a client reconnecting by itself)
 *   never takes over another device's live session, so two devices cannot fight.
 * - Every request gets an answer: a request that cannot be read, or is not a request, gets an
 *   `err`; an answer that would exceed the message limit is refused with `MSG_TOO_LARGE`, and
 *   lists come in pages. Quotas cap what waits for one recipient.
 */

import { randomBytes } from "node:crypto";
import { asHallwayError, HallwayError } from "../errors.js";
import { type HostedConnection, UdpHost } from "../net/udp-host.js";
import type { Address } from "../protocol/address.js";
import {
  type Control,
  decodeControl,
  encodeControl,
  requestIdInHead,
  requestIdOf,
  type SESSION_END_CODES,
} from "../protocol/control.js";
import type { Identity } from "../protocol/endpoint.js";
import { DEFAULT_PORT, MAX_MESSAGE_BYTES } from "../protocol/limits.js";
import { decodeStreamMessage } from "../protocol/stream-message.js";
import { AbuseGuard } from "./abuse-guard.js";
import { AnonymousSessions } from "./anonymous-sessions.js";
import { Blocklist } from "./blocklist.js";
import { DropBox, isDropRequest } from "./drop-box.js";
import type { DropLimits } from "./drop-rules.js";
import { Introductions } from "./introductions.js";
import { commandClass, DEFAULT_LIMITS, type Limits } from "./limits.js";
import { LoginThrottle } from "./login-throttle.js";
import { Logins } from "./logins.js";
import { Messages } from "./messages.js";
import { OfficeRoom, type OfficeRoomOptions } from "./office-room.js";
import { PasswordChecks } from "./password-checks.js";
import { PresenceBoard } from "./presence-board.js";
import { type AbuseCounters, type ClientSession, Later, type Log, seconds } from "./registry-session.js";
import { DEFAULT_RELAY_BYTES_PER_SECOND, Relay } from "./relay.js";
import { SessionTable } from "./session-table.js";
import { isSocialRequest, type Policy, Social } from "./social.js";
import type { Store } from "./store/store.js";
import { type StunCounters, stunResponder } from "./stun-responder.js";

export { PROBE_ALLOWANCE_BYTES } from "./introductions.js";
export { type AbuseCounters, LOG_LEVELS, type LogLevel } from "./registry-session.js";

const LAST_SEEN_FLUSH_MS = 5_000;
/** How often the relay's counters go to the log, when they changed. */
const RELAY_LOG_MS = 60_000;
/** The page of `users` when the request names none. */
const DEFAULT_USERS_PAGE = 500;

export interface RegistryOptions {
  store: Store;
  identity: Identity;
  host?: string;
  port?: number;
  /** A log line and how much it matters (info: comings and goings; warn: refusals, failures). */
  log?: Log;
  wallClock?: () => number;
  /** Who may message whom; default `open`. */
  policy?: Policy;
  /** Relay budget per user in bytes per second (src/server/relay.ts); 0 turns the relay off. */
  relayBytesPerSecond?: number;
  /** Abuse limits (`limits.ts`); default `DEFAULT_LIMITS`. */
  limits?: Limits;
  /** The drop box (`drop-box.ts`): its folder in the data directory and its limits; absent, none. */
  drop?: { dir: string; limits: DropLimits; sendBytesPerSecond?: number };
  /** The office room `#all` (office-room.ts); default off. */
  officeRoom?: OfficeRoomOptions;
}

export class Registry {
  private readonly host: UdpHost;
  private readonly table: SessionTable;
  private sweepTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private relayLogTimer: NodeJS.Timeout | undefined;
  private relayLogged = "";
  private readonly wall: () => number;
  private readonly log: Log;
  private readonly social: Social;
  private readonly presence: PresenceBoard;
  private readonly messages: Messages;
  private readonly introductions: Introductions;
  private readonly logins: Logins;
  private readonly office: OfficeRoom;
  droppedMessages = 0;
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
    this.wall = opts.wallClock ?? Date.now;
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
      random: (n) => new Uint8Array(randomBytes(n)),
    });
    this.introductions = new Introductions({
      store: opts.store,
      social: this.social,
      presence: this.presence,
      relay: this.relay,
      random: (n) => new Uint8Array(randomBytes(n)),
      reply: (s, msg) => this.reply(s, msg),
    });
    this.host = new UdpHost({
      identity: opts.identity,
      acceptIncoming: true,
      host: opts.host ?? "0.0.0.0",
      port: opts.port ?? DEFAULT_PORT,
      keepaliveMs: 15_000,
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
      onMessage: (conn, bytes) => this.onMessage(conn, bytes),
      onOversized: (conn, head) => this.onOversized(conn, head),
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
      log: this.log,
      audit: (entry) => this.audit(entry),
      reply: (s, msg) => this.reply(s, msg),
      endSession: (s, code, message) => this.endSession(s, code, message),
      armHeartbeat: (s) => this.table.armHeartbeat(s),
    });
  }

  get endpointStats() {
    return this.host.stats;
  }

  async start(): Promise<Address> {
    const enrolled = await this.office.enrollEveryone(this.wall());
    if (enrolled > 0) this.log(`office room #all: ${enrolled} user(s) enrolled`);
    const addr = await this.host.start();
    this.drop?.start();
    this.sweepTimer = setInterval(() => this.sweep(), 500);
    this.flushTimer = setInterval(() => void this.presence.flushLastSeen(), LAST_SEEN_FLUSH_MS);
    this.relayLogTimer = setInterval(() => {
      this.logRelay();
      this.guard.logCounters();
    }, RELAY_LOG_MS);
    this.relayLogTimer.unref?.();
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
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.relayLogTimer) clearInterval(this.relayLogTimer);
    this.sweepTimer = undefined;
    this.flushTimer = undefined;
    this.relayLogTimer = undefined;
    this.logRelay();
    this.guard.logCounters();
    this.drop?.stop();
    await this.host.stop("registry shutting down");
    await this.presence.flushLastSeen();
  }

  private onMessage(conn: HostedConnection, bytes: Uint8Array): void {
    const s = this.table.sessions.get(conn.session);
    if (!s || s.ending) return;
    const now = this.host.now();
    s.lastHeardAt = now;
    if (s.user !== undefined) this.presence.touchSeen(s.user);
    const decoded = decodeControl(bytes);
    if (!decoded.ok && this.onFileMessage(s, bytes, now)) return;
    if (!decoded.ok || !("rid" in decoded.value)) {
      this.droppedMessages++;
      // Answer a request we cannot read: silence would look like a lost registry to the client.
      const rid = requestIdOf(bytes);
      if (rid !== undefined) {
        const { code, detail } = decoded.ok
          ? {
              code: "PROTO_UNKNOWN_REQUEST" as const,
              detail: `'${decoded.value.t}' is not a request to the registry`,
            }
          : decoded.error;
        this.reply(s, { t: "err", rid, code, message: detail.slice(0, 500) });
      }
      this.guard.strike(s, now, "malformed requests");
      return;
    }
    const msg = decoded.value;
    const cls = commandClass(msg.t);
    if (cls !== undefined) {
      const take = this.guard.charge(s, cls, now);
      if (!take.ok) {
        this.reply(s, {
          t: "err",
          rid: msg.rid,
          code: "RATE_LIMITED",
          message: `too many ${cls} requests; try again in ${seconds(take.retryAfterMs)}`,
          retryAfterMs: take.retryAfterMs,
        });
        this.guard.strike(s, now, "too many requests");
        return;
      }
    }
    const size = bytes.length;
    s.queue = s.queue.then(() => this.handle(s, msg, size));
  }

  /**
   * A file-transfer message for the drop box: only from a logged-in session (others' are
   * dropped as malformed, a strike). False when it is not one.
   */
  private onFileMessage(s: ClientSession, bytes: Uint8Array, now: number): boolean {
    if (!this.drop) return false;
    const m = decodeStreamMessage(bytes);
    if (!m.ok || m.value.kind === "control") return false;
    if (s.user === undefined) {
      this.droppedMessages++;
      this.guard.strike(s, now, "file transfer before login");
      return true;
    }
    // An offer is a request for work (a receiver, a stream, a check): charged like a write.
    if (m.value.kind === "bad-offer" || m.value.msg.t === "file.offer") {
      if (!this.guard.chargeFileOffer(s, now)) {
        this.guard.strike(s, now, "too many file offers");
        return true;
      }
    }
    this.drop.handleFile(s.user, s.conn, m.value);
    return true;
  }

  /** A request over the message limit, dropped by the channel: answered if its rid was early. */
  private onOversized(conn: HostedConnection, head: Uint8Array): void {
    const s = this.table.sessions.get(conn.session);
    if (!s || s.ending) return;
    this.droppedMessages++;
    const rid = requestIdInHead(head);
    if (rid !== undefined) {
      this.reply(s, {
        t: "err",
        rid,
        code: "MSG_TOO_LARGE",
        message: `a request is at most ${MAX_MESSAGE_BYTES} bytes`,
      });
    }
    this.guard.strike(s, this.host.now(), "oversized requests");
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

  private async handle(s: ClientSession, msg: Control, size: number): Promise<void> {
    if (!("rid" in msg)) return;
    // A request queued before its session went away is not run: nobody waits for its answer.
    if (!this.host.isLive(s.conn) || s.ending) return;
    const rid = msg.rid;
    try {
      const data = await this.dispatch(s, msg, size);
      if (data instanceof Later) {
        // Answered when its batch commits; the session's next request goes on meanwhile.
        const answered = data.answer.then(
          (d) => this.answer(s, rid, d),
          (err) => this.answerError(s, msg.t, rid, err),
        );
        s.appended = answered;
        return;
      }
      this.answer(s, rid, data);
    } catch (err) {
      this.answerError(s, msg.t, rid, err);
    }
  }

  private answer(s: ClientSession, rid: number, data: unknown): void {
    this.reply(s, data === undefined ? { t: "ok", rid } : { t: "ok", rid, data });
  }

  private answerError(s: ClientSession, t: string, rid: number, err: unknown): void {
    const e = asHallwayError(err);
    if (e.code === "INTERNAL" || e.code === "MISUSE")
      this.log(`internal error on ${t}: ${e.message}`, "error");
    this.reply(s, {
      t: "err",
      rid,
      // A misuse inside the registry is its own bug; the wire has always called that INTERNAL.
      code: e.code === "MISUSE" ? "INTERNAL" : e.code,
      message: e.message.slice(0, 500),
      ...(e.retryAfterMs === undefined ? {} : { retryAfterMs: Math.ceil(e.retryAfterMs) }),
    });
  }

  private requireUser(s: ClientSession): string {
    if (!s.user) throw new HallwayError("AUTH_NOT_LOGGED_IN", "log in first");
    return s.user;
  }

  private async dispatch(s: ClientSession, msg: Control, size: number): Promise<unknown> {
    switch (msg.t) {
      case "register":
      case "login":
        // A session busy logging in is not reaped as anonymous, however long scrypt waits.
        s.accountWork++;
        try {
          return await (msg.t === "register" ? this.logins.register(s, msg) : this.logins.login(s, msg));
        } finally {
          s.accountWork--;
        }
      case "logout":
        await this.logins.goOffline(s, "logout");
        return undefined;
      case "heartbeat":
        this.requireUser(s);
        return undefined;
      case "presence.set":
        return this.logins.setPresence(s, this.requireUser(s), msg);
      case "users":
        return this.introductions.directory(this.requireUser(s), msg.limit ?? DEFAULT_USERS_PAGE, msg.after);
      case "lookup":
        return this.introductions.lookup(this.requireUser(s), msg);
      case "offline.send":
        return this.messages.offlineSend(this.requireUser(s), msg);
      case "offline.ack":
        return this.messages.offlineAck(this.requireUser(s), msg);
      case "history.append":
        return this.messages.appendHistory(this.requireUser(s), [msg.msg]);
      case "history.batch":
        return this.messages.appendHistory(this.requireUser(s), msg.msgs);
      case "connect":
        return this.introductions.connect(s, this.requireUser(s), msg, size, () => this.host.now());
      case "history": {
        const user = this.requireUser(s);
        await s.appended; // the page shows what this session appended before asking
        return this.messages.history(user, msg);
      }
      case "history.search":
        return this.messages.search(this.requireUser(s), msg);
      default:
        if (isDropRequest(msg)) {
          if (!this.drop) throw new HallwayError("PROTO_UNKNOWN_REQUEST", "this registry keeps no drop box");
          return this.drop.handle(this.requireUser(s), s.conn, msg);
        }
        if (isSocialRequest(msg)) return this.social.handle(this.requireUser(s), msg);
        throw new HallwayError("PROTO_UNKNOWN_REQUEST", `the registry does not answer '${msg.t}'`);
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
