/**
 * NAT lab with IPv6: both peers sit behind symmetric NATs for IPv4, which leaves only the
 * relay there, but both also have routed IPv6 addresses without NAT (as IPv6 is deployed).
 * Their IPv6 host candidates give a direct path, and the messages take it.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertDistFresh, CliLab } from "./fixtures/lab-cli.js";
import { requireLab } from "./lab-guard.js";
import { buildNatLab, type NatLab, startNatPeers } from "./nat-lab.js";
import { NetLab } from "./netns.js";

const lab = requireLab("IPv6 host candidates past two symmetric IPv4 NATs", { commands: ["iptables"] });
const STEP_MS = 20_000;

describe.skipIf(!lab.canRun)("IPv6 host candidates (network lab)", () => {
  let net: NetLab | undefined;
  let nat: NatLab;
  const cli = new CliLab();

  beforeAll(async () => {
    assertDistFresh();
    net = await NetLab.create("ipv6");
    nat = await buildNatLab(net, { a: "symmetric", b: "symmetric", ipv6: true });
  }, 60_000);

  afterAll(async () => {
    await cli.cleanup();
    await net?.teardown();
  });

  it("connect directly over IPv6 where IPv4 offers only the relay", async () => {
    const { alice, bob } = await startNatPeers(cli, nat);

    alice.send({ cmd: "send", to: "bob", text: "hello over IPv6" });
    const got = await bob.waitFor((e) => e.event === "message", "the message", STEP_MS);
    expect(got).toMatchObject({ from: "alice", text: "hello over IPv6" });
    // Direct at once, or (when the checks take longer than the 2 s before the relay is taken,
    // as on a busy machine) on the relay first and then moved to the IPv6 path.
    expect(["direct", "relay"]).toContain(got.via);
    const isDirect = (peer: string) => (e: Record<string, unknown>) =>
      e.event === "path" && e.peer === peer && e.kind === "direct";
    const path = await alice.waitFor(isDirect("bob"), "alice's direct path", STEP_MS);
    expect(path).toMatchObject({ kind: "direct", address: expect.stringMatching(/^\[fd03:12::2\]:\d+$/) });
    const back = await bob.waitFor(isDirect("alice"), "bob's direct path", STEP_MS);
    expect(back).toMatchObject({ kind: "direct", address: expect.stringMatching(/^\[fd03:11::2\]:\d+$/) });
    alice.send({ cmd: "send", to: "bob", text: "still over IPv6" });
    const again = await bob.waitFor(
      (e) => e.event === "message" && e.text === "still over IPv6",
      "again",
      STEP_MS,
    );
    expect(again.via).toBe("direct");
    console.log(
      `nat lab ipv6, symmetric<->symmetric: first message via ${got.via}; path ${path.kind} ${path.address} in ${path.ms} ms`,
    );
  }, 90_000);
});
