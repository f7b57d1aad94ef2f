/**
 * UdpHost: the thin adapter that binds one UDP socket to the sans-IO cores. It owns the
 * socket, the monotonic clock and one timer; everything else (handshakes, sealing,
 * reliability) happens in the Endpoint and the Connections it drives.
 *
 * Both roles use it: the registry (accepting sessions) and the peer (one socket for the
 * registry, other peers and, later, transfers and hole punching).
 */

import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { isIPv6 } from "node:net";
import { performance } from "node:perf_hooks";
import { HallwayError } from "../errors.js";
import { type Address, Endpoint, type Identity, type SessionId } from "../protocol/endpoint.js";
import { isProbe } from "../protocol/probe.js";
import { decodeRelay, encodeRelay, isRelay } from "../protocol/relay.js";
import { Connection, interleavePayloads } from "../transfer/connection.js";
import type { StreamCore } from "../transfer/file-transfer.js";
import { localInterfaces } from "../traversal/candidates.js";

export interface HostedConnection {
  readonly session: SessionId;
  readonly initiator: boolean;
  readonly remoteKey: Uint8Array;
  readonly remotePayload: Uint8Array;
  address: Address;
  /** Free slot for the role: who this connection belongs to. */
  user?: string;
}

export interface UdpHostHandlers {
  /**
   * Asked first for every datagram: false drops it before any core sees it (a blocked source,
   * docs/security.md). Must be O(1).
   */
  admit?(from: Address): boolean;
  onEstablished?(conn: HostedConnection): void;
  onMessage?(conn: HostedConnection, message: Uint8Array, stream: number): void;
  /** A message over the size limit was dropped; `head` is its first segment (to answer it). */
  onOversized?(conn: HostedConnection, head: Uint8Array, stream: number): void;
  onClosed?(conn: HostedConnection, reason: string): void;
  /** The far side moved the session to another path (roaming), or `moveTo` did. */
  onAddressChanged?(conn: HostedConnection): void;
  /**
   * Called on every pump after incoming frames were handled and before payloads are packed:
   * the transfer layer drains its cores here (control, events, writes). It may `enqueue`
   * but must not `flush`.
   */
  onPoll?(): void;
  /** A datagram the session layer does not own (STUN); return true if handled. */
  onForeignDatagram?(bytes: Uint8Array, from: Address): boolean;
  /** A connectivity probe (src/protocol/probe.ts); return true if handled. */
  onProbe?(bytes: Uint8Array, from: Address): boolean;
  /**
   * A relay envelope for no channel this host opened (the registry's relay role); return
   * true if handled.
   */
  onRelay?(bytes: Uint8Array, from: Address): boolean;
}

/**
 * The host name of the addresses `openRelay` hands out. It is never resolved: datagrams to it
 * are wrapped in a relay envelope and sent to the relay's real address.
 */
export const RELAY_HOST = "relay";

/** Relay channels a peer keeps open at most; the least recently used goes first. */
const MAX_RELAY_CHANNELS = 64;

interface RelayChannel {
  via: Address;
  token: Uint8Array;
  address: Address;
}

export function isRelayAddress(a: Address): boolean {
  return a.host === RELAY_HOST;
}

export interface UdpHostOptions {
  identity: Identity;
  acceptIncoming: boolean;
  host?: string;
  port?: number;
  keepaliveMs?: number;
  idleTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  responderPayload?: (from: Address) => Uint8Array;
  /**
   * Also open an IPv6 socket (any port) when this machine has a global or unique-local IPv6
   * address, for IPv6 host candidates. The main socket stays IPv4.
   */
  ipv6?: boolean;
}

interface Pending {
  resolve(conn: HostedConnection): void;
  reject(err: HallwayError): void;
}

interface Live {
  info: HostedConnection;
  conn: Connection;
}

export const now = (): number => performance.now();

/** Linux's default IP TTL, restored after a low-TTL send. */
const DEFAULT_TTL = 64;

export class UdpHost {
  private readonly socket: dgram.Socket;
  private socket6: dgram.Socket | undefined;
  private readonly endpoint: Endpoint;
  private readonly live = new Map<SessionId, Live>();
  private readonly pending = new Map<SessionId, Pending>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private closed = false;
  handlers: UdpHostHandlers = {};
  /** Datagrams the socket layer dropped before any core saw them. */
  foreignDropped = 0;
  /** Datagrams `handlers.admit` refused. */
  refused = 0;
  private lowTtlPending = 0;
  /** Relay channels by token (hex), in least-recently-used order. */
  private readonly relays = new Map<string, RelayChannel>();
  private readonly relayByPort = new Map<number, RelayChannel>();
  private nextRelayPort = 1;

  constructor(private readonly opts: UdpHostOptions) {
    this.socket = dgram.createSocket({ type: "udp4" });
    this.endpoint = new Endpoint({
      identity: opts.identity,
      random: (n) => new Uint8Array(randomBytes(n)),
      acceptIncoming: opts.acceptIncoming,
      ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
      ...(opts.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: opts.handshakeTimeoutMs } : {}),
      ...(opts.responderPayload ? { responderPayload: opts.responderPayload } : {}),
      mayRoamTo: (address) => !isRelayAddress(address),
    });
  }

  get stats(): Endpoint["stats"] {
    return this.endpoint.stats;
  }

  /** Stateless cookies the endpoint sent, received and accepted (docs/security.md). */
  get cookieStats(): Endpoint["cookieStats"] {
    return this.endpoint.cookieStats;
  }

  /** Bind the socket. Fails with PORT_IN_USE or a one-line error. */
  async start(): Promise<Address> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        if (err.code === "EADDRINUSE") {
          reject(new HallwayError("PORT_IN_USE", `UDP port ${this.opts.port ?? 0} is already in use`));
        } else {
          reject(new HallwayError("INTERNAL", `cannot bind UDP socket: ${err.message}`));
        }
      };
      this.socket.once("error", onError);
      this.socket.bind(this.opts.port ?? 0, this.opts.host, () => {
        this.socket.off("error", onError);
        resolve();
      });
    });
    // After bind, socket errors (ICMP unreachable and the like) are not fatal for UDP.
    this.socket.on("error", () => {});
    this.socket.on("message", (msg, rinfo) =>
      this.onDatagram(msg, { host: rinfo.address, port: rinfo.port }),
    );
    if (this.opts.ipv6 && localInterfaces().some((i) => isIPv6(i.address))) await this.startIPv6();
    const a = this.socket.address();
    return { host: a.address, port: a.port };
  }

  /** The IPv6 socket, if this machine can use one; without it the host is IPv4 only. */
  private async startIPv6(): Promise<void> {
    const socket = dgram.createSocket({ type: "udp6", ipv6Only: true });
    const bound = await new Promise<boolean>((resolve) => {
      socket.once("error", () => resolve(false));
      socket.bind(0, "::", () => resolve(true));
    });
    if (!bound || this.closed) {
      socket.close();
      return;
    }
    socket.on("error", () => {});
    socket.on("message", (msg, rinfo) => this.onDatagram(msg, { host: rinfo.address, port: rinfo.port }));
    this.socket6 = socket;
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  /** The IPv6 socket's port, if there is one. */
  get localPort6(): number | undefined {
    return this.socket6?.address().port;
  }

  /**
   * The socket that reaches `host`: IPv6 literals go out of the IPv6 socket. Only an IPv6
   * literal has a colon, and this runs for every datagram, so no full parse.
   */
  private socketFor(host: string): dgram.Socket | undefined {
    return host.includes(":") ? this.socket6 : this.socket;
  }

  private onDatagram(msg: Buffer, from: Address): void {
    if (this.closed) return;
    if (this.handlers.admit && !this.handlers.admit(from)) {
      this.refused++;
      return;
    }
    const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
    if (isProbe(bytes)) {
      if (!this.handlers.onProbe?.(bytes, from)) this.foreignDropped++;
    } else if (isRelay(bytes)) {
      this.onRelayed(bytes, from);
    } else if ((bytes[0] ?? 0) & 0x80) {
      this.endpoint.handleDatagram(bytes, from, now());
    } else if (!this.handlers.onForeignDatagram?.(bytes, from)) {
      this.foreignDropped++;
    }
    this.pump();
  }

  /**
   * Opens a relay channel through `via` (the registry) named by `token`, and returns the
   * address that stands for it: sessions connect to it, move to it and receive from it like
   * any other address. Opening a token again returns the same address.
   */
  openRelay(via: Address, token: Uint8Array): Address {
    const key = Buffer.from(token).toString("hex");
    const known = this.relays.get(key);
    if (known) return known.address;
    const channel: RelayChannel = {
      via: { host: via.host, port: via.port },
      token: Uint8Array.from(token),
      address: { host: RELAY_HOST, port: this.nextRelayPort++ },
    };
    this.relays.set(key, channel);
    this.relayByPort.set(channel.address.port, channel);
    if (this.relays.size > MAX_RELAY_CHANNELS) {
      const oldest = this.relays.keys().next().value;
      if (oldest !== undefined) this.forgetRelay(oldest);
    }
    return channel.address;
  }

  private forgetRelay(key: string): void {
    const channel = this.relays.get(key);
    if (!channel) return;
    this.relays.delete(key);
    this.relayByPort.delete(channel.address.port);
  }

  /** Unwraps an envelope from a relay this host opened and hands it to the session layer. */
  private onRelayed(bytes: Uint8Array, from: Address): void {
    const env = decodeRelay(bytes);
    const key = env.ok ? Buffer.from(env.value.token).toString("hex") : "";
    const channel = this.relays.get(key);
    if (!env.ok || !channel || channel.via.host !== from.host || channel.via.port !== from.port) {
      if (!this.handlers.onRelay?.(bytes, from)) this.foreignDropped++;
      return;
    }
    this.relays.delete(key); // re-inserted as the most recently used
    this.relays.set(key, channel);
    this.endpoint.handleDatagram(env.value.inner, channel.address, now());
  }

  /** Sends a session-layer datagram, through its relay if the address is one. */
  private transmit(to: Address, bytes: Uint8Array): void {
    if (to.host !== RELAY_HOST) {
      this.socketFor(to.host)?.send(bytes, to.port, to.host);
      return;
    }
    const channel = this.relayByPort.get(to.port);
    if (!channel) return; // the channel was forgotten: as good as a lost datagram
    this.socket.send(encodeRelay(channel.token, bytes), channel.via.port, channel.via.host);
  }

  /**
   * Moves a live session to another path (a punched hole found after the relay, or back):
   * this side sends there from now on, and a keepalive goes out at once so that the far side,
   * which follows the newest authenticated datagram, moves too.
   */
  moveTo(conn: HostedConnection, address: Address): void {
    const live = this.live.get(conn.session);
    if (!live) return;
    this.endpoint.setAddress(conn.session, address);
    live.info.address = { host: address.host, port: address.port };
    live.conn.ping();
    this.pump();
    this.handlers.onAddressChanged?.(live.info);
  }

  /** Open a session to `address`; resolves when the handshake completes. */
  connect(
    address: Address,
    opts: { expectedRemoteKey?: Uint8Array; payload?: Uint8Array } = {},
  ): Promise<HostedConnection> {
    if (this.closed) return Promise.reject(new HallwayError("INTERNAL", "host is closed"));
    const session = this.endpoint.connect(address, now(), opts);
    const p = new Promise<HostedConnection>((resolve, reject) =>
      this.pending.set(session, { resolve, reject }),
    );
    this.pump();
    return p;
  }

  /** Queue a reliable message on a live connection. Throws MSG_TOO_LARGE on misuse. */
  send(conn: HostedConnection, message: Uint8Array, stream = 0): void {
    const live = this.live.get(conn.session);
    if (!live) throw new HallwayError("MSG_NOT_DELIVERED", "connection is closed");
    live.conn.sendMessage(message, now(), stream);
    this.pump();
  }

  /** Queue a message without sending yet (for `onPoll`); false if the connection is closed. */
  enqueue(conn: HostedConnection, message: Uint8Array): boolean {
    const live = this.live.get(conn.session);
    if (!live) return false;
    live.conn.sendMessage(message, now());
    return true;
  }

  /** Send whatever the cores have due (after the transfer layer changed their state). */
  flush(): void {
    this.pump();
  }

  /** A fresh transfer stream id on this connection (this side's parity). */
  allocateStream(conn: HostedConnection): number | undefined {
    return this.live.get(conn.session)?.conn.allocateStream();
  }

  /** Whether the peer may have opened `stream` on this connection. */
  isPeerStream(conn: HostedConnection, stream: number): boolean {
    return this.live.get(conn.session)?.conn.isPeerStream(stream) ?? false;
  }

  /** Host a transfer core on a stream of a live connection; false if refused. */
  attachStream(conn: HostedConnection, stream: number, core: StreamCore): boolean {
    return this.live.get(conn.session)?.conn.attachStream(stream, core) ?? false;
  }

  replaceStream(conn: HostedConnection, stream: number, core: StreamCore): boolean {
    return this.live.get(conn.session)?.conn.replaceStream(stream, core) ?? false;
  }

  detachStream(conn: HostedConnection, stream: number): void {
    this.live.get(conn.session)?.conn.detachStream(stream);
  }

  isLive(conn: HostedConnection): boolean {
    return this.live.has(conn.session);
  }

  /**
   * Send one datagram outside any session (STUN answers, probes). Errors are ignored, as
   * for all UDP. With `ttl`, the socket's TTL is lowered for this datagram only: dgram
   * resolves the address on the next tick and sends then, so the default is restored on
   * the tick after. Datagrams other code sends in the same synchronous run would go out
   * with the low TTL too, so callers send low-TTL datagrams from a callback of their own
   * (a timer or `setImmediate`), never from inside a message handler.
   */
  sendRaw(bytes: Uint8Array, to: Address, ttl?: number): void {
    const socket = this.socketFor(to.host);
    if (this.closed || socket === undefined) return;
    if (ttl === undefined) {
      socket.send(bytes, to.port, to.host, () => {});
      return;
    }
    // Several low-TTL sends in one run: restore only after the last has gone out.
    this.lowTtlPending++;
    socket.setTTL(ttl);
    socket.send(bytes, to.port, to.host, () => {});
    process.nextTick(() => {
      this.lowTtlPending--;
      if (this.lowTtlPending > 0 || this.closed) return;
      this.socket.setTTL(DEFAULT_TTL);
      this.socket6?.setTTL(DEFAULT_TTL);
    });
  }

  /** Send a heartbeat PING on a connection. */
  ping(conn: HostedConnection): void {
    this.live.get(conn.session)?.conn.ping();
    this.pump();
  }

  /** Close one session: tell the peer (best effort) and forget it. Idempotent. */
  close(conn: HostedConnection, reason = "closed"): void {
    const live = this.live.get(conn.session);
    if (!live) return;
    this.endpoint.send(conn.session, live.conn.closePayload(reason), now());
    this.endpoint.close(conn.session);
    this.pump();
  }

  /** Close every session and the socket. Idempotent. */
  async stop(reason = "shutting down"): Promise<void> {
    if (this.closed) return;
    for (const live of [...this.live.values()]) this.close(live.info, reason);
    this.pump();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const p of this.pending.values()) p.reject(new HallwayError("INTERNAL", "host stopped"));
    this.pending.clear();
    const socket6 = this.socket6;
    this.socket6 = undefined;
    await Promise.all([
      new Promise<void>((resolve) => this.socket.close(() => resolve())),
      socket6 && new Promise<void>((resolve) => socket6.close(() => resolve())),
    ]);
  }

  private pump(): void {
    if (this.closed) return;
    const t = now();
    for (let ev = this.endpoint.pollEvent(); ev; ev = this.endpoint.pollEvent()) {
      switch (ev.type) {
        case "established": {
          const info: HostedConnection = {
            session: ev.session,
            initiator: ev.initiator,
            remoteKey: ev.remoteKey,
            remotePayload: ev.remotePayload,
            address: ev.address,
          };
          this.live.set(ev.session, {
            info,
            conn: new Connection(
              {
                keepaliveMs: this.opts.keepaliveMs ?? 15_000,
                initiator: ev.initiator,
                onOversized: (stream, head) => this.handlers.onOversized?.(info, head, stream),
              },
              t,
            ),
          });
          const p = this.pending.get(ev.session);
          this.pending.delete(ev.session);
          p?.resolve(info);
          this.handlers.onEstablished?.(info);
          break;
        }
        case "data": {
          const live = this.live.get(ev.session);
          if (!live) break;
          live.conn.handlePayload(ev.payload, t);
          for (let m = live.conn.pollMessage(); m; m = live.conn.pollMessage()) {
            this.handlers.onMessage?.(live.info, m.message, m.stream);
          }
          if (live.conn.closedReason !== undefined) {
            this.endpoint.close(ev.session);
          }
          break;
        }
        case "address-changed": {
          const live = this.live.get(ev.session);
          if (live) {
            live.info.address = ev.address;
            this.handlers.onAddressChanged?.(live.info);
          }
          break;
        }
        case "failed": {
          const p = this.pending.get(ev.session);
          this.pending.delete(ev.session);
          p?.reject(new HallwayError(ev.code, ev.message));
          const live = this.live.get(ev.session);
          if (live) {
            this.live.delete(ev.session);
            this.handlers.onClosed?.(live.info, ev.message);
          }
          break;
        }
        case "closed": {
          const p = this.pending.get(ev.session);
          this.pending.delete(ev.session);
          p?.reject(new HallwayError("CRYPTO_HANDSHAKE_TIMEOUT", "session closed before it was established"));
          const live = this.live.get(ev.session);
          if (live) {
            this.live.delete(ev.session);
            this.handlers.onClosed?.(live.info, live.conn.closedReason ?? ev.reason);
          }
          break;
        }
      }
    }
    this.handlers.onPoll?.();
    const sessions = [...this.live].map(([session, live]) => [session, live.conn] as const);
    for (const [session, p] of interleavePayloads(sessions, t)) this.endpoint.send(session, p, t);
    for (let out = this.endpoint.pollTransmit(); out; out = this.endpoint.pollTransmit()) {
      this.transmit(out.to, out.bytes);
    }
    this.schedule();
  }

  private schedule(): void {
    let next = this.endpoint.pollTimeout() ?? Number.POSITIVE_INFINITY;
    for (const live of this.live.values()) {
      const c = live.conn.pollTimeout();
      if (c !== undefined && c < next) next = c;
    }
    if (next === this.timerAt && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = next;
    if (!Number.isFinite(next)) return;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, Math.ceil(next - now())));
    this.timer.unref?.();
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (this.closed) return;
    const t = now();
    this.endpoint.handleTimeout(t);
    for (const live of this.live.values()) live.conn.handleTimeout(t);
    this.pump();
  }
}
