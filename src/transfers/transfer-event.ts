/**
 * What file transfers tell the presenters: a transfer's state, as a `transfer` event (one of
 * the `--json` output lines, docs/cli.md), and the errors that belong to a transfer or folder.
 * The client's `PeerEvent` (peer/events.ts) includes both; the registry's drop box reads them.
 */

import type { ErrorCode } from "../errors.js";
import type { MediaInfo } from "../media/index.js";

export type TransferState = "offered" | "accepted" | "progress" | "done" | "failed" | "cancelled";

export interface TransferEvent {
  event: "transfer";
  id: string;
  /** The short number people type (`/cancel 3`); the files of a folder share the folder's. */
  n: number;
  /**
   * A file of a folder: the folder (its name, how many files and bytes), the files done and
   * bytes held so far, and (receiver, once accepted) where the folder is on this disk.
   */
  batch?: {
    id: string;
    name: string;
    files: number;
    bytes: number;
    filesDone: number;
    /** Files that ended, done or not (the folder is over when this reaches `files`). */
    filesEnded: number;
    bytesDone: number;
    path?: string;
  };
  /** A file of a folder: its folder relative to the folder's root, `/`-separated. */
  dir?: string;
  direction: "send" | "receive";
  state: TransferState;
  /** The other user. */
  peer: string;
  /** The offered name (sender: the name offered; receiver: as the sender offered it). */
  name: string;
  size: number;
  /** Bytes acknowledged (send) or durable (receive) so far. */
  bytes: number;
  sha256: string;
  /** From `accepted` on: bytes the receiver already held (resume), never sent again. */
  skippedBytes?: number;
  /** Sender, from `accepted` on: file bytes put on the wire, retransmissions included. */
  sentBytes?: number;
  /** On `progress`: the recent rate, and seconds left at that rate (null while stalled). */
  bytesPerSecond?: number;
  etaSeconds?: number | null;
  /** Receiver, from `accepted` on: where the file is (the `.part` until `done`). */
  path?: string;
  /**
   * Receiver, on `done`: what the file is, sniffed from its bytes (never its name): an image
   * with its dimensions, a video or audio file with its duration when the header tells it.
   */
  media?: MediaInfo;
  /** On `failed` and `cancelled`: why, and who ended it. */
  code?: ErrorCode;
  message?: string;
  by?: "local" | "peer";
  /**
   * Receiver, on `failed` and `cancelled`: whether the `.part` and its manifest stay for a
   * resume (the same offer accepted again continues from them) or were removed.
   */
  partial?: "kept" | "removed";
  /** Sender, when the transfer ends: chunk payload bytes sent more than once (loss repair). */
  retransmittedBytes?: number;
  /** Sender, when the transfer ends: the largest datagram its path proved it carries. */
  pathMtuBytes?: number;
  /**
   * Sender, when the transfer ends: datagrams that carried chunks, by size class (the
   * upper bound of each path-MTU rung, in bytes, as a string key).
   */
  datagramSizes?: Record<string, number>;
  /**
   * `registry`: the file goes to or comes from the registry's drop box (a group, or someone
   * offline), and `drop` is its id there; absent, it goes peer to peer.
   */
  via?: "registry";
  drop?: string;
}

/** An error that belongs to a transfer (`id`, `n`) or a folder (`n`). */
export interface TransferErrorEvent {
  event: "error";
  code: ErrorCode;
  message: string;
  id?: string;
  n?: number;
}

/** Everything `FileTransfers` emits. */
export type TransferOutput = TransferEvent | TransferErrorEvent;
