/**
 * The peer client: one UDP socket (through UdpHost) for the registry session and every
 * direct peer session. The terminal UI and the headless JSON mode both drive it. It runs on
 * an injected `Runtime` (time, timers, randomness; `runtime.ts`) and injected sockets
 * (`DatagramSockets`), by default the process's (`net/system-runtime.ts`, real UDP): its
 * builder hands the runtime to the `UdpHost` and to every part, none of which reads a clock,
 * sets a timer or draws random bytes of its own, so a simulation can run the whole client in
 * virtual time on a virtual network. This file is the façade over the parts; each concern
 * is a file of its own:
 *
 *   client-parts.ts      builds the parts on the runtime and wires what arrives to them
 *   registry-pushes.ts   the registry's answers and pushes, routed to the parts
 *   registry-session.ts  which registry, login, requests and their deadline, heartbeat,
 *                        reconnect with backoff, the registry ending the session; `state`
 *   registry-connect.ts  reaching the registry: its key pinned, a busy one tried again
 *   chat-delivery.ts     direct send, receipt deadline, offline fallback, outbox, history
 *   peer-links.ts        who is on which session, unverified sessions held, path events
 *   lan-mode.ts          LAN discovery glue: LAN mode, LAN outbox, TOFU, hand-back
 *   lan-keys.ts          TOFU in LAN mode, and the registry's word over it once back
 *   log-hand-over.ts     the message log: record a turn's arrivals, then hand them over
 *   client-files.ts      offering files and folders, peer to peer or via the drop box
 *   registry-queries.ts  the directory, history and search, page by page
 *   own-presence.ts      the user's own presence, set again after a reconnect
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
import { MAX_NAME_CHARS, MAX_PASSWORD_CHARS, type SettablePresence } from "../protocol/control.js";
import type { TransferRow } from "../transfers/file-transfers.js";
import type { PeerClientOptions, SendHow } from "./client-options.js";
import { buildClientParts, type ClientParts } from "./client-parts.js";
import type { PeerEvent } from "./events.js";
import { isRegistryAbsent, lanView } from "./lan-mode.js";
import type { InboxEvent } from "./message-log.js";
import * as queries from "./registry-queries.js";
import { fitsWire, type SocialClient } from "./social.js";

export type { PeerClientOptions, SendHow } from "./client-options.js";

export class PeerClient {
  /** The parts, built and wired by `client-parts.ts`. */
  private readonly parts: ClientParts;
  /** Friends, groups, profiles: requests to the registry and its social pushes. */
  readonly social: SocialClient;
  /**
   * Settles if the client gives up by itself (the registry's key changed, or it refused the
   * login on a reconnect), with the error it already emitted as an `error` event.
   */
  readonly failed: Promise<HallwayError>;
  user: string;

  constructor(private readonly opts: PeerClientOptions) {
    this.user = opts.user.trim().toLowerCase();
    this.parts = buildClientParts(opts, {
      me: () => this.user,
      onReady: () => this.onReady(),
      stop: () => this.stop(),
    });
    this.failed = this.parts.session.failed;
    this.social = this.parts.social;
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
    this.parts.inbox.handOverPending();
    await this.parts.host.start();
    this.parts.session.state = "connecting";
    if (this.parts.lan) this.parts.chat.historyQueue.push(...this.parts.lan.start(this.parts.host.localPort));
    try {
      await this.parts.session.connect();
      if (this.opts.register) await this.parts.session.register();
      await this.parts.session.login(false);
    } catch (err) {
      const e = asHallwayError(err);
      if (!this.parts.lan || !isRegistryAbsent(e)) throw e;
      this.parts.session.goLan(Boolean(this.opts.register || this.opts.lan?.registerIfMissing));
      this.parts.lan.setMode(true, e);
      this.parts.session.scheduleReconnect();
    }
  }

  /** Logged in: LAN mode ends, and what waited for the registry goes to it. */
  private onReady(): void {
    this.emit({ event: "ready", user: this.user });
    this.parts.lan?.registryBack();
    void this.parts.chat.flushOutbox();
    void this.parts.chat.flushHistory();
    this.parts.drops.onLogin();
    this.parts.presence.onLogin();
  }

  // ---- commands ----------------------------------------------------------------------

  /**
   * Send a chat message; resolves with its id once it is on its way (direct or stored).
   * Sends are serialised so that messages leave in the order they were given.
   */
  send(toRaw: string, text: string): Promise<string> {
    return this.parts.chat.send(toRaw, text);
  }

  /** `{"cmd":"connect"}`: make sure there is a direct session to `user`, and say which path it took. */
  async connect(toRaw: string): Promise<void> {
    const to = toRaw.trim().toLowerCase();
    if (!fitsWire(to)) throw new HallwayError("MSG_UNKNOWN_RECIPIENT", "no user by that name");
    const live = this.parts.links.liveLink(to);
    if (live) {
      this.parts.links.showPath(to, live);
      return;
    }
    if (this.parts.lan && this.parts.session.state !== "ready") {
      await this.parts.lan.lanSession(to);
      return;
    }
    const info = await this.parts.lookup(to);
    if (info.status === "offline" || !info.publicKey)
      throw new HallwayError("PEER_OFFLINE", `${to} is not online`);
    await this.parts.links.directTo(to, info);
  }

  // ---- file transfer -----------------------------------------------------------------

  /**
   * Offer the file at `path` to `toRaw`, who must be online; resolves with the transfer's
   * short number once offered (`client-files.ts`).
   */
  sendFile(toRaw: string, path: string, offeredName?: string, how: SendHow = {}): Promise<number> {
    return this.parts.files.sendFile(toRaw, path, offeredName, how);
  }

  /** The same to several people (`client-files.ts`). */
  sendFileTo(
    names: readonly string[],
    path: string,
    offeredName?: string,
    how: SendHow = {},
  ): Promise<number[]> {
    return this.parts.files.sendFileTo(names, path, offeredName, how);
  }

  /** Running transfers and folders, one row per number (for `/files`). */
  fileTransfers(): TransferRow[] {
    return this.parts.transfers.list();
  }

  acceptFile(id: string, dir?: string): void {
    this.parts.transfers.accept(id, dir);
  }

  declineFile(id: string): void {
    this.parts.transfers.decline(id);
  }

  cancelFile(id: string): void {
    this.parts.transfers.cancel(id);
  }

  /** The drop box: what you sent that waits to be taken, and what waits for you. */
  dropList(): Promise<PeerEvent> {
    return this.parts.drops.list();
  }

  /** Withdraw a file you sent to the drop box (`ref`: its id, or the start of it). */
  dropCancel(ref: string): Promise<PeerEvent> {
    return this.parts.drops.cancel(ref);
  }

  /** Refuse a file that waits for you in the drop box. */
  dropDecline(ref: string): Promise<PeerEvent> {
    return this.parts.drops.decline(ref);
  }

  /**
   * Away or back (`online`): the registry tells everyone who may see this user's presence.
   * Kept across reconnects, also when the registry is lost while asking (the error says so
   * and the next login sets it); the answer is `{event:"ok",cmd:"presence",status}`.
   */
  setPresence(status: SettablePresence): Promise<PeerEvent> {
    return this.parts.presence.set(status);
  }

  /** The whole directory, page by page (`registry-queries.ts`). */
  users(): Promise<PeerEvent> {
    return queries.users((body) => this.parts.session.request(body));
  }

  history(withUser: string, limit: number, before?: { sentAt: number; id: string }): Promise<PeerEvent> {
    return queries.history((body) => this.parts.session.request(body), withUser, limit, before);
  }

  /** Messages containing `text` in your conversations and groups (the registry's index), newest first. */
  searchMessages(text: string, limit = 20): Promise<PeerEvent> {
    return queries.searchMessages((body) => this.parts.session.request(body), text, limit);
  }

  /** Log out (best effort) and release the socket. Idempotent. */
  async stop(): Promise<void> {
    if (this.parts.session.state === "closed") return;
    const wasReady = this.parts.session.close();
    this.parts.chat.stop();
    if (wasReady) await this.parts.session.logout();
    this.parts.session.clearDeadlines();
    this.parts.transfers.stop();
    this.parts.paths.stop();
    await this.parts.lan?.stop();
    await this.parts.host.stop("bye");
    this.parts.inbox.close();
    this.parts.lan?.closeOutbox();
  }

  /** The last `limit` messages of a conversation (a user, or `#group`) from the local log, oldest first. */
  localHistory(conversation: string, limit: number): InboxEvent[] {
    return this.parts.inbox.recent(conversation, limit);
  }

  // ---- LAN discovery and LAN mode (docs/discovery.md) ----------------------------------

  /** Whether there is no registry session and LAN peers are reached directly. */
  get inLanMode(): boolean {
    return this.parts.lan?.active ?? false;
  }

  /** `{"cmd":"lan"}`: the LAN directory. */
  lanPeers(): PeerEvent {
    return {
      event: "lan.peers",
      lan: this.parts.lan?.active ?? false,
      announcing: this.parts.lan?.discovery.announcing ?? false,
      peers: (this.parts.lan?.discovery.list() ?? []).map(lanView),
      dropped: {
        ...(this.parts.lan?.discovery.directory.counts ?? {
          malformed: 0,
          otherVersion: 0,
          foreign: 0,
          evicted: 0,
        }),
      },
    };
  }
}
