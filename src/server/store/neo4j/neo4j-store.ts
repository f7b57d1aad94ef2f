/**
 * Neo4j adapter for the registry `Store` port (neo4j-driver). Same contract as SQLite, checked
 * by the same suite against a real Neo4j (`test/server/neo4j-store.test.ts`).
 *
 * Group commit (`group-commit.ts`). The appends (`appendHistory`, `enqueueOffline`,
 * `appendAudit`, `appendGroupMessage`, `ackGroup`, which every member sends per group
 * message, and `setPublicKey`, which a login of a new device makes) that arrive in one event-loop turn, or while the previous batch commits, run in
 * one write transaction, one after another, and resolve once it has committed. An
 * append's work checks before it writes (unknown user, unknown group), so its own refusal
 * fails it alone and leaves nothing behind; a failure of the transaction (Neo4j gone, a
 * statement refused by the server) fails every append in it with `STORE_FAILED`. One batch
 * commits at a time, so appends to one group resolve in seq order.
 *
 *
 * The folder is cut by the port's parts, like `sqlite/`. `Neo4jStore` (this file) holds one
 * `Neo4jDatabase` (`database.ts`: the driver, open or closed, the outage state, transactions
 * and the group commit) and one object per part that works through it: `Neo4jAccounts`
 * (`accounts.ts`), `Neo4jMessages` (`messages.ts`), `Neo4jPeople` and `Neo4jGroups`
 * (`people.ts`, `groups.ts`: the social part) and `Neo4jDump` (`dump.ts`). It forwards each
 * method of the port to its part, one line each, so this file is the table of contents and
 * each part implements one narrow port, checked by the compiler. The graph model and its
 * migrations are in `schema.ts`, every statement in `cypher.ts` (the one catalogue the
 * linter test reads), the record mapping in `mapping.ts`, and the export's and import's
 * record <-> row translation in `dump.ts`.
 */

import type { AuditEntry, AuditQuery, ProfilePatch, UserRecord } from "../account-store.js";
import type { DumpRecord } from "../dump-store.js";
import type { GroupCommit } from "../group-commit.js";
import type { HistoryCursor, MessageHit, StoredMessage } from "../message-store.js";
import type {
  FriendRequest,
  Friendship,
  GroupMember,
  GroupMessage,
  GroupRecord,
  JoinRequest,
  Notice,
  Suggestion,
  TimeNameCursor,
} from "../social-store.js";
import type { Store } from "../store.js";
import { Neo4jAccounts } from "./accounts.js";
import { type Append, Neo4jDatabase, type Neo4jStoreOptions } from "./database.js";
import { Neo4jDump } from "./dump.js";
import { Neo4jGroups } from "./groups.js";
import { Neo4jMessages } from "./messages.js";
import { Neo4jPeople } from "./people.js";

export {
  DEFAULT_REGISTRY,
  type DriverFactory,
  type Neo4jConnection,
  type Neo4jStoreOptions,
  OUTAGE_PROBE_INTERVAL_MS,
} from "./database.js";

export class Neo4jStore implements Store {
  readonly registry: string;
  /** Appends waiting for their batch's transaction (see the header). */
  readonly appends: GroupCommit<Append>;
  private readonly db: Neo4jDatabase;
  private readonly accounts: Neo4jAccounts;
  private readonly messages: Neo4jMessages;
  private readonly people: Neo4jPeople;
  private readonly groups: Neo4jGroups;
  private readonly dumps: Neo4jDump;

  constructor(options: Neo4jStoreOptions) {
    this.db = new Neo4jDatabase(options);
    this.registry = this.db.registry;
    this.appends = this.db.appends;
    this.accounts = new Neo4jAccounts(this.db);
    this.messages = new Neo4jMessages(this.db);
    this.people = new Neo4jPeople(this.db);
    this.groups = new Neo4jGroups(this.db);
    this.dumps = new Neo4jDump(this.db);
  }

  /** A store that is connected and initialised. */
  static async connect(options: Neo4jStoreOptions): Promise<Neo4jStore> {
    const store = new Neo4jStore(options);
    await store.init();
    return store;
  }

  /** Where this store connects, for logs: URI without credentials, database, registry. */
  describe(): string {
    return this.db.describe();
  }

  init(): Promise<void> {
    return this.db.init();
  }

  close(): Promise<void> {
    return this.db.close();
  }

  // --- AccountStore: accounts.ts ---------------------------------------------------------

  createUser(user: { name: string; passwordHash: string; createdAt: number }): Promise<void> {
    return this.accounts.createUser(user);
  }

  getUser(name: string): Promise<UserRecord | undefined> {
    return this.accounts.getUser(name);
  }

  listUsers(): Promise<UserRecord[]> {
    return this.accounts.listUsers();
  }

  usersAfter(after: string | undefined, limit: number): Promise<UserRecord[]> {
    return this.accounts.usersAfter(after, limit);
  }

  setPublicKey(name: string, publicKeyHex: string): Promise<void> {
    return this.accounts.setPublicKey(name, publicKeyHex);
  }

  flushLastSeen(entries: Array<{ name: string; at: number }>): Promise<void> {
    return this.accounts.flushLastSeen(entries);
  }

  appendAudit(entry: AuditEntry): Promise<void> {
    return this.accounts.appendAudit(entry);
  }

  listAudit(opts: AuditQuery): Promise<AuditEntry[]> {
    return this.accounts.listAudit(opts);
  }

  // --- MessageStore: messages.ts ---------------------------------------------------------

  enqueueOffline(msg: StoredMessage): Promise<void> {
    return this.messages.enqueueOffline(msg);
  }

  pendingOffline(to: string, limit: number): Promise<StoredMessage[]> {
    return this.messages.pendingOffline(to, limit);
  }

  ackOffline(to: string, ids: string[]): Promise<number> {
    return this.messages.ackOffline(to, ids);
  }

  countOffline(to: string): Promise<number> {
    return this.messages.countOffline(to);
  }

  appendHistory(msg: StoredMessage): Promise<void> {
    return this.messages.appendHistory(msg);
  }

  markDelivered(id: string, at: number): Promise<void> {
    return this.messages.markDelivered(id, at);
  }

  history(a: string, b: string, opts: { limit: number; before?: HistoryCursor }): Promise<StoredMessage[]> {
    return this.messages.history(a, b, opts);
  }

  searchMessages(user: string, query: string, limit: number): Promise<MessageHit[]> {
    return this.messages.searchMessages(user, query, limit);
  }

  // --- SocialStore: people.ts and groups.ts ----------------------------------------------

  setProfile(name: string, patch: ProfilePatch, at?: number): Promise<void> {
    return this.people.setProfile(name, patch, at);
  }

  searchUsers(prefix: string, limit: number): Promise<UserRecord[]> {
    return this.people.searchUsers(prefix, limit);
  }

  searchUsersAfter(prefix: string, after: string | undefined, limit: number): Promise<UserRecord[]> {
    return this.people.searchUsersAfter(prefix, after, limit);
  }

  putFriendRequest(req: FriendRequest): Promise<void> {
    return this.people.putFriendRequest(req);
  }

  deleteFriendRequest(from: string, to: string): Promise<boolean> {
    return this.people.deleteFriendRequest(from, to);
  }

  friendRequestsTo(user: string): Promise<FriendRequest[]> {
    return this.people.friendRequestsTo(user);
  }

  friendRequestsFrom(user: string): Promise<FriendRequest[]> {
    return this.people.friendRequestsFrom(user);
  }

  friendRequestsToAfter(
    user: string,
    after: TimeNameCursor | undefined,
    limit: number,
  ): Promise<FriendRequest[]> {
    return this.people.friendRequestsToAfter(user, after, limit);
  }

  friendRequestsFromAfter(
    user: string,
    after: TimeNameCursor | undefined,
    limit: number,
  ): Promise<FriendRequest[]> {
    return this.people.friendRequestsFromAfter(user, after, limit);
  }

  countFriendRequestsTo(user: string): Promise<number> {
    return this.people.countFriendRequestsTo(user);
  }

  addFriendship(a: string, b: string, since: number): Promise<void> {
    return this.people.addFriendship(a, b, since);
  }

  removeFriendship(a: string, b: string): Promise<boolean> {
    return this.people.removeFriendship(a, b);
  }

  friendsOf(user: string): Promise<Friendship[]> {
    return this.people.friendsOf(user);
  }

  friendsAfter(user: string, after: string | undefined, limit: number): Promise<Friendship[]> {
    return this.people.friendsAfter(user, after, limit);
  }

  areFriends(a: string, b: string): Promise<boolean> {
    return this.people.areFriends(a, b);
  }

  enqueueNotice(notice: Notice): Promise<void> {
    return this.people.enqueueNotice(notice);
  }

  pendingNotices(to: string, limit: number): Promise<Notice[]> {
    return this.people.pendingNotices(to, limit);
  }

  ackNotices(to: string, ids: string[]): Promise<number> {
    return this.people.ackNotices(to, ids);
  }

  suggest(user: string, limit: number, exceptGroups?: readonly string[]): Promise<Suggestion[]> {
    return this.people.suggest(user, limit, exceptGroups);
  }

  createGroup(group: { name: string; admin: string; createdAt: number }): Promise<void> {
    return this.groups.createGroup(group);
  }

  getGroup(name: string): Promise<GroupRecord | undefined> {
    return this.groups.getGroup(name);
  }

  searchGroups(prefix: string, limit: number): Promise<GroupRecord[]> {
    return this.groups.searchGroups(prefix, limit);
  }

  searchGroupsAfter(prefix: string, after: string | undefined, limit: number): Promise<GroupRecord[]> {
    return this.groups.searchGroupsAfter(prefix, after, limit);
  }

  setGroupDescription(group: string, description: string | null): Promise<void> {
    return this.groups.setGroupDescription(group, description);
  }

  deleteGroup(name: string): Promise<boolean> {
    return this.groups.deleteGroup(name);
  }

  setGroupAdmin(group: string, user: string): Promise<void> {
    return this.groups.setGroupAdmin(group, user);
  }

  groupMembers(group: string): Promise<GroupMember[]> {
    return this.groups.groupMembers(group);
  }

  groupsOf(user: string): Promise<GroupRecord[]> {
    return this.groups.groupsOf(user);
  }

  addMember(group: string, user: string, joinedAt: number): Promise<void> {
    return this.groups.addMember(group, user, joinedAt);
  }

  addMembers(group: string, users: readonly string[], joinedAt: number): Promise<void> {
    return this.groups.addMembers(group, users, joinedAt);
  }

  removeMember(group: string, user: string): Promise<boolean> {
    return this.groups.removeMember(group, user);
  }

  putJoinRequest(req: JoinRequest): Promise<void> {
    return this.groups.putJoinRequest(req);
  }

  deleteJoinRequest(group: string, user: string): Promise<boolean> {
    return this.groups.deleteJoinRequest(group, user);
  }

  joinRequests(group: string): Promise<JoinRequest[]> {
    return this.groups.joinRequests(group);
  }

  countJoinRequests(group: string): Promise<number> {
    return this.groups.countJoinRequests(group);
  }

  appendGroupMessage(msg: Omit<GroupMessage, "seq">): Promise<GroupMessage> {
    return this.groups.appendGroupMessage(msg);
  }

  groupHistory(group: string, opts: { limit: number; beforeSeq?: number }): Promise<GroupMessage[]> {
    return this.groups.groupHistory(group, opts);
  }

  groupBacklog(group: string, user: string, limit: number): Promise<GroupMessage[]> {
    return this.groups.groupBacklog(group, user, limit);
  }

  ackGroup(group: string, user: string, seq: number): Promise<void> {
    return this.groups.ackGroup(group, user, seq);
  }

  // --- DumpStore: dump.ts ----------------------------------------------------------------

  dump(): AsyncIterable<DumpRecord> {
    return this.dumps.dump();
  }

  load(records: AsyncIterable<DumpRecord>): Promise<void> {
    return this.dumps.load(records);
  }
}
