/**
 * The state the parts of the transfer layer share (`file-transfers.ts` is the façade): one
 * `Transfer` per file, one `Batch` per folder, the options, the short numbers people type,
 * and the lookups every part needs (`resolve`, `offered`, `sendControl`). The parts take this
 * table as their first argument; nothing here runs IO of its own.
 */

import { HallwayError } from "../errors.js";
import type { FileReceiver } from "../files/file-receiver.js";
import type { FileSender } from "../files/file-sender.js";
import type { HostedConnection, UdpHost } from "../net/udp-host.js";
import {
  encodeFileControl,
  type FileBatch,
  type FileControl,
  type FileEndCode,
  type FileOffer,
} from "../protocol/file-control.js";
import type { Runtime, Timer } from "../runtime.js";
import { safeFileName } from "./file-name.js";
import type { ProgressMeter } from "./file-progress.js";
import type { IncomingFile, OutgoingFile } from "./file-store.js";
import type { FolderListing } from "./folder-walk.js";
import type { TransferOutput, TransferState } from "./transfer-event.js";

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

export interface Transfer {
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
  syncTimer?: Timer;
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
export interface Batch {
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
  /** Transfer and folder ids, the fsync batch's delay, a finished receiver's linger. */
  runtime: Runtime;
  emit: (e: TransferOutput) => void;
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
  /**
   * Writes chunks to a receiving file; default its `writeAt` (a `writev` on the thread pool).
   * The simulator stalls a disk with it (test/sim/file-lifecycle.test.ts).
   */
  writeFile?: (file: IncomingFile, offsetBytes: number, buffers: Uint8Array[]) => Promise<void>;
}

/** What `send` may pin down: the transfer id, and the SHA-256 the file must have. */
export interface SendPinned {
  id?: string;
  /** The file is offered only if its content hashes to this (hex); else FILE_HASH_MISMATCH. */
  sha256?: string;
}

/** What the parts share. */
export interface TransferTable {
  readonly host: UdpHost;
  readonly runtime: Runtime;
  readonly opts: FileTransfersOptions;
  readonly transfers: Map<string, Transfer>;
  /** Folders by `Batch.key`. */
  readonly batches: Map<string, Batch>;
  /** The next short number. */
  nextNumber: number;
  /** Set by `stop()`: failures are then reported at once, not once their disk IO settles. */
  stopping: boolean;
  /** Offers a folder's next file (the façade's `send`). */
  offerNext(b: Batch): Promise<void>;
}

export function newTransfer(
  tt: TransferTable,
  offer: FileOffer,
  direction: "send" | "receive",
  peer: string,
  conn: HostedConnection,
  batch?: Batch,
): Transfer {
  return {
    id: offer.id,
    n: batch?.n ?? tt.nextNumber++,
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
    manifestAt: tt.host.now(),
    manifestBytes: 0,
    savingManifest: false,
    verified: false,
    done: false,
  };
}

/**
 * What `ref` names: a number (`3`), a transfer id, or the start of one (at least 4
 * characters, naming one transfer only).
 */
export function resolve(tt: TransferTable, ref: string): { t?: Transfer; b?: Batch } {
  const text = ref.trim().replace(/^#/, "");
  if (/^\d{1,9}$/.test(text)) {
    const n = Number(text);
    for (const b of tt.batches.values()) if (b.n === n && b.state !== "ended") return { b };
    for (const t of tt.transfers.values()) if (t.n === n && !t.done) return { t };
    throw new HallwayError("FILE_UNKNOWN_TRANSFER", `no running transfer ${n}`);
  }
  const exact = tt.transfers.get(text);
  const hits = exact
    ? [exact]
    : text.length >= 4
      ? [...tt.transfers.values()].filter((t) => t.id.startsWith(text))
      : [];
  const t = hits.length === 1 ? hits[0] : undefined;
  if (!t) throw new HallwayError("FILE_UNKNOWN_TRANSFER", `no transfer ${text}`);
  return t.batch && t.batch.state !== "ended" ? { t, b: t.batch } : { t };
}

/** The transfer `id`, if it is an offer still waiting for an answer. */
export function offered(tt: TransferTable, id: string): Transfer {
  const t = tt.transfers.get(id);
  if (!t || t.done || !t.receiver) throw new HallwayError("FILE_UNKNOWN_TRANSFER", `no offer ${id}`);
  if (t.receiver.state !== "offered") {
    throw new HallwayError("FILE_UNKNOWN_TRANSFER", `transfer ${id} was already answered`);
  }
  return t;
}

/** In the host's clock, which drives the cores' timers. */
export function offerExpiresAt(tt: TransferTable): number {
  return tt.host.now() + (tt.opts.offerTimeoutMs ?? OFFER_TIMEOUT_MS);
}

export function sendControl(tt: TransferTable, conn: HostedConnection, c: FileControl): void {
  try {
    tt.host.send(conn, encodeFileControl(c));
  } catch {
    // The session closed: its transfers end through onClosed.
  }
}
