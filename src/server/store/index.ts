/** What the rest of the server may use from the store folder: the port, the adapters, a factory. */

import { SqliteStore, type SqliteStoreOptions } from "./sqlite-store.js";
import type { Store } from "./store.js";

export { SqliteStore, type SqliteStoreOptions } from "./sqlite-store.js";
export type {
  AuditEntry,
  AuditEvent,
  HistoryCursor,
  Store,
  StoredMessage,
  UserRecord,
} from "./store.js";

export type StoreConfig = { kind: "sqlite"; path: string } & SqliteStoreOptions;

/** A store of the configured kind; call `init()` before use (and `close()` after). */
export function openStore(config: StoreConfig): Store {
  switch (config.kind) {
    case "sqlite":
      return new SqliteStore(config.path, config.now === undefined ? {} : { now: config.now });
  }
}
