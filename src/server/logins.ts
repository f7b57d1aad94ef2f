/**
 * Registration, login and going offline, and `presence.set`.
 *
 * A login checks the blocklist and the failed-login throttle, verifies the password in the
 * fair queue of scrypt work, then takes the account over: one account, one session. A login
 * from another device ends the old session (`SESSION_REPLACED`, logged and audited); one from
 * the same device ends it quietly; a `resume` login (a client reconnecting by itself) never
 * takes over another device's live session. Then the session is online: its heartbeat is
 * armed, what waited for the user is chained on its queue, its presence goes out, and after
 * the answer it hears who is online and gets its offline backlog and drops.
 */

import { asHallwayError, HallwayError } from "../errors.js";
import type { UdpHost } from "../net/udp-host.js";
import type { Control, ControlOf, SESSION_END_CODES } from "../protocol/control.js";
import {
  hashPassword,
  normalizeUsername,
  type ScryptParams,
  validatePassword,
  validateUsername,
  verifyPassword,
} from "./accounts.js";
import type { AnonymousSessions } from "./anonymous-sessions.js";
import type { Blocklist } from "./blocklist.js";
import { screenCandidates } from "./candidate-policy.js";
import type { DropBox } from "./drop-box.js";
import type { LoginThrottle } from "./login-throttle.js";
import type { Messages } from "./messages.js";
import type { OfficeRoom } from "./office-room.js";
import type { PasswordChecks } from "./password-checks.js";
import type { PresenceBoard } from "./presence-board.js";
import { type AbuseCounters, type ClientSession, fmt, type Log, seconds } from "./registry-session.js";
import type { Relay } from "./relay.js";
import type { Social } from "./social.js";
import type { AuditEvent, Store } from "./store/store.js";

export interface LoginsOptions {
  store: Store;
  office: OfficeRoom;
  social: Social;
  presence: PresenceBoard;
  messages: Messages;
  relay: Relay;
  drop: DropBox | undefined;
  blocklist: Blocklist;
  loginThrottle: LoginThrottle;
  passwordChecks: PasswordChecks;
  anonymous: AnonymousSessions<number>;
  abuse: AbuseCounters;
  /** The registry's sessions by id: a replaced session leaves it at once. */
  sessions: Map<number, ClientSession>;
  host: Pick<UdpHost, "isLive" | "now">;
  wall: () => number;
  /** Random bytes (password salts). */
  random: (n: number) => Uint8Array;
  /** The scrypt cost of new password hashes (`accounts.ts`). */
  passwordHashing: ScryptParams;
  log: Log;
  audit: (entry: Parameters<Store["appendAudit"]>[0]) => Promise<void>;
  reply: (s: ClientSession, msg: Control) => void;
  endSession: (s: ClientSession, code: (typeof SESSION_END_CODES)[number], message: string) => void;
  /** Schedules the check of a logged-in session's heartbeat deadline. */
  armHeartbeat: (s: ClientSession) => void;
}

export class Logins {
  constructor(private readonly opts: LoginsOptions) {}

  /** Password work in the fair queue, dropped if the session goes away before its turn. */
  private passwordWork<T>(s: ClientSession, work: () => Promise<T>): Promise<T> {
    return this.opts.passwordChecks.run(
      s.conn.address.host,
      () => this.opts.host.isLive(s.conn) && !s.ending,
      work,
    );
  }

  async register(s: ClientSession, msg: ControlOf<"register">): Promise<unknown> {
    const name = normalizeUsername(msg.user);
    validateUsername(name);
    validatePassword(msg.password, name);
    const passwordHash = await this.passwordWork(s, () =>
      hashPassword(msg.password, this.opts.random, this.opts.passwordHashing),
    );
    await this.opts.store.createUser({ name, passwordHash, createdAt: this.opts.wall() });
    await this.opts.office.enroll(name, this.opts.wall());
    await this.opts.store.appendAudit({
      user: name,
      event: "register",
      at: this.opts.wall(),
      address: fmt(s.conn.address),
    });
    this.opts.log(`registered ${name} from ${fmt(s.conn.address)}`);
    return { user: name };
  }

  async login(s: ClientSession, msg: ControlOf<"login">): Promise<unknown> {
    const name = normalizeUsername(msg.user);
    const host = s.conn.address.host;
    const address = fmt(s.conn.address);
    const user = await this.opts.store.getUser(name);
    const keyHex = Buffer.from(s.conn.remoteKey).toString("hex");
    // The device that last logged in to the account: never slowed by guesses from elsewhere.
    const knownDevice = user !== undefined && user.publicKey === keyHex;
    const blockedMs = this.opts.blocklist.userBlockedFor(name, this.opts.host.now());
    if (blockedMs > 0) {
      throw new HallwayError(
        "RATE_LIMITED",
        `${name} was cut off for abuse; logins are refused for ${seconds(blockedMs)}`,
        { retryAfterMs: blockedMs },
      );
    }
    const waitMs = this.opts.loginThrottle.waitMs(name, host, knownDevice, this.opts.host.now());
    if (waitMs > 0) {
      this.opts.abuse.throttledLogins++;
      throw new HallwayError("RATE_LIMITED", `too many failed logins; try again in ${seconds(waitMs)}`, {
        retryAfterMs: waitMs,
      });
    }
    const passwordOk =
      user !== undefined &&
      (await this.passwordWork(s, () => verifyPassword(msg.password, user.passwordHash)));
    if (!user || !passwordOk) {
      const why = user ? "wrong password" : "unknown user";
      this.opts.loginThrottle.failed(name, host, this.opts.host.now());
      this.opts.abuse.failedLogins++;
      const inARow = this.opts.loginThrottle.failuresOf(name, host, this.opts.host.now());
      this.opts.log(
        `failed login for ${JSON.stringify(name)} from ${address}: ${why} (${inARow} in a row)`,
        "warn",
      );
      await this.opts.audit({
        user: name,
        event: "login_failed",
        at: this.opts.wall(),
        address,
        detail: why,
      });
      throw user
        ? new HallwayError("AUTH_BAD_PASSWORD", "wrong password")
        : new HallwayError("AUTH_UNKNOWN_USER", `no user named '${name}'`);
    }
    this.opts.loginThrottle.succeeded(name, host, knownDevice);
    if (s.user && s.user !== name) await this.goOffline(s, "logout");
    const previous = this.opts.presence.online.get(name);
    const wasAway = previous?.away ?? false;
    if (previous && previous !== s) {
      const sameDevice = Buffer.from(previous.conn.remoteKey).equals(Buffer.from(s.conn.remoteKey));
      if (msg.resume && !sameDevice && this.opts.host.isLive(previous.conn)) {
        // A client reconnecting by itself never takes the account back from another device.
        throw new HallwayError("SESSION_REPLACED", "logged in elsewhere");
      }
      // The newest login wins: the old session (a crashed client, another device) is ended.
      previous.user = undefined;
      previous.ending = { event: "replaced", detail: `by a login from ${address}` };
      this.opts.sessions.delete(previous.conn.session);
      if (sameDevice) {
        // Quietly: no audit, no log. Usually a crashed or reconnecting client's own old session;
        // if another process of this device still holds it, it stops rather than fight back.
        this.opts.endSession(previous, "SESSION_REPLACED", "logged in again from this device");
      } else {
        this.opts.abuse.replaced++;
        this.opts.log(
          `${name}: the session from ${fmt(previous.conn.address)} is replaced by a login from ${address}`,
          "warn",
        );
        await this.opts.audit({
          user: name,
          event: "replaced",
          at: this.opts.wall(),
          address: fmt(previous.conn.address),
          detail: `by a login from ${address}`,
        });
        this.opts.endSession(previous, "SESSION_REPLACED", "logged in elsewhere");
      }
    }
    if (user.publicKey !== keyHex) await this.opts.store.setPublicKey(name, keyHex);
    const { accepted, refused } = screenCandidates(msg.addresses, s.conn.address);
    if (refused.length > 0) {
      this.opts.log(
        `${name}: refused host candidates not tied to ${address}: ${refused.map(fmt).join(", ")}`,
        "warn",
      );
    }
    this.opts.anonymous.remove(s.conn.session);
    s.user = name;
    s.heartbeatMs = msg.heartbeatMs;
    s.addresses = accepted;
    s.lastHeardAt = this.opts.host.now();
    s.timingOut = false;
    s.away = false;
    this.opts.presence.online.set(name, s);
    this.opts.armHeartbeat(s);
    // Chained now, before anyone else's request can push to this session: nothing live
    // overtakes what waited for the user (see social.ts).
    s.queue = s.queue.then(() =>
      this.opts.social
        .atLogin(name, (m) => this.opts.reply(s, m))
        .catch((err) => {
          this.opts.log(`login delivery to ${name} failed: ${asHallwayError(err).message}`, "warn");
        }),
    );
    this.opts.presence.touch(name);
    await this.opts.store.appendAudit({
      user: name,
      event: "login",
      at: this.opts.wall(),
      address: fmt(s.conn.address),
    });
    this.opts.log(`login ${name} from ${fmt(s.conn.address)}`);
    const audience = await this.opts.social.presenceAudience(name);
    // A new login starts online, also when it replaces an away session. A login that is not
    // a reconnect is a new process: whoever holds a direct session with the old one drops it
    // now (`fresh`) rather than wait for it to time out.
    const fresh = msg.resume !== true;
    if (!previous || wasAway || fresh) this.opts.presence.broadcast(name, "online", audience, s, fresh);
    // After the answer: who is online (or away) now, then the offline backlog in order.
    queueMicrotask(() => {
      for (const other of this.opts.presence.onlineIn(audience)) {
        if (other === name) continue;
        this.opts.reply(s, {
          t: "presence",
          user: other,
          status: this.opts.presence.presenceOf(other),
          at: this.opts.wall(),
        });
      }
      void this.opts.messages.deliverBacklog(s);
      this.opts.drop?.atLogin(name);
    });
    return { user: name, sessionAddress: s.conn.address };
  }

  /** `presence.set`: away or back, pushed to the same audience as logging in or out. */
  async setPresence(s: ClientSession, user: string, msg: ControlOf<"presence.set">): Promise<unknown> {
    const away = msg.status === "away";
    if (s.away === away) return undefined;
    s.away = away;
    this.opts.presence.broadcast(user, msg.status, await this.opts.social.presenceAudience(user), s);
    return undefined;
  }

  async goOffline(s: ClientSession, event: AuditEvent, detail?: string): Promise<void> {
    const user = s.user;
    if (!user) return;
    s.user = undefined;
    if (this.opts.presence.online.get(user) !== s) return;
    this.opts.presence.online.delete(user);
    this.opts.relay.dropUser(user);
    this.opts.presence.touch(user);
    this.opts.presence.broadcast(
      user,
      "offline",
      await this.opts.social.presenceAudience(user).catch(() => new Set<string>()),
    );
    this.opts.log(`${event} ${user}`);
    await this.opts.audit({
      user,
      event,
      at: this.opts.wall(),
      address: fmt(s.conn.address),
      ...(detail === undefined ? {} : { detail }),
    });
  }
}
