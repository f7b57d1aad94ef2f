/**
 * What the transfer layer tells: `transfer` events (offered, accepted, progress, the end)
 * with their byte counters, rate and ETA, the folder's totals and, at the end, the sender's
 * path figures; and `list()`, one row per running number. Progress events are throttled to
 * one per PROGRESS_INTERVAL_MS per transfer. Reporting a file's end counts it in its folder.
 */

import { ProgressMeter } from "./file-progress.js";
import type { TransferEvent, TransferState } from "./transfer-event.js";
import { batchFileEnded } from "./transfer-folders.js";
import type { Transfer, TransferRow, TransferTable } from "./transfer-table.js";

/** ≤ 4 progress events per second per transfer. */
const PROGRESS_INTERVAL_MS = 250;

/** Running transfers and folders, one row per number, oldest first. */
export function listTransfers(tt: TransferTable): TransferRow[] {
  const rows = new Map<number, TransferRow>();
  for (const t of tt.transfers.values()) {
    if (t.done) continue;
    const core = t.sender ?? t.receiver;
    const state: TransferState = core?.state === "offered" ? "offered" : "progress";
    const b = t.batch;
    if (!b) {
      rows.set(t.n, {
        n: t.n,
        direction: t.direction,
        peer: t.peer,
        name: t.name,
        state,
        size: t.size,
        bytes: bytesOf(t),
      });
      continue;
    }
    const row = rows.get(b.n) ?? {
      n: b.n,
      direction: b.direction,
      peer: b.peer,
      name: b.info.name,
      state,
      size: b.info.bytes,
      bytes: b.bytesDone,
      files: b.info.files,
      filesDone: b.filesDone,
    };
    row.bytes += bytesOf(t);
    if (state === "progress") row.state = "progress";
    rows.set(b.n, row);
  }
  for (const b of tt.batches.values()) {
    if (b.state === "ended" || rows.has(b.n)) continue;
    rows.set(b.n, {
      n: b.n,
      direction: b.direction,
      peer: b.peer,
      name: b.info.name,
      state: b.state === "offered" ? "offered" : "progress",
      size: b.info.bytes,
      bytes: b.bytesDone,
      files: b.info.files,
      filesDone: b.filesDone,
    });
  }
  return [...rows.values()].sort((a, b) => a.n - b.n);
}

function bytesOf(t: Transfer): number {
  if (t.sender) {
    const s = t.sender.stats;
    return Math.min(t.size, s.skippedBytes + s.acknowledgedBytes);
  }
  return t.receiver ? t.receiver.durableBytes : 0;
}

export function maybeProgress(tt: TransferTable, t: Transfer, now: number): void {
  const core = t.sender ?? t.receiver;
  if (core?.state !== "transferring" && core?.state !== "finishing") return;
  if (now - t.lastProgressAt < PROGRESS_INTERVAL_MS) return;
  const bytes = bytesOf(t);
  if (bytes === t.lastProgressBytes) return;
  t.lastProgressAt = now;
  t.lastProgressBytes = bytes;
  report(tt, t, "progress", t.meter?.sample(now, bytes) ?? {}, bytes);
}

/** The byte counters of an accepted transfer (docs/cli.md defines them). */
function counters(t: Transfer): Pick<TransferEvent, "skippedBytes" | "sentBytes"> {
  if (t.meter === undefined) return {};
  if (t.sender) {
    const s = t.sender.stats;
    return { skippedBytes: s.skippedBytes, sentBytes: s.sentBytes };
  }
  return t.receiver ? { skippedBytes: t.receiver.stats.resumedBytes } : {};
}

/** The sender's path figures, when it ends: the path MTU and the datagram sizes it sent. */
function pathFigures(tt: TransferTable, t: Transfer): Pick<TransferEvent, "pathMtuBytes" | "datagramSizes"> {
  const stats = tt.host.connectionStats(t.conn);
  return {
    ...(stats ? { pathMtuBytes: stats.path.plpmtuBytes } : {}),
    ...(t.sender ? { datagramSizes: t.sender.stats.datagramSizes } : {}),
  };
}

export function report(
  tt: TransferTable,
  t: Transfer,
  state: TransferState,
  extra: Partial<
    Pick<
      TransferEvent,
      "code" | "message" | "by" | "path" | "bytesPerSecond" | "etaSeconds" | "partial" | "media"
    >
  > = {},
  bytes = state === "done" ? t.size : bytesOf(t),
): void {
  const path = extra.path ?? (t.incoming && state === "accepted" ? t.incoming.partPath : undefined);
  const ended = state === "done" || state === "failed" || state === "cancelled";
  const retransmittedBytes = ended ? t.sender?.stats.channel.retransmittedBytes : undefined;
  if (state === "accepted") t.meter = new ProgressMeter(tt.host.now(), bytes, t.size);
  if (ended) batchFileEnded(tt, t, state, extra.code);
  const b = t.batch;
  tt.opts.emit({
    event: "transfer",
    id: t.id,
    n: t.n,
    ...(b === undefined
      ? {}
      : {
          batch: {
            ...b.info,
            filesDone: b.filesDone,
            filesEnded: b.filesEnded,
            bytesDone: b.bytesDone + (ended ? 0 : bytes),
            ...(b.root === undefined ? {} : { path: b.root }),
          },
        }),
    ...(t.dir === undefined ? {} : { dir: t.dir }),
    direction: t.direction,
    state,
    peer: t.peer,
    name: t.name,
    size: t.size,
    bytes,
    sha256: t.sha256,
    ...counters(t),
    ...extra,
    ...(path === undefined ? {} : { path }),
    ...(retransmittedBytes === undefined ? {} : { retransmittedBytes }),
    ...(ended && t.sender ? pathFigures(tt, t) : {}),
  });
}
