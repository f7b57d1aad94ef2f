/**
 * The peer client: one UDP socket (through UdpHost) for the registry session and every
 * direct peer session. The terminal UI and the headless JSON mode both drive it. It runs on
 * an injected `Runtime` (time, timers, randomness; `runtime.ts`) and injected sockets
 * (`DatagramSockets`), by default the process's (`net/system-runtime.ts`, real UDP): this
 * façade hands the runtime to the `UdpHost` and to every part, none of which reads a clock,
 * sets a timer or draws random bytes of its own, so a simulation can run the whole client in
 * virtual time on a virtual network. This file is the façade that builds the parts and
 * routes what arrives to them; each concern is a file of its own:
 *
 *   registry-session.ts  which registry, login, requests and their deadline, heartbeat,
 *                        reconnect with backoff, the registry ending the session; `state`
 *   chat-delivery.ts     direct send, receipt deadline, offline fallback, outbox, history
 *   peer-links.ts        who is on which session, unverified sessions held, path events
 *   lan-mode.ts          LAN discovery glue: LAN mode, LAN outbox, TOFU, hand-back
 *   log-hand-over.ts     the message log: record a turn's arrivals, then hand them over
 *   client-files.ts      offering files and folders, peer to peer or via the drop box
 *   registry-queries.ts  the directory, history and search, page by page
 *
 * The client's state (`RegistrySession.state`):
 *
 *            start()                 login ok
 *   idle ─────────────▶ connecting ───────────▶ ready ◀─────────────┐
 *                           │                     │                 │ login (resume) ok
 *                           │ no registry, LAN    │ a request       │
 *                           │ discovery on:       │ unanswered, or  │
 *                           │ LAN mode            │ session closed  │
 *                           │                     ▼                 │
 *                           └───────────────▶ reconnecting ─────────┘
 *                                                 │   retried with backoff: 250 ms·2ⁿ,
 *                                                 │   at most 10 s, jittered (longer if
 *                                                 │   the registry says RATE_LIMITED)
 *                           fatal refusal (key    │
 *                           changed, bad password,│
 *                           SESSION_REPLACED …)   ▼
 *   any state ─────────── stop() ─────────────▶ closed ◀── session.end from the registry
 *
 * `start()` without LAN discovery rethrows a registry it cannot reach (state stays
 * "connecting"; the caller stops). `stop()` from "ready" (the session not ended by the
 * registry) logs out first: it sets "closed" (login waiters refused, heartbeat off), sets
 * "ready" again for the duration of the `logout` request, and then "closed" for good. While
 * the logout is in flight the client therefore still records arrivals and, should the logout
 * go unanswered, reports the registry lost; that is kept as it is (see docs/architecture.md).
 *
 * Registry loss: on reconnect the client logs in again (a `resume` login, which never takes
 * the account over from another device) and re-sends what the registry had not acknowledged.
 * Limits: `RATE_LIMITED` answers carry a retry-after, and so does `STORE_FAILED` when the
 * registry's store could not commit a batch; background work waits that long and tries again.
 */

import { asHallwayError, HallwayError } from "../errors.js";
import { systemInterfaces } from "../net/interfaces.js";
import { systemRuntime } from "../net/system-runtime.js";
import { type HostedConnection, isRelayAddress, UdpHost } from "../net/udp-host.js";
import type { Address } from "../protocol/address.js";
import {
  decodeControl,
  type LookupData,
  lookupData,
  MAX_NAME_CHARS,
  MAX_PASSWORD_CHARS,
  parseAnswer,
  SESSION_END_CODES,
  type SettablePresence,
} from "../protocol/control.js";
import { fingerprint } from "../protocol/noise.js";
import { decodeStreamMessage } from "../protocol/stream-message.js";
import type { Runtime } from "../runtime.js";
import { FileTransfers, type TransferRow } from "../transfers/file-transfers.js";
import { ChatDelivery, messageEvent } from "./chat-delivery.js";
import { ClientFiles } from "./client-files.js";
import type { PeerClientOptions, SendHow } from "./client-options.js";
import { DropClient } from "./drop-client.js";
import type { PeerEvent } from "./events.js";
import { isRegistryAbsent, LanMode, lanView } from "./lan-mode.js";
import { LogHandOver } from "./log-hand-over.js";
import type { InboxEvent } from "./message-log.js";
import { PeerPaths } from "./paths.js";
import { PeerLinks } from "./peer-links.js";
import * as queries from "./registry-queries.js";
import { RegistrySession } from "./registry-session.js";
import { fitsWire, SocialClient } from "./social.js";

export type { PeerClientOptions, SendHow } from "./client-options.js";

export class PeerClient {
  private readonly host: UdpHost;
  private readonly transfers: FileTransfers;
  /** Files to and from the registry's drop box (groups, people offline). */
  private readonly drops: DropClient;
  /** Sending files and folders, peer to peer or through the drop box. */
  private readonly files: ClientFiles;
  private readonly paths: PeerPaths;
  /** Friends, groups, profiles: requests to the registry and its social pushes. */
  readonly social: SocialClient;
  /** Sessions with other peers: who is on which, held until vouched for, their paths. */
  private readonly links: PeerLinks;
  /** The account's message log, and what goes through it to the presenter. */
  private readonly inbox: LogHandOver;
  /** Own presence as last set: a login starts online, so a reconnect sets `away` again. */
  private presence: SettablePresence = "online";
  private readonly heartbeatMs: number;
  private readonly requestTimeoutMs: number;
  private readonly directTimeoutMs: number;
  private readonly sendReportMs: number;
  /** Chat: direct send, receipts, the offline fallback and its outbox, history reports. */
  private readonly chat: ChatDelivery;
  /**
   * Settles if the client gives up by itself (the registry's key changed, or it refused the
   * login on a reconnect), with the error it already emitted as an `error` event.
   */
  readonly failed: Promise<HallwayError>;
  /** The registry session: requests, login, heartbeat, reconnect; the client's `state`. */
  private readonly session: RegistrySession;
  user: string;
  /** LAN discovery and LAN mode (docs/discovery.md); undefined when off. */
  private readonly lan: LanMode | undefined;

  constructor(private readonly opts: PeerClientOptions) {
    this.user = opts.user.trim().toLowerCase();
    this.heartbeatMs = opts.heartbeatMs ?? 10_000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 5_000;
    this.directTimeoutMs = opts.directTimeoutMs ?? 3_000;
    this.sendReportMs = opts.sendReportMs ?? Math.min(4_000, this.requestTimeoutMs);
    // Time, timers and randomness for the host and every part.
    const runtime: Runtime = opts.runtime ?? systemRuntime;
    this.inbox = new LogHandOver({
      user: this.user,
      runtime,
      openLog: opts.openLog,
      onEvent: opts.onEvent,
      onHandOverAgain: opts.onHandOverAgain,
      closed: () => this.session.state === "closed",
    });
    const host = new UdpHost({
      identity: opts.identity,
      acceptIncoming: true,
      port: opts.port ?? 0,
      keepaliveMs: Math.min(this.heartbeatMs, 15_000),
      handshakeTimeoutMs: Math.min(this.requestTimeoutMs, 5_000),
      ipv6: true,
      runtime,
      ...(opts.sockets === undefined ? {} : { sockets: opts.sockets }),
    });
    this.host = host;
    this.chat = new ChatDelivery({
      host,
      runtime,
      inbox: this.inbox,
      me: () => this.user,
      state: () => this.session.state,
      request: (body) => this.session.request(body),
      emit: (e) => this.emit(e),
      directTimeoutMs: this.directTimeoutMs,
      sendReportMs: this.sendReportMs,
      lookup: (user) => this.lookup(user),
      directTo: (user, info) => this.links.directTo(user, info),
      liveLink: (user) => this.links.liveLink(user),
      dropPeer: (user) => this.links.dropPeer(user),
      lanOn: () => this.lan !== undefined,
      lanMode: () => this.lan?.active ?? false,
      lanOutbox: () => this.lan?.outbox,
      sendLan: (msg) => (this.lan as LanMode).sendLan(msg),
      queueLan: (msg) => this.lan?.queueLan(msg),
    });
    this.session = new RegistrySession({
      host,
      runtime,
      server: opts.server,
      user: this.user,
      password: opts.password,
      pins: opts.pins,
      registryFingerprint: opts.registryFingerprint,
      heartbeatMs: this.heartbeatMs,
      requestTimeoutMs: this.requestTimeoutMs,
      emit: (e) => this.emit(e),
      addresses: () => this.hostAddresses(),
      onReady: () => this.onReady(),
      onLost: () => {
        if (this.lan) this.lan.setMode(true, new HallwayError("REGISTRY_LOST", "lost the registry"));
      },
      stop: () => this.stop(),
    });
    this.failed = this.session.failed;
    this.paths = new PeerPaths({
      host: this.host,
      registry: opts.server ?? { host: "0.0.0.0", port: 0 },
      registrySession: () => this.session.conn?.address,
      request: (body) => this.session.request(body),
      runtime,
      interfaces: opts.interfaces ?? systemInterfaces,
      onDirect: (user, path) => {
        const conn = this.links.liveLink(user);
        if (!conn) return;
        // Moving emits the path event; a session the far side already moved just learns its kind.
        if (isRelayAddress(conn.address)) this.host.moveTo(conn, path.address);
        else this.links.emitPath(user, conn);
      },
      onRelay: (user) => {
        const conn = this.links.liveLink(user);
        return conn !== undefined && isRelayAddress(conn.address);
      },
      ...(opts.pathRetryMs === undefined ? {} : { upgradeEveryMs: opts.pathRetryMs }),
    });
    this.links = new PeerLinks({
      host,
      runtime,
      paths: this.paths,
      me: () => this.user,
      emit: (e) => this.emit(e),
      onPeerMessage: (user, conn, bytes) => this.onPeerMessage(user, conn, bytes),
      lanDirectory: () => this.lan?.discovery.directory,
      lookup: (user) => this.lookup(user),
      verifyOnLan: (conn, user, held) => {
        if (!this.lan || this.session.state === "ready") return false;
        this.lan.verifyIncoming(conn, user, held);
        return true;
      },
      pinVouched: (user, keyHex) => this.lan?.pinVouched(user, keyHex),
    });
    this.host.handlers = {
      onProbe: (bytes, from) => this.paths.handleProbe(bytes, from),
      onEstablished: (conn) => this.links.onEstablished(conn),
      onMessage: (conn, bytes) => this.onMessage(conn, bytes),
      onClosed: (conn, reason) => this.onClosed(conn, reason),
      onAddressChanged: (conn) => this.links.onAddressChanged(conn),
      onTurn: (now) => this.transfers.onTurn(now),
    };
    this.social = new SocialClient({
      runtime,
      me: () => this.user,
      request: (body) => this.session.request(body),
      nextLogin: () => this.session.nextLogin(),
      emit: (e) => this.emit(e),
      receive: (events, then) => this.inbox.receive(events, then),
      recordSent: (event) => this.inbox.recordSent(event),
      unfriended: (user) => this.links.dropPeer(user),
    });
    this.transfers = new FileTransfers({
      host: this.host,
      runtime,
      emit: (e) => this.emit(e.event === "transfer" ? this.drops.decorate(e) : e),
      downloadDir: opts.downloadDir,
      ...(opts.autoAcceptDir === undefined ? {} : { autoAcceptDir: opts.autoAcceptDir }),
      ...(opts.offerTimeoutMs === undefined ? {} : { offerTimeoutMs: opts.offerTimeoutMs }),
      ...(opts.maxTransferRate === undefined ? {} : { maxTransferRate: opts.maxTransferRate }),
      ...(opts.maxFileBytes === undefined ? {} : { maxFileBytes: opts.maxFileBytes }),
      screenOffer: (peer, offer) => this.drops.screenDirect(peer, offer),
    });
    this.drops = new DropClient({
      transfers: this.transfers,
      runtime,
      request: (body) => this.session.request(body),
      registry: () => this.session.live(),
      emit: (e) => this.emit(e),
    });
    this.files = new ClientFiles({
      transfers: this.transfers,
      drops: this.drops,
      me: () => this.user,
      emit: (e) => this.emit(e),
      groups: () => this.social.groups(),
      liveLink: (user) => this.links.liveLink(user),
      lanMode: () => this.lan !== undefined && this.session.state !== "ready",
      lanSession: (user) => (this.lan as LanMode).lanSession(user),
      lookup: (user) => this.lookup(user),
      directTo: (user, info) => this.links.directTo(user, info),
    });
    this.lan = opts.lan
      ? new LanMode({
          lan: opts.lan,
          pins: opts.lan.pins,
          fingerprint: fingerprint(opts.identity.publicKey),
          host,
          runtime,
          links: this.links,
          chat: this.chat,
          me: () => this.user,
          state: () => this.session.state,
          registry: () => this.session.conn,
          request: (body) => this.session.request(body),
          lookup: (user) => this.lookup(user),
          emit: (e) => this.emit(e),
          adopt: (address) => this.session.adopt(address),
        })
      : undefined;
  }

  private emit(e: PeerEvent): void {
    this.opts.onEvent(e);
  }

  /** Bind, connect to the registry, register if asked, log in. Rejects with a HallwayError. */
  async start(): Promise<void> {
    // What the wire cannot carry gets the answer the registry would give, not a timeout.
    const register = Boolean(this.opts.register);
    if (!fitsWire(this.user)) {
      throw register
        ? new HallwayError("AUTH_BAD_USERNAME", `username must be 1–${MAX_NAME_CHARS} characters`)
        : new HallwayError("AUTH_UNKNOWN_USER", "no user by that name");
    }
    if (this.opts.password.length > MAX_PASSWORD_CHARS) {
      throw register
        ? new HallwayError("AUTH_WEAK_PASSWORD", `password must be at most ${MAX_PASSWORD_CHARS} characters`)
        : new HallwayError("AUTH_BAD_PASSWORD", "wrong password");
    }
    this.inbox.handOverPending();
    await this.host.start();
    this.session.state = "connecting";
    if (this.lan) this.chat.historyQueue.push(...this.lan.start(this.host.localPort));
    try {
      await this.session.connect();
      if (this.opts.register) await this.session.register();
      await this.session.login(false);
    } catch (err) {
      const e = asHallwayError(err);
      if (!this.lan || !isRegistryAbsent(e)) throw e;
      this.session.goLan(Boolean(this.opts.register || this.opts.lan?.registerIfMissing));
      this.lan.setMode(true, e);
      this.session.scheduleReconnect();
    }
  }

  /** Logged in: LAN mode ends, and what waited for the registry goes to it. */
  private onReady(): void {
    this.emit({ event: "ready", user: this.user });
    this.lan?.registryBack();
    void this.chat.flushOutbox();
    void this.chat.flushHistory();
    this.drops.onLogin();
    if (this.presence === "away") this.session.request({ t: "presence.set", status: "away" }).catch(() => {});
  }

  private hostAddresses(): Address[] {
    return this.paths.hostCandidates(this.host.localPort, this.host.localPort6);
  }

  // ---- incoming ----------------------------------------------------------------------

  private onMessage(conn: HostedConnection, bytes: Uint8Array): void {
    if (this.session.isRegistry(conn)) {
      this.onRegistryMessage(bytes);
      return;
    }
    this.links.onMessage(conn, bytes);
  }

  private onRegistryMessage(bytes: Uint8Array): void {
    const decoded = decodeControl(bytes);
    if (!decoded.ok) {
      // A transfer to or from the drop box: file messages on the registry session.
      const file = decodeStreamMessage(bytes);
      if (file.ok && file.value.kind !== "control" && this.session.conn)
        this.drops.handleFile(this.session.conn, file.value);
      return;
    }
    const msg = decoded.value;
    switch (msg.t) {
      case "ok":
      case "err":
        this.session.answer(
          msg.rid,
          msg.t === "ok"
            ? { ok: true, data: msg.data }
            : {
                ok: false,
                error: new HallwayError(msg.code, msg.message, {
                  origin: "remote",
                  ...(msg.retryAfterMs === undefined ? {} : { retryAfterMs: msg.retryAfterMs }),
                }),
              },
        );
        return;
      case "session.end":
        this.session.sessionEnded(msg.code, msg.message);
        return;
      case "presence":
        // Gone, or a new process of the same user: a session with the old one is stale.
        if (msg.status === "offline" || msg.fresh) this.links.dropPeer(msg.user);
        this.emit({ event: "presence", user: msg.user, status: msg.status });
        return;
      case "offline.deliver": {
        const mine = msg.msgs.filter((m) => m.to === this.user).map((m) => messageEvent(m, "offline"));
        // Acknowledged only once the log has them; else the next login delivers them again.
        const ids = msg.msgs.map((m) => m.id);
        this.inbox.receive(mine, () => void this.session.request({ t: "offline.ack", ids }).catch(() => {}));
        return;
      }
      case "delivered":
        this.inbox.receive([{ event: "delivered", id: msg.id }]);
        return;
      case "drop.notify":
        this.drops.handleNotify(msg.drops);
        return;
      case "punch":
        // The path events name the path by this attempt's candidates, whichever of the
        // handshake and our own probes' answer comes first (see emitPath, onDirect).
        this.paths.onPunch(msg);
        return;
      default:
        this.social.handlePush(msg);
        return;
    }
  }

  private onPeerMessage(user: string, conn: HostedConnection, bytes: Uint8Array): void {
    const decoded = decodeStreamMessage(bytes);
    if (!decoded.ok) return;
    if (decoded.value.kind === "file") {
      // Stream-0 messages whose `t` starts with "file." belong to the transfer layer.
      this.transfers.handleControl(user, conn, decoded.value.msg);
      return;
    }
    if (decoded.value.kind === "bad-offer") {
      this.transfers.handleBadOffer(user, conn, decoded.value);
      return;
    }
    this.chat.handle(user, conn, decoded.value.msg);
  }

  private onClosed(conn: HostedConnection, reason: string): void {
    if (this.session.conn && conn.session === this.session.conn.session) {
      // The registry's CLOSE names why it ended the session, should `session.end` be lost.
      const code = SESSION_END_CODES.find((c) => reason.startsWith(`${c}:`));
      // Transfers to and from the drop box end with it (partial files stay for a resume).
      this.transfers.onClosed(conn);
      if (code)
        this.session.sessionEnded(
          code,
          reason.slice(code.length + 1).trim() || "the registry ended the session",
        );
      else this.session.lost();
      return;
    }
    this.transfers.onClosed(conn);
    this.links.closed(conn);
  }

  // ---- commands ----------------------------------------------------------------------

  /**
   * Send a chat message; resolves with its id once it is on its way (direct or stored).
   * Sends are serialised so that messages leave in the order they were given.
   */
  send(toRaw: string, text: string): Promise<string> {
    return this.chat.send(toRaw, text);
  }

  private async lookup(user: string): Promise<LookupData> {
    return parseAnswer(lookupData, await this.session.request({ t: "lookup", user }), "lookup");
  }

  /** `{"cmd":"connect"}`: make sure there is a direct session to `user`, and say which path it took. */
  async connect(toRaw: string): Promise<void> {
    const to = toRaw.trim().toLowerCase();
    if (!fitsWire(to)) throw new HallwayError("MSG_UNKNOWN_RECIPIENT", "no user by that name");
    const live = this.links.liveLink(to);
    if (live) {
      this.links.showPath(to, live);
      return;
    }
    if (this.lan && this.session.state !== "ready") {
      await this.lan.lanSession(to);
      return;
    }
    const info = await this.lookup(to);
    if (info.status === "offline" || !info.publicKey)
      throw new HallwayError("PEER_OFFLINE", `${to} is not online`);
    await this.links.directTo(to, info);
  }

  // ---- file transfer -----------------------------------------------------------------

  /**
   * Offer the file at `path` to `toRaw`, who must be online; resolves with the transfer's
   * short number once offered (`client-files.ts`).
   */
  sendFile(toRaw: string, path: string, offeredName?: string, how: SendHow = {}): Promise<number> {
    return this.files.sendFile(toRaw, path, offeredName, how);
  }

  /** The same to several people (`client-files.ts`). */
  sendFileTo(
    names: readonly string[],
    path: string,
    offeredName?: string,
    how: SendHow = {},
  ): Promise<number[]> {
    return this.files.sendFileTo(names, path, offeredName, how);
  }

  /** Running transfers and folders, one row per number (for `/files`). */
  fileTransfers(): TransferRow[] {
    return this.transfers.list();
  }

  acceptFile(id: string, dir?: string): void {
    this.transfers.accept(id, dir);
  }

  declineFile(id: string): void {
    this.transfers.decline(id);
  }

  cancelFile(id: string): void {
    this.transfers.cancel(id);
  }

  /** The drop box: what you sent that waits to be taken, and what waits for you. */
  dropList(): Promise<PeerEvent> {
    return this.drops.list();
  }

  /** Withdraw a file you sent to the drop box (`ref`: its id, or the start of it). */
  dropCancel(ref: string): Promise<PeerEvent> {
    return this.drops.cancel(ref);
  }

  /** Refuse a file that waits for you in the drop box. */
  dropDecline(ref: string): Promise<PeerEvent> {
    return this.drops.decline(ref);
  }

  /**
   * Away or back (`online`): the registry tells everyone who may see this user's presence.
   * Kept across reconnects, also when the registry is lost while asking (the error says so
   * and the next login sets it); the answer is `{event:"ok",cmd:"presence",status}`.
   */
  async setPresence(status: SettablePresence): Promise<PeerEvent> {
    const before = this.presence;
    // Set first: a registry lost meanwhile gets it again at the next login.
    this.presence = status;
    this.lan?.discovery.setPresence(status);
    if (this.lan && this.session.state !== "ready") return { event: "ok", cmd: "presence", status };
    try {
      await this.session.request({ t: "presence.set", status });
    } catch (err) {
      const e = asHallwayError(err);
      if (e.code !== "REGISTRY_LOST" && e.code !== "REGISTRY_UNREACHABLE") this.presence = before;
      throw e;
    }
    return { event: "ok", cmd: "presence", status };
  }

  /** The whole directory, page by page (`registry-queries.ts`). */
  users(): Promise<PeerEvent> {
    return queries.users((body) => this.session.request(body));
  }

  history(withUser: string, limit: number, before?: { sentAt: number; id: string }): Promise<PeerEvent> {
    return queries.history((body) => this.session.request(body), withUser, limit, before);
  }

  /** Messages containing `text` in your conversations and groups (the registry's index), newest first. */
  searchMessages(text: string, limit = 20): Promise<PeerEvent> {
    return queries.searchMessages((body) => this.session.request(body), text, limit);
  }

  /** Log out (best effort) and release the socket. Idempotent. */
  async stop(): Promise<void> {
    if (this.session.state === "closed") return;
    const wasReady = this.session.close();
    this.chat.stop();
    if (wasReady) await this.session.logout();
    this.session.clearDeadlines();
    this.transfers.stop();
    this.paths.stop();
    await this.lan?.stop();
    await this.host.stop("bye");
    this.inbox.close();
    this.lan?.closeOutbox();
  }

  /** The last `limit` messages of a conversation (a user, or `#group`) from the local log, oldest first. */
  localHistory(conversation: string, limit: number): InboxEvent[] {
    return this.inbox.recent(conversation, limit);
  }

  // ---- LAN discovery and LAN mode (docs/discovery.md) ----------------------------------

  /** Whether there is no registry session and LAN peers are reached directly. */
  get inLanMode(): boolean {
    return this.lan?.active ?? false;
  }

  /** `{"cmd":"lan"}`: the LAN directory. */
  lanPeers(): PeerEvent {
    return {
      event: "lan.peers",
      lan: this.lan?.active ?? false,
      announcing: this.lan?.discovery.announcing ?? false,
      peers: (this.lan?.discovery.list() ?? []).map(lanView),
      dropped: {
        ...(this.lan?.discovery.directory.counts ?? {
          malformed: 0,
          otherVersion: 0,
          foreign: 0,
          evicted: 0,
        }),
      },
    };
  }
}
