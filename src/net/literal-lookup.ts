/**
 * The `lookup` every UDP socket of this process gets: it answers an IP literal at once and
 * refuses anything else. Needs no socket.
 */

import { isIP } from "node:net";

/**
 * dgram resolves the destination of every send through `lookup`; the default (dns.lookup)
 * answers an IP literal on the next tick, which defers every send and costs a closure per
 * datagram. Every address here is an IP literal (names are never resolved, by design), so
 * this answers at once, and a send happens when it is called.
 */
export function literalLookup(
  hostname: string,
  _options: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const family = isIP(hostname);
  if (family === 0) {
    const err: NodeJS.ErrnoException = new Error(`not an IP address: ${hostname}`);
    err.code = "EINVAL";
    callback(err, "", 4);
    return;
  }
  callback(null, hostname, family);
}
