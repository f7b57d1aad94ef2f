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
 * Numbers and folders: every transfer gets a short number (1, 2, 3… per run) that people
 * type (`/cancel 3`); commands take a number, an id or the start of one. A folder is a
 * `Batch`: the sender offers its files (`walkFolder`) a few at a time under the folder's
 * number, the receiver answers the folder once and files its offers under one new folder;
 * a decline, a cancel or a lost session stops the whole folder (see `Batch`).
 *
 * Resume: `accept` first looks in the target directory for a `.part` whose manifest matches
 * the offer (size and SHA-256: the same content, whatever its name or transfer id) and no
 * running transfer uses; if there is one, the offer's receiver core is rebuilt from that
 * manifest on the same stream, so its `file.accept` lists the bytes already held.
 */

import { randomBytes } from "node:crypto";
import { HallwayError } from "../errors.js";
import { probeFile } from "../media/index.js";
import type { HostedConnection, UdpHost } from "../net/udp-host.js";
import {
  encodeFileControl,
  type FileBatch,
  type FileControl,
  type FileEndCode,
  type FileOffer,
} from "../protocol/file-offer.js";
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
  incomingFolder,
  OutgoingFile,
  reserveFolder,
  WRITE_BLOCK_BUFFERS,
  WRITE_BLOCK_BYTES,
  writeErrorCode,
} from "./file-store.js";
import type { FolderListing } from "./folder-walk.js";

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
  /** The short number people use (`/cancel 3`); a folder's files share the folder's. */
  n: number;
  /** The folder this file belongs to (its key in `batches`). */
  batch?: Batch;
  /** The file's folder relative to the batch's root (receiver: as sanitised here). */
  dir?: string;
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

/**
 * A folder, sent as one transfer per file (docs/protocol.md). The sender offers at most
 * BATCH_PARALLEL of its files at a time and the next as one is done; the receiver answers
 * the folder once (accepting or declining any of its files answers all of them, including
 * those offered later) and puts its files under one new folder in the download folder.
 */
interface Batch {
  /** `direction peer id`: a peer chooses its batch ids, so they are kept apart per peer. */
  key: string;
  n: number;
  direction: "send" | "receive";
  peer: string;
  info: FileBatch;
  state: "offered" | "accepted" | "ended";
  /** Sender: files not yet offered. */
  queue: FolderListing["files"];
  /** The session the folder's files travel on. */
  conn?: HostedConnection;
  /** Receiver: the folder the files go into, once accepted. */
  root?: string;
  filesDone: number;
  bytesDone: number;
  /** Files that ended, whatever the outcome. */
  filesEnded: number;
}

/** Files of one folder offered at once: a few, so that a folder of small files keeps the path busy. */
const BATCH_PARALLEL = 2;
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

/** A row of `list()`: a single file, or a folder with its totals. */
export interface TransferRow {
  n: number;
  direction: "send" | "receive";
  peer: string;
  /** The file's name, or the folder's. */
  name: string;
  state: TransferState;
  size: number;
  bytes: number;
  /** A folder: how many files, and how many are done. */
  files?: number;
  filesDone?: number;
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
  /**
   * Refuses an offer before anything else looks at it (the registry's drop box: only files
   * announced with `drop.put`, within the quotas); undefined lets it through.
   */
  screenOffer?: (peer: string, offer: FileOffer) => { code: FileEndCode; message: string } | undefined;
}

/** What `send` may pin down: the transfer id, and the SHA-256 the file must have. */
export interface SendPinned {
  id?: string;
  /** The file is offered only if its content hashes to this (hex); else FILE_HASH_MISMATCH. */
  sha256?: string;
}

export class FileTransfers {
  private readonly transfers = new Map<string, Transfer>();
  private readonly batches = new Map<string, Batch>();
  private nextNumber = 1;
  /** Set by `stop()`: failures are then reported at once, not once their disk IO settles. */
  private stopping = false;
  private readonly host: UdpHost;

  constructor(private readonly opts: FileTransfersOptions) {
    this.host = opts.host;
  }

  // ---- commands ----------------------------------------------------------------------

  /** Offer a file on a live session; resolves with the transfer id once offered. */
  async send(
    peer: string,
    conn: HostedConnection,
    path: string,
    offeredName: string,
    within?: { batch: Batch; dir: string | undefined },
    pinned: SendPinned = {},
  ): Promise<string> {
    const file = await OutgoingFile.open(path);
    if (pinned.sha256 !== undefined && Buffer.from(file.sha256).toString("hex") !== pinned.sha256) {
      file.close();
      throw new HallwayError("FILE_HASH_MISMATCH", `${path} does not hold the content it should`);
    }
    const stream = this.host.allocateStream(conn);
    if (stream === undefined || !this.host.isLive(conn)) {
      file.close();
      throw new HallwayError("FILE_PEER_LOST", `the session to ${peer} closed`);
    }
    let sender: FileSender;
    try {
      sender = new FileSender({
        id: pinned.id ?? randomBytes(12).toString("hex"),
        stream,
        name: offeredName,
        ...(within === undefined ? {} : { batch: within.batch.info }),
        ...(within?.dir === undefined ? {} : { dir: within.dir }),
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
    const t = this.newTransfer(sender.offer, "send", peer, conn, within?.batch);
    t.sender = sender;
    t.outgoing = file;
    this.transfers.set(t.id, t);
    this.report(t, "offered");
    this.host.touch(conn);
    return t.id;
  }

  /**
   * Offer the files of a folder (`walkFolder`), a few at a time; resolves with the folder's
   * number once its first files are offered.
   */
  async sendFolder(peer: string, conn: HostedConnection, listing: FolderListing): Promise<number> {
    const b = this.newBatch("send", peer, {
      id: randomBytes(12).toString("hex"),
      name: listing.name,
      files: listing.files.length,
      bytes: listing.bytes,
    });
    b.queue = [...listing.files];
    b.conn = conn;
    await Promise.all(Array.from({ length: BATCH_PARALLEL }, () => this.offerNext(b)));
    return b.n;
  }

  /** Offers the folder's next file; a file that cannot be opened is reported and skipped. */
  private async offerNext(b: Batch): Promise<void> {
    for (;;) {
      const next = b.queue.shift();
      if (next === undefined || b.state === "ended" || b.conn === undefined) return;
      try {
        await this.send(b.peer, b.conn, next.path, next.name, { batch: b, dir: next.dir });
        return;
      } catch (err) {
        const e = err instanceof HallwayError ? err : new HallwayError("FILE_READ_FAILED", String(err));
        b.filesEnded++;
        this.opts.emit({ event: "error", code: e.code, message: e.message, n: b.n });
        if (e.code === "FILE_PEER_LOST") this.endBatch(b);
      }
    }
  }

  private newBatch(direction: "send" | "receive", peer: string, info: FileBatch): Batch {
    const b: Batch = {
      key: `${direction} ${peer} ${info.id}`,
      n: this.nextNumber++,
      direction,
      peer,
      info,
      state: "offered",
      queue: [],
      filesDone: 0,
      bytesDone: 0,
      filesEnded: 0,
    };
    this.batches.set(b.key, b);
    if (direction === "receive") this.boundOpenBatches(b);
    return b;
  }

  /**
   * A peer names the folders it offers, and a folder whose files failed one by one (never a
   * stop) stays open waiting for the rest: beyond MAX_OPEN_BATCHES, the oldest open ones with
   * no file running end, so what peers offer cannot grow this map without bound.
   */
  private boundOpenBatches(keep: Batch): void {
    const open = [...this.batches.values()].filter((x) => x.direction === "receive" && x.state !== "ended");
    let excess = open.length - MAX_OPEN_BATCHES;
    if (excess <= 0) return;
    const running = new Set<Batch>();
    for (const t of this.transfers.values()) if (t.batch && !t.done) running.add(t.batch);
    for (const b of open) {
      if (excess <= 0) return;
      if (running.has(b) || b === keep) continue;
      this.endBatch(b);
      excess--;
    }
  }

  private endBatch(b: Batch): void {
    if (b.state === "ended") return;
    b.state = "ended";
    b.queue = [];
    const ended = [...this.batches.values()].filter((x) => x.state === "ended");
    for (const x of ended.slice(0, Math.max(0, ended.length - KEEP_ENDED_BATCHES)))
      this.batches.delete(x.key);
  }

  /** A file of a folder ended: count it, and go on with the next one or stop the folder. */
  private batchFileEnded(t: Transfer, state: TransferState, code: string | undefined): void {
    const b = t.batch;
    if (!b) return;
    b.filesEnded++;
    if (state === "done") {
      b.filesDone++;
      b.bytesDone += t.size;
    }
    const stop = state !== "done" && code !== undefined && BATCH_STOPS.has(code);
    if (stop || b.filesEnded >= b.info.files) {
      if (stop && b.direction === "receive") this.stopBatchFiles(b, t.id, code);
      this.endBatch(b);
      return;
    }
    if (b.direction === "send") void this.offerNext(b);
  }

  /** The other files of a folder that stopped (declined, cancelled, lost) end with it. */
  private stopBatchFiles(b: Batch, except: string, code: string | undefined): void {
    for (const other of this.transfers.values()) {
      if (other.batch !== b || other.done || other.id === except) continue;
      const core = other.sender ?? other.receiver;
      if (code === "FILE_DECLINED" && other.receiver?.state === "offered") other.receiver.decline("declined");
      else core?.cancel("cancelled by the user");
      this.host.touch(other.conn);
    }
  }

  /**
   * What `ref` names: a number (`3`), a transfer id, or the start of one (at least 4
   * characters, naming one transfer only).
   */
  private resolve(ref: string): { t?: Transfer; b?: Batch } {
    const text = ref.trim().replace(/^#/, "");
    if (/^\d{1,9}$/.test(text)) {
      const n = Number(text);
      for (const b of this.batches.values()) if (b.n === n && b.state !== "ended") return { b };
      for (const t of this.transfers.values()) if (t.n === n && !t.done) return { t };
      throw new HallwayError("FILE_UNKNOWN_TRANSFER", `no running transfer ${n}`);
    }
    const exact = this.transfers.get(text);
    const hits = exact
      ? [exact]
      : text.length >= 4
        ? [...this.transfers.values()].filter((t) => t.id.startsWith(text))
        : [];
    const t = hits.length === 1 ? hits[0] : undefined;
    if (!t) throw new HallwayError("FILE_UNKNOWN_TRANSFER", `no transfer ${text}`);
    return t.batch && t.batch.state !== "ended" ? { t, b: t.batch } : { t };
  }

  /** The short number of a transfer (0 once it is forgotten). */
  numberOf(id: string): number {
    return this.transfers.get(id)?.n ?? 0;
  }

  /** Running transfers and folders, one row per number, oldest first. */
  list(): TransferRow[] {
    const rows = new Map<number, TransferRow>();
    for (const t of this.transfers.values()) {
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
          bytes: this.bytesOf(t),
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
      row.bytes += this.bytesOf(t);
      if (state === "progress") row.state = "progress";
      rows.set(b.n, row);
    }
    for (const b of this.batches.values()) {
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

  /**
   * Accept an offer into `dir` (default: the download directory). `ref` is a transfer id, its
   * number or the start of its id; a file of a folder accepts the whole folder.
   */
  accept(ref: string, dir?: string): void {
    const { t, b } = this.resolve(ref);
    if (b && b.direction === "receive") {
      this.acceptBatch(b, dir);
      return;
    }
    if (!t) throw new HallwayError("FILE_UNKNOWN_TRANSFER", `no offer ${ref}`);
    this.acceptFile(this.offered(t.id), dir ?? this.opts.downloadDir);
  }

  /** The folder gets a new folder of its name (numbered if taken); its waiting files start. */
  private acceptBatch(b: Batch, dir: string | undefined): void {
    if (b.state !== "offered")
      throw new HallwayError("FILE_UNKNOWN_TRANSFER", `transfer ${b.n} was already answered`);
    const target = dir ?? this.opts.downloadDir;
    try {
      b.root = reserveFolder(target, b.info.name);
    } catch (err) {
      const code = err instanceof HallwayError ? err.code : writeErrorCode(err);
      this.declineBatch(b);
      throw new HallwayError(
        code,
        `cannot make a folder for ${b.info.name} in ${target}: ${(err as Error).message}`,
      );
    }
    b.state = "accepted";
    for (const t of [...this.transfers.values()]) {
      if (t.batch === b && !t.done && t.receiver?.state === "offered") this.acceptInBatch(t, b);
    }
  }

  /** A file of an accepted folder: into its folder under the root, or declined if that fails. */
  private acceptInBatch(t: Transfer, b: Batch): void {
    try {
      this.acceptFile(t, incomingFolder(b.root as string, t.dir));
    } catch (err) {
      const e = err instanceof HallwayError ? err : new HallwayError(writeErrorCode(err), String(err));
      if (t.receiver?.state === "offered") {
        t.receiver.decline("cannot store the file");
        this.host.touch(t.conn);
      }
      this.opts.emit({ event: "error", code: e.code, message: e.message, id: t.id, n: t.n });
    }
  }

  private acceptFile(t: Transfer, target: string): void {
    let receiver = t.receiver as FileReceiver;
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

  /** Decline an offer (`ref` as for `accept`; a file of a folder declines the folder). */
  decline(ref: string): void {
    const { t, b } = this.resolve(ref);
    if (b && b.direction === "receive") {
      if (b.state !== "offered")
        throw new HallwayError("FILE_UNKNOWN_TRANSFER", `transfer ${b.n} was already answered`);
      this.declineBatch(b);
      return;
    }
    if (!t) throw new HallwayError("FILE_UNKNOWN_TRANSFER", `no offer ${ref}`);
    (this.offered(t.id).receiver as FileReceiver).decline("declined");
    this.host.touch(t.conn);
  }

  private declineBatch(b: Batch): void {
    this.endBatch(b);
    for (const t of this.transfers.values()) {
      if (t.batch !== b || t.done || t.receiver?.state !== "offered") continue;
      t.receiver.decline("declined");
      this.host.touch(t.conn);
    }
  }

  /** Cancel a transfer (`ref` as for `accept`; a folder's number or file cancels the folder). */
  cancel(ref: string): void {
    const { t, b } = this.resolve(ref);
    if (b) {
      const running = [...this.transfers.values()].filter((x) => x.batch === b && !x.done);
      this.endBatch(b);
      for (const x of running) {
        (x.sender ?? x.receiver)?.cancel("cancelled by the user");
        this.host.touch(x.conn);
      }
      return;
    }
    if (!t || t.done) throw new HallwayError("FILE_UNKNOWN_TRANSFER", `no running transfer ${ref}`);
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
      n: this.nextNumber++,
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
    let batch: Batch | undefined;
    if (offer.batch !== undefined) {
      batch = this.batches.get(`receive ${peer} ${offer.batch.id}`);
      if (batch?.state === "ended") {
        // A late offer of a folder already declined or stopped.
        receiver.decline("declined");
        for (let c = receiver.pollControl(); c; c = receiver.pollControl()) this.sendControl(conn, c);
        this.host.detachStream(conn, offer.stream);
        return;
      }
      batch ??= this.newBatch("receive", peer, offer.batch);
      batch.conn = conn;
    }
    const t = this.newTransfer(offer, "receive", peer, conn, batch);
    t.receiver = receiver;
    this.transfers.set(t.id, t);
    // Refused at once, before anyone decides: both sides hear the code (the next turn sends
    // the cancel and reports the failure). Nothing is allocated for the file's size.
    const refused =
      this.opts.screenOffer?.(peer, offer) ??
      this.refusal(offer.size, this.opts.autoAcceptDir ?? this.opts.downloadDir);
    if (refused) {
      receiver.refuse(refused.code, refused.message);
      this.host.touch(conn);
      return;
    }
    this.report(t, "offered");
    if (batch?.state === "accepted") {
      this.acceptInBatch(t, batch);
      return;
    }
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
    // Folders between two files end too: their next offers would come on another session.
    for (const b of [...this.batches.values()]) if (b.conn?.session === conn.session) this.endBatch(b);
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
    batch?: Batch,
  ): Transfer {
    return {
      id: offer.id,
      n: batch?.n ?? this.nextNumber++,
      ...(batch === undefined ? {} : { batch }),
      // The receiver reports the folder as it is written here: each segment sanitised.
      ...(batch === undefined || offer.dir === undefined
        ? {}
        : { dir: direction === "receive" ? offer.dir.split("/").map(safeFileName).join("/") : offer.dir }),
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

  /**
   * Finishes an ended transfer's files once no disk operation of `t` is in flight, then
   * reports the end, so that what the event says (the partial file kept or removed) is already
   * so on disk: a write or a failed manifest save in flight settles first. A shutdown reports
   * at once, as it has no later turn to report in.
   */
  private endWhenSettled(t: Transfer, finalise: () => void, reportEnd: () => void): void {
    if (this.stopping) {
      reportEnd();
      this.releaseWhenSettled(t, finalise);
      return;
    }
    this.releaseWhenSettled(t, () => {
      finalise();
      reportEnd();
    });
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
      // What the file is (an image, a video…) comes from a few small reads of its bytes.
      const media = t.finalPath === undefined ? undefined : probeFile(t.finalPath);
      this.report(t, "done", {
        ...(t.finalPath === undefined ? {} : { path: t.finalPath }),
        ...(media === undefined ? {} : { media }),
      });
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
    this.endWhenSettled(t, finalise, () =>
      this.report(t, code === "FILE_CANCELLED" ? "cancelled" : "failed", { code, message, by, ...partial }),
    );
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
      Pick<
        TransferEvent,
        "code" | "message" | "by" | "path" | "bytesPerSecond" | "etaSeconds" | "partial" | "media"
      >
    > = {},
    bytes = state === "done" ? t.size : this.bytesOf(t),
  ): void {
    const path = extra.path ?? (t.incoming && state === "accepted" ? t.incoming.partPath : undefined);
    const ended = state === "done" || state === "failed" || state === "cancelled";
    const retransmittedBytes = ended ? t.sender?.stats.channel.retransmittedBytes : undefined;
    if (state === "accepted") t.meter = new ProgressMeter(this.host.now(), bytes, t.size);
    if (ended) this.batchFileEnded(t, state, extra.code);
    const b = t.batch;
    this.opts.emit({
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
      ...this.counters(t),
      ...extra,
      ...(path === undefined ? {} : { path }),
      ...(retransmittedBytes === undefined ? {} : { retransmittedBytes }),
      ...(ended && t.sender ? this.pathFigures(t) : {}),
    });
  }
}
