/**
 * What a `PeerClient` is built with (`client.ts`), and how a file is to be sent.
 */

import type { PinStore } from "../net/data-dir.js";
import type { DatagramSockets } from "../net/datagram-socket.js";
import type { Address } from "../protocol/address.js";
import type { Identity } from "../protocol/endpoint.js";
import type { Runtime } from "../runtime.js";
import type { LocalInterface } from "../traversal/candidates.js";
import type { PeerEvent } from "./events.js";
import type { LanOutbox } from "./lan-outbox.js";
import type { MessageLog } from "./message-log.js";
import type { PeerPins } from "./peer-pins.js";

export interface PeerClientOptions {
  identity: Identity;
  /** The registry; absent: none was found, and the client starts in LAN mode (needs `lan`). */
  server?: Address;
  user: string;
  password: string;
  register?: boolean;
  pins: PinStore;
  /**
   * Time, timers and randomness for the client and every part of it (`runtime.ts`); default
   * the process's (`net/system-runtime.ts`). A simulation passes a virtual one.
   */
  runtime?: Runtime;
  /** Where the client's UDP sockets come from; default real ones (`net/udp-socket.ts`). */
  sockets?: DatagramSockets;
  heartbeatMs?: number;
  requestTimeoutMs?: number;
  directTimeoutMs?: number;
  /**
   * A send that cannot reach the registry (to look the recipient up, or to store the message)
   * reports `REGISTRY_UNREACHABLE` after this long at most; default the smaller of 4 s and
   * `requestTimeoutMs`. The message stays in the outbox either way.
   */
  sendReportMs?: number;
  /** The registry must present the key with this fingerprint (`--registry FINGERPRINT`). */
  registryFingerprint?: string;
  /** This machine's usable interfaces, for host candidates; default asked of the system. */
  interfaces?: () => readonly LocalInterface[];
  /** While a peer session rides the relay, look for a direct path this often (default 15 s). */
  pathRetryMs?: number;
  port?: number;
  /** Where accepted files go when `acceptFile` names no directory. */
  downloadDir: string;
  /** Accept every file offer into this directory. */
  autoAcceptDir?: string;
  /** How long a file offer waits for an answer (default: FileTransfers' OFFER_TIMEOUT_MS). */
  offerTimeoutMs?: number;
  /** Each file sent goes no faster than this (bytes per second). */
  maxTransferRate?: number;
  /** Offers of larger files are refused with FILE_TOO_LARGE (default: FileTransfers' MAX_FILE_BYTES). */
  maxFileBytes?: number;
  /**
   * Opens the account's durable message log (`message-log.ts`): what arrives for the user is
   * recorded there before it is acknowledged. At `start()` only an existing one (`create`
   * false: what it did not hand over comes first); it is created when the first entry comes,
   * so a login that fails leaves no log behind.
   */
  openLog: (user: string, create: boolean, now: number) => MessageLog | undefined;
  /**
   * Every event for the presenter. A message, group message or receipt (the events that come
   * with `handedOver`; no other does) counts as shown only
   * once the presenter calls `handedOver` (the JSON mode: `ui/json-lines.ts`, which may take
   * it back with `handedOver(false)`); until then the log keeps it, and the next start hands
   * it over again. Marks are cumulative: each stands for the messages before it too.
   */
  onEvent: (event: PeerEvent, handedOver?: (handed?: boolean) => void) => void;
  /**
   * Called at `start()` when the last run left messages it had not handed over, before they
   * are handed over again: the JSON mode ends there a line the killed process may have left
   * half-written.
   */
  onHandOverAgain?: () => void;
  /**
   * LAN discovery (docs/discovery.md): announce this peer and browse for others; with no
   * registry reachable, chat and send files to peers on the LAN directly (LAN mode). Absent: off.
   */
  lan?: {
    announce: boolean;
    pins: PeerPins;
    openOutbox: (user: string) => LanOutbox;
    /** A registry reached later: create the account first (`--register`, `--register-if-missing`). */
    registerIfMissing?: boolean;
  };
}

/** How to send a file: `via: "registry"` puts it in the drop box even for people online. */
export interface SendHow {
  via?: "registry";
}
