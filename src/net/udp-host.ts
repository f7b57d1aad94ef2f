/**
 * UdpHost: the thin adapter that binds UDP sockets to the sans-IO `SessionHost`
 * (`transport/session-host.ts`). It owns the sockets, the clock and one timer, and runs the
 * session host's turn; everything else (demultiplexing, handshakes, sealing, reliability, path
 * MTU, relay tunnels, packing) happens in the cores.
 *
 * One explicit turn per wake-up:
 *
 *     inputs    datagrams that arrived (fed to the core as they come), the timer, the roles'
 *               commands, the completions of asynchronous disk work (through `touch`)
 *     roles     the core's events go to the handlers; then `onTurn`, where the transfer layer
 *               drains its cores (control messages, reads and writes to start, events)
 *     pack      the core packs every connection touched since the last turn
 *     transmit  every datagram goes out, synchronously, in order
 *     schedule  one timer at the core's earliest deadline
 *
 * A turn is requested by every input and runs once per event-loop iteration (setImmediate),
 * however many datagrams arrived in it: libuv reads up to 32 datagrams per socket wake-up,
 * and they share one pack and one timer update. Commands only queue; nothing a handler does
 * transmits by itself, so handlers may send, close and attach freely.
 *
 * Both roles use it: the registry (accepting sessions) and the peer (one socket for the
 * registry, other peers, transfers and hole punching).
 *
 * What needs no socket lives beside it: `host-events.ts` (the handlers, the options, and how
 * the session host's events reach the handlers and the pending connects) and
 * `literal-lookup.ts` (the `lookup` that answers IP literals at once).
 */

import { HallwayError } from "../errors.js";
import type { Address } from "../protocol/address.js";
import type { SessionId } from "../protocol/endpoint.js";
import type { Runtime, Timer } from "../runtime.js";
import type { ConnectionStats, PathAwareCore } from "../transport/connection.js";
import {
  type HostedConnection,
  isRelayAddress,
  RELAY_HOST,
  SessionHost,
  type SessionHostStats,
} from "../transport/session-host.js";
import { cpuHasAes } from "./cpu.js";
import type { DatagramSocket, DatagramSockets } from "./datagram-socket.js";
import { dispatchHostEvent, type Pending, type UdpHostHandlers, type UdpHostOptions } from "./host-events.js";
import { linkMtuFor } from "./link-mtu.js";
import { systemRuntime } from "./system-runtime.js";
import { udpSockets } from "./udp-socket.js";

export type { HostedConnection } from "../transport/session-host.js";
export type { UdpHostHandlers, UdpHostOptions } from "./host-events.js";
export { isRelayAddress, RELAY_HOST };

/**
 * Socket buffers asked for: a bandwidth-delay product of room, so that a burst of large
 * datagrams (a 64 KiB datagram is one send) does not overflow the default 208 KiB receive
 * buffer, which on a loopback lost 3–15 % of a transfer for no network reason. The kernel
 * caps what it grants at net.core.rmem_max / wmem_max; `socketBuffers` reports the result.
 */
export const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

export class UdpHost {
  private readonly socket: DatagramSocket;
  private socket6: DatagramSocket | undefined;
  private readonly core: SessionHost;
  private readonly runtime: Runtime;
  private readonly sockets: DatagramSockets;
  private readonly pending = new Map<SessionId, Pending>();
  private timer: Timer | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private turnRequested = false;
  private inTurn = false;
  private closed = false;
  private granted = { receive: 0, send: 0 };
  handlers: UdpHostHandlers = {};
  /** Datagrams `handlers.admit` refused. */
  refused = 0;

  constructor(private readonly opts: UdpHostOptions) {
    this.runtime = opts.runtime ?? systemRuntime;
    this.sockets = opts.sockets ?? udpSockets;
    this.socket = this.sockets.open("udp4");
    const random = this.runtime.random;
    this.core = new SessionHost({
      identity: opts.identity,
      random: (n) => random(n),
      acceptIncoming: opts.acceptIncoming,
      ...(opts.keepaliveMs !== undefined ? { keepaliveMs: opts.keepaliveMs } : {}),
      ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
      ...(opts.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: opts.handshakeTimeoutMs } : {}),
      ...(opts.responderPayload ? { responderPayload: opts.responderPayload } : {}),
      aesGcm: opts.aesGcm ?? cpuHasAes(),
      linkMtuFor: (address) => (opts.linkMtuFor ?? linkMtuFor)(address.host),
    });
  }

  get stats(): SessionHostStats["endpoint"] {
    return this.core.stats.endpoint;
  }

  /** Stateless cookies the endpoint sent, received and accepted (docs/security.md). */
  get cookieStats(): SessionHostStats["cookies"] {
    return this.core.stats.cookies;
  }

  /** Datagrams the socket layer dropped before any core saw them. */
  get foreignDropped(): number {
    return this.core.stats.foreignDropped;
  }

  /** The socket buffers the kernel granted (bytes; Linux reports twice what it books). */
  get socketBuffers(): { receive: number; send: number } {
    return { ...this.granted };
  }

  /** The path statistics of a live session (path MTU and probes). */
  connectionStats(conn: HostedConnection): ConnectionStats | undefined {
    return this.core.connectionStats(conn);
  }

  /** The clock every core of this host runs on. */
  now(): number {
    return this.runtime.now();
  }

  /** Bind the socket. Fails with PORT_IN_USE or a one-line error. */
  async start(): Promise<Address> {
    const bound = await this.socket.bind(this.opts.port ?? 0, this.opts.host);
    this.granted = this.socket.sizeBuffers(SOCKET_BUFFER_BYTES);
    this.socket.onDatagram((bytes, from) => this.onDatagram(bytes, from));
    if (this.opts.ipv6 && this.sockets.hasIPv6()) await this.startIPv6();
    return bound;
  }

  /** The IPv6 socket, if this machine can use one; without it the host is IPv4 only. */
  private async startIPv6(): Promise<void> {
    const socket = this.sockets.open("udp6");
    const bound = await socket.bind(0, "::").then(
      () => true,
      () => false,
    );
    if (!bound || this.closed) {
      await socket.close();
      return;
    }
    socket.sizeBuffers(SOCKET_BUFFER_BYTES);
    socket.onDatagram((bytes, from) => this.onDatagram(bytes, from));
    this.socket6 = socket;
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  /** The IPv6 socket's port, if there is one. */
  get localPort6(): number | undefined {
    return this.socket6?.address().port;
  }

  // ===================================================================== commands

  /**
   * Opens a relay channel through `via` (the registry) named by `token`, and returns the
   * address that stands for it: sessions connect to it, move to it and receive from it like
   * any other address.
   */
  openRelay(via: Address, token: Uint8Array): Address {
    return this.core.openRelay(via, token);
  }

  /** Moves a live session to another path; the far side follows (see SessionHost.moveTo). */
  moveTo(conn: HostedConnection, address: Address): void {
    this.core.moveTo(conn, address, this.runtime.now());
    this.requestTurn();
  }

  /** Open a session to `address`; resolves when the handshake completes. */
  connect(
    address: Address,
    opts: { expectedRemoteKey?: Uint8Array; payload?: Uint8Array } = {},
  ): Promise<HostedConnection> {
    if (this.closed) return Promise.reject(new HallwayError("INTERNAL", "host is closed"));
    const session = this.core.connect(address, this.runtime.now(), opts);
    const p = new Promise<HostedConnection>((resolve, reject) =>
      this.pending.set(session, { resolve, reject }),
    );
    this.requestTurn();
    return p;
  }

  /** Queue a reliable message on a live connection. Throws MSG_NOT_DELIVERED or MSG_TOO_LARGE. */
  send(conn: HostedConnection, message: Uint8Array, stream = 0): void {
    this.core.send(conn, message, stream, this.runtime.now());
    this.requestTurn();
  }

  /** Something changed a transfer core of this connection (a read completed): pack it. */
  touch(conn: HostedConnection): void {
    this.core.touch(conn);
    this.requestTurn();
  }

  /** A fresh transfer stream id on this connection (this side's parity). */
  allocateStream(conn: HostedConnection): number | undefined {
    return this.core.allocateStream(conn);
  }

  /** Whether the peer may have opened `stream` on this connection. */
  isPeerStream(conn: HostedConnection, stream: number): boolean {
    return this.core.isPeerStream(conn, stream);
  }

  /** Host a transfer core on a stream of a live connection; false if refused. */
  attachStream(conn: HostedConnection, stream: number, core: PathAwareCore): boolean {
    const ok = this.core.attachStream(conn, stream, core);
    if (ok) this.requestTurn();
    return ok;
  }

  replaceStream(conn: HostedConnection, stream: number, core: PathAwareCore): boolean {
    const ok = this.core.replaceStream(conn, stream, core);
    if (ok) this.requestTurn();
    return ok;
  }

  detachStream(conn: HostedConnection, stream: number): void {
    this.core.detachStream(conn, stream);
  }

  isLive(conn: HostedConnection): boolean {
    return this.core.isLive(conn);
  }

  /**
   * Send one datagram outside any session (STUN answers, probes). Errors are ignored, as
   * for all UDP. With `ttl`, the IP TTL is lowered for this datagram only.
   */
  sendRaw(bytes: Uint8Array, to: Address, ttl?: number): void {
    if (this.closed) return;
    this.core.sendRaw(bytes, to, ttl);
    this.requestTurn();
  }

  /** Send a heartbeat PING on a connection. */
  ping(conn: HostedConnection): void {
    this.core.ping(conn);
    this.requestTurn();
  }

  /** Close one session: tell the peer (best effort) and forget it. Idempotent. */
  close(conn: HostedConnection, reason = "closed"): void {
    this.core.close(conn, reason, this.runtime.now());
    this.requestTurn();
  }

  /** Close every session and the socket. Idempotent. */
  async stop(reason = "shutting down"): Promise<void> {
    if (this.closed) return;
    const t = this.runtime.now();
    for (const conn of this.core.connections()) this.core.close(conn, reason, t);
    this.turn();
    this.closed = true;
    this.timer?.cancel();
    for (const p of this.pending.values()) p.reject(new HallwayError("INTERNAL", "host stopped"));
    this.pending.clear();
    const socket6 = this.socket6;
    this.socket6 = undefined;
    await Promise.all([this.socket.close(), socket6?.close()]);
  }

  // ===================================================================== the turn

  private onDatagram(bytes: Uint8Array, from: Address): void {
    if (this.closed) return;
    if (this.handlers.admit && !this.handlers.admit(from)) {
      this.refused++;
      return;
    }
    this.core.handleDatagram(bytes, from, this.runtime.now());
    this.requestTurn();
  }

  private requestTurn(): void {
    if (this.turnRequested || this.inTurn || this.closed) return;
    this.turnRequested = true;
    this.runtime.soon(() => {
      this.turnRequested = false;
      this.turn();
    });
  }

  /** inputs were fed already → roles → pack → transmit → schedule. */
  private turn(): void {
    if (this.closed || this.inTurn) return;
    this.inTurn = true;
    try {
      const now = this.runtime.now();
      this.dispatchEvents();
      this.handlers.onTurn?.(now);
      // onTurn may have closed sessions or otherwise made events; they are this turn's too.
      this.dispatchEvents();
      this.core.pack(now);
      this.dispatchEvents();
      this.transmitAll();
    } finally {
      this.inTurn = false;
    }
    this.schedule();
  }

  private dispatchEvents(): void {
    for (let ev = this.core.pollEvent(); ev; ev = this.core.pollEvent()) {
      dispatchHostEvent(ev, this.handlers, this.pending, this.core);
    }
  }

  private transmitAll(): void {
    for (let out = this.core.pollTransmit(); out; out = this.core.pollTransmit()) {
      const socket = this.socketFor(out.to.host);
      if (socket === undefined || out.to.host === RELAY_HOST) continue;
      socket.send(out.bytes, out.to, out.ttl);
    }
  }

  /**
   * The socket that reaches `host`: IPv6 literals go out of the IPv6 socket. Only an IPv6
   * literal has a colon, and this runs for every datagram, so no full parse.
   */
  private socketFor(host: string): DatagramSocket | undefined {
    return host.includes(":") ? this.socket6 : this.socket;
  }

  private schedule(): void {
    if (this.closed) return;
    const next = this.core.pollTimeout() ?? Number.POSITIVE_INFINITY;
    if (next === this.timerAt && this.timer) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = next;
    if (!Number.isFinite(next)) return;
    this.timer = this.runtime.after(Math.max(0, Math.ceil(next - this.runtime.now())), () => this.onTimer(), {
      weak: true,
    });
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (this.closed) return;
    this.core.handleTimeout(this.runtime.now());
    this.turn();
  }
}
