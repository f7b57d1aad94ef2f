/**
 * FileTransfers: the peer's transfer layer. It wires the sans-IO cores (FileSender,
 * FileReceiver) to a session's Connection (each core hosts its own stream) and to the disk
 * (`file-store.ts`), and turns their events into `transfer` events.
 *
 * Driving: UdpHost calls `onTurn(now)` once per turn, after the session events and before it
 * packs datagrams. There each transfer is drained in a fixed order:
 *   1. reads the cores ask for (`pollRead`: the sender's blocks ahead of its window, a
 *      resuming receiver's read-back) start, asynchronously;
 *   2. receiver writes (`pollWrite`) are gathered into one asynchronous `writev` at a time;
 *      completed writes are made durable by one fsync per SYNC_BATCH_BYTES, or SYNC_DELAY_MS
 *      after the first, or at once when the last byte has arrived, and each chunk is then
 *      reported with `handleDurable`;
 *   3. control messages (`pollControl`) are queued on stream 0;
 *   4. core events become `transfer` events; a finished transfer is dropped.
 * Disk work completes outside any turn: its callback feeds the core and `touch`es the
 * session, which runs the next turn. Commands (send, accept, decline, cancel) change a core
 * and touch its session the same way. Nothing here transmits by itself.
 *
 * A transfer's file descriptor is closed only once none of its disk work is in flight
 * (`settle`), so a late callback can never touch a descriptor number that was reused.
 *
 * Progress events are throttled to one per PROGRESS_INTERVAL_MS per transfer. The manifest
 * sidecar is rewritten at most every MANIFEST_INTERVAL_MS. A transfer whose session closes
 * fails with FILE_PEER_LOST; a receiver then keeps its `.part` and manifest, and so it does
 * after a full disk and when a file that arrived whole cannot be put in place; every other
 * failure removes them. The receiver's `failed` event says which (`partial`).
 *
 * Resume: `accept` first looks in the target directory for a `.part` whose manifest matches
 * the offer (size and SHA-256: the same content, whatever its name or transfer id) and no
 * running transfer uses; if there is one, the offer's receiver core is rebuilt from that
 * manifest on the same stream, so its `file.accept` lists the bytes already held.
 */

import { randomBytes } from "node:crypto";
import { HallwayError } from "../errors.js";
import type { HostedConnection, UdpHost } from "../net/udp-host.js";
import { encodeFileControl, type FileControl, type FileOffer } from "../protocol/file-offer.js";
import { FileReceiver } from "../transfer/file-receiver.js";
import { type FileRead, FileSender } from "../transfer/file-sender.js";
import type { FileTransferEvent } from "../transfer/file-transfer.js";
import {
  decodeManifest,
  manifestMatchesOffer,
  type TransferManifest,
} from "../transfer/transfer-manifest.js";
import type { PeerEvent, TransferEvent, TransferState } from "./events.js";
import { safeFileName } from "./file-name.js";
import { ProgressMeter } from "./file-progress.js";
import {
  freeBytes,
  IncomingFile,
  OutgoingFile,
  WRITE_BLOCK_BUFFERS,
  WRITE_BLOCK_BYTES,
  writeErrorCode,
} from "./file-store.js";

/**
 * An fsync takes a few milliseconds on a virtual disk whatever the batch, so it runs rarely:
 * after 4 MiB written, or 50 ms after the first unsynced write, or as soon as the last byte
 * is written. It runs on the thread pool, so the event loop keeps going meanwhile. What a
 * killed receiver fetches again is bounded by this batch and the manifest's lag below.
 */
const SYNC_BATCH_BYTES = 4 * 1024 * 1024;
const SYNC_DELAY_MS = 50;
/** ≤ 4 progress events per second per transfer. */
const PROGRESS_INTERVAL_MS = 250;
/**
 * A killed receiver re-fetches what became durable after the last manifest: at most this much
 * time, or this many bytes, of transfer (plus what was in flight). A manifest costs one small
 * write and fsync.
 */
const MANIFEST_INTERVAL_MS = 250;
const MANIFEST_INTERVAL_BYTES = 2 * 1024 * 1024;
/** How long an offer waits for an answer before both sides end it with FILE_OFFER_EXPIRED. */
export const OFFER_TIMEOUT_MS = 10 * 60_000;
/** The largest file a receiver takes by default (`--max-file-size` changes it): 1 TiB. */
export const MAX_FILE_BYTES = 2 ** 40;
/**
 * Free space an accepted file must leave on the download file system: the file's own size
 * is not all it takes (its manifest, the file system's metadata, everything else on the disk).
 */
export const FREE_SPACE_MARGIN_BYTES = 256 * 1024 * 1024;
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
  sha256: string;
  sender?: FileSender;
  receiver?: FileReceiver;
  outgoing?: OutgoingFile;
  incoming?: IncomingFile;
  /** Chunks handed out by the receiver, waiting for a write. */
  toWrite: Array<{ offsetBytes: number; bytes: Uint8Array }>;
  writing: boolean;
  /** Chunks written (offsets) and not yet made durable, and their bytes. */
  written: number[];
  writtenBytes: number;
  firstWrittenAt: number;
  syncing: boolean;
  /** The chunks the sync in flight makes durable (written before it began). */
  syncingBatch: number[];
  syncTimer?: NodeJS.Timeout;
  /** Disk operations in flight; the descriptors close only when this is 0. */
  inflight: number;
  /** What to do with the descriptors once nothing is in flight (close, discard). */
  release?: () => void;
  lastProgressAt: number;
  lastProgressBytes: number;
  /** Set when the transfer is accepted: from then on events carry the byte counters. */
  meter?: ProgressMeter;
  manifestAt: number;
  manifestBytes: number;
  /** A manifest save is in flight (at most one). */
  savingManifest: boolean;
  /** Runs once no disk operation is in flight (putting a verified file in place). */
  whenIdle?: () => void;
  /** Receiver: every byte arrived and the SHA-256 matched. */
  verified: boolean;
  /** Receiver: where the finished file is, once it is in place. */
  finalPath?: string;
  done: boolean;
}

export interface FileTransfersOptions {
  host: UdpHost;
  emit: (e: PeerEvent) => void;
  /** Accept every offer into this directory. */
  autoAcceptDir?: string;
  /** Where `accept` without a directory puts files. */
  downloadDir: string;
  /** Default OFFER_TIMEOUT_MS. */
  offerTimeoutMs?: number;
  /** Each file sent goes no faster than this (bytes per second); default: as fast as the path. */
  maxTransferRate?: number;
  /** Offers of larger files are refused with FILE_TOO_LARGE; default MAX_FILE_BYTES. */
  maxFileBytes?: number;
}

export class FileTransfers {
  private readonly transfers = new Map<string, Transfer>();
  /** Set by `stop()`: failures are then reported at once, not once their disk IO settles. */
  private stopping = false;
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
    let sender: FileSender;
    try {
      sender = new FileSender({
        id: randomBytes(12).toString("hex"),
        stream,
        name: offeredName,
        sizeBytes: file.sizeBytes,
        sha256: file.sha256,
        offerExpiresAt: this.offerExpiresAt(),
        ...(this.opts.maxTransferRate === undefined
          ? {}
          : { maxRateBytesPerSecond: this.opts.maxTransferRate }),
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
    this.host.touch(conn);
    return t.id;
  }

  /** Accept an offer into `dir` (default: the download directory). */
  accept(id: string, dir?: string): void {
    const t = this.offered(id);
    let receiver = t.receiver as FileReceiver;
    const target = dir ?? this.opts.downloadDir;
    let resumed: ReturnType<FileTransfers["findPartial"]>;
    try {
      resumed = this.findPartial(t, receiver.offer, target);
      // The space still needed: a resume already holds part of the file.
      const refused = this.refusal(t.size - (resumed?.receiver.stats.resumedBytes ?? 0), target);
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
      this.host.touch(t.conn);
      throw new HallwayError(code, `cannot store ${t.name}: ${(err as Error).message}`);
    }
    receiver.accept();
    this.report(t, "accepted");
    this.host.touch(t.conn);
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
    const receiver = new FileReceiver({ offer, resume });
    if (!this.host.replaceStream(t.conn, t.stream, receiver)) {
      file.closeFd();
      return undefined;
    }
    return { file, receiver };
  }

  decline(id: string): void {
    const t = this.offered(id);
    (t.receiver as FileReceiver).decline("declined");
    this.host.touch(t.conn);
  }

  cancel(id: string): void {
    const t = this.transfers.get(id);
    if (!t || t.done) throw new HallwayError("FILE_UNKNOWN_TRANSFER", `no running transfer ${id}`);
    (t.sender ?? t.receiver)?.cancel("cancelled by the user");
    this.host.touch(t.conn);
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
    (t.sender ?? t.receiver)?.handleControl(msg, this.host.now());
    this.host.touch(conn);
  }

  /**
   * An offer that does not decode (a name that is a path, a bad size): refused by its id with
   * FILE_PROTOCOL_ERROR, so the sender hears it, and reported here as a failed transfer.
   */
  handleBadOffer(
    peer: string,
    conn: HostedConnection,
    bad: { id: string; name: string; size: number; detail: string },
  ): void {
    if (this.transfers.has(bad.id)) return;
    const message = `offer refused: ${bad.detail}`.slice(0, 200);
    this.sendControl(conn, { t: "file.cancel", id: bad.id, code: "FILE_PROTOCOL_ERROR", message });
    this.opts.emit({
      event: "transfer",
      id: bad.id,
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
    this.host.touch(conn);
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
      for (let c = receiver.pollControl(); c; c = receiver.pollControl()) this.sendControl(conn, c);
      return;
    }
    const t = this.newTransfer(offer, "receive", peer, conn);
    t.receiver = receiver;
    this.transfers.set(t.id, t);
    // Refused at once, before anyone decides: both sides hear the code (the next turn sends
    // the cancel and reports the failure). Nothing is allocated for the file's size.
    const refused = this.refusal(offer.size, this.opts.autoAcceptDir ?? this.opts.downloadDir);
    if (refused) {
      receiver.refuse(refused.code, refused.message);
      this.host.touch(conn);
      return;
    }
    this.report(t, "offered");
    if (this.opts.autoAcceptDir !== undefined) {
      try {
        this.accept(t.id, this.opts.autoAcceptDir);
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
      if (t.sha256 !== offer.sha256 || t.size !== offer.size) continue;
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

  /** Drain every transfer (the host's turn, before it packs datagrams). */
  onTurn(now: number): void {
    for (const t of [...this.transfers.values()]) if (!t.done) this.drain(t, now);
  }

  /** Stop every transfer (shutdown): partial files are kept for a later resume. */
  stop(): void {
    // A shutdown reports at once: there is no later turn to report in.
    this.stopping = true;
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
      sha256: offer.sha256,
      toWrite: [],
      writing: false,
      written: [],
      writtenBytes: 0,
      firstWrittenAt: 0,
      syncing: false,
      syncingBatch: [],
      inflight: 0,
      lastProgressAt: Number.NEGATIVE_INFINITY,
      lastProgressBytes: -1,
      manifestAt: this.host.now(),
      manifestBytes: 0,
      savingManifest: false,
      verified: false,
      done: false,
    };
  }

  /**
   * Why a file of `size` bytes (still to arrive) cannot go into `dir`, if it cannot: over the
   * size limit, or more than the file system has free with the margin.
   */
  private refusal(
    size: number,
    dir: string,
  ): { code: "FILE_TOO_LARGE" | "FILE_NO_SPACE"; message: string } | undefined {
    const max = this.opts.maxFileBytes ?? MAX_FILE_BYTES;
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

  /** In the host's clock, which drives the cores' timers. */
  private offerExpiresAt(): number {
    return this.host.now() + (this.opts.offerTimeoutMs ?? OFFER_TIMEOUT_MS);
  }

  private offered(id: string): Transfer {
    const t = this.transfers.get(id);
    if (!t || t.done || !t.receiver) throw new HallwayError("FILE_UNKNOWN_TRANSFER", `no offer ${id}`);
    if (t.receiver.state !== "offered") {
      throw new HallwayError("FILE_UNKNOWN_TRANSFER", `transfer ${id} was already answered`);
    }
    return t;
  }

  private sendControl(conn: HostedConnection, c: FileControl): void {
    try {
      this.host.send(conn, encodeFileControl(c));
    } catch {
      // The session closed: its transfers end through onClosed.
    }
  }

  private drain(t: Transfer, now: number): void {
    const core = t.sender ?? (t.receiver as FileReceiver);
    if (t.sender && t.outgoing) {
      const file = t.outgoing;
      const sender = t.sender;
      for (let r = sender.pollRead(); r; r = sender.pollRead()) {
        const read: FileRead = r;
        this.io(
          t,
          file.readAt(read.offset, read.length, read.into),
          (bytes) => sender.handleRead(read.offset, bytes, this.host.now()),
          (err) => sender.handleReadFailed(read.offset, (err as NodeJS.ErrnoException).code ?? String(err)),
        );
      }
    }
    if (t.receiver && t.incoming) this.drainDisk(t, t.receiver, t.incoming, now);
    for (let c = core.pollControl(); c; c = core.pollControl()) this.sendControl(t.conn, c);
    for (let e = core.pollEvent(); e; e = core.pollEvent()) this.onCoreEvent(t, e);
    // What handling the events produced: a verified file put in place (or not) at once.
    for (let c = core.pollControl(); c; c = core.pollControl()) this.sendControl(t.conn, c);
    if (!t.done) this.maybeProgress(t, now);
  }

  /** Read-back, writes and syncs of one receiving transfer. */
  private drainDisk(t: Transfer, receiver: FileReceiver, file: IncomingFile, now: number): void {
    for (let r = receiver.pollRead(); r; r = receiver.pollRead()) {
      const read: FileRead = r;
      this.io(
        t,
        file.readAt(read.offset, read.length),
        (bytes) => receiver.handleRead(read.offset, bytes, this.host.now()),
        (err) => receiver.handleReadFailed(read.offset, (err as NodeJS.ErrnoException).code ?? String(err)),
      );
    }
    for (let w = receiver.pollWrite(); w; w = receiver.pollWrite()) t.toWrite.push(w);
    if (!t.writing && t.toWrite.length > 0) this.startWrite(t, receiver, file, now);
    this.maybeSync(t, receiver, file, now);
  }

  /** One gathered `writev` of the consecutive chunks at the head of the queue. */
  private startWrite(t: Transfer, receiver: FileReceiver, file: IncomingFile, now: number): void {
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
    this.io(
      t,
      file.writeAt(first.offsetBytes, buffers),
      () => {
        t.writing = false;
        const at = this.host.now();
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
  private maybeSync(t: Transfer, receiver: FileReceiver, file: IncomingFile, now: number): void {
    if (t.syncing || t.written.length === 0) return;
    const allArrived = receiver.arrivedBytes >= t.size && t.toWrite.length === 0 && !t.writing;
    const due = t.writtenBytes >= SYNC_BATCH_BYTES || allArrived || now - t.firstWrittenAt >= SYNC_DELAY_MS;
    if (!due) {
      if (t.syncTimer === undefined) {
        t.syncTimer = setTimeout(
          () => {
            t.syncTimer = undefined;
            if (!t.done) this.host.touch(t.conn);
          },
          Math.max(1, SYNC_DELAY_MS - (now - t.firstWrittenAt)),
        );
        t.syncTimer.unref?.();
      }
      return;
    }
    if (t.syncTimer) clearTimeout(t.syncTimer);
    t.syncTimer = undefined;
    const batch = t.written;
    t.written = [];
    t.writtenBytes = 0;
    t.syncing = true;
    t.syncingBatch = batch;
    this.io(
      t,
      file.sync(),
      () => {
        t.syncing = false;
        t.syncingBatch = [];
        const at = this.host.now();
        // May pull more chunks from the channel; the next turn writes them.
        for (const offset of batch) receiver.handleDurable(offset, at);
        const grown = receiver.durableBytes - t.manifestBytes;
        if (
          receiver.state === "transferring" &&
          (at - t.manifestAt >= MANIFEST_INTERVAL_MS || grown >= MANIFEST_INTERVAL_BYTES)
        ) {
          this.saveManifest(t, receiver, file, at);
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
  private io<T>(t: Transfer, op: Promise<T>, onDone: (v: T) => void, onFail: (err: unknown) => void): void {
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
      this.host.touch(t.conn);
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

  /** Runs `release` once no disk operation of `t` is in flight. */
  private releaseWhenSettled(t: Transfer, release: () => void): void {
    if (t.inflight === 0) release();
    else t.release = release;
  }

  /** Saves the manifest off the event loop, unless one save is still in flight. */
  private saveManifest(t: Transfer, receiver: FileReceiver, file: IncomingFile, now: number): void {
    const durable = receiver.durableBytes;
    if (durable === t.manifestBytes || t.savingManifest) return;
    t.manifestAt = now;
    t.savingManifest = true;
    const settle = () => {
      t.savingManifest = false;
    };
    this.io(
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

  private onCoreEvent(t: Transfer, e: FileTransferEvent): void {
    switch (e.type) {
      case "accepted":
        this.report(t, "accepted");
        return;
      case "verified":
        this.putInPlace(t);
        return;
      case "completed":
        this.complete(t);
        return;
      case "ended":
        // A full disk keeps what is durable: once there is room, the same offer resumes. So
        // does a file that arrived whole but could not be put in place.
        this.finishFailed(t, e.code, e.message, e.by, e.code === "FILE_DISK_FULL" || t.verified);
        return;
    }
  }

  /**
   * Every byte is durable and the SHA-256 matched: the file takes its final name (link,
   * fsync of the directory, removal of the `.part`) once no disk work of the transfer is in
   * flight (a manifest save's rename would bring back the manifest of a file that is done).
   * Only then does the core send `file.done`, so the sender shows done when the file is
   * there. If it cannot be put in place (a folder made read-only), both sides fail with the
   * code, and the `.part` and its manifest stay for a resume.
   */
  private putInPlace(t: Transfer): void {
    const { incoming, receiver } = t;
    if (!incoming || !receiver) return;
    t.verified = true;
    if (t.syncTimer) clearTimeout(t.syncTimer);
    t.syncTimer = undefined;
    const finish = () => {
      if (t.done) return;
      const now = this.host.now();
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
      this.host.touch(t.conn);
    };
    if (t.inflight === 0) finish();
    else t.whenIdle = finish;
  }

  private complete(t: Transfer): void {
    t.done = true;
    if (t.syncTimer) clearTimeout(t.syncTimer);
    if (t.incoming) {
      // In place already (`putInPlace`); the channel lingers to answer retransmissions.
      this.report(t, "done", t.finalPath === undefined ? {} : { path: t.finalPath });
      this.drop(t, LINGER_MS);
      return;
    }
    const outgoing = t.outgoing;
    if (outgoing) this.releaseWhenSettled(t, () => outgoing.close());
    this.report(t, "done");
    this.drop(t, 0);
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
    const partial = t.incoming
      ? { partial: keepPartial && t.receiver ? ("kept" as const) : ("removed" as const) }
      : {};
    const reportEnd = () =>
      this.report(t, code === "FILE_CANCELLED" ? "cancelled" : "failed", { code, message, by, ...partial });
    const incoming = t.incoming;
    const receiver = t.receiver;
    if (incoming) {
      if (keepPartial && receiver) {
        try {
          // What was written is made durable now (a shutdown has no later turn), so the
          // manifest can list it: the chunks waiting for a sync and those of the sync in
          // flight. Writes still in flight are left out and fetched again.
          const written = [...t.syncingBatch, ...t.written];
          if (written.length > 0) {
            incoming.syncNow();
            const at = this.host.now();
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
        this.releaseWhenSettled(t, () => {
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
          // Reported once the partial file and its manifest are final: a save that failed
          // with the disk removes its temporary file only as it settles.
          if (inFlight && !this.stopping) reportEnd();
        });
        if (!inFlight || this.stopping) reportEnd();
      } else {
        this.releaseWhenSettled(t, () => incoming.discard());
        reportEnd();
      }
    } else reportEnd();
    const outgoing = t.outgoing;
    if (outgoing) this.releaseWhenSettled(t, () => outgoing.close());
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
    if (t.sender) {
      const s = t.sender.stats;
      return Math.min(t.size, s.skippedBytes + s.acknowledgedBytes);
    }
    return t.receiver ? t.receiver.durableBytes : 0;
  }

  private maybeProgress(t: Transfer, now: number): void {
    const core = t.sender ?? t.receiver;
    if (core?.state !== "transferring" && core?.state !== "finishing") return;
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

  /** The sender's path figures, when it ends: the path MTU and the datagram sizes it sent. */
  private pathFigures(t: Transfer): Pick<TransferEvent, "pathMtuBytes" | "datagramSizes"> {
    const stats = this.host.connectionStats(t.conn);
    return {
      ...(stats ? { pathMtuBytes: stats.path.plpmtuBytes } : {}),
      ...(t.sender ? { datagramSizes: t.sender.stats.datagramSizes } : {}),
    };
  }

  private report(
    t: Transfer,
    state: TransferState,
    extra: Partial<
      Pick<TransferEvent, "code" | "message" | "by" | "path" | "bytesPerSecond" | "etaSeconds" | "partial">
    > = {},
    bytes = state === "done" ? t.size : this.bytesOf(t),
  ): void {
    const path = extra.path ?? (t.incoming && state === "accepted" ? t.incoming.partPath : undefined);
    const ended = state === "done" || state === "failed" || state === "cancelled";
    const retransmittedBytes = ended ? t.sender?.stats.channel.retransmittedBytes : undefined;
    if (state === "accepted") t.meter = new ProgressMeter(this.host.now(), bytes, t.size);
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
      ...(ended && t.sender ? this.pathFigures(t) : {}),
    });
  }
}
