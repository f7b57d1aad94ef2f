/**
 * The responder's guard against handshake floods: the per-host and global handshake buckets and
 * the stateless cookies (WireGuard's cookie reply, QUIC's Retry), as endpoint.ts's theory of
 * operation describes them. No state per source beyond the buckets, no DH, one HMAC per cookie.
 */

import { createHmac, timingSafeEqual } from "node:crypto";
import type { ErrorCode } from "../errors.js";
import type { Address } from "./address.js";
import { COOKIE_BYTES, encodeCookieReply } from "./datagram.js";
import {
  DEFAULT_BUSY_HALF_OPEN,
  DEFAULT_COOKIE_HANDSHAKES_PER_SECOND_PER_HOST,
  DEFAULT_COOKIE_ROTATE_MS,
  DEFAULT_FREE_HANDSHAKES_PER_SECOND,
  DEFAULT_HANDSHAKES_PER_SECOND_PER_HOST,
  DEFAULT_MAX_HANDSHAKES_PER_SECOND,
  type EndpointOptions,
  positive,
} from "./endpoint-options.js";
import { HostRateLimiter } from "./host-rate-limiter.js";
import type { SessionTable } from "./session-table.js";

export class CookieGuard {
  readonly handshakeTokens: HostRateLimiter;
  /** Answer HS_INIT with a COOKIE when busy. */
  readonly enabled: boolean;
  readonly freeHandshakes: HostRateLimiter;
  readonly cookieHandshakes: HostRateLimiter;
  readonly allCookieHandshakes: HostRateLimiter;
  private readonly cookieRotateMs: number;
  readonly busyHalfOpen: number;
  /** The cookie secret and the one before, rotated lazily from `now`. */
  private cookieSecret: { current: Uint8Array; previous: Uint8Array | undefined; since: number } | undefined;
  /** COOKIE datagrams sent, received and acted on, and handshakes that came with a valid cookie. */
  readonly stats = { sent: 0, received: 0, accepted: 0 };
  private readonly random: (n: number) => Uint8Array;

  constructor(
    opts: EndpointOptions,
    private readonly table: SessionTable,
  ) {
    this.random = opts.random;
    this.handshakeTokens = new HostRateLimiter(
      positive(
        "handshakesPerSecondPerHost",
        opts.handshakesPerSecondPerHost,
        DEFAULT_HANDSHAKES_PER_SECOND_PER_HOST,
      ),
    );
    this.enabled = opts.cookies ?? true;
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

  validCookie(cookie: Uint8Array, from: Address, now: number): boolean {
    const { current, previous } = this.secrets(now);
    if (timingSafeEqual(cookie, this.cookieFor(current, from))) return true;
    return previous !== undefined && timingSafeEqual(cookie, this.cookieFor(previous, from));
  }

  /** Busy: the stateless answer. Counted as a drop of the HS_INIT (no handshake began). */
  sendCookie(senderIndex: number, from: Address, now: number): ErrorCode {
    this.table.transmit(
      from,
      encodeCookieReply(senderIndex, this.cookieFor(this.secrets(now).current, from)),
    );
    this.stats.sent += 1;
    return "PROTO_RATE_LIMITED";
  }
}
