/**
 * The NAT lab: two peers, each behind its own router, and a registry, joined by an
 * "internet" router, all in network namespaces (see netns.ts for the naming and teardown
 * rules). Every link is a veth pair; nothing touches the host's interfaces.
 *
 *   peer a 10.203.11.2 ── nat a (lan 10.203.11.1 | wan 10.203.101.2) ──┐
 *                                                                      inet ── 10.203.100.2 registry
 *   peer b 10.203.12.2 ── nat b (lan 10.203.12.1 | wan 10.203.102.2) ──┘
 *
 * A peer's first-hop router does what its `NatKind` says:
 * - `none`: plain routing; the internet router knows the peer's subnet, so the peer's own
 *   address is reachable from anywhere (a public host, or a routed office subnet);
 * - `cone`: `MASQUERADE` (Linux keeps the source port when it is free, so one local socket
 *   gets the same public mapping towards every destination: endpoint-independent mapping,
 *   with conntrack's address-and-port-dependent filtering);
 * - `symmetric`: `MASQUERADE --random-fully`, a fresh random port per destination.
 *
 * The internet router sits between the two NATs, so a datagram with TTL 2 from a peer passes
 * its own NAT (opening the mapping there) and expires in transit before it reaches the other
 * NAT, where it would otherwise create a conntrack entry that steals the mapping.
 *
 * With `ipv6`, the peers also get routed IPv6 addresses without NAT, as IPv6 is deployed:
 * peer a fd03:11::2, peer b fd03:12::2, each router forwarding for its /64 (the registry
 * stays IPv4 only). Addresses are added with `nodad`, usable at once.
 */

import type { CliLab, JsonProc } from "./fixtures/lab-cli.js";
import type { NetLab } from "./netns.js";

export const NAT_KINDS = ["none", "cone", "symmetric"] as const;
export type NatKind = (typeof NAT_KINDS)[number];

/** Every unordered pair of NAT kinds, each once. */
export const NAT_PAIRS: ReadonlyArray<{ a: NatKind; b: NatKind }> = NAT_KINDS.flatMap((a, i) =>
  NAT_KINDS.slice(i).map((b) => ({ a, b })),
);

export interface NatLabHost {
  ns: string;
  /** The host's own address. */
  address: string;
}

export interface NatLabSide {
  /** `address6`: the peer's IPv6 address, with `ipv6`. */
  peer: NatLabHost & { address6?: string };
  router: NatLabHost & { kind: NatKind /** Its address on the internet side. */; wan: string };
}

export interface NatLab {
  registry: NatLabHost;
  internet: NatLabHost;
  a: NatLabSide;
  b: NatLabSide;
}

async function side(
  lab: NetLab,
  inet: string,
  name: "a" | "b",
  kind: NatKind,
  ipv6: boolean,
): Promise<NatLabSide> {
  const n = name === "a" ? 1 : 2;
  const lan = `10.203.1${n}`;
  const wan = `10.203.10${n}`;
  const router = await lab.namespace(`nat-${name}`);
  const peer = await lab.namespace(`peer-${name}`);
  await lab.link(
    { ns: inet, ifname: `to-${name}`, cidr: `${wan}.1/24` },
    { ns: router, ifname: "wan0", cidr: `${wan}.2/24` },
  );
  await lab.link(
    { ns: router, ifname: "lan0", cidr: `${lan}.1/24` },
    { ns: peer, ifname: "eth0", cidr: `${lan}.2/24` },
  );
  await lab.sysctl(router, "net.ipv4.ip_forward", "1");
  await lab.ip(router, "route", "add", "default", "via", `${wan}.1`);
  await lab.ip(peer, "route", "add", "default", "via", `${lan}.1`);
  if (kind === "none") {
    await lab.ip(inet, "route", "add", `${lan}.0/24`, "via", `${wan}.2`);
  } else {
    const masquerade = ["-t", "nat", "-A", "POSTROUTING", "-o", "wan0", "-j", "MASQUERADE"];
    if (kind === "symmetric") masquerade.push("--random-fully");
    const r = await lab.exec(router, ["iptables", ...masquerade]);
    if (r.code !== 0) throw new Error(`iptables in ${router}: ${r.stderr.trim()}`);
  }
  const address6 = ipv6 ? await routeIPv6(lab, inet, router, peer, n) : undefined;
  return {
    peer: { ns: peer, address: `${lan}.2`, ...(address6 === undefined ? {} : { address6 }) },
    router: { ns: router, address: `${lan}.1`, wan: `${wan}.2`, kind },
  };
}

/** Plain routed IPv6 for side `n`: fd03:1n::/64 on the LAN, fd03:10n::/64 towards inet. */
async function routeIPv6(
  lab: NetLab,
  inet: string,
  router: string,
  peer: string,
  n: number,
): Promise<string> {
  const add = (ns: string, cidr: string, dev: string) =>
    lab.ip(ns, "-6", "addr", "add", cidr, "dev", dev, "nodad");
  await add(inet, `fd03:10${n}::1/64`, `to-${n === 1 ? "a" : "b"}`);
  await add(router, `fd03:10${n}::2/64`, "wan0");
  await add(router, `fd03:1${n}::1/64`, "lan0");
  await add(peer, `fd03:1${n}::2/64`, "eth0");
  await lab.sysctl(router, "net.ipv6.conf.all.forwarding", "1");
  await lab.sysctl(inet, "net.ipv6.conf.all.forwarding", "1");
  await lab.ip(router, "-6", "route", "add", "default", "via", `fd03:10${n}::1`);
  await lab.ip(peer, "-6", "route", "add", "default", "via", `fd03:1${n}::1`);
  await lab.ip(inet, "-6", "route", "add", `fd03:1${n}::/64`, "via", `fd03:10${n}::2`);
  return `fd03:1${n}::2`;
}

/** Builds the topology above with the given NAT on each side. */
export async function buildNatLab(
  lab: NetLab,
  kinds: { a: NatKind; b: NatKind; ipv6?: boolean },
): Promise<NatLab> {
  const inet = await lab.namespace("inet");
  const registry = await lab.namespace("registry");
  await lab.link(
    { ns: inet, ifname: "to-reg", cidr: "10.203.100.1/24" },
    { ns: registry, ifname: "eth0", cidr: "10.203.100.2/24" },
  );
  await lab.sysctl(inet, "net.ipv4.ip_forward", "1");
  await lab.ip(registry, "route", "add", "default", "via", "10.203.100.1");
  return {
    registry: { ns: registry, address: "10.203.100.2" },
    internet: { ns: inet, address: "10.203.100.1" },
    a: await side(lab, inet, "a", kinds.a, kinds.ipv6 ?? false),
    b: await side(lab, inet, "b", kinds.b, kinds.ipv6 ?? false),
  };
}

/**
 * The product in the lab: a registry on the internet side, alice behind NAT a and bob behind
 * NAT b (both registering), resolved once both are ready and alice sees bob online. `extra`
 * adds arguments per process.
 */
export async function startNatPeers(
  cli: CliLab,
  nat: NatLab,
  extra: { registry?: string[]; alice?: string[]; bob?: string[] } = {},
  stepMs = 20_000,
): Promise<{ registry: JsonProc; port: number; alice: JsonProc; bob: JsonProc }> {
  const registry = await cli.server(nat.registry.ns, "registry", ["--no-mdns", ...(extra.registry ?? [])]);
  const server = ["--server", `${nat.registry.address}:${registry.port}`, "--register"];
  const alice = cli.client(nat.a.peer.ns, "alice", [...server, ...(extra.alice ?? [])]);
  const bob = cli.client(nat.b.peer.ns, "bob", [...server, ...(extra.bob ?? [])]);
  await Promise.all([
    alice.waitFor((e) => e.event === "ready", "alice ready", stepMs),
    bob.waitFor((e) => e.event === "ready", "bob ready", stepMs),
  ]);
  await alice.waitFor((e) => e.event === "presence" && e.user === "bob", "bob online", stepMs);
  return { registry: registry.proc, port: registry.port, alice, bob };
}
