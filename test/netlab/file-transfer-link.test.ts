/**
 * Network lab: a file transfer whose path goes away mid-transfer and comes back.
 *
 *        ns "fl-r" 10.203.31.1  hallway server
 *        ns "fl-a" 10.203.31.2  hallway client --json --user alice   (sends)
 *        ns "fl-b" 10.203.31.3  hallway client --json --user bob     (--accept-files)
 *                 all on br0 in ns "fl-sw"; the "cable" is bob's switch port p-b
 *
 * A short outage (well inside the registry's heartbeat timeout and the session's idle
 * timeout) is ridden out by the window: retransmission timers back off, the first one after
 * the link returns gets through, and the same transfer finishes. A long outage makes the
 * registry time bob out: alice's session closes and her transfer fails with FILE_PEER_LOST;
 * bob's side has not noticed yet. When bob is back, alice sends the file again, bob's client
 * retires the stale transfer (keeping its partial file) and resumes from its manifest.
 */

import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { assertDistFresh, CliLab, type Json, type JsonProc } from "./fixtures/lab-cli.js";
import { requireLab } from "./lab-guard.js";
import { buildLan, type Lan, NetLab } from "./netns.js";

const lab = requireLab("a file transfer survives its link going down and up");

const STEP_MS = 20_000;
const SIZE = 24 * 1024 * 1024;
/** alice's sending rate in bytes per second: about 6 s for the file. */
const RATE = 4_000_000;

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const isTransfer = (id: unknown, state: string) => (e: Json) =>
  e.event === "transfer" && e.id === id && e.state === state;
const isPresence = (user: string, status: string) => (e: Json) =>
  e.event === "presence" && e.user === user && e.status === status;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The first event at or after position `from` of `p`'s output that matches. */
function after(p: JsonProc, from: number, pred: (e: Json) => boolean, what: string, timeoutMs = STEP_MS) {
  return p.waitFor((e) => p.events.indexOf(e) >= from && pred(e), what, timeoutMs);
}

describe.skipIf(!lab.canRun)("file transfer across a link outage (network lab)", () => {
  let net: NetLab | undefined;
  let lan: Lan;
  const cli = new CliLab();

  beforeAll(async () => {
    assertDistFresh();
    net = await NetLab.create("filelink");
    lan = await buildLan(net, { name: "fl", subnet: "10.203.31", hosts: ["r", "a", "b"] });
  });

  afterEach(() => cli.stopAll());

  afterAll(async () => {
    await cli.cleanup();
    await net?.teardown();
  });

  function cable(up: boolean): Promise<unknown> {
    return (net as NetLab).ip(lan.switchNs, "link", "set", "p-b", up ? "up" : "down");
  }

  /** Registry, alice and bob (auto-accepting into `inbox`), and a random file at alice's. */
  async function setup(heartbeatMs: number) {
    const hosts = lan.hosts as Record<"r" | "a" | "b", { ns: string; address: string }>;
    const registry = await cli.server(hosts.r.ns, "registry", ["--no-mdns", "--port", "0"]);
    const server = ["--server", `${hosts.r.address}:${registry.port}`, "--heartbeat-ms", String(heartbeatMs)];
    const inbox = cli.tempDir("inbox");
    // A capped rate, so that the cable is pulled mid-transfer: unshaped, the file could be
    // done between two progress events.
    const alice = cli.client(hosts.a.ns, "alice", ["--register", ...server, "--transfer-rate", String(RATE)]);
    await alice.waitFor((e) => e.event === "ready", "alice ready", STEP_MS);
    const bob = cli.client(hosts.b.ns, "bob", ["--register", ...server, "--accept-files", inbox]);
    await bob.waitFor((e) => e.event === "ready", "bob ready", STEP_MS);
    await alice.waitFor(isPresence("bob", "online"), "bob online", STEP_MS);
    const data = new Uint8Array(randomBytes(SIZE));
    const src = join(cli.tempDir("src"), "disk.img");
    writeFileSync(src, data);
    return { alice, bob, inbox, data, src };
  }

  /** Offer the file and wait until bob holds `share` of it durably; resolves with the transfer id. */
  async function sendUntil(alice: JsonProc, bob: JsonProc, src: string, share: number): Promise<string> {
    alice.send({ cmd: "sendFile", to: "bob", path: src });
    const offered = await alice.waitFor((e) => e.event === "transfer" && e.state === "offered", "offered");
    await bob.waitFor(
      (e) => isTransfer(offered.id, "progress")(e) && (e.bytes as number) >= share * SIZE,
      `${share * 100}% at bob`,
      60_000,
    );
    return offered.id as string;
  }

  it("rides out a 2 s outage in the same session and the same transfer", async () => {
    // 5 s heartbeats: the registry would need 15 s of silence to time bob out.
    const { alice, bob, inbox, data, src } = await setup(5000);
    const id = await sendUntil(alice, bob, src, 0.3);
    await cable(false);
    const downAt = bob.events.length;
    await sleep(2000);
    await cable(true);

    const done = await bob.waitFor(isTransfer(id, "done"), "done at bob", 90_000);
    const sent = await alice.waitFor(isTransfer(id, "done"), "done at alice", STEP_MS);
    expect(sha256(readFileSync(done.path as string))).toBe(sha256(data));
    expect(readdirSync(inbox)).toEqual(["disk.img"]);
    // Nothing failed, no second offer, and nobody went offline.
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
    expect(alice.events.some(isPresence("bob", "offline"))).toBe(false);
    // The outage cost retransmissions, not a restart: far less than the file sent twice.
    const sentBytes = sent.sentBytes as number;
    console.log(
      `short outage: sent ${sentBytes} B for ${SIZE} B (${((100 * (sentBytes - SIZE)) / SIZE).toFixed(1)}% again); bob printed ${bob.events.length - downAt} events after the cable was pulled`,
    );
    expect(sentBytes).toBeLessThan(1.25 * SIZE);
  }, 180_000);

  it("after an outage that outlives the session, resumes from the manifest on a new offer", async () => {
    // 1 s heartbeats: the registry times bob out after 3 s of silence.
    const { alice, bob, inbox, data, src } = await setup(1000);
    const first = await sendUntil(alice, bob, src, 0.3);
    await cable(false);
    const lost = await alice.waitFor(isTransfer(first, "failed"), "alice gives up", STEP_MS);
    expect(lost.code).toBe("FILE_PEER_LOST");
    await alice.waitFor(isPresence("bob", "offline"), "bob offline", STEP_MS);
    await cable(true);

    // bob's client reconnects to the registry by itself; then alice sends the file again.
    const offline = alice.events.findIndex(isPresence("bob", "offline"));
    await after(alice, offline, isPresence("bob", "online"), "bob online again", 60_000);
    const mark = alice.events.length;
    alice.send({ cmd: "sendFile", to: "bob", path: src });
    const offered = await after(
      alice,
      mark,
      (e) => e.event === "transfer" && e.state === "offered",
      "re-offer",
    );
    const accepted = await alice.waitFor(isTransfer(offered.id, "accepted"), "re-accepted", STEP_MS);
    const done = await bob.waitFor(isTransfer(offered.id, "done"), "done at bob", 90_000);
    const sent = await alice.waitFor(isTransfer(offered.id, "done"), "done at alice", STEP_MS);

    // bob retired the stale transfer, keeping its partial file, and the new one continued it.
    const stale = await bob.waitFor(isTransfer(first, "failed"), "stale transfer ended at bob");
    expect(stale.code).toBe("FILE_PEER_LOST");
    expect(accepted.skippedBytes as number).toBeGreaterThanOrEqual(0.3 * SIZE);
    expect(done.path).toBe(join(inbox, "disk.img"));
    expect(sha256(readFileSync(join(inbox, "disk.img")))).toBe(sha256(data));
    expect(readdirSync(inbox)).toEqual(["disk.img"]);
    const sentTwice = (lost.sentBytes as number) + (sent.sentBytes as number) - SIZE;
    console.log(
      `long outage: bob kept ${accepted.skippedBytes} B; sent twice ${sentTwice} B = ${((100 * sentTwice) / SIZE).toFixed(1)}%`,
    );
    expect(sentTwice).toBeLessThan(0.25 * SIZE);
  }, 240_000);
});
