/**
 * File transfer lifecycle over the seeded SimNetwork: flow control against a stalled disk,
 * resume from a serialised manifest, cancel from either side, decline, and a file whose
 * SHA-256 does not match its offer. Every test names its seed; time is simulated.
 */

import { describe, expect, it } from "vitest";
import { chunkLengthOf } from "../../src/protocol/file-chunk.js";
import type { FileReceiverOptions } from "../../src/transfer/file-receiver.js";
import type { FileSender } from "../../src/transfer/file-sender.js";
import { BULK_DEFAULTS } from "../../src/transfer/file-transfer.js";
import { decodeManifest, manifestMatchesOffer } from "../../src/transfer/transfer-manifest.js";
import { type LinkOptions, SimNetwork } from "../sim/sim-network.js";
import { chunkIndexesOf, makeFile, PeerNode, type SimDisk, sha256 } from "./file-sim.js";

function peers(seed: number, link: LinkOptions, receiverOpts: Omit<FileReceiverOptions, "offer"> = {}) {
  const net = new SimNetwork({ seed, link });
  const alice = new PeerNode("alice", "bob", seed);
  const bob = new PeerNode("bob", "alice", seed + 1);
  net.addNode("alice", alice);
  net.addNode("bob", bob);
  bob.onOffer = (offer) => {
    const r = bob.receive(offer, receiverOpts);
    r.accept();
    return r;
  };
  return { net, alice, bob };
}

function sendFile(
  from: PeerNode,
  id: string,
  file: Uint8Array,
  stream = 1,
  digest = sha256(file),
): FileSender {
  return from.send({ id, stream, name: "report.pdf", sizeBytes: file.length, sha256: digest, file });
}

/** Records the chunk indexes (and send times) of every datagram on the link from `a` to `b`. */
function tapChunks(net: SimNetwork, link: LinkOptions, from = "alice", to = "bob") {
  const sent: Array<{ index: number; at: number }> = [];
  net.setLink(from, to, {
    ...link,
    drop: (d) => {
      for (const index of chunkIndexesOf(d.bytes)) sent.push({ index, at: d.now });
      return false;
    },
  });
  return sent;
}

describe("file transfer: flow control", () => {
  for (const seed of [41, 42]) {
    it(`a receiver whose disk stalls is never overrun: bounded memory, sender waits, resumes after seed=${seed}`, () => {
      const link: LinkOptions = {
        delayMs: 1,
        jitterMs: 0.2,
        lossRate: 0.02,
        bandwidthBytesPerSecond: 20_000_000,
      };
      const receiveWindowSegments = 128;
      const writeBudgetChunks = 16;
      const { net, alice, bob } = peers(seed, link, { receiveWindowSegments, writeBudgetChunks });
      const file = makeFile(seed, 2_000_000);
      const sender = sendFile(alice, "stall-test", file);
      const id = sender.id;
      const msg = `seed=${seed}`;
      let maxBuffered = 0;
      let maxSenderHeld = 0;
      const watch = () => {
        const r = bob.receivers.get(id);
        if (r !== undefined) maxBuffered = Math.max(maxBuffered, r.stats.bufferedChunks);
        const s = sender.stats;
        maxSenderHeld = Math.max(maxSenderHeld, s.chunksQueued - s.chunksAcknowledged);
        return false;
      };
      // Let a quarter of the file through, then the disk stops making writes durable.
      net.runUntil(() => {
        watch();
        return (bob.receivers.get(id)?.stats.durableChunks ?? 0) >= 500;
      }, 60_000);
      const disk = bob.disks.get(id) as SimDisk;
      disk.stalled = true;
      const stallAt = net.now;
      net.runUntil(watch, stallAt + 2_000);
      const receiver = bob.receivers.get(id);
      if (receiver === undefined) throw new Error(msg);
      const durableAtStall = receiver.stats.durableChunks;
      const sentAtStall = sender.stats.channel.segmentsSent;
      // A further minute: the window is closed, only zero-window probes (backed off) go out.
      net.runUntil(watch, stallAt + 62_000);
      const stalled = receiver.stats;
      console.log(
        `seed=${seed} stalled: buffered=${stalled.bufferedChunks} (max ${maxBuffered}), pending writes=${stalled.pendingWrites}, ` +
          `segments sent during the minute=${sender.stats.channel.segmentsSent - sentAtStall}`,
      );
      expect(maxBuffered, msg).toBeLessThanOrEqual(receiveWindowSegments + writeBudgetChunks);
      expect(stalled.pendingWrites, msg).toBe(writeBudgetChunks);
      expect(stalled.channel.bufferedSegments, msg).toBeGreaterThan(receiveWindowSegments - 10);
      expect(stalled.durableChunks, msg).toBe(durableAtStall);
      expect(sender.stats.channel.segmentsSent - sentAtStall, msg).toBeLessThan(40);
      expect(sender.state, msg).toBe("transferring");
      expect(maxSenderHeld, msg).toBeLessThanOrEqual(
        BULK_DEFAULTS.sendWindowSegments + BULK_DEFAULTS.feedAheadChunks,
      );
      // The disk catches up: the window reopens and the transfer completes.
      bob.resumeDisk(id, net.now);
      const done = net.runUntil(() => {
        watch();
        return sender.state === "completed";
      }, net.now + 60_000);
      expect(done, msg).toBe(true);
      expect(maxBuffered, msg).toBeLessThanOrEqual(receiveWindowSegments + writeBudgetChunks);
      expect(Buffer.compare(disk.bytes, file), msg).toBe(0);
      expect(bob.eventsOf(id), msg).toEqual([{ type: "completed" }]);
    });
  }
});

describe("file transfer: resume", () => {
  for (const seed of [51, 52]) {
    it(`resumes from the receiver's manifest and re-sends less than 25% of the file seed=${seed}`, () => {
      const link: LinkOptions = {
        delayMs: 1,
        jitterMs: 0.5,
        lossRate: 0.05,
        bandwidthBytesPerSecond: 20_000_000,
      };
      const file = makeFile(seed, 1_500_000);
      const msg = `seed=${seed}`;

      // Session 1: stop (both processes gone) once about 60% of the file is durable.
      const one = peers(seed, link);
      const sent1 = tapChunks(one.net, link);
      const first = sendFile(one.alice, "resume-one", file);
      one.net.runUntil(() => (one.bob.receivers.get("resume-one")?.stats.durableChunks ?? 0) >= 900, 60_000);
      const chunkCount = first.stats.chunkCount;
      const manifestBytes = (one.bob.receivers.get("resume-one") as { manifest(): Uint8Array }).manifest();
      const disk = one.bob.disks.get("resume-one") as SimDisk;
      expect(first.state, msg).toBe("transferring");

      // Session 2: the receiver reads its sidecar manifest back and resumes; a new offer, a new id.
      const two = peers(seed + 1000, link);
      const sent2 = tapChunks(two.net, link);
      two.bob.onOffer = (offer) => {
        const decoded = decodeManifest(manifestBytes);
        if (!decoded.ok || !manifestMatchesOffer(decoded.value, offer))
          throw new Error(`${msg}: manifest unusable`);
        const r = two.bob.receive(offer, { resume: decoded.value }, disk);
        r.accept();
        return r;
      };
      const second = sendFile(two.alice, "resume-two", file);
      const done = two.net.runUntil(() => second.state === "completed", 60_000);
      expect(done, msg).toBe(true);
      expect(Buffer.compare(disk.bytes, file), msg).toBe(0);

      const held = (decodeManifest(manifestBytes) as { value: { have: { count: number } } }).value.have.count;
      const before = new Set(sent1.map((s) => s.index));
      const after = new Set(sent2.map((s) => s.index));
      const resent = [...after].filter((i) => before.has(i)).length;
      const receiver = two.bob.receivers.get("resume-two");
      console.log(
        `seed=${seed} chunks=${chunkCount} held after session 1=${held} sent in session 2=${after.size} re-sent=${resent} ` +
          `(${((100 * resent) / chunkCount).toFixed(1)}%) read back for the SHA-256=${receiver?.stats.readBacks}`,
      );
      expect(second.stats.skippedChunks, msg).toBe(held);
      expect(second.stats.skippedBytes, msg).toBe(held * 1024);
      // The sender's own count of file bytes put on the wire is what the link carried.
      const wireBytes = (sent: Array<{ index: number }>) =>
        sent.reduce((sum, s) => sum + chunkLengthOf(s.index, file.length, 1024), 0);
      expect(first.stats.sentBytes, msg).toBe(wireBytes(sent1));
      expect(second.stats.sentBytes, msg).toBe(wireBytes(sent2));
      expect(after.size, msg).toBe(chunkCount - held);
      expect(resent, msg).toBeLessThan(0.25 * chunkCount);
      // The hash covered the resumed chunks by reading them back, and only those.
      expect(receiver?.stats.readBacks, msg).toBe(held);
      expect(two.bob.eventsOf("resume-two"), msg).toEqual([{ type: "completed" }]);
    });
  }
});

describe("file transfer: cancel and decline", () => {
  const link: LinkOptions = { delayMs: 1, lossRate: 0.02, bandwidthBytesPerSecond: 20_000_000 };

  it("the sender cancels mid-transfer: the receiver is told, and no chunk is sent afterwards seed=61", () => {
    const seed = 61;
    const { net, alice, bob } = peers(seed, link);
    const sent = tapChunks(net, link);
    const sender = sendFile(alice, "cancel-by-sender", makeFile(seed, 1_000_000));
    net.runUntil(() => (bob.receivers.get(sender.id)?.stats.durableChunks ?? 0) >= 300, 60_000);
    const cancelAt = net.now;
    sender.cancel("wrong file");
    sender.cancel("twice is harmless");
    net.run(net.now + 5_000);
    const msg = `seed=${seed}`;
    expect(alice.eventsOf(sender.id).at(-1), msg).toEqual({
      type: "ended",
      code: "FILE_CANCELLED",
      by: "local",
      message: "wrong file",
    });
    expect(bob.eventsOf(sender.id), msg).toEqual([
      { type: "ended", code: "FILE_CANCELLED", by: "peer", message: "wrong file" },
    ]);
    expect(
      sent.filter((s) => s.at > cancelAt),
      msg,
    ).toEqual([]);
    expect(sender.pollTimeout(), msg).toBeUndefined();
    expect(bob.receivers.get(sender.id)?.pollTimeout(), msg).toBeUndefined();
  });

  it("the receiver cancels while its window is closed: the sender is told at once, over stream 0 seed=62", () => {
    const seed = 62;
    const { net, alice, bob } = peers(seed, link, { receiveWindowSegments: 64, writeBudgetChunks: 8 });
    const sender = sendFile(alice, "cancel-by-receiver", makeFile(seed, 1_000_000));
    net.runUntil(() => (bob.receivers.get(sender.id)?.stats.durableChunks ?? 0) >= 100, 60_000);
    (bob.disks.get(sender.id) as SimDisk).stalled = true;
    net.run(net.now + 3_000); // the window closes; the sender is probing
    const receiver = bob.receivers.get(sender.id);
    expect(receiver?.stats.channel.bufferedSegments, `seed=${seed}`).toBeGreaterThan(50);
    receiver?.cancel("disk full");
    const cancelAt = net.now;
    const told = net.runUntil(() => sender.state === "ended", net.now + 1_000);
    expect(told, `seed=${seed}`).toBe(true);
    expect(net.now - cancelAt, `seed=${seed}`).toBeLessThan(50);
    expect(alice.eventsOf(sender.id).at(-1)).toEqual({
      type: "ended",
      code: "FILE_CANCELLED",
      by: "peer",
      message: "disk full",
    });
    expect(bob.eventsOf(sender.id)).toEqual([
      { type: "ended", code: "FILE_CANCELLED", by: "local", message: "disk full" },
    ]);
  });

  it("the sender's cancel reaches a receiver whose window is closed seed=63", () => {
    const seed = 63;
    const { net, alice, bob } = peers(seed, link, { receiveWindowSegments: 64, writeBudgetChunks: 8 });
    const sender = sendFile(alice, "cancel-closed-window", makeFile(seed, 1_000_000));
    net.runUntil(() => (bob.receivers.get(sender.id)?.stats.durableChunks ?? 0) >= 100, 60_000);
    (bob.disks.get(sender.id) as SimDisk).stalled = true;
    net.run(net.now + 3_000);
    sender.cancel("never mind");
    const cancelAt = net.now;
    const told = net.runUntil(() => bob.receivers.get(sender.id)?.state === "ended", net.now + 1_000);
    expect(told, `seed=${seed}`).toBe(true);
    expect(net.now - cancelAt, `seed=${seed}`).toBeLessThan(50);
    expect(bob.eventsOf(sender.id)).toEqual([
      { type: "ended", code: "FILE_CANCELLED", by: "peer", message: "never mind" },
    ]);
  });

  it("a declined offer ends the sender's transfer and no chunk is ever sent seed=64", () => {
    const seed = 64;
    const { net, alice, bob } = peers(seed, link);
    const sent = tapChunks(net, link);
    bob.onOffer = (offer) => {
      const r = bob.receive(offer);
      r.decline("not now");
      return r;
    };
    const sender = sendFile(alice, "declined-offer", makeFile(seed, 100_000));
    const ended = net.runUntil(() => sender.state === "ended", 10_000);
    expect(ended, `seed=${seed}`).toBe(true);
    expect(alice.eventsOf(sender.id)).toEqual([
      { type: "ended", code: "FILE_DECLINED", by: "peer", message: "not now" },
    ]);
    expect(bob.eventsOf(sender.id)).toEqual([
      { type: "ended", code: "FILE_DECLINED", by: "local", message: "not now" },
    ]);
    net.run(net.now + 5_000);
    expect(sent).toEqual([]);
    expect(sender.stats.chunksQueued).toBe(0);
  });

  it("a file whose SHA-256 differs from its offer fails at the receiver, and the sender is told seed=65", () => {
    const seed = 65;
    const { net, alice, bob } = peers(seed, link);
    const file = makeFile(seed, 300_000);
    const sender = sendFile(alice, "hash-mismatch", file, 1, sha256(makeFile(seed + 1, 300_000)));
    const ended = net.runUntil(() => sender.state === "ended", 60_000);
    expect(ended, `seed=${seed}`).toBe(true);
    expect(bob.eventsOf(sender.id)).toMatchObject([
      { type: "ended", code: "FILE_HASH_MISMATCH", by: "local" },
    ]);
    expect(alice.eventsOf(sender.id).at(-1)).toMatchObject({
      type: "ended",
      code: "FILE_HASH_MISMATCH",
      by: "peer",
    });
  });
});
