/**
 * SessionHost: everything between one UDP socket and the roles, sans-IO. It demultiplexes
 * datagrams (sessions, relay envelopes, connectivity probes, foreign bytes such as STUN), runs
 * the `Endpoint` (handshakes, sealing) and one `Connection` per session (channels, transfer
 * streams, path MTU), tunnels sessions through relay channels, and packs what the connections
 * have to send into datagrams. The socket adapter (`net/udp-host.ts`) feeds it and drains it;
 * the simulator can do the same (test/transfer/session-host.sim.test.ts).
 *
 * Theory of operation
 * ===================
 *
 * One explicit turn per wake-up, driven by the adapter:
 *
 *     inputs   handleDatagram(bytes, from, now) for every datagram that arrived,
 *              handleTimeout(now) when pollTimeout() has passed, and the roles' commands
 *              (connect, send, close, moveTo, attachStream, ...)
 *     roles    pollEvent() until empty: established, message, closed, address-changed,
 *              connect-failed, foreign datagrams. Handlers may issue more commands.
 *     pack     pack(now): every connection touched since the last pack is asked for payloads,
 *              one from each in turn, sealed by the Endpoint into datagrams
 *     transmit pollTransmit() until empty
 *     schedule pollTimeout(): the earliest deadline of the Endpoint and of every connection
 *
 * Commands never transmit by themselves: whatever they queue goes out at the next pack. So
 * nothing is re-entrant: a handler that sends a message in the middle of the roles step only
 * queues it.
 *
 * Cost per datagram and per wake-up: a datagram finds its session through the Endpoint's map
 * (receiver index) or its relay channel through a map (token): O(1). Connections wait for
 * their timers in a heap, refreshed lazily (an entry may fire early, never late); a wake-up
 * pops only what is due, and a pack visits only connections touched since the last one (a
 * datagram arrived, a command, a timer, `touch`). A registry holding 10,000 idle sessions
 * does no work for the 9,999 that are quiet.
 *
 * Relay channels: `openRelay(via, token)` returns an address (`{host: "relay", port: n}`)
 * that sessions connect to, move to and receive from like any other. Datagrams to it are
 * wrapped in a RELAY envelope to `via`; envelopes from `via` with a known token are unwrapped
 * and handed to the Endpoint as coming from that address. Sessions never roam onto a relay by
 * themselves (`mayRoamTo`), and a connection on a relayed path keeps datagrams at the base
 * size, envelope included.
 */

import { HallwayError } from "../errors.js";
import type { Address } from "../protocol/address.js";
import { Endpoint, type EndpointOptions, type Identity, type SessionId } from "../protocol/endpoint.js";
import { isProbe } from "../protocol/probe.js";
import { decodeRelay, encodeRelay, isRelay } from "../protocol/relay.js";
import { TimerHeap } from "../protocol/timer-heap.js";
import { Connection, type ConnectionStats, interleavePayloads, type PathAwareCore } from "./connection.js";

export interface HostedConnection {
  readonly session: SessionId;
  readonly initiator: boolean;
  readonly remoteKey: Uint8Array;
  readonly remotePayload: Uint8Array;
  address: Address;
  /** Free slot for the role: who this connection belongs to. */
  user?: string;
}

export type HostEvent =
  | { type: "established"; conn: HostedConnection }
  | { type: "message"; conn: HostedConnection; stream: number; message: Uint8Array }
  | { type: "closed"; conn: HostedConnection; reason: string }
  /** The far side moved the session to another path (roaming), or `moveTo` did. */
  | { type: "address-changed"; conn: HostedConnection }
  /** A `connect` that never became a session. */
  | { type: "connect-failed"; session: SessionId; code: HallwayError["code"]; message: string }
  /**
   * A datagram no session owns: a connectivity probe, a relay envelope for a channel this host
   * did not open (the registry's relay role), or anything else (STUN).
   */
  | { type: "foreign"; kind: "probe" | "relay" | "other"; bytes: Uint8Array; from: Address }
  /** A message over the size limit was dropped; `head` is its first segment (to answer it). */
  | { type: "oversized"; conn: HostedConnection; stream: number; head: Uint8Array };

/**
 * One datagram to send, in pieces to be written as one (a gathered send: the datagram is their
 * concatenation); `ttl` lowers the IP TTL for this datagram only.
 */
export interface HostTransmit {
  to: Address;
  bytes: readonly Uint8Array[];
  ttl?: number;
}

export interface SessionHostOptions {
  identity: Identity;
  /** Injected randomness (ephemeral keys, session indexes). */
  random: (n: number) => Uint8Array;
  acceptIncoming: boolean;
  keepaliveMs?: number;
  idleTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  responderPayload?: (from: Address) => Uint8Array;
  /** Offer AES-256-GCM for sessions' transport keys (the adapter knows the CPU has AES instructions). */
  aesGcm?: boolean;
  /** The MTU of the local link toward an address, if the adapter can tell (a cost-model hint). */
  linkMtuFor?: (address: Address) => number | undefined;
  /** The endpoint's handshake limits, where the defaults do not fit (docs/security.md). */
  handshakeLimits?: Pick<
    EndpointOptions,
    | "maxSessions"
    | "handshakesPerSecondPerHost"
    | "cookies"
    | "freeHandshakesPerSecond"
    | "cookieHandshakesPerSecondPerHost"
    | "maxHandshakesPerSecond"
    | "busyHalfOpen"
  >;
}

/**
 * The host name of the addresses `openRelay` hands out. It is never resolved: datagrams to it
 * are wrapped in a relay envelope and sent to the relay's real address.
 */
export const RELAY_HOST = "relay";

/** Relay channels a peer keeps open at most; the least recently used goes first. */
const MAX_RELAY_CHANNELS = 64;

export function isRelayAddress(a: Address): boolean {
  return a.host === RELAY_HOST;
}

interface RelayChannel {
  via: Address;
  token: Uint8Array;
  address: Address;
}

interface Live {
  info: HostedConnection;
  conn: Connection;
  /** This connection's entry in the timer heap, if any. */
  wakeAt: number | undefined;
}

export interface SessionHostStats {
  /** Datagrams dropped before any core saw them (foreign bytes nobody claimed). */
  foreignDropped: number;
  /** Live sessions. */
  sessions: number;
  /** Connections visited by `pack`, over the host's life: the work that grows with activity. */
  connectionsPacked: number;
  /** Connections whose timers fired, over the host's life. */
  timerWakeups: number;
  endpoint: Endpoint["stats"];
  /** Stateless cookies the endpoint sent, received and accepted (docs/security.md). */
  cookies: Endpoint["cookieStats"];
}

export class SessionHost {
  private readonly endpoint: Endpoint;
  private readonly keepaliveMs: number;
  private readonly linkMtuFor: (address: Address) => number | undefined;
  private readonly live = new Map<SessionId, Live>();
  /** Sessions touched since the last pack. */
  private readonly dirty = new Set<SessionId>();
  private readonly timers = new TimerHeap();
  private readonly events: HostEvent[] = [];
  private eventHead = 0;
  private readonly transmits: HostTransmit[] = [];
  private transmitHead = 0;
  /** Relay channels by token (hex), in least-recently-used order. */
  private readonly relays = new Map<string, RelayChannel>();
  private readonly relayByPort = new Map<number, RelayChannel>();
  private nextRelayPort = 1;
  private foreignDropped = 0;
  private connectionsPacked = 0;
  private timerWakeups = 0;
  private nowMs = 0;

  constructor(opts: SessionHostOptions) {
    this.keepaliveMs = opts.keepaliveMs ?? 15_000;
    this.linkMtuFor = opts.linkMtuFor ?? (() => undefined);
    this.endpoint = new Endpoint({
      identity: opts.identity,
      random: opts.random,
      acceptIncoming: opts.acceptIncoming,
      ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
      ...(opts.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: opts.handshakeTimeoutMs } : {}),
      ...(opts.responderPayload ? { responderPayload: opts.responderPayload } : {}),
      ...(opts.aesGcm === undefined ? {} : { aesGcm: opts.aesGcm }),
      ...opts.handshakeLimits,
      mayRoamTo: (address) => !isRelayAddress(address),
    });
  }

  get stats(): SessionHostStats {
    return {
      foreignDropped: this.foreignDropped,
      sessions: this.live.size,
      connectionsPacked: this.connectionsPacked,
      timerWakeups: this.timerWakeups,
      endpoint: this.endpoint.stats,
      cookies: this.endpoint.cookieStats,
    };
  }

  /** The path statistics of one session (path MTU, probes), if it is live. */
  connectionStats(conn: HostedConnection): ConnectionStats | undefined {
    return this.live.get(conn.session)?.conn.stats;
  }

  // ===================================================================== inputs

  /** One datagram from the socket. Never throws; what nobody owns is counted or handed out. */
  handleDatagram(bytes: Uint8Array, from: Address, now: number): void {
    this.nowMs = now;
    if (isProbe(bytes)) {
      this.events.push({ type: "foreign", kind: "probe", bytes, from });
    } else if (isRelay(bytes)) {
      this.onRelayed(bytes, from, now);
    } else if ((bytes[0] ?? 0) & 0x80) {
      this.endpoint.handleDatagram(bytes, from, now);
      this.drainEndpoint(now);
    } else {
      this.events.push({ type: "foreign", kind: "other", bytes, from });
    }
  }

  handleTimeout(now: number): void {
    this.nowMs = now;
    this.endpoint.handleTimeout(now);
    for (;;) {
      const next = this.timers.peek();
      if (next === undefined || next.at > now) break;
      this.timers.pop();
      const live = this.live.get(next.id);
      if (live === undefined || live.wakeAt !== next.at) continue;
      live.wakeAt = undefined;
      live.conn.handleTimeout(now);
      this.timerWakeups++;
      this.dirty.add(next.id);
    }
    this.drainEndpoint(now);
  }

  /** A foreign datagram a handler did not want: counted as dropped. */
  dropForeign(): void {
    this.foreignDropped++;
  }

  // ===================================================================== commands

  /** Open a session to `address`; "established" or "connect-failed" follows. */
  connect(
    address: Address,
    now: number,
    opts: { expectedRemoteKey?: Uint8Array; payload?: Uint8Array } = {},
  ): SessionId {
    this.nowMs = now;
    const session = this.endpoint.connect(address, now, opts);
    this.drainEndpoint(now);
    return session;
  }

  /** Queue a reliable message on a live connection. Throws MSG_NOT_DELIVERED or MSG_TOO_LARGE. */
  send(conn: HostedConnection, message: Uint8Array, stream: number, now: number): void {
    const live = this.live.get(conn.session);
    if (!live) throw new HallwayError("MSG_NOT_DELIVERED", "connection is closed");
    live.conn.sendMessage(message, now, stream);
    this.dirty.add(conn.session);
  }

  /** A heartbeat PING on a connection. */
  ping(conn: HostedConnection): void {
    const live = this.live.get(conn.session);
    if (!live) return;
    live.conn.ping();
    this.dirty.add(conn.session);
  }

  /** Something changed a transfer core of this connection outside a datagram: pack it. */
  touch(conn: HostedConnection): void {
    if (this.live.has(conn.session)) this.dirty.add(conn.session);
  }

  /**
   * Close one session: send what its windows allow now (the answers queued before the close,
   * a `session.end`), then tell the peer (best effort), and forget it. Idempotent.
   */
  close(conn: HostedConnection, reason: string, now: number): void {
    const live = this.live.get(conn.session);
    if (!live) return;
    for (let p = live.conn.pollPayload(now); p !== undefined; p = live.conn.pollPayload(now)) {
      this.endpoint.send(conn.session, p, now);
    }
    this.endpoint.send(conn.session, live.conn.closePayload(reason), now);
    this.endpoint.close(conn.session);
    this.drainEndpoint(now);
  }

  /**
   * Moves a live session to another path (a punched hole found after the relay, or back):
   * this side sends there from now on, and a keepalive goes out at once so that the far side,
   * which follows the newest authenticated datagram, moves too.
   */
  moveTo(conn: HostedConnection, address: Address, now: number): void {
    const live = this.live.get(conn.session);
    if (!live) return;
    this.endpoint.setAddress(conn.session, address);
    live.info.address = { host: address.host, port: address.port };
    live.conn.handlePathChange(isRelayAddress(address), now, this.linkMtuOf(address));
    live.conn.ping();
    this.dirty.add(conn.session);
    this.events.push({ type: "address-changed", conn: live.info });
  }

  /**
   * Opens a relay channel through `via` (the registry) named by `token`, and returns the
   * address that stands for it. Opening a token again returns the same address.
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

  /** One datagram outside any session (STUN answers, probes, relayed envelopes). */
  sendRaw(bytes: Uint8Array, to: Address, ttl?: number): void {
    this.transmits.push(ttl === undefined ? { to, bytes: [bytes] } : { to, bytes: [bytes], ttl });
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
  attachStream(conn: HostedConnection, stream: number, core: PathAwareCore): boolean {
    const live = this.live.get(conn.session);
    if (!live?.conn.attachStream(stream, core)) return false;
    this.dirty.add(conn.session);
    return true;
  }

  replaceStream(conn: HostedConnection, stream: number, core: PathAwareCore): boolean {
    const live = this.live.get(conn.session);
    if (!live?.conn.replaceStream(stream, core)) return false;
    this.dirty.add(conn.session);
    return true;
  }

  detachStream(conn: HostedConnection, stream: number): void {
    this.live.get(conn.session)?.conn.detachStream(stream);
  }

  isLive(conn: HostedConnection): boolean {
    return this.live.has(conn.session);
  }

  /** Every live connection (shutdown). */
  connections(): HostedConnection[] {
    return [...this.live.values()].map((l) => l.info);
  }

  // ===================================================================== outputs

  pollEvent(): HostEvent | undefined {
    if (this.eventHead >= this.events.length) {
      if (this.eventHead > 0) {
        this.events.length = 0;
        this.eventHead = 0;
      }
      return undefined;
    }
    const e = this.events[this.eventHead] as HostEvent;
    this.eventHead++;
    return e;
  }

  /** Packs every touched connection's payloads into sealed datagrams (the turn's pack step). */
  pack(now: number): void {
    this.nowMs = now;
    if (this.dirty.size > 0) {
      const sessions: Array<readonly [SessionId, Connection]> = [];
      for (const id of this.dirty) {
        const live = this.live.get(id);
        if (live) sessions.push([id, live.conn]);
      }
      this.dirty.clear();
      this.connectionsPacked += sessions.length;
      for (const [session, payload] of interleavePayloads(sessions, now)) {
        this.endpoint.send(session, payload, now);
      }
      for (const [id] of sessions) this.scheduleConnection(id);
    }
    this.drainEndpoint(now);
  }

  pollTransmit(): HostTransmit | undefined {
    if (this.transmitHead >= this.transmits.length) {
      if (this.transmitHead > 0) {
        this.transmits.length = 0;
        this.transmitHead = 0;
      }
      return undefined;
    }
    const t = this.transmits[this.transmitHead] as HostTransmit;
    this.transmitHead++;
    return t;
  }

  /** The earliest deadline (possibly early, never late). */
  pollTimeout(): number | undefined {
    let t = this.endpoint.pollTimeout();
    for (;;) {
      const next = this.timers.peek();
      if (next === undefined) break;
      if (this.live.get(next.id)?.wakeAt === next.at) {
        if (t === undefined || next.at < t) t = next.at;
        break;
      }
      this.timers.pop();
    }
    // A touched connection that was not packed yet wants a turn now.
    if (this.dirty.size > 0) return this.nowMs;
    return t;
  }

  // ===================================================================== internals

  /** Moves the Endpoint's events into connections and host events, its transmits out. */
  private drainEndpoint(now: number): void {
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
          const linkMtuBytes = this.linkMtuOf(ev.address);
          const conn = new Connection(
            {
              keepaliveMs: this.keepaliveMs,
              initiator: ev.initiator,
              relayed: isRelayAddress(ev.address),
              ...(linkMtuBytes === undefined ? {} : { linkMtuBytes }),
              onOversized: (stream, head) =>
                this.events.push({ type: "oversized", conn: info, stream, head }),
            },
            now,
          );
          this.live.set(ev.session, { info, conn, wakeAt: undefined });
          this.dirty.add(ev.session);
          this.events.push({ type: "established", conn: info });
          break;
        }
        case "data": {
          const live = this.live.get(ev.session);
          if (!live) break;
          live.conn.handlePayload(ev.payload, now);
          this.dirty.add(ev.session);
          for (let m = live.conn.pollMessage(); m; m = live.conn.pollMessage()) {
            this.events.push({ type: "message", conn: live.info, stream: m.stream, message: m.message });
          }
          if (live.conn.closedReason !== undefined) this.endpoint.close(ev.session);
          break;
        }
        case "address-changed": {
          const live = this.live.get(ev.session);
          if (live) {
            live.info.address = ev.address;
            live.conn.handlePathChange(isRelayAddress(ev.address), now, this.linkMtuOf(ev.address));
            this.events.push({ type: "address-changed", conn: live.info });
          }
          break;
        }
        case "failed": {
          const live = this.live.get(ev.session);
          if (live) {
            this.live.delete(ev.session);
            this.dirty.delete(ev.session);
            this.events.push({ type: "closed", conn: live.info, reason: ev.message });
          } else {
            this.events.push({
              type: "connect-failed",
              session: ev.session,
              code: ev.code,
              message: ev.message,
            });
          }
          break;
        }
        case "closed": {
          const live = this.live.get(ev.session);
          if (live) {
            this.live.delete(ev.session);
            this.dirty.delete(ev.session);
            this.events.push({
              type: "closed",
              conn: live.info,
              reason: live.conn.closedReason ?? ev.reason,
            });
          } else {
            this.events.push({
              type: "connect-failed",
              session: ev.session,
              code: "CRYPTO_HANDSHAKE_TIMEOUT",
              message: "session closed before it was established",
            });
          }
          break;
        }
      }
    }
    for (let out = this.endpoint.pollTransmit(); out; out = this.endpoint.pollTransmit()) {
      this.transmitSealed(out.to, out.bytes);
    }
  }

  /** A session-layer datagram out: through its relay if the address is one. */
  private transmitSealed(to: Address, bytes: readonly Uint8Array[]): void {
    if (to.host !== RELAY_HOST) {
      this.transmits.push({ to, bytes });
      return;
    }
    const channel = this.relayByPort.get(to.port);
    if (!channel) return; // the channel was forgotten: as good as a lost datagram
    this.transmits.push({ to: channel.via, bytes: [encodeRelay(channel.token, Buffer.concat(bytes))] });
  }

  /** Unwraps an envelope from a relay this host opened; anything else is the relay role's. */
  private onRelayed(bytes: Uint8Array, from: Address, now: number): void {
    const env = decodeRelay(bytes);
    const key = env.ok ? Buffer.from(env.value.token).toString("hex") : "";
    const channel = this.relays.get(key);
    if (!env.ok || !channel || channel.via.host !== from.host || channel.via.port !== from.port) {
      this.events.push({ type: "foreign", kind: "relay", bytes, from });
      return;
    }
    this.relays.delete(key); // re-inserted as the most recently used
    this.relays.set(key, channel);
    this.endpoint.handleDatagram(env.value.inner, channel.address, now);
    this.drainEndpoint(now);
  }

  private forgetRelay(key: string): void {
    const channel = this.relays.get(key);
    if (!channel) return;
    this.relays.delete(key);
    this.relayByPort.delete(channel.address.port);
  }

  private linkMtuOf(address: Address): number | undefined {
    return isRelayAddress(address) ? undefined : this.linkMtuFor(address);
  }

  /** Arms the connection's wake-up if its deadline is now earlier than its heap entry. */
  private scheduleConnection(id: SessionId): void {
    const live = this.live.get(id);
    if (!live) return;
    const at = live.conn.pollTimeout();
    if (at === undefined) return;
    if (live.wakeAt !== undefined && live.wakeAt <= at) return;
    live.wakeAt = at;
    this.timers.push(at, id);
  }
}
