/**
 * The relay channels of one SessionHost. Each is a channel through a relay (the registry),
 * named by a token, behind an address of its own (`{host: "relay", port: n}`) that sessions
 * connect to, move to and receive from like any other; session-host.ts wraps and unwraps the
 * envelopes. At most MAX_RELAY_CHANNELS, the least recently used forgotten first.
 */

import type { Address } from "../protocol/address.js";

/**
 * The host name of the addresses `openRelay` hands out. It is never resolved: datagrams to it
 * are wrapped in a relay envelope and sent to the relay's real address.
 */
export const RELAY_HOST = "relay";

/** Relay channels a peer keeps open at most; the least recently used goes first. */
const MAX_RELAY_CHANNELS = 64;

export function isRelayAddress(a: Address): boolean {
  return a.host === RELAY_HOST;
}

export interface RelayChannel {
  via: Address;
  token: Uint8Array;
  address: Address;
}

export class RelayChannels {
  /** Relay channels by token (hex), in least-recently-used order. */
  private readonly relays = new Map<string, RelayChannel>();
  private readonly relayByPort = new Map<number, RelayChannel>();
  private nextRelayPort = 1;

  /**
   * Opens a relay channel through `via` (the registry) named by `token`, and returns the
   * address that stands for it. Opening a token again returns the same address.
   */
  open(via: Address, token: Uint8Array): Address {
    const key = Buffer.from(token).toString("hex");
    const known = this.relays.get(key);
    if (known) return known.address;
    const channel: RelayChannel = {
      via: { host: via.host, port: via.port },
      token: Uint8Array.from(token),
      address: { host: RELAY_HOST, port: this.nextRelayPort++ },
    };
    this.relays.set(key, channel);
    this.relayByPort.set(channel.address.port, channel);
    if (this.relays.size > MAX_RELAY_CHANNELS) {
      const oldest = this.relays.keys().next().value;
      if (oldest !== undefined) this.forget(oldest);
    }
    return channel.address;
  }

  /** The channel behind a relay address, unless it was forgotten. */
  byAddress(to: Address): RelayChannel | undefined {
    return this.relayByPort.get(to.port);
  }

  /**
   * The channel of an envelope with `token` from `from`, made the most recently used; undefined
   * if this host did not open it through `from` (then it is the relay role's).
   */
  claim(token: Uint8Array, from: Address): RelayChannel | undefined {
    const key = Buffer.from(token).toString("hex");
    const channel = this.relays.get(key);
    if (!channel || channel.via.host !== from.host || channel.via.port !== from.port) return undefined;
    this.relays.delete(key); // re-inserted as the most recently used
    this.relays.set(key, channel);
    return channel;
  }

  private forget(key: string): void {
    const channel = this.relays.get(key);
    if (!channel) return;
    this.relays.delete(key);
    this.relayByPort.delete(channel.address.port);
  }
}
