/**
 * What an interactive presenter (the terminal UI, line mode) is given by its process's
 * composition root (`main/peer.ts`), instead of reaching for it: the runtime (time, timers),
 * clients over the process's data directory, and a registry started in this process. The
 * presenters hold no data directory, no clock and no registry of their own.
 */

import type { ClientSetup, PeerClient } from "../peer/index.js";
import type { Runtime } from "../runtime.js";

/** A registry running in this process: what the presenter needs to show it and stop it. */
export interface LocalRegistry {
  port: number;
  fingerprint: string;
  /** Closes its store and says goodbye over mDNS; the presenter calls it before it returns. */
  stop(): Promise<void>;
}

export interface PresenterPorts {
  runtime: Runtime;
  /** A client whose identity, pins and message log live in this process's data directory. */
  openClient(setup: Omit<ClientSetup, "dataDir">): PeerClient;
  /** Starts a registry here (offered when none answers on the LAN), announced over mDNS. */
  hostRegistry(): Promise<LocalRegistry>;
}
