/**
 * NAT lab, the office case: two peers on one LAN bridge talk over the LAN, wherever the
 * registry is.
 *
 *   1. the registry on the same bridge, found by mDNS (no --server);
 *   2. the registry on another subnet, reachable only through a router that NATs the LAN
 *      (as a Wi-Fi or branch router does): the registry sees both peers at the router's
 *      address, and only their host candidates say they share a LAN.
 *
 *        ns "lp-a" 10.203.43.1 ─┐
 *        ns "lp-b" 10.203.43.2 ─┤ br0 ─ 10.203.43.3 router (MASQUERADE) 10.203.44.1 ─ 10.203.44.2 registry
 *        ns "lp-c" 10.203.43.4 ─┘        (case 1: the registry at 10.203.43.4, on the bridge)
 *
 * Recorded per case: message delivered, path kind, time to connect.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertDistFresh, CliLab, type JsonProc } from "./fixtures/lab-cli.js";
import { requireLab } from "./lab-guard.js";
import { buildLan, type LanHost, NetLab } from "./netns.js";

const lab = requireLab("peers on one LAN take the LAN path, wherever the registry is", {
  commands: ["iptables"],
});
const STEP_MS = 20_000;

describe.skipIf(!lab.canRun)("the LAN path (network lab)", () => {
  let net: NetLab | undefined;
  const cli = new CliLab();
  let a: LanHost;
  let b: LanHost;
  let router: LanHost;
  let sameLanRegistry: LanHost;
  let remoteRegistry: { ns: string; address: string };

  beforeAll(async () => {
    assertDistFresh();
    net = await NetLab.create("lanpath");
    const lan = await buildLan(net, { name: "lp", subnet: "10.203.43", hosts: ["a", "b", "r", "c"] });
    [a, b, router, sameLanRegistry] = [lan.hosts.a, lan.hosts.b, lan.hosts.r, lan.hosts.c] as LanHost[] as [
      LanHost,
      LanHost,
      LanHost,
      LanHost,
    ];
    const far = await net.namespace("lp-far");
    await net.link(
      { ns: router.ns, ifname: "wan0", cidr: "10.203.44.1/24" },
      { ns: far, ifname: "eth0", cidr: "10.203.44.2/24" },
    );
    remoteRegistry = { ns: far, address: "10.203.44.2" };
    await net.sysctl(router.ns, "net.ipv4.ip_forward", "1");
    const r = await net.exec(router.ns, [
      "iptables",
      "-t",
      "nat",
      "-A",
      "POSTROUTING",
      "-o",
      "wan0",
      "-j",
      "MASQUERADE",
    ]);
    if (r.code !== 0) throw new Error(`iptables: ${r.stderr.trim()}`);
    for (const host of [a, b]) await net.ip(host.ns, "route", "add", "10.203.44.0/24", "via", router.address);
  }, 60_000);

  afterAll(async () => {
    await cli.cleanup();
    await net?.teardown();
  });

  /** alice messages bob; both must name the LAN path. */
  async function chatOverLan(alice: JsonProc, bob: JsonProc, label: string): Promise<void> {
    await Promise.all([
      alice.waitFor((e) => e.event === "ready", "alice ready", STEP_MS),
      bob.waitFor((e) => e.event === "ready", "bob ready", STEP_MS),
    ]);
    await alice.waitFor((e) => e.event === "presence" && e.user === "bob", "bob online", STEP_MS);
    alice.send({ cmd: "send", to: "bob", text: `hello over ${label}` });
    const got = await bob.waitFor((e) => e.event === "message", "the message", STEP_MS);
    expect(got).toMatchObject({ from: "alice", text: `hello over ${label}`, via: "direct" });
    const path = await alice.waitFor((e) => e.event === "path" && e.peer === "bob", "alice's path", STEP_MS);
    expect(path.kind).toBe("lan");
    await bob.waitFor(
      (e) => e.event === "path" && e.peer === "alice" && e.kind === "lan",
      "bob's path",
      STEP_MS,
    );
    console.log(`lan path, ${label}: delivered 1/1, path ${path.kind} in ${path.ms} ms`);
    await cli.stopAll();
  }

  it("with the registry on the same bridge, found by mDNS", async () => {
    const registry = await cli.server(sameLanRegistry.ns, "registry-lan");
    const alice = cli.client(a.ns, "alice", ["--register"]);
    const bob = cli.client(b.ns, "bob", ["--register"]);
    // No --server: mDNS found it, at its address on this LAN.
    const found = await alice.waitFor((e) => e.event === "registry", "the registry", STEP_MS);
    expect(found).toMatchObject({
      address: `${sameLanRegistry.address}:${registry.port}`,
      fingerprint: registry.fingerprint,
    });
    await chatOverLan(alice, bob, "a registry on the same LAN");
  }, 90_000);

  it("with the registry on another subnet behind a NATing router", async () => {
    const registry = await cli.server(remoteRegistry.ns, "registry-far", ["--no-mdns"]);
    const server = ["--register", "--server", `${remoteRegistry.address}:${registry.port}`];
    const alice = cli.client(a.ns, "alice", server);
    const bob = cli.client(b.ns, "bob", server);
    await chatOverLan(alice, bob, "a registry on another subnet");
  }, 90_000);
});
