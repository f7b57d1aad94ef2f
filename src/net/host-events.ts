/**
 * What a UdpHost (udp-host.ts) shows the roles: the handlers it calls, its options, and the
 * roles step of its turn: each event of the SessionHost goes to its handler, and settles the
 * `connect` that waits for it. Needs no socket.
 */

import { HallwayError } from "../errors.js";
import type { Address } from "../protocol/address.js";
import type { Identity, SessionId } from "../protocol/endpoint.js";
import type { Runtime } from "../runtime.js";
import type { HostEvent, HostedConnection, SessionHost } from "../transport/session-host.js";
import type { DatagramSockets } from "./datagram-socket.js";

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
   * Once per turn, after the events and before packing: the transfer layer drains its cores
   * here (control, events, reads and writes to start). It may call any command.
   */
  onTurn?(now: number): void;
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
  /** Time, timers and randomness; default the process's (`runtime.ts`). */
  runtime?: Runtime;
  /** Where sockets come from; default real UDP sockets (`udp-socket.ts`). */
  sockets?: DatagramSockets;
  /** The MTU of the local link toward a host (a hint); default read from the interface. */
  linkMtuFor?: (host: string) => number;
  /** Offer AES-256-GCM for transport keys; default: whether this CPU has AES instructions. */
  aesGcm?: boolean;
}

export interface Pending {
  resolve(conn: HostedConnection): void;
  reject(err: HallwayError): void;
}

/** One event of the session host to the handlers, settling the `connect` that waits for it. */
export function dispatchHostEvent(
  ev: HostEvent,
  handlers: UdpHostHandlers,
  pending: Map<SessionId, Pending>,
  core: SessionHost,
): void {
  switch (ev.type) {
    case "established": {
      const p = pending.get(ev.conn.session);
      pending.delete(ev.conn.session);
      p?.resolve(ev.conn);
      handlers.onEstablished?.(ev.conn);
      break;
    }
    case "message":
      handlers.onMessage?.(ev.conn, ev.message, ev.stream);
      break;
    case "closed": {
      const p = pending.get(ev.conn.session);
      pending.delete(ev.conn.session);
      p?.reject(new HallwayError("CRYPTO_HANDSHAKE_TIMEOUT", "session closed before it was established"));
      handlers.onClosed?.(ev.conn, ev.reason);
      break;
    }
    case "connect-failed": {
      const p = pending.get(ev.session);
      pending.delete(ev.session);
      p?.reject(new HallwayError(ev.code, ev.message));
      break;
    }
    case "address-changed":
      handlers.onAddressChanged?.(ev.conn);
      break;
    case "oversized":
      handlers.onOversized?.(ev.conn, ev.head, ev.stream);
      break;
    case "foreign": {
      const handled =
        ev.kind === "probe"
          ? handlers.onProbe?.(ev.bytes, ev.from)
          : ev.kind === "relay"
            ? handlers.onRelay?.(ev.bytes, ev.from)
            : handlers.onForeignDatagram?.(ev.bytes, ev.from);
      if (!handled) core.dropForeign();
      break;
    }
  }
}
