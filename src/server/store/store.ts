/**
 * The registry's storage port. Every adapter (SQLite in `sqlite/`, Neo4j in `neo4j/`)
 * implements this interface and runs the same contract suite (`test/integration/store-contract/`,
 * one file per part), so the rules below are checked, not just written down.
 *
 * `Store` is the four parts of the port and a lifecycle: `AccountStore` (users, audit),
 * `MessageStore` (offline queue, history, message search), `SocialStore` (profiles, friends,
 * notices, suggestions, groups and group messages) and `DumpStore` (export and import). A
 * part of the registry that needs only one of them may ask for only that one.
 *
 * - Names are compared case-insensitively everywhere (the caller stores them lower-cased).
 * - Times are milliseconds since the epoch, supplied by the caller. The one exception is
 *   `ackOffline`, whose `deliveredAt` comes from the adapter's injected clock.
 * - Writes that reference a user (messages) must name an existing user; otherwise they reject
 *   with `STORE_FAILED`. Audit entries are the exception: they name an account by its text and
 *   need not match one (a failed login for a name nobody registered is audited too), and the
 *   name is empty for an event without an account (a blocked anonymous source). Storage
 *   failures reject with `STORE_FAILED`; a data location that cannot be written rejects with
 *   `DATA_DIR_UNWRITABLE`.
 * - A `limit` of zero or less yields an empty result.
 * - After `close()`, every other method rejects with `STORE_FAILED`.
 * - The social methods that name a user or group that does not exist reject with
 *   `AUTH_UNKNOWN_USER` or `GROUP_UNKNOWN` (see `social-store.ts`). The accounts and messages
 *   parts keep older rules: reading an unknown user's audit, queue or history yields nothing.
 */

import type { AccountStore } from "./account-store.js";
import type { DumpStore } from "./dump-store.js";
import type { MessageStore } from "./message-store.js";
import type { SocialStore } from "./social-store.js";

export {
  type AccountStore,
  AUDIT_EVENTS,
  type AuditEntry,
  type AuditEvent,
  type AuditQuery,
  PROFILE_FIELDS,
  type Profile,
  type ProfileField,
  type ProfilePatch,
  type UserRecord,
} from "./account-store.js";
export type { DumpRecord, DumpStore, LaterUserFields } from "./dump-store.js";
export type { HistoryCursor, MessageHit, MessageStore, StoredMessage } from "./message-store.js";
export type {
  FriendRequest,
  Friendship,
  GroupMember,
  GroupMessage,
  GroupRecord,
  GroupStore,
  JoinRequest,
  Notice,
  PeopleStore,
  SocialStore,
  Suggestion,
  TimeNameCursor,
} from "./social-store.js";

export interface Store extends AccountStore, MessageStore, SocialStore, DumpStore {
  /** Opens the backing storage and creates or migrates the schema. Idempotent. */
  init(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}
