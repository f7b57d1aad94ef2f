/**
 * A Connection's options and counters, and the transfer core it hosts (connection.ts holds
 * the Connection and its theory of operation; it re-exports these).
 */

import type { PathMtuStats } from "./path-mtu.js";
import type { SegmentPath } from "./reliable-channel.js";
import type { StreamCore } from "./stream-core.js";

export interface ConnectionOptions {
  keepaliveMs: number;
  /** Whether this side opened the session: it then allocates odd stream ids, else even ones. */
  initiator?: boolean;
  /** The session starts on a relayed path. */
  relayed?: boolean;
  /** MTU of the local link toward the peer, if the adapter knows it (a cost-model hint). */
  linkMtuBytes?: number;
  /** A message on `stream` was over the limit and dropped; `head` is its first segment. */
  onOversized?: (stream: number, head: Uint8Array) => void;
}

/** A transfer core, told about the session's path when it is attached. */
export interface PathAwareCore extends StreamCore {
  attachPath?(path: SegmentPath): void;
}

export interface ConnectionStats {
  path: PathMtuStats;
  /** Probes of the peer's that we answered. */
  probesAnswered: number;
}
