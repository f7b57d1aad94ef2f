/**
 * Which host candidates the registry passes on (docs/security.md, "Reflection"). A client
 * names its own interface addresses at login; the registry hands them to whoever connects to
 * it, and that peer probes them. An address the client does not own would turn the peer into
 * a reflector, so the registry keeps only candidates it can tie to the client:
 *
 * - the address it observed (the session's source), any port;
 * - an address on the observed source's own LAN prefix (/24 for IPv4, /64 for IPv6): the
 *   client is not behind NAT and names another address of its subnet;
 * - a private-use address (RFC 1918, RFC 6598 shared space, IPv4 link-local, IPv6 unique
 *   local fc00::/7): reachable only inside a LAN, which is where a peer can use it;
 * - loopback only when the source itself is loopback (everyone on one machine).
 *
 * Anything else (a public address the registry never saw from this client, multicast,
 * unspecified, broadcast) is refused. What a peer may still be made to probe, on a LAN, is
 * capped in bytes per connect by the connect's own size (the probe budget, puncher.ts).
 */

import { isIPv4, isIPv6 } from "node:net";
import type { Address } from "../protocol/address.js";
import { ipv6ToBigInt } from "../traversal/candidates.js";

function ipv4(host: string): number | undefined {
  if (!isIPv4(host)) return undefined;
  return host.split(".").reduce((n, p) => n * 256 + Number(p), 0);
}

/** An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) as the IPv4 address it is. */
function unmapped(host: string): string {
  const lower = host.toLowerCase();
  return lower.startsWith("::ffff:") && isIPv4(lower.slice(7)) ? lower.slice(7) : lower;
}

const inV4 = (n: number, base: string, bits: number) => {
  const b = ipv4(base) as number;
  const size = 2 ** (32 - bits);
  return Math.floor(n / size) === Math.floor(b / size);
};

function inV6(n: bigint, base: string, bits: number): boolean {
  const b = ipv6ToBigInt(base) as bigint;
  const shift = BigInt(128 - bits);
  return n >> shift === b >> shift;
}

export type CandidateVerdict = "observed" | "same-prefix" | "private" | "loopback" | "refused";

/** Why `claimed` may be passed on for a client whose datagrams come from `observed`. */
export function judgeCandidate(claimed: Address, observed: Address): CandidateVerdict {
  const host = unmapped(claimed.host);
  const source = unmapped(observed.host);
  if (host === source) return "observed";
  const v4 = ipv4(host);
  if (v4 !== undefined) {
    if (inV4(v4, "127.0.0.0", 8))
      return ipv4(source) !== undefined && inV4(ipv4(source) as number, "127.0.0.0", 8)
        ? "loopback"
        : "refused";
    if (inV4(v4, "0.0.0.0", 8) || inV4(v4, "224.0.0.0", 3) || v4 === 0xffffffff) return "refused";
    const s4 = ipv4(source);
    if (s4 !== undefined && inV4(v4, source, 24) && !inV4(s4, "127.0.0.0", 8)) return "same-prefix";
    if (
      inV4(v4, "10.0.0.0", 8) ||
      inV4(v4, "172.16.0.0", 12) ||
      inV4(v4, "192.168.0.0", 16) ||
      inV4(v4, "100.64.0.0", 10) ||
      inV4(v4, "169.254.0.0", 16)
    ) {
      return "private";
    }
    return "refused";
  }
  if (!isIPv6(host)) return "refused";
  const v6 = ipv6ToBigInt(host);
  if (v6 === undefined) return "refused";
  if (v6 === 1n) return source === "::1" ? "loopback" : "refused";
  if (v6 === 0n || inV6(v6, "ff00::", 8) || inV6(v6, "fe80::", 10)) return "refused";
  const s6 = isIPv6(source) ? ipv6ToBigInt(source) : undefined;
  if (s6 !== undefined && s6 !== 1n && inV6(v6, source, 64)) return "same-prefix";
  if (inV6(v6, "fc00::", 7)) return "private";
  return "refused";
}

/** The claimed candidates the registry passes on, and the ones it refuses. */
export function screenCandidates(
  claimed: readonly Address[],
  observed: Address,
): { accepted: Address[]; refused: Address[] } {
  const accepted: Address[] = [];
  const refused: Address[] = [];
  for (const a of claimed) (judgeCandidate(a, observed) === "refused" ? refused : accepted).push(a);
  return { accepted, refused };
}
