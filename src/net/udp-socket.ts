/**
 * The real `DatagramSocket` (datagram-socket.ts): a node:dgram socket whose sends resolve
 * their destination at once (`literal-lookup.ts`), so a send happens when it is called and a
 * lowered TTL applies to that one datagram only.
 */

import dgram from "node:dgram";
import { isIPv6 } from "node:net";
import { HallwayError } from "../errors.js";
import type { Address } from "../protocol/address.js";
import type { DatagramSocket, DatagramSockets } from "./datagram-socket.js";
import { systemInterfaces } from "./interfaces.js";
import { literalLookup } from "./literal-lookup.js";

/** Linux's default IP TTL, restored after a low-TTL send. */
const DEFAULT_TTL = 64;

class UdpSocket implements DatagramSocket {
  private readonly socket: dgram.Socket;

  constructor(family: "udp4" | "udp6") {
    this.socket = dgram.createSocket(
      family === "udp6"
        ? { type: "udp6", ipv6Only: true, lookup: literalLookup }
        : { type: "udp4", lookup: literalLookup },
    );
  }

  async bind(port: number, host?: string): Promise<Address> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        if (err.code === "EADDRINUSE") {
          reject(new HallwayError("PORT_IN_USE", `UDP port ${port} is already in use`));
        } else {
          reject(new HallwayError("INTERNAL", `cannot bind UDP socket: ${err.message}`));
        }
      };
      this.socket.once("error", onError);
      this.socket.bind(port, host, () => {
        this.socket.off("error", onError);
        resolve();
      });
    });
    // After bind, socket errors (ICMP unreachable and the like) are not fatal for UDP.
    this.socket.on("error", () => {});
    return this.address();
  }

  address(): Address {
    const a = this.socket.address();
    return { host: a.address, port: a.port };
  }

  onDatagram(handler: (bytes: Uint8Array, from: Address) => void): void {
    this.socket.on("message", (msg, rinfo) =>
      handler(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), {
        host: rinfo.address,
        port: rinfo.port,
      }),
    );
  }

  send(bytes: Uint8Array | readonly Uint8Array[], to: Address, ttl?: number): void {
    try {
      if (ttl === undefined) {
        this.socket.send(bytes, to.port, to.host);
      } else {
        // The send is synchronous (literalLookup), so the TTL applies to this datagram only.
        this.socket.setTTL(ttl);
        this.socket.send(bytes, to.port, to.host);
        this.socket.setTTL(DEFAULT_TTL);
      }
    } catch {
      // A datagram that cannot go (a closed socket, a bad port) is a lost datagram.
    }
  }

  sizeBuffers(bytes: number): { receive: number; send: number } {
    try {
      this.socket.setRecvBufferSize(bytes);
      this.socket.setSendBufferSize(bytes);
    } catch {
      // The kernel refused the size: the defaults stay, and are reported as such.
    }
    return { receive: this.socket.getRecvBufferSize(), send: this.socket.getSendBufferSize() };
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

/** Real UDP sockets. */
export const udpSockets: DatagramSockets = {
  open: (family) => new UdpSocket(family),
  hasIPv6: () => systemInterfaces().some((i) => isIPv6(i.address)),
};
