/**
 * File transfer end to end through the real wiring (file-peers.ts: `FileTransfers` and its
 * disk adapter over `UdpHost`s) on a seeded SimWorld: files of edge and random sizes across
 * loss, reordering, duplication and corruption, several at once both ways on one session,
 * path-MTU discovery on different links, chat on stream 0 during bulk, and fair sharing.
 * Every test names its seed; time is virtual.
 */

import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_DATAGRAM_BYTES, MAX_DATAGRAM_BYTES } from "../../src/protocol/limits.js";
import { LADDER } from "../../src/transport/path-mtu.js";
import { type FilePeer, filePair, makeFile, removeFolders, sha256 } from "./file-peers.js";
import { Prng } from "./prng.js";
import { type LinkFaults, SimWorld } from "./role-sim.js";

const K = 1024;

afterEach(removeFolders);

/** Sizes for one seed: the edges (empty, one byte, around KiB multiples) and random ones up to 1 MB. */
function sizesFor(seed: number): number[] {
  const rng = new Prng(seed ^ 0x517e);
  const edges = [0, 1, K - 1, K, K + 1, 64 * K];
  return [...edges.filter((_, i) => (i + seed) % 2 === 0), rng.int(200_000), 300_000 + rng.int(700_000)];
}

const HOSTILE: LinkFaults = {
  mtuBytes: 1500,
  delayMs: 1,
  jitterMs: 0.5,
  duplicate: 0.03,
  reorder: 0.05,
  reorderDelayMs: 10,
  corrupt: 0.02,
  bytesPerSecond: 50_000_000,
  queueLimitBytes: 256 * 1024,
};

/** Waits until every transfer in `ids` of `peer` has ended. */
async function ended(world: SimWorld, peer: FilePeer, ids: string[], maxMs: number): Promise<void> {
  await world.until(() => ids.every((id) => peer.endOf(id) !== undefined), maxMs, `${peer.name}'s transfers`);
}

function expectSame(got: Uint8Array, want: Uint8Array, msg: string): void {
  expect(Buffer.from(sha256(got)).toString("hex"), msg).toBe(Buffer.from(sha256(want)).toString("hex"));
}

describe("file transfer through the real wiring over a faulty simulated LAN", () => {
  for (const [seed, loss] of [
    [1, 0.05],
    [2, 0.1],
    [3, 0.2],
    [0xf11e, 0.15],
  ] as const) {
    it(`random files cross ${loss * 100}% loss, reordering, duplication and corruption, and their SHA-256 matches seed=${seed}`, async () => {
      const world = new SimWorld({ seed });
      const { alice, bob } = await filePair(world, { link: { ...HOSTILE, loss } });
      const sizes = sizesFor(seed);
      const files = sizes.map((size, i) => makeFile(seed * 100 + i, size));
      // Several transfers at once, in both directions, on one session.
      const ids: string[] = [];
      for (const [i, file] of files.entries()) ids.push(await alice.sendFile(`a-to-b-${i}.bin`, file));
      const back = makeFile(seed * 100 + 99, 150_000 + seed);
      const backId = await bob.sendFile("b-to-a.bin", back);
      const msg = () => `seed=${seed} t=${world.now.toFixed(0)}ms ${JSON.stringify(world.faultCounts)}`;
      await ended(world, bob, [...ids, backId], 600_000);
      await ended(world, alice, [...ids, backId], 10_000);
      console.log(`seed=${seed} loss=${loss} sizes=${sizes} simulated=${world.now.toFixed(0)}ms ${msg()}`);
      for (const [i, file] of files.entries()) {
        const id = ids[i] as string;
        expect(bob.endOf(id), `${msg()} file ${i}`).toMatchObject({ state: "done", size: file.length });
        expectSame(bob.received(id), file, `${msg()} file ${i} (${file.length} bytes)`);
        const sent = alice.endOf(id);
        expect(sent, msg()).toMatchObject({ state: "done", skippedBytes: 0 });
        // At this much loss, data never rode in datagrams that fragment: no path earns them.
        for (const size of Object.keys(sent?.datagramSizes ?? {}).map(Number))
          expect(size, `${msg()} ${JSON.stringify(sent?.datagramSizes)}`).toBeLessThanOrEqual(1472);
      }
      expectSame(alice.received(backId), back, msg());
      // The faults really happened, and the transfers repaired them.
      expect(world.counts.lost, msg()).toBeGreaterThan((loss / 2) * world.counts.delivered);
      expect(world.faultCounts.duplicated + world.faultCounts.reordered, msg()).toBeGreaterThan(50);
      expect(world.faultCounts.corrupted, msg()).toBeGreaterThan(0);
    });
  }

  for (const [what, mtuBytes, dropFragments, largest, megabytes, share] of [
    ["a loopback carries 64 KiB datagrams at once", 65_536, false, MAX_DATAGRAM_BYTES, 4, 0.9],
    [
      "a clean Ethernet LAN earns fragmented datagrams up to 64 KiB",
      1500,
      false,
      MAX_DATAGRAM_BYTES,
      40,
      0.25,
    ],
    ["a path that drops fragments stays at 1,472 bytes", 1500, true, 1472, 4, 0.9],
    [
      "a VPN with a small MTU that drops fragments stays at the base size",
      1400,
      true,
      DEFAULT_DATAGRAM_BYTES,
      4,
      0.9,
    ],
  ] as const) {
    it(`path-MTU discovery: ${what}, and chunks fill those datagrams seed=21`, async () => {
      const seed = 21;
      const world = new SimWorld({ seed });
      const link = { delayMs: 1, jitterMs: 0, mtuBytes, dropFragments };
      const { alice, bob } = await filePair(world, {
        link,
        alice: { linkMtuBytes: mtuBytes },
        bob: { linkMtuBytes: mtuBytes },
      });
      const file = makeFile(seed, megabytes * 1_000_000);
      const id = await alice.sendFile("pmtu-test.bin", file);
      await ended(world, alice, [id], 600_000);
      const end = alice.endOf(id);
      const msg = `seed=${seed} ${JSON.stringify(end)}`;
      expect(end?.state, msg).toBe("done");
      await ended(world, bob, [id], 1_000);
      expectSame(bob.received(id), file, msg);
      expect(end?.pathMtuBytes, msg).toBe(largest);
      // The largest proven size carried its share of the bytes (on a fragmenting path only
      // once the path had shown it loses nothing).
      const sizes = end?.datagramSizes ?? {};
      const bytesIn = (rung: number) => (sizes[String(rung)] ?? 0) * rung;
      const total = LADDER.reduce((sum, rung) => sum + bytesIn(rung), 0);
      const rung = LADDER.find((r) => r >= largest) as number;
      expect(bytesIn(rung), msg).toBeGreaterThan(share * total);
      expect(world.faultCounts.fragmentDropped > 0, msg).toBe(dropFragments);
    });
  }

  it("is deterministic in its network behaviour: the same seed gives the same run seed=22", async () => {
    const runOnce = async () => {
      const world = new SimWorld({ seed: 22 });
      const { alice, bob } = await filePair(world, { link: { ...HOSTILE, loss: 0.1 } });
      const id = await alice.sendFile("deterministic.bin", makeFile(22, 300_000));
      await ended(world, alice, [id], 600_000);
      await ended(world, bob, [id], 1_000);
      const { id: _, ...end } = alice.endOf(id) ?? {};
      return { now: world.now, counts: world.counts, faults: world.faultCounts, end };
    };
    const first = await runOnce();
    removeFolders();
    expect(await runOnce()).toEqual(first);
  });

  for (const [seed, transfers] of [
    [31, 1],
    [82, 2],
  ] as const) {
    it(`keeps chat on stream 0 flowing while ${transfers} bulk transfer(s) fill the link seed=${seed}`, async () => {
      const world = new SimWorld({ seed });
      const { alice, bob } = await filePair(world, {
        link: {
          delayMs: 2,
          jitterMs: 0,
          bytesPerSecond: 10_000_000,
          queueLimitBytes: 128 * 1024,
          loss: 0.01,
        },
      });
      const files = Array.from({ length: transfers }, (_, i) => makeFile(seed + i, 2_000_000 / transfers));
      const ids: string[] = [];
      for (const [i, f] of files.entries()) ids.push(await alice.sendFile(`bulk-with-chat-${i}.bin`, f));
      const busy = () => ids.some((id) => alice.endOf(id) === undefined);
      const sentAt = new Map<string, number>();
      let n = 0;
      // A chat line every 5 ms while the files are on their way.
      const tick = () => {
        if (!busy()) return;
        const text = `hello ${n++}`;
        sentAt.set(text, world.now);
        alice.sendChat(text);
        world.schedule(5, tick);
      };
      tick();
      await world.until(() => !busy() && bob.chat.length === n, 600_000, "the files and the chat");
      const latencies = bob.chat.map((c) => c.at - (sentAt.get(c.text) as number));
      const worst = Math.max(...latencies);
      console.log(
        `seed=${seed} chat messages=${n} worst latency=${worst.toFixed(1)}ms during ${world.now.toFixed(0)}ms of ${transfers} bulk transfer(s)`,
      );
      expect(n, `seed=${seed}`).toBeGreaterThan(20);
      expect(
        bob.chat.map((c) => c.text),
        `seed=${seed}`,
      ).toEqual([...sentAt.keys()]);
      // One-way delay is 2 ms: chat waits for a queue a few milliseconds long, never for a file.
      expect(worst, `seed=${seed}`).toBeLessThan(60);
      await ended(world, bob, ids, 1_000);
      for (const [i, f] of files.entries()) expectSame(bob.received(ids[i] as string), f, `seed=${seed}`);
    });
  }
});

describe("several transfers at once share the link", () => {
  it("two transfers on one session progress at similar rates, with a third the other way seed=81", async () => {
    const seed = 81;
    const world = new SimWorld({ seed });
    const { alice, bob } = await filePair(world, {
      link: { delayMs: 2, jitterMs: 0, bytesPerSecond: 10_000_000, queueLimitBytes: 128 * 1024, loss: 0.005 },
    });
    const size = 3_000_000;
    const one = makeFile(seed, size);
    const two = makeFile(seed + 1, size);
    const back = makeFile(seed + 2, 500_000);
    // Both offered in the same turn, and one going the other way at the same time.
    const [a, b, c] = await world.wait(
      Promise.all([
        alice.offerFile("fair-one.bin", one),
        alice.offerFile("fair-two.bin", two),
        bob.offerFile("fair-back.bin", back),
      ]),
      10_000,
      "the offers",
    );
    const na = alice.transfers.numberOf(a);
    const nb = alice.transfers.numberOf(b);
    // Every 50 ms: how much each has delivered (acknowledged bytes, from `list()`).
    const samples: Array<[number, number]> = [];
    const sample = () => {
      if (alice.endOf(a) !== undefined || alice.endOf(b) !== undefined) return;
      samples.push([alice.bytesOf(na), alice.bytesOf(nb)]);
      world.schedule(50, sample);
    };
    world.schedule(50, sample);
    await world.until(
      () => alice.endOf(a) !== undefined || alice.endOf(b) !== undefined,
      600_000,
      "a first file",
    );
    // Rates over 100 ms windows once both run (the first offer is answered a little earlier).
    const rates: number[] = [];
    for (let i = 2; i + 2 < samples.length; i += 2) {
      const [a0, b0] = samples[i] as [number, number];
      const [a1, b1] = samples[i + 2] as [number, number];
      rates.push((a1 - a0) / Math.max(1, b1 - b0));
    }
    const last = samples.at(-1) as [number, number];
    console.log(
      `seed=${seed} first finished at ${world.now.toFixed(0)}ms with ${last[0]} B and ${last[1]} B; rate ratios per 100 ms: ${rates.map((r) => r.toFixed(2)).join(" ")}`,
    );
    expect(rates.length, `seed=${seed}`).toBeGreaterThan(2);
    // Within a third of each other (each transfer's own controller converges slowly).
    for (const r of rates) {
      expect(r, `seed=${seed} ${rates}`).toBeGreaterThan(0.75);
      expect(r, `seed=${seed} ${rates}`).toBeLessThan(1.33);
    }
    expect(last[0] / last[1], `seed=${seed}`).toBeGreaterThan(0.67);
    expect(last[0] / last[1], `seed=${seed}`).toBeLessThan(1.5);
    await ended(world, bob, [a, b], 600_000);
    await ended(world, alice, [c], 600_000);
    expectSame(bob.received(a), one, `seed=${seed}`);
    expectSame(bob.received(b), two, `seed=${seed}`);
    expectSame(alice.received(c), back, `seed=${seed}`);
  });
});
