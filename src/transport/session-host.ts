/**
 * SessionHost: everything between one UDP socket and the roles, sans-IO. It demultiplexes
 * datagrams (sessions, relay envelopes, connectivity probes, foreign bytes such as STUN), runs
 * the `Endpoint` (handshakes, sealing) and one `Connection` per session (channels, transfer
 * streams, path MTU), tunnels sessions through relay channels, and packs what the connections
 * have to send into datagrams. The socket adapter (`net/udp-host.ts`) feeds it and drains it;
 * the simulator can do the same (test/sim/session-host.test.ts).
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
 *
 * The parts: `endpoint-events.ts` (what the Endpoint's events do to the connections),
 * `relay-channels.ts` (the relay channels and their addresses), `session-host-types.ts` (the
 * connection, events, options and counters the roles see), `payload-interleave.ts` (one
 * payload from each connection in turn), `connection-wakeups.ts` (the connections' deadlines in
 * a lazily refreshed heap). This file is the composition: the inputs, the commands, the pack
 * and the schedule.
 */

import { HallwayError } from "../errors.js";
import type { Address } from "../protocol/address.js";
import { Endpoint, type SessionId } from "../protocol/endpoint.js";
import { isProbe } from "../protocol/probe.js";
import { decodeRelay, encodeRelay, isRelay } from "../protocol/relay.js";
import type { Connection, ConnectionStats, PathAwareCore } from "./connection.js";
import { ConnectionWakeups } from "./connection-wakeups.js";
import { applyEndpointEvent, type EndpointEventTarget } from "./endpoint-events.js";
import { interleavePayloads } from "./payload-interleave.js";
import { isRelayAddress, RELAY_HOST, RelayChannels } from "./relay-channels.js";
import type {
  HostEvent,
  HostedConnection,
  HostTransmit,
  Live,
  SessionHostOptions,
  SessionHostStats,
} from "./session-host-types.js";

export { isRelayAddress, RELAY_HOST } from "./relay-channels.js";
export type {
  HostEvent,
  HostedConnection,
  HostTransmit,
  SessionHostOptions,
  SessionHostStats,
} from "./session-host-types.js";

export class SessionHost {
  private readonly endpoint: Endpoint;
  private readonly keepaliveMs: number;
  private readonly linkMtuFor: (address: Address) => number | undefined;
  private readonly live = new Map<SessionId, Live>();
  /** Sessions touched since the last pack. */
  private readonly dirty = new Set<SessionId>();
  private readonly wakeups = new ConnectionWakeups(this.live);
  private readonly events: HostEvent[] = [];
  private eventHead = 0;
  private readonly transmits: HostTransmit[] = [];
  private transmitHead = 0;
  private readonly relays = new RelayChannels();
  /** What the Endpoint's events may change (endpoint-events.ts). */
  private readonly eventTarget: EndpointEventTarget;
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
    this.eventTarget = {
      endpoint: this.endpoint,
      keepaliveMs: this.keepaliveMs,
      live: this.live,
      dirty: this.dirty,
      events: this.events,
      linkMtuOf: (address) => this.linkMtuOf(address),
    };
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
    for (let id = this.wakeups.popDue(now); id !== undefined; id = this.wakeups.popDue(now)) {
      this.live.get(id)?.conn.handleTimeout(now);
      this.timerWakeups++;
      this.dirty.add(id);
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
    return this.relays.open(via, token);
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
      for (const [id] of sessions) this.wakeups.schedule(id);
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
    const wake = this.wakeups.earliest();
    if (wake !== undefined && (t === undefined || wake < t)) t = wake;
    // A touched connection that was not packed yet wants a turn now.
    if (this.dirty.size > 0) return this.nowMs;
    return t;
  }

  // ===================================================================== internals

  /** Moves the Endpoint's events into connections and host events, its transmits out. */
  private drainEndpoint(now: number): void {
    for (let ev = this.endpoint.pollEvent(); ev; ev = this.endpoint.pollEvent()) {
      applyEndpointEvent(this.eventTarget, ev, now);
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
    const channel = this.relays.byAddress(to);
    if (!channel) return; // the channel was forgotten: as good as a lost datagram
    this.transmits.push({ to: channel.via, bytes: [encodeRelay(channel.token, Buffer.concat(bytes))] });
  }

  /** Unwraps an envelope from a relay this host opened; anything else is the relay role's. */
  private onRelayed(bytes: Uint8Array, from: Address, now: number): void {
    const env = decodeRelay(bytes);
    const channel = env.ok ? this.relays.claim(env.value.token, from) : undefined;
    if (!env.ok || !channel) {
      this.events.push({ type: "foreign", kind: "relay", bytes, from });
      return;
    }
    this.endpoint.handleDatagram(env.value.inner, channel.address, now);
    this.drainEndpoint(now);
  }

  private linkMtuOf(address: Address): number | undefined {
    return isRelayAddress(address) ? undefined : this.linkMtuFor(address);
  }
}
