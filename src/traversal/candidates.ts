/**
 * Candidates: the addresses a peer may be reached at, and how a pair of them is classed.
 *
 * - host: an address of one of the peer's own interfaces (non-internal IPv4; the peer
 *   socket is IPv4, so IPv6 interfaces are not offered until it is dual-stack);
 * - srflx (server-reflexive): the address the registry saw the peer's datagrams come from,
 *   which is its NAT's mapping when it sits behind one.
 *
 * The path a pair gives is, in order of preference:
 *   lan      the remote host address is on the subnet of one of our interfaces (or the
 *            peer is on this machine: a loopback address);
 *   direct   a remote host address on another subnet (routed, no NAT on the way in);
 *   punched  the remote srflx address, reached through its NAT by hole punching;
 *   relay    nothing answered: the registry forwards (not a candidate; the fallback).
 */

import { networkInterfaces } from "node:os";
import type { Address } from "../protocol/endpoint.js";

export type PathKind = "lan" | "direct" | "punched" | "relay";

export interface Candidate {
  type: "host" | "srflx";
  address: Address;
}

/** A remote address to probe, with the path it would give. */
export interface RemoteCandidate {
  address: Address;
  kind: Exclude<PathKind, "relay">;
}

/** One of our interfaces: its IPv4 address and netmask. */
export interface LocalInterface {
  address: string;
  netmask: string;
}

/** Whether `host` is a loopback address or name. */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Our non-internal IPv4 interfaces. */
export function localInterfaces(ifaces = networkInterfaces()): LocalInterface[] {
  const out: LocalInterface[] = [];
  for (const list of Object.values(ifaces)) {
    for (const i of list ?? []) {
      if (i.family === "IPv4" && !i.internal) out.push({ address: i.address, netmask: i.netmask });
    }
  }
  return out;
}

/** Host candidates for a socket bound to `port` on every interface. */
export function hostCandidates(port: number, interfaces = localInterfaces()): Candidate[] {
  return interfaces.map((i) => ({ type: "host", address: { host: i.address, port } }));
}

function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

/** Whether `ip` is on the subnet of `iface`. */
export function onSubnet(ip: string, iface: LocalInterface): boolean {
  const a = ipv4ToInt(ip);
  const b = ipv4ToInt(iface.address);
  const m = ipv4ToInt(iface.netmask);
  if (a === undefined || b === undefined || m === undefined) return false;
  // Unsigned 32-bit AND without sign trouble: split into 16-bit halves.
  const and = (x: number, y: number) =>
    ((Math.floor(x / 65536) & Math.floor(y / 65536)) * 65536 + (x & 0xffff & (y & 0xffff))) >>> 0;
  return and(a, m) === and(b, m);
}

const key = (a: Address) => `${a.host}:${a.port}`;

/**
 * The remote candidates worth probing, best path first, each address once. A srflx address
 * equal to one of the peer's host addresses means no NAT on its side: that is a host path.
 */
export function rankCandidates(
  remote: readonly Candidate[],
  local: readonly LocalInterface[],
): RemoteCandidate[] {
  const seen = new Set<string>();
  const ranked: RemoteCandidate[] = [];
  const order: Record<RemoteCandidate["kind"], number> = { lan: 0, direct: 1, punched: 2 };
  for (const c of remote) {
    if (seen.has(key(c.address))) continue;
    seen.add(key(c.address));
    const isHost =
      c.type === "host" || remote.some((o) => o.type === "host" && key(o.address) === key(c.address));
    const kind: RemoteCandidate["kind"] =
      isLoopbackHost(c.address.host) || (isHost && local.some((i) => onSubnet(c.address.host, i)))
        ? "lan" // this machine, or our subnet
        : isHost
          ? "direct"
          : "punched";
    ranked.push({ address: c.address, kind });
  }
  // Stable: candidates of one kind keep the order the peer gave them in.
  return ranked.sort((x, y) => order[x.kind] - order[y.kind]);
}
