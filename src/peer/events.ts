/**
 * What the client core tells its presenters (the headless JSON mode and the line UI).
 * These objects are exactly the `--json` output lines; docs/cli.md lists them.
 */

import type { ErrorCode } from "../errors.js";
import type { HistoryEntry, UserEntry } from "../protocol/control.js";

export type Via = "direct" | "relay" | "offline";

export type PeerEvent =
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
  | { event: "users"; users: UserEntry[] }
  | { event: "history"; with: string; messages: HistoryEntry[] }
  | { event: "error"; code: ErrorCode; message: string; id?: string; cmd?: string }
  | { event: "bye" };
