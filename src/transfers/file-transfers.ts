/**
 * FileTransfers: the peer's transfer layer. It wires the sans-IO cores (FileSender,
 * FileReceiver) to a session's Connection (each core hosts its own stream) and to the disk
 * (`file-store.ts`), and turns their events into `transfer` events.
 *
 * Driving: UdpHost calls `onTurn(now)` once per turn, after the session events and before it
 * packs datagrams. There each transfer is drained in a fixed order:
 *   1. reads the cores ask for (`pollRead`: the sender's blocks ahead of its window, a
 *      resuming receiver's read-back) start, asynchronously;
 *   2. receiver writes (`pollWrite`) are gathered into writes and fsyncs (`transfer-disk.ts`);
 *   3. control messages (`pollControl`) are queued on stream 0;
 *   4. core events become `transfer` events; a finished transfer is dropped.
 * Disk work completes outside any turn: its callback feeds the core and `touch`es the
 * session, which runs the next turn. Commands (send, accept, decline, cancel) change a core
 * and touch its session the same way. Nothing here transmits by itself.
 *
 * Numbers and folders: every transfer gets a short number (1, 2, 3… per run) that people
 * type (`/cancel 3`); commands take a number, an id or the start of one. A folder is a
 * `Batch`: the sender offers its files (`walkFolder`) a few at a time under the folder's
 * number, the receiver answers the folder once and files its offers under one new folder;
 * a decline, a cancel or a lost session stops the whole folder.
 *
 * The parts, each a set of functions over the shared `TransferTable`:
 *   - `transfer-table.ts`: the state of a transfer and a folder, the options, lookups by
 *     number or id;
 *   - `transfer-folders.ts`: folders, their counts and when they stop;
 *   - `transfer-receive.ts`: offers in, accept (with resume from a `.part`), decline, refusals;
 *   - `transfer-disk.ts`: reads, gathered writes, fsync batches, manifests, putting a
 *     verified file in place, releasing descriptors once no disk work is in flight;
 *   - `transfer-ending.ts`: done, failed and cancelled, what is kept on disk, the media sniff;
 *   - `transfer-events.ts`: `transfer` events, throttled progress, `list()`.
 * This file keeps the commands and the session's inputs.
 */

import { HallwayError } from "../errors.js";
import type { FileReceiver } from "../files/file-receiver.js";
import { type FileRead, FileSender } from "../files/file-sender.js";
import type { HostedConnection, UdpHost } from "../net/udp-host.js";
import type { FileControl } from "../protocol/file-control.js";
import { hexId } from "../protocol/random-ids.js";
import { OutgoingFile } from "./file-store.js";
import type { FolderListing } from "./folder-walk.js";
import { drainDisk, io } from "./transfer-disk.js";
import { finishFailed, onCoreEvent } from "./transfer-ending.js";
import { listTransfers, maybeProgress, report } from "./transfer-events.js";
import { BATCH_PARALLEL, endBatch, newBatch } from "./transfer-folders.js";
import { accept, decline, handleBadOffer, handleOffer } from "./transfer-receive.js";
import {
  type Batch,
  type FileTransfersOptions,
  newTransfer,
  offerExpiresAt,
  resolve,
  type SendPinned,
  sendControl,
  type Transfer,
  type TransferRow,
  type TransferTable,
} from "./transfer-table.js";

export {
  type FileTransfersOptions,
  FREE_SPACE_MARGIN_BYTES,
  MAX_FILE_BYTES,
  OFFER_TIMEOUT_MS,
  type SendPinned,
  type TransferRow,
} from "./transfer-table.js";

export class FileTransfers {
  private readonly tt: TransferTable;
  private readonly host: UdpHost;

  constructor(opts: FileTransfersOptions) {
    this.host = opts.host;
    this.tt = {
      host: opts.host,
      runtime: opts.runtime,
      opts,
      transfers: new Map(),
      batches: new Map(),
      nextNumber: 1,
      stopping: false,
      offerNext: (b) => this.offerNext(b),
    };
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
        id: pinned.id ?? hexId(this.tt.runtime),
        stream,
        name: offeredName,
        ...(within === undefined ? {} : { batch: within.batch.info }),
        ...(within?.dir === undefined ? {} : { dir: within.dir }),
        sizeBytes: file.sizeBytes,
        sha256: file.sha256,
        offerExpiresAt: offerExpiresAt(this.tt),
        ...(this.tt.opts.maxTransferRate === undefined
          ? {}
          : { maxRateBytesPerSecond: this.tt.opts.maxTransferRate }),
      });
    } catch (err) {
      file.close();
      throw new HallwayError("CLI_BAD_COMMAND", `cannot offer '${offeredName}': ${(err as Error).message}`);
    }
    if (!this.host.attachStream(conn, stream, sender)) {
      file.close();
      throw new HallwayError("FILE_PEER_LOST", `the session to ${peer} has no free stream`);
    }
    const t = newTransfer(this.tt, sender.offer, "send", peer, conn, within?.batch);
    t.sender = sender;
    t.outgoing = file;
    this.tt.transfers.set(t.id, t);
    report(this.tt, t, "offered");
    this.host.touch(conn);
    return t.id;
  }

  /**
   * Offer the files of a folder (`walkFolder`), a few at a time; resolves with the folder's
   * number once its first files are offered.
   */
  async sendFolder(peer: string, conn: HostedConnection, listing: FolderListing): Promise<number> {
    const b = newBatch(this.tt, "send", peer, {
      id: hexId(this.tt.runtime),
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
        this.tt.opts.emit({ event: "error", code: e.code, message: e.message, n: b.n });
        if (e.code === "FILE_PEER_LOST") endBatch(this.tt, b);
      }
    }
  }

  /** The short number of a transfer (0 once it is forgotten). */
  numberOf(id: string): number {
    return this.tt.transfers.get(id)?.n ?? 0;
  }

  /** Running transfers and folders, one row per number, oldest first. */
  list(): TransferRow[] {
    return listTransfers(this.tt);
  }

  /**
   * Accept an offer into `dir` (default: the download directory). `ref` is a transfer id, its
   * number or the start of its id; a file of a folder accepts the whole folder.
   */
  accept(ref: string, dir?: string): void {
    accept(this.tt, ref, dir);
  }

  /** Decline an offer (`ref` as for `accept`; a file of a folder declines the folder). */
  decline(ref: string): void {
    decline(this.tt, ref);
  }

  /** Cancel a transfer (`ref` as for `accept`; a folder's number or file cancels the folder). */
  cancel(ref: string): void {
    const { t, b } = resolve(this.tt, ref);
    if (b) {
      const running = [...this.tt.transfers.values()].filter((x) => x.batch === b && !x.done);
      endBatch(this.tt, b);
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
      handleOffer(this.tt, peer, conn, msg);
      return;
    }
    const t = this.tt.transfers.get(msg.id);
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
    handleBadOffer(this.tt, peer, conn, bad);
  }

  /** The session closed: its transfers cannot go on. */
  onClosed(conn: HostedConnection): void {
    for (const t of [...this.tt.transfers.values()]) {
      if (t.conn.session !== conn.session || t.done) continue;
      finishFailed(this.tt, t, "FILE_PEER_LOST", "the session to the peer closed", "peer", true);
    }
    // Folders between two files end too: their next offers would come on another session.
    for (const b of [...this.tt.batches.values()]) if (b.conn?.session === conn.session) endBatch(this.tt, b);
  }

  /** Drain every transfer (the host's turn, before it packs datagrams). */
  onTurn(now: number): void {
    for (const t of [...this.tt.transfers.values()]) if (!t.done) this.drain(t, now);
  }

  /** Stop every transfer (shutdown): partial files are kept for a later resume. */
  stop(): void {
    // A shutdown reports at once: there is no later turn to report in.
    this.tt.stopping = true;
    for (const t of [...this.tt.transfers.values()]) {
      if (!t.done) finishFailed(this.tt, t, "FILE_PEER_LOST", "shutting down", "local", true);
    }
  }

  // ---- internals ---------------------------------------------------------------------

  private drain(t: Transfer, now: number): void {
    const core = t.sender ?? (t.receiver as FileReceiver);
    if (t.sender && t.outgoing) {
      const file = t.outgoing;
      const sender = t.sender;
      for (let r = sender.pollRead(); r; r = sender.pollRead()) {
        const read: FileRead = r;
        io(
          this.tt,
          t,
          file.readAt(read.offset, read.length, read.into),
          (bytes) => sender.handleRead(read.offset, bytes, this.host.now()),
          (err) => sender.handleReadFailed(read.offset, (err as NodeJS.ErrnoException).code ?? String(err)),
        );
      }
    }
    if (t.receiver && t.incoming) drainDisk(this.tt, t, t.receiver, t.incoming, now);
    for (let c = core.pollControl(); c; c = core.pollControl()) sendControl(this.tt, t.conn, c);
    for (let e = core.pollEvent(); e; e = core.pollEvent()) onCoreEvent(this.tt, t, e);
    // What handling the events produced: a verified file put in place (or not) at once.
    for (let c = core.pollControl(); c; c = core.pollControl()) sendControl(this.tt, t.conn, c);
    if (!t.done) maybeProgress(this.tt, t, now);
  }
}
