/**
 * What the SessionHost (session-host.ts) shows the roles and the adapter: the hosted
 * connection, the events, the datagrams to send, options and counters; and the host's own
 * record of a live session, which its parts share.
 */

import type { HallwayError } from "../errors.js";
import type { Address } from "../protocol/address.js";
import type { Endpoint, EndpointOptions, Identity, SessionId } from "../protocol/endpoint.js";
import type { Connection } from "./connection.js";

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

/** A live session as the host keeps it. */
export interface Live {
  info: HostedConnection;
  conn: Connection;
  /** This connection's entry in the timer heap, if any. */
  wakeAt: number | undefined;
}
