/**
 * FileSender and FileReceiver unit tests: hand-built frames and control messages, explicit
 * `now`, no network. The states, the CRC-32 path, flow control by write budget, completion
 * and every way a transfer ends, with its stable code.
 */

import { describe, expect, it } from "vitest";
import { HallwayError } from "../../src/errors.js";
import { decodeChunk, encodeChunk } from "../../src/protocol/file-chunk.js";
import type { FileControl, FileOffer } from "../../src/protocol/file-offer.js";
import type { AckFrame, SegmentFrame } from "../../src/protocol/frames.js";
import { FileReceiver } from "../../src/transfer/file-receiver.js";
import { FileSender, type FileSenderOptions } from "../../src/transfer/file-sender.js";
import type { StreamCore } from "../../src/transfer/file-transfer.js";
import { ChunkSet, decodeManifest } from "../../src/transfer/transfer-manifest.js";
import { badChunk, makeFile, sha256 } from "./file-sim.js";

const CHUNK = 64;
const ID = "transfer-unit";

function sender(file: Uint8Array, more: Partial<FileSenderOptions> = {}): FileSender {
  return new FileSender({
    id: ID,
    stream: 3,
    name: "notes.txt",
    sizeBytes: file.length,
    sha256: sha256(file),
    chunkBytes: CHUNK,
    readChunk: (i) => file.slice(i * CHUNK, (i + 1) * CHUNK),
    ...more,
  });
}

function offerOf(file: Uint8Array, digest = sha256(file)): FileOffer {
  return {
    t: "file.offer",
    id: ID,
    stream: 3,
    name: "notes.txt",
    size: file.length,
    sha256: Buffer.from(digest).toString("hex"),
    chunkBytes: CHUNK,
  };
}

function controls(core: { pollControl(): FileControl | undefined }): FileControl[] {
  const out: FileControl[] = [];
  for (let c = core.pollControl(); c !== undefined; c = core.pollControl()) out.push(c);
  return out;
}

function frames(core: StreamCore, now: number): Array<SegmentFrame | AckFrame> {
  const out: Array<SegmentFrame | AckFrame> = [];
  for (let f = core.pollFrame(now, 1200); f !== undefined; f = core.pollFrame(now, 1200)) out.push(f);
  return out;
}

function chunkIndexes(fs: Array<SegmentFrame | AckFrame>): number[] {
  return fs.flatMap((f) => {
    if (f.type !== "segment") return [];
    const c = decodeChunk(f.payload);
    return c.ok ? [c.value.index] : [];
  });
}

function chunkSegment(seq: number, payload: Uint8Array, end = true): SegmentFrame {
  return { type: "segment", stream: 3, seq, end, payload };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof HallwayError ? err.code : "not a HallwayError";
  }
  return undefined;
}

describe("FileSender", () => {
  it("rejects invalid options as local misuse (INTERNAL)", () => {
    const file = makeFile(1, 100);
    expect(codeOf(() => sender(file, { id: "x" }))).toBe("INTERNAL");
    expect(codeOf(() => sender(file, { name: "../secret" }))).toBe("INTERNAL");
    expect(codeOf(() => sender(file, { stream: 0 }))).toBe("INTERNAL");
    expect(codeOf(() => sender(file, { chunkBytes: 5000 }))).toBe("INTERNAL");
    expect(codeOf(() => sender(file, { sha256: new Uint8Array(31) }))).toBe("INTERNAL");
  });

  it("offers first and sends nothing on its stream before the accept", () => {
    const file = makeFile(2, 1000);
    const s = sender(file);
    expect(controls(s)).toEqual([offerOf(file)]);
    expect(s.state).toBe("offered");
    expect(frames(s, 0)).toEqual([]);
    expect(s.pollTimeout()).toBeUndefined();
  });

  it("skips the chunks the receiver holds and sends the rest in ascending order", () => {
    const file = makeFile(3, 20 * CHUNK);
    const s = sender(file, { congestion: { cwndSegments: 100, onAck() {}, onLoss() {}, onRto() {} } });
    controls(s);
    s.handleControl(
      {
        t: "file.accept",
        id: ID,
        have: [
          [0, 5],
          [8, 18],
        ],
      },
      0,
    );
    expect(s.pollEvent()).toEqual({ type: "accepted", skippedChunks: 15 });
    const sent = frames(s, 0);
    expect(chunkIndexes(sent)).toEqual([5, 6, 7, 18, 19]);
    const first = decodeChunk((sent[0] as SegmentFrame).payload);
    expect(first.ok && Buffer.compare(first.value.bytes, file.subarray(5 * CHUNK, 6 * CHUNK))).toBe(0);
    s.handleAck({ type: "ack", stream: 3, cumulative: 5, windowSegments: 100, ackDelayMs: 0, ranges: [] }, 2);
    expect(s.state).toBe("finishing");
    s.handleControl({ t: "file.done", id: ID }, 3);
    expect(s.state).toBe("completed");
    expect(s.pollEvent()).toEqual({ type: "completed" });
  });

  it("reads lazily: only feedAheadChunks wait unsent, whatever the file size", () => {
    const file = makeFile(4, 1000 * CHUNK);
    let reads = 0;
    const s = sender(file, {
      feedAheadChunks: 8,
      readChunk: (i) => {
        reads++;
        return file.slice(i * CHUNK, (i + 1) * CHUNK);
      },
      congestion: { cwndSegments: 4, onAck() {}, onLoss() {}, onRto() {} },
    });
    s.handleControl({ t: "file.accept", id: ID, have: [] }, 0);
    expect(chunkIndexes(frames(s, 0))).toEqual([0, 1, 2, 3]);
    expect(reads).toBe(12);
  });

  it("ends with FILE_READ_FAILED when the file changes under it, and tells the receiver", () => {
    const file = makeFile(5, 10 * CHUNK);
    const s = sender(file, {
      readChunk: (i) => (i === 2 ? new Uint8Array(3) : file.slice(i * CHUNK, (i + 1) * CHUNK)),
    });
    controls(s);
    s.handleControl({ t: "file.accept", id: ID, have: [] }, 0);
    s.pollEvent();
    frames(s, 0);
    expect(s.state).toBe("ended");
    expect(s.pollEvent()).toMatchObject({ type: "ended", code: "FILE_READ_FAILED", by: "local" });
    expect(controls(s)).toMatchObject([{ t: "file.cancel", id: ID, code: "FILE_READ_FAILED" }]);
    const throwing = sender(file, {
      readChunk: () => {
        throw new Error("EIO");
      },
    });
    throwing.handleControl({ t: "file.accept", id: ID, have: [] }, 0);
    frames(throwing, 0);
    expect(throwing.state).toBe("ended");
  });

  it("treats an impossible accept or an early done as a protocol error", () => {
    const file = makeFile(6, 10 * CHUNK);
    const s = sender(file);
    controls(s);
    s.handleControl({ t: "file.accept", id: ID, have: [[5, 11]] }, 0);
    expect(s.pollEvent()).toMatchObject({ type: "ended", code: "FILE_PROTOCOL_ERROR" });
    expect(controls(s)).toMatchObject([{ t: "file.cancel", code: "FILE_PROTOCOL_ERROR" }]);
    const early = sender(file);
    early.handleControl({ t: "file.done", id: ID }, 0);
    expect(early.pollEvent()).toMatchObject({ type: "ended", code: "FILE_PROTOCOL_ERROR" });
  });

  it("ignores other transfers' messages; decline, cancel and a peer's cancel end it once", () => {
    const file = makeFile(7, 100);
    const s = sender(file);
    s.handleControl({ t: "file.decline", id: "another-transfer", message: "" }, 0);
    expect(s.state).toBe("offered");
    s.handleControl({ t: "file.decline", id: ID, message: "busy" }, 0);
    expect(s.pollEvent()).toEqual({ type: "ended", code: "FILE_DECLINED", by: "peer", message: "busy" });
    s.cancel("too late");
    s.handleControl({ t: "file.cancel", id: ID, code: "FILE_CANCELLED", message: "" }, 1);
    expect(s.pollEvent()).toBeUndefined();
    const c = sender(file);
    controls(c);
    c.cancel("oops");
    c.cancel("again");
    expect(controls(c)).toEqual([{ t: "file.cancel", id: ID, code: "FILE_CANCELLED", message: "oops" }]);
  });

  it("an offer nobody answers expires with FILE_OFFER_EXPIRED and tells the receiver; an answered one never does", () => {
    const file = makeFile(8, 3 * CHUNK);
    const s = sender(file, { offerExpiresAt: 5000 });
    controls(s);
    expect(s.pollTimeout()).toBe(5000);
    s.handleTimeout(4999);
    expect(s.state).toBe("offered");
    s.handleTimeout(5000);
    expect(s.pollEvent()).toMatchObject({ type: "ended", code: "FILE_OFFER_EXPIRED", by: "local" });
    expect(controls(s)).toMatchObject([{ t: "file.cancel", id: ID, code: "FILE_OFFER_EXPIRED" }]);
    expect(s.pollTimeout()).toBeUndefined();

    const answered = sender(file, { offerExpiresAt: 5000 });
    answered.handleControl({ t: "file.accept", id: ID, have: [] }, 10);
    expect(answered.pollTimeout()).not.toBe(5000);
    answered.handleTimeout(6000);
    expect(answered.state).toBe("transferring");
  });
});

describe("FileReceiver", () => {
  it("an offer the user does not answer expires with FILE_OFFER_EXPIRED and tells the sender", () => {
    const file = makeFile(9, 3 * CHUNK);
    const r = new FileReceiver({ offer: offerOf(file), offerExpiresAt: 2000 });
    expect(r.pollTimeout()).toBe(2000);
    r.handleTimeout(1999);
    expect(r.state).toBe("offered");
    r.handleTimeout(2000);
    expect(r.pollEvent()).toMatchObject({ type: "ended", code: "FILE_OFFER_EXPIRED", by: "local" });
    expect(controls(r)).toMatchObject([{ t: "file.cancel", id: ID, code: "FILE_OFFER_EXPIRED" }]);
    expect(codeOf(() => r.accept())).toBe("INTERNAL");

    // The sender's expiry reaches a receiver as the peer's.
    const p = new FileReceiver({ offer: offerOf(file) });
    p.handleControl({ t: "file.cancel", id: ID, code: "FILE_OFFER_EXPIRED", message: "" }, 0);
    expect(p.pollEvent()).toMatchObject({ type: "ended", code: "FILE_OFFER_EXPIRED", by: "peer" });
  });

  it("rejects misuse: accepting twice, a manifest of another file, resuming without readChunk", () => {
    const file = makeFile(10, 5 * CHUNK);
    const r = new FileReceiver({ offer: offerOf(file) });
    r.accept();
    expect(codeOf(() => r.accept())).toBe("INTERNAL");
    expect(codeOf(() => r.decline("no"))).toBe("INTERNAL");
    const other = { sizeBytes: 1, chunkBytes: CHUNK, sha256: sha256(file), have: new ChunkSet(1) };
    expect(codeOf(() => new FileReceiver({ offer: offerOf(file), resume: other }))).toBe("INTERNAL");
    const have = new ChunkSet(5);
    have.add(0);
    const mine = { sizeBytes: file.length, chunkBytes: CHUNK, sha256: sha256(file), have };
    expect(codeOf(() => new FileReceiver({ offer: offerOf(file), resume: mine }))).toBe("INTERNAL");
  });

  it("drops a chunk with a bad CRC-32 unacknowledged and counts it; the retransmission is written", () => {
    const file = makeFile(11, 2 * CHUNK);
    const r = new FileReceiver({ offer: offerOf(file), ackDelayMs: 0 });
    r.accept();
    expect(controls(r)).toEqual([{ t: "file.accept", id: ID, have: [] }]);
    r.handleSegment(chunkSegment(0, badChunk(0, file.subarray(0, CHUNK))), 1);
    expect(r.stats.crcErrors).toBe(1);
    expect(r.pollWrite()).toBeUndefined();
    expect(frames(r, 1)).toEqual([]); // no ACK: to the sender this is a loss
    r.handleSegment(chunkSegment(0, encodeChunk(0, file.subarray(0, CHUNK))), 2);
    expect(r.pollWrite()).toEqual({ index: 0, offsetBytes: 0, bytes: file.subarray(0, CHUNK) });
    expect(frames(r, 10)).toMatchObject([{ type: "ack", cumulative: 1 }]);
  });

  it("completes when every chunk is durable and the SHA-256 matches, and says so", () => {
    const file = makeFile(12, 2 * CHUNK + 1);
    const r = new FileReceiver({ offer: offerOf(file) });
    r.accept();
    controls(r);
    for (let i = 0; i < 3; i++)
      r.handleSegment(chunkSegment(i, encodeChunk(i, file.subarray(i * CHUNK, (i + 1) * CHUNK))), i);
    const writes = [r.pollWrite(), r.pollWrite(), r.pollWrite()];
    expect(writes.map((w) => [w?.index, w?.offsetBytes, w?.bytes.length])).toEqual([
      [0, 0, 64],
      [1, 64, 64],
      [2, 128, 1],
    ]);
    r.handleDurable(2, 5);
    r.handleDurable(0, 5);
    expect(r.state).toBe("transferring");
    r.handleDurable(1, 6);
    r.handleDurable(1, 6); // idempotent
    expect(r.state).toBe("completed");
    expect(r.pollEvent()).toEqual({ type: "completed" });
    expect(controls(r)).toEqual([{ t: "file.done", id: ID }]);
  });

  it("completes an empty file at once", () => {
    const r = new FileReceiver({ offer: offerOf(new Uint8Array(0)) });
    r.accept();
    expect(controls(r)).toEqual([
      { t: "file.accept", id: ID, have: [] },
      { t: "file.done", id: ID },
    ]);
    expect(r.state).toBe("completed");
  });

  it("fails with FILE_HASH_MISMATCH when the content does not match the offer", () => {
    const file = makeFile(13, CHUNK);
    const r = new FileReceiver({ offer: offerOf(file, sha256(makeFile(14, CHUNK))) });
    r.accept();
    controls(r);
    r.handleSegment(chunkSegment(0, encodeChunk(0, file)), 0);
    r.handleDurable((r.pollWrite() as { index: number }).index, 1);
    expect(r.pollEvent()).toMatchObject({ type: "ended", code: "FILE_HASH_MISMATCH", by: "local" });
    expect(controls(r)).toMatchObject([{ t: "file.cancel", code: "FILE_HASH_MISMATCH" }]);
  });

  it("ends with FILE_PROTOCOL_ERROR for a chunk out of range, of the wrong length, or split over segments", () => {
    const file = makeFile(15, 3 * CHUNK);
    for (const [what, frame] of [
      ["out of range", chunkSegment(0, encodeChunk(3, new Uint8Array(CHUNK)))],
      ["wrong length", chunkSegment(0, encodeChunk(0, new Uint8Array(CHUNK - 1)))],
      ["split", chunkSegment(0, encodeChunk(0, new Uint8Array(CHUNK)), false)],
      ["too short", chunkSegment(0, new Uint8Array(3))],
    ] as const) {
      const r = new FileReceiver({ offer: offerOf(file) });
      r.accept();
      controls(r);
      r.handleSegment(frame, 0);
      expect(r.pollEvent(), what).toMatchObject({ type: "ended", code: "FILE_PROTOCOL_ERROR", by: "local" });
      expect(controls(r), what).toMatchObject([{ t: "file.cancel", code: "FILE_PROTOCOL_ERROR" }]);
      expect(r.pollTimeout(), what).toBeUndefined();
    }
  });

  it("holds at most writeBudgetChunks undurable chunks; the rest wait in the channel, closing its window", () => {
    const file = makeFile(16, 40 * CHUNK);
    const r = new FileReceiver({
      offer: offerOf(file),
      writeBudgetChunks: 4,
      receiveWindowSegments: 16,
      ackDelayMs: 0,
    });
    r.accept();
    for (let i = 0; i < 40; i++)
      r.handleSegment(chunkSegment(i, encodeChunk(i, file.subarray(i * CHUNK, (i + 1) * CHUNK))), 0);
    expect(r.stats.pendingWrites).toBe(4);
    expect(r.stats.bufferedChunks).toBe(20);
    expect(r.stats.channel.outOfWindowDropped).toBe(20);
    expect(frames(r, 1).at(-1)).toMatchObject({ type: "ack", cumulative: 20, windowSegments: 0 });
    const w = [r.pollWrite(), r.pollWrite(), r.pollWrite(), r.pollWrite(), r.pollWrite()];
    expect(w.map((x) => x?.index)).toEqual([0, 1, 2, 3, undefined]);
    expect(codeOf(() => r.handleDurable(9, 2))).toBe("INTERNAL");
    r.handleDurable(0, 2);
    expect(r.pollWrite()?.index).toBe(4);
    const manifest = decodeManifest(r.manifest());
    expect(manifest.ok && manifest.value.have.ranges()).toEqual([[0, 1]]);
  });

  it("resumes: accepts with the held chunks and reads them back for the SHA-256", () => {
    const file = makeFile(17, 6 * CHUNK);
    const have = new ChunkSet(6);
    have.addRange(0, 2);
    have.add(4);
    const reads: number[] = [];
    const r = new FileReceiver({
      offer: offerOf(file),
      resume: { sizeBytes: file.length, chunkBytes: CHUNK, sha256: sha256(file), have },
      readChunk: (i) => {
        reads.push(i);
        return file.slice(i * CHUNK, (i + 1) * CHUNK);
      },
    });
    r.accept();
    expect(controls(r)).toEqual([
      {
        t: "file.accept",
        id: ID,
        have: [
          [0, 2],
          [4, 5],
        ],
      },
    ]);
    [2, 3, 5].forEach((index, seq) => {
      r.handleSegment(
        chunkSegment(seq, encodeChunk(index, file.subarray(index * CHUNK, (index + 1) * CHUNK))),
        seq,
      );
    });
    for (let w = r.pollWrite(); w !== undefined; w = r.pollWrite()) r.handleDurable(w.index, 5);
    expect(reads).toEqual([0, 1, 4]);
    expect(r.state).toBe("completed");
    expect(r.stats).toMatchObject({ resumedChunks: 3, durableChunks: 6, readBacks: 3 });
  });

  it("a write failure ends the transfer with FILE_WRITE_FAILED or FILE_DISK_FULL; a peer's cancel ends it by peer", () => {
    const file = makeFile(18, 2 * CHUNK);
    const r = new FileReceiver({ offer: offerOf(file) });
    r.accept();
    controls(r);
    r.handleWriteFailed(0, "ENOSPC", 0);
    expect(r.pollEvent()).toMatchObject({ type: "ended", code: "FILE_WRITE_FAILED", by: "local" });
    expect(controls(r)).toMatchObject([
      { t: "file.cancel", code: "FILE_WRITE_FAILED", message: "chunk 0: ENOSPC" },
    ]);
    // A full disk is told to the sender as such.
    const full = new FileReceiver({ offer: offerOf(file) });
    full.accept();
    controls(full);
    full.handleWriteFailed(1, "ENOSPC", 0, "FILE_DISK_FULL");
    expect(full.pollEvent()).toMatchObject({ type: "ended", code: "FILE_DISK_FULL", by: "local" });
    expect(controls(full)).toMatchObject([{ t: "file.cancel", code: "FILE_DISK_FULL" }]);
    const p = new FileReceiver({ offer: offerOf(file) });
    p.handleControl({ t: "file.cancel", id: ID, code: "FILE_CANCELLED", message: "bye" }, 0);
    expect(p.pollEvent()).toEqual({ type: "ended", code: "FILE_CANCELLED", by: "peer", message: "bye" });
    p.cancel("late");
    expect(controls(p)).toEqual([]);
  });
});
