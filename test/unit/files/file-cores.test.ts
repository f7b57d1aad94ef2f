/**
 * FileSender and FileReceiver unit tests: hand-built frames and control messages, explicit
 * `now`, no network. The states, reads ahead of the window, the CRC-32 path, flow control by
 * the memory budget, completion and every way a transfer ends, with its stable code.
 */

import { describe, expect, it } from "vitest";
import { HallwayError } from "../../../src/errors.js";
import { FileReceiver } from "../../../src/files/file-receiver.js";
import { FileSender, type FileSenderOptions } from "../../../src/files/file-sender.js";
import { RangeSet } from "../../../src/files/range-set.js";
import { decodeManifest } from "../../../src/files/transfer-manifest.js";
import { decodeChunk, encodeChunk } from "../../../src/protocol/file-chunk.js";
import type { FileControl, FileOffer } from "../../../src/protocol/file-control.js";
import type { AckFrame, SegmentFrame } from "../../../src/protocol/frames.js";
import type { CongestionController } from "../../../src/transport/congestion/index.js";
import type { StreamCore } from "../../../src/transport/stream-core.js";
import { makeFile, sha256 } from "../../sim/file-content.js";

/** A chunk with a deliberately wrong CRC. */
function badChunk(offset: number, bytes: Uint8Array): Uint8Array {
  return encodeChunk(offset, bytes, 0xdeadbeef);
}

/** Chunks of these tests are 64 bytes (the path would allow more; `maxChunkBytes` caps them). */
const CHUNK = 64;
const ID = "transfer-unit";

function sender(file: Uint8Array, more: Partial<FileSenderOptions> = {}): FileSender {
  return new FileSender({
    id: ID,
    stream: 3,
    name: "notes.txt",
    sizeBytes: file.length,
    sha256: sha256(file),
    maxChunkBytes: CHUNK,
    ...more,
  });
}

/** A window of `segments` chunks, unpaced. */
function windowOf(segments: number): CongestionController {
  return { cwndBytes: segments * (CHUNK + 12), setMaxSegmentBytes() {}, onAck() {}, onLoss() {}, onRto() {} };
}

/** Answers every read the sender asks for from `file`; returns the reads. */
function serve(s: FileSender, file: Uint8Array, now = 0): Array<[number, number]> {
  const reads: Array<[number, number]> = [];
  for (let r = s.pollRead(); r !== undefined; r = s.pollRead()) {
    reads.push([r.offset, r.length]);
    // As the disk adapter does: into the buffer the core lends, when it lends one.
    const into = r.into ?? new Uint8Array(r.length);
    into.set(file.subarray(r.offset, r.offset + r.length));
    s.handleRead(r.offset, into.subarray(0, r.length), now);
  }
  return reads;
}

function offerOf(file: Uint8Array, digest = sha256(file)): FileOffer {
  return {
    t: "file.offer",
    id: ID,
    stream: 3,
    name: "notes.txt",
    size: file.length,
    sha256: Buffer.from(digest).toString("hex"),
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

function chunkOffsets(fs: Array<SegmentFrame | AckFrame>): number[] {
  return fs.flatMap((f) => {
    if (f.type !== "segment") return [];
    const c = decodeChunk(wirePayload(f));
    return c.ok ? [c.value.offset] : [];
  });
}

/** A sent segment's payload as the peer receives it: its `head`, then its `payload`. */
function wirePayload(f: SegmentFrame): Uint8Array {
  return f.head === undefined ? f.payload : Buffer.concat([f.head, f.payload]);
}

function chunkSegment(seq: number, payload: Uint8Array, end = true): SegmentFrame {
  return { type: "segment", stream: 3, seq, end, payload };
}

/** The chunk of `file` at chunk number `i` (64-byte chunks). */
function chunkAt(file: Uint8Array, i: number): Uint8Array {
  return encodeChunk(i * CHUNK, file.subarray(i * CHUNK, (i + 1) * CHUNK));
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
  it("rejects invalid options as local misuse (MISUSE)", () => {
    const file = makeFile(1, 100);
    expect(codeOf(() => sender(file, { id: "x" }))).toBe("MISUSE");
    expect(codeOf(() => sender(file, { name: "../secret" }))).toBe("MISUSE");
    expect(codeOf(() => sender(file, { stream: 0 }))).toBe("MISUSE");
    expect(codeOf(() => sender(file, { sha256: new Uint8Array(31) }))).toBe("MISUSE");
  });

  it("offers first and reads and sends nothing before the accept", () => {
    const file = makeFile(2, 1000);
    const s = sender(file);
    expect(controls(s)).toEqual([offerOf(file)]);
    expect(s.state).toBe("offered");
    expect(s.pollRead()).toBeUndefined();
    expect(frames(s, 0)).toEqual([]);
    expect(s.pollTimeout()).toBeUndefined();
  });

  it("reads only what the receiver lacks and sends it in ascending order", () => {
    const file = makeFile(3, 20 * CHUNK);
    const s = sender(file, { congestion: windowOf(100) });
    controls(s);
    s.handleControl(
      {
        t: "file.accept",
        id: ID,
        have: [
          [0, 5 * CHUNK],
          [8 * CHUNK, 18 * CHUNK],
        ],
      },
      0,
    );
    expect(s.pollEvent()).toEqual({ type: "accepted", skippedBytes: 15 * CHUNK });
    expect(serve(s, file)).toEqual([
      [5 * CHUNK, 3 * CHUNK],
      [18 * CHUNK, 2 * CHUNK],
    ]);
    const sent = frames(s, 0);
    expect(chunkOffsets(sent)).toEqual([5, 6, 7, 18, 19].map((i) => i * CHUNK));
    const first = decodeChunk(wirePayload(sent[0] as SegmentFrame));
    expect(first.ok && Buffer.compare(first.value.bytes, file.subarray(5 * CHUNK, 6 * CHUNK))).toBe(0);
    s.handleAck({ type: "ack", stream: 3, cumulative: 5, windowSegments: 100, ackDelayMs: 0, ranges: [] }, 2);
    expect(s.state).toBe("finishing");
    s.handleControl({ t: "file.done", id: ID }, 3);
    expect(s.state).toBe("completed");
    expect(s.pollEvent()).toEqual({ type: "completed" });
    expect(s.stats).toMatchObject({
      skippedBytes: 15 * CHUNK,
      sentBytes: 5 * CHUNK,
      acknowledgedBytes: 5 * CHUNK,
    });
  });

  it("reads ahead of the window, never more than readAheadBytes, and sends only what was read", () => {
    const file = makeFile(4, 1000 * CHUNK);
    const s = sender(file, { readAheadBytes: 8 * CHUNK, readBlockBytes: 3 * CHUNK, congestion: windowOf(4) });
    s.handleControl({ t: "file.accept", id: ID, have: [] }, 0);
    const asked = [s.pollRead(), s.pollRead(), s.pollRead(), s.pollRead()];
    expect(asked.map((r) => r && [r.offset, r.length])).toEqual([
      [0, 3 * CHUNK],
      [3 * CHUNK, 3 * CHUNK],
      [6 * CHUNK, 3 * CHUNK],
      undefined,
    ]);
    // Nothing is read yet: nothing to send.
    expect(frames(s, 0)).toEqual([]);
    // Reads may complete in any order; chunks are cut in file order.
    s.handleRead(3 * CHUNK, file.slice(3 * CHUNK, 6 * CHUNK), 0);
    expect(frames(s, 0)).toEqual([]);
    s.handleRead(0, file.slice(0, 3 * CHUNK), 0);
    // The window of 4 chunks lets 4 go.
    expect(chunkOffsets(frames(s, 0))).toEqual([0, 1, 2, 3].map((i) => i * CHUNK));
    // Four chunks were cut, so the read-ahead has room for more.
    expect(s.pollRead()).toMatchObject({ offset: 9 * CHUNK, length: 3 * CHUNK });
  });

  it("reads into buffers it lends, and lends one again only once the peer acknowledged its chunks", () => {
    const file = makeFile(9, 100 * CHUNK);
    const s = sender(file, {
      readAheadBytes: 2 * CHUNK,
      readBlockBytes: 2 * CHUNK,
      congestion: windowOf(100),
    });
    s.handleControl({ t: "file.accept", id: ID, have: [] }, 0);
    const lent: Uint8Array[] = [];
    const serveLent = (): void => {
      for (let r = s.pollRead(); r !== undefined; r = s.pollRead()) {
        expect(r.into?.length).toBeGreaterThanOrEqual(r.length);
        const into = r.into as Uint8Array;
        lent.push(into);
        into.set(file.subarray(r.offset, r.offset + r.length));
        s.handleRead(r.offset, into.subarray(0, r.length), 0);
      }
    };
    // Block 0 is read, cut into chunks 0 and 1 (sequence numbers 0 and 1), then block 1.
    serveLent();
    expect(chunkOffsets(frames(s, 0))).toEqual([0, 1].map((i) => i * CHUNK));
    serveLent();
    expect(chunkOffsets(frames(s, 0))).toEqual([2, 3].map((i) => i * CHUNK));
    serveLent();
    expect(lent).toHaveLength(3);
    expect(new Set(lent).size).toBe(3);
    // Chunk 0 acknowledged, chunk 1 not: block 0 still backs a chunk that may be resent.
    s.handleAck({ type: "ack", stream: 3, cumulative: 1, windowSegments: 100, ackDelayMs: 0, ranges: [] }, 1);
    expect(chunkOffsets(frames(s, 1))).toEqual([4, 5].map((i) => i * CHUNK));
    serveLent();
    expect(new Set(lent).size).toBe(4);
    // Chunks 0–3 acknowledged: blocks 0 and 1 come back, and are lent again.
    s.handleAck({ type: "ack", stream: 3, cumulative: 4, windowSegments: 100, ackDelayMs: 0, ranges: [] }, 2);
    expect(chunkOffsets(frames(s, 2))).toEqual([6, 7].map((i) => i * CHUNK));
    serveLent();
    expect(chunkOffsets(frames(s, 2))).toEqual([8, 9].map((i) => i * CHUNK));
    serveLent();
    expect(new Set(lent).size).toBe(4);
    // What went out from reused buffers is still the file's bytes.
    s.handleAck({ type: "ack", stream: 3, cumulative: 6, windowSegments: 100, ackDelayMs: 0, ranges: [] }, 3);
    const again = frames(s, 3);
    for (const f of again) {
      if (f.type !== "segment") continue;
      const c = decodeChunk(wirePayload(f));
      expect(
        c.ok && Buffer.compare(c.value.bytes, file.subarray(c.value.offset, c.value.offset + CHUNK)),
      ).toBe(0);
    }
  });

  it("ends with FILE_READ_FAILED when the file changes under it or a read fails, and tells the receiver", () => {
    const file = makeFile(5, 10 * CHUNK);
    const s = sender(file);
    controls(s);
    s.handleControl({ t: "file.accept", id: ID, have: [] }, 0);
    s.pollEvent();
    const r = s.pollRead() as { offset: number; length: number };
    s.handleRead(r.offset, new Uint8Array(3), 0);
    expect(s.state).toBe("ended");
    expect(s.pollEvent()).toMatchObject({ type: "ended", code: "FILE_READ_FAILED", by: "local" });
    expect(controls(s)).toMatchObject([{ t: "file.cancel", id: ID, code: "FILE_READ_FAILED" }]);
    const failing = sender(file);
    failing.handleControl({ t: "file.accept", id: ID, have: [] }, 0);
    failing.handleReadFailed((failing.pollRead() as { offset: number }).offset, "EIO");
    expect(failing.state).toBe("ended");
    expect(failing.pollRead()).toBeUndefined();
  });

  it("treats an impossible accept or an early done as a protocol error", () => {
    const file = makeFile(6, 10 * CHUNK);
    const s = sender(file);
    controls(s);
    s.handleControl({ t: "file.accept", id: ID, have: [[5, 10 * CHUNK + 1]] }, 0);
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
    expect(codeOf(() => r.accept())).toBe("MISUSE");

    // The sender's expiry reaches a receiver as the peer's.
    const p = new FileReceiver({ offer: offerOf(file) });
    p.handleControl({ t: "file.cancel", id: ID, code: "FILE_OFFER_EXPIRED", message: "" }, 0);
    expect(p.pollEvent()).toMatchObject({ type: "ended", code: "FILE_OFFER_EXPIRED", by: "peer" });
  });

  it("rejects misuse: accepting twice, a manifest of another file", () => {
    const file = makeFile(10, 5 * CHUNK);
    const r = new FileReceiver({ offer: offerOf(file) });
    r.accept();
    expect(codeOf(() => r.accept())).toBe("MISUSE");
    expect(codeOf(() => r.decline("no"))).toBe("MISUSE");
    const other = { sizeBytes: 1, sha256: sha256(file), have: new RangeSet(1) };
    expect(codeOf(() => new FileReceiver({ offer: offerOf(file), resume: other }))).toBe("MISUSE");
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
    r.handleSegment(chunkSegment(0, chunkAt(file, 0)), 2);
    expect(r.pollWrite()).toEqual({ offsetBytes: 0, bytes: file.subarray(0, CHUNK) });
    expect(frames(r, 10)).toMatchObject([{ type: "ack", cumulative: 1 }]);
  });

  it("completes when every byte is durable and the SHA-256 matches, whatever the chunk sizes", () => {
    const file = makeFile(12, 2 * CHUNK + 1);
    const r = new FileReceiver({ offer: offerOf(file) });
    r.accept();
    controls(r);
    // Chunks of 64, 50 and 15 bytes: the sender cuts them as its path allows.
    const pieces: Array<[number, number]> = [
      [0, 64],
      [64, 50],
      [114, 15],
    ];
    for (const [i, [at, len]] of pieces.entries()) {
      r.handleSegment(chunkSegment(i, encodeChunk(at, file.subarray(at, at + len))), i);
    }
    const writes = [r.pollWrite(), r.pollWrite(), r.pollWrite()];
    expect(writes.map((w) => [w?.offsetBytes, w?.bytes.length])).toEqual(pieces);
    r.handleDurable(114, 5);
    r.handleDurable(0, 5);
    expect(r.state).toBe("transferring");
    r.handleDurable(64, 6);
    r.handleDurable(64, 6); // idempotent
    // Verified, but not done until the adapter put the file in place.
    expect(r.state).toBe("finishing");
    expect(r.pollEvent()).toEqual({ type: "verified" });
    expect(controls(r)).toEqual([]);
    r.handleFinished(7);
    expect(r.state).toBe("completed");
    expect(r.pollEvent()).toEqual({ type: "completed" });
    expect(controls(r)).toEqual([{ t: "file.done", id: ID }]);
  });

  it("fails with the adapter's code when the verified file cannot be put in place, and tells the sender", () => {
    const file = makeFile(12, CHUNK);
    const r = new FileReceiver({ offer: offerOf(file) });
    r.accept();
    controls(r);
    r.handleSegment(chunkSegment(0, chunkAt(file, 0)), 1);
    r.handleDurable(r.pollWrite()?.offsetBytes ?? -1, 2);
    expect(r.pollEvent()).toEqual({ type: "verified" });
    r.handleFinishFailed("FILE_WRITE_FAILED", "EACCES: the folder is read-only", 3);
    expect(r.state).toBe("ended");
    expect(r.pollEvent()).toMatchObject({ type: "ended", code: "FILE_WRITE_FAILED", by: "local" });
    expect(controls(r)).toEqual([
      { t: "file.cancel", id: ID, code: "FILE_WRITE_FAILED", message: "EACCES: the folder is read-only" },
    ]);
    r.handleFinished(4); // too late: it ended
    expect(controls(r)).toEqual([]);
    expect(r.state).toBe("ended");
  });

  it("completes an empty file at once", () => {
    const r = new FileReceiver({ offer: offerOf(new Uint8Array(0)) });
    r.accept();
    expect(controls(r)).toEqual([{ t: "file.accept", id: ID, have: [] }]);
    expect(r.state).toBe("finishing");
    r.handleFinished(1);
    expect(controls(r)).toEqual([{ t: "file.done", id: ID }]);
    expect(r.state).toBe("completed");
  });

  it("fails with FILE_HASH_MISMATCH when the content does not match the offer", () => {
    const file = makeFile(13, CHUNK);
    const r = new FileReceiver({ offer: offerOf(file, sha256(makeFile(14, CHUNK))) });
    r.accept();
    controls(r);
    r.handleSegment(chunkSegment(0, encodeChunk(0, file)), 0);
    r.handleDurable((r.pollWrite() as { offsetBytes: number }).offsetBytes, 1);
    expect(r.pollEvent()).toMatchObject({ type: "ended", code: "FILE_HASH_MISMATCH", by: "local" });
    expect(controls(r)).toMatchObject([{ t: "file.cancel", code: "FILE_HASH_MISMATCH" }]);
  });

  it("ends with FILE_PROTOCOL_ERROR for a chunk outside the file, an empty one, or one split over segments", () => {
    const file = makeFile(15, 3 * CHUNK);
    for (const [what, frame] of [
      ["past the end", chunkSegment(0, encodeChunk(3 * CHUNK - 10, new Uint8Array(CHUNK)))],
      ["empty", chunkSegment(0, encodeChunk(0, new Uint8Array(0)))],
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

  it("holds at most writeBudgetBytes out of the channel; the rest wait there, closing its window", () => {
    const file = makeFile(16, 40 * CHUNK);
    const r = new FileReceiver({
      offer: offerOf(file),
      writeBudgetBytes: 4 * CHUNK,
      receiveWindowSegments: 16,
      ackDelayMs: 0,
    });
    r.accept();
    for (let i = 0; i < 40; i++) r.handleSegment(chunkSegment(i, chunkAt(file, i)), 0);
    expect(r.stats.pendingWrites).toBe(4);
    expect(r.stats.heldBytes).toBe(4 * CHUNK);
    expect(r.stats.channel.bufferedSegments).toBe(16);
    expect(r.stats.channel.outOfWindowDropped).toBe(20);
    expect(frames(r, 1).at(-1)).toMatchObject({ type: "ack", cumulative: 20, windowSegments: 0 });
    const w = [r.pollWrite(), r.pollWrite(), r.pollWrite(), r.pollWrite(), r.pollWrite()];
    expect(w.map((x) => x?.offsetBytes)).toEqual([0, CHUNK, 2 * CHUNK, 3 * CHUNK, undefined]);
    expect(codeOf(() => r.handleDurable(9 * CHUNK, 2))).toBe("MISUSE");
    r.handleDurable(0, 2);
    expect(r.pollWrite()?.offsetBytes).toBe(4 * CHUNK);
    const manifest = decodeManifest(r.manifest());
    expect(manifest.ok && manifest.value.have.ranges()).toEqual([[0, CHUNK]]);
  });

  it("lets go of a chunk's bytes once written and hashed; only a sync puts it in the manifest", () => {
    const file = makeFile(17, 10 * CHUNK);
    const r = new FileReceiver({ offer: offerOf(file), writeBudgetBytes: 2 * CHUNK, ackDelayMs: 0 });
    r.accept();
    for (let i = 0; i < 10; i++) r.handleSegment(chunkSegment(i, chunkAt(file, i)), 0);
    expect(r.stats.heldBytes).toBe(2 * CHUNK);
    const first = [r.pollWrite(), r.pollWrite()];
    expect(first.map((w) => w?.offsetBytes)).toEqual([0, CHUNK]);
    // Written, not synced: the budget has room again, but nothing is durable yet.
    r.handleWritten(0, 1);
    r.handleWritten(0, 1); // idempotent
    r.handleWritten(CHUNK, 1);
    expect(r.stats.heldBytes).toBe(2 * CHUNK);
    expect(r.stats.pendingWrites).toBe(4);
    expect(r.stats.durableBytes).toBe(0);
    expect(r.pollWrite()?.offsetBytes).toBe(2 * CHUNK);
    let manifest = decodeManifest(r.manifest());
    expect(manifest.ok && manifest.value.have.ranges()).toEqual([]);
    r.handleDurable(0, 2);
    r.handleDurable(CHUNK, 2);
    manifest = decodeManifest(r.manifest());
    expect(manifest.ok && manifest.value.have.ranges()).toEqual([[0, 2 * CHUNK]]);
    // The rest, written and synced as the adapter does, completes with the right SHA-256.
    r.handleWritten(2 * CHUNK, 3);
    r.handleDurable(2 * CHUNK, 3);
    for (let w = r.pollWrite(); w !== undefined; w = r.pollWrite()) {
      r.handleWritten(w.offsetBytes, 3);
      r.handleDurable(w.offsetBytes, 3);
    }
    expect(r.state).toBe("finishing");
  });

  it("resumes: accepts with the held bytes and reads them back for the SHA-256", () => {
    const file = makeFile(17, 6 * CHUNK);
    const have = new RangeSet(file.length, [
      [0, 2 * CHUNK],
      [4 * CHUNK, 5 * CHUNK],
    ]);
    const r = new FileReceiver({
      offer: offerOf(file),
      resume: { sizeBytes: file.length, sha256: sha256(file), have },
      readBlockBytes: CHUNK,
    });
    r.accept();
    expect(controls(r)).toEqual([
      {
        t: "file.accept",
        id: ID,
        have: [
          [0, 2 * CHUNK],
          [4 * CHUNK, 5 * CHUNK],
        ],
      },
    ]);
    const reads: number[] = [];
    const serveReads = () => {
      for (let rd = r.pollRead(); rd !== undefined; rd = r.pollRead()) {
        reads.push(rd.offset);
        r.handleRead(rd.offset, file.slice(rd.offset, rd.offset + rd.length), 5);
      }
    };
    serveReads();
    [2, 3, 5].forEach((index, seq) => {
      r.handleSegment(chunkSegment(seq, chunkAt(file, index)), seq);
      serveReads();
    });
    for (let w = r.pollWrite(); w !== undefined; w = r.pollWrite()) {
      r.handleDurable(w.offsetBytes, 5);
      serveReads();
    }
    expect(reads).toEqual([0, CHUNK, 4 * CHUNK]);
    expect(r.state).toBe("finishing");
    expect(r.stats).toMatchObject({
      resumedBytes: 3 * CHUNK,
      durableBytes: 6 * CHUNK,
      readBackBytes: 3 * CHUNK,
    });
  });

  it("a failed read-back ends the transfer with FILE_READ_FAILED", () => {
    const file = makeFile(19, 2 * CHUNK);
    const have = new RangeSet(file.length, [[0, CHUNK]]);
    const r = new FileReceiver({
      offer: offerOf(file),
      resume: { sizeBytes: file.length, sha256: sha256(file), have },
    });
    r.accept();
    controls(r);
    const rd = r.pollRead() as { offset: number; length: number };
    expect(rd).toEqual({ offset: 0, length: CHUNK });
    expect(r.pollRead()).toBeUndefined(); // one read-back at a time
    r.handleReadFailed(rd.offset, "EIO");
    expect(r.pollEvent()).toMatchObject({ type: "ended", code: "FILE_READ_FAILED", by: "local" });
  });

  it("a write failure ends the transfer with FILE_WRITE_FAILED or FILE_DISK_FULL; a peer's cancel ends it by peer", () => {
    const file = makeFile(18, 2 * CHUNK);
    const r = new FileReceiver({ offer: offerOf(file) });
    r.accept();
    controls(r);
    r.handleWriteFailed(0, "ENOSPC", 0);
    expect(r.pollEvent()).toMatchObject({ type: "ended", code: "FILE_WRITE_FAILED", by: "local" });
    expect(controls(r)).toMatchObject([
      { t: "file.cancel", code: "FILE_WRITE_FAILED", message: "at 0: ENOSPC" },
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
