/**
 * What a `Registry` is built with (`registry.ts`).
 */

import type { DatagramSockets } from "../net/datagram-socket.js";
import type { Identity } from "../protocol/endpoint.js";
import type { Runtime } from "../runtime.js";
import type { ScryptParams } from "./accounts.js";
import type { DropLimits } from "./drop-rules.js";
import type { Limits } from "./limits.js";
import type { OfficeRoomOptions } from "./office-room.js";
import type { Log } from "./registry-session.js";
import type { Policy } from "./social.js";
import type { Store } from "./store/store.js";
export interface RegistryOptions {
  store: Store;
  identity: Identity;
  host?: string;
  port?: number;
  /** A log line and how much it matters (info: comings and goings; warn: refusals, failures). */
  log?: Log;
  /** Time, timers and randomness (src/runtime.ts); default `systemRuntime`, the process's. */
  runtime?: Runtime;
  /** The UDP sockets of its `UdpHost` (net/datagram-socket.ts); default real UDP. */
  sockets?: DatagramSockets;
  /** Calendar time, overriding `runtime.wall` (tests set the date). */
  wallClock?: () => number;
  /**
   * The scrypt cost of new password hashes; default `DEFAULT_SCRYPT` (accounts.ts). For tests
   * and simulations only, which register many accounts: the CLI never sets it. Verification
   * always uses the cost stored in the hash.
   */
  passwordHashing?: ScryptParams;
  /** Who may message whom; default `open`. */
  policy?: Policy;
  /** Relay budget per user in bytes per second (src/server/relay.ts); 0 turns the relay off. */
  relayBytesPerSecond?: number;
  /** Abuse limits (`limits.ts`); default `DEFAULT_LIMITS`. */
  limits?: Limits;
  /** The drop box (`drop-box.ts`): its folder in the data directory and its limits; absent, none. */
  drop?: { dir: string; limits: DropLimits; sendBytesPerSecond?: number };
  /** The office room `#all` (office-room.ts); default off. */
  officeRoom?: OfficeRoomOptions;
}
