/**
 * How a transfer ends. A core's `verified` puts the file in place, `completed` reports done
 * (what the file is, an image or a video, comes from a few small reads: the media sniff) and
 * `ended` fails it. A transfer whose session closes fails with FILE_PEER_LOST; a receiver
 * then keeps its `.part` and manifest, and so it does after a full disk and when a file that
 * arrived whole cannot be put in place; every other failure removes them. The receiver's
 * `failed` event says which (`partial`), and is sent only once that is so on disk
 * (`endWhenSettled`). A completed receiver lingers LINGER_MS to answer retransmissions.
 */

import type { FileTransferEvent } from "../files/file-core.js";
import { probeFile } from "../media/index.js";
import { endWhenSettled, putInPlace, releaseWhenSettled } from "./transfer-disk.js";
import type { TransferEvent } from "./transfer-event.js";
import { report } from "./transfer-events.js";
import type { Transfer, TransferTable } from "./transfer-table.js";

/** How long a completed receiver keeps answering retransmitted chunks with ACKs. */
const LINGER_MS = 2000;

export function onCoreEvent(tt: TransferTable, t: Transfer, e: FileTransferEvent): void {
  switch (e.type) {
    case "accepted":
      report(tt, t, "accepted");
      return;
    case "verified":
      putInPlace(tt, t);
      return;
    case "completed":
      complete(tt, t);
      return;
    case "ended":
      // A full disk keeps what is durable: once there is room, the same offer resumes. So
      // does a file that arrived whole but could not be put in place.
      finishFailed(tt, t, e.code, e.message, e.by, e.code === "FILE_DISK_FULL" || t.verified);
      return;
  }
}

function complete(tt: TransferTable, t: Transfer): void {
  t.done = true;
  t.syncTimer?.cancel();
  if (t.incoming) {
    // In place already (`putInPlace`); the channel lingers to answer retransmissions.
    // What the file is (an image, a video…) comes from a few small reads of its bytes.
    const media = t.finalPath === undefined ? undefined : probeFile(t.finalPath);
    report(tt, t, "done", {
      ...(t.finalPath === undefined ? {} : { path: t.finalPath }),
      ...(media === undefined ? {} : { media }),
    });
    drop(tt, t, LINGER_MS);
    return;
  }
  const outgoing = t.outgoing;
  if (outgoing) releaseWhenSettled(t, () => outgoing.close());
  report(tt, t, "done");
  drop(tt, t, 0);
}

export function finishFailed(
  tt: TransferTable,
  t: Transfer,
  code: NonNullable<TransferEvent["code"]>,
  message: string,
  by: "local" | "peer",
  keepPartial: boolean,
): void {
  t.done = true;
  t.syncTimer?.cancel();
  const partial = t.incoming
    ? { partial: keepPartial && t.receiver ? ("kept" as const) : ("removed" as const) }
    : {};
  const incoming = t.incoming;
  const receiver = t.receiver;
  const outgoing = t.outgoing;
  let finalise: () => void = () => outgoing?.close();
  if (incoming && keepPartial && receiver) {
    try {
      // What was written is made durable now (a shutdown has no later turn), so the
      // manifest can list it: the chunks waiting for a sync and those of the sync in
      // flight. Writes still in flight are left out and fetched again.
      const written = [...t.syncingBatch, ...t.written];
      if (written.length > 0) {
        incoming.syncNow();
        const at = tt.host.now();
        for (const offset of written) receiver.handleDurable(offset, at);
      }
    } catch {
      // Not durable, so not in the manifest: a resume fetches those bytes again.
    }
    try {
      // Lists only durable bytes; if even this small write fails (a full disk), the
      // previous manifest, also true, stays.
      incoming.saveManifest(receiver.manifest());
    } catch {
      // As above.
    }
    const inFlight = t.inflight > 0;
    finalise = () => {
      // A periodic save that was in flight may have renamed an older manifest over this
      // one: write it again (with what is durable now) once nothing is in flight.
      if (inFlight) {
        try {
          incoming.saveManifest(receiver.manifest());
        } catch {
          // The older one is still true.
        }
      }
      incoming.closeFd();
    };
  } else if (incoming) {
    finalise = () => incoming.discard();
  }
  endWhenSettled(tt, t, finalise, () =>
    report(tt, t, code === "FILE_CANCELLED" ? "cancelled" : "failed", { code, message, by, ...partial }),
  );
  drop(tt, t, 0);
}

export function drop(tt: TransferTable, t: Transfer, afterMs: number): void {
  const go = () => {
    tt.host.detachStream(t.conn, t.stream);
    if (tt.transfers.get(t.id) === t) tt.transfers.delete(t.id);
  };
  if (afterMs === 0) go();
  else tt.runtime.after(afterMs, go, { weak: true });
}
