/**
 * A `Store` made of one object per part of the port, each method forwarded to its part. Both
 * adapters are built this way (`sqlite/sqlite-store.ts`, `neo4j/neo4j-store.ts`): each part is
 * a class that implements one narrow port, checked by the compiler, over the adapter's one
 * connection, and the adapter's class extends this one with its lifecycle and what only it
 * has (`SqliteStore.open`, `Neo4jStore.describe`). Delegation rather than free functions over
 * the connection, so that a part reads as the port it serves and the adapter stays an
 * ordinary class (`instanceof`, static constructors, public fields).
 */

import type { AccountStore, AuditEntry, AuditQuery, ProfilePatch, UserRecord } from "./account-store.js";
import type { DumpRecord, DumpStore } from "./dump-store.js";
import type { HistoryCursor, MessageHit, MessageStore, StoredMessage } from "./message-store.js";
import type {
  FriendRequest,
  Friendship,
  GroupMember,
  GroupMessage,
  GroupRecord,
  GroupStore,
  JoinRequest,
  Notice,
  PeopleStore,
  Suggestion,
  TimeNameCursor,
} from "./social-store.js";
import type { Store } from "./store.js";

/** The parts a store is made of, one per narrow port. */
export interface StoreParts {
  accounts: AccountStore;
  messages: MessageStore;
  people: PeopleStore;
  groups: GroupStore;
  dump: DumpStore;
}

export abstract class ComposedStore implements Store {
  constructor(private readonly parts: StoreParts) {}

  abstract init(): Promise<void>;
  abstract close(): Promise<void>;

  // --- AccountStore ----------------------------------------------------------------------

  createUser(user: { name: string; passwordHash: string; createdAt: number }): Promise<void> {
    return this.parts.accounts.createUser(user);
  }

  getUser(name: string): Promise<UserRecord | undefined> {
    return this.parts.accounts.getUser(name);
  }

  listUsers(): Promise<UserRecord[]> {
    return this.parts.accounts.listUsers();
  }

  usersAfter(after: string | undefined, limit: number): Promise<UserRecord[]> {
    return this.parts.accounts.usersAfter(after, limit);
  }

  setPublicKey(name: string, publicKeyHex: string): Promise<void> {
    return this.parts.accounts.setPublicKey(name, publicKeyHex);
  }

  flushLastSeen(entries: Array<{ name: string; at: number }>): Promise<void> {
    return this.parts.accounts.flushLastSeen(entries);
  }

  appendAudit(entry: AuditEntry): Promise<void> {
    return this.parts.accounts.appendAudit(entry);
  }

  listAudit(opts: AuditQuery): Promise<AuditEntry[]> {
    return this.parts.accounts.listAudit(opts);
  }

  // --- MessageStore ----------------------------------------------------------------------

  enqueueOffline(msg: StoredMessage): Promise<void> {
    return this.parts.messages.enqueueOffline(msg);
  }

  pendingOffline(to: string, limit: number): Promise<StoredMessage[]> {
    return this.parts.messages.pendingOffline(to, limit);
  }

  ackOffline(to: string, ids: string[]): Promise<number> {
    return this.parts.messages.ackOffline(to, ids);
  }

  countOffline(to: string): Promise<number> {
    return this.parts.messages.countOffline(to);
  }

  appendHistory(msg: StoredMessage): Promise<void> {
    return this.parts.messages.appendHistory(msg);
  }

  markDelivered(id: string, at: number): Promise<void> {
    return this.parts.messages.markDelivered(id, at);
  }

  history(a: string, b: string, opts: { limit: number; before?: HistoryCursor }): Promise<StoredMessage[]> {
    return this.parts.messages.history(a, b, opts);
  }

  searchMessages(user: string, query: string, limit: number): Promise<MessageHit[]> {
    return this.parts.messages.searchMessages(user, query, limit);
  }

  // --- SocialStore: people and groups ----------------------------------------------------

  setProfile(name: string, patch: ProfilePatch, at?: number): Promise<void> {
    return this.parts.people.setProfile(name, patch, at);
  }

  searchUsers(prefix: string, limit: number): Promise<UserRecord[]> {
    return this.parts.people.searchUsers(prefix, limit);
  }

  searchUsersAfter(prefix: string, after: string | undefined, limit: number): Promise<UserRecord[]> {
    return this.parts.people.searchUsersAfter(prefix, after, limit);
  }

  putFriendRequest(req: FriendRequest): Promise<void> {
    return this.parts.people.putFriendRequest(req);
  }

  deleteFriendRequest(from: string, to: string): Promise<boolean> {
    return this.parts.people.deleteFriendRequest(from, to);
  }

  friendRequestsTo(user: string): Promise<FriendRequest[]> {
    return this.parts.people.friendRequestsTo(user);
  }

  friendRequestsFrom(user: string): Promise<FriendRequest[]> {
    return this.parts.people.friendRequestsFrom(user);
  }

  friendRequestsToAfter(
    user: string,
    after: TimeNameCursor | undefined,
    limit: number,
  ): Promise<FriendRequest[]> {
    return this.parts.people.friendRequestsToAfter(user, after, limit);
  }

  friendRequestsFromAfter(
    user: string,
    after: TimeNameCursor | undefined,
    limit: number,
  ): Promise<FriendRequest[]> {
    return this.parts.people.friendRequestsFromAfter(user, after, limit);
  }

  countFriendRequestsTo(user: string): Promise<number> {
    return this.parts.people.countFriendRequestsTo(user);
  }

  addFriendship(a: string, b: string, since: number): Promise<void> {
    return this.parts.people.addFriendship(a, b, since);
  }

  removeFriendship(a: string, b: string): Promise<boolean> {
    return this.parts.people.removeFriendship(a, b);
  }

  friendsOf(user: string): Promise<Friendship[]> {
    return this.parts.people.friendsOf(user);
  }

  friendsAfter(user: string, after: string | undefined, limit: number): Promise<Friendship[]> {
    return this.parts.people.friendsAfter(user, after, limit);
  }

  areFriends(a: string, b: string): Promise<boolean> {
    return this.parts.people.areFriends(a, b);
  }

  enqueueNotice(notice: Notice): Promise<void> {
    return this.parts.people.enqueueNotice(notice);
  }

  pendingNotices(to: string, limit: number): Promise<Notice[]> {
    return this.parts.people.pendingNotices(to, limit);
  }

  ackNotices(to: string, ids: string[]): Promise<number> {
    return this.parts.people.ackNotices(to, ids);
  }

  suggest(user: string, limit: number, exceptGroups?: readonly string[]): Promise<Suggestion[]> {
    return this.parts.people.suggest(user, limit, exceptGroups);
  }

  createGroup(group: { name: string; admin: string; createdAt: number }): Promise<void> {
    return this.parts.groups.createGroup(group);
  }

  getGroup(name: string): Promise<GroupRecord | undefined> {
    return this.parts.groups.getGroup(name);
  }

  searchGroups(prefix: string, limit: number): Promise<GroupRecord[]> {
    return this.parts.groups.searchGroups(prefix, limit);
  }

  searchGroupsAfter(prefix: string, after: string | undefined, limit: number): Promise<GroupRecord[]> {
    return this.parts.groups.searchGroupsAfter(prefix, after, limit);
  }

  setGroupDescription(group: string, description: string | null): Promise<void> {
    return this.parts.groups.setGroupDescription(group, description);
  }

  deleteGroup(name: string): Promise<boolean> {
    return this.parts.groups.deleteGroup(name);
  }

  setGroupAdmin(group: string, user: string): Promise<void> {
    return this.parts.groups.setGroupAdmin(group, user);
  }

  groupMembers(group: string): Promise<GroupMember[]> {
    return this.parts.groups.groupMembers(group);
  }

  groupsOf(user: string): Promise<GroupRecord[]> {
    return this.parts.groups.groupsOf(user);
  }

  addMember(group: string, user: string, joinedAt: number): Promise<void> {
    return this.parts.groups.addMember(group, user, joinedAt);
  }

  addMembers(group: string, users: readonly string[], joinedAt: number): Promise<void> {
    return this.parts.groups.addMembers(group, users, joinedAt);
  }

  removeMember(group: string, user: string): Promise<boolean> {
    return this.parts.groups.removeMember(group, user);
  }

  putJoinRequest(req: JoinRequest): Promise<void> {
    return this.parts.groups.putJoinRequest(req);
  }

  deleteJoinRequest(group: string, user: string): Promise<boolean> {
    return this.parts.groups.deleteJoinRequest(group, user);
  }

  joinRequests(group: string): Promise<JoinRequest[]> {
    return this.parts.groups.joinRequests(group);
  }

  countJoinRequests(group: string): Promise<number> {
    return this.parts.groups.countJoinRequests(group);
  }

  appendGroupMessage(msg: Omit<GroupMessage, "seq">): Promise<GroupMessage> {
    return this.parts.groups.appendGroupMessage(msg);
  }

  groupHistory(group: string, opts: { limit: number; beforeSeq?: number }): Promise<GroupMessage[]> {
    return this.parts.groups.groupHistory(group, opts);
  }

  groupBacklog(group: string, user: string, limit: number): Promise<GroupMessage[]> {
    return this.parts.groups.groupBacklog(group, user, limit);
  }

  ackGroup(group: string, user: string, seq: number): Promise<void> {
    return this.parts.groups.ackGroup(group, user, seq);
  }

  // --- DumpStore -------------------------------------------------------------------------

  dump(): AsyncIterable<DumpRecord> {
    return this.parts.dump.dump();
  }

  load(records: AsyncIterable<DumpRecord>): Promise<void> {
    return this.parts.dump.load(records);
  }
}
