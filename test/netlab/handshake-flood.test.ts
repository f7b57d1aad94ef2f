/**
 * Network lab: a flood of valid handshake initiations against the registry, from one address
 * and then from 200, while real clients on other addresses (and one on the flooder's own
 * address) log in and a logged-in user keeps asking (docs/security.md, "Stateless cookies").
 *
 *   ns "hf-reg"   10.203.61.1   registry
 *   ns "hf-flood" 10.203.61.2   flooder (+ 10.203.61.10 … .209 for the second round)
 *   ns "hf-alice" 10.203.61.3   logs in again and again
 *   ns "hf-bob"   10.203.61.4   logged in before the flood, asks `users` during it
 *        all on one bridge
 *
 * The flooder never answers: it is the case the cookies are for (a tool spraying
 * initiations, or forged sources). Nothing here times anything; waits only catch hangs.
 */

import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertDistFresh, CliLab, type JsonProc, REPO } from "./fixtures/lab-cli.js";
import { requireLab } from "./lab-guard.js";
import { buildLan, type LanHost, NetLab } from "./netns.js";

const lab = requireLab("a handshake flood leaves logins from other addresses unaffected");
const STEP_MS = 30_000;
const FLOOD = join(REPO, "test/netlab/fixtures/handshake-flood.mjs");

describe.skipIf(!lab.canRun)("handshake flood (network lab)", () => {
  let net: NetLab | undefined;
  const cli = new CliLab();
  let reg: LanHost;
  let flood: LanHost;
  let alice: LanHost;
  let bob: LanHost;
  let server: { proc: JsonProc; port: number };
  let bobClient: JsonProc;
  let aliceDir: string;

  beforeAll(async () => {
    assertDistFresh();
    net = await NetLab.create("hsflood");
    const lan = await buildLan(net, {
      name: "hf",
      subnet: "10.203.61",
      hosts: ["reg", "flood", "alice", "bob"],
    });
    [reg, flood, alice, bob] = ["reg", "flood", "alice", "bob"].map((h) => lan.hosts[h]) as [
      LanHost,
      LanHost,
      LanHost,
      LanHost,
    ];
    for (let i = 10; i < 210; i++) await net.ip(flood.ns, "addr", "add", `10.203.61.${i}/24`, "dev", "eth0");
    server = await cli.server(reg.ns, "registry", ["--no-mdns", "--host", "0.0.0.0"]);
    aliceDir = cli.tempDir("alice-device");
    bobClient = cli.client(bob.ns, "bob", ["--register", "--server", `${reg.address}:${server.port}`]);
    await bobClient.waitFor((e) => e.event === "ready", "bob ready", STEP_MS);
  }, 90_000);

  afterAll(async () => {
    await cli.cleanup();
    await net?.teardown();
  });

  /** One login of `user` from `ns`: a fresh client process that must reach ready, then quits. */
  async function login(ns: string, user: string, dir: string, register = false): Promise<void> {
    const p = cli.hallway(
      ns,
      user,
      [
        "client",
        "--json",
        "--user",
        user,
        "--data",
        dir,
        "--server",
        `${reg.address}:${server.port}`,
        ...(register ? ["--register"] : []),
      ],
      { HALLWAY_PASSWORD: "correct horse battery staple" },
    );
    await p.waitFor((e) => e.event === "ready", `${user} ready`, STEP_MS);
    p.send({ cmd: "quit" });
    await p.waitFor((e) => e.event === "bye", `${user} bye`, STEP_MS);
  }

  /** bob, logged in before the flood, still gets answers. */
  async function bobAsks(n: number): Promise<void> {
    const before = bobClient.events.filter((e) => e.event === "users").length;
    bobClient.send({ cmd: "users" });
    await bobClient.waitFor(
      () => bobClient.events.filter((e) => e.event === "users").length > before,
      `bob's users #${n}`,
      STEP_MS,
    );
  }

  function startFlood(sources: string[], perSecond: number, durationMs: number) {
    if (!net) throw new Error("no lab");
    const p = net.spawn(flood.ns, [
      process.execPath,
      FLOOD,
      JSON.stringify({ registry: { host: reg.address, port: server.port }, sources, perSecond, durationMs }),
    ]);
    return p;
  }

  it("from one address: other addresses log in, and so does a client at the flooder's address", async () => {
    const flooder = startFlood([flood.address], 3000, 40_000);
    await flooder.waitForLine((l) => l.includes('"flooding"'), STEP_MS);
    await login(alice.ns, "alice", aliceDir, true);
    for (let i = 0; i < 3; i++) {
      await login(alice.ns, "alice", aliceDir);
      await bobAsks(i);
    }
    // Same address as the flood, another port: in by cookie while the flood goes on.
    await login(flood.ns, "frank", cli.tempDir("frank"), true);
    await flooder.stop();
    // And after it, as usual.
    await login(flood.ns, "frank", cli.tempDir("frank2"));
  }, 180_000);

  it("from 200 addresses: logins and a logged-in user's requests still go through", async () => {
    const sources = Array.from({ length: 200 }, (_, i) => `10.203.61.${i + 10}`);
    const flooder = startFlood(sources, 3000, 40_000);
    await flooder.waitForLine((l) => l.includes('"flooding"'), STEP_MS);
    for (let i = 0; i < 2; i++) {
      await login(alice.ns, "alice", aliceDir);
      await bobAsks(10 + i);
    }
    await flooder.stop();
    // The registry answered the flood with cookies: its log says how many, at stop.
    await server.proc.stop();
    const line = server.proc.stderr.split("\n").find((l) => l.includes("handshakes:")) ?? "";
    const cookies = Number(/handshakes: (\d+) cookies sent/.exec(line)?.[1] ?? 0);
    const accepted = Number(/(\d+) with a cookie/.exec(line)?.[1] ?? 0);
    console.log(`handshake flood: ${line.replace(/^.*abuse: /, "abuse: ")}`);
    expect(cookies).toBeGreaterThan(1000);
    expect(accepted).toBeGreaterThan(0);
  }, 180_000);
});
