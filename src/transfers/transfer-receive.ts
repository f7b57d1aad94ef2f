/**
 * The receiving side's answers. An offer is refused at once when it is too large, does not
 * fit on the disk, or the drop box screens it out; otherwise it waits for `accept` or
 * `decline` (or is accepted at once into `autoAcceptDir`, or into its folder's directory
 * when the folder was already accepted). A folder's first answer answers all its files.
 *
 * Resume: `accept` first looks in the target directory for a `.part` whose manifest matches
 * the offer (size and SHA-256: the same content, whatever its name or transfer id) and no
 * running transfer uses; if there is one, the offer's receiver core is rebuilt from that
 * manifest on the same stream, so its `file.accept` lists the bytes already held. An offer of
 * content still arriving on an older session supersedes that transfer (`supersede`).
 */

import { HallwayError } from "../errors.js";
import { FileReceiver } from "../files/file-receiver.js";
import { decodeManifest, manifestMatchesOffer, type TransferManifest } from "../files/transfer-manifest.js";
import type { HostedConnection } from "../net/udp-host.js";
import type { FileOffer } from "../protocol/file-control.js";
import { safeFileName } from "./file-name.js";
import { freeBytes, IncomingFile, incomingFolder, reserveFolder, writeErrorCode } from "./file-store.js";
import { finishFailed } from "./transfer-ending.js";
import { report } from "./transfer-events.js";
import { declineBatch, newBatch } from "./transfer-folders.js";
import {
  type Batch,
  FREE_SPACE_MARGIN_BYTES,
  MAX_FILE_BYTES,
  newTransfer,
  offerExpiresAt,
  offered,
  resolve,
  sendControl,
  type Transfer,
  type TransferTable,
} from "./transfer-table.js";

export function handleOffer(tt: TransferTable, peer: string, conn: HostedConnection, offer: FileOffer): void {
  if (tt.transfers.has(offer.id)) return; // a duplicate (or a colliding id): the first one counts
  supersede(tt, peer, conn, offer);
  const receiver = new FileReceiver({ offer, offerExpiresAt: offerExpiresAt(tt) });
  if (!tt.host.isPeerStream(conn, offer.stream) || !tt.host.attachStream(conn, offer.stream, receiver)) {
    receiver.decline("stream not available");
    for (let c = receiver.pollControl(); c; c = receiver.pollControl()) sendControl(tt, conn, c);
    return;
  }
  let batch: Batch | undefined;
  if (offer.batch !== undefined) {
    batch = tt.batches.get(`receive ${peer} ${offer.batch.id}`);
    if (batch?.state === "ended") {
      // A late offer of a folder already declined or stopped.
      receiver.decline("declined");
      for (let c = receiver.pollControl(); c; c = receiver.pollControl()) sendControl(tt, conn, c);
      tt.host.detachStream(conn, offer.stream);
      return;
    }
    batch ??= newBatch(tt, "receive", peer, offer.batch);
    batch.conn = conn;
  }
  const t = newTransfer(tt, offer, "receive", peer, conn, batch);
  t.receiver = receiver;
  tt.transfers.set(t.id, t);
  // Refused at once, before anyone decides: both sides hear the code (the next turn sends
  // the cancel and reports the failure). Nothing is allocated for the file's size.
  const refused =
    tt.opts.screenOffer?.(peer, offer) ??
    refusal(tt, offer.size, tt.opts.autoAcceptDir ?? tt.opts.downloadDir);
  if (refused) {
    receiver.refuse(refused.code, refused.message);
    tt.host.touch(conn);
    return;
  }
  report(tt, t, "offered");
  if (batch?.state === "accepted") {
    acceptInBatch(tt, t, batch);
    return;
  }
  if (tt.opts.autoAcceptDir !== undefined) {
    try {
      accept(tt, t.id, tt.opts.autoAcceptDir);
    } catch (err) {
      const e = err instanceof HallwayError ? err : new HallwayError("INTERNAL", String(err));
      tt.opts.emit({ event: "error", code: e.code, message: e.message, id: t.id });
    }
  }
}

/**
 * The peer offers, on a newer session, content we are still receiving on an older one: the
 * old session is dead on the peer's side (its path went away long enough for the peer to
 * give up, while ours has not timed out yet). That transfer ends as a lost session, keeping
 * its partial file and writing its manifest, so that this offer can resume from it.
 */
function supersede(tt: TransferTable, peer: string, conn: HostedConnection, offer: FileOffer): void {
  for (const t of [...tt.transfers.values()]) {
    if (t.done || t.direction !== "receive" || t.peer !== peer || t.conn.session === conn.session) continue;
    if (t.sha256 !== offer.sha256 || t.size !== offer.size) continue;
    finishFailed(tt, t, "FILE_PEER_LOST", "the peer offered the file again on a new session", "peer", true);
  }
}

/**
 * An offer that does not decode (a name that is a path, a bad size): refused by its id with
 * FILE_PROTOCOL_ERROR, so the sender hears it, and reported here as a failed transfer.
 */
export function handleBadOffer(
  tt: TransferTable,
  peer: string,
  conn: HostedConnection,
  bad: { id: string; name: string; size: number; detail: string },
): void {
  if (tt.transfers.has(bad.id)) return;
  const message = `offer refused: ${bad.detail}`.slice(0, 200);
  sendControl(tt, conn, { t: "file.cancel", id: bad.id, code: "FILE_PROTOCOL_ERROR", message });
  tt.opts.emit({
    event: "transfer",
    id: bad.id,
    n: tt.nextNumber++,
    direction: "receive",
    state: "failed",
    peer,
    name: safeFileName(bad.name),
    size: bad.size,
    bytes: 0,
    sha256: "",
    code: "FILE_PROTOCOL_ERROR",
    message,
    by: "local",
  });
  tt.host.touch(conn);
}

/**
 * Accept an offer into `dir` (default: the download directory). `ref` is a transfer id, its
 * number or the start of its id; a file of a folder accepts the whole folder.
 */
export function accept(tt: TransferTable, ref: string, dir?: string): void {
  const { t, b } = resolve(tt, ref);
  if (b && b.direction === "receive") {
    acceptBatch(tt, b, dir);
    return;
  }
  if (!t) throw new HallwayError("FILE_UNKNOWN_TRANSFER", `no offer ${ref}`);
  acceptFile(tt, offered(tt, t.id), dir ?? tt.opts.downloadDir);
}

/** The folder gets a new folder of its name (numbered if taken); its waiting files start. */
function acceptBatch(tt: TransferTable, b: Batch, dir: string | undefined): void {
  if (b.state !== "offered")
    throw new HallwayError("FILE_UNKNOWN_TRANSFER", `transfer ${b.n} was already answered`);
  const target = dir ?? tt.opts.downloadDir;
  try {
    b.root = reserveFolder(target, b.info.name);
  } catch (err) {
    const code = err instanceof HallwayError ? err.code : writeErrorCode(err);
    declineBatch(tt, b);
    throw new HallwayError(
      code,
      `cannot make a folder for ${b.info.name} in ${target}: ${(err as Error).message}`,
    );
  }
  b.state = "accepted";
  for (const t of [...tt.transfers.values()]) {
    if (t.batch === b && !t.done && t.receiver?.state === "offered") acceptInBatch(tt, t, b);
  }
}

/** A file of an accepted folder: into its folder under the root, or declined if that fails. */
function acceptInBatch(tt: TransferTable, t: Transfer, b: Batch): void {
  try {
    acceptFile(tt, t, incomingFolder(b.root as string, t.dir));
  } catch (err) {
    const e = err instanceof HallwayError ? err : new HallwayError(writeErrorCode(err), String(err));
    if (t.receiver?.state === "offered") {
      t.receiver.decline("cannot store the file");
      tt.host.touch(t.conn);
    }
    tt.opts.emit({ event: "error", code: e.code, message: e.message, id: t.id, n: t.n });
  }
}

function acceptFile(tt: TransferTable, t: Transfer, target: string): void {
  let receiver = t.receiver as FileReceiver;
  let resumed: ReturnType<typeof findPartial>;
  try {
    resumed = findPartial(tt, t, receiver.offer, target);
    // The space still needed: a resume already holds part of the file.
    const refused = refusal(tt, t.size - (resumed?.receiver.stats.resumedBytes ?? 0), target);
    if (refused) throw new HallwayError(refused.code, refused.message);
    if (resumed) {
      t.incoming = resumed.file;
      receiver = resumed.receiver;
      t.receiver = receiver;
      t.manifestBytes = receiver.stats.resumedBytes;
    } else {
      t.incoming = IncomingFile.create(target, t.name);
    }
    // A manifest from the start: on a full disk it is rewritten in place, needing no new space.
    t.incoming.saveManifest(receiver.manifest());
  } catch (err) {
    const code = err instanceof HallwayError ? err.code : writeErrorCode(err);
    // A partial file of an earlier transfer stays for later; one made just now goes.
    if (resumed) resumed.file.closeFd();
    else t.incoming?.discard();
    t.incoming = undefined;
    const core = resumed?.receiver ?? receiver;
    t.receiver = core;
    // The sender hears why: no room, too large, or the disk refused (declined).
    if (code === "FILE_NO_SPACE" || code === "FILE_TOO_LARGE") core.refuse(code, (err as Error).message);
    else core.decline("cannot store the file");
    tt.host.touch(t.conn);
    throw new HallwayError(code, `cannot store ${t.name}: ${(err as Error).message}`);
  }
  receiver.accept();
  report(tt, t, "accepted");
  tt.host.touch(t.conn);
}

/**
 * A partial file of the offered content left by an earlier transfer (a lost session, a
 * killed process), with a receiver rebuilt from its manifest on the offer's stream.
 */
function findPartial(
  tt: TransferTable,
  t: Transfer,
  offer: FileOffer,
  dir: string,
): { file: IncomingFile; receiver: FileReceiver } | undefined {
  const inUse = new Set<string>();
  for (const other of tt.transfers.values()) if (other.incoming) inUse.add(other.incoming.partPath);
  let resume: TransferManifest | undefined;
  const found = IncomingFile.findPartial(
    dir,
    (bytes) => {
      const m = decodeManifest(bytes);
      if (!m.ok || !manifestMatchesOffer(m.value, offer)) return false;
      resume = m.value;
      return true;
    },
    inUse,
  );
  if (!found || !resume) return undefined;
  const { file } = found;
  const receiver = new FileReceiver({ offer, resume });
  if (!tt.host.replaceStream(t.conn, t.stream, receiver)) {
    file.closeFd();
    return undefined;
  }
  return { file, receiver };
}

/** Decline an offer (`ref` as for `accept`; a file of a folder declines the folder). */
export function decline(tt: TransferTable, ref: string): void {
  const { t, b } = resolve(tt, ref);
  if (b && b.direction === "receive") {
    if (b.state !== "offered")
      throw new HallwayError("FILE_UNKNOWN_TRANSFER", `transfer ${b.n} was already answered`);
    declineBatch(tt, b);
    return;
  }
  if (!t) throw new HallwayError("FILE_UNKNOWN_TRANSFER", `no offer ${ref}`);
  (offered(tt, t.id).receiver as FileReceiver).decline("declined");
  tt.host.touch(t.conn);
}

/**
 * Why a file of `size` bytes (still to arrive) cannot go into `dir`, if it cannot: over the
 * size limit, or more than the file system has free with the margin.
 */
function refusal(
  tt: TransferTable,
  size: number,
  dir: string,
): { code: "FILE_TOO_LARGE" | "FILE_NO_SPACE"; message: string } | undefined {
  const max = tt.opts.maxFileBytes ?? MAX_FILE_BYTES;
  if (size > max) {
    return { code: "FILE_TOO_LARGE", message: `${size} bytes is over the receiver's limit of ${max}` };
  }
  const free = freeBytes(dir);
  if (free !== undefined && size + FREE_SPACE_MARGIN_BYTES > free) {
    return {
      code: "FILE_NO_SPACE",
      message: `${size} bytes do not fit: ${free} free, and ${FREE_SPACE_MARGIN_BYTES} must stay free`,
    };
  }
  return undefined;
}
