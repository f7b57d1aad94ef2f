/**
 * The registry's requests, from datagram to answer. A message from a session refreshes its
 * liveness, is decoded and charged to its rate limit (`abuse-guard.ts`), then queued on the
 * session's promise chain, so one session's requests are handled strictly in arrival order
 * (its offline messages are stored in the order it sent them). Every request gets an answer:
 * one that cannot be read, or is not a request, or is over the message limit, gets an `err`
 * with a stable code, and counts as a strike. File-transfer messages of logged-in sessions go
 * to the drop box.
 *
 * A request whose work waits for a group commit answers with a `Later`: it has taken its
 * place in the batch, the session's next request runs at once, and its answer goes out when
 * the batch has committed; a `history` page first waits for the session's own appends.
 */

import { asHallwayError, HallwayError } from "../errors.js";
import type { HostedConnection, UdpHost } from "../net/udp-host.js";
import { type Control, decodeControl, requestIdInHead, requestIdOf } from "../protocol/control.js";
import { MAX_MESSAGE_BYTES } from "../protocol/limits.js";
import { decodeStreamMessage } from "../protocol/stream-message.js";
import type { AbuseGuard } from "./abuse-guard.js";
import { type DropBox, isDropRequest } from "./drop-box.js";
import type { Introductions } from "./introductions.js";
import { commandClass } from "./limits.js";
import type { Logins } from "./logins.js";
import type { Messages } from "./messages.js";
import type { PresenceBoard } from "./presence-board.js";
import { type ClientSession, Later, type Log, seconds } from "./registry-session.js";
import { isSocialRequest, type Social } from "./social.js";

/** The page of `users` when the request names none. */
const DEFAULT_USERS_PAGE = 500;

export interface RequestsOptions {
  sessions: ReadonlyMap<number, ClientSession>;
  host: Pick<UdpHost, "isLive" | "now">;
  guard: AbuseGuard;
  presence: PresenceBoard;
  logins: Logins;
  messages: Messages;
  introductions: Introductions;
  social: Social;
  drop: DropBox | undefined;
  log: Log;
  reply: (s: ClientSession, msg: Control) => void;
}

export class Requests {
  /** Messages dropped: unreadable, not requests, oversized, or file messages before login. */
  dropped = 0;

  constructor(private readonly opts: RequestsOptions) {}

  onMessage(conn: HostedConnection, bytes: Uint8Array): void {
    const s = this.opts.sessions.get(conn.session);
    if (!s || s.ending) return;
    const now = this.opts.host.now();
    s.lastHeardAt = now;
    if (s.user !== undefined) this.opts.presence.touchSeen(s.user);
    const decoded = decodeControl(bytes);
    if (!decoded.ok && this.onFileMessage(s, bytes, now)) return;
    if (!decoded.ok || !("rid" in decoded.value)) {
      this.dropped++;
      // Answer a request we cannot read: silence would look like a lost registry to the client.
      const rid = requestIdOf(bytes);
      if (rid !== undefined) {
        const { code, detail } = decoded.ok
          ? {
              code: "PROTO_UNKNOWN_REQUEST" as const,
              detail: `'${decoded.value.t}' is not a request to the registry`,
            }
          : decoded.error;
        this.opts.reply(s, { t: "err", rid, code, message: detail.slice(0, 500) });
      }
      this.opts.guard.strike(s, now, "malformed requests");
      return;
    }
    const msg = decoded.value;
    const cls = commandClass(msg.t);
    if (cls !== undefined) {
      const take = this.opts.guard.charge(s, cls, now);
      if (!take.ok) {
        this.opts.reply(s, {
          t: "err",
          rid: msg.rid,
          code: "RATE_LIMITED",
          message: `too many ${cls} requests; try again in ${seconds(take.retryAfterMs)}`,
          retryAfterMs: take.retryAfterMs,
        });
        this.opts.guard.strike(s, now, "too many requests");
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
    if (!this.opts.drop) return false;
    const m = decodeStreamMessage(bytes);
    if (!m.ok || m.value.kind === "control") return false;
    if (s.user === undefined) {
      this.dropped++;
      this.opts.guard.strike(s, now, "file transfer before login");
      return true;
    }
    // An offer is a request for work (a receiver, a stream, a check): charged like a write.
    if (m.value.kind === "bad-offer" || m.value.msg.t === "file.offer") {
      if (!this.opts.guard.chargeFileOffer(s, now)) {
        this.opts.guard.strike(s, now, "too many file offers");
        return true;
      }
    }
    this.opts.drop.handleFile(s.user, s.conn, m.value);
    return true;
  }

  /** A request over the message limit, dropped by the channel: answered if its rid was early. */
  onOversized(conn: HostedConnection, head: Uint8Array): void {
    const s = this.opts.sessions.get(conn.session);
    if (!s || s.ending) return;
    this.dropped++;
    const rid = requestIdInHead(head);
    if (rid !== undefined) {
      this.opts.reply(s, {
        t: "err",
        rid,
        code: "MSG_TOO_LARGE",
        message: `a request is at most ${MAX_MESSAGE_BYTES} bytes`,
      });
    }
    this.opts.guard.strike(s, this.opts.host.now(), "oversized requests");
  }

  private async handle(s: ClientSession, msg: Control, size: number): Promise<void> {
    if (!("rid" in msg)) return;
    // A request queued before its session went away is not run: nobody waits for its answer.
    if (!this.opts.host.isLive(s.conn) || s.ending) return;
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
    this.opts.reply(s, data === undefined ? { t: "ok", rid } : { t: "ok", rid, data });
  }

  private answerError(s: ClientSession, t: string, rid: number, err: unknown): void {
    const e = asHallwayError(err);
    if (e.code === "INTERNAL" || e.code === "MISUSE")
      this.opts.log(`internal error on ${t}: ${e.message}`, "error");
    this.opts.reply(s, {
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
          return await (msg.t === "register"
            ? this.opts.logins.register(s, msg)
            : this.opts.logins.login(s, msg));
        } finally {
          s.accountWork--;
        }
      case "logout":
        await this.opts.logins.goOffline(s, "logout");
        return undefined;
      case "heartbeat":
        this.requireUser(s);
        return undefined;
      case "presence.set":
        return this.opts.logins.setPresence(s, this.requireUser(s), msg);
      case "users":
        return this.opts.introductions.directory(
          this.requireUser(s),
          msg.limit ?? DEFAULT_USERS_PAGE,
          msg.after,
        );
      case "lookup":
        return this.opts.introductions.lookup(this.requireUser(s), msg);
      case "offline.send":
        return this.opts.messages.offlineSend(this.requireUser(s), msg);
      case "offline.ack":
        return this.opts.messages.offlineAck(this.requireUser(s), msg);
      case "history.append":
        return this.opts.messages.appendHistory(this.requireUser(s), [msg.msg]);
      case "history.batch":
        return this.opts.messages.appendHistory(this.requireUser(s), msg.msgs);
      case "connect":
        return this.opts.introductions.connect(s, this.requireUser(s), msg, size, () => this.opts.host.now());
      case "history": {
        const user = this.requireUser(s);
        await s.appended; // the page shows what this session appended before asking
        return this.opts.messages.history(user, msg);
      }
      case "history.search":
        return this.opts.messages.search(this.requireUser(s), msg);
      default:
        if (isDropRequest(msg)) {
          if (!this.opts.drop)
            throw new HallwayError("PROTO_UNKNOWN_REQUEST", "this registry keeps no drop box");
          return this.opts.drop.handle(this.requireUser(s), s.conn, msg);
        }
        if (isSocialRequest(msg)) return this.opts.social.handle(this.requireUser(s), msg);
        throw new HallwayError("PROTO_UNKNOWN_REQUEST", `the registry does not answer '${msg.t}'`);
    }
  }
}
