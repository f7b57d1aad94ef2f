/**
 * FileTransfers: the peer's transfer layer. It wires the sans-IO cores (FileSender,
 * FileReceiver) to a session's Connection (each core hosts its own stream) and to the disk
 * (`file-store.ts`), and turns their events into `transfer` events.
 *
 * Driving: UdpHost calls `onPoll()` on every pump, after incoming frames were handled and
 * before payloads are packed. There each transfer is drained in a fixed order:
 *   1. receiver writes (`pollWrite`) go to the `.part` file; every SYNC_BATCH_CHUNKS writes,
 *      or SYNC_DELAY_MS after the first unsynced one, one fsync makes them durable and each
 *      is reported with `handleDurable` (which may pull more chunks, so this loops);
 *   2. control messages (`pollControl`) are queued on stream 0;
 *   3. core events become `transfer` events; a finished transfer is dropped.
 * Commands (send, accept, decline, cancel) change a core and then `flush()` the host.
 *
 * Progress events are throttled to one per PROGRESS_INTERVAL_MS per transfer. The manifest
 * sidecar is rewritten at most every MANIFEST_INTERVAL_MS. A transfer whose session closes
 * fails with FILE_PEER_LOST; a receiver then keeps its `.part` and manifest, every other
 * failure removes them.
 *
 * Resume: `accept` first looks in the target directory for a `.part` whose manifest matches
 * the offer (size, chunk size, SHA-256: the same content, whatever its name or transfer id)
 * and no running transfer uses; if there is one, the offer's receiver core is rebuilt from
 * that manifest on the same stream, so its `file.accept` lists the chunks already held.
 */

import { randomBytes } from "node:crypto";
import { HallwayError } from "../errors.js";
import { type HostedConnection, now as hostNow, type UdpHost } from "../net/udp-host.js";
import { chunkLengthOf, DEFAULT_CHUNK_BYTES } from "../protocol/file-chunk.js";
import { encodeFileControl, type FileControl, type FileOffer } from "../protocol/file-offer.js";
import { FileReceiver } from "../transfer/file-receiver.js";
import { FileSender } from "../transfer/file-sender.js";
import type { FileTransferEvent } from "../transfer/file-transfer.js";
import {
  decodeManifest,
  manifestMatchesOffer,
  type TransferManifest,
} from "../transfer/transfer-manifest.js";
import type { PeerEvent, TransferEvent, TransferState } from "./events.js";
import { ProgressMeter } from "./file-progress.js";
import { IncomingFile, OutgoingFile, writeErrorCode } from "./file-store.js";

/**
 * fsync blocks the event loop (a few ms on a virtual disk, whatever the batch), so it runs
 * rarely: after about 2 MB, or 50 ms after the first unsynced write. With 32-chunk batches
 * it took a quarter of the receiver's time in bench:transfer and halved the goodput.
 */
const SYNC_BATCH_CHUNKS = 2048;
const SYNC_DELAY_MS = 50;
/** ≤ 4 progress events per second per transfer. */
const PROGRESS_INTERVAL_MS = 250;
/**
 * A killed receiver re-fetches what became durable after the last manifest: at most this much
 * time of transfer (plus what was in flight). A manifest costs one small write and fsync.
 */
const MANIFEST_INTERVAL_MS = 250;
/** How long an offer waits for an answer before both sides end it with FILE_OFFER_EXPIRED. */
export const OFFER_TIMEOUT_MS = 10 * 60_000;
/** How long a completed receiver keeps answering retransmitted chunks with ACKs. */
const LINGER_MS = 2000;

interface Transfer {
  id: string;
  direction: "send" | "receive";
  peer: string;
  conn: HostedConnection;
  stream: number;
  name: string;
  size: number;
  chunkBytes: number;
  sha256: string;
  sender?: FileSender;
  receiver?: FileReceiver;
  outgoing?: OutgoingFile;
  incoming?: IncomingFile;
  unsynced: number[];
  syncTimer?: NodeJS.Timeout;
  lastProgressAt: number;
  lastProgressBytes: number;
  /** Set when the transfer is accepted: from then on events carry the byte counters. */
  meter?: ProgressMeter;
  manifestAt: number;
  manifestChunks: number;
  done: boolean;
}

export interface FileTransfersOptions {
  host: UdpHost;
  emit: (e: PeerEvent) => void;
  /** Accept every offer into this directory. */
  autoAcceptDir?: string;
  /** Where `accept` without a directory puts files. */
  downloadDir: string;
  chunkBytes?: number;
  /** Default OFFER_TIMEOUT_MS. */
  offerTimeoutMs?: number;
}

export class FileTransfers {
  private readonly transfers = new Map<string, Transfer>();
  private readonly host: UdpHost;

  constructor(private readonly opts: FileTransfersOptions) {
    this.host = opts.host;
  }

  // ---- commands ----------------------------------------------------------------------

  /** Offer a file on a live session; resolves with the transfer id once offered. */
  async send(peer: string, conn: HostedConnection, path: string, offeredName: string): Promise<string> {
    const file = await OutgoingFile.open(path);
    const stream = this.host.allocateStream(conn);
    if (stream === undefined || !this.host.isLive(conn)) {
      file.close();
      throw new HallwayError("FILE_PEER_LOST", `the session to ${peer} closed`);
    }
    const chunkBytes = this.opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    let sender: FileSender;
    try {
      sender = new FileSender({
        id: randomBytes(12).toString("hex"),
        stream,
        name: offeredName,
        sizeBytes: file.sizeBytes,
        sha256: file.sha256,
        chunkBytes,
        readChunk: (i) => file.read(i * chunkBytes, chunkLengthOf(i, file.sizeBytes, chunkBytes)),
        offerExpiresAt: this.offerExpiresAt(),
      });
    } catch (err) {
      file.close();
      throw new HallwayError("CLI_BAD_COMMAND", `cannot offer '${offeredName}': ${(err as Error).message}`);
    }
    if (!this.host.attachStream(conn, stream, sender)) {
      file.close();
      throw new HallwayError("FILE_PEER_LOST", `the session to ${peer} has no free stream`);
    }
    const t = this.newTransfer(sender.offer, "send", peer, conn);
    t.sender = sender;
    t.outgoing = file;
    this.transfers.set(t.id, t);
    this.report(t, "offered");
    this.host.flush();
    return t.id;
  }

  /** Accept an offer; `flush` is false when called from inside the host's pump (auto-accept). */
  accept(id: string, dir?: string, flush = true): void {
    const t = this.offered(id);
    let receiver = t.receiver as FileReceiver;
    const target = dir ?? this.opts.downloadDir;
    let resumed: ReturnType<FileTransfers["findPartial"]>;
    try {
      resumed = this.findPartial(t, receiver.offer, target);
      if (resumed) {
        t.incoming = resumed.file;
        receiver = resumed.receiver;
        t.receiver = receiver;
        t.manifestChunks = receiver.stats.resumedChunks;
      } else {
        t.incoming = IncomingFile.create(target, t.name);
      }
      // A manifest from the start: on a full disk it is rewritten in place, needing no new space.
      t.incoming.saveManifest(receiver.manifest());
    } catch (err) {
      const code = err instanceof HallwayError ? err.code : writeErrorCode(err);
      // A partial file of an earlier transfer stays for later; one made just now goes.
      if (resumed) t.incoming?.closeFd();
      else t.incoming?.discard();
      t.incoming = undefined;
      receiver.decline("cannot store the file");
      if (flush) this.host.flush();
      throw new HallwayError(code, `cannot store ${t.name}: ${(err as Error).message}`);
    }
    receiver.accept();
    this.report(t, "accepted");
    if (flush) this.host.flush();
  }

  /**
   * A partial file of the offered content left by an earlier transfer (a lost session, a
   * killed process), with a receiver rebuilt from its manifest on the offer's stream.
   */
  private findPartial(
    t: Transfer,
    offer: FileOffer,
    dir: string,
  ): { file: IncomingFile; receiver: FileReceiver } | undefined {
    const inUse = new Set<string>();
    for (const other of this.transfers.values()) if (other.incoming) inUse.add(other.incoming.partPath);
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
    const receiver = new FileReceiver({
      offer,
      resume,
      readChunk: (i) => file.read(i * offer.chunkBytes, chunkLengthOf(i, offer.size, offer.chunkBytes)),
    });
    if (!this.host.replaceStream(t.conn, t.stream, receiver)) {
      file.closeFd();
      return undefined;
    }
    return { file, receiver };
  }

  decline(id: string): void {
    const t = this.offered(id);
    (t.receiver as FileReceiver).decline("declined");
    this.host.flush();
  }

  cancel(id: string): void {
    const t = this.transfers.get(id);
    if (!t || t.done) throw new HallwayError("FILE_UNKNOWN_TRANSFER", `no running transfer ${id}`);
    (t.sender ?? t.receiver)?.cancel("cancelled by the user");
    this.host.flush();
  }

  // ---- from the session --------------------------------------------------------------

  /** A file.* message from a verified peer on stream 0. */
  handleControl(peer: string, conn: HostedConnection, msg: FileControl): void {
    if (msg.t === "file.offer") {
      this.handleOffer(peer, conn, msg);
      return;
    }
    const t = this.transfers.get(msg.id);
    if (!t || t.peer !== peer || t.conn.session !== conn.session) return;
    (t.sender ?? t.receiver)?.handleControl(msg, 0);
  }

  private handleOffer(peer: string, conn: HostedConnection, offer: FileOffer): void {
    if (this.transfers.has(offer.id)) return; // a duplicate (or a colliding id): the first one counts
    this.supersede(peer, conn, offer);
    const receiver = new FileReceiver({ offer, offerExpiresAt: this.offerExpiresAt() });
    if (
      !this.host.isPeerStream(conn, offer.stream) ||
      !this.host.attachStream(conn, offer.stream, receiver)
    ) {
      receiver.decline("stream not available");
      for (let c = receiver.pollControl(); c; c = receiver.pollControl()) {
        this.host.enqueue(conn, encodeFileControl(c));
      }
      return;
    }
    const t = this.newTransfer(offer, "receive", peer, conn);
    t.receiver = receiver;
    this.transfers.set(t.id, t);
    this.report(t, "offered");
    if (this.opts.autoAcceptDir !== undefined) {
      try {
        // Inside the host's pump: its `onPoll` sends the accept, no flush from here.
        this.accept(t.id, this.opts.autoAcceptDir, false);
      } catch (err) {
        const e = err instanceof HallwayError ? err : new HallwayError("INTERNAL", String(err));
        this.opts.emit({ event: "error", code: e.code, message: e.message, id: t.id });
      }
    }
  }

  /**
   * The peer offers, on a newer session, content we are still receiving on an older one: the
   * old session is dead on the peer's side (its path went away long enough for the peer to
   * give up, while ours has not timed out yet). That transfer ends as a lost session, keeping
   * its partial file and writing its manifest, so that this offer can resume from it.
   */
  private supersede(peer: string, conn: HostedConnection, offer: FileOffer): void {
    for (const t of [...this.transfers.values()]) {
      if (t.done || t.direction !== "receive" || t.peer !== peer || t.conn.session === conn.session) continue;
      if (t.sha256 !== offer.sha256 || t.size !== offer.size || t.chunkBytes !== offer.chunkBytes) continue;
      this.finishFailed(
        t,
        "FILE_PEER_LOST",
        "the peer offered the file again on a new session",
        "peer",
        true,
      );
    }
  }

  /** The session closed: its transfers cannot go on. */
  onClosed(conn: HostedConnection): void {
    for (const t of [...this.transfers.values()]) {
      if (t.conn.session !== conn.session || t.done) continue;
      this.finishFailed(t, "FILE_PEER_LOST", "the session to the peer closed", "peer", true);
    }
  }

  /** Drain every transfer (called by UdpHost before it packs payloads). */
  onPoll(): void {
    for (const t of [...this.transfers.values()]) if (!t.done) this.drain(t);
  }

  /** Stop every transfer (shutdown): partial files are kept for a later resume. */
  stop(): void {
    for (const t of [...this.transfers.values()]) {
      if (!t.done) this.finishFailed(t, "FILE_PEER_LOST", "shutting down", "local", true);
    }
  }

  // ---- internals ---------------------------------------------------------------------

  private newTransfer(
    offer: FileOffer,
    direction: "send" | "receive",
    peer: string,
    conn: HostedConnection,
  ): Transfer {
    return {
      id: offer.id,
      direction,
      peer,
      conn,
      stream: offer.stream,
      name: offer.name,
      size: offer.size,
      chunkBytes: offer.chunkBytes,
      sha256: offer.sha256,
      unsynced: [],
      lastProgressAt: 0,
      lastProgressBytes: -1,
      manifestAt: Date.now(),
      manifestChunks: 0,
      done: false,
    };
  }

  /** In the host's clock, which drives the cores' timers. */
  private offerExpiresAt(): number {
    return hostNow() + (this.opts.offerTimeoutMs ?? OFFER_TIMEOUT_MS);
  }

  private offered(id: string): Transfer {
    const t = this.transfers.get(id);
    if (!t || t.done || !t.receiver) throw new HallwayError("FILE_UNKNOWN_TRANSFER", `no offer ${id}`);
    if (t.receiver.state !== "offered") {
      throw new HallwayError("FILE_UNKNOWN_TRANSFER", `transfer ${id} was already answered`);
    }
    return t;
  }

  private drain(t: Transfer): void {
    const core = t.sender ?? (t.receiver as FileReceiver);
    if (t.receiver && t.incoming) this.drainWrites(t, t.receiver, t.incoming);
    for (let c = core.pollControl(); c; c = core.pollControl())
      this.host.enqueue(t.conn, encodeFileControl(c));
    for (let e = core.pollEvent(); e; e = core.pollEvent()) this.onCoreEvent(t, e);
    if (!t.done) this.maybeProgress(t);
  }

  private drainWrites(t: Transfer, receiver: FileReceiver, file: IncomingFile): void {
    for (;;) {
      const w = receiver.pollWrite();
      if (w === undefined) break;
      try {
        file.write(w.offsetBytes, w.bytes);
        t.unsynced.push(w.index);
      } catch (err) {
        this.writeFailed(receiver, w.index, err);
        return;
      }
      if (t.unsynced.length >= SYNC_BATCH_CHUNKS) this.syncNow(t, receiver, file);
    }
    if (t.unsynced.length > 0 && t.syncTimer === undefined) {
      t.syncTimer = setTimeout(() => {
        t.syncTimer = undefined;
        if (t.done) return;
        this.syncNow(t, receiver, file);
        this.host.flush();
      }, SYNC_DELAY_MS);
    }
  }

  private syncNow(t: Transfer, receiver: FileReceiver, file: IncomingFile): void {
    if (t.unsynced.length === 0) return;
    const batch = t.unsynced;
    t.unsynced = [];
    try {
      file.sync();
    } catch (err) {
      this.writeFailed(receiver, batch[0] ?? 0, err);
      return;
    }
    // May pull more chunks from the channel; the caller's loop writes them.
    for (const index of batch) receiver.handleDurable(index, 0);
    const now = Date.now();
    if (receiver.state === "transferring" && now - t.manifestAt >= MANIFEST_INTERVAL_MS) {
      this.saveManifest(t, receiver, file);
    }
  }

  private writeFailed(receiver: FileReceiver, index: number, err: unknown): void {
    const detail = (err as NodeJS.ErrnoException).code ?? String(err);
    receiver.handleWriteFailed(index, detail, 0, writeErrorCode(err));
  }

  private saveManifest(t: Transfer, receiver: FileReceiver, file: IncomingFile): void {
    const durable = receiver.stats.durableChunks;
    t.manifestAt = Date.now();
    if (durable === t.manifestChunks) return;
    try {
      file.saveManifest(receiver.manifest());
      t.manifestChunks = durable;
    } catch {
      // The manifest only speeds up a resume; the transfer itself is unaffected.
    }
  }

  private onCoreEvent(t: Transfer, e: FileTransferEvent): void {
    switch (e.type) {
      case "accepted":
        this.report(t, "accepted");
        return;
      case "completed":
        this.complete(t);
        return;
      case "ended":
        // A full disk keeps what is durable: once there is room, the same offer resumes.
        this.finishFailed(t, e.code, e.message, e.by, e.code === "FILE_DISK_FULL");
        return;
    }
  }

  private complete(t: Transfer): void {
    t.done = true;
    let path: string | undefined;
    if (t.incoming) {
      try {
        path = t.incoming.finish();
      } catch (err) {
        this.report(t, "failed", {
          code: writeErrorCode(err),
          message: `cannot rename the finished file: ${(err as Error).message}`,
          by: "local",
        });
        this.drop(t, LINGER_MS);
        return;
      }
    }
    t.outgoing?.close();
    this.report(t, "done", path === undefined ? {} : { path });
    this.drop(t, t.receiver ? LINGER_MS : 0);
  }

  private finishFailed(
    t: Transfer,
    code: NonNullable<TransferEvent["code"]>,
    message: string,
    by: "local" | "peer",
    keepPartial: boolean,
  ): void {
    t.done = true;
    if (t.syncTimer) clearTimeout(t.syncTimer);
    if (t.incoming) {
      try {
        if (keepPartial && t.receiver) {
          try {
            t.incoming.sync();
            for (const index of t.unsynced) t.receiver.handleDurable(index, 0);
          } catch {
            // Not durable, so not in the manifest: a resume fetches those chunks again.
          }
          // Lists only durable chunks; if even this small write fails (a full disk), the
          // previous manifest, also true, stays.
          t.incoming.saveManifest(t.receiver.manifest());
          t.incoming.closeFd();
        } else {
          t.incoming.discard();
        }
      } catch {
        t.incoming.closeFd();
      }
    }
    t.outgoing?.close();
    this.report(t, code === "FILE_CANCELLED" ? "cancelled" : "failed", { code, message, by });
    this.drop(t, 0);
  }

  private drop(t: Transfer, afterMs: number): void {
    const go = () => {
      this.host.detachStream(t.conn, t.stream);
      if (this.transfers.get(t.id) === t) this.transfers.delete(t.id);
    };
    if (afterMs === 0) go();
    else setTimeout(go, afterMs).unref?.();
  }

  private bytesOf(t: Transfer): number {
    let chunks = 0;
    if (t.sender) {
      const s = t.sender.stats;
      chunks = s.skippedChunks + s.chunksAcknowledged;
    } else if (t.receiver) {
      chunks = t.receiver.stats.durableChunks;
    }
    return Math.min(t.size, chunks * t.chunkBytes);
  }

  private maybeProgress(t: Transfer): void {
    const core = t.sender ?? t.receiver;
    if (core?.state !== "transferring" && core?.state !== "finishing") return;
    const now = Date.now();
    if (now - t.lastProgressAt < PROGRESS_INTERVAL_MS) return;
    const bytes = this.bytesOf(t);
    if (bytes === t.lastProgressBytes) return;
    t.lastProgressAt = now;
    t.lastProgressBytes = bytes;
    this.report(t, "progress", t.meter?.sample(now, bytes) ?? {}, bytes);
  }

  /** The byte counters of an accepted transfer (docs/cli.md defines them). */
  private counters(t: Transfer): Pick<TransferEvent, "skippedBytes" | "sentBytes"> {
    if (t.meter === undefined) return {};
    if (t.sender) {
      const s = t.sender.stats;
      return { skippedBytes: s.skippedBytes, sentBytes: s.sentBytes };
    }
    return t.receiver ? { skippedBytes: t.receiver.stats.resumedBytes } : {};
  }

  private report(
    t: Transfer,
    state: TransferState,
    extra: Partial<
      Pick<TransferEvent, "code" | "message" | "by" | "path" | "bytesPerSecond" | "etaSeconds">
    > = {},
    bytes = state === "done" ? t.size : this.bytesOf(t),
  ): void {
    const path = extra.path ?? (t.incoming && state === "accepted" ? t.incoming.partPath : undefined);
    const ended = state === "done" || state === "failed" || state === "cancelled";
    const retransmittedBytes = ended ? t.sender?.stats.channel.retransmittedBytes : undefined;
    if (state === "accepted") t.meter = new ProgressMeter(Date.now(), bytes, t.size);
    this.opts.emit({
      event: "transfer",
      id: t.id,
      direction: t.direction,
      state,
      peer: t.peer,
      name: t.name,
      size: t.size,
      bytes,
      sha256: t.sha256,
      ...this.counters(t),
      ...extra,
      ...(path === undefined ? {} : { path }),
      ...(retransmittedBytes === undefined ? {} : { retransmittedBytes }),
    });
  }
}
