/**
 * What the registry's drop box (`drop-box.ts`) is built with, and which requests are its.
 */

import type { UdpHost } from "../net/udp-host.js";
import type { Control, ControlOf } from "../protocol/control.js";
import type { Runtime } from "../runtime.js";
import type { DropLimits } from "./drop-rules.js";
import type { Store } from "./store/store.js";

export type DropRequest = ControlOf<
  "drop.put" | "drop.fetch" | "drop.list" | "drop.cancel" | "drop.decline" | "drop.got"
>;

export function isDropRequest(msg: Control): msg is DropRequest {
  return msg.t.startsWith("drop.") && msg.t !== "drop.notify";
}

export interface DropBoxOptions {
  host: UdpHost;
  /** `drop/` in the registry's data directory. */
  dir: string;
  limits: DropLimits;
  /** Each download from the drop box goes no faster than this (bytes per second); default: the path's rate. */
  sendBytesPerSecond?: number;
  store: Pick<Store, "getUser" | "getGroup" | "groupMembers">;
  /** Throws if `from` may not send to `to` (the messaging policy). */
  mayTalk: (from: string, to: string) => Promise<void>;
  /** Queues a push to `user`'s live session, if there is one. */
  push: (user: string, msg: Control) => void;
  isOnline: (user: string) => boolean;
  /** The sweep's timer, the sweep soon after an entry goes, and drop and transfer ids. */
  runtime: Runtime;
  /** Calendar time (retention); the registry's `wall`. */
  wall: () => number;
  log: (line: string, level?: "info" | "warn" | "error") => void;
}
