/**
 * What the client core tells its presenters (the headless JSON mode and the line UI).
 * These objects are exactly the `--json` output lines; docs/cli.md lists them.
 */

import type { ErrorCode } from "../errors.js";
import type { HistoryEntry, UserEntry } from "../protocol/control.js";
import type { PathKind } from "../traversal/candidates.js";

export type Via = "direct" | "relay" | "offline";

export type TransferState = "offered" | "accepted" | "progress" | "done" | "failed" | "cancelled";

export interface TransferEvent {
  event: "transfer";
  id: string;
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
  /** On `failed` and `cancelled`: why, and who ended it. */
  code?: ErrorCode;
  message?: string;
  by?: "local" | "peer";
  /** Sender, when the transfer ends: chunk payload bytes sent more than once (loss repair). */
  retransmittedBytes?: number;
}

export type PeerEvent =
  | TransferEvent
  | { event: "ready"; user: string }
  | {
      event: "registry";
      status: "connected" | "lost";
      address: string;
      fingerprint: string;
      /** Our UDP port (on "connected"): where the registry and peers reach this client. */
      localPort?: number;
    }
  | { event: "message"; id: string; from: string; to: string; text: string; via: Via; sentAt: number }
  | { event: "sent"; id: string; to: string; via: Via }
  | { event: "delivered"; id: string }
  | { event: "presence"; user: string; status: "online" | "offline" }
  /** A direct session to `peer` is up, on this kind of path; `ms`: connect time (initiator). */
  | { event: "path"; peer: string; kind: PathKind; ms?: number }
  | { event: "users"; users: UserEntry[] }
  | { event: "history"; with: string; messages: HistoryEntry[] }
  | { event: "error"; code: ErrorCode; message: string; id?: string; cmd?: string }
  | { event: "bye" };
