/**
 * Composition root of the registry process: data directory, identity, store, registry
 * role and mDNS advertisement. `hallway server` and the embedded registry of the line UI
 * both start here.
 */

import { join } from "node:path";
import { asHallwayError } from "../errors.js";
import { ensureDataDir, loadOrCreateIdentity, privacyWarnings } from "../net/data-dir.js";
import { advertiseRegistry } from "../net/mdns-advertise.js";
import { systemRuntime } from "../net/system-runtime.js";
import { PROTOCOL_VERSION } from "../protocol/datagram.js";
import { DEFAULT_PORT } from "../protocol/limits.js";
import { fingerprint } from "../protocol/noise.js";
import type { Runtime } from "../runtime.js";
import { DEFAULT_DROP_LIMITS, type DropLimits } from "./drop-rules.js";
import type { Limits } from "./limits.js";
import type { OfficeRoomOptions } from "./office-room.js";
import { type LogLevel, Registry } from "./registry.js";
import type { Policy } from "./social.js";
import { describeStore, type Neo4jConnection, openStore, type Store } from "./store/index.js";

export { DEFAULT_PORT } from "../protocol/limits.js";
export { auditEvent, formatAuditLine, parseAuditEvents, parseAuditTime, readAudit } from "./audit.js";
export { DEFAULT_DROP_LIMITS, type DropLimits } from "./drop-rules.js";
export { describeCounts, exportOffice, importOffice, type TransferSummary } from "./export.js";
export { DEFAULT_LIMITS, type Limits, resolveLimits } from "./limits.js";
export { DEFAULT_OFFICE_BACKLOG, type OfficeRoomOptions } from "./office-room.js";
export { LOG_LEVELS, type LogLevel } from "./registry.js";
export { DEFAULT_RELAY_BYTES_PER_SECOND } from "./relay.js";
export { POLICIES, type Policy } from "./social.js";

/** Where the registry keeps durable state: SQLite in the data directory (default), or Neo4j. */
/** `init`: an existing empty SQLite file is a deliberately new store (`--init`), else STORE_CORRUPT. */
export type ServerStore = { kind: "sqlite"; init?: boolean } | ({ kind: "neo4j" } & Neo4jConnection);

export interface ServerOptions {
  host?: string;
  port?: number;
  /** Identity key, and the SQLite database when that is the store. */
  dataDir: string;
  store?: ServerStore;
  mdns: boolean;
  name?: string;
  /** Who may message whom (default `open`). */
  policy?: Policy;
  /** Relay budget per user in bytes per second; 0 turns the relay off (default 4 MB/s). */
  relayBytesPerSecond?: number;
  /** Abuse limits (docs/security.md); default `DEFAULT_LIMITS`. */
  limits?: Limits;
  /** The drop box's limits (`drop/` in the data directory); default `DEFAULT_DROP_LIMITS`. */
  dropLimits?: Partial<DropLimits>;
  /** Each download from the drop box goes no faster than this (bytes per second). */
  dropSendBytesPerSecond?: number;
  /** Log lines, each with its level (docs/admin.md lists them). */
  log?: (line: string, level?: LogLevel) => void;
  /** Time, timers and randomness; default the process's (`net/system-runtime.ts`). */
  runtime?: Runtime;
  /** The office room `#all`; default open, everyone reads and writes. */
  officeRoom?: OfficeRoomOptions;
}

export interface RunningServer {
  port: number;
  fingerprint: string;
  policy: Policy;
  stop(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const dir = ensureDataDir(opts.dataDir);
  const runtime = opts.runtime ?? systemRuntime;
  const identity = loadOrCreateIdentity(dir, runtime.random);
  const store = await openServerStore(opts.store ?? { kind: "sqlite" }, dir);
  await store.init();
  for (const line of privacyWarnings([dir, join(dir, "identity.json"), join(dir, "registry.sqlite")]))
    opts.log?.(line);
  const registry = new Registry({
    store,
    identity,
    runtime,
    host: opts.host ?? "0.0.0.0",
    port: opts.port ?? DEFAULT_PORT,
    policy: opts.policy ?? "open",
    ...(opts.relayBytesPerSecond === undefined ? {} : { relayBytesPerSecond: opts.relayBytesPerSecond }),
    ...(opts.limits === undefined ? {} : { limits: opts.limits }),
    drop: {
      dir: join(dir, "drop"),
      limits: { ...DEFAULT_DROP_LIMITS, ...opts.dropLimits },
      ...(opts.dropSendBytesPerSecond === undefined
        ? {}
        : { sendBytesPerSecond: opts.dropSendBytesPerSecond }),
    },
    ...(opts.log ? { log: opts.log } : {}),
    officeRoom: opts.officeRoom ?? { mode: "open" },
  });
  let address: { port: number };
  try {
    address = await registry.start();
  } catch (err) {
    await store.close();
    throw err;
  }
  opts.log?.(`store: ${describeStore(store)}`);
  const fp = fingerprint(identity.publicKey);
  let advert: { stop(): Promise<void> } | undefined;
  if (opts.mdns) {
    try {
      advert = await advertiseRegistry({
        name: opts.name ?? "Hallway registry",
        port: address.port,
        fingerprint: fp,
        version: PROTOCOL_VERSION,
      });
    } catch (err) {
      opts.log?.(`mDNS advertisement failed (${asHallwayError(err).message}); clients need --server`, "warn");
    }
  }
  let stopped = false;
  return {
    port: address.port,
    fingerprint: fp,
    policy: opts.policy ?? "open",
    async stop() {
      if (stopped) return;
      stopped = true;
      await advert?.stop();
      await registry.stop();
      await store.close();
    },
  };
}

/** The configured store over `dataDir` (SQLite's file lives there), not yet initialised. */
export function openServerStore(choice: ServerStore, dataDir: string): Promise<Store> {
  switch (choice.kind) {
    case "sqlite":
      return openStore({
        kind: "sqlite",
        path: join(dataDir, "registry.sqlite"),
        ...(choice.init === undefined ? {} : { init: choice.init }),
      });
    case "neo4j": {
      const { kind: _kind, ...connection } = choice;
      return openStore({ kind: "neo4j", ...connection });
    }
  }
}
