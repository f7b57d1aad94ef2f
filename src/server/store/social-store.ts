/**
 * The social part of the store port, in two halves that the adapters serve from a file each:
 * people (profiles and user search, friends and friend requests, notices, "people you may
 * know") and groups (groups, their members and join requests, group messages in seq order).
 *
 * Every method that names a user or group that does not exist rejects with
 * `AUTH_UNKNOWN_USER` or `GROUP_UNKNOWN` unless its comment says otherwise; the group is
 * checked before the user. These are storage primitives: who may do what (only the admin
 * approves, only friends may talk under the friends policy) is the registry's business, not
 * the store's. The `…After` pages and the counts serve the abuse limits: no answer exceeds
 * the message limit. The rules every part keeps are in `store.ts`.
 */

import type { ProfilePatch, UserRecord } from "./account-store.js";

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
/** Position in a list ordered by time, then name: a page holds entries strictly after it. */
export interface TimeNameCursor {
  at: number;
  name: string;
}

export interface PeopleStore {
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
  /** `searchUsers`, from the user named after `after`. */
  searchUsersAfter(prefix: string, after: string | undefined, limit: number): Promise<UserRecord[]>;

  // --- Friends -------------------------------------------------------------------------

  /** Idempotent: a second request from the same user keeps the first `at`. */
  putFriendRequest(req: FriendRequest): Promise<void>;
  /** Removes the request from `from` to `to`; returns whether there was one. */
  deleteFriendRequest(from: string, to: string): Promise<boolean>;
  /** Requests to `user` (incoming), oldest first (equal times by sender's name). */
  friendRequestsTo(user: string): Promise<FriendRequest[]>;
  /** Requests from `user` (outgoing), oldest first (equal times by recipient's name). */
  friendRequestsFrom(user: string): Promise<FriendRequest[]>;
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
  /** Friend requests waiting for `user` (0 for an unknown user). */
  countFriendRequestsTo(user: string): Promise<number>;
  /**
   * Makes a and b friends, in one transaction with deleting any friend request between them
   * in either direction. Idempotent: an existing friendship keeps its `since`.
   */
  addFriendship(a: string, b: string, since: number): Promise<void>;
  /** Returns whether they were friends. */
  removeFriendship(a: string, b: string): Promise<boolean>;
  /** Sorted by name. */
  friendsOf(user: string): Promise<Friendship[]>;
  /** `friendsOf`, from the friend named after `after`, at most `limit`. */
  friendsAfter(user: string, after: string | undefined, limit: number): Promise<Friendship[]>;
  /** False (not a rejection) for unknown users. */
  areFriends(a: string, b: string): Promise<boolean>;

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
}

export interface GroupStore {
  /** The creator becomes admin and first member (ackedSeq 0). Rejects with `GROUP_EXISTS`. */
  createGroup(group: { name: string; admin: string; createdAt: number }): Promise<void>;
  /** Case-insensitive; undefined if there is no such group. */
  getGroup(name: string): Promise<GroupRecord | undefined>;
  /** Groups whose name starts with `prefix`, case-insensitively, sorted by name. */
  searchGroups(prefix: string, limit: number): Promise<GroupRecord[]>;
  /** `searchGroups`, from the group named after `after`. */
  searchGroupsAfter(prefix: string, after: string | undefined, limit: number): Promise<GroupRecord[]>;
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
  /** Join requests waiting in `group` (0 for an unknown group). */
  countJoinRequests(group: string): Promise<number>;

  // --- Group messages ------------------------------------------------------------------

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
}

export interface SocialStore extends PeopleStore, GroupStore {}
