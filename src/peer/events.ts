/**
 * What the client core tells its presenters (the headless JSON mode and the line UI).
 * These objects are exactly the `--json` output lines; docs/cli.md lists them.
 */

import type { ErrorCode } from "../errors.js";
import type {
  GroupMessageEntry,
  HistoryEntry,
  PresenceStatus,
  ProfileData,
  SearchHit,
  UserEntry,
} from "../protocol/control.js";
import type { DropInfo } from "../protocol/drop.js";
import type { TransferEvent } from "../transfers/transfer-event.js";
import type { PathKind } from "../traversal/candidates.js";

export type Via = "direct" | "relay" | "offline";

export type { TransferEvent, TransferState } from "../transfers/transfer-event.js";

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
  /** `away`: still reachable (messages go direct), only marked as stepped away. */
  | { event: "presence"; user: string; status: PresenceStatus }
  /**
   * A session to `peer` is up, or moved, on this kind of path; `ms`: connect time (initiator);
   * `address`: the peer's address on it (`host:port`, `[v6]:port`), absent on the relay.
   */
  | { event: "path"; peer: string; kind: PathKind; ms?: number; address?: string }
  | { event: "users"; users: UserEntry[] }
  | { event: "history"; with: string; messages: HistoryEntry[] }
  /** Messages whose text contains `query`, in your conversations and groups, newest first. */
  | { event: "found"; query: string; hits: SearchHit[] }
  | {
      event: "error";
      code: ErrorCode;
      message: string;
      id?: string | number;
      cmd?: string;
      /** A file transfer's number, when the error is about one. */
      n?: number;
      /** With `RATE_LIMITED`: how long until the registry takes this kind of request again. */
      retryAfterMs?: number;
    }
  | SocialEvent
  /**
   * The drop box: a file waits for you there (fetched at once), or the registry already held
   * the content you sent (`state: "stored"`, nothing uploaded).
   */
  | { event: "drop"; drop: DropInfo }
  /** `drops`: what you sent that someone has not taken yet, and what waits for you. */
  | { event: "drops"; sent: DropInfo[]; received: DropInfo[] }
  | LanEvent
  /** Logged out; `id` echoes a `quit` command's request id. */
  | { event: "bye"; id?: string | number };

/** Friends, groups and profiles (src/peer/social.ts). */
export type SocialEvent =
  // Pushed by the registry.
  | { event: "friend.request"; from: string; at: number }
  | { event: "friend.accepted" | "friend.declined" | "friend.removed"; by: string }
  | { event: "group.joinRequest"; group: string; user: string; at: number }
  /** `user` joined `group` (you, when your request was approved). */
  | { event: "group.joined"; group: string; user: string }
  | { event: "group.declined"; group: string }
  | { event: "group.removed"; group: string; by: string }
  /** `user` (you) is now the group's admin. */
  | { event: "group.admin"; group: string; user: string }
  | {
      event: "groupMessage";
      id: string;
      group: string;
      from: string;
      text: string;
      seq: number;
      sentAt: number;
    }
  // Answers to commands.
  | ({ event: "ok"; cmd: string } & Record<string, string | boolean | number>)
  | {
      event: "friends";
      friends: Array<{ name: string; since: number; status: PresenceStatus }>;
      incoming: Array<{ from: string; at: number }>;
      outgoing: Array<{ to: string; at: number }>;
    }
  | {
      event: "search";
      query: string;
      users: Array<{ name: string; displayName: string | null }>;
      groups: Array<{ name: string; admin: string }>;
    }
  | {
      event: "groups";
      groups: Array<{
        name: string;
        admin: string;
        lastSeq: number;
        members: string[];
        description?: string | null | undefined;
      }>;
    }
  | { event: "group.sent"; group: string; id: string; seq: number }
  | { event: "group.history"; group: string; messages: GroupMessageEntry[] }
  | ({ event: "profile" } & ProfileData)
  | { event: "suggest"; suggestions: Array<{ name: string; mutualFriends: number; sharedGroups: number }> };

/** A device in the LAN directory, as the JSON mode shows it (docs/discovery.md). */
export interface LanPeerView {
  user: string;
  fingerprint: string;
  address: string;
  presence: "online" | "away";
  /** Another device announces the same user with another key: neither is trusted. */
  conflicting: boolean;
  registry?: string;
}

/** LAN discovery and LAN mode (src/peer/lan.ts, docs/discovery.md). */
export type LanEvent =
  /**
   * LAN mode on (`lan: true`: no registry; `code` says why) or off (the registry is back).
   * In LAN mode peers on the LAN chat and send files directly; messages to others wait.
   */
  | { event: "lan.mode"; lan: boolean; code?: ErrorCode; message: string }
  /** The LAN directory changed: a device appeared, changed (presence, address, conflict) or went. */
  | ({
      event: "lan.peer";
      state: "up" | "changed" | "down";
      why?: "goodbye" | "expired" | "evicted";
    } & LanPeerView)
  /** The whole LAN directory (`{"cmd":"lan"}`), and whether this peer announces itself. */
  | {
      event: "lan.peers";
      lan: boolean;
      announcing: boolean;
      peers: LanPeerView[];
      dropped: { malformed: number; otherVersion: number; foreign: number; evicted: number };
    }
  /** In LAN mode: the message waits in the outbox until `to` appears, or the registry is back. */
  | { event: "queued"; id: string; to: string; code: "PEER_QUEUED"; message: string };
