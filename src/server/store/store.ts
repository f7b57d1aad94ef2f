/**
 * The registry's storage port. Every adapter (SQLite today, Neo4j later) implements this
 * interface and runs the same contract suite (`test/server/store-contract.ts`), so the rules
 * below are checked, not just written down:
 *
 * - Names are compared case-insensitively everywhere (the caller stores them lower-cased).
 * - Times are milliseconds since the epoch, supplied by the caller. The one exception is
 *   `ackOffline`, whose `deliveredAt` comes from the adapter's injected clock.
 * - Writes that reference a user (messages) must name an existing user; otherwise they reject
 *   with `STORE_FAILED`. Audit entries are the exception: they name an account by its text and
 *   need not match one (a failed login for a name nobody registered is audited too), and the
 *   name is empty for an event without an account (a blocked anonymous source). Storage failures reject with `STORE_FAILED`; a data location
 *   that cannot be written rejects with `DATA_DIR_UNWRITABLE`.
 * - A `limit` of zero or less yields an empty result.
 * - After `close()`, every other method rejects with `STORE_FAILED`.
 * - The social methods (from "Profiles and search" on) that name a user or group that does not
 *   exist reject with `AUTH_UNKNOWN_USER` or `GROUP_UNKNOWN` unless their comment says
 *   otherwise; the group is checked before the user. (The older methods above keep their
 *   rules: reading an unknown user's audit, queue or history yields nothing.) The social methods are storage
 *   primitives: who may do what (only the admin approves, only friends may talk under the
 *   friends policy) is the registry's business, not the store's.
 */

import { PRIVATE_PROFILE_FIELDS } from "../../protocol/control.js";

/** The profile fields a user edits about themselves. `null` means "not set". */
export interface Profile {
  displayName: string | null;
  /** Free status text ("in a meeting until 3"). */
  statusText: string | null;
  email: string | null;
  phone: string | null;
  department: string | null;
  note: string | null;
  /** `YYYY-MM-DD`; the age is derived from it by the registry. */
  birthDate: string | null;
  gender: string | null;
  country: string | null;
  region: string | null;
  school: string | null;
  profession: string | null;
  /**
   * Who sees which field: JSON text of `{field: "everyone" | "friends" | "nobody"}`, written and
   * read by the registry (social-rules.ts); the store keeps it as it is given.
   */
  visibility: string | null;
}

export const PROFILE_FIELDS = ["displayName", ...PRIVATE_PROFILE_FIELDS, "visibility"] as const;
export type ProfileField = (typeof PROFILE_FIELDS)[number];

/** A change to a profile: a field set to a string replaces it, `null` clears it, absent leaves it. */
export type ProfilePatch = Partial<Profile>;

export interface UserRecord extends Profile {
  name: string;
  passwordHash: string;
  /** Hex-encoded public key, once the user has registered one. */
  publicKey: string | null;
  createdAt: number;
  lastSeen: number | null;
  /** When the profile last changed (`setProfile`'s `at`); null before the first change. */
  profileUpdatedAt: number | null;
}

export interface FriendRequest {
  from: string;
  to: string;
  at: number;
}

export interface Friendship {
  /** The other user, seen from the user the list was asked for. */
  name: string;
  since: number;
}

export interface GroupRecord {
  /** Unique, compared case-insensitively; stored lower-cased by the caller like user names. */
  name: string;
  admin: string;
  createdAt: number;
  /** Sequence number of the newest group message; 0 before the first. */
  lastSeq: number;
  /** What the group is for, as its admin wrote it; null when not set. */
  description: string | null;
}

export interface GroupMember {
  name: string;
  joinedAt: number;
  /** Highest group sequence number this member has confirmed receiving. */
  ackedSeq: number;
}

export interface JoinRequest {
  group: string;
  user: string;
  at: number;
}

export interface GroupMessage {
  id: string;
  group: string;
  from: string;
  body: string;
  sentAt: number;
  /** Per-group order, assigned by the store: 1, 2, 3, … with no gaps. */
  seq: number;
}

/**
 * A durable note for one user that must reach them even if they are offline now: the answer
 * to their friend request, the outcome of their join request, removal from a group. `body` is
 * opaque JSON text written and read by the registry.
 */
export interface Notice {
  id: string;
  to: string;
  kind: string;
  body: string;
  at: number;
}

export interface Suggestion {
  name: string;
  mutualFriends: number;
  sharedGroups: number;
}

/**
 * One record of an export (JSON lines, one record per line). `dump` yields them in an order
 * that `load` can replay into an empty store: users first, then everything that refers to
 * users, groups before their members and messages, messages before the offline queue.
 */
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

export interface StoredMessage {
  id: string;
  from: string;
  to: string;
  body: string;
  sentAt: number;
  deliveredAt: number | null;
}

export const AUDIT_EVENTS = [
  "register",
  "login",
  "logout",
  "timeout",
  /** A wrong password, or a login for a name nobody registered. */
  "login_failed",
  /** A session ended because the account logged in on another device. */
  "replaced",
  /** A session ended for abuse (`SESSION_TERMINATED`). */
  "terminated",
  /** A source address blocked after a termination; `detail` says for how long. */
  "blocked",
] as const;
export type AuditEvent = (typeof AUDIT_EVENTS)[number];

export interface AuditEntry {
  /** The account's name as given; may name nobody (a failed login), empty for no account. */
  user: string;
  event: AuditEvent;
  at: number;
  address: string;
  /** A short reason (`wrong password`, `blocked for 60 s: too many requests`); absent if none. */
  detail?: string;
}

/** Filters of `listAudit`; `since` is inclusive, `until` exclusive. */
export interface AuditQuery {
  user?: string;
  since?: number;
  until?: number;
  /** Only these events (all when absent). */
  events?: readonly AuditEvent[];
  limit: number;
}

/** Position in a list ordered by time, then name: a page holds entries strictly after it. */
export interface TimeNameCursor {
  at: number;
  name: string;
}

/** A message `searchMessages` found: 1:1 (`to` set) or in a group (`group` and `seq` set). */
export interface MessageHit {
  id: string;
  from: string;
  to: string | null;
  group: string | null;
  seq: number | null;
  body: string;
  sentAt: number;
}

/** Position in a conversation: pages hold messages strictly before it in (sentAt, id) order. */
export interface HistoryCursor {
  sentAt: number;
  id: string;
}

export interface Store {
  /** Opens the backing storage and creates or migrates the schema. Idempotent. */
  init(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;

  /** Rejects with `AUTH_USER_EXISTS` if the name is taken, compared case-insensitively. */
  createUser(user: { name: string; passwordHash: string; createdAt: number }): Promise<void>;
  /** Case-insensitive lookup. */
  getUser(name: string): Promise<UserRecord | undefined>;
  /** Sorted by name. */
  listUsers(): Promise<UserRecord[]>;
  /** Rejects with `AUTH_UNKNOWN_USER` if there is no such user. */
  setPublicKey(name: string, publicKeyHex: string): Promise<void>;
  /**
   * One transaction for the batch. `lastSeen` never moves backwards (a late, older entry is
   * ignored); unknown names are skipped so one stale entry cannot fail the batch.
   */
  flushLastSeen(entries: Array<{ name: string; at: number }>): Promise<void>;

  appendAudit(entry: AuditEntry): Promise<void>;
  /**
   * The `limit` newest entries that pass the filters (`user` compared case-insensitively),
   * newest first; entries with equal `at` come newest-appended first.
   */
  listAudit(opts: AuditQuery): Promise<AuditEntry[]>;

  /**
   * Durable (committed) when the promise resolves. Also appends the message to history.
   * Idempotent on `id`: if the id is already queued or already delivered this is a no-op, and
   * the first stored copy of a message wins.
   */
  enqueueOffline(msg: StoredMessage): Promise<void>;
  /** Messages queued for `to`, in enqueue order (oldest first). */
  pendingOffline(to: string, limit: number): Promise<StoredMessage[]>;
  /**
   * Removes those of `ids` that are queued for `to` (other ids are ignored), sets `deliveredAt`
   * on their history rows unless already set, and returns how many were removed.
   */
  ackOffline(to: string, ids: string[]): Promise<number>;

  /** Idempotent on `id`: the first stored copy wins. */
  appendHistory(msg: StoredMessage): Promise<void>;
  /** The first delivery time wins; an unknown id is ignored. */
  markDelivered(id: string, at: number): Promise<void>;
  /**
   * Both directions of the a<->b conversation. The page is the `limit` newest messages strictly
   * before `before` in (sentAt, id) order, returned oldest-first; the next page's cursor is the
   * first message of this one.
   */
  history(a: string, b: string, opts: { limit: number; before?: HistoryCursor }): Promise<StoredMessage[]>;
  /**
   * The `limit` newest messages (sentAt, then id, descending) whose text contains `query`
   * (both lower-cased as `searchKey` does), among `user`'s 1:1 messages, sent or received, and
   * the messages of the groups `user` is a member of now. Served by an index in each adapter
   * (a trigram index in SQLite, a text index in Neo4j). An empty query finds nothing; an
   * unknown user finds nothing.
   */
  searchMessages(user: string, query: string, limit: number): Promise<MessageHit[]>;

  // --- Profiles and search ---------------------------------------------------------------

  /** Applies the patch (see `ProfilePatch`); `at` becomes `profileUpdatedAt`. */
  setProfile(name: string, patch: ProfilePatch, at?: number): Promise<void>;
  /**
   * Users with a word of their name, display name, department, school or profession that
   * starts with `prefix`, sorted by name. Words and prefix are folded by `searchWords` and
   * `searchNeedle` (search-words.ts: lower case, accents removed, split at anything not a
   * letter or digit), and a prefix of several words matches consecutive words ("alice l"
   * finds "Alice Liddell"). An empty prefix matches everyone.
   */
  searchUsers(prefix: string, limit: number): Promise<UserRecord[]>;

  // --- Friends -------------------------------------------------------------------------

  /** Idempotent: a second request from the same user keeps the first `at`. */
  putFriendRequest(req: FriendRequest): Promise<void>;
  /** Removes the request from `from` to `to`; returns whether there was one. */
  deleteFriendRequest(from: string, to: string): Promise<boolean>;
  /** Requests to `user` (incoming), oldest first (equal times by sender's name). */
  friendRequestsTo(user: string): Promise<FriendRequest[]>;
  /** Requests from `user` (outgoing), oldest first (equal times by recipient's name). */
  friendRequestsFrom(user: string): Promise<FriendRequest[]>;
  /**
   * Makes a and b friends, in one transaction with deleting any friend request between them
   * in either direction. Idempotent: an existing friendship keeps its `since`.
   */
  addFriendship(a: string, b: string, since: number): Promise<void>;
  /** Returns whether they were friends. */
  removeFriendship(a: string, b: string): Promise<boolean>;
  /** Sorted by name. */
  friendsOf(user: string): Promise<Friendship[]>;
  /** False (not a rejection) for unknown users. */
  areFriends(a: string, b: string): Promise<boolean>;

  // --- Groups --------------------------------------------------------------------------

  /** The creator becomes admin and first member (ackedSeq 0). Rejects with `GROUP_EXISTS`. */
  createGroup(group: { name: string; admin: string; createdAt: number }): Promise<void>;
  /** Case-insensitive; undefined if there is no such group. */
  getGroup(name: string): Promise<GroupRecord | undefined>;
  /** Groups whose name starts with `prefix`, case-insensitively, sorted by name. */
  searchGroups(prefix: string, limit: number): Promise<GroupRecord[]>;
  /** Sets (a string) or clears (null) the group's description. */
  setGroupDescription(group: string, description: string | null): Promise<void>;
  /** Deletes the group with its members, join requests and messages. Returns whether it existed. */
  deleteGroup(name: string): Promise<boolean>;
  /** Rejects with `GROUP_NOT_MEMBER` unless `user` is a member. */
  setGroupAdmin(group: string, user: string): Promise<void>;
  /** Sorted by name. */
  groupMembers(group: string): Promise<GroupMember[]>;
  /** Groups `user` belongs to, sorted by name. */
  groupsOf(user: string): Promise<GroupRecord[]>;
  /**
   * Adds the member, in one transaction with deleting their join request, starting at
   * `ackedSeq = lastSeq` (a new member has no backlog; older messages are in history).
   * Idempotent: an existing member is left as is.
   */
  addMember(group: string, user: string, joinedAt: number): Promise<void>;
  /**
   * `addMember` for many users in one transaction (the office room enrolling a whole store at
   * start). All or nothing: an unknown user rejects with `AUTH_UNKNOWN_USER` and adds none.
   */
  addMembers(group: string, users: readonly string[], joinedAt: number): Promise<void>;
  /** Returns whether `user` was a member. Does not change the admin. */
  removeMember(group: string, user: string): Promise<boolean>;
  /** Idempotent: a repeated request keeps the first `at`. */
  putJoinRequest(req: JoinRequest): Promise<void>;
  /** Returns whether there was such a request. */
  deleteJoinRequest(group: string, user: string): Promise<boolean>;
  /** Oldest first (equal times by user name). */
  joinRequests(group: string): Promise<JoinRequest[]>;

  /**
   * Assigns the next sequence number of the group (lastSeq + 1) and stores the message, in
   * one transaction; returns the stored message. Idempotent on `id`: a repeated id returns
   * the first stored copy and assigns nothing. Concurrent calls for one group resolve in seq
   * order (the registry pushes each message to the members as its call resolves).
   */
  appendGroupMessage(msg: Omit<GroupMessage, "seq">): Promise<GroupMessage>;
  /** The `limit` messages before `beforeSeq` (or the newest), oldest first. */
  groupHistory(group: string, opts: { limit: number; beforeSeq?: number }): Promise<GroupMessage[]>;
  /** Messages with seq > the member's ackedSeq, oldest first. Rejects with `GROUP_NOT_MEMBER`. */
  groupBacklog(group: string, user: string, limit: number): Promise<GroupMessage[]>;
  /**
   * Moves the member's ackedSeq forward to `seq` (never back, never past lastSeq). Rejects with
   * `GROUP_NOT_MEMBER` unless `user` is a member.
   */
  ackGroup(group: string, user: string, seq: number): Promise<void>;

  // --- Notices -------------------------------------------------------------------------

  /** Durable when resolved. Idempotent on `id`. */
  enqueueNotice(notice: Notice): Promise<void>;
  /** In enqueue order, oldest first. */
  pendingNotices(to: string, limit: number): Promise<Notice[]>;
  /** Removes those of `ids` addressed to `to` (other ids are ignored); returns how many. */
  ackNotices(to: string, ids: string[]): Promise<number>;

  // --- Graph queries -------------------------------------------------------------------

  /**
   * "People you may know": users who are not `user` and not yet their friends, sharing at
   * least one friend or group with them. Ranked by mutual friends, then shared groups (both
   * descending), then name. Groups named in `exceptGroups` (lower-cased) count for nothing:
   * the office room, which everyone is in, would make everyone a suggestion.
   */
  suggest(user: string, limit: number, exceptGroups?: readonly string[]): Promise<Suggestion[]>;

  // --- Pages and quotas (abuse limits: no answer exceeds the message limit) -------------

  /** Users named after `after` (none: from the first), sorted by name, at most `limit`. */
  usersAfter(after: string | undefined, limit: number): Promise<UserRecord[]>;
  /** `friendsOf`, from the friend named after `after`, at most `limit`. */
  friendsAfter(user: string, after: string | undefined, limit: number): Promise<Friendship[]>;
  /** `friendRequestsTo`, strictly after `after` in (at, sender's name) order, at most `limit`. */
  friendRequestsToAfter(
    user: string,
    after: TimeNameCursor | undefined,
    limit: number,
  ): Promise<FriendRequest[]>;
  /** `friendRequestsFrom`, strictly after `after` in (at, recipient's name) order. */
  friendRequestsFromAfter(
    user: string,
    after: TimeNameCursor | undefined,
    limit: number,
  ): Promise<FriendRequest[]>;
  /** `searchUsers`, from the user named after `after`. */
  searchUsersAfter(prefix: string, after: string | undefined, limit: number): Promise<UserRecord[]>;
  /** `searchGroups`, from the group named after `after`. */
  searchGroupsAfter(prefix: string, after: string | undefined, limit: number): Promise<GroupRecord[]>;
  /** Messages queued for `to` (0 for an unknown user). */
  countOffline(to: string): Promise<number>;
  /** Friend requests waiting for `user` (0 for an unknown user). */
  countFriendRequestsTo(user: string): Promise<number>;
  /** Join requests waiting in `group` (0 for an unknown group). */
  countJoinRequests(group: string): Promise<number>;

  // --- Moving between stores -----------------------------------------------------------

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
