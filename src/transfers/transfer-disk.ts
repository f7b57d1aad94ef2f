/**
 * The transfer layer's disk work, off the event loop. A receiver's writes (`pollWrite`) are
 * gathered into one asynchronous `writev` at a time; completed writes are made durable by
 * one fsync per SYNC_BATCH_BYTES, or SYNC_DELAY_MS after the first, or at once when the last
 * byte has arrived, and each chunk is then reported with `handleDurable`. The manifest
 * sidecar is rewritten at most every MANIFEST_INTERVAL_MS (or MANIFEST_INTERVAL_BYTES).
 *
 * Every operation goes through `io`: its result feeds the core only while the transfer runs,
 * its completion `touch`es the session (a turn follows), and a transfer's descriptors are
 * released only once none of its disk work is in flight (`releaseWhenSettled`), so a late
 * callback can never touch a descriptor number that was reused.
 */

import type { FileReceiver } from "../files/file-receiver.js";
import type { FileRead } from "../files/file-sender.js";
import { type IncomingFile, WRITE_BLOCK_BUFFERS, WRITE_BLOCK_BYTES, writeErrorCode } from "./file-store.js";
import type { Transfer, TransferTable } from "./transfer-table.js";

/**
 * An fsync takes a few milliseconds on a virtual disk whatever the batch, so it runs rarely:
 * after 4 MiB written, or 50 ms after the first unsynced write, or as soon as the last byte
 * is written. It runs on the thread pool, so the event loop keeps going meanwhile. What a
 * killed receiver fetches again is bounded by this batch and the manifest's lag below.
 */
const SYNC_BATCH_BYTES = 4 * 1024 * 1024;
const SYNC_DELAY_MS = 50;
/**
 * A killed receiver re-fetches what became durable after the last manifest: at most this much
 * time, or this many bytes, of transfer (plus what was in flight). A manifest costs one small
 * write and fsync.
 */
const MANIFEST_INTERVAL_MS = 250;
const MANIFEST_INTERVAL_BYTES = 2 * 1024 * 1024;

/** Read-back, writes and syncs of one receiving transfer. */
export function drainDisk(
  tt: TransferTable,
  t: Transfer,
  receiver: FileReceiver,
  file: IncomingFile,
  now: number,
): void {
  for (let r = receiver.pollRead(); r; r = receiver.pollRead()) {
    const read: FileRead = r;
    io(
      tt,
      t,
      file.readAt(read.offset, read.length),
      (bytes) => receiver.handleRead(read.offset, bytes, tt.host.now()),
      (err) => receiver.handleReadFailed(read.offset, (err as NodeJS.ErrnoException).code ?? String(err)),
    );
  }
  for (let w = receiver.pollWrite(); w; w = receiver.pollWrite()) t.toWrite.push(w);
  if (!t.writing && t.toWrite.length > 0) startWrite(tt, t, receiver, file, now);
  maybeSync(tt, t, receiver, file, now);
}

/** One gathered `writev` of the consecutive chunks at the head of the queue. */
function startWrite(
  tt: TransferTable,
  t: Transfer,
  receiver: FileReceiver,
  file: IncomingFile,
  now: number,
): void {
  const first = t.toWrite[0] as { offsetBytes: number; bytes: Uint8Array };
  const buffers: Uint8Array[] = [];
  const offsets: number[] = [];
  let end = first.offsetBytes;
  let bytes = 0;
  let taken = 0;
  for (const w of t.toWrite) {
    if (w.offsetBytes !== end || bytes >= WRITE_BLOCK_BYTES || buffers.length >= WRITE_BLOCK_BUFFERS) break;
    buffers.push(w.bytes);
    offsets.push(w.offsetBytes);
    end += w.bytes.length;
    bytes += w.bytes.length;
    taken++;
  }
  t.toWrite.splice(0, taken);
  t.writing = true;
  io(
    tt,
    t,
    tt.opts.writeFile
      ? tt.opts.writeFile(file, first.offsetBytes, buffers)
      : file.writeAt(first.offsetBytes, buffers),
    () => {
      t.writing = false;
      const at = tt.host.now();
      if (t.written.length === 0) t.firstWrittenAt = at;
      for (const offset of offsets) receiver.handleWritten(offset, at);
      t.written.push(...offsets);
      t.writtenBytes += bytes;
    },
    (err) => {
      t.writing = false;
      receiver.handleWriteFailed(
        first.offsetBytes,
        (err as NodeJS.ErrnoException).code ?? String(err),
        now,
        writeErrorCode(err),
      );
    },
  );
}

/** An fsync of what was written, when a batch is full, old enough, or the file is all there. */
function maybeSync(
  tt: TransferTable,
  t: Transfer,
  receiver: FileReceiver,
  file: IncomingFile,
  now: number,
): void {
  if (t.syncing || t.written.length === 0) return;
  const allArrived = receiver.arrivedBytes >= t.size && t.toWrite.length === 0 && !t.writing;
  const due = t.writtenBytes >= SYNC_BATCH_BYTES || allArrived || now - t.firstWrittenAt >= SYNC_DELAY_MS;
  if (!due) {
    if (t.syncTimer === undefined) {
      t.syncTimer = tt.runtime.after(
        Math.max(1, SYNC_DELAY_MS - (now - t.firstWrittenAt)),
        () => {
          t.syncTimer = undefined;
          if (!t.done) tt.host.touch(t.conn);
        },
        { weak: true },
      );
    }
    return;
  }
  t.syncTimer?.cancel();
  t.syncTimer = undefined;
  const batch = t.written;
  t.written = [];
  t.writtenBytes = 0;
  t.syncing = true;
  t.syncingBatch = batch;
  io(
    tt,
    t,
    file.sync(),
    () => {
      t.syncing = false;
      t.syncingBatch = [];
      const at = tt.host.now();
      // May pull more chunks from the channel; the next turn writes them.
      for (const offset of batch) receiver.handleDurable(offset, at);
      const grown = receiver.durableBytes - t.manifestBytes;
      if (
        receiver.state === "transferring" &&
        (at - t.manifestAt >= MANIFEST_INTERVAL_MS || grown >= MANIFEST_INTERVAL_BYTES)
      ) {
        saveManifest(tt, t, receiver, file, at);
      }
    },
    (err) => {
      t.syncing = false;
      receiver.handleWriteFailed(
        batch[0] ?? 0,
        (err as NodeJS.ErrnoException).code ?? String(err),
        now,
        writeErrorCode(err),
      );
    },
  );
}

/**
 * Runs one asynchronous disk operation of a transfer. Its result feeds the core only while
 * the transfer is running; either way the session is touched (a turn follows) and, once
 * nothing is in flight, a finished transfer's descriptors are released.
 */
export function io<T>(
  tt: TransferTable,
  t: Transfer,
  op: Promise<T>,
  onDone: (v: T) => void,
  onFail: (err: unknown) => void,
): void {
  t.inflight++;
  const settle = (): void => {
    t.inflight--;
    if (!t.done && t.inflight === 0 && t.whenIdle) {
      const idle = t.whenIdle;
      t.whenIdle = undefined;
      idle();
    }
    if (t.done && t.inflight === 0 && t.release) {
      const release = t.release;
      t.release = undefined;
      release();
    }
    tt.host.touch(t.conn);
  };
  op.then(
    (v) => {
      if (!t.done) onDone(v);
      settle();
    },
    (err) => {
      if (!t.done) onFail(err);
      settle();
    },
  );
}

/**
 * Finishes an ended transfer's files once no disk operation of `t` is in flight, then
 * reports the end, so that what the event says (the partial file kept or removed) is already
 * so on disk: a write or a failed manifest save in flight settles first. A shutdown reports
 * at once, as it has no later turn to report in.
 */
export function endWhenSettled(
  tt: TransferTable,
  t: Transfer,
  finalise: () => void,
  reportEnd: () => void,
): void {
  if (tt.stopping) {
    reportEnd();
    releaseWhenSettled(t, finalise);
    return;
  }
  releaseWhenSettled(t, () => {
    finalise();
    reportEnd();
  });
}

/** Runs `release` once no disk operation of `t` is in flight. */
export function releaseWhenSettled(t: Transfer, release: () => void): void {
  if (t.inflight === 0) release();
  else t.release = release;
}

/** Saves the manifest off the event loop, unless one save is still in flight. */
function saveManifest(
  tt: TransferTable,
  t: Transfer,
  receiver: FileReceiver,
  file: IncomingFile,
  now: number,
): void {
  const durable = receiver.durableBytes;
  if (durable === t.manifestBytes || t.savingManifest) return;
  t.manifestAt = now;
  t.savingManifest = true;
  const settle = () => {
    t.savingManifest = false;
  };
  io(
    tt,
    t,
    file.saveManifestAsync(receiver.manifest()),
    () => {
      settle();
      t.manifestBytes = Math.max(t.manifestBytes, durable);
    },
    // The manifest only speeds up a resume; the transfer itself is unaffected.
    settle,
  );
}

/**
 * Every byte is durable and the SHA-256 matched: the file takes its final name (link,
 * fsync of the directory, removal of the `.part`) once no disk work of the transfer is in
 * flight (a manifest save's rename would bring back the manifest of a file that is done).
 * Only then does the core send `file.done`, so the sender shows done when the file is
 * there. If it cannot be put in place (a folder made read-only), both sides fail with the
 * code, and the `.part` and its manifest stay for a resume.
 */
export function putInPlace(tt: TransferTable, t: Transfer): void {
  const { incoming, receiver } = t;
  if (!incoming || !receiver) return;
  t.verified = true;
  t.syncTimer?.cancel();
  t.syncTimer = undefined;
  const finish = () => {
    if (t.done) return;
    const now = tt.host.now();
    try {
      t.finalPath = incoming.finish();
      receiver.handleFinished(now);
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      receiver.handleFinishFailed(
        writeErrorCode(err),
        `cannot put the finished file in place (${why}); the received data is kept for a resume`,
        now,
      );
    }
    tt.host.touch(t.conn);
  };
  if (t.inflight === 0) finish();
  else t.whenIdle = finish;
}
