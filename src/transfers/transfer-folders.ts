/**
 * Folders (`Batch`): a folder travels as one transfer per file under one short number. The
 * sender offers BATCH_PARALLEL files at a time and the next as one ends; the receiver answers
 * the folder once. Here: making a folder, counting its files as they end, stopping it on a
 * decline, a cancel or a lost session (BATCH_STOPS), and bounding how many a peer may keep
 * open (MAX_OPEN_BATCHES) or how many ended ones are remembered (KEEP_ENDED_BATCHES).
 */

import type { FileBatch } from "../protocol/file-control.js";
import type { TransferState } from "./transfer-event.js";
import type { Batch, Transfer, TransferTable } from "./transfer-table.js";

/** Files of one folder offered at once: a few, so that a folder of small files keeps the path busy. */
export const BATCH_PARALLEL = 2;
/** Received folders open at once (answered or not) before idle ones are ended. */
const MAX_OPEN_BATCHES = 64;
/** Ended folders remembered (for late offers of a declined one, and `list`), at most. */
const KEEP_ENDED_BATCHES = 64;
/** A folder stops at these; other failures (one unreadable file) go on with the next file. */
const BATCH_STOPS: ReadonlySet<string> = new Set([
  "FILE_DECLINED",
  "FILE_CANCELLED",
  "FILE_PEER_LOST",
  "FILE_OFFER_EXPIRED",
  "FILE_DISK_FULL",
]);

export function newBatch(
  tt: TransferTable,
  direction: "send" | "receive",
  peer: string,
  info: FileBatch,
): Batch {
  const b: Batch = {
    key: `${direction} ${peer} ${info.id}`,
    n: tt.nextNumber++,
    direction,
    peer,
    info,
    state: "offered",
    queue: [],
    filesDone: 0,
    bytesDone: 0,
    filesEnded: 0,
  };
  tt.batches.set(b.key, b);
  if (direction === "receive") boundOpenBatches(tt, b);
  return b;
}

/**
 * A peer names the folders it offers, and a folder whose files failed one by one (never a
 * stop) stays open waiting for the rest: beyond MAX_OPEN_BATCHES, the oldest open ones with
 * no file running end, so what peers offer cannot grow this map without bound.
 */
function boundOpenBatches(tt: TransferTable, keep: Batch): void {
  const open = [...tt.batches.values()].filter((x) => x.direction === "receive" && x.state !== "ended");
  let excess = open.length - MAX_OPEN_BATCHES;
  if (excess <= 0) return;
  const running = new Set<Batch>();
  for (const t of tt.transfers.values()) if (t.batch && !t.done) running.add(t.batch);
  for (const b of open) {
    if (excess <= 0) return;
    if (running.has(b) || b === keep) continue;
    endBatch(tt, b);
    excess--;
  }
}

export function endBatch(tt: TransferTable, b: Batch): void {
  if (b.state === "ended") return;
  b.state = "ended";
  b.queue = [];
  const ended = [...tt.batches.values()].filter((x) => x.state === "ended");
  for (const x of ended.slice(0, Math.max(0, ended.length - KEEP_ENDED_BATCHES))) tt.batches.delete(x.key);
}

/** A file of a folder ended: count it, and go on with the next one or stop the folder. */
export function batchFileEnded(
  tt: TransferTable,
  t: Transfer,
  state: TransferState,
  code: string | undefined,
): void {
  const b = t.batch;
  if (!b) return;
  b.filesEnded++;
  if (state === "done") {
    b.filesDone++;
    b.bytesDone += t.size;
  }
  const stop = state !== "done" && code !== undefined && BATCH_STOPS.has(code);
  if (stop || b.filesEnded >= b.info.files) {
    if (stop && b.direction === "receive") stopBatchFiles(tt, b, t.id, code);
    endBatch(tt, b);
    return;
  }
  if (b.direction === "send") void tt.offerNext(b);
}

/** The other files of a folder that stopped (declined, cancelled, lost) end with it. */
function stopBatchFiles(tt: TransferTable, b: Batch, except: string, code: string | undefined): void {
  for (const other of tt.transfers.values()) {
    if (other.batch !== b || other.done || other.id === except) continue;
    const core = other.sender ?? other.receiver;
    if (code === "FILE_DECLINED" && other.receiver?.state === "offered") other.receiver.decline("declined");
    else core?.cancel("cancelled by the user");
    tt.host.touch(other.conn);
  }
}

export function declineBatch(tt: TransferTable, b: Batch): void {
  endBatch(tt, b);
  for (const t of tt.transfers.values()) {
    if (t.batch !== b || t.done || t.receiver?.state !== "offered") continue;
    t.receiver.decline("declined");
    tt.host.touch(t.conn);
  }
}
