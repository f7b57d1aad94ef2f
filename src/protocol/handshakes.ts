/**
 * The handshake half of the Endpoint: Noise XX messages 1–3 in datagrams (HS_INIT, HS_RESP,
 * HS_FINAL) and the COOKIE answer, each moving a session of the table through the phases that
 * endpoint.ts's theory of operation draws. Security-critical: the checks here keep the
 * anti-amplification and no-state-for-unauthenticated-datagrams invariants.
 */

import { type ErrorCode, HallwayError } from "../errors.js";
import type { Address } from "./address.js";
import { encodeHsInit, encodeHsReply } from "./datagram.js";
import { MAX_RESPONDER_PAYLOAD_BYTES } from "./endpoint-options.js";
import type { CookieGuard } from "./handshake-cookies.js";
import { fingerprint, type HandshakeState } from "./noise.js";
import {
  EMPTY,
  type Session,
  type SessionTable,
  sameAddress,
  sameBytes,
  splitParams,
  withParams,
} from "./session-table.js";

export class Handshakes {
  constructor(
    private readonly table: SessionTable,
    private readonly cookies: CookieGuard,
    private readonly acceptIncoming: boolean,
    private readonly responderPayload: ((from: Address) => Uint8Array) | undefined,
  ) {}

  onHsInit(
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
    const existing = this.table.sessions.get(this.table.byInit.get(initKey) ?? 0);
    if (existing !== undefined) {
      // The initiator's retransmission: our msg2 was lost. Same answer, same bytes.
      // It was no larger than the first HS_INIT, and every HS_INIT has the same padded size.
      const cached = existing.cachedReply;
      if (existing.phase !== "responding" || cached === undefined) return "CRYPTO_REPLAY";
      this.table.transmit(existing.address, cached);
      return undefined;
    }
    if (this.cookies.enabled && cookie !== undefined && this.cookies.validCookie(cookie, from, now)) {
      // A cookie holder: proven to receive at its address; limited apart from the rest.
      if (!this.cookies.cookieHandshakes.take(from.host, now)) return "PROTO_RATE_LIMITED";
      if (!this.cookies.allCookieHandshakes.take("*", now)) return "PROTO_RATE_LIMITED";
      this.cookies.stats.accepted += 1;
    } else if (!this.cookies.handshakeTokens.take(from.host, now)) {
      return this.cookies.enabled ? this.cookies.sendCookie(senderIndex, from, now) : "PROTO_RATE_LIMITED";
    } else if (
      this.cookies.enabled &&
      (this.table.halfOpen >= this.cookies.busyHalfOpen || !this.cookies.freeHandshakes.take("*", now))
    ) {
      return this.cookies.sendCookie(senderIndex, from, now);
    }
    if (this.table.sessions.size >= this.table.maxSessions) return "PROTO_RATE_LIMITED";

    const handshake = this.table.newHandshake(false);
    const msg1 = handshake.readMessage(noise);
    if (!msg1.ok) return msg1.error.code;
    const payload = this.responderPayload?.(from) ?? EMPTY;
    if (payload.length > MAX_RESPONDER_PAYLOAD_BYTES) return "MSG_TOO_LARGE";
    const msg2 = handshake.writeMessage(withParams(this.table.aesGcm, payload));
    if (!msg2.ok) return msg2.error.code;
    const id = this.table.allocateIndex();
    const reply = encodeHsReply("hs-resp", id, senderIndex, msg2.value);
    // Anti-amplification (RFC 9000 §8.1). With today's limits msg2 is at most 9 + 1024 bytes and
    // HS_INIT is padded to 1200, so this cannot trigger; it stays as the invariant's one guard.
    if (reply.length > receivedBytes) return "MSG_TOO_LARGE";
    const s: Session = {
      ...this.table.blankSession(id, false, from, now),
      phase: "responding",
      remoteIndex: senderIndex,
      handshake,
      cachedReply: reply,
      initKey,
      handshakeDeadline: now + this.table.handshakeTimeoutMs,
    };
    this.table.sessions.set(id, s);
    this.table.byInit.set(initKey, id);
    this.table.halfOpen += 1;
    this.table.transmit(from, reply);
    this.table.schedule(s);
    return undefined;
  }

  /** Initiator: the responder is busy and wants msg1 again with this cookie. */
  onCookie(receiverIndex: number, cookie: Uint8Array, from: Address): ErrorCode | undefined {
    const s = this.table.sessions.get(receiverIndex);
    if (s === undefined || !s.initiator) return "WIRE_UNKNOWN_SESSION";
    if (s.phase !== "initiating" || s.msg1 === undefined || s.retransmit === undefined)
      return "CRYPTO_REPLAY";
    if (!sameAddress(s.address, from)) return "WIRE_UNKNOWN_SESSION";
    this.cookies.stats.received += 1;
    if (s.cookie !== undefined && sameBytes(s.cookie, cookie)) return undefined;
    s.cookie = Uint8Array.from(cookie);
    s.retransmit.datagram = encodeHsInit(s.id, s.msg1, s.cookie);
    // Once at once; later cookies only ride the scheduled retransmissions (a forged stream of
    // COOKIEs must not make us send a 1200-byte HS_INIT for each).
    if (!s.cookieResent) {
      s.cookieResent = true;
      this.table.transmit(s.address, s.retransmit.datagram);
    }
    return undefined;
  }

  onHsResp(
    senderIndex: number,
    receiverIndex: number,
    noise: Uint8Array,
    from: Address,
    now: number,
  ): ErrorCode | undefined {
    const s = this.table.sessions.get(receiverIndex);
    if (s === undefined) return "WIRE_UNKNOWN_SESSION";
    if (!s.initiator) return "CRYPTO_HANDSHAKE_FAILED";
    // A late copy of msg2 after we moved on; our msg3 retransmissions cover its loss.
    if (s.phase !== "initiating" || s.handshake === undefined) return "CRYPTO_REPLAY";
    const handshake = s.handshake;
    const msg2 = handshake.readMessage(noise);
    if (!msg2.ok) return msg2.error.code;
    const remoteKey = handshake.remoteStaticKey as Uint8Array;
    if (s.expectedRemoteKey !== undefined && !sameBytes(remoteKey, s.expectedRemoteKey)) {
      this.table.fail(
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
    const cipher = this.table.transportCipher(params.aesGcm, send, receive);
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
    s.retransmit = {
      datagram,
      at: now + this.table.handshakeRetransmitMs,
      intervalMs: this.table.handshakeRetransmitMs,
    };
    s.handshakeDeadline = now + this.table.handshakeTimeoutMs;
    this.table.events.push({
      type: "established",
      session: s.id,
      remoteKey: Uint8Array.from(remoteKey),
      remotePayload: params.rest,
      address: { ...from },
      initiator: true,
      cipher,
    });
    this.table.transmit(s.address, datagram);
    this.table.schedule(s);
    return undefined;
  }

  onHsFinal(
    senderIndex: number,
    receiverIndex: number,
    noise: Uint8Array,
    from: Address,
    now: number,
  ): ErrorCode | undefined {
    const s = this.table.sessions.get(receiverIndex);
    if (s === undefined) return "WIRE_UNKNOWN_SESSION";
    if (s.initiator || s.remoteIndex !== senderIndex) return "CRYPTO_HANDSHAKE_FAILED";
    if (s.phase === "established") {
      // The initiator resends msg3 until it hears from us: our confirmation was lost.
      if (s.finalNoise === undefined || !sameBytes(noise, s.finalNoise)) return "CRYPTO_HANDSHAKE_FAILED";
      this.table.sendData(s, []);
      return undefined;
    }
    const handshake = s.handshake as HandshakeState;
    const msg3 = handshake.readMessage(noise);
    if (!msg3.ok) return msg3.error.code;
    const { send, receive } = handshake.split();
    const params = splitParams(msg3.value);
    const cipher = this.table.transportCipher(params.aesGcm, send, receive);
    this.table.halfOpen -= 1;
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
    this.table.events.push({
      type: "established",
      session: s.id,
      remoteKey: Uint8Array.from(s.remoteKey as Uint8Array),
      remotePayload: params.rest,
      address: { ...from },
      initiator: false,
      cipher,
    });
    this.table.sendData(s, []);
    this.table.schedule(s);
    return undefined;
  }
}
