/**
 * The LAN directory: who announces `_hallway-peer._udp` on our links (docs/discovery.md).
 * Sans-IO: fed with sightings and goodbyes from the mDNS adapter (`lan-mdns.ts`) and with
 * `now`; answers with what changed.
 *
 * An entry is one device: a user name with one key fingerprint, at one address. It lives
 * until its TTL runs out without being seen again, or until its goodbye. Invariants:
 *
 *   - at most `maxEntries` entries; a new one beyond that evicts the least recently seen;
 *   - what cannot be used is counted and dropped, never stored: a TXT record that does not
 *     decode (`malformed`), another protocol version (`otherVersion`), an address that is
 *     not private (RFC 1918) or not on the subnet of one of our interfaces (`foreign`);
 *   - our own announcement (our user and fingerprint) is not an entry;
 *   - a user announced by two devices with different fingerprints is `conflicting` on both,
 *     and `reachable(user)` gives neither: which is the real one is not the LAN's to say.
 */

import type { Address } from "../protocol/address.js";
import { type PeerPresence, parsePeerTxt } from "../protocol/mdns-txt.js";
import { type LocalInterface, onSubnet } from "../traversal/candidates.js";

/** What the mDNS adapter saw in one answer for one instance. */
export interface LanSighting {
  /** The instance's full name (`alice (ab12)._hallway-peer._udp.local`). */
  instance: string;
  /** The TXT record: raw strings (first key wins) or bonjour's decoded object. */
  txt: unknown;
  /** A and AAAA records of the SRV target, and the address the answer came from last. */
  addresses: readonly string[];
  referer?: string;
  port: number;
  /** The record's TTL in seconds (RFC 6762 §10: 120 for SRV/TXT). */
  ttlSeconds: number;
}

export interface LanPeer {
  user: string;
  fingerprint: string;
  address: Address;
  presence: PeerPresence;
  registry?: string;
  instance: string;
  lastSeenMs: number;
  expiresAtMs: number;
  /** Another device announces the same user with another key. */
  conflicting: boolean;
}

export type LanChange =
  | { kind: "up"; peer: LanPeer }
  | { kind: "changed"; peer: LanPeer }
  | { kind: "down"; peer: LanPeer; why: "goodbye" | "expired" | "evicted" };

export interface LanCounts {
  malformed: number;
  otherVersion: number;
  foreign: number;
  evicted: number;
}

export interface LanDirectoryOptions {
  me: { user: string; fingerprint: string };
  version: number;
  /** Our interfaces: an address must be on the subnet of one of them. */
  interfaces: () => readonly LocalInterface[];
  maxEntries?: number;
  /** Never keep an entry longer than this without seeing it again, whatever its TTL says. */
  maxTtlMs?: number;
}

export const MAX_LAN_ENTRIES = 1024;
const MAX_TTL_MS = 120_000;

/** RFC 1918 private IPv4 ranges: the only addresses a LAN peer may announce. */
export function isPrivateIPv4(host: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  if ([a, b, Number(m[3]), Number(m[4])].some((n) => n > 255)) return false;
  return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
}

export class LanDirectory {
  /** Keyed by user and fingerprint; a Map keeps insertion order, refreshed on each sighting (LRU). */
  private readonly entries = new Map<string, LanPeer>();
  private readonly changes: LanChange[] = [];
  readonly counts: LanCounts = { malformed: 0, otherVersion: 0, foreign: 0, evicted: 0 };
  private readonly maxEntries: number;
  private readonly maxTtlMs: number;

  constructor(private readonly opts: LanDirectoryOptions) {
    this.maxEntries = opts.maxEntries ?? MAX_LAN_ENTRIES;
    this.maxTtlMs = opts.maxTtlMs ?? MAX_TTL_MS;
  }

  /** One answer for one instance; false if it was dropped (and counted). */
  handleSighting(s: LanSighting, now: number): boolean {
    const decoded = parsePeerTxt(s.txt);
    if (!decoded.ok) {
      this.counts.malformed++;
      return false;
    }
    const txt = decoded.value;
    if (txt.version !== this.opts.version) {
      this.counts.otherVersion++;
      return false;
    }
    if (txt.user === this.opts.me.user && txt.fingerprint === this.opts.me.fingerprint) return false;
    const host = this.usableAddress(s);
    if (host === undefined || !Number.isInteger(s.port) || s.port < 1 || s.port > 65_535) {
      this.counts.foreign++;
      return false;
    }
    const key = `${txt.user}\n${txt.fingerprint}`;
    const old = this.entries.get(key);
    const ttlMs = Math.min(this.maxTtlMs, Math.max(1, s.ttlSeconds) * 1000);
    const peer: LanPeer = {
      user: txt.user,
      fingerprint: txt.fingerprint,
      address: { host, port: s.port },
      presence: txt.presence,
      ...(txt.registry === undefined ? {} : { registry: txt.registry }),
      instance: s.instance.toLowerCase(),
      lastSeenMs: now,
      expiresAtMs: now + ttlMs,
      conflicting: old?.conflicting ?? false,
    };
    this.entries.delete(key);
    this.entries.set(key, peer);
    if (!old) {
      while (this.entries.size > this.maxEntries) {
        const [oldestKey, oldest] = this.entries.entries().next().value as [string, LanPeer];
        this.entries.delete(oldestKey);
        this.counts.evicted++;
        this.changes.push({ kind: "down", peer: oldest, why: "evicted" });
        this.markConflicts(oldest.user);
      }
      this.changes.push({ kind: "up", peer });
    } else if (
      old.presence !== peer.presence ||
      old.address.host !== host ||
      old.address.port !== s.port ||
      old.registry !== peer.registry
    ) {
      this.changes.push({ kind: "changed", peer });
    }
    this.markConflicts(txt.user);
    return true;
  }

  /** A goodbye (TTL 0) for an instance. */
  handleGoodbye(instance: string): void {
    const name = instance.toLowerCase();
    for (const [key, peer] of this.entries) {
      if (peer.instance !== name) continue;
      this.entries.delete(key);
      this.changes.push({ kind: "down", peer, why: "goodbye" });
      this.markConflicts(peer.user);
    }
  }

  /** Drops what expired by `now`. */
  handleTimeout(now: number): void {
    for (const [key, peer] of this.entries) {
      if (peer.expiresAtMs > now) continue;
      this.entries.delete(key);
      this.changes.push({ kind: "down", peer, why: "expired" });
      this.markConflicts(peer.user);
    }
  }

  /** When the next entry expires, if any. */
  pollTimeout(): number | undefined {
    let next: number | undefined;
    for (const peer of this.entries.values()) {
      if (next === undefined || peer.expiresAtMs < next) next = peer.expiresAtMs;
    }
    return next;
  }

  pollChange(): LanChange | undefined {
    return this.changes.shift();
  }

  /** Every device that announces `user`. */
  devicesOf(user: string): LanPeer[] {
    return [...this.entries.values()].filter((p) => p.user === user);
  }

  /** The one device announcing `user`, unless there is none or they conflict. */
  reachable(user: string): LanPeer | undefined {
    const devices = this.devicesOf(user);
    return devices.length === 1 && !devices[0]?.conflicting ? devices[0] : undefined;
  }

  list(): LanPeer[] {
    return [...this.entries.values()].sort(
      (a, b) => a.user.localeCompare(b.user) || a.fingerprint.localeCompare(b.fingerprint),
    );
  }

  get size(): number {
    return this.entries.size;
  }

  /** The private address on one of our subnets that the sighting gives, the referer first. */
  private usableAddress(s: LanSighting): string | undefined {
    const ifaces = this.opts.interfaces();
    const ok = (host: string) => isPrivateIPv4(host) && ifaces.some((i) => onSubnet(host, i));
    const candidates = s.referer === undefined ? s.addresses : [s.referer, ...s.addresses];
    return candidates.find(ok);
  }

  private markConflicts(user: string): void {
    const devices = this.devicesOf(user);
    const conflicting = new Set(devices.map((d) => d.fingerprint)).size > 1;
    for (const d of devices) {
      if (d.conflicting === conflicting) continue;
      d.conflicting = conflicting;
      this.changes.push({ kind: "changed", peer: d });
    }
  }
}
