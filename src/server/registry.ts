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
 * Friends, groups, profiles and the messaging policy live in `social.ts`; this file asks it
 * whether a lookup, an offline message or a history entry is allowed, and whose presence a
 * user may see.
 */

import { randomBytes } from "node:crypto";
import { asHallwayError, HallwayError } from "../errors.js";
import { type HostedConnection, now as monoNow, UdpHost } from "../net/udp-host.js";
import {
  type ChatMessage,
  type ConnectData,
  type Control,
  type ControlOf,
  decodeControl,
  encodeControl,
  type PresenceStatus,
  requestIdOf,
  type UserEntry,
} from "../protocol/control.js";
import type { Address, Identity } from "../protocol/endpoint.js";
import {
  hashPassword,
  normalizeUsername,
  validatePassword,
  validateUsername,
  verifyPassword,
} from "./accounts.js";
import { pushBatches } from "./push-batches.js";
import { DEFAULT_RELAY_BYTES_PER_SECOND, Relay } from "./relay.js";
import { isSocialRequest, type Policy, Social } from "./social.js";
import type { Store, StoredMessage } from "./store/store.js";
import { type StunCounters, stunResponder } from "./stun-responder.js";

export const DEFAULT_PORT = 7743;
const MISSED_HEARTBEATS = 3;
const LAST_SEEN_FLUSH_MS = 5_000;
/** How often the relay's counters go to the log, when they changed. */
const RELAY_LOG_MS = 60_000;

export interface RegistryOptions {
  store: Store;
  identity: Identity;
  host?: string;
  port?: number;
  log?: (line: string) => void;
  wallClock?: () => number;
  /** Who may message whom; default `open`. */
  policy?: Policy;
  /** Relay budget per user in bytes per second (src/server/relay.ts); 0 turns the relay off. */
  relayBytesPerSecond?: number;
}

interface ClientSession {
  conn: HostedConnection;
  user: string | undefined;
  heartbeatMs: number;
  lastHeardAt: number;
  addresses: Address[];
  queue: Promise<void>;
  timingOut?: boolean;
  /** The user said they stepped away; the session stays live and reachable. */
  away: boolean;
}

export class Registry {
  private readonly host: UdpHost;
  private readonly sessions = new Map<number, ClientSession>();
  private readonly online = new Map<string, ClientSession>();
  private readonly lastSeen = new Map<string, number>();
  private readonly dirtyLastSeen = new Map<string, number>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private relayLogTimer: NodeJS.Timeout | undefined;
  private relayLogged = "";
  private readonly wall: () => number;
  private readonly log: (line: string) => void;
  private readonly social: Social;
  droppedMessages = 0;
  readonly stun: StunCounters = { answered: 0, dropped: 0, rateLimited: 0 };
  readonly relay: Relay;

  constructor(private readonly opts: RegistryOptions) {
    this.wall = opts.wallClock ?? Date.now;
    this.log = opts.log ?? (() => {});
    this.social = new Social({
      store: opts.store,
      policy: opts.policy ?? "open",
      wall: this.wall,
      presenceOf: (user) => this.presenceOf(user),
      push: (user, msg) => {
        const target = this.online.get(user);
        if (target) target.queue = target.queue.then(() => this.reply(target, msg));
      },
      log: this.log,
    });
    this.relay = new Relay({
      bytesPerSecond: opts.relayBytesPerSecond ?? DEFAULT_RELAY_BYTES_PER_SECOND,
      random: (n) => new Uint8Array(randomBytes(n)),
    });
    this.host = new UdpHost({
      identity: opts.identity,
      acceptIncoming: true,
      host: opts.host ?? "0.0.0.0",
      port: opts.port ?? DEFAULT_PORT,
      keepaliveMs: 15_000,
    });
    this.host.handlers = {
      onEstablished: (conn) => {
        this.sessions.set(conn.session, {
          conn,
          user: undefined,
          heartbeatMs: 10_000,
          lastHeardAt: monoNow(),
          addresses: [],
          queue: Promise.resolve(),
          away: false,
        });
      },
      onMessage: (conn, bytes) => this.onMessage(conn, bytes),
      onClosed: (conn, reason) => this.onClosed(conn, reason),
      onForeignDatagram: stunResponder(this.host, this.stun),
      onRelay: (bytes, from) => {
        const out = this.relay.forward(bytes, from, monoNow(), (u) => this.online.get(u)?.conn.address);
        if (out) this.host.sendRaw(out.bytes, out.to);
        return true;
      },
    };
  }

  get endpointStats() {
    return this.host.stats;
  }

  async start(): Promise<Address> {
    const addr = await this.host.start();
    this.sweepTimer = setInterval(() => this.sweep(), 500);
    this.flushTimer = setInterval(() => void this.flushLastSeen(), LAST_SEEN_FLUSH_MS);
    this.relayLogTimer = setInterval(() => this.logRelay(), RELAY_LOG_MS);
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
    await this.host.stop("registry shutting down");
    await this.flushLastSeen();
  }

  private onMessage(conn: HostedConnection, bytes: Uint8Array): void {
    const s = this.sessions.get(conn.session);
    if (!s) return;
    s.lastHeardAt = monoNow();
    const decoded = decodeControl(bytes);
    if (!decoded.ok) {
      this.droppedMessages++;
      // Answer a request we cannot read: silence would look like a lost registry to the client.
      const rid = requestIdOf(bytes);
      const { code, detail } = decoded.error;
      if (rid !== undefined) {
        s.queue = s.queue.then(() => this.reply(s, { t: "err", rid, code, message: detail.slice(0, 500) }));
      }
      return;
    }
    const msg = decoded.value;
    s.queue = s.queue.then(() => this.handle(s, msg));
  }

  private reply(s: ClientSession, msg: Control): void {
    if (!this.host.isLive(s.conn)) return;
    try {
      this.host.send(s.conn, encodeControl(msg));
    } catch (err) {
      this.log(`cannot reply to ${s.user ?? "anonymous"}: ${asHallwayError(err).message}`);
    }
  }

  private async handle(s: ClientSession, msg: Control): Promise<void> {
    if (!("rid" in msg)) {
      this.droppedMessages++;
      return;
    }
    const rid = msg.rid;
    try {
      const data = await this.dispatch(s, msg);
      this.reply(s, data === undefined ? { t: "ok", rid } : { t: "ok", rid, data });
    } catch (err) {
      const e = asHallwayError(err);
      if (e.code === "INTERNAL") this.log(`internal error on ${msg.t}: ${e.message}`);
      this.reply(s, { t: "err", rid, code: e.code, message: e.message });
    }
  }

  private requireUser(s: ClientSession): string {
    if (!s.user) throw new HallwayError("AUTH_NOT_LOGGED_IN", "log in first");
    return s.user;
  }

  private async dispatch(s: ClientSession, msg: Control): Promise<unknown> {
    switch (msg.t) {
      case "register":
        return this.register(s, msg);
      case "login":
        return this.login(s, msg);
      case "logout":
        await this.goOffline(s, "logout");
        return undefined;
      case "heartbeat":
        this.requireUser(s);
        return undefined;
      case "presence.set":
        return this.setPresence(s, msg);
      case "users":
        return { users: await this.directory(this.requireUser(s)) };
      case "lookup":
        return this.lookup(s, msg);
      case "offline.send":
        return this.offlineSend(s, msg);
      case "offline.ack":
        return this.offlineAck(s, msg);
      case "history.append": {
        const user = this.requireUser(s);
        if (msg.msg.from !== user) throw new HallwayError("PROTO_BAD_MESSAGE", "history entry is not yours");
        const { text, ...rest } = msg.msg;
        const to = normalizeUsername(rest.to);
        await this.social.requireMayTalk(user, to);
        await this.opts.store.appendHistory({ ...rest, to, body: text });
        return undefined;
      }
      case "connect":
        return this.connect(s, msg);
      case "history": {
        const user = this.requireUser(s);
        const messages = await this.opts.store.history(user, normalizeUsername(msg.with), {
          limit: msg.limit,
          ...(msg.before ? { before: msg.before } : {}),
        });
        return { messages: messages.map((m) => ({ ...toChat(m), deliveredAt: m.deliveredAt })) };
      }
      default:
        if (isSocialRequest(msg)) return this.social.handle(this.requireUser(s), msg);
        throw new HallwayError("PROTO_UNKNOWN_REQUEST", `the registry does not answer '${msg.t}'`);
    }
  }

  private async register(s: ClientSession, msg: ControlOf<"register">): Promise<unknown> {
    const name = normalizeUsername(msg.user);
    validateUsername(name);
    validatePassword(msg.password, name);
    const passwordHash = await hashPassword(msg.password);
    await this.opts.store.createUser({ name, passwordHash, createdAt: this.wall() });
    await this.opts.store.appendAudit({
      user: name,
      event: "register",
      at: this.wall(),
      address: fmt(s.conn.address),
    });
    this.log(`registered ${name} from ${fmt(s.conn.address)}`);
    return { user: name };
  }

  private async login(s: ClientSession, msg: ControlOf<"login">): Promise<unknown> {
    const name = normalizeUsername(msg.user);
    const user = await this.opts.store.getUser(name);
    if (!user) throw new HallwayError("AUTH_UNKNOWN_USER", `no user named '${name}'`);
    if (!(await verifyPassword(msg.password, user.passwordHash))) {
      throw new HallwayError("AUTH_BAD_PASSWORD", "wrong password");
    }
    if (s.user && s.user !== name) await this.goOffline(s, "logout");
    const previous = this.online.get(name);
    const wasAway = previous?.away ?? false;
    if (previous && previous !== s) {
      // The newest login wins: the old session (a crashed client, another device) is ended.
      previous.user = undefined;
      this.host.close(previous.conn, "logged in elsewhere");
      this.sessions.delete(previous.conn.session);
    }
    const keyHex = Buffer.from(s.conn.remoteKey).toString("hex");
    if (user.publicKey !== keyHex) await this.opts.store.setPublicKey(name, keyHex);
    s.user = name;
    s.heartbeatMs = msg.heartbeatMs;
    s.addresses = msg.addresses;
    s.lastHeardAt = monoNow();
    s.timingOut = false;
    s.away = false;
    this.online.set(name, s);
    // Chained now, before anyone else's request can push to this session: nothing live
    // overtakes what waited for the user (see social.ts).
    s.queue = s.queue.then(() =>
      this.social
        .atLogin(name, (m) => this.reply(s, m))
        .catch((err) => {
          this.log(`login delivery to ${name} failed: ${asHallwayError(err).message}`);
        }),
    );
    this.touch(name);
    await this.opts.store.appendAudit({
      user: name,
      event: "login",
      at: this.wall(),
      address: fmt(s.conn.address),
    });
    this.log(`login ${name} from ${fmt(s.conn.address)}`);
    const audience = await this.social.presenceAudience(name);
    // A new login starts online, also when it replaces an away session.
    if (!previous || wasAway) this.broadcastPresence(name, "online", audience, s);
    // After the answer: who is online (or away) now, then the offline backlog in order.
    queueMicrotask(() => {
      for (const [other] of this.online) {
        if (other === name || (audience && !audience.has(other))) continue;
        this.reply(s, { t: "presence", user: other, status: this.presenceOf(other), at: this.wall() });
      }
      void this.deliverBacklog(s);
    });
    return { user: name, sessionAddress: s.conn.address };
  }

  private async deliverBacklog(s: ClientSession): Promise<void> {
    const user = s.user;
    if (!user) return;
    const pending = await this.opts.store.pendingOffline(user, 10_000);
    for (const msgs of pushBatches(pending.map(toChat), (m) => m.text)) {
      this.reply(s, { t: "offline.deliver", msgs });
    }
  }

  /** Everyone under the open policy; yourself and your friends under the friends policy. */
  private async directory(me: string): Promise<UserEntry[]> {
    const audience = await this.social.presenceAudience(me);
    const users = (await this.opts.store.listUsers()).filter(
      (u) => !audience || u.name === me || audience.has(u.name),
    );
    return users.map((u) => ({
      name: u.name,
      status: this.presenceOf(u.name),
      lastSeen: this.lastSeen.get(u.name) ?? u.lastSeen,
    }));
  }

  private async lookup(s: ClientSession, msg: ControlOf<"lookup">): Promise<unknown> {
    const me = this.requireUser(s);
    const name = normalizeUsername(msg.user);
    // The registry introduces only peers that may talk: no address or key otherwise.
    await this.social.requireMayTalk(me, name);
    const target = this.online.get(name);
    if (target) {
      return {
        user: name,
        status: this.presenceOf(name),
        publicKey: Buffer.from(target.conn.remoteKey).toString("hex"),
        addresses: dedupe([target.conn.address, ...target.addresses]),
      };
    }
    const user = await this.opts.store.getUser(name);
    if (!user) throw new HallwayError("MSG_UNKNOWN_RECIPIENT", `no user named '${name}'`);
    return { user: name, status: "offline", publicKey: user.publicKey, addresses: [] };
  }

  /**
   * Registry-coordinated connect (docs/nat-traversal.md): both sides get the other's
   * candidates and one fresh token at the same moment, the target as a `punch` push and the
   * initiator as this answer, sent back to back.
   */
  private async connect(s: ClientSession, msg: ControlOf<"connect">): Promise<ConnectData> {
    const user = this.requireUser(s);
    const to = normalizeUsername(msg.to);
    if (to === user) throw new HallwayError("PEER_UNREACHABLE", "that is you");
    // Under --policy friends the registry introduces only friends.
    await this.social.requireMayTalk(user, to);
    const target = this.online.get(to);
    if (!target) throw new HallwayError("PEER_OFFLINE", `${to} is not online`);
    const token = randomBytes(16).toString("hex");
    const relay = msg.relay === false ? undefined : this.relay.open(user, to, monoNow());
    const candidatesOf = (c: ClientSession) => [
      ...c.addresses.map((address) => ({ type: "host" as const, address })),
      { type: "srflx" as const, address: c.conn.address },
    ];
    this.reply(target, {
      t: "punch",
      from: user,
      token,
      publicKey: Buffer.from(s.conn.remoteKey).toString("hex"),
      candidates: candidatesOf(s),
      ...(relay === undefined ? {} : { relay }),
    });
    return {
      peer: to,
      token,
      publicKey: Buffer.from(target.conn.remoteKey).toString("hex"),
      candidates: candidatesOf(target),
      ...(relay === undefined ? {} : { relay }),
    };
  }

  private async offlineSend(s: ClientSession, msg: ControlOf<"offline.send">): Promise<unknown> {
    const user = this.requireUser(s);
    if (msg.msg.from !== user) throw new HallwayError("PROTO_BAD_MESSAGE", "message is not from you");
    const to = normalizeUsername(msg.msg.to);
    if (!(await this.opts.store.getUser(to))) {
      throw new HallwayError("MSG_UNKNOWN_RECIPIENT", `no user named '${to}'`);
    }
    await this.social.requireMayTalk(user, to);
    // Committed to disk before the ack below goes out.
    const { text, ...rest } = msg.msg;
    await this.opts.store.enqueueOffline({ ...rest, to, body: text, deliveredAt: null });
    const recipient = this.online.get(to);
    if (recipient) this.reply(recipient, { t: "offline.deliver", msgs: [{ ...msg.msg, to }] });
    return undefined;
  }

  private async offlineAck(s: ClientSession, msg: ControlOf<"offline.ack">): Promise<unknown> {
    const user = this.requireUser(s);
    const pending = await this.opts.store.pendingOffline(user, 10_000);
    const wanted = new Set(msg.ids);
    await this.opts.store.ackOffline(user, msg.ids);
    const at = this.wall();
    for (const m of pending) {
      if (!wanted.has(m.id)) continue;
      const sender = this.online.get(m.from);
      if (sender) this.reply(sender, { t: "delivered", id: m.id, at });
    }
    return undefined;
  }

  /** `online` or `away` for a live session, else `offline`. */
  private presenceOf(user: string): PresenceStatus {
    const s = this.online.get(user);
    return !s ? "offline" : s.away ? "away" : "online";
  }

  /** `presence.set`: away or back, pushed to the same audience as logging in or out. */
  private async setPresence(s: ClientSession, msg: ControlOf<"presence.set">): Promise<unknown> {
    const user = this.requireUser(s);
    const away = msg.status === "away";
    if (s.away === away) return undefined;
    s.away = away;
    this.broadcastPresence(user, msg.status, await this.social.presenceAudience(user), s);
    return undefined;
  }

  /** To everyone online, or only to `audience` (the friends policy). */
  private broadcastPresence(
    user: string,
    status: PresenceStatus,
    audience: ReadonlySet<string> | undefined,
    except?: ClientSession,
  ): void {
    const at = this.wall();
    for (const [name, s] of this.online) {
      if (s !== except && (!audience || audience.has(name)))
        this.reply(s, { t: "presence", user, status, at });
    }
  }

  private touch(user: string): void {
    const at = this.wall();
    this.lastSeen.set(user, at);
    this.dirtyLastSeen.set(user, at);
  }

  private async goOffline(s: ClientSession, event: "logout" | "timeout"): Promise<void> {
    const user = s.user;
    if (!user) return;
    s.user = undefined;
    if (this.online.get(user) !== s) return;
    this.online.delete(user);
    this.relay.dropUser(user);
    this.touch(user);
    this.broadcastPresence(
      user,
      "offline",
      await this.social.presenceAudience(user).catch(() => new Set<string>()),
    );
    this.log(`${event} ${user}`);
    await this.opts.store.appendAudit({ user, event, at: this.wall(), address: fmt(s.conn.address) });
  }

  private onClosed(conn: HostedConnection, reason: string): void {
    const s = this.sessions.get(conn.session);
    if (!s) return;
    this.sessions.delete(conn.session);
    // The client said goodbye (CLOSE frame) or went silent until the session idled out.
    const event = reason === "idle" ? "timeout" : "logout";
    s.queue = s.queue.then(() => this.goOffline(s, event));
  }

  private sweep(): void {
    const t = monoNow();
    this.relay.sweep(t);
    for (const s of this.sessions.values()) {
      if (s.user && !s.timingOut && t - s.lastHeardAt > MISSED_HEARTBEATS * s.heartbeatMs) {
        const stale = s;
        stale.timingOut = true;
        stale.queue = stale.queue.then(async () => {
          await this.goOffline(stale, "timeout");
          this.host.close(stale.conn, "heartbeat timeout");
        });
      } else if (s.user) {
        this.touchSeen(s.user);
      }
    }
  }

  private touchSeen(user: string): void {
    // Cheap in-memory refresh; written out by the batched flush.
    const at = this.wall();
    if (at - (this.lastSeen.get(user) ?? 0) >= 1000) this.touch(user);
  }

  private async flushLastSeen(): Promise<void> {
    if (this.dirtyLastSeen.size === 0) return;
    const entries = [...this.dirtyLastSeen].map(([name, at]) => ({ name, at }));
    this.dirtyLastSeen.clear();
    try {
      await this.opts.store.flushLastSeen(entries);
    } catch (err) {
      this.log(`last-seen flush failed: ${asHallwayError(err).message}`);
    }
  }
}

function fmt(a: Address): string {
  return `${a.host}:${a.port}`;
}

function dedupe(addresses: Address[]): Address[] {
  const seen = new Set<string>();
  return addresses.filter((a) => {
    const k = fmt(a);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function toChat(m: StoredMessage): ChatMessage {
  return { id: m.id, from: m.from, to: m.to, text: m.body, sentAt: m.sentAt };
}
