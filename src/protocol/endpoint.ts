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

import { type ErrorCode, HallwayError } from "../errors.js";
import type { Address } from "./address.js";
import { decodeDatagram, encodeHsInit } from "./datagram.js";
import { endpointDiagnostics } from "./diagnostics.js";
import {
  type EndpointEvent,
  type EndpointOptions,
  type EndpointStats,
  MAX_INITIATOR_PAYLOAD_BYTES,
  type SessionId,
} from "./endpoint-options.js";
import { CookieGuard } from "./handshake-cookies.js";
import { Handshakes } from "./handshakes.js";
import { MAX_FRAMES_BYTES } from "./limits.js";
import { EMPTY, type Session, SessionTable, sameAddress, withParams } from "./session-table.js";

export {
  DEFAULT_BUSY_HALF_OPEN,
  DEFAULT_COOKIE_HANDSHAKES_PER_SECOND_PER_HOST,
  DEFAULT_COOKIE_ROTATE_MS,
  DEFAULT_FREE_HANDSHAKES_PER_SECOND,
  DEFAULT_HANDSHAKE_RETRANSMIT_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_HANDSHAKES_PER_SECOND_PER_HOST,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_HANDSHAKES_PER_SECOND,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_PROLOGUE,
  type EndpointDiagnostic,
  type EndpointEvent,
  type EndpointOptions,
  type EndpointStats,
  MAX_INITIATOR_PAYLOAD_BYTES,
  MAX_RESPONDER_PAYLOAD_BYTES,
  type SessionId,
} from "./endpoint-options.js";
export type { Identity } from "./noise.js";

/**
 * The composition: the public surface and the demultiplexer. A datagram goes to the session
 * its receiver index names (or, for HS_INIT, to the handshakes); the session table
 * (session-table.ts) holds the per-session state, timers and outputs, the handshakes
 * (handshakes.ts) move sessions through their phases, and the cookie guard
 * (handshake-cookies.ts) decides when the responder is busy.
 */
export class Endpoint {
  readonly stats: EndpointStats;
  /** COOKIE datagrams sent, received and acted on, and handshakes that came with a valid cookie. */
  readonly cookieStats: { sent: number; received: number; accepted: number };

  private readonly mayRoamTo: (address: Address) => boolean;
  private readonly table: SessionTable;
  private readonly handshakes: Handshakes;

  constructor(opts: EndpointOptions) {
    this.table = new SessionTable(opts, this);
    const cookies = new CookieGuard(opts, this.table);
    this.handshakes = new Handshakes(this.table, cookies, opts.acceptIncoming, opts.responderPayload);
    this.mayRoamTo = opts.mayRoamTo ?? (() => true);
    this.stats = this.table.stats;
    this.cookieStats = cookies.stats;
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
    const handshake = this.table.newHandshake(true);
    const msg1 = handshake.writeMessage(EMPTY);
    if (!msg1.ok) throw new HallwayError("INTERNAL", msg1.error.detail); // "e" alone cannot fail
    const id = this.table.allocateIndex();
    const datagram = encodeHsInit(id, msg1.value);
    const s: Session = {
      ...this.table.blankSession(id, true, { host: address.host, port: address.port }, now),
      phase: "initiating",
      handshake,
      msg1: msg1.value,
      expectedRemoteKey: opts.expectedRemoteKey && Uint8Array.from(opts.expectedRemoteKey),
      finalPayload: withParams(this.table.aesGcm, payload),
      retransmit: {
        datagram,
        at: now + this.table.handshakeRetransmitMs,
        intervalMs: this.table.handshakeRetransmitMs,
      },
      handshakeDeadline: now + this.table.handshakeTimeoutMs,
    };
    this.table.sessions.set(id, s);
    this.table.transmit(s.address, datagram);
    this.table.schedule(s);
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
    else this.table.drop(code, from);
    if (code === undefined && endpointDiagnostics.hasSubscribers)
      this.table.publish("received", undefined, from);
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
    const s = this.table.sessions.get(session);
    if (s === undefined || s.phase !== "established") return false;
    return this.table.sendData(s, pieces);
  }

  /** The next datagram to send, in pieces to be written as one (concatenated, they are the datagram). */
  pollTransmit(): { to: Address; bytes: readonly Uint8Array[] } | undefined {
    return this.table.transmits.shift();
  }

  pollEvent(): EndpointEvent | undefined {
    return this.table.events.shift();
  }

  /** The earliest wake-up wanted (same clock as `now`); possibly early, never late. */
  pollTimeout(): number | undefined {
    for (;;) {
      const next = this.table.timers.peek();
      if (next === undefined) return undefined;
      if (this.table.sessions.get(next.id)?.wakeAt === next.at) return next.at;
      this.table.timers.pop();
    }
  }

  handleTimeout(now: number): void {
    for (;;) {
      const next = this.table.timers.peek();
      if (next === undefined || next.at > now) return;
      this.table.timers.pop();
      const s = this.table.sessions.get(next.id);
      if (s === undefined || s.wakeAt !== next.at) continue;
      s.wakeAt = undefined;
      if (this.table.fireTimers(s, now)) this.table.schedule(s);
    }
  }

  close(session: SessionId): void {
    const s = this.table.sessions.get(session);
    if (s === undefined) return;
    this.table.remove(s);
    this.table.events.push({ type: "closed", session, reason: "local" });
  }

  /** The caller moves the session to another path (e.g. a punched hole); emits nothing. */
  setAddress(session: SessionId, address: Address): void {
    const s = this.table.sessions.get(session);
    if (s !== undefined) s.address = { host: address.host, port: address.port };
  }

  /** `lastReceivedAt` is the session's creation time until something authenticated arrives. */
  sessionInfo(
    session: SessionId,
  ):
    | { address: Address; remoteKey: Uint8Array | undefined; established: boolean; lastReceivedAt: number }
    | undefined {
    const s = this.table.sessions.get(session);
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
        return this.handshakes.onHsInit(d.senderIndex, d.noise, bytes.length, from, now, d.cookie);
      case "cookie":
        return this.handshakes.onCookie(d.receiverIndex, d.cookie, from);
      case "hs-resp":
        return this.handshakes.onHsResp(d.senderIndex, d.receiverIndex, d.noise, from, now);
      case "hs-final":
        return this.handshakes.onHsFinal(d.senderIndex, d.receiverIndex, d.noise, from, now);
      case "data":
        return this.onData(d.receiverIndex, d.packetNumber, d.header, d.sealed, from, now);
    }
  }

  private onData(
    receiverIndex: number,
    packetNumber: number,
    header: Uint8Array,
    sealed: Uint8Array,
    from: Address,
    now: number,
  ): ErrorCode | undefined {
    const s = this.table.sessions.get(receiverIndex);
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
      this.table.events.push({ type: "address-changed", session: s.id, address: { ...from } });
    }
    if (payload.length > 0)
      this.table.events.push({ type: "data", session: s.id, payload, address: { ...s.address } });
    return undefined;
  }
}
