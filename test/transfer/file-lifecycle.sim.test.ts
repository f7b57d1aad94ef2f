/**
 * File transfer lifecycle over the seeded SimNetwork: flow control against a stalled disk,
 * resume from a serialised manifest, cancel from either side, decline, and a file whose
 * SHA-256 does not match its offer. Every test names its seed; time is simulated.
 */

import { describe, expect, it } from "vitest";
import type { FileReceiverOptions } from "../../src/files/file-receiver.js";
import type { FileSender } from "../../src/files/file-sender.js";
import { RangeSet } from "../../src/files/range-set.js";
import { decodeManifest, manifestMatchesOffer } from "../../src/files/transfer-manifest.js";
import { decodeChunk } from "../../src/protocol/file-chunk.js";
import { type LinkOptions, SimNetwork } from "../sim/sim-network.js";
import { framesOf, makeFile, PeerNode, type SimDisk, sha256 } from "./file-sim.js";

/** A chunk on these links is at most a 1,472-byte datagram's worth (they lose too much for more). */
const MAX_CHUNK = 1472;

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

/** Records the chunks (offset, length, send time) of every datagram on the link from `a` to `b`. */
function tapChunks(net: SimNetwork, link: LinkOptions, from = "alice", to = "bob") {
  const sent: Array<{ offset: number; length: number; at: number }> = [];
  net.setLink(from, to, {
    ...link,
    drop: (d) => {
      for (const f of framesOf(d.bytes)) {
        if (f.type !== "segment" || f.stream === 0 || f.fragment !== undefined) continue;
        const c = decodeChunk(f.payload);
        if (c.ok) sent.push({ offset: c.value.offset, length: c.value.bytes.length, at: d.now });
      }
      return false;
    },
  });
  return sent;
}

/** The byte ranges some chunks covered. */
function coverage(size: number, chunks: Array<{ offset: number; length: number }>): RangeSet {
  const set = new RangeSet(size);
  for (const c of chunks) set.add(c.offset, c.offset + c.length);
  return set;
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
      const writeBudgetBytes = 16 * MAX_CHUNK;
      const { net, alice, bob } = peers(seed, link, { receiveWindowSegments, writeBudgetBytes });
      const file = makeFile(seed, 2_000_000);
      const sender = sendFile(alice, "stall-test", file);
      const id = sender.id;
      const msg = `seed=${seed}`;
      let maxBufferedSegments = 0;
      let maxHeldBytes = 0;
      let maxSenderHeld = 0;
      const watch = () => {
        const r = bob.receivers.get(id);
        if (r !== undefined) {
          maxBufferedSegments = Math.max(maxBufferedSegments, r.stats.channel.bufferedSegments);
          maxHeldBytes = Math.max(maxHeldBytes, r.stats.heldBytes);
        }
        const s = sender.stats;
        maxSenderHeld = Math.max(maxSenderHeld, s.queuedBytes - s.acknowledgedBytes);
        return false;
      };
      // Let a quarter of the file through, then the disk stops making writes durable.
      net.runUntil(() => {
        watch();
        return (bob.receivers.get(id)?.stats.durableBytes ?? 0) >= 500_000;
      }, 60_000);
      const disk = bob.disks.get(id) as SimDisk;
      disk.stalled = true;
      const stallAt = net.now;
      net.runUntil(watch, stallAt + 2_000);
      const receiver = bob.receivers.get(id);
      if (receiver === undefined) throw new Error(msg);
      const durableAtStall = receiver.stats.durableBytes;
      const sentAtStall = sender.stats.channel.segmentsSent;
      // A further minute: the window is closed, only zero-window probes (backed off) go out.
      net.runUntil(watch, stallAt + 62_000);
      const stalled = receiver.stats;
      console.log(
        `seed=${seed} stalled: channel buffer=${stalled.channel.bufferedSegments} segments (max ${maxBufferedSegments}), ` +
          `held=${stalled.heldBytes} B (max ${maxHeldBytes}), pending writes=${stalled.pendingWrites}, ` +
          `segments sent during the minute=${sender.stats.channel.segmentsSent - sentAtStall}`,
      );
      // Memory is bounded: the channel's window in segments, and the budget (plus one chunk).
      expect(maxBufferedSegments, msg).toBeLessThanOrEqual(receiveWindowSegments);
      expect(maxHeldBytes, msg).toBeLessThanOrEqual(writeBudgetBytes + MAX_CHUNK);
      expect(stalled.heldBytes, msg).toBeGreaterThanOrEqual(writeBudgetBytes);
      expect(stalled.channel.bufferedSegments, msg).toBeGreaterThan(receiveWindowSegments - 10);
      expect(stalled.durableBytes, msg).toBe(durableAtStall);
      expect(sender.stats.channel.segmentsSent - sentAtStall, msg).toBeLessThan(40);
      expect(sender.state, msg).toBe("transferring");
      // The sender holds no more than the receiver's window (and its read-ahead, not counted here).
      expect(maxSenderHeld, msg).toBeLessThanOrEqual((receiveWindowSegments + 1) * MAX_CHUNK);
      // The disk catches up: the window reopens and the transfer completes.
      bob.resumeDisk(id, net.now);
      const done = net.runUntil(() => {
        watch();
        return sender.state === "completed";
      }, net.now + 60_000);
      expect(done, msg).toBe(true);
      expect(maxBufferedSegments, msg).toBeLessThanOrEqual(receiveWindowSegments);
      expect(maxHeldBytes, msg).toBeLessThanOrEqual(writeBudgetBytes + MAX_CHUNK);
      expect(Buffer.compare(disk.bytes, file), msg).toBe(0);
      expect(bob.eventsOf(id), msg).toEqual([{ type: "verified" }, { type: "completed" }]);
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
      one.net.runUntil(
        () => (one.bob.receivers.get("resume-one")?.stats.durableBytes ?? 0) >= 900_000,
        60_000,
      );
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

      const held = (decodeManifest(manifestBytes) as { value: { have: RangeSet } }).value.have;
      const before = coverage(file.length, sent1);
      const after = coverage(file.length, sent2);
      let resent = 0;
      for (const [start, end] of after.ranges()) {
        for (let at = start; at < end; at++) if (before.has(at)) resent++;
      }
      const receiver = two.bob.receivers.get("resume-two");
      console.log(
        `seed=${seed} bytes=${file.length} held after session 1=${held.size} sent in session 2=${after.size} re-sent=${resent} ` +
          `(${((100 * resent) / file.length).toFixed(1)}%) read back for the SHA-256=${receiver?.stats.readBackBytes}`,
      );
      expect(second.stats.skippedBytes, msg).toBe(held.size);
      // The sender's own count of file bytes put on the wire is what the link carried.
      const wireBytes = (sent: Array<{ length: number }>) => sent.reduce((sum, s) => sum + s.length, 0);
      expect(first.stats.sentBytes, msg).toBe(wireBytes(sent1));
      expect(second.stats.sentBytes, msg).toBe(wireBytes(sent2));
      // Session 2 sent exactly what the manifest did not hold.
      expect(after.size, msg).toBe(file.length - held.size);
      for (const [start, end] of held.ranges())
        expect(after.has(start) || after.has(end - 1), msg).toBe(false);
      expect(resent, msg).toBeLessThan(0.25 * file.length);
      // The hash covered the resumed bytes by reading them back, and only those.
      expect(receiver?.stats.readBackBytes, msg).toBe(held.size);
      expect(two.bob.eventsOf("resume-two"), msg).toEqual([{ type: "verified" }, { type: "completed" }]);
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
    net.runUntil(() => (bob.receivers.get(sender.id)?.stats.durableBytes ?? 0) >= 300_000, 60_000);
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
    const { net, alice, bob } = peers(seed, link, {
      receiveWindowSegments: 64,
      writeBudgetBytes: 8 * MAX_CHUNK,
    });
    const sender = sendFile(alice, "cancel-by-receiver", makeFile(seed, 1_000_000));
    net.runUntil(() => (bob.receivers.get(sender.id)?.stats.durableBytes ?? 0) >= 100_000, 60_000);
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
    const { net, alice, bob } = peers(seed, link, {
      receiveWindowSegments: 64,
      writeBudgetBytes: 8 * MAX_CHUNK,
    });
    const sender = sendFile(alice, "cancel-closed-window", makeFile(seed, 1_000_000));
    net.runUntil(() => (bob.receivers.get(sender.id)?.stats.durableBytes ?? 0) >= 100_000, 60_000);
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
    expect(sender.stats.queuedBytes).toBe(0);
  });

  it("done means the file is in place: a rename that fails ends both sides with FILE_WRITE_FAILED seed=66", () => {
    const seed = 66;
    const { net, alice, bob } = peers(seed, link);
    const file = makeFile(seed, 300_000);
    const sender = sendFile(alice, "read-only", file);
    expect(
      net.runUntil(() => bob.disks.has(sender.id), 60_000),
      `seed=${seed}`,
    ).toBe(true);
    const disk = bob.disks.get(sender.id);
    if (disk) disk.finishFails = "EACCES: the folder is read-only";
    expect(
      net.runUntil(() => sender.state === "ended", 60_000),
      `seed=${seed}`,
    ).toBe(true);
    // Every byte arrived and checked out, yet nobody says done.
    expect(Buffer.compare(disk?.bytes as Uint8Array, file)).toBe(0);
    expect(bob.eventsOf(sender.id)).toMatchObject([
      { type: "verified" },
      { type: "ended", code: "FILE_WRITE_FAILED", by: "local" },
    ]);
    expect(alice.eventsOf(sender.id).at(-1)).toMatchObject({
      type: "ended",
      code: "FILE_WRITE_FAILED",
      by: "peer",
      message: "EACCES: the folder is read-only",
    });
    expect(alice.eventsOf(sender.id).some((e) => e.type === "completed")).toBe(false);
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
