/**
 * Answers STUN Binding requests that arrive on the registry's UDP port (see
 * src/protocol/stun.ts). Peers and any standard STUN client learn their server-reflexive
 * address from the registry this way; the session layer never sees these datagrams.
 */

import type { UdpHost } from "../net/udp-host.js";
import type { Address } from "../protocol/address.js";
import { looksLikeStun } from "../protocol/datagram.js";
import { HostRateLimiter } from "../protocol/host-rate-limiter.js";
import { answerStun } from "../protocol/stun.js";

export interface StunCounters {
  /** Binding requests answered (success or 420). */
  answered: number;
  /** STUN-looking datagrams that got no answer (malformed, wrong method or class). */
  dropped: number;
  /** Requests over a source host's budget, unanswered. */
  rateLimited: number;
  /** Requests smaller than their answer, unanswered: no source gets more bytes than it sent. */
  tooSmall: number;
}

/**
 * Answers per source host and second (burst as large). A peer asks a handful of times per
 * connection attempt; the cap keeps the port from being a reflector for forged sources.
 */
export const STUN_ANSWERS_PER_SECOND_PER_HOST = 20;

/** A `UdpHostHandlers.onForeignDatagram` that answers STUN and counts what it drops. */
export function stunResponder(
  host: UdpHost,
  counters: StunCounters,
): (bytes: Uint8Array, from: Address) => boolean {
  const tokens = new HostRateLimiter(STUN_ANSWERS_PER_SECOND_PER_HOST);
  return (bytes, from) => {
    if (!looksLikeStun(bytes)) return false;
    if (!tokens.take(from.host, host.now())) {
      counters.rateLimited++;
      return true;
    }
    const answer = answerStun(bytes, from);
    if (answer.ok && answer.value.length > bytes.length) {
      counters.tooSmall++;
    } else if (answer.ok) {
      host.sendRaw(answer.value, from);
      counters.answered++;
    } else {
      counters.dropped++;
    }
    return true;
  };
}
