/**
 * Candidates: the addresses a peer may be reached at, and how a pair of them is classed.
 *
 * - host: an address of one of the peer's own interfaces: every non-internal IPv4 address,
 *   and every IPv6 address of global or unique-local scope (link-local ones need a zone
 *   the far side cannot know) when the peer has an IPv6 socket;
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

import { isIPv6 } from "node:net";
import type { Address } from "../protocol/address.js";

export type PathKind = "lan" | "direct" | "punched" | "relay";

export interface Candidate {
  type: "host" | "srflx";
  address: Address;
}

/** A remote address to probe, with the path it would give. */
export interface RemoteCandidate {
  address: Address;
  kind: Exclude<PathKind, "relay">;
  /**
   * The registry saw the peer's datagrams come from this address (its srflx candidate): not
   * subject to the probe budget toward unverified addresses (puncher.ts).
   */
  observed?: boolean;
}

/** One of our interfaces: its address and netmask (IPv4 or IPv6). */
export interface LocalInterface {
  address: string;
  netmask: string;
}

/** Whether `host` is a loopback address or name. */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** An IPv6 address a peer elsewhere can use: not link-local (fe80::/10), not loopback. */
function usableIPv6(address: string): boolean {
  const first = Number.parseInt(address.split(":")[0] || "0", 16);
  return (first & 0xffc0) !== 0xfe80 && address !== "::1" && address !== "::";
}

/** One address of an interface as the system lists it (`os.networkInterfaces()` has this shape). */
export interface SystemInterfaceAddress {
  address: string;
  netmask: string;
  family: string;
  internal: boolean;
}

/**
 * Our non-internal IPv4 interfaces, then our global and unique-local IPv6 ones, out of what the
 * system lists (`net/interfaces.ts` asks it; this stays a pure function).
 */
export function localInterfaces(
  ifaces: Readonly<Record<string, readonly SystemInterfaceAddress[] | undefined>>,
): LocalInterface[] {
  const v4: LocalInterface[] = [];
  const v6: LocalInterface[] = [];
  for (const list of Object.values(ifaces)) {
    for (const i of list ?? []) {
      if (i.internal) continue;
      if (i.family === "IPv4") v4.push({ address: i.address, netmask: i.netmask });
      else if (i.family === "IPv6" && usableIPv6(i.address))
        v6.push({ address: i.address, netmask: i.netmask });
    }
  }
  return [...v4, ...v6];
}

/**
 * Host candidates for a socket bound to `port` on every IPv4 interface, and to `port6` on
 * every IPv6 one (none without an IPv6 socket).
 */
export function hostCandidates(
  port: number,
  interfaces: readonly LocalInterface[],
  port6?: number,
): Candidate[] {
  const out: Candidate[] = [];
  for (const i of interfaces) {
    if (!isIPv6(i.address)) out.push({ type: "host", address: { host: i.address, port } });
    else if (port6 !== undefined) out.push({ type: "host", address: { host: i.address, port: port6 } });
  }
  return out;
}

/** An IPv6 address as a 128-bit integer, or undefined if it is not one. */
export function ipv6ToBigInt(ip: string): bigint | undefined {
  if (!isIPv6(ip) || ip.includes("%")) return undefined;
  let text = ip;
  // An embedded IPv4 tail (::ffff:10.0.0.1) becomes two hex groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const fill = tail === undefined ? 0 : 8 - left.length - right.length;
  const all = [...left, ...Array<string>(fill).fill("0"), ...right];
  if (all.length !== 8) return undefined;
  return all.reduce((n, g) => (n << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
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
  if (isIPv6(iface.address)) {
    const x = ipv6ToBigInt(ip);
    const y = ipv6ToBigInt(iface.address);
    const mask = ipv6ToBigInt(iface.netmask);
    return x !== undefined && y !== undefined && mask !== undefined && (x & mask) === (y & mask);
  }
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
 * The kind of path a session on `address` is, given the candidates of the attempt that
 * found it: the kind of the candidate it is; else, for an address only probing revealed,
 * "punched" on the host of a NAT the peer is behind (a symmetric NAT's fresh port), "lan"
 * on this machine or one of our subnets, and "punched" elsewhere. A peer whose registry is
 * on loopback offers no host candidates, only what the registry saw (127.0.0.1); answering
 * from its LAN address it is still on our LAN, and both sides then say so.
 */
export function pathKindOf(
  address: Address,
  known: readonly RemoteCandidate[],
  local: readonly LocalInterface[],
): Exclude<PathKind, "relay"> {
  const same = known.find((c) => key(c.address) === key(address));
  if (same) return same.kind;
  if (known.some((c) => c.kind === "punched" && c.address.host === address.host)) return "punched";
  return isLoopbackHost(address.host) || local.some((i) => onSubnet(address.host, i)) ? "lan" : "punched";
}

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
    const observed = remote.some((o) => o.type === "srflx" && key(o.address) === key(c.address));
    ranked.push(observed ? { address: c.address, kind, observed } : { address: c.address, kind });
  }
  // Stable: candidates of one kind keep the order the peer gave them in.
  return ranked.sort((x, y) => order[x.kind] - order[y.kind]);
}
