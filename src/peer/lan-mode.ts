/**
 * LAN mode for the client (`client.ts`, docs/discovery.md): with no registry reachable,
 * peers announced on the LAN (`LanDiscovery`) are reached directly and trusted on first use
 * (a pinned key, or the one key the LAN directory has for them); messages for anyone else wait
 * in the LAN outbox. When a registry is back, LAN mode ends, what waited goes to the registry,
 * and the pins learned meanwhile are checked against the registry's word (the keys' side of
 * this, TOFU and the check, is `lan-keys.ts`).
 */

import { asHallwayError, HallwayError } from "../errors.js";
import type { HostedConnection, UdpHost } from "../net/udp-host.js";
import type { Address } from "../protocol/address.js";
import { type ChatMessage, encodeControl, type LookupData, type RequestBody } from "../protocol/control.js";
import { fingerprint } from "../protocol/noise.js";
import type { Runtime, Timer } from "../runtime.js";
import { type ChatDelivery, isRegistryDown, isRetryLater, sleep } from "./chat-delivery.js";
import type { PeerClientOptions } from "./client-options.js";
import type { LanPeerView, PeerEvent } from "./events.js";
import { LanDiscovery } from "./lan.js";
import type { LanChange, LanPeer } from "./lan-directory.js";
import { LanKeys } from "./lan-keys.js";
import type { LanOutbox } from "./lan-outbox.js";
import type { PeerLink, PeerLinks } from "./peer-links.js";
import type { ClientState } from "./registry-session.js";

/** How long an incoming LAN session waits for its peer's announcement (a few mDNS rounds). */
const LAN_VOUCH_WAIT_MS = 3_000;
/** How often LAN mode tries again to deliver what waits for peers on the LAN. */
const LAN_RETRY_MS = 5_000;

export interface LanModeOptions {
  lan: NonNullable<PeerClientOptions["lan"]>;
  pins: NonNullable<PeerClientOptions["lan"]>["pins"];
  /** This device's key fingerprint, announced with the user. */
  fingerprint: string;
  host: UdpHost;
  /** Discovery's, the outbox retries, the wait for a peer's announcement, pin-check pacing. */
  runtime: Runtime;
  links: PeerLinks;
  chat: ChatDelivery;
  me(): string;
  state(): ClientState;
  /** The registry's live session, if any. */
  registry(): HostedConnection | undefined;
  request(body: RequestBody): Promise<unknown>;
  lookup(user: string): Promise<LookupData>;
  emit(e: PeerEvent): void;
  /** A registry showed itself on the LAN. */
  adopt(address: Address): void;
}

export class LanMode {
  readonly discovery: LanDiscovery;
  /** TOFU in LAN mode, and the registry's word over it once it is back. */
  private readonly keys: LanKeys;
  outbox: LanOutbox | undefined;
  /** No registry session: LAN peers are reached directly, everyone else waits. */
  active = false;
  private readonly lanFlushing = new Set<string>();
  /** Incoming LAN sessions waiting for their peer's announcement, by user. */
  private readonly lanVouchWaiters = new Map<string, Array<() => void>>();
  /** In LAN mode: tries the outbox again now and then (a peer that refused us at first). */
  private lanRetryTimer: Timer | undefined;

  constructor(private readonly opts: LanModeOptions) {
    this.discovery = new LanDiscovery({
      user: opts.me(),
      fingerprint: opts.fingerprint,
      announce: opts.lan.announce,
      runtime: opts.runtime,
      onChange: (c) => this.onLanChange(c),
      onRegistry: (address) => opts.adopt(address),
    });
    this.keys = new LanKeys({
      pins: opts.pins,
      directory: () => this.discovery.directory,
      runtime: opts.runtime,
      state: () => opts.state(),
      lookup: (user) => opts.lookup(user),
      emit: (e) => opts.emit(e),
    });
  }

  /** Opens the LAN outbox and starts discovery; returns the history that waits in the outbox. */
  start(localPort: number): ReturnType<LanOutbox["history"]> {
    this.outbox ??= this.opts.lan.openOutbox(this.opts.me());
    const history = this.outbox.history();
    this.discovery.start(localPort);
    return history;
  }

  /** An incoming session in LAN mode, vouched for by a pin or the LAN directory (`verify`). */
  verifyIncoming(conn: HostedConnection, user: string, held: Uint8Array[]): void {
    this.verify(conn, user, held, this.opts.runtime.now() + LAN_VOUCH_WAIT_MS);
  }

  async stop(): Promise<void> {
    this.lanRetryTimer?.cancel();
    await this.discovery.stop();
  }

  closeOutbox(): void {
    this.outbox?.close();
  }

  /**
   * An incoming session in LAN mode, checked by `LanKeys.check`. A peer not in the directory
   * yet (it saw our announcement before we saw its own) is held until its announcement
   * arrives, at most until `deadline`.
   */
  verify(conn: HostedConnection, user: string, held: Uint8Array[], deadline: number): void {
    if (!this.opts.links.unverified.has(conn.session)) return; // closed meanwhile
    try {
      this.keys.check(user, conn.remoteKey);
    } catch (err) {
      const e = asHallwayError(err);
      const unknown = e.code === "AUTH_KEY_MISMATCH" && this.discovery.directory.devicesOf(user).length === 0;
      const now = this.opts.runtime.now();
      if (unknown && now < deadline && this.opts.host.isLive(conn)) {
        this.discovery.requery();
        const waiters = this.lanVouchWaiters.get(user) ?? [];
        waiters.push(() => this.verify(conn, user, held, deadline));
        this.lanVouchWaiters.set(user, waiters);
        this.opts.runtime.after(deadline - now + 1, () => this.runVouchWaiters(user), { weak: true });
        return;
      }
      this.opts.emit({ event: "error", code: e.code, message: e.message });
      this.opts.host.close(conn, "unverified");
      return;
    }
    this.opts.links.lanPaths.add(user);
    this.opts.links.trustIncoming(conn, user, held);
    void this.flushLanOutboxTo(user);
  }

  private runVouchWaiters(user: string): void {
    const waiters = this.lanVouchWaiters.get(user);
    this.lanVouchWaiters.delete(user);
    for (const w of waiters ?? []) w();
  }

  /** The registry vouches for `keyHex` for `user`: pinned (`LanKeys.pinVouched`). */
  pinVouched(user: string, keyHex: string): void {
    this.keys.pinVouched(user, keyHex);
  }

  setMode(on: boolean, why?: HallwayError): void {
    if (this.active === on) return;
    this.active = on;
    this.lanRetryTimer?.cancel();
    this.lanRetryTimer = undefined;
    if (on)
      this.lanRetryTimer = this.opts.runtime.every(LAN_RETRY_MS, () => this.retryLanOutbox(), { weak: true });
    this.opts.emit(
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
  registryBack(): void {
    const registry = this.opts.registry();
    if (registry) this.discovery.setRegistry(fingerprint(registry.remoteKey));
    const wasLan = this.active;
    this.setMode(false);
    void this.handLanToRegistry();
    if (wasLan) void this.keys.checkAgainstRegistry();
  }

  /** A verified session with `to` through the LAN directory (LAN mode), made if need be. */
  lanSession(to: string): Promise<HostedConnection> {
    const live = this.opts.links.liveLink(to);
    if (live) return Promise.resolve(live);
    const link = this.opts.links.peersByUser.get(to);
    if (link?.connecting) return link.connecting;
    const pinned = this.opts.pins.get(to);
    const devices = this.discovery.directory.devicesOf(to) ?? [];
    const pinnedFp =
      pinned === undefined ? undefined : fingerprint(new Uint8Array(Buffer.from(pinned, "hex")));
    const peer: LanPeer | undefined =
      pinnedFp === undefined
        ? this.discovery.directory.reachable(to)
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
    const startedAt = this.opts.runtime.now();
    fresh.connecting = this.opts.host
      .connect(peer.address, {
        ...(pinned === undefined ? {} : { expectedRemoteKey: new Uint8Array(Buffer.from(pinned, "hex")) }),
        payload: encodeControl({ t: "hello", user: this.opts.me() }),
      })
      .then((conn) => {
        try {
          this.keys.check(to, conn.remoteKey);
        } catch (err) {
          this.opts.host.close(conn, "unverified");
          throw err;
        }
        fresh.conn = conn;
        fresh.connecting = undefined;
        this.opts.links.userBySession.set(conn.session, to);
        this.opts.links.lanPaths.add(to);
        this.opts.links.emitPath(to, conn, Math.round(this.opts.runtime.now() - startedAt));
        return conn;
      })
      .catch((err) => {
        if (this.opts.links.peersByUser.get(to) === fresh) this.opts.links.peersByUser.delete(to);
        const e = asHallwayError(err);
        if (e.code === "CRYPTO_UNEXPECTED_KEY") {
          throw new HallwayError(
            "PEER_KEY_CHANGED",
            `${to} at ${peer.address.host} holds another key than the one pinned; refusing`,
          );
        }
        throw e;
      });
    this.opts.links.peersByUser.set(to, fresh);
    return fresh.connecting;
  }

  /** LAN mode: directly to `msg.to` if the LAN has them, else into the outbox. */
  async sendLan(msg: ChatMessage): Promise<string> {
    this.outbox?.add(msg);
    let conn: HostedConnection;
    try {
      conn = await this.lanSession(msg.to);
    } catch (err) {
      const e = asHallwayError(err);
      // A key that changed or conflicts is refused loudly, and the message is not kept.
      if (e.code === "PEER_KEY_CHANGED" || e.code === "PEER_KEY_CONFLICT" || e.code === "AUTH_KEY_MISMATCH") {
        this.outbox?.remove(msg.id);
        throw e;
      }
      this.queueLan(msg);
      return msg.id;
    }
    this.opts.chat.sendDirect(conn, msg);
    return msg.id;
  }

  queueLan(msg: ChatMessage): void {
    this.outbox?.add(msg);
    this.opts.emit({
      event: "queued",
      id: msg.id,
      to: msg.to,
      code: "PEER_QUEUED",
      message: `${msg.to} is not on the LAN; the message waits until they appear or the registry is back`,
    });
  }

  /** What waits for `user`, now that they are on the LAN (LAN mode). */
  private async flushLanOutboxTo(user: string): Promise<void> {
    if (!this.outbox || this.opts.state() === "ready" || this.lanFlushing.has(user)) return;
    const waiting = this.outbox.waiting(user).filter((m) => !this.opts.chat.awaitingReceipt.has(m.id));
    if (waiting.length === 0) return;
    this.lanFlushing.add(user);
    try {
      const conn = await this.lanSession(user);
      for (const msg of waiting)
        if (!this.opts.chat.awaitingReceipt.has(msg.id)) this.opts.chat.sendDirect(conn, msg);
    } catch (err) {
      const e = asHallwayError(err);
      if (e.code.startsWith("PEER_KEY")) this.opts.emit({ event: "error", code: e.code, message: e.message });
    } finally {
      this.lanFlushing.delete(user);
    }
  }

  /** The registry is back: what waits in the LAN outbox becomes offline messages, once each. */
  private async handLanToRegistry(): Promise<void> {
    const outbox = this.outbox;
    if (!outbox) return;
    for (const msg of outbox.waiting()) {
      for (;;) {
        if (this.opts.state() !== "ready") return;
        if (!outbox.has(msg.id)) break;
        try {
          await this.opts.request({ t: "offline.send", msg });
          outbox.remove(msg.id);
          this.opts.emit({ event: "sent", id: msg.id, to: msg.to, via: "offline" });
          break;
        } catch (err) {
          const e = asHallwayError(err);
          if (isRegistryDown(e)) return;
          if (isRetryLater(e)) {
            await sleep(this.opts.runtime, e.retryAfterMs ?? 1000);
            continue;
          }
          outbox.remove(msg.id);
          this.opts.emit({ event: "error", code: e.code, message: e.message, id: msg.id });
          break;
        }
      }
    }
  }

  private onLanChange(c: LanChange): void {
    this.opts.emit({
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
    if (!this.outbox || this.opts.state() === "ready") return;
    const recipients = new Set(this.outbox.waiting().map((m) => m.to));
    for (const user of recipients) {
      if (this.discovery.directory.reachable(user)) void this.flushLanOutboxTo(user);
    }
  }
}

export function lanView(p: LanPeer): LanPeerView {
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
export function isRegistryAbsent(e: HallwayError): boolean {
  return e.code === "REGISTRY_UNREACHABLE" || e.code === "REGISTRY_NOT_FOUND" || e.code === "REGISTRY_LOST";
}
