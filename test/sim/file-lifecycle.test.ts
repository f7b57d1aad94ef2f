/**
 * File transfer lifecycle through the real wiring (file-peers.ts) on a seeded SimWorld: flow
 * control against a disk that stops making writes durable, resume from the manifest a stopped
 * receiver left, cancel from either side (also while the receiver's window is closed),
 * decline, a file that changed under its offer (SHA-256 mismatch), and a file that arrived
 * whole but cannot be put in place. Every test names its seed; time is virtual.
 */

import { existsSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BULK_DEFAULTS } from "../../src/files/file-core.js";
import { MAX_DATAGRAM_BYTES } from "../../src/protocol/limits.js";
import { type FilePeer, filePair, makeFile, removeFolders, StallableDisk, sha256 } from "./file-peers.js";
import { type LinkFaults, SimWorld } from "./role-sim.js";

afterEach(removeFolders);

const LINK: LinkFaults = { delayMs: 1, jitterMs: 0.2, loss: 0.02, bytesPerSecond: 20_000_000 };
/** No MTU on these links: the hosts know it (as on a loopback), and large datagrams keep the runs short. */
const NO_MTU = { alice: { linkMtuBytes: 65_536 }, bob: { linkMtuBytes: 65_536 } };
/** What a receiver holds out of the disk at most: its write budget and its channel's window. */
const HELD_BYTES = BULK_DEFAULTS.writeBudgetBytes + BULK_DEFAULTS.receiveWindowBytes;
/** A file that fills both with room to spare. */
const BIG_FILE = HELD_BYTES + 12_000_000;
/** A datagram this large carries a chunk (control messages, ACKs and keepalives are smaller). */
const CHUNK_DATAGRAM = 1000;

/** Datagrams from `from` to `to` large enough to carry chunks, with their sending times. */
function tapChunks(world: SimWorld, from: FilePeer, to: FilePeer): number[] {
  const at: number[] = [];
  world.onSend = (src, dst, bytes) => {
    if (src.host === from.host && dst.host === to.host && bytes.length > CHUNK_DATAGRAM) at.push(world.now);
  };
  return at;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(sha256(bytes)).toString("hex");
}

/** Alice sends a big file to bob, whose disk stops taking writes once `stallAtBytes` are durable. */
async function stalledTransfer(seed: number, stallAtBytes: number) {
  const world = new SimWorld({ seed });
  const disk = new StallableDisk();
  const { alice, bob } = await filePair(world, {
    link: LINK,
    ...NO_MTU,
    bob: { linkMtuBytes: 65_536, writeFile: disk.write },
  });
  // A first file proves 64 KiB datagrams on the path: every chunk of the next is one size, so
  // the receiver's window in bytes is what it promises (one promised in small chunks stays
  // promised in segments when they grow).
  const warmUp = await alice.sendFile("warm-up.bin", makeFile(seed + 1, 2_000_000));
  await world.until(() => alice.endOf(warmUp) !== undefined, 10_000, "the first file");
  expect(alice.path().plpmtuBytes, `seed=${seed}`).toBe(MAX_DATAGRAM_BYTES);
  const sent = tapChunks(world, alice, bob);
  const file = makeFile(seed, BIG_FILE);
  const id = await alice.sendFile("stall-test.bin", file);
  const n = { alice: alice.transfers.numberOf(id), bob: 0 };
  await world.until(
    () => {
      n.bob = bob.transfers.numberOf(id);
      return n.bob > 0 && bob.bytesOf(n.bob) >= stallAtBytes;
    },
    60_000,
    "the first bytes made durable",
  );
  disk.stalled = true;
  return { world, disk, alice, bob, sent, file, id, n };
}

describe("file transfer: flow control", () => {
  for (const seed of [41, 42]) {
    it(`a receiver whose disk stalls is never overrun: bounded memory, sender waits, resumes after seed=${seed}`, async () => {
      const { world, disk, alice, bob, sent, file, id, n } = await stalledTransfer(seed, 4_000_000);
      const msg = `seed=${seed}`;
      // The receiver takes chunks into its write budget, then its window fills and closes.
      await world.advance(2_000);
      const durableAtStall = bob.bytesOf(n.bob);
      const ackedAtStall = alice.bytesOf(n.alice);
      const sentAtStall = sent.length;
      // A further minute: the window is closed, only zero-window probes (backed off) go out.
      await world.advance(60_000);
      const acked = alice.bytesOf(n.alice);
      const held = acked - bob.bytesOf(n.bob);
      console.log(
        `seed=${seed} stalled at ${durableAtStall} B durable; acknowledged ${acked} B, so ${held} B held ` +
          `(at most ${HELD_BYTES}); chunk datagrams during the minute: ${sent.length - sentAtStall}`,
      );
      expect(bob.bytesOf(n.bob), msg).toBe(durableAtStall);
      expect(acked, msg).toBe(ackedAtStall);
      // Memory is bounded: the write budget (handed to the disk, not written) and the window.
      expect(held, msg).toBeLessThanOrEqual(HELD_BYTES + 65_536);
      // The budget was used: chunks were taken while the disk took nothing.
      expect(held, msg).toBeGreaterThan(BULK_DEFAULTS.writeBudgetBytes);
      expect(sent.length - sentAtStall, msg).toBeLessThan(40);
      expect(alice.endOf(id), msg).toBeUndefined();
      // The disk catches up: the window reopens and the transfer completes.
      disk.resume();
      await world.until(() => bob.endOf(id) !== undefined, 60_000, "the end");
      expect(bob.endOf(id)?.state, msg).toBe("done");
      expect(hex(bob.received(id)), msg).toBe(hex(file));
      await world.until(() => alice.endOf(id) !== undefined, 10_000, "the sender's end");
      expect(alice.endOf(id)?.state, msg).toBe("done");
    });
  }
});

describe("file transfer: flow control on a path still growing its datagrams", () => {
  it("a receiver whose disk stalls holds no more than its bound, though its window was promised in small chunks seed=43", async () => {
    const seed = 43;
    const msg = `seed=${seed}`;
    const world = new SimWorld({ seed });
    const disk = new StallableDisk();
    // No warm-up: the window is promised while chunks are 1.1 KiB and filled once they are
    // 64 KiB, so only the byte bound on arrival keeps it (transport/reassembly.ts).
    const { alice, bob } = await filePair(world, {
      link: LINK,
      ...NO_MTU,
      bob: { linkMtuBytes: 65_536, writeFile: disk.write },
    });
    const file = makeFile(seed, BIG_FILE);
    const id = await alice.sendFile("big.bin", file);
    await world.until(
      () => bob.transfers.numberOf(id) > 0 && bob.bytesOf(bob.transfers.numberOf(id)) >= 1_000_000,
      60_000,
      "the first bytes durable",
    );
    disk.stalled = true;
    await world.advance(60_000);
    const n = { alice: alice.transfers.numberOf(id), bob: bob.transfers.numberOf(id) };
    const held = alice.bytesOf(n.alice) - bob.bytesOf(n.bob);
    console.log(`${msg}: ${held} B acknowledged beyond what is durable (at most ${HELD_BYTES})`);
    expect(held, msg).toBeLessThanOrEqual(HELD_BYTES + 65_536);
    disk.resume();
    await world.until(() => bob.endOf(id) !== undefined, 60_000, "the end");
    expect(bob.endOf(id)?.state, msg).toBe("done");
    expect(hex(bob.received(id)), msg).toBe(hex(file));
  });
});

describe("file transfer: resume", () => {
  for (const seed of [51, 52]) {
    it(`resumes from the manifest a stopped receiver left and re-sends less than 25% of the file seed=${seed}`, async () => {
      const msg = `seed=${seed}`;
      const world = new SimWorld({ seed });
      const file = makeFile(seed, 4_000_000);
      // Session 1: the receiver shuts down once about 40% of the file is durable.
      const one = await filePair(world, { link: { ...LINK, loss: 0.05, jitterMs: 0.5 } });
      const first = await one.alice.sendFile("report.pdf", file);
      await world.until(
        () => one.bob.bytesOf(one.bob.transfers.numberOf(first)) >= 1_600_000,
        60_000,
        "40% durable",
      );
      await one.bob.stop();
      await world.until(() => one.alice.endOf(first) !== undefined, 120_000, "the sender hearing of it");
      const ended = one.alice.endOf(first);
      expect(ended, msg).toMatchObject({ state: "failed", code: "FILE_PEER_LOST" });
      expect(one.bob.endOf(first), msg).toMatchObject({ state: "failed", partial: "kept" });
      await one.alice.stop();

      // Session 2: new processes, the same download folder; a new offer, a new id.
      const two = await filePair(world, {
        link: { ...LINK, loss: 0.05, jitterMs: 0.5 },
        bobDir: one.bob.downloadDir,
      });
      const second = await two.alice.sendFile("report.pdf", file);
      await world.until(() => two.alice.endOf(second) !== undefined, 60_000, "the resumed transfer");
      const done = two.alice.endOf(second);
      const accepted = two.bob.eventsOf(second).find((e) => e.state === "accepted");
      const held = accepted?.skippedBytes ?? 0;
      const sent1 = ended?.sentBytes ?? 0;
      const sent2 = done?.sentBytes ?? 0;
      const resent = sent1 + sent2 - file.length;
      console.log(
        `seed=${seed} bytes=${file.length} sent in session 1=${sent1} held after it=${held} sent in session 2=${sent2} ` +
          `re-sent (retransmissions included)=${resent} (${((100 * resent) / file.length).toFixed(1)}%)`,
      );
      expect(done?.state, msg).toBe("done");
      await world.until(() => two.bob.endOf(second) !== undefined, 10_000, "the receiver's end");
      expect(hex(two.bob.received(second)), msg).toBe(hex(file));
      // The partial file was resumed under its own name, not received afresh beside it.
      expect(basename(two.bob.endOf(second)?.path ?? ""), msg).toBe("report.pdf");
      expect(held, msg).toBeGreaterThanOrEqual(1_600_000);
      expect(done?.skippedBytes, msg).toBe(held);
      // Session 2 sent what the manifest did not hold (and its retransmissions), no more.
      expect(sent2, msg).toBeGreaterThanOrEqual(file.length - held);
      expect(resent, msg).toBeLessThan(0.25 * file.length);
    });
  }
});

describe("file transfer: cancel and decline", () => {
  it("the sender cancels mid-transfer: the receiver is told, its partial file goes, and no chunk is sent afterwards seed=61", async () => {
    const seed = 61;
    const msg = `seed=${seed}`;
    const world = new SimWorld({ seed });
    const { alice, bob } = await filePair(world, { link: LINK });
    const sent = tapChunks(world, alice, bob);
    const id = await alice.sendFile("cancel-by-sender.bin", makeFile(seed, 4_000_000));
    await world.until(() => bob.bytesOf(bob.transfers.numberOf(id)) >= 300_000, 60_000, "300 kB durable");
    const part = bob.eventsOf(id).find((e) => e.state === "accepted")?.path as string;
    expect(existsSync(part), msg).toBe(true);
    const cancelAt = world.now;
    alice.transfers.cancel(id);
    alice.transfers.cancel(id); // twice before it ends is harmless
    await world.advance(5_000);
    expect(
      alice.eventsOf(id).filter((e) => e.state === "cancelled"),
      msg,
    ).toMatchObject([{ code: "FILE_CANCELLED", by: "local", message: "cancelled by the user" }]);
    expect(bob.endOf(id), msg).toMatchObject({
      state: "cancelled",
      code: "FILE_CANCELLED",
      by: "peer",
      message: "cancelled by the user",
      partial: "removed",
    });
    expect(existsSync(part), msg).toBe(false);
    expect(
      sent.filter((at) => at > cancelAt),
      msg,
    ).toEqual([]);
    expect(() => alice.transfers.cancel(id)).toThrow(/no transfer/);
  });

  it("the receiver cancels while its window is closed: the sender is told at once, over stream 0 seed=62", async () => {
    const seed = 62;
    const msg = `seed=${seed}`;
    const { world, disk, alice, bob, id } = await stalledTransfer(seed, 100_000);
    await world.advance(3_000); // the window closes; the sender is probing
    expect(alice.endOf(id), msg).toBeUndefined();
    bob.transfers.cancel(id);
    const cancelAt = world.now;
    await world.until(() => alice.endOf(id) !== undefined, 1_000, "the sender hearing of it");
    expect(world.now - cancelAt, msg).toBeLessThan(50);
    expect(alice.endOf(id), msg).toMatchObject({ state: "cancelled", code: "FILE_CANCELLED", by: "peer" });
    // The receiver reports its end once the write it is stuck in returns (it removes the
    // partial file, which a write in flight must not recreate).
    expect(bob.transfers.list(), msg).toEqual([]);
    expect(bob.endOf(id), msg).toBeUndefined();
    disk.resume();
    await world.until(() => bob.endOf(id) !== undefined, 1_000, "the receiver's end");
    expect(bob.endOf(id), msg).toMatchObject({
      state: "cancelled",
      code: "FILE_CANCELLED",
      by: "local",
      partial: "removed",
    });
  });

  it("the sender's cancel reaches a receiver whose window is closed seed=63", async () => {
    const seed = 63;
    const msg = `seed=${seed}`;
    const { world, disk, alice, bob, id } = await stalledTransfer(seed, 100_000);
    await world.advance(3_000);
    expect(bob.transfers.list(), msg).toHaveLength(1);
    alice.transfers.cancel(id);
    const cancelAt = world.now;
    await world.until(() => bob.transfers.list().length === 0, 1_000, "the receiver hearing of it");
    expect(world.now - cancelAt, msg).toBeLessThan(50);
    disk.resume();
    await world.until(() => bob.endOf(id) !== undefined, 1_000, "the receiver's end");
    expect(bob.endOf(id), msg).toMatchObject({ state: "cancelled", code: "FILE_CANCELLED", by: "peer" });
  });

  it("a declined offer ends the sender's transfer and none of the file crosses seed=64", async () => {
    const seed = 64;
    const world = new SimWorld({ seed });
    const { alice, bob } = await filePair(world, { link: LINK, bob: { autoAccept: false } });
    let wireBytes = 0;
    world.onSend = (from, _to, bytes) => {
      if (from.host === alice.host) wireBytes += bytes.length;
    };
    const file = makeFile(seed, 10_000_000);
    const id = await alice.sendFile("declined-offer.bin", file);
    await world.until(() => bob.eventsOf(id).some((e) => e.state === "offered"), 10_000, "the offer");
    bob.transfers.decline(id);
    await world.until(() => alice.endOf(id) !== undefined, 10_000, "the sender hearing of it");
    await world.advance(1_000);
    expect(alice.endOf(id), `seed=${seed}`).toMatchObject({
      state: "failed",
      code: "FILE_DECLINED",
      by: "peer",
    });
    expect(bob.endOf(id), `seed=${seed}`).toMatchObject({ code: "FILE_DECLINED", by: "local" });
    // The wire is encrypted: what alice sent at all (the offer, ACKs, keepalives and the
    // path-MTU probes) is a small fraction of the file.
    expect(wireBytes, `seed=${seed}`).toBeLessThan(0.05 * file.length);
  });
});

describe("file transfer: endings after the last byte", () => {
  it("a file that changed after it was offered fails its SHA-256 at the receiver, and the sender is told seed=65", async () => {
    const seed = 65;
    const world = new SimWorld({ seed });
    const { alice, bob } = await filePair(world, { link: LINK });
    const id = await alice.sendFile("hash-mismatch.bin", makeFile(seed, 300_000));
    // Rewritten in place before a byte is read: the offer's SHA-256 is the old content's.
    writeFileSync(join(alice.outbox, "hash-mismatch.bin"), makeFile(seed + 1, 300_000));
    await world.until(() => alice.endOf(id) !== undefined, 60_000, "the end");
    expect(bob.endOf(id), `seed=${seed}`).toMatchObject({
      state: "failed",
      code: "FILE_HASH_MISMATCH",
      by: "local",
      partial: "removed",
    });
    expect(alice.endOf(id), `seed=${seed}`).toMatchObject({
      state: "failed",
      code: "FILE_HASH_MISMATCH",
      by: "peer",
    });
  });

  it("a file that arrived whole but cannot be put in place fails on both sides, and the sender never shows done seed=66", async () => {
    const seed = 66;
    const world = new SimWorld({ seed });
    const { alice, bob } = await filePair(world, { link: LINK });
    const file = makeFile(seed, 300_000);
    const id = await alice.sendFile("cannot-place.bin", file);
    await world.until(() => bob.eventsOf(id).some((e) => e.state === "accepted"), 10_000, "the accept");
    // The `.part` is removed under the running transfer (a cleaner, a user): its bytes still
    // arrive and check out through the open descriptor, but there is nothing to link in place.
    const part = bob.eventsOf(id).find((e) => e.state === "accepted")?.path as string;
    rmSync(part);
    await world.until(() => alice.endOf(id) !== undefined, 60_000, "the end");
    expect(bob.endOf(id), `seed=${seed}`).toMatchObject({
      state: "failed",
      code: "FILE_WRITE_FAILED",
      by: "local",
    });
    expect(bob.endOf(id)?.message, `seed=${seed}`).toMatch(/cannot put the finished file in place/);
    expect(alice.endOf(id), `seed=${seed}`).toMatchObject({
      state: "failed",
      code: "FILE_WRITE_FAILED",
      by: "peer",
    });
    expect(
      alice.eventsOf(id).some((e) => e.state === "done"),
      `seed=${seed}`,
    ).toBe(false);
  });
});
