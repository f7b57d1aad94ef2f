/**
 * What the rest of the server may use from the store folder: the port (whole, or one of its
 * parts), the adapters, a factory.
 *
 * The Neo4j adapter (and with it neo4j-driver, a large module tree) is loaded only when a
 * Neo4j store is opened: every other start of `hallway` skips it. Import it from
 * `./neo4j/neo4j-store.js` directly where the class itself is needed.
 */

import type { Neo4jStoreOptions } from "./neo4j/neo4j-store.js";
import { SqliteStore, type SqliteStoreOptions } from "./sqlite/sqlite-store.js";
import type { Store } from "./store.js";

export type { Neo4jConnection, Neo4jStoreOptions } from "./neo4j/neo4j-store.js";
export { SqliteStore, type SqliteStoreOptions } from "./sqlite/sqlite-store.js";
export {
  type AccountStore,
  AUDIT_EVENTS,
  type AuditEntry,
  type AuditEvent,
  type AuditQuery,
  type DumpRecord,
  type DumpStore,
  type FriendRequest,
  type Friendship,
  type GroupMember,
  type GroupMessage,
  type GroupRecord,
  type HistoryCursor,
  type JoinRequest,
  type MessageStore,
  type Notice,
  PROFILE_FIELDS,
  type Profile,
  type ProfileField,
  type ProfilePatch,
  type SocialStore,
  type Store,
  type StoredMessage,
  type Suggestion,
  type TimeNameCursor,
  type UserRecord,
} from "./store.js";

export type StoreConfig =
  | ({ kind: "sqlite"; path: string } & SqliteStoreOptions)
  | ({ kind: "neo4j" } & Neo4jStoreOptions);

/** A store of the configured kind; call `init()` before use (and `close()` after). */
export async function openStore(config: StoreConfig): Promise<Store> {
  switch (config.kind) {
    case "sqlite":
      return new SqliteStore(config.path, {
        ...(config.now === undefined ? {} : { now: config.now }),
        ...(config.soon === undefined ? {} : { soon: config.soon }),
        ...(config.init === undefined ? {} : { init: config.init }),
      });
    case "neo4j": {
      const { kind: _kind, ...options } = config;
      const { Neo4jStore } = await import("./neo4j/neo4j-store.js");
      return new Neo4jStore(options);
    }
  }
}

/** One line for logs: which store, where. Never a password. */
export function describeStore(store: Store): string {
  if (store instanceof SqliteStore) return `SQLite ${store.path}`;
  const described = store as Partial<{ describe(): string }>;
  return typeof described.describe === "function" ? described.describe() : "custom store";
}
