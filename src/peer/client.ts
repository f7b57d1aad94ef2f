/**
 * The peer client core: one UDP socket (through UdpHost) for the registry session and
 * every direct peer session. The terminal UI and the headless JSON mode both drive it.
 *
 * Sending a chat message:
 *   1. ask the registry where the recipient is (lookup: status, vouched key, addresses);
 *   2. online: open (or reuse) a direct session whose responder must hold the vouched
 *      key, send `chat`, and wait up to `directTimeoutMs` for the recipient's `receipt`;
 *   3. offline, unreachable, or no receipt in time: hand the message to the registry
 *      (`offline.send`), which stores it durably and delivers it at the next login.
 * Message ids make every path idempotent: the receiver drops ids it has already shown,
 * and the registry ignores a second enqueue of the same id.
 *
 * Registry loss: a request that gets no answer within `requestTimeoutMs`, or a closed
 * session, starts a reconnect loop with exponential backoff; on success the client logs in
 * again (a `resume` login) and re-sends what the registry had not acknowledged, one message
 * at a time. A send while the registry does not answer fails within `sendReportMs` with
 * `REGISTRY_UNREACHABLE` and stays in the outbox, to be stored once the registry is back.
 *
 * The registry may end the session itself (`session.end`, or the code in its CLOSE reason):
 * `SESSION_REPLACED` (the account logged in on another device) or `SESSION_TERMINATED` (abuse).
 * The client then stops and does not log in again by itself; a `resume` login that finds the
 * account live on another device gets `SESSION_REPLACED` too, so two devices never fight.
 *
 * Limits: `RATE_LIMITED` answers carry a retry-after, and so does `STORE_FAILED` when the
 * registry's store could not commit the batch the request was in (disk full, busy). Background
 * work (stored messages, the history the client reports) waits that long and tries again;
 * history entries go in batches (`history.batch`), one request at a time.
 *
 * Per message the client keeps no timer of its own: receipts and request answers each have
 * one timeout for all (`FifoDeadlines`), and message ids are `randomUUID()`.
 */

import { randomBytes } from "node:crypto";
import { asHallwayError, HallwayError } from "../errors.js";
import { systemInterfaces } from "../net/interfaces.js";
import { type HostedConnection, isRelayAddress, UdpHost } from "../net/udp-host.js";
import type { Address } from "../protocol/address.js";
import {
  type ChatMessage,
  decodeControl,
  encodeControl,
  type HistoryEntry,
  historyData,
  historySearchData,
  type LookupData,
  lookupData,
  MAX_NAME_CHARS,
  MAX_PAGE,
  MAX_PASSWORD_CHARS,
  MAX_SEARCH_HITS,
  MAX_SEARCH_TEXT_CHARS,
  parseAnswer,
  SESSION_END_CODES,
  type SettablePresence,
  type UserEntry,
  usersData,
} from "../protocol/control.js";
import { fingerprint } from "../protocol/noise.js";
import { decodeStreamMessage } from "../protocol/stream-message.js";
import { ChatDelivery, isRegistryDown, isRetryLater, messageEvent, sleep } from "./chat-delivery.js";
import { ClientFiles } from "./client-files.js";
import type { PeerClientOptions, SendHow } from "./client-options.js";
import { DropClient } from "./drop-client.js";
import type { LanPeerView, PeerEvent } from "./events.js";
import { FileTransfers, type TransferRow } from "./file-transfers.js";
import { LanDiscovery } from "./lan.js";
import type { LanChange, LanPeer } from "./lan-directory.js";
import type { LanOutbox } from "./lan-outbox.js";
import { LogHandOver } from "./log-hand-over.js";
import type { InboxEvent } from "./message-log.js";
import { PeerPaths } from "./paths.js";
import { type PeerLink, PeerLinks } from "./peer-links.js";
import { RegistrySession } from "./registry-session.js";
import { fitsWire, SocialClient } from "./social.js";

export type { PeerClientOptions, SendHow } from "./client-options.js";

/** How long an incoming LAN session waits for its peer's announcement (a few mDNS rounds). */
const LAN_VOUCH_WAIT_MS = 3_000;
/** LAN pins checked against the registry when it is back: at most this many, this far apart. */
const MAX_PIN_CHECKS = 100;
const PIN_CHECK_GAP_MS = 100;
/** How often LAN mode tries again to deliver what waits for peers on the LAN. */
const LAN_RETRY_MS = 5_000;

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
  private readonly lan: LanDiscovery | undefined;
  private lanOutbox: LanOutbox | undefined;
  /** No registry session: LAN peers are reached directly, everyone else waits. */
  private lanMode = false;
  private readonly lanFlushing = new Set<string>();
  /** Incoming LAN sessions waiting for their peer's announcement, by user. */
  private readonly lanVouchWaiters = new Map<string, Array<() => void>>();
  /** In LAN mode: tries the outbox again now and then (a peer that refused us at first). */
  private lanRetryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: PeerClientOptions) {
    this.user = opts.user.trim().toLowerCase();
    this.heartbeatMs = opts.heartbeatMs ?? 10_000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 5_000;
    this.directTimeoutMs = opts.directTimeoutMs ?? 3_000;
    this.sendReportMs = opts.sendReportMs ?? Math.min(4_000, this.requestTimeoutMs);
    this.inbox = new LogHandOver({
      user: this.user,
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
    });
    this.host = host;
    this.chat = new ChatDelivery({
      host,
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
      lanMode: () => this.lanMode,
      lanOutbox: () => this.lanOutbox,
      sendLan: (msg) => this.sendLan(msg),
      queueLan: (msg) => this.queueLan(msg),
    });
    this.session = new RegistrySession({
      host,
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
        if (this.lan) this.setLanMode(true, new HallwayError("REGISTRY_LOST", "lost the registry"));
      },
      stop: () => this.stop(),
    });
    this.failed = this.session.failed;
    this.paths = new PeerPaths({
      host: this.host,
      registry: opts.server ?? { host: "0.0.0.0", port: 0 },
      registrySession: () => this.session.conn?.address,
      request: (body) => this.session.request(body),
      random: (n) => new Uint8Array(randomBytes(n)),
      interfaces: systemInterfaces,
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
      paths: this.paths,
      me: () => this.user,
      emit: (e) => this.emit(e),
      onPeerMessage: (user, conn, bytes) => this.onPeerMessage(user, conn, bytes),
      lanDirectory: () => this.lan?.directory,
    });
    this.host.handlers = {
      onProbe: (bytes, from) => this.paths.handleProbe(bytes, from),
      onEstablished: (conn) => this.onEstablished(conn),
      onMessage: (conn, bytes) => this.onMessage(conn, bytes),
      onClosed: (conn, reason) => this.onClosed(conn, reason),
      onAddressChanged: (conn) => this.links.onAddressChanged(conn),
      onTurn: (now) => this.transfers.onTurn(now),
    };
    this.social = new SocialClient({
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
      lanSession: (user) => this.lanSession(user),
      lookup: (user) => this.lookup(user),
      directTo: (user, info) => this.links.directTo(user, info),
    });
    this.lan = opts.lan
      ? new LanDiscovery({
          user: this.user,
          fingerprint: fingerprint(opts.identity.publicKey),
          announce: opts.lan.announce,
          onChange: (c) => this.onLanChange(c),
          onRegistry: (address) => this.session.adopt(address),
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
    if (this.lan && this.opts.lan) {
      this.lanOutbox ??= this.opts.lan.openOutbox(this.user);
      this.chat.historyQueue.push(...this.lanOutbox.history());
      this.lan.start(this.host.localPort);
    }
    try {
      await this.session.connect();
      if (this.opts.register) await this.session.register();
      await this.session.login(false);
    } catch (err) {
      const e = asHallwayError(err);
      if (!this.lan || !isRegistryAbsent(e)) throw e;
      this.session.goLan(Boolean(this.opts.register || this.opts.lan?.registerIfMissing));
      this.setLanMode(true, e);
      this.session.scheduleReconnect();
    }
  }

  /** Logged in: LAN mode ends, and what waited for the registry goes to it. */
  private onReady(): void {
    this.emit({ event: "ready", user: this.user });
    if (this.lan) this.registryBack();
    void this.chat.flushOutbox();
    void this.chat.flushHistory();
    this.drops.onLogin();
    if (this.presence === "away") this.session.request({ t: "presence.set", status: "away" }).catch(() => {});
  }

  private hostAddresses(): Address[] {
    return this.paths.hostCandidates(this.host.localPort, this.host.localPort6);
  }

  // ---- incoming ----------------------------------------------------------------------

  private onEstablished(conn: HostedConnection): void {
    if (conn.initiator) return;
    // A peer opened a session to us; it names itself in the handshake payload, and we
    // believe it only once the registry vouches that this key belongs to that user.
    const hello = decodeControl(conn.remotePayload);
    if (!hello.ok || hello.value.t !== "hello") {
      this.host.close(conn, "expected hello");
      return;
    }
    const user = hello.value.user;
    const held = this.links.hold(conn, user);
    if (this.lan && this.session.state !== "ready") {
      // LAN mode: the pin (TOFU) or the LAN directory vouches instead of the registry.
      this.verifyLan(conn, user, held, Date.now() + LAN_VOUCH_WAIT_MS);
      return;
    }
    this.lookup(user)
      .then((info) => {
        const keyHex = Buffer.from(conn.remoteKey).toString("hex");
        if (info.publicKey !== keyHex) {
          throw new HallwayError("AUTH_KEY_MISMATCH", `${user}'s key does not match the registry's`);
        }
        this.pinVouched(user, keyHex);
        this.links.trustIncoming(conn, user, held);
      })
      .catch((err) => {
        const e = asHallwayError(err);
        // A name nobody registered vouches for no key at all.
        const code = e.code === "MSG_UNKNOWN_RECIPIENT" ? "AUTH_KEY_MISMATCH" : e.code;
        this.emit({ event: "error", code, message: e.message });
        this.host.close(conn, "unverified");
      });
  }

  /**
   * An incoming session in LAN mode, checked by `checkLanKey`. A peer not in the directory
   * yet (it saw our announcement before we saw its own) is held until its announcement
   * arrives, at most until `deadline`.
   */
  private verifyLan(conn: HostedConnection, user: string, held: Uint8Array[], deadline: number): void {
    if (!this.links.unverified.has(conn.session)) return; // closed meanwhile
    try {
      this.checkLanKey(user, conn.remoteKey);
    } catch (err) {
      const e = asHallwayError(err);
      const unknown = e.code === "AUTH_KEY_MISMATCH" && this.lan?.directory.devicesOf(user).length === 0;
      if (unknown && Date.now() < deadline && this.host.isLive(conn)) {
        this.lan?.requery();
        const waiters = this.lanVouchWaiters.get(user) ?? [];
        waiters.push(() => this.verifyLan(conn, user, held, deadline));
        this.lanVouchWaiters.set(user, waiters);
        setTimeout(() => this.runVouchWaiters(user), deadline - Date.now() + 1).unref?.();
        return;
      }
      this.emit({ event: "error", code: e.code, message: e.message });
      this.host.close(conn, "unverified");
      return;
    }
    this.links.lanPaths.add(user);
    this.links.trustIncoming(conn, user, held);
    void this.flushLanOutboxTo(user);
  }

  private runVouchWaiters(user: string): void {
    const waiters = this.lanVouchWaiters.get(user);
    this.lanVouchWaiters.delete(user);
    for (const w of waiters ?? []) w();
  }

  /**
   * The registry vouches for `keyHex`: it is the key to pin for `user`, also over a pin from
   * LAN mode. Best effort: a pin file that cannot be read is reported, and the registry's
   * word still holds for this session.
   */
  private pinVouched(user: string, keyHex: string): void {
    const pins = this.opts.lan?.pins;
    if (!pins) return;
    try {
      if (pins.get(user) !== keyHex) pins.set(user, keyHex);
    } catch (err) {
      const e = asHallwayError(err);
      this.emit({ event: "error", code: e.code, message: e.message });
    }
  }

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
      await this.lanSession(to);
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
    this.lan?.setPresence(status);
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

  /** The whole directory, page by page (the registry answers at most `MAX_PAGE` a time). */
  async users(): Promise<PeerEvent> {
    const users: UserEntry[] = [];
    let after: string | undefined;
    for (;;) {
      const page = parseAnswer(
        usersData,
        await this.session.request({
          t: "users",
          limit: MAX_PAGE,
          ...(after === undefined ? {} : { after }),
        }),
        "users",
      );
      users.push(...page.users);
      if (page.next === undefined || page.users.length === 0) break;
      after = page.next;
    }
    return { event: "users", users };
  }

  async history(
    withUser: string,
    limit: number,
    before?: { sentAt: number; id: string },
  ): Promise<PeerEvent> {
    const w = withUser.trim().toLowerCase();
    if (!fitsWire(w)) return { event: "history", with: w, messages: [] };
    // A page the registry cut to fit its message limit names where the rest continues.
    const messages: HistoryEntry[] = [];
    let cursor = before;
    while (messages.length < limit) {
      const data = parseAnswer(
        historyData,
        await this.session.request({
          t: "history",
          with: w,
          limit: limit - messages.length,
          ...(cursor ? { before: cursor } : {}),
        }),
        "history",
      );
      messages.unshift(...data.messages);
      if (data.next === undefined || data.messages.length === 0) break;
      cursor = data.next;
    }
    return { event: "history", with: w, messages };
  }

  /** Messages containing `text` in your conversations and groups (the registry's index), newest first. */
  async searchMessages(text: string, limit = 20): Promise<PeerEvent> {
    const query = text.trim().slice(0, MAX_SEARCH_TEXT_CHARS);
    if (query === "") return { event: "found", query, hits: [] };
    const data = parseAnswer(
      historySearchData,
      await this.session.request({
        t: "history.search",
        text: query,
        limit: Math.min(limit, MAX_SEARCH_HITS),
      }),
      "history.search",
    );
    return { event: "found", query, hits: data.hits };
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
    if (this.lanRetryTimer) clearInterval(this.lanRetryTimer);
    await this.lan?.stop();
    await this.host.stop("bye");
    this.inbox.close();
    this.lanOutbox?.close();
  }

  /** The last `limit` messages of a conversation (a user, or `#group`) from the local log, oldest first. */
  localHistory(conversation: string, limit: number): InboxEvent[] {
    return this.inbox.recent(conversation, limit);
  }

  // ---- LAN discovery and LAN mode (docs/discovery.md) ----------------------------------

  /** Whether there is no registry session and LAN peers are reached directly. */
  get inLanMode(): boolean {
    return this.lanMode;
  }

  /** `{"cmd":"lan"}`: the LAN directory. */
  lanPeers(): PeerEvent {
    return {
      event: "lan.peers",
      lan: this.lanMode,
      announcing: this.lan?.announcing ?? false,
      peers: (this.lan?.list() ?? []).map(lanView),
      dropped: {
        ...(this.lan?.directory.counts ?? { malformed: 0, otherVersion: 0, foreign: 0, evicted: 0 }),
      },
    };
  }

  private setLanMode(on: boolean, why?: HallwayError): void {
    if (this.lanMode === on) return;
    this.lanMode = on;
    if (this.lanRetryTimer) clearInterval(this.lanRetryTimer);
    this.lanRetryTimer = undefined;
    if (on) {
      this.lanRetryTimer = setInterval(() => this.retryLanOutbox(), LAN_RETRY_MS);
      this.lanRetryTimer.unref?.();
    }
    this.emit(
      on
        ? {
            event: "lan.mode",
            lan: true,
            ...(why ? { code: why.code } : {}),
            message: "no registry: LAN mode, chatting with peers on this LAN directly",
          }
        : { event: "lan.mode", lan: false, message: "the registry is reachable again" },
    );
  }

  /** Logged in: LAN mode ends, the outbox goes to the registry, and the LAN pins are checked. */
  private registryBack(): void {
    if (this.session.conn) this.lan?.setRegistry(fingerprint(this.session.conn.remoteKey));
    const wasLan = this.lanMode;
    this.setLanMode(false);
    void this.handLanToRegistry();
    if (wasLan) void this.checkPinsAgainstRegistry();
  }

  /**
   * TOFU for a session with `user` in LAN mode: a pinned key must match (else
   * `PEER_KEY_CHANGED`); without a pin, the key must be the one the LAN directory has for
   * `user` from a single device (else `PEER_KEY_CONFLICT` or `AUTH_KEY_MISMATCH`), and is pinned.
   */
  private checkLanKey(user: string, remoteKey: Uint8Array): void {
    const pins = this.opts.lan?.pins;
    if (!this.lan || !pins) throw new HallwayError("INTERNAL", "LAN discovery is off");
    const keyHex = Buffer.from(remoteKey).toString("hex");
    const pinned = pins.get(user);
    if (pinned !== undefined) {
      if (pinned === keyHex) return;
      throw new HallwayError(
        "PEER_KEY_CHANGED",
        `${user} presented key ${fingerprint(remoteKey)}, not the one pinned (${fingerprint(
          new Uint8Array(Buffer.from(pinned, "hex")),
        )}); refusing until the registry vouches for the new key`,
      );
    }
    const devices = this.lan.directory.devicesOf(user);
    if (devices.length > 1 && devices.some((d) => d.conflicting)) {
      throw new HallwayError(
        "PEER_KEY_CONFLICT",
        `two devices announce ${user} with different keys; trusting neither`,
      );
    }
    if (!devices.some((d) => d.fingerprint === fingerprint(remoteKey))) {
      throw new HallwayError("AUTH_KEY_MISMATCH", `${user}'s key is not the one announced on the LAN`);
    }
    pins.set(user, keyHex);
  }

  /** A verified session with `to` through the LAN directory (LAN mode), made if need be. */
  private lanSession(to: string): Promise<HostedConnection> {
    const live = this.links.liveLink(to);
    if (live) return Promise.resolve(live);
    const link = this.links.peersByUser.get(to);
    if (link?.connecting) return link.connecting;
    const pinned = this.opts.lan?.pins.get(to);
    const devices = this.lan?.directory.devicesOf(to) ?? [];
    const pinnedFp =
      pinned === undefined ? undefined : fingerprint(new Uint8Array(Buffer.from(pinned, "hex")));
    const peer: LanPeer | undefined =
      pinnedFp === undefined
        ? this.lan?.directory.reachable(to)
        : devices.find((d) => d.fingerprint === pinnedFp);
    if (!peer) {
      if (pinnedFp !== undefined && devices.length > 0) {
        return Promise.reject(
          new HallwayError(
            "PEER_KEY_CHANGED",
            `${to} is announced on the LAN with key ${devices[0]?.fingerprint}, not the one pinned (${pinnedFp}); refusing`,
          ),
        );
      }
      if (devices.length > 1) {
        return Promise.reject(
          new HallwayError(
            "PEER_KEY_CONFLICT",
            `two devices announce ${to} with different keys; trusting neither`,
          ),
        );
      }
      return Promise.reject(new HallwayError("PEER_OFFLINE", `${to} is not on the LAN`));
    }
    const fresh: PeerLink = { verified: true };
    const startedAt = Date.now();
    fresh.connecting = this.host
      .connect(peer.address, {
        ...(pinned === undefined ? {} : { expectedRemoteKey: new Uint8Array(Buffer.from(pinned, "hex")) }),
        payload: encodeControl({ t: "hello", user: this.user }),
      })
      .then((conn) => {
        try {
          this.checkLanKey(to, conn.remoteKey);
        } catch (err) {
          this.host.close(conn, "unverified");
          throw err;
        }
        fresh.conn = conn;
        fresh.connecting = undefined;
        this.links.userBySession.set(conn.session, to);
        this.links.lanPaths.add(to);
        this.links.emitPath(to, conn, Date.now() - startedAt);
        return conn;
      })
      .catch((err) => {
        if (this.links.peersByUser.get(to) === fresh) this.links.peersByUser.delete(to);
        const e = asHallwayError(err);
        if (e.code === "CRYPTO_UNEXPECTED_KEY") {
          throw new HallwayError(
            "PEER_KEY_CHANGED",
            `${to} at ${peer.address.host} holds another key than the one pinned; refusing`,
          );
        }
        throw e;
      });
    this.links.peersByUser.set(to, fresh);
    return fresh.connecting;
  }

  /** LAN mode: directly to `msg.to` if the LAN has them, else into the outbox. */
  private async sendLan(msg: ChatMessage): Promise<string> {
    this.lanOutbox?.add(msg);
    let conn: HostedConnection;
    try {
      conn = await this.lanSession(msg.to);
    } catch (err) {
      const e = asHallwayError(err);
      // A key that changed or conflicts is refused loudly, and the message is not kept.
      if (e.code === "PEER_KEY_CHANGED" || e.code === "PEER_KEY_CONFLICT" || e.code === "AUTH_KEY_MISMATCH") {
        this.lanOutbox?.remove(msg.id);
        throw e;
      }
      this.queueLan(msg);
      return msg.id;
    }
    this.chat.sendDirect(conn, msg);
    return msg.id;
  }

  private queueLan(msg: ChatMessage): void {
    this.lanOutbox?.add(msg);
    this.emit({
      event: "queued",
      id: msg.id,
      to: msg.to,
      code: "PEER_QUEUED",
      message: `${msg.to} is not on the LAN; the message waits until they appear or the registry is back`,
    });
  }

  /** What waits for `user`, now that they are on the LAN (LAN mode). */
  private async flushLanOutboxTo(user: string): Promise<void> {
    if (!this.lanOutbox || this.session.state === "ready" || this.lanFlushing.has(user)) return;
    const waiting = this.lanOutbox.waiting(user).filter((m) => !this.chat.awaitingReceipt.has(m.id));
    if (waiting.length === 0) return;
    this.lanFlushing.add(user);
    try {
      const conn = await this.lanSession(user);
      for (const msg of waiting) if (!this.chat.awaitingReceipt.has(msg.id)) this.chat.sendDirect(conn, msg);
    } catch (err) {
      const e = asHallwayError(err);
      if (e.code.startsWith("PEER_KEY")) this.emit({ event: "error", code: e.code, message: e.message });
    } finally {
      this.lanFlushing.delete(user);
    }
  }

  /** The registry is back: what waits in the LAN outbox becomes offline messages, once each. */
  private async handLanToRegistry(): Promise<void> {
    const outbox = this.lanOutbox;
    if (!outbox) return;
    for (const msg of outbox.waiting()) {
      for (;;) {
        if (this.session.state !== "ready") return;
        if (!outbox.has(msg.id)) break;
        try {
          await this.session.request({ t: "offline.send", msg });
          outbox.remove(msg.id);
          this.emit({ event: "sent", id: msg.id, to: msg.to, via: "offline" });
          break;
        } catch (err) {
          const e = asHallwayError(err);
          if (isRegistryDown(e)) return;
          if (isRetryLater(e)) {
            await sleep(e.retryAfterMs ?? 1000);
            continue;
          }
          outbox.remove(msg.id);
          this.emit({ event: "error", code: e.code, message: e.message, id: msg.id });
          break;
        }
      }
    }
  }

  /** Pins learned in LAN mode against the registry's vouching: a disagreement is reported, and the registry's key pinned. */
  private async checkPinsAgainstRegistry(): Promise<void> {
    const pins = this.opts.lan?.pins;
    if (!pins) return;
    let all: Record<string, string>;
    try {
      all = pins.all();
    } catch (err) {
      const e = asHallwayError(err);
      this.emit({ event: "error", code: e.code, message: e.message });
      return;
    }
    // Paced well under the registry's read limit, which other requests share.
    for (const [user, keyHex] of Object.entries(all).slice(0, MAX_PIN_CHECKS)) {
      if (this.session.state !== "ready") return;
      let info: LookupData;
      try {
        info = await this.lookup(user);
      } catch (err) {
        const e = asHallwayError(err);
        if (isRetryLater(e) || isRegistryDown(e)) return; // checked again after the next LAN mode
        continue; // not the registry's to say (unknown here, or not a friend)
      } finally {
        await sleep(PIN_CHECK_GAP_MS);
      }
      // The registry knows the key of the device that logged in last: only a live session's is
      // the user's key now (an offline user's may be an old device's, or the one met on the LAN
      // before it logs in again).
      if (info.status === "offline" || !info.publicKey || info.publicKey === keyHex) continue;
      this.pinVouched(user, info.publicKey);
      this.emit({
        event: "error",
        code: "PEER_KEY_CHANGED",
        message: `the registry vouches for key ${fingerprint(new Uint8Array(Buffer.from(info.publicKey, "hex")))} for ${user}, not the one pinned on the LAN (${fingerprint(new Uint8Array(Buffer.from(keyHex, "hex")))}); now pinned to the registry's`,
      });
    }
  }

  private onLanChange(c: LanChange): void {
    this.emit({
      event: "lan.peer",
      state: c.kind,
      ...(c.kind === "down" ? { why: c.why } : {}),
      ...lanView(c.peer),
    });
    if (c.kind !== "down") this.runVouchWaiters(c.peer.user);
    if (c.kind !== "down" && !c.peer.conflicting) void this.flushLanOutboxTo(c.peer.user);
  }

  /** What waits for peers the directory has, again (LAN mode). */
  private retryLanOutbox(): void {
    if (!this.lanOutbox || !this.lan || this.session.state === "ready") return;
    const recipients = new Set(this.lanOutbox.waiting().map((m) => m.to));
    for (const user of recipients) {
      if (this.lan.directory.reachable(user)) void this.flushLanOutboxTo(user);
    }
  }
}

function lanView(p: LanPeer): LanPeerView {
  return {
    user: p.user,
    fingerprint: p.fingerprint,
    address: `${p.address.host}:${p.address.port}`,
    presence: p.presence,
    conflicting: p.conflicting,
    ...(p.registry === undefined ? {} : { registry: p.registry }),
  };
}

/** No registry to be had: the cases that start LAN mode instead of failing. */
function isRegistryAbsent(e: HallwayError): boolean {
  return e.code === "REGISTRY_UNREACHABLE" || e.code === "REGISTRY_NOT_FOUND" || e.code === "REGISTRY_LOST";
}
