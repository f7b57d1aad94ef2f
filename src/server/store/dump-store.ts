/**
 * The dump/load part of the store port: every record out, in an order that replays into an
 * empty store of either kind (`hallway server export` / `import`, moving between SQLite and
 * Neo4j). The rules every part keeps are in `store.ts`.
 */

import type { AuditEntry, UserRecord } from "./account-store.js";
import type { StoredMessage } from "./message-store.js";
import type { GroupMember, GroupMessage, GroupRecord, JoinRequest, Notice } from "./social-store.js";

/** What a user record gained with the seed's profile (schema 5); an older export lacks it. */
export type LaterUserFields =
  | "birthDate"
  | "gender"
  | "country"
  | "region"
  | "school"
  | "profession"
  | "visibility"
  | "profileUpdatedAt";

/**
 * One record of an export (JSON lines, one record per line). `dump` yields them in an order
 * that `load` can replay into an empty store: users first, then everything that refers to
 * users, groups before their members and messages, messages before the offline queue.
 */
export type DumpRecord =
  | ({ kind: "user" } & Omit<UserRecord, LaterUserFields> & Partial<Pick<UserRecord, LaterUserFields>>)
  | ({ kind: "audit" } & AuditEntry)
  | ({ kind: "message" } & StoredMessage)
  /** A queued offline message, by id, in queue order. */
  | { kind: "offline"; id: string; to: string }
  | { kind: "friendRequest"; from: string; to: string; at: number }
  /** One row per friendship; `a` < `b`. */
  | { kind: "friendship"; a: string; b: string; since: number }
  | ({ kind: "group" } & Omit<GroupRecord, "description"> & { description?: string | null })
  | ({ kind: "member"; group: string } & GroupMember)
  | ({ kind: "joinRequest" } & JoinRequest)
  | ({ kind: "groupMessage" } & GroupMessage)
  /** Nested: a notice has a `kind` of its own. */
  | { kind: "notice"; notice: Notice };

export interface DumpStore {
  /** Every record, in replayable order (see `DumpRecord`). */
  dump(): AsyncIterable<DumpRecord>;
  /**
   * Replays records from `dump` into this store, which must be empty of users; rejects with
   * `STORE_NOT_EMPTY` otherwise. Keeps every field as exported (hashes, keys, times, sequence
   * numbers, queue and notice order). All or nothing: a record that cannot be stored (it
   * refers to a user or group not loaded before it) rejects with `STORE_FAILED` and leaves
   * the store as empty as it was.
   */
  load(records: AsyncIterable<DumpRecord>): Promise<void>;
}
