/**
 * LAN discovery for one peer (docs/discovery.md): the mDNS adapter (`lan-mdns.ts`) feeding
 * the sans-IO `LanDirectory`, with the one timer that expires its entries. The client asks
 * it who is on the LAN and tells it our presence and registry; it tells the client what
 * changed. Its clock (monotonic: the directory's times are only compared with each other)
 * and timers are the runtime's.
 */

import { systemInterfaces } from "../net/interfaces.js";
import type { Address } from "../protocol/address.js";
import { PROTOCOL_VERSION } from "../protocol/datagram.js";
import {
  encodePeerTxt,
  type PeerPresence,
  parseRegistryTxt,
  peerInstanceName,
} from "../protocol/mdns-txt.js";
import type { Runtime, Timer } from "../runtime.js";
import { isPrivateIPv4, type LanChange, LanDirectory, type LanPeer } from "./lan-directory.js";
import { type LanMdns, startLanMdns } from "./lan-mdns.js";

export interface LanDiscoveryOptions {
  user: string;
  fingerprint: string;
  /** Announce ourselves (`--no-announce`: browse only). */
  announce: boolean;
  runtime: Runtime;
  onChange: (change: LanChange) => void;
  /** A registry of our protocol version announced itself on the LAN, at this address. */
  onRegistry?: (address: Address) => void;
  maxEntries?: number;
}

/** Our private IPv4 addresses (RFC 1918): the only ones announced. */
export function privateAddresses(): string[] {
  return systemInterfaces()
    .map((i) => i.address)
    .filter(isPrivateIPv4);
}

export class LanDiscovery {
  readonly directory: LanDirectory;
  private mdns: LanMdns | undefined;
  private expiryTimer: Timer | undefined;
  private presence: PeerPresence = "online";
  private registry: string | undefined;
  private stopped = false;
  private lastQueryAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: LanDiscoveryOptions) {
    this.directory = new LanDirectory({
      me: { user: opts.user, fingerprint: opts.fingerprint },
      version: PROTOCOL_VERSION,
      interfaces: () => systemInterfaces(),
      ...(opts.maxEntries === undefined ? {} : { maxEntries: opts.maxEntries }),
    });
  }

  /** Starts browsing (and announcing) for a peer listening on `port`. */
  start(port: number): void {
    if (this.mdns || this.stopped) return;
    this.mdns = startLanMdns({
      port,
      instance: peerInstanceName(this.opts.user, this.opts.fingerprint),
      fingerprint: this.opts.fingerprint,
      txt: this.txt(),
      addresses: privateAddresses,
      announce: this.opts.announce,
      runtime: this.opts.runtime,
      onSighting: (s) => {
        this.directory.handleSighting(s, this.opts.runtime.now());
        this.drain();
      },
      onRegistry: (r) => {
        const decoded = parseRegistryTxt(r.txt);
        const host = [r.referer, ...r.addresses].find((h) => h !== undefined && isPrivateIPv4(h));
        if (!decoded.ok || decoded.value.version !== PROTOCOL_VERSION || host === undefined) return;
        this.opts.onRegistry?.({ host, port: r.port });
      },
      onGoodbye: (instance) => {
        this.directory.handleGoodbye(instance);
        this.drain();
      },
    });
  }

  /** Whether we announce at all: asked to, and a private address to announce. */
  get announcing(): boolean {
    return this.opts.announce && privateAddresses().length > 0;
  }

  setPresence(presence: PeerPresence): void {
    if (presence === this.presence) return;
    this.presence = presence;
    this.mdns?.update(this.txt());
  }

  setRegistry(fingerprint: string | undefined): void {
    if (fingerprint === this.registry) return;
    this.registry = fingerprint;
    this.mdns?.update(this.txt());
  }

  /** Ask the LAN who is there, now (at most once a second). */
  requery(): void {
    const now = this.opts.runtime.now();
    if (now - this.lastQueryAt < 1000) return;
    this.lastQueryAt = now;
    this.mdns?.requery();
  }

  list(): LanPeer[] {
    return this.directory.list();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.expiryTimer?.cancel();
    await this.mdns?.stop();
  }

  private txt() {
    return encodePeerTxt({
      version: PROTOCOL_VERSION,
      user: this.opts.user,
      fingerprint: this.opts.fingerprint,
      ...(this.registry === undefined ? {} : { registry: this.registry }),
      presence: this.presence,
    });
  }

  /** Hands the directory's changes over and sets the expiry timer to its next deadline. */
  private drain(): void {
    for (let c = this.directory.pollChange(); c; c = this.directory.pollChange()) this.opts.onChange(c);
    this.expiryTimer?.cancel();
    this.expiryTimer = undefined;
    const next = this.directory.pollTimeout();
    if (next === undefined || this.stopped) return;
    const runtime = this.opts.runtime;
    this.expiryTimer = runtime.after(
      Math.max(0, next - runtime.now()),
      () => {
        this.directory.handleTimeout(runtime.now());
        this.drain();
      },
      { weak: true },
    );
  }
}
