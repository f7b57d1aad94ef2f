/**
 * NAT lab: a file transfer that starts on the registry's relay and finishes on a direct
 * path. alice and bob sit behind cone NATs, and the internet router first drops everything
 * between the two NATs, as a firewall would: the connect finds no direct pair and takes
 * the relay. alice offers a file; once bob holds part of it, the firewall rule goes, alice's
 * background attempt (every --path-retry-ms) punches a direct path, and the session moves
 * there in mid-transfer. The file must land whole (SHA-256), in one transfer, and the move
 * must come before the end.
 */

import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertDistFresh, CliLab, type Json } from "./fixtures/lab-cli.js";
import { requireLab } from "./lab-guard.js";
import { buildNatLab, type NatLab, startNatPeers } from "./nat-lab.js";
import { NetLab } from "./netns.js";

const lab = requireLab("a transfer moving from the relay to a punched path behind real NAT", {
  commands: ["iptables"],
});
const STEP_MS = 20_000;
const SIZE = 8 * 1024 * 1024;
/** The relay's budget per user: slow enough that the move happens mid-transfer. */
const RELAY_RATE = 1_000_000;

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const isTransfer = (id: unknown, state: string) => (e: Json) =>
  e.event === "transfer" && e.id === id && e.state === state;

describe.skipIf(!lab.canRun)("relay, then direct, behind cone NATs (network lab)", () => {
  let net: NetLab | undefined;
  let nat: NatLab;
  const cli = new CliLab();

  beforeAll(async () => {
    assertDistFresh();
    net = await NetLab.create("relay");
    nat = await buildNatLab(net, { a: "cone", b: "cone" });
  }, 60_000);

  afterAll(async () => {
    await cli.cleanup();
    await net?.teardown();
  });

  /** The internet router's firewall between the two NATs' public addresses. */
  async function firewall(action: "-I" | "-D"): Promise<void> {
    for (const [src, dst] of [
      [nat.a.router.wan, nat.b.router.wan],
      [nat.b.router.wan, nat.a.router.wan],
    ] as const) {
      const r = await (net as NetLab).exec(nat.internet.ns, [
        "iptables",
        action,
        "FORWARD",
        "-s",
        src,
        "-d",
        dst,
        "-j",
        "DROP",
      ]);
      if (r.code !== 0) throw new Error(`iptables ${action}: ${r.stderr.trim()}`);
    }
  }

  it("finishes a transfer begun on the relay after the session moves to a punched path", async () => {
    await firewall("-I");
    const inbox = cli.tempDir("inbox");
    const { registry, alice, bob } = await startNatPeers(cli, nat, {
      registry: ["--relay-rate", String(RELAY_RATE)],
      alice: ["--path-retry-ms", "1000"],
      bob: ["--accept-files", inbox],
    });

    alice.send({ cmd: "connect", to: "bob" });
    const relayed = await alice.waitFor((e) => e.event === "path" && e.peer === "bob", "a path", STEP_MS);
    expect(relayed.kind).toBe("relay");

    const data = new Uint8Array(randomBytes(SIZE));
    const src = join(cli.tempDir("src"), "report.bin");
    writeFileSync(src, data);
    alice.send({ cmd: "sendFile", to: "bob", path: src });
    const offered = await alice.waitFor((e) => e.event === "transfer" && e.state === "offered", "offered");
    const id = offered.id;
    await bob.waitFor(
      (e) => isTransfer(id, "progress")(e) && (e.bytes as number) >= 0.1 * SIZE,
      "10% over the relay",
      60_000,
    );

    await firewall("-D");
    const moved = await alice.waitFor(
      (e) => e.event === "path" && e.peer === "bob" && e.kind !== "relay",
      "the move to a direct path",
      STEP_MS,
    );
    expect(moved.kind).toBe("punched");
    const movedAt = alice.events.indexOf(moved);
    const bobMoved = await bob.waitFor(
      (e) => e.event === "path" && e.peer === "alice" && e.kind !== "relay",
      "bob's side moving",
      STEP_MS,
    );
    expect(bobMoved.kind).toBe("punched");

    const done = await bob.waitFor(isTransfer(id, "done"), "done at bob", 120_000);
    const sent = await alice.waitFor(isTransfer(id, "done"), "done at alice", STEP_MS);
    expect(sha256(readFileSync(done.path as string))).toBe(sha256(data));
    // The transfer was still running when the session moved, and it is the same transfer.
    expect(alice.events.indexOf(sent)).toBeGreaterThan(movedAt);
    // Relayed datagrams still in flight after the move do not pull the session back.
    expect(alice.events.slice(movedAt).filter((e) => e.event === "path" && e.kind === "relay")).toEqual([]);
    for (const p of [alice, bob]) {
      expect(p.events.filter((e) => e.event === "transfer" && e.state === "failed")).toEqual([]);
      expect(p.events.filter((e) => e.event === "transfer" && e.state === "offered")).toHaveLength(1);
    }
    const progressBefore = bob.events
      .slice(0, bob.events.indexOf(bobMoved))
      .filter(isTransfer(id, "progress"))
      .at(-1);
    // On the relay, datagrams stay at the base size, envelope included; the punched path
    // then proved larger ones (up to its 1,500-byte Ethernet MTU at once).
    const sizes = sent.datagramSizes as Record<string, number>;
    expect(sizes["1200"] ?? 0).toBeGreaterThan(0);
    expect(sizes["1472"] ?? 0).toBeGreaterThan(0);
    // The registry accounts for what it relayed, in its log when it stops.
    expect(await registry.stop()).toEqual({ code: 0, signal: null });
    expect(registry.stderr).toMatch(/relay: \d+ channels; [1-9]\d* datagrams \(\d+\.\d MB\) forwarded/);
    console.log(
      `relay -> ${moved.kind}: moved after ${progressBefore?.bytes ?? 0} of ${SIZE} bytes; sent ${sent.sentBytes} bytes in all`,
    );
  }, 180_000);
});
