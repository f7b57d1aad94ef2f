/**
 * Network lab: registry discovery over real mDNS multicast between network namespaces.
 *
 *        ns "lan-a" 10.203.7.1 ─┐
 *        ns "lan-b" 10.203.7.2 ─┼─ br0 in ns "lan-sw"
 *        ns "lan-c" 10.203.7.3 ─┘
 *
 * Registries run `fixtures/advertise.mjs` in a and c, clients run `fixtures/discover.mjs`
 * in b; both import the built code from dist/ (`npm test` builds it first).
 */

import { existsSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// Types only: the code under test runs in the lab namespaces, from dist/.
import type { DiscoveredRegistry } from "../../src/net/mdns-discovery.js";
import { requireLab } from "./lab-guard.js";
import { buildLan, type LabProcess, type LanHost, NetLab } from "./netns.js";

const lab = requireLab("mDNS registry discovery between hosts on one LAN");

const root = (p: string): string => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** The fixtures run dist/; testing a stale build would test yesterday's code. */
function assertDistFresh(): void {
  for (const [src, out] of [
    ["src/net/mdns-advertise.ts", "dist/net/mdns-advertise.js"],
    ["src/net/mdns-discovery.ts", "dist/net/mdns-discovery.js"],
    ["src/protocol/mdns-txt.ts", "dist/protocol/mdns-txt.js"],
  ] as const) {
    const build = "run `npx tsc -p tsconfig.build.json` (npm test does it in pretest)";
    if (!existsSync(root(out))) throw new Error(`${out} is missing: ${build}`);
    if (statSync(root(src)).mtimeMs > statSync(root(out)).mtimeMs) {
      throw new Error(`${out} is older than ${src}: ${build}`);
    }
  }
}

const FP_A = "SHA256:AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg";
const FP_C = "SHA256:ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210zyxwvut";
const STEP_TIMEOUT_MS = 8000;

describe.skipIf(!lab.canRun)("mDNS registry discovery (network lab)", () => {
  let net: NetLab | undefined;
  let a: LanHost;
  let b: LanHost;
  let c: LanHost;

  beforeAll(async () => {
    assertDistFresh();
    net = await NetLab.create("mdns");
    const lan = await buildLan(net, { name: "lan", subnet: "10.203.7", hosts: ["a", "b", "c"] });
    [a, b, c] = [lan.hosts.a, lan.hosts.b, lan.hosts.c] as [LanHost, LanHost, LanHost];
  });

  afterAll(async () => {
    await net?.teardown();
  });

  function theLab(): NetLab {
    if (!net) throw new Error("lab not built");
    return net;
  }

  async function advertise(
    on: LanHost,
    opts: { name: string; port: number; fingerprint: string; version?: number; host: string },
  ): Promise<{ proc: LabProcess; instanceName: string }> {
    const proc = theLab().spawn(on.ns, [
      process.execPath,
      fixture("advertise.mjs"),
      JSON.stringify({ version: 1, lifetimeMs: 30_000, ...opts }),
    ]);
    const line = await proc.waitForLine((l) => l.startsWith("{"), STEP_TIMEOUT_MS);
    const event = JSON.parse(line) as { event: string; instanceName?: string; message?: string };
    if (event.event !== "ready") throw new Error(`advertiser failed: ${line}`);
    return { proc, instanceName: event.instanceName ?? "" };
  }

  /** Stops an advertiser and checks that it exits by itself (its mDNS socket was released). */
  async function stopAdvertiser(proc: LabProcess): Promise<void> {
    const exit = await proc.stop(3000);
    expect(exit, `advertiser stdout: ${proc.stdout} stderr: ${proc.stderr}`).toEqual({
      code: 0,
      signal: null,
    });
    expect(proc.stdout).toContain('"event":"stopped"');
  }

  type DiscoverOpts = { timeoutMs: number; firstOnly?: boolean; wantFingerprint?: string; wantName?: string };

  function startDiscovery(on: LanHost, opts: DiscoverOpts): LabProcess {
    return theLab().spawn(on.ns, [process.execPath, fixture("discover.mjs"), JSON.stringify(opts)]);
  }

  async function discoveryResult(
    proc: LabProcess,
    opts: DiscoverOpts,
  ): Promise<{ elapsedMs: number; registries: DiscoveredRegistry[] }> {
    const line = await proc.waitForLine((l) => l.startsWith("{"), opts.timeoutMs + STEP_TIMEOUT_MS);
    // Exiting by itself shows that discovery closed its socket.
    const exit = await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 3000, "still running"))]);
    expect(exit, `discover.mjs did not exit after printing; stderr: ${proc.stderr}`).toEqual({
      code: 0,
      signal: null,
    });
    return JSON.parse(line) as { elapsedMs: number; registries: DiscoveredRegistry[] };
  }

  function discover(
    on: LanHost,
    opts: DiscoverOpts,
  ): Promise<{ elapsedMs: number; registries: DiscoveredRegistry[] }> {
    return discoveryResult(startDiscovery(on, opts), opts);
  }

  it("a client on another host finds the registry, with its address on the LAN", async () => {
    const reg = await advertise(a, {
      name: "Office",
      port: 41_001,
      fingerprint: FP_A,
      host: "hallway-a.local",
    });
    try {
      expect(reg.instanceName).toBe("Office (AbCd)");
      // firstOnly resolves on the first answer: with a 10-minute browse, anything else would
      // run into the test's own timeout.
      const { registries } = await discover(b, { timeoutMs: 600_000, firstOnly: true });
      expect(registries).toHaveLength(1);
      const [found] = registries;
      expect(found).toMatchObject({
        name: "Office",
        instanceName: "Office (AbCd)",
        host: "hallway-a.local",
        port: 41_001,
        fingerprint: FP_A,
        version: 1,
      });
      expect(found?.addresses[0]).toBe(a.address);
    } finally {
      await stopAdvertiser(reg.proc);
    }
  });

  it("after stop() nothing is found, and that is not an error", async () => {
    const reg = await advertise(a, {
      name: "Office",
      port: 41_002,
      fingerprint: FP_A,
      host: "hallway-a.local",
    });
    await stopAdvertiser(reg.proc);
    const { registries } = await discover(b, { timeoutMs: 1500 });
    expect(registries).toEqual([]);
  });

  it("a registry that stops while a client browses is dropped by its goodbye", async () => {
    const reg = await advertise(a, {
      name: "Office",
      port: 41_009,
      fingerprint: FP_A,
      host: "hallway-a.local",
    });
    const opts = { timeoutMs: 3000 };
    const browsing = startDiscovery(b, opts);
    try {
      // The first query is answered within milliseconds; stop well before the browse ends.
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      await stopAdvertiser(reg.proc);
    }
    const { registries } = await discoveryResult(browsing, opts);
    expect(registries).toEqual([]);
  });

  it("a bad registry name is local misuse (CLI_BAD_ARGS) before any socket opens", async () => {
    const r = await theLab().exec(
      a.ns,
      [
        process.execPath,
        fixture("advertise.mjs"),
        JSON.stringify({ name: "", port: 41_010, fingerprint: FP_A, version: 1 }),
      ],
      { timeoutMs: STEP_TIMEOUT_MS },
    );
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ event: "error", code: "CLI_BAD_ARGS" });
  });

  it("two registries with the same name are both found and told apart by fingerprint", async () => {
    const [regA, regC] = await Promise.all([
      advertise(a, { name: "Office", port: 41_003, fingerprint: FP_A, host: "hallway-a.local" }),
      advertise(c, { name: "Office", port: 41_004, fingerprint: FP_C, host: "hallway-c.local" }),
    ]);
    try {
      expect([regA.instanceName, regC.instanceName]).toEqual(["Office (AbCd)", "Office (ZyXw)"]);

      const all = await discover(b, { timeoutMs: 2500, wantName: "Office" });
      const byFp = Object.fromEntries(all.registries.map((r) => [r.fingerprint, r]));
      expect(all.registries).toHaveLength(2);
      expect(byFp[FP_A]).toMatchObject({ name: "Office", port: 41_003 });
      expect(byFp[FP_A]?.addresses[0]).toBe(a.address);
      expect(byFp[FP_C]).toMatchObject({ name: "Office", port: 41_004 });
      expect(byFp[FP_C]?.addresses[0]).toBe(c.address);

      const pinned = await discover(b, { timeoutMs: 5000, firstOnly: true, wantFingerprint: FP_C });
      expect(pinned.registries).toHaveLength(1);
      expect(pinned.registries[0]).toMatchObject({ fingerprint: FP_C, port: 41_004 });
      expect(pinned.registries[0]?.addresses[0]).toBe(c.address);
    } finally {
      await Promise.all([stopAdvertiser(regA.proc), stopAdvertiser(regC.proc)]);
    }
  });

  it("the same name and key on two hosts: the second takes a free instance name", async () => {
    const first = await advertise(a, {
      name: "Office",
      port: 41_005,
      fingerprint: FP_A,
      host: "hallway-a.local",
    });
    const second = await advertise(c, {
      name: "Office",
      port: 41_006,
      fingerprint: FP_A,
      host: "hallway-c.local",
    });
    try {
      expect(first.instanceName).toBe("Office (AbCd)");
      expect(second.instanceName).toBe("Office (AbCd) #2");
      const { registries } = await discover(b, { timeoutMs: 2500, wantFingerprint: FP_A });
      const seen = registries.map((r) => [r.instanceName, r.port, r.addresses[0]]);
      expect(seen.sort((x, y) => String(x[0]).localeCompare(String(y[0])))).toEqual([
        ["Office (AbCd)", 41_005, a.address],
        ["Office (AbCd) #2", 41_006, c.address],
      ]);
    } finally {
      await Promise.all([stopAdvertiser(first.proc), stopAdvertiser(second.proc)]);
    }
  });

  it("ignores a registry that speaks another protocol version", async () => {
    const [future, current] = await Promise.all([
      advertise(c, { name: "Future", port: 41_007, fingerprint: FP_C, version: 2, host: "hallway-c.local" }),
      advertise(a, { name: "Office", port: 41_008, fingerprint: FP_A, host: "hallway-a.local" }),
    ]);
    try {
      const { registries } = await discover(b, { timeoutMs: 2500 });
      expect(registries.map((r) => r.name)).toEqual(["Office"]);
    } finally {
      await Promise.all([stopAdvertiser(future.proc), stopAdvertiser(current.proc)]);
    }
  });
});
