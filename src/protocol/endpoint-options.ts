/**
 * The Endpoint's options, events, counters and defaults (endpoint.ts holds the theory of
 * operation). Apart so the parts of the Endpoint (the session table, the handshakes, the cookie
 * guard) share them without importing the composition.
 */

import { type ErrorCode, MisuseError } from "../errors.js";
import type { Address } from "./address.js";
import type { Endpoint } from "./endpoint.js";
import type { Identity, TransportCipher } from "./noise.js";

/** Our local index: random non-zero u32, unique among live sessions. */
export type SessionId = number;

export interface EndpointOptions {
  identity: Identity;
  /** Injected randomness (ephemeral keys, indexes). */
  random: (n: number) => Uint8Array;
  /** Act as responder to HS_INIT? */
  acceptIncoming: boolean;
  /** Default UTF-8 "hallway/2". */
  prologue?: Uint8Array;
  /** Offer AES-256-GCM for the transport keys (this machine seals faster with it). Default false. */
  aesGcm?: boolean;
  /** Default 5000 → "failed" with CRYPTO_HANDSHAKE_TIMEOUT. */
  handshakeTimeoutMs?: number;
  /** Default 250, doubling per retry. */
  handshakeRetransmitMs?: number;
  /** Default 60_000: no authenticated datagram received for this long → "closed" reason "idle". */
  idleTimeoutMs?: number;
  /** Default 10_000; beyond it new HS_INIT are dropped (counted). */
  maxSessions?: number;
  /** Token bucket per source host for HS_INIT, default 20. */
  handshakesPerSecondPerHost?: number;
  /** Answer HS_INIT with a stateless COOKIE when busy (default true). */
  cookies?: boolean;
  /** Handshakes without a cookie per second over all hosts before the responder is busy; default 50. */
  freeHandshakesPerSecond?: number;
  /** Handshakes with a valid cookie per source host and second; default 20. */
  cookieHandshakesPerSecondPerHost?: number;
  /** Handshakes with a valid cookie per second over all hosts; default 100. */
  maxHandshakesPerSecond?: number;
  /** Half-open handshakes (answered, no message 3 yet) at which the responder is busy; default 32. */
  busyHalfOpen?: number;
  /** How often the cookie secret changes; default 120_000 (WireGuard's two minutes). */
  cookieRotateMs?: number;
  /** Payload the responder puts in message 2 (default empty). */
  responderPayload?: (from: Address) => Uint8Array;
  /**
   * Whether a session may roam to `address` by itself (default: anywhere). The peer's host
   * says no for relay addresses: a session leaves the relay for a direct path, and only an
   * explicit `setAddress` puts it back, so relayed datagrams still in flight after a move
   * do not pull it back.
   */
  mayRoamTo?: (address: Address) => boolean;
}

export type EndpointEvent =
  | {
      type: "established";
      session: SessionId;
      remoteKey: Uint8Array;
      remotePayload: Uint8Array;
      address: Address;
      initiator: boolean;
      /** The AEAD the session's transport keys use. */
      cipher: TransportCipher;
    }
  | { type: "data"; session: SessionId; payload: Uint8Array; address: Address }
  | { type: "failed"; session: SessionId; code: ErrorCode; message: string }
  | { type: "closed"; session: SessionId; reason: "idle" | "local" }
  | { type: "address-changed"; session: SessionId; address: Address };

export interface EndpointStats {
  dropped: Partial<Record<ErrorCode, number>>;
  sent: number;
  received: number;
}

/**
 * Published on `hallway:endpoint` (protocol/diagnostics.ts) for each datagram counted in
 * `stats`: one received and used, one sent, or one dropped with its code (the source, when
 * the drop is of a datagram; none for a half-open handshake that expired).
 */
export interface EndpointDiagnostic {
  endpoint: Endpoint;
  counter: "received" | "sent" | "dropped";
  code?: ErrorCode;
  /** Where it came from (received, dropped) or went (sent). */
  address?: Address;
  /** The endpoint's live counters (read them, do not keep them: they go on counting). */
  stats: Readonly<EndpointStats>;
}

/**
 * Version 2 of the wire: 64 KiB datagrams after path-MTU discovery, chunks named by byte
 * offset, transport parameters in the handshake. The prologue is in every handshake hash, so
 * a version-1 peer fails the handshake instead of misreading what follows.
 */
export const DEFAULT_PROLOGUE = new TextEncoder().encode("hallway/2");
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;
export const DEFAULT_HANDSHAKE_RETRANSMIT_MS = 250;
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_SESSIONS = 10_000;
export const DEFAULT_HANDSHAKES_PER_SECOND_PER_HOST = 20;
export const DEFAULT_FREE_HANDSHAKES_PER_SECOND = 50;
export const DEFAULT_COOKIE_HANDSHAKES_PER_SECOND_PER_HOST = 20;
export const DEFAULT_MAX_HANDSHAKES_PER_SECOND = 100;
export const DEFAULT_BUSY_HALF_OPEN = 32;
export const DEFAULT_COOKIE_ROTATE_MS = 120_000;

// datagram.ts refuses Noise messages over 1024 bytes. Message 3 is s (32 + 16 tag) + payload +
// 16 tag; message 2 is e (32) + s (32 + 16) + payload + 16.
const MAX_HANDSHAKE_NOISE_BYTES = 1024; // datagram.ts MAX_NOISE_MESSAGE_BYTES (not exported)
/** Largest `connect()` payload (carried in message 3, after the transport-parameters byte). */
export const MAX_INITIATOR_PAYLOAD_BYTES = MAX_HANDSHAKE_NOISE_BYTES - 64 - 1;
/** Largest `responderPayload` (carried in message 2, after the transport-parameters byte). */
export const MAX_RESPONDER_PAYLOAD_BYTES = MAX_HANDSHAKE_NOISE_BYTES - 96 - 1;

export function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!(v > 0) || !Number.isFinite(v)) throw new MisuseError(`${name} must be a positive number`);
  return v;
}
