/**
 * Network lab: path-MTU discovery and its fallbacks on real routed links. alice and bob sit
 * on two subnets joined by the "internet" router (nat-lab.ts with no NAT on either side), every
 * link a veth of MTU 1500, so a datagram larger than 1,472 bytes crosses as IP fragments that
 * bob's kernel reassembles.
 *
 *   - A clean path earns fragmented datagrams (64 KiB when the machine is idle); then the
 *     internet router starts dropping every fragment (`iptables -A FORWARD -f -j DROP`, a
 *     firewall's "no fragments" rule) while the transfer runs: the sender sees its large datagrams vanish (a black hole), falls back to
 *     the base size, finds by probing that 1,472 bytes still pass, and finishes the same
 *     transfer with the right SHA-256.
 *   - The MTU of the router's link toward bob drops to 1,280 mid-transfer: the IP layer keeps
 *     carrying the datagrams (the router fragments what may be fragmented, and answers the
 *     rest with "fragmentation needed", which the sender's kernel follows), and the transfer
 *     finishes with nothing failed.
 *
 * The sender is capped (`--transfer-rate`) so that the change lands mid-file.
 */

import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { assertDistFresh, CliLab, type Json, type JsonProc } from "./fixtures/lab-cli.js";
import { requireLab } from "./lab-guard.js";
import { buildNatLab, type NatLab, startNatPeers } from "./nat-lab.js";
import { NetLab } from "./netns.js";

const lab = requireLab("path-MTU discovery, black hole and MTU change on real routed links", {
  commands: ["iptables"],
});
const STEP_MS = 20_000;
const SIZE = 64 * 1024 * 1024;
/**
 * Slow enough that the path changes in the middle of the file, and that the climb to large
 * datagrams (paced probes, held while the receiver's own drops count as fragment loss) has
 * seconds to get there first, also on a loaded machine.
 */
const RATE = 5_000_000;

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const isTransfer = (id: unknown, state: string) => (e: Json) =>
  e.event === "transfer" && e.id === id && e.state === state;

describe.skipIf(!lab.canRun)("path MTU on real routed links (network lab)", () => {
  let net: NetLab | undefined;
  let nat: NatLab;
  const cli = new CliLab();

  beforeAll(async () => {
    assertDistFresh();
    net = await NetLab.create("pmtu");
    nat = await buildNatLab(net, { a: "none", b: "none" });
  }, 60_000);

  afterEach(() => cli.stopAll());

  afterAll(async () => {
    await cli.cleanup();
    await net?.teardown();
  });

  async function inet(argv: string[]): Promise<void> {
    const r = await (net as NetLab).exec(nat.internet.ns, argv);
    if (r.code !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.trim()}`);
  }

  /** Starts the peers, offers a fresh file and resolves once `share` of it is durable at bob. */
  async function transferUntil(share: number, rate = RATE) {
    const inbox = cli.tempDir("inbox");
    const { alice, bob } = await startNatPeers(cli, nat, {
      alice: ["--transfer-rate", String(rate)],
      bob: ["--accept-files", inbox],
    });
    const data = new Uint8Array(randomBytes(SIZE));
    const src = join(cli.tempDir("src"), "image.iso");
    writeFileSync(src, data);
    alice.send({ cmd: "sendFile", to: "bob", path: src });
    const offered = await alice.waitFor((e) => e.event === "transfer" && e.state === "offered", "offered");
    await bob.waitFor(
      (e) => isTransfer(offered.id, "progress")(e) && (e.bytes as number) >= share * SIZE,
      `${share * 100}% at bob`,
      60_000,
    );
    return { alice, bob, data, id: offered.id as string };
  }

  async function finish(alice: JsonProc, bob: JsonProc, id: string, data: Uint8Array) {
    const done = await bob.waitFor(isTransfer(id, "done"), "done at bob", 120_000);
    const sent = await alice.waitFor(isTransfer(id, "done"), "done at alice", STEP_MS);
    expect(sha256(readFileSync(done.path as string))).toBe(sha256(data));
    for (const p of [alice, bob]) {
      expect(
        p.events.filter((e) => e.event === "transfer" && e.state === "failed"),
        p.name,
      ).toEqual([]);
      expect(
        p.events.filter((e) => e.event === "transfer" && e.state === "offered"),
        p.name,
      ).toHaveLength(1);
    }
    return sent;
  }

  it("earns fragmented datagrams, then falls back to 1,472 bytes when fragments start being dropped", async () => {
    const { alice, bob, data, id } = await transferUntil(0.55);
    await inet(["iptables", "-A", "FORWARD", "-f", "-j", "DROP"]);
    try {
      const sent = await finish(alice, bob, id, data);
      const sizes = sent.datagramSizes as Record<string, number>;
      console.log(
        `black hole: path MTU at the end ${sent.pathMtuBytes}, datagrams by size ${JSON.stringify(sizes)}`,
      );
      // Before the rule: fragmented datagrams, up to 64 KiB on an idle machine (on a loaded
      // one the receiver's own drops can hold the climb lower, as they should); after it:
      // 1,472 bytes, proven anew.
      const largest = Math.max(...Object.keys(sizes).map(Number));
      expect(largest, "fragmented datagrams before the rule").toBeGreaterThan(1472);
      expect(sizes["1472"] ?? 0).toBeGreaterThan(0);
      expect(sent.pathMtuBytes).toBe(1472);
    } finally {
      await inet(["iptables", "-D", "FORWARD", "-f", "-j", "DROP"]);
    }
  }, 180_000);

  it("keeps going when the link toward the receiver drops to an MTU of 1,280", async () => {
    const { alice, bob, data, id } = await transferUntil(0.4, 2 * RATE);
    await inet(["ip", "link", "set", "dev", "to-b", "mtu", "1280"]);
    try {
      const sent = await finish(alice, bob, id, data);
      console.log(
        `MTU 1280: path MTU at the end ${sent.pathMtuBytes}, datagrams by size ${JSON.stringify(sent.datagramSizes)}`,
      );
    } finally {
      await inet(["ip", "link", "set", "dev", "to-b", "mtu", "1500"]);
    }
  }, 180_000);
});
