import { describe, expect, it } from "vitest";
import {
  hostCandidates,
  ipv6ToBigInt,
  localInterfaces,
  onSubnet,
  pathKindOf,
  rankCandidates,
} from "../../../src/traversal/candidates.js";

type Ifaces = Parameters<typeof localInterfaces>[0];

const IFACES = {
  lo: [
    { address: "127.0.0.1", netmask: "255.0.0.0", family: "IPv4", internal: true },
    { address: "::1", netmask: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", family: "IPv6", internal: true },
  ],
  eth0: [
    { address: "192.168.1.20", netmask: "255.255.255.0", family: "IPv4", internal: false },
    { address: "fe80::1c2:3ff:fe04:506", netmask: "ffff:ffff:ffff:ffff::", family: "IPv6", internal: false },
    { address: "2001:db8:1:2::20", netmask: "ffff:ffff:ffff:ffff::", family: "IPv6", internal: false },
    { address: "fd12:3456:789a:1::20", netmask: "ffff:ffff:ffff:ffff::", family: "IPv6", internal: false },
  ],
} as unknown as Ifaces;

describe("candidates", () => {
  it("offer non-internal IPv4, and global or unique-local IPv6 (never link-local) on the IPv6 port", () => {
    const ifaces = localInterfaces(IFACES);
    expect(ifaces.map((i) => i.address)).toEqual([
      "192.168.1.20",
      "2001:db8:1:2::20",
      "fd12:3456:789a:1::20",
    ]);
    expect(hostCandidates(4000, ifaces, 4006).map((c) => c.address)).toEqual([
      { host: "192.168.1.20", port: 4000 },
      { host: "2001:db8:1:2::20", port: 4006 },
      { host: "fd12:3456:789a:1::20", port: 4006 },
    ]);
    // Without an IPv6 socket there is nothing to offer on IPv6.
    expect(hostCandidates(4000, ifaces).map((c) => c.address.host)).toEqual(["192.168.1.20"]);
  });

  it("parse IPv6 addresses, compressed or with an IPv4 tail, and refuse anything else", () => {
    expect(ipv6ToBigInt("::1")).toBe(1n);
    expect(ipv6ToBigInt("2001:db8::")).toBe(0x20010db8n << 96n);
    expect(ipv6ToBigInt("::ffff:10.0.0.1")).toBe((0xffffn << 32n) | 0x0a000001n);
    expect(ipv6ToBigInt("1:2:3:4:5:6:7:8")).toBe(0x00010002000300040005000600070008n);
    expect(ipv6ToBigInt("10.0.0.1")).toBeUndefined();
    expect(ipv6ToBigInt("fe80::1%eth0")).toBeUndefined();
    expect(ipv6ToBigInt("relay")).toBeUndefined();
  });

  it("class an IPv6 peer on our prefix as lan, and one elsewhere as direct", () => {
    const ifaces = localInterfaces(IFACES);
    const v6 = ifaces[1] as (typeof ifaces)[number];
    expect(onSubnet("2001:db8:1:2::99", v6)).toBe(true);
    expect(onSubnet("2001:db8:1:3::99", v6)).toBe(false);
    expect(onSubnet("192.168.1.99", v6)).toBe(false);
    const ranked = rankCandidates(
      [
        { type: "srflx", address: { host: "198.51.100.7", port: 5000 } },
        { type: "host", address: { host: "2001:db8:9:9::5", port: 5006 } },
        { type: "host", address: { host: "2001:db8:1:2::5", port: 5006 } },
      ],
      ifaces,
    );
    expect(ranked.map((c) => [c.address.host, c.kind])).toEqual([
      ["2001:db8:1:2::5", "lan"],
      ["2001:db8:9:9::5", "direct"],
      ["198.51.100.7", "punched"],
    ]);
  });

  it("class a path the candidates did not name: punched via the peer's NAT, lan on loopback or our subnet, else punched", () => {
    const ifaces = localInterfaces(IFACES);
    // alice hosts the registry here on 127.0.0.1: she offers no host candidates, and the
    // registry saw her as 127.0.0.1. Her datagrams come from her LAN address all the same.
    const fromAlice = rankCandidates([{ type: "srflx", address: { host: "127.0.0.1", port: 7744 } }], ifaces);
    expect(pathKindOf({ host: "192.168.1.30", port: 7744 }, fromAlice, ifaces)).toBe("lan");
    expect(pathKindOf({ host: "127.0.0.1", port: 7744 }, fromAlice, ifaces)).toBe("lan");
    expect(pathKindOf({ host: "127.0.0.1", port: 9999 }, [], ifaces)).toBe("lan");
    expect(pathKindOf({ host: "2001:db8:1:2::30", port: 7744 }, fromAlice, ifaces)).toBe("lan");
    // A NAT's fresh port elsewhere is what probing found: punched.
    expect(pathKindOf({ host: "198.51.100.7", port: 6001 }, fromAlice, ifaces)).toBe("punched");
    // So is a fresh port of the NAT the peer is behind, even with its outside on our subnet.
    const behindNat = rankCandidates(
      [
        { type: "host", address: { host: "10.1.1.5", port: 5000 } },
        { type: "srflx", address: { host: "192.168.1.1", port: 40000 } },
      ],
      ifaces,
    );
    expect(pathKindOf({ host: "192.168.1.1", port: 40001 }, behindNat, ifaces)).toBe("punched");
    // A named candidate keeps its kind (a srflx address off our subnet stays punched).
    const named = rankCandidates(
      [
        { type: "srflx", address: { host: "198.51.100.7", port: 5000 } },
        { type: "host", address: { host: "10.9.9.9", port: 5000 } },
      ],
      ifaces,
    );
    expect(pathKindOf({ host: "198.51.100.7", port: 5000 }, named, ifaces)).toBe("punched");
    expect(pathKindOf({ host: "10.9.9.9", port: 5000 }, named, ifaces)).toBe("direct");
  });
});
