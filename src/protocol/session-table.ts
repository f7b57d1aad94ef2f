/**
 * The Endpoint's per-session state: each session's phase, keys, replay window and timers, the
 * table of live sessions and its wake-ups, and the outputs (datagrams, events, counters) that
 * every part of the Endpoint fills. Timers are plain data: a session's wake-up is the minimum of
 * its deadlines, kept in a heap and refreshed lazily (endpoint.ts, "Theory of operation").
 */

import type { ErrorCode } from "../errors.js";
import type { Address } from "./address.js";
import { encodeDataHeader } from "./datagram.js";
import { endpointDiagnostics } from "./diagnostics.js";
import type { Endpoint } from "./endpoint.js";
import {
  DEFAULT_HANDSHAKE_RETRANSMIT_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_PROLOGUE,
  type EndpointDiagnostic,
  type EndpointEvent,
  type EndpointOptions,
  type EndpointStats,
  positive,
  type SessionId,
} from "./endpoint-options.js";
import { Fifo } from "./fifo.js";
import { type CipherState, HandshakeState, type Identity, type TransportCipher } from "./noise.js";
import { ReplayWindow } from "./replay-window.js";
import { TimerHeap } from "./timer-heap.js";

/** Transport-parameters byte, bit 0: AES-256-GCM offered. */
const PARAM_AES_GCM = 1;

/** The caller's payload behind this Endpoint's transport-parameters byte. */
export function withParams(aesGcm: boolean, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + payload.length);
  out[0] = aesGcm ? PARAM_AES_GCM : 0;
  out.set(payload, 1);
  return out;
}

/** The peer's transport parameters and the caller's payload (an empty payload offers nothing). */
export function splitParams(payload: Uint8Array): { aesGcm: boolean; rest: Uint8Array } {
  if (payload.length === 0) return { aesGcm: false, rest: payload };
  return { aesGcm: ((payload[0] as number) & PARAM_AES_GCM) !== 0, rest: payload.subarray(1) };
}

export const EMPTY = new Uint8Array(0);

export type Phase = "initiating" | "responding" | "established";

export interface Session {
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

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export function sameAddress(a: Address, b: Address): boolean {
  return a.host === b.host && a.port === b.port;
}
/** The live sessions of one Endpoint, their timers, and what they have to say. */
export class SessionTable {
  readonly stats: EndpointStats = { dropped: {}, sent: 0, received: 0 };

  readonly identity: Identity;
  readonly random: (n: number) => Uint8Array;
  readonly prologue: Uint8Array;
  readonly handshakeTimeoutMs: number;
  readonly handshakeRetransmitMs: number;
  readonly idleTimeoutMs: number;
  readonly maxSessions: number;
  readonly aesGcm: boolean;

  readonly sessions = new Map<SessionId, Session>();
  /** `${senderIndex}|${host}|${port}` of an HS_INIT → the responder session it created. */
  readonly byInit = new Map<string, SessionId>();
  /** Responder sessions answered with message 2 and not yet established. */
  halfOpen = 0;
  readonly timers = new TimerHeap();
  readonly transmits = new Fifo<{ to: Address; bytes: readonly Uint8Array[] }>();
  readonly events = new Fifo<EndpointEvent>();

  constructor(
    opts: EndpointOptions,
    private readonly endpoint: Endpoint,
  ) {
    this.identity = opts.identity;
    this.random = opts.random;
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
    this.aesGcm = opts.aesGcm ?? false;
  }

  // --- timers ----------------------------------------------------------------------------------

  /** Runs the session's due timers; returns false if the session is gone. */
  fireTimers(s: Session, now: number): boolean {
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
  schedule(s: Session): void {
    let at = s.handshakeDeadline ?? Number.POSITIVE_INFINITY;
    if (s.retransmit !== undefined) at = Math.min(at, s.retransmit.at);
    if (s.phase === "established") at = Math.min(at, s.lastReceivedAt + this.idleTimeoutMs);
    if (at === Number.POSITIVE_INFINITY) return;
    if (s.wakeAt !== undefined && s.wakeAt <= at) return;
    s.wakeAt = at;
    this.timers.push(at, s.id);
  }

  // --- helpers ---------------------------------------------------------------------------------

  newHandshake(initiator: boolean): HandshakeState {
    return new HandshakeState({
      initiator,
      staticKeys: this.identity,
      prologue: this.prologue,
      random: this.random,
    });
  }

  blankSession(id: SessionId, initiator: boolean, address: Address, now: number): Session {
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
  allocateIndex(): SessionId {
    const b = this.random(4);
    let candidate = (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0;
    while (candidate === 0 || this.sessions.has(candidate)) candidate = (candidate + 1) >>> 0;
    return candidate;
  }

  /** AES-256-GCM when both sides offered it, else ChaChaPoly; applied to both transport states. */
  transportCipher(peerOffersAesGcm: boolean, send: CipherState, receive: CipherState): TransportCipher {
    const cipher: TransportCipher = this.aesGcm && peerOffersAesGcm ? "aes-256-gcm" : "chacha20-poly1305";
    send.useCipher(cipher);
    receive.useCipher(cipher);
    return cipher;
  }

  sendData(s: Session, payload: readonly Uint8Array[]): boolean {
    if (s.send === undefined || s.remoteIndex === undefined) return false;
    const packetNumber = s.nextPacketNumber;
    s.nextPacketNumber += 1;
    const header = encodeDataHeader(s.remoteIndex, packetNumber);
    this.transmitPieces(s.address, [header, ...s.send.sealPiecesWithNonce(packetNumber, header, payload)]);
    return true;
  }

  transmit(to: Address, bytes: Uint8Array): void {
    this.transmitPieces(to, [bytes]);
  }

  transmitPieces(to: Address, bytes: readonly Uint8Array[]): void {
    this.transmits.push({ to: { host: to.host, port: to.port }, bytes });
    this.stats.sent += 1;
    if (endpointDiagnostics.hasSubscribers) this.publish("sent", undefined, to);
  }

  drop(code: ErrorCode, from?: Address): void {
    this.stats.dropped[code] = (this.stats.dropped[code] ?? 0) + 1;
    if (endpointDiagnostics.hasSubscribers) this.publish("dropped", code, from);
  }

  publish(counter: EndpointDiagnostic["counter"], code: ErrorCode | undefined, address?: Address): void {
    const message: EndpointDiagnostic = { endpoint: this.endpoint, counter, stats: this.stats };
    if (code !== undefined) message.code = code;
    if (address !== undefined) message.address = { host: address.host, port: address.port };
    endpointDiagnostics.publish(message);
  }

  fail(s: Session, code: ErrorCode, message: string): void {
    this.remove(s);
    this.events.push({ type: "failed", session: s.id, code, message });
  }

  remove(s: Session): void {
    if (s.phase === "responding" && this.sessions.has(s.id)) this.halfOpen -= 1;
    this.sessions.delete(s.id);
    if (s.initKey !== undefined) this.byInit.delete(s.initKey);
  }
}
