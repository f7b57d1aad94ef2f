/**
 * The MTU of the link a peer is on, as a hint for the cost model of large datagrams
 * (`transport/path-mtu.ts` counts how many IP fragments a datagram makes). Only a hint: path-MTU
 * discovery decides what the path carries; this only tells a loopback (65,536 bytes: a 64 KiB
 * datagram is one packet) and a jumbo-frame LAN from the 1,500-byte Ethernet that is assumed
 * elsewhere. Read once per address from the interface whose subnet holds it
 * (/sys/class/net/IFACE/mtu on Linux); a routed peer gets the default.
 */

import { readFileSync } from "node:fs";
import { isIPv4 } from "node:net";
import { networkInterfaces } from "node:os";

export const DEFAULT_LINK_MTU_BYTES = 1500;
const LOOPBACK_MTU_BYTES = 65_536;

function ipv4ToNumber(a: string): number {
  return a.split(".").reduce((n, part) => n * 256 + Number(part), 0);
}

function interfaceMtu(name: string): number | undefined {
  try {
    const mtu = Number(readFileSync(`/sys/class/net/${name}/mtu`, "utf8").trim());
    return Number.isInteger(mtu) && mtu >= 576 ? mtu : undefined;
  } catch {
    return undefined;
  }
}

/** The MTU of the local link toward `host`, or DEFAULT_LINK_MTU_BYTES when it cannot tell. */
export function linkMtuFor(host: string): number {
  if (host === "::1" || host.startsWith("127.")) return interfaceMtu("lo") ?? LOOPBACK_MTU_BYTES;
  if (!isIPv4(host)) return DEFAULT_LINK_MTU_BYTES;
  const target = ipv4ToNumber(host);
  for (const [name, list] of Object.entries(networkInterfaces())) {
    for (const i of list ?? []) {
      if (i.family !== "IPv4" || i.internal) continue;
      const mask = ipv4ToNumber(i.netmask);
      if ((ipv4ToNumber(i.address) & mask) >>> 0 === (target & mask) >>> 0) {
        return interfaceMtu(name) ?? DEFAULT_LINK_MTU_BYTES;
      }
    }
  }
  return DEFAULT_LINK_MTU_BYTES;
}
