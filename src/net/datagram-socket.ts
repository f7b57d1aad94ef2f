/**
 * The socket port of `UdpHost`: what it needs of a UDP socket, and nothing more. The real one
 * is `udp-socket.ts` (node:dgram); a simulation gives `UdpHost` sockets on a virtual network
 * instead (test/sim/role-sim.ts), so the roles above it run unchanged, in virtual time.
 */

import type { Address } from "../protocol/address.js";

export interface DatagramSocket {
  /** Binds; rejects with PORT_IN_USE, or INTERNAL with a one-line reason. */
  bind(port: number, host?: string): Promise<Address>;
  /** Where the socket is bound. */
  address(): Address;
  /** Calls `handler` for every datagram that arrives (set once, after `bind`). */
  onDatagram(handler: (bytes: Uint8Array, from: Address) => void): void;
  /**
   * Sends one datagram (its parts gathered, if given as a list) now (synchronously), with the IP TTL lowered for this one if `ttl` is
   * given. A datagram that cannot go is a lost datagram: this never throws.
   */
  send(bytes: Uint8Array | readonly Uint8Array[], to: Address, ttl?: number): void;
  /** Asks for buffers of `bytes` each way; returns what was granted. */
  sizeBuffers(bytes: number): { receive: number; send: number };
  close(): Promise<void>;
}

export interface DatagramSockets {
  /** A new, unbound socket of this family (`udp6` sockets are IPv6 only). */
  open(family: "udp4" | "udp6"): DatagramSocket;
  /** Whether this machine has an IPv6 address worth a second socket. */
  hasIPv6(): boolean;
}
