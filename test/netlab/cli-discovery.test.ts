/**
 * Network lab: the real CLI finds its registry over mDNS, with no --server anywhere.
 *
 *        ns "cd-a" 10.203.21.1  hallway server (mDNS on, default port 7743)
 *        ns "cd-b" 10.203.21.2  hallway client --json --user bob   ─┐ no --server:
 *        ns "cd-c" 10.203.21.3  hallway client --json --user carol ─┘ first registry found
 *        ns "cd-d" 10.203.21.4  a second registry, for the "two on one LAN" case
 *                 all on br0 in ns "cd-sw"
 *
 * Every process runs dist/cli.js (`npm test` builds it first) inside its namespace, so
 * all multicast stays on the lab bridge.
 */

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { assertDistFresh, CliLab, type Json } from "./fixtures/lab-cli.js";
import { requireLab } from "./lab-guard.js";
import { buildLan, type LanHost, NetLab } from "./netns.js";

const lab = requireLab("the CLI discovers its registry over mDNS");

const DEFAULT_PORT = 7743;
const STEP_MS = 15_000;

const isPresence = (user: string, status: string) => (e: Json) =>
  e.event === "presence" && e.user === user && e.status === status;

describe.skipIf(!lab.canRun)("CLI discovery without --server (network lab)", () => {
  let net: NetLab | undefined;
  const cli = new CliLab();
  let a: LanHost;
  let b: LanHost;
  let c: LanHost;
  let d: LanHost;

  beforeAll(async () => {
    assertDistFresh();
    net = await NetLab.create("clidisc");
    const lan = await buildLan(net, { name: "cd", subnet: "10.203.21", hosts: ["a", "b", "c", "d"] });
    [a, b, c, d] = [lan.hosts.a, lan.hosts.b, lan.hosts.c, lan.hosts.d] as [
      LanHost,
      LanHost,
      LanHost,
      LanHost,
    ];
  });

  afterEach(() => cli.stopAll());

  afterAll(async () => {
    await cli.cleanup();
    await net?.teardown();
  });

  it("clients on two other hosts find the registry, see each other and chat directly", async () => {
    const registry = await cli.server(a.ns, "registry-a");
    expect(registry.port).toBe(DEFAULT_PORT);

    const bob = cli.client(b.ns, "bob", ["--register"]);
    const carol = cli.client(c.ns, "carol", ["--register"]);
    await Promise.all([
      bob.waitFor((e) => e.event === "ready", "bob ready", STEP_MS),
      carol.waitFor((e) => e.event === "ready", "carol ready", STEP_MS),
    ]);

    // mDNS gave them A's address on the LAN, and the key they pinned is A's.
    for (const p of [bob, carol]) {
      const reg = await p.waitFor((e) => e.event === "registry", "registry event");
      expect(reg).toMatchObject({
        status: "connected",
        address: `${a.address}:${DEFAULT_PORT}`,
        fingerprint: registry.fingerprint,
      });
    }

    await bob.waitFor(isPresence("carol", "online"), "carol online at bob", STEP_MS);
    await carol.waitFor(isPresence("bob", "online"), "bob online at carol", STEP_MS);

    bob.send({ cmd: "send", to: "carol", text: "hi carol, over the lab LAN" });
    const sent = await bob.waitFor((e) => e.event === "sent" && e.to === "carol", "sent", STEP_MS);
    expect(sent.via).toBe("direct");
    const got = await carol.waitFor(
      (e) => e.event === "message" && e.text === "hi carol, over the lab LAN",
      "message at carol",
      STEP_MS,
    );
    expect(got).toMatchObject({ from: "bob", to: "carol", via: "direct", id: sent.id });
    await bob.waitFor((e) => e.event === "delivered" && e.id === sent.id, "receipt", STEP_MS);

    for (const p of [bob, carol]) {
      p.send({ cmd: "quit" });
      await p.waitFor((e) => e.event === "bye", `${p.name} bye`);
      expect(await p.exited).toEqual({ code: 0, signal: null });
    }
    expect(registry.proc.running).toBe(true);
    expect(await registry.proc.stop()).toEqual({ code: 0, signal: null });
  });

  it("with two registries on the LAN a client takes the first it finds, and works", async () => {
    // Documented behaviour (docs/cli.md): without --server, "the first registry found on
    // the LAN". Which one answers first is up to the network; either must work end to end.
    const [regA, regD] = await Promise.all([cli.server(a.ns, "registry-a2"), cli.server(d.ns, "registry-d")]);
    expect(regA.fingerprint).not.toBe(regD.fingerprint);
    const byAddress: Record<string, string> = {
      [`${a.address}:${regA.port}`]: regA.fingerprint,
      [`${d.address}:${regD.port}`]: regD.fingerprint,
    };

    const bob = cli.client(b.ns, "bob", ["--register"]);
    await bob.waitFor((e) => e.event === "ready", "bob ready", STEP_MS);
    const reg = await bob.waitFor((e) => e.event === "registry", "registry event");
    expect(Object.keys(byAddress)).toContain(reg.address);
    // The key bob pinned belongs to the registry at the address he uses.
    expect(reg.fingerprint).toBe(byAddress[reg.address as string]);

    // The registry bob picked serves him; he can ask it for the directory.
    bob.send({ cmd: "users" });
    const users = await bob.waitFor((e) => e.event === "users", "users", STEP_MS);
    expect(users.users).toEqual([expect.objectContaining({ name: "bob", status: "online" })]);

    bob.send({ cmd: "quit" });
    expect(await bob.exited).toEqual({ code: 0, signal: null });
    // Neither registry was disturbed by the other or by the client.
    for (const r of [regA, regD]) {
      expect(r.proc.running).toBe(true);
      expect(await r.proc.stop()).toEqual({ code: 0, signal: null });
    }
  });

  it("--registry picks a registry by name or by fingerprint, and a fingerprint is checked", async () => {
    const [regA, regD] = await Promise.all([
      cli.server(a.ns, "registry-sales", ["--name", "Sales"]),
      cli.server(d.ns, "registry-lab", ["--name", "Lab"]),
    ]);
    const byName = cli.client(b.ns, "bob", ["--register", "--registry", "Lab"]);
    const viaName = await byName.waitFor((e) => e.event === "registry", "registry by name", STEP_MS);
    expect(viaName).toMatchObject({ address: `${d.address}:${regD.port}`, fingerprint: regD.fingerprint });
    await byName.waitFor((e) => e.event === "ready", "bob ready", STEP_MS);

    const byKey = cli.client(c.ns, "carol", ["--register", "--registry", regA.fingerprint]);
    const viaKey = await byKey.waitFor((e) => e.event === "registry", "registry by fingerprint", STEP_MS);
    expect(viaKey).toMatchObject({ address: `${a.address}:${regA.port}`, fingerprint: regA.fingerprint });

    // An address with the wrong fingerprint: the handshake shows another key, and the client stops.
    const wrong = cli.client(c.ns, "dave", [
      "--register",
      "--server",
      `${d.address}:${regD.port}`,
      "--registry",
      regA.fingerprint,
    ]);
    const err = await wrong.waitFor((e) => e.event === "error", "the refusal", STEP_MS);
    expect(err.code).toBe("REGISTRY_KEY_CHANGED");
    expect((await wrong.exited).code).toBe(1);

    const nobody = cli.client(c.ns, "erin", ["--register", "--registry", "Marketing"]);
    expect(await nobody.waitFor((e) => e.event === "error", "not found", STEP_MS)).toMatchObject({
      code: "REGISTRY_NOT_FOUND",
    });
    await cli.stopAll();
  });
});
