/**
 * Endpoint: the sans-IO table of secure sessions that the registry and the peers both run
 * (quinn-proto style). Datagrams and ticks go in with `handleDatagram(…, now)` and
 * `handleTimeout(now)`; datagrams to send, events and the next deadline come out of
 * `pollTransmit()`, `pollEvent()` and `pollTimeout()`. No sockets, no clock, no Math.random().
 *
 * Theory of operation
 * ===================
 *
 * Handshake: Noise XX (noise.ts), one Noise message per datagram (datagram.ts).
 *
 *   initiator                                            responder
 *   connect() ── HS_INIT  [i, e] padded to 1200 B ───────►  new session "responding"
 *   "initiating"                                            (reply cached, no timer of its own)
 *             ◄── HS_RESP  [r, i, e ee s es, payload] ────
 *   check expectedRemoteKey; "established" (event)
 *             ─── HS_FINAL [i, r, s se, payload] ───────►  "established" (event)
 *             ◄── DATA [i, pn 0, empty]  (confirmation) ──
 *   "confirmed": stops resending HS_FINAL
 *
 * Session phases and what moves them:
 *   initiating  (initiator) msg1 sent; resent with exponential backoff from handshakeRetransmitMs.
 *               → established on a valid HS_RESP; → failed CRYPTO_UNEXPECTED_KEY if the
 *               responder's static key is not `expectedRemoteKey` (msg3 is then never sent);
 *               → failed CRYPTO_HANDSHAKE_TIMEOUT at connect + handshakeTimeoutMs.
 *   responding  (responder) msg2 sent and cached. A duplicate HS_INIT (same sender index, same
 *               source) resends the cached msg2 byte for byte instead of starting over, so the
 *               initiator's retransmissions recover a lost msg2. → established on a valid
 *               HS_FINAL; expires silently (counted as CRYPTO_HANDSHAKE_TIMEOUT) after
 *               handshakeTimeoutMs: nobody above ever heard of this session.
 *   established Both have transport keys. The initiator may send as soon as it sent msg3 but keeps
 *               resending msg3 on its backoff timer until it authenticates one DATA from the
 *               responder ("confirmed"); unconfirmed at handshakeTimeoutMs after msg3 → failed
 *               CRYPTO_HANDSHAKE_TIMEOUT. The responder answers msg3 (and any byte-identical
 *               duplicate of it) with one empty DATA. → closed "idle" after idleTimeoutMs without
 *               an authenticated datagram; → closed "local" on close().
 *
 * Invariants:
 *  - handleDatagram never throws, and each call counts exactly one of `stats.received` (the
 *    datagram was valid and used) or `stats.dropped[code]`. Half-open handshakes that expire are
 *    also counted in `stats.dropped`.
 *  - Anti-amplification: the only datagram sent in answer to an unauthenticated source is msg2,
 *    and it is never larger than the HS_INIT that asked for it (which the decoder insists is
 *    padded to 1200 bytes). A duplicate HS_FINAL is answered with a 29-byte DATA, smaller still.
 *  - No state changes for a datagram that fails authentication: Noise reads are transactional,
 *    and the replay window advances only after the AEAD verified the packet. A spoofed HS_RESP or
 *    HS_FINAL is dropped without disturbing the handshake in progress.
 *  - Local indexes are random, non-zero and unique among live sessions; they are the
 *    `receiverIndex` the peer puts in its datagrams.
 *  - DATA: the 13-byte header (kind, the receiver's index, packet number) is the AEAD associated
 *    data and the packet number is the Noise nonce, counting from 0 in each direction. An empty
 *    plaintext is a keepalive/confirmation and never becomes a "data" event.
 *  - Roaming: an authenticated DATA that is the newest seen so far, from a new source the caller's
 *    `mayRoamTo` allows, moves the session there ("address-changed"); older reordered packets
 *    from the old path do not move it back. `setAddress` is the caller moving it and emits
 *    nothing.
 *  - Timers are plain data: a session wakes at the earliest of its retransmit, handshake deadline
 *    and idle deadline. Wake-ups are kept in a heap and refreshed lazily, so `pollTimeout()` may
 *    return a deadline at which nothing turns out to be due (the session just re-arms); it is
 *    never later than a real one.
 *  - Transport parameters: the first byte of the payloads of message 2 (responder) and message 3
 *    (initiator) is this Endpoint's, not the caller's: bit 0 says "I seal faster with
 *    AES-256-GCM" (`aesGcm`, from the adapter: the CPU has AES instructions). The session's
 *    transport keys are used with AES-256-GCM when both sides set it, else with ChaChaPoly as
 *    the handshake was. The payloads are encrypted and bound into the handshake hash, so the
 *    choice cannot be tampered with; the caller's payload is what follows the byte.
 *  - Outgoing DATA is sealed from pieces and handed out in pieces (`pollTransmit`): header,
 *    ciphertext pieces, tag, for one gathered socket write, so a large payload is copied only
 *    by the cipher.
 *  - HS_INIT from a source host spends a token from that host's bucket (refilled at
 *    handshakesPerSecondPerHost, burst as large); retransmitted duplicates do not. Beyond maxSessions live
 *    sessions, new HS_INIT are dropped. Both count as PROTO_RATE_LIMITED.
 *
 * Stateless cookies under load (WireGuard's cookie reply, §5.4.7 of its paper; QUIC's Retry):
 *
 *   initiator                                            responder (busy)
 *   ── HS_INIT [i, e] ─────────────────────────────────►  no state, no DH: one HMAC
 *   ◄─ COOKIE [i, MAC(secret, source address)] ────────   21 bytes
 *   ── HS_INIT [i, e, cookie] (same msg1) ─────────────►  cookie valid: handshake as usual
 *
 *  - The responder is busy for an HS_INIT without a valid cookie when its source host has spent
 *    its bucket, when all hosts together have spent `freeHandshakesPerSecond`, or when
 *    `busyHalfOpen` handshakes it answered are still waiting for message 3 (WireGuard's signal:
 *    its handshake queue; a real client completes within a round trip, a flood never does).
 *    It then answers with COOKIE instead of dropping or handshaking: no session, no DH, a
 *    datagram 57 times smaller than the HS_INIT (anti-amplification holds).
 *  - The cookie is a MAC of the source IP and port under a secret that rotates every
 *    `cookieRotateMs` (the previous one is still accepted). Only a source that receives
 *    datagrams at its address gets one, so a spoofed flood never holds a cookie.
 *  - An HS_INIT with a valid cookie skips the per-host and load buckets; cookie holders are
 *    limited per host by `cookieHandshakesPerSecondPerHost` and all together by
 *    `maxHandshakesPerSecond`. So a flood without cookies, from one address or many, cannot
 *    keep any client that answers cookies out, including clients at the flooder's address.
 *  - Initiator: a COOKIE for an "initiating" session from the address it dialled makes it resend
 *    msg1 with the cookie at once (only the first time: a stream of forged cookies buys one
 *    datagram), and every retransmission after carries the newest cookie.
 */

import { createHmac, timingSafeEqual } from "node:crypto";
import { type ErrorCode, HallwayError, MisuseError } from "../errors.js";
import type { Address } from "./address.js";
import {
  COOKIE_BYTES,
  decodeDatagram,
  encodeCookieReply,
  encodeDataHeader,
  encodeHsInit,
  encodeHsReply,
} from "./datagram.js";
import { endpointDiagnostics } from "./diagnostics.js";
import { Fifo } from "./fifo.js";
import { HostRateLimiter } from "./host-rate-limiter.js";
import { MAX_FRAMES_BYTES } from "./limits.js";
import {
  type CipherState,
  fingerprint,
  HandshakeState,
  type Identity,
  type TransportCipher,
} from "./noise.js";
import { ReplayWindow } from "./replay-window.js";
import { TimerHeap } from "./timer-heap.js";

export type { Identity } from "./noise.js";

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

/** Transport-parameters byte, bit 0: AES-256-GCM offered. */
const PARAM_AES_GCM = 1;

/** The caller's payload behind this Endpoint's transport-parameters byte. */
function withParams(aesGcm: boolean, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + payload.length);
  out[0] = aesGcm ? PARAM_AES_GCM : 0;
  out.set(payload, 1);
  return out;
}

/** The peer's transport parameters and the caller's payload (an empty payload offers nothing). */
function splitParams(payload: Uint8Array): { aesGcm: boolean; rest: Uint8Array } {
  if (payload.length === 0) return { aesGcm: false, rest: payload };
  return { aesGcm: ((payload[0] as number) & PARAM_AES_GCM) !== 0, rest: payload.subarray(1) };
}

const EMPTY = new Uint8Array(0);

type Phase = "initiating" | "responding" | "established";

interface Session {
  readonly id: SessionId;
  readonly initiator: boolean;
  phase: Phase;
  address: Address;
  /** The peer's index (our receiverIndex in the datagrams we send); undefined until known. */
  remoteIndex: number | undefined;
  handshake: HandshakeState | undefined;
  send: CipherState | undefined;
  receive: CipherState | undefined;
  nextPacketNumber: number;
  readonly replay: ReplayWindow;
  remoteKey: Uint8Array | undefined;
  readonly expectedRemoteKey: Uint8Array | undefined;
  /** Initiator: the payload for message 3. */
  readonly finalPayload: Uint8Array;
  /** Initiator: msg1 or msg3, resent with exponential backoff until answered. */
  retransmit: { datagram: Uint8Array; at: number; intervalMs: number } | undefined;
  /** Initiator: Noise message 1, to resend with a cookie; the newest cookie; whether a cookie was answered at once. */
  msg1?: Uint8Array;
  cookie?: Uint8Array;
  cookieResent?: boolean;
  /** Responder: msg2, resent as is when msg1 is repeated. */
  cachedReply: Uint8Array | undefined;
  /** Responder: the Noise message 3 that established the session, to recognise duplicates. */
  finalNoise: Uint8Array | undefined;
  /** Responder: key of the HS_INIT that created it, for duplicate detection. */
  readonly initKey: string | undefined;
  handshakeDeadline: number | undefined;
  confirmed: boolean;
  lastReceivedAt: number;
  /** The time of this session's entry in the timer heap, if any. */
  wakeAt: number | undefined;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function sameAddress(a: Address, b: Address): boolean {
  return a.host === b.host && a.port === b.port;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!(v > 0) || !Number.isFinite(v)) throw new MisuseError(`${name} must be a positive number`);
  return v;
}

export class Endpoint {
  readonly stats: EndpointStats = { dropped: {}, sent: 0, received: 0 };

  private readonly identity: Identity;
  private readonly random: (n: number) => Uint8Array;
  private readonly acceptIncoming: boolean;
  private readonly prologue: Uint8Array;
  private readonly handshakeTimeoutMs: number;
  private readonly handshakeRetransmitMs: number;
  private readonly idleTimeoutMs: number;
  private readonly maxSessions: number;
  private readonly responderPayload: ((from: Address) => Uint8Array) | undefined;
  private readonly mayRoamTo: (address: Address) => boolean;
  private readonly aesGcm: boolean;

  private readonly sessions = new Map<SessionId, Session>();
  /** `${senderIndex}|${host}|${port}` of an HS_INIT → the responder session it created. */
  private readonly byInit = new Map<string, SessionId>();
  private readonly handshakeTokens: HostRateLimiter;
  private readonly cookies: boolean;
  private readonly freeHandshakes: HostRateLimiter;
  private readonly cookieHandshakes: HostRateLimiter;
  private readonly allCookieHandshakes: HostRateLimiter;
  private readonly cookieRotateMs: number;
  private readonly busyHalfOpen: number;
  /** Responder sessions answered with message 2 and not yet established. */
  private halfOpen = 0;
  /** The cookie secret and the one before, rotated lazily from `now`. */
  private cookieSecret: { current: Uint8Array; previous: Uint8Array | undefined; since: number } | undefined;
  /** COOKIE datagrams sent, received and acted on, and handshakes that came with a valid cookie. */
  readonly cookieStats = { sent: 0, received: 0, accepted: 0 };
  private readonly timers = new TimerHeap();
  private readonly transmits = new Fifo<{ to: Address; bytes: readonly Uint8Array[] }>();
  private readonly events = new Fifo<EndpointEvent>();

  constructor(opts: EndpointOptions) {
    this.identity = opts.identity;
    this.random = opts.random;
    this.acceptIncoming = opts.acceptIncoming;
    this.prologue = opts.prologue ?? DEFAULT_PROLOGUE;
    this.handshakeTimeoutMs = positive(
      "handshakeTimeoutMs",
      opts.handshakeTimeoutMs,
      DEFAULT_HANDSHAKE_TIMEOUT_MS,
    );
    this.handshakeRetransmitMs = positive(
      "handshakeRetransmitMs",
      opts.handshakeRetransmitMs,
      DEFAULT_HANDSHAKE_RETRANSMIT_MS,
    );
    this.idleTimeoutMs = positive("idleTimeoutMs", opts.idleTimeoutMs, DEFAULT_IDLE_TIMEOUT_MS);
    this.maxSessions = positive("maxSessions", opts.maxSessions, DEFAULT_MAX_SESSIONS);
    this.handshakeTokens = new HostRateLimiter(
      positive(
        "handshakesPerSecondPerHost",
        opts.handshakesPerSecondPerHost,
        DEFAULT_HANDSHAKES_PER_SECOND_PER_HOST,
      ),
    );
    this.responderPayload = opts.responderPayload;
    this.mayRoamTo = opts.mayRoamTo ?? (() => true);
    this.aesGcm = opts.aesGcm ?? false;
    this.cookies = opts.cookies ?? true;
    this.freeHandshakes = new HostRateLimiter(
      positive("freeHandshakesPerSecond", opts.freeHandshakesPerSecond, DEFAULT_FREE_HANDSHAKES_PER_SECOND),
      1,
    );
    this.cookieHandshakes = new HostRateLimiter(
      positive(
        "cookieHandshakesPerSecondPerHost",
        opts.cookieHandshakesPerSecondPerHost,
        DEFAULT_COOKIE_HANDSHAKES_PER_SECOND_PER_HOST,
      ),
    );
    this.allCookieHandshakes = new HostRateLimiter(
      positive("maxHandshakesPerSecond", opts.maxHandshakesPerSecond, DEFAULT_MAX_HANDSHAKES_PER_SECOND),
      1,
    );
    this.cookieRotateMs = positive("cookieRotateMs", opts.cookieRotateMs, DEFAULT_COOKIE_ROTATE_MS);
    this.busyHalfOpen = positive("busyHalfOpen", opts.busyHalfOpen, DEFAULT_BUSY_HALF_OPEN);
  }

  /**
   * Starts a handshake to `address` and returns the new session's id at once; "established" or
   * "failed" follows. `payload` (at most MAX_INITIATOR_PAYLOAD_BYTES) travels encrypted in msg3.
   */
  connect(
    address: Address,
    now: number,
    opts: { expectedRemoteKey?: Uint8Array; payload?: Uint8Array } = {},
  ): SessionId {
    const payload = opts.payload ?? EMPTY;
    if (payload.length > MAX_INITIATOR_PAYLOAD_BYTES) {
      throw new HallwayError("MSG_TOO_LARGE", `handshake payload over ${MAX_INITIATOR_PAYLOAD_BYTES} bytes`);
    }
    const handshake = this.newHandshake(true);
    const msg1 = handshake.writeMessage(EMPTY);
    if (!msg1.ok) throw new HallwayError("INTERNAL", msg1.error.detail); // "e" alone cannot fail
    const id = this.allocateIndex();
    const datagram = encodeHsInit(id, msg1.value);
    const s: Session = {
      ...this.blankSession(id, true, { host: address.host, port: address.port }, now),
      phase: "initiating",
      handshake,
      msg1: msg1.value,
      expectedRemoteKey: opts.expectedRemoteKey && Uint8Array.from(opts.expectedRemoteKey),
      finalPayload: withParams(this.aesGcm, payload),
      retransmit: { datagram, at: now + this.handshakeRetransmitMs, intervalMs: this.handshakeRetransmitMs },
      handshakeDeadline: now + this.handshakeTimeoutMs,
    };
    this.sessions.set(id, s);
    this.transmit(s.address, datagram);
    this.schedule(s);
    return id;
  }

  /** Never throws, whatever the bytes; every datagram is either used or counted as dropped. */
  handleDatagram(bytes: Uint8Array, from: Address, now: number): void {
    let code: ErrorCode | undefined;
    try {
      code = this.dispatch(bytes, { host: from.host, port: from.port }, now);
    } catch {
      code = "INTERNAL";
    }
    if (code === undefined) this.stats.received += 1;
    else this.drop(code, from);
    if (code === undefined && endpointDiagnostics.hasSubscribers) this.publish("received", undefined, from);
  }

  /**
   * Seals one DATA datagram of `payload` (one buffer, or pieces sealed as their concatenation).
   * False if the session cannot send (unknown, closed, or its handshake not far enough). An
   * empty or over-MAX_FRAMES_BYTES payload is local misuse and throws.
   */
  send(session: SessionId, payload: Uint8Array | readonly Uint8Array[], _now: number): boolean {
    const pieces = payload instanceof Uint8Array ? [payload] : payload;
    let length = 0;
    for (const p of pieces) length += p.length;
    if (length === 0) throw new HallwayError("MSG_EMPTY", "cannot send an empty payload");
    if (length > MAX_FRAMES_BYTES) {
      throw new HallwayError("MSG_TOO_LARGE", `payload over ${MAX_FRAMES_BYTES} bytes`);
    }
    const s = this.sessions.get(session);
    if (s === undefined || s.phase !== "established") return false;
    return this.sendData(s, pieces);
  }

  /** The next datagram to send, in pieces to be written as one (concatenated, they are the datagram). */
  pollTransmit(): { to: Address; bytes: readonly Uint8Array[] } | undefined {
    return this.transmits.shift();
  }

  pollEvent(): EndpointEvent | undefined {
    return this.events.shift();
  }

  /** The earliest wake-up wanted (same clock as `now`); possibly early, never late. */
  pollTimeout(): number | undefined {
    for (;;) {
      const next = this.timers.peek();
      if (next === undefined) return undefined;
      if (this.sessions.get(next.id)?.wakeAt === next.at) return next.at;
      this.timers.pop();
    }
  }

  handleTimeout(now: number): void {
    for (;;) {
      const next = this.timers.peek();
      if (next === undefined || next.at > now) return;
      this.timers.pop();
      const s = this.sessions.get(next.id);
      if (s === undefined || s.wakeAt !== next.at) continue;
      s.wakeAt = undefined;
      if (this.fireTimers(s, now)) this.schedule(s);
    }
  }

  close(session: SessionId): void {
    const s = this.sessions.get(session);
    if (s === undefined) return;
    this.remove(s);
    this.events.push({ type: "closed", session, reason: "local" });
  }

  /** The caller moves the session to another path (e.g. a punched hole); emits nothing. */
  setAddress(session: SessionId, address: Address): void {
    const s = this.sessions.get(session);
    if (s !== undefined) s.address = { host: address.host, port: address.port };
  }

  /** `lastReceivedAt` is the session's creation time until something authenticated arrives. */
  sessionInfo(
    session: SessionId,
  ):
    | { address: Address; remoteKey: Uint8Array | undefined; established: boolean; lastReceivedAt: number }
    | undefined {
    const s = this.sessions.get(session);
    if (s === undefined) return undefined;
    return {
      address: { ...s.address },
      remoteKey: s.remoteKey && Uint8Array.from(s.remoteKey),
      established: s.phase === "established",
      lastReceivedAt: s.lastReceivedAt,
    };
  }

  // --- datagrams -------------------------------------------------------------------------------

  /** Handles one datagram; returns the drop code, or undefined if it was used. */
  private dispatch(bytes: Uint8Array, from: Address, now: number): ErrorCode | undefined {
    const decoded = decodeDatagram(bytes);
    if (!decoded.ok) return decoded.error.code;
    const d = decoded.value;
    switch (d.kind) {
      case "hs-init":
        return this.onHsInit(d.senderIndex, d.noise, bytes.length, from, now, d.cookie);
      case "cookie":
        return this.onCookie(d.receiverIndex, d.cookie, from);
      case "hs-resp":
        return this.onHsResp(d.senderIndex, d.receiverIndex, d.noise, from, now);
      case "hs-final":
        return this.onHsFinal(d.senderIndex, d.receiverIndex, d.noise, from, now);
      case "data":
        return this.onData(d.receiverIndex, d.packetNumber, d.header, d.sealed, from, now);
    }
  }

  private onHsInit(
    senderIndex: number,
    noise: Uint8Array,
    receivedBytes: number,
    from: Address,
    now: number,
    cookie?: Uint8Array,
  ): ErrorCode | undefined {
    // A peer that only initiates has no business receiving handshakes: an unwanted kind.
    if (!this.acceptIncoming) return "WIRE_BAD_KIND";
    const initKey = `${senderIndex}|${from.host}|${from.port}`;
    const existing = this.sessions.get(this.byInit.get(initKey) ?? 0);
    if (existing !== undefined) {
      // The initiator's retransmission: our msg2 was lost. Same answer, same bytes.
      // It was no larger than the first HS_INIT, and every HS_INIT has the same padded size.
      const cached = existing.cachedReply;
      if (existing.phase !== "responding" || cached === undefined) return "CRYPTO_REPLAY";
      this.transmit(existing.address, cached);
      return undefined;
    }
    if (this.cookies && cookie !== undefined && this.validCookie(cookie, from, now)) {
      // A cookie holder: proven to receive at its address; limited apart from the rest.
      if (!this.cookieHandshakes.take(from.host, now)) return "PROTO_RATE_LIMITED";
      if (!this.allCookieHandshakes.take("*", now)) return "PROTO_RATE_LIMITED";
      this.cookieStats.accepted += 1;
    } else if (!this.handshakeTokens.take(from.host, now)) {
      return this.cookies ? this.sendCookie(senderIndex, from, now) : "PROTO_RATE_LIMITED";
    } else if (this.cookies && (this.halfOpen >= this.busyHalfOpen || !this.freeHandshakes.take("*", now))) {
      return this.sendCookie(senderIndex, from, now);
    }
    if (this.sessions.size >= this.maxSessions) return "PROTO_RATE_LIMITED";

    const handshake = this.newHandshake(false);
    const msg1 = handshake.readMessage(noise);
    if (!msg1.ok) return msg1.error.code;
    const payload = this.responderPayload?.(from) ?? EMPTY;
    if (payload.length > MAX_RESPONDER_PAYLOAD_BYTES) return "MSG_TOO_LARGE";
    const msg2 = handshake.writeMessage(withParams(this.aesGcm, payload));
    if (!msg2.ok) return msg2.error.code;
    const id = this.allocateIndex();
    const reply = encodeHsReply("hs-resp", id, senderIndex, msg2.value);
    // Anti-amplification (RFC 9000 §8.1). With today's limits msg2 is at most 9 + 1024 bytes and
    // HS_INIT is padded to 1200, so this cannot trigger; it stays as the invariant's one guard.
    if (reply.length > receivedBytes) return "MSG_TOO_LARGE";
    const s: Session = {
      ...this.blankSession(id, false, from, now),
      phase: "responding",
      remoteIndex: senderIndex,
      handshake,
      cachedReply: reply,
      initKey,
      handshakeDeadline: now + this.handshakeTimeoutMs,
    };
    this.sessions.set(id, s);
    this.byInit.set(initKey, id);
    this.halfOpen += 1;
    this.transmit(from, reply);
    this.schedule(s);
    return undefined;
  }

  // --- cookies ---------------------------------------------------------------------------------

  /** The cookie for `from` under `secret`: the first 16 bytes of HMAC-SHA256 over its address. */
  private cookieFor(secret: Uint8Array, from: Address): Uint8Array {
    const mac = createHmac("sha256", secret).update(`${from.host}|${from.port}`).digest();
    return new Uint8Array(mac.buffer, mac.byteOffset, COOKIE_BYTES);
  }

  /** The secrets, rotated if `cookieRotateMs` has passed (lazily: no timer of its own). */
  private secrets(now: number): { current: Uint8Array; previous: Uint8Array | undefined } {
    const k = this.cookieSecret;
    if (k === undefined) {
      this.cookieSecret = { current: this.random(32), previous: undefined, since: now };
    } else if (now - k.since >= 2 * this.cookieRotateMs) {
      this.cookieSecret = { current: this.random(32), previous: undefined, since: now };
    } else if (now - k.since >= this.cookieRotateMs) {
      this.cookieSecret = { current: this.random(32), previous: k.current, since: now };
    }
    return this.cookieSecret as { current: Uint8Array; previous: Uint8Array | undefined };
  }

  private validCookie(cookie: Uint8Array, from: Address, now: number): boolean {
    const { current, previous } = this.secrets(now);
    if (timingSafeEqual(cookie, this.cookieFor(current, from))) return true;
    return previous !== undefined && timingSafeEqual(cookie, this.cookieFor(previous, from));
  }

  /** Busy: the stateless answer. Counted as a drop of the HS_INIT (no handshake began). */
  private sendCookie(senderIndex: number, from: Address, now: number): ErrorCode {
    this.transmit(from, encodeCookieReply(senderIndex, this.cookieFor(this.secrets(now).current, from)));
    this.cookieStats.sent += 1;
    return "PROTO_RATE_LIMITED";
  }

  /** Initiator: the responder is busy and wants msg1 again with this cookie. */
  private onCookie(receiverIndex: number, cookie: Uint8Array, from: Address): ErrorCode | undefined {
    const s = this.sessions.get(receiverIndex);
    if (s === undefined || !s.initiator) return "WIRE_UNKNOWN_SESSION";
    if (s.phase !== "initiating" || s.msg1 === undefined || s.retransmit === undefined)
      return "CRYPTO_REPLAY";
    if (!sameAddress(s.address, from)) return "WIRE_UNKNOWN_SESSION";
    this.cookieStats.received += 1;
    if (s.cookie !== undefined && sameBytes(s.cookie, cookie)) return undefined;
    s.cookie = Uint8Array.from(cookie);
    s.retransmit.datagram = encodeHsInit(s.id, s.msg1, s.cookie);
    // Once at once; later cookies only ride the scheduled retransmissions (a forged stream of
    // COOKIEs must not make us send a 1200-byte HS_INIT for each).
    if (!s.cookieResent) {
      s.cookieResent = true;
      this.transmit(s.address, s.retransmit.datagram);
    }
    return undefined;
  }

  private onHsResp(
    senderIndex: number,
    receiverIndex: number,
    noise: Uint8Array,
    from: Address,
    now: number,
  ): ErrorCode | undefined {
    const s = this.sessions.get(receiverIndex);
    if (s === undefined) return "WIRE_UNKNOWN_SESSION";
    if (!s.initiator) return "CRYPTO_HANDSHAKE_FAILED";
    // A late copy of msg2 after we moved on; our msg3 retransmissions cover its loss.
    if (s.phase !== "initiating" || s.handshake === undefined) return "CRYPTO_REPLAY";
    const handshake = s.handshake;
    const msg2 = handshake.readMessage(noise);
    if (!msg2.ok) return msg2.error.code;
    const remoteKey = handshake.remoteStaticKey as Uint8Array;
    if (s.expectedRemoteKey !== undefined && !sameBytes(remoteKey, s.expectedRemoteKey)) {
      this.fail(
        s,
        "CRYPTO_UNEXPECTED_KEY",
        `the peer's key ${fingerprint(remoteKey)} is not the expected ${fingerprint(s.expectedRemoteKey)}`,
      );
      return undefined;
    }
    const msg3 = handshake.writeMessage(s.finalPayload);
    // "se" is DH(s, re), and re already passed "ee": a low-order key would have failed there.
    if (!msg3.ok) throw new HallwayError("INTERNAL", msg3.error.detail);
    const { send, receive } = handshake.split();
    const params = splitParams(msg2.value);
    const cipher = this.transportCipher(params.aesGcm, send, receive);
    s.phase = "established";
    s.handshake = undefined;
    s.msg1 = undefined;
    s.cookie = undefined;
    s.send = send;
    s.receive = receive;
    s.remoteIndex = senderIndex;
    s.remoteKey = remoteKey;
    s.address = from;
    s.lastReceivedAt = now;
    const datagram = encodeHsReply("hs-final", s.id, senderIndex, msg3.value);
    s.retransmit = { datagram, at: now + this.handshakeRetransmitMs, intervalMs: this.handshakeRetransmitMs };
    s.handshakeDeadline = now + this.handshakeTimeoutMs;
    this.events.push({
      type: "established",
      session: s.id,
      remoteKey: Uint8Array.from(remoteKey),
      remotePayload: params.rest,
      address: { ...from },
      initiator: true,
      cipher,
    });
    this.transmit(s.address, datagram);
    this.schedule(s);
    return undefined;
  }

  private onHsFinal(
    senderIndex: number,
    receiverIndex: number,
    noise: Uint8Array,
    from: Address,
    now: number,
  ): ErrorCode | undefined {
    const s = this.sessions.get(receiverIndex);
    if (s === undefined) return "WIRE_UNKNOWN_SESSION";
    if (s.initiator || s.remoteIndex !== senderIndex) return "CRYPTO_HANDSHAKE_FAILED";
    if (s.phase === "established") {
      // The initiator resends msg3 until it hears from us: our confirmation was lost.
      if (s.finalNoise === undefined || !sameBytes(noise, s.finalNoise)) return "CRYPTO_HANDSHAKE_FAILED";
      this.sendData(s, []);
      return undefined;
    }
    const handshake = s.handshake as HandshakeState;
    const msg3 = handshake.readMessage(noise);
    if (!msg3.ok) return msg3.error.code;
    const { send, receive } = handshake.split();
    const params = splitParams(msg3.value);
    const cipher = this.transportCipher(params.aesGcm, send, receive);
    this.halfOpen -= 1;
    s.phase = "established";
    s.handshake = undefined;
    s.send = send;
    s.receive = receive;
    s.remoteKey = handshake.remoteStaticKey;
    s.finalNoise = Uint8Array.from(noise);
    s.cachedReply = undefined;
    s.handshakeDeadline = undefined;
    s.confirmed = true;
    s.address = from;
    s.lastReceivedAt = now;
    this.events.push({
      type: "established",
      session: s.id,
      remoteKey: Uint8Array.from(s.remoteKey as Uint8Array),
      remotePayload: params.rest,
      address: { ...from },
      initiator: false,
      cipher,
    });
    this.sendData(s, []);
    this.schedule(s);
    return undefined;
  }

  private onData(
    receiverIndex: number,
    packetNumber: number,
    header: Uint8Array,
    sealed: Uint8Array,
    from: Address,
    now: number,
  ): ErrorCode | undefined {
    const s = this.sessions.get(receiverIndex);
    if (s === undefined) return "WIRE_UNKNOWN_SESSION";
    // No keys yet (e.g. DATA overtook a lost msg3): nothing can authenticate it.
    if (s.receive === undefined) return "CRYPTO_DECRYPT_FAILED";
    if (!s.replay.check(packetNumber)) return "CRYPTO_REPLAY";
    const newest = packetNumber > s.replay.highest;
    const payload = s.receive.openWithNonce(packetNumber, header, sealed);
    if (payload === undefined) return "CRYPTO_DECRYPT_FAILED";
    s.replay.accept(packetNumber);
    s.lastReceivedAt = now;
    if (!s.confirmed) {
      s.confirmed = true;
      s.retransmit = undefined;
      s.handshakeDeadline = undefined;
    }
    if (newest && !sameAddress(s.address, from) && this.mayRoamTo(from)) {
      s.address = from;
      this.events.push({ type: "address-changed", session: s.id, address: { ...from } });
    }
    if (payload.length > 0)
      this.events.push({ type: "data", session: s.id, payload, address: { ...s.address } });
    return undefined;
  }

  // --- timers ----------------------------------------------------------------------------------

  /** Runs the session's due timers; returns false if the session is gone. */
  private fireTimers(s: Session, now: number): boolean {
    if (s.handshakeDeadline !== undefined && now >= s.handshakeDeadline) {
      if (s.phase === "responding") {
        this.remove(s);
        this.drop("CRYPTO_HANDSHAKE_TIMEOUT");
      } else {
        this.fail(
          s,
          "CRYPTO_HANDSHAKE_TIMEOUT",
          s.phase === "initiating"
            ? `no handshake answer within ${this.handshakeTimeoutMs} ms`
            : `the peer did not confirm the session within ${this.handshakeTimeoutMs} ms`,
        );
      }
      return false;
    }
    if (s.phase === "established" && now >= s.lastReceivedAt + this.idleTimeoutMs) {
      this.remove(s);
      this.events.push({ type: "closed", session: s.id, reason: "idle" });
      return false;
    }
    const r = s.retransmit;
    if (r !== undefined && now >= r.at) {
      this.transmit(s.address, r.datagram);
      r.intervalMs *= 2;
      r.at = now + r.intervalMs;
    }
    return true;
  }

  /** Arms the session's wake-up if it is now earlier than the one in the heap (lazy refresh). */
  private schedule(s: Session): void {
    let at = s.handshakeDeadline ?? Number.POSITIVE_INFINITY;
    if (s.retransmit !== undefined) at = Math.min(at, s.retransmit.at);
    if (s.phase === "established") at = Math.min(at, s.lastReceivedAt + this.idleTimeoutMs);
    if (at === Number.POSITIVE_INFINITY) return;
    if (s.wakeAt !== undefined && s.wakeAt <= at) return;
    s.wakeAt = at;
    this.timers.push(at, s.id);
  }

  // --- helpers ---------------------------------------------------------------------------------

  private newHandshake(initiator: boolean): HandshakeState {
    return new HandshakeState({
      initiator,
      staticKeys: this.identity,
      prologue: this.prologue,
      random: this.random,
    });
  }

  private blankSession(id: SessionId, initiator: boolean, address: Address, now: number): Session {
    return {
      id,
      initiator,
      phase: "initiating",
      address,
      remoteIndex: undefined,
      handshake: undefined,
      send: undefined,
      receive: undefined,
      nextPacketNumber: 0,
      replay: new ReplayWindow(),
      remoteKey: undefined,
      expectedRemoteKey: undefined,
      finalPayload: EMPTY,
      retransmit: undefined,
      cachedReply: undefined,
      finalNoise: undefined,
      initKey: undefined,
      handshakeDeadline: undefined,
      confirmed: !initiator,
      lastReceivedAt: now,
      wakeAt: undefined,
    };
  }

  /** A random non-zero index not used by a live session (linear probing past collisions). */
  private allocateIndex(): SessionId {
    const b = this.random(4);
    let candidate = (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0;
    while (candidate === 0 || this.sessions.has(candidate)) candidate = (candidate + 1) >>> 0;
    return candidate;
  }

  /** AES-256-GCM when both sides offered it, else ChaChaPoly; applied to both transport states. */
  private transportCipher(
    peerOffersAesGcm: boolean,
    send: CipherState,
    receive: CipherState,
  ): TransportCipher {
    const cipher: TransportCipher = this.aesGcm && peerOffersAesGcm ? "aes-256-gcm" : "chacha20-poly1305";
    send.useCipher(cipher);
    receive.useCipher(cipher);
    return cipher;
  }

  private sendData(s: Session, payload: readonly Uint8Array[]): boolean {
    if (s.send === undefined || s.remoteIndex === undefined) return false;
    const packetNumber = s.nextPacketNumber;
    s.nextPacketNumber += 1;
    const header = encodeDataHeader(s.remoteIndex, packetNumber);
    this.transmitPieces(s.address, [header, ...s.send.sealPiecesWithNonce(packetNumber, header, payload)]);
    return true;
  }

  private transmit(to: Address, bytes: Uint8Array): void {
    this.transmitPieces(to, [bytes]);
  }

  private transmitPieces(to: Address, bytes: readonly Uint8Array[]): void {
    this.transmits.push({ to: { host: to.host, port: to.port }, bytes });
    this.stats.sent += 1;
    if (endpointDiagnostics.hasSubscribers) this.publish("sent", undefined, to);
  }

  private drop(code: ErrorCode, from?: Address): void {
    this.stats.dropped[code] = (this.stats.dropped[code] ?? 0) + 1;
    if (endpointDiagnostics.hasSubscribers) this.publish("dropped", code, from);
  }

  private publish(
    counter: EndpointDiagnostic["counter"],
    code: ErrorCode | undefined,
    address?: Address,
  ): void {
    const message: EndpointDiagnostic = { endpoint: this, counter, stats: this.stats };
    if (code !== undefined) message.code = code;
    if (address !== undefined) message.address = { host: address.host, port: address.port };
    endpointDiagnostics.publish(message);
  }

  private fail(s: Session, code: ErrorCode, message: string): void {
    this.remove(s);
    this.events.push({ type: "failed", session: s.id, code, message });
  }

  private remove(s: Session): void {
    if (s.phase === "responding" && this.sessions.has(s.id)) this.halfOpen -= 1;
    this.sessions.delete(s.id);
    if (s.initKey !== undefined) this.byInit.delete(s.initKey);
  }
}
