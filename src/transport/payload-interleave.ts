/**
 * The pack step's fairness between sessions (session-host.ts): one payload from each
 * connection in turn. Within a connection, connection.ts shares the payload between streams.
 */

import type { Connection } from "./connection.js";

/**
 * The due payloads of several sessions, one from each in turn until every one is drained:
 * transfers to different peers share the one socket by turns (a payload is at most one
 * datagram), instead of the first session emptying its queue before the next is asked.
 */
export function* interleavePayloads<K>(
  sessions: Iterable<readonly [K, Connection]>,
  now: number,
): Generator<[K, Uint8Array[]]> {
  let active = [...sessions];
  while (active.length > 0) {
    const still: Array<readonly [K, Connection]> = [];
    for (const entry of active) {
      const payload = entry[1].pollPayload(now);
      if (payload === undefined) continue;
      still.push(entry);
      yield [entry[0], payload];
    }
    active = still;
  }
}
