/**
 * SQLite adapter for the registry `Store` port (better-sqlite3, one synchronous connection).
 *
 * Durability: the database runs in WAL mode with `synchronous = FULL`. WAL alone keeps every
 * committed transaction safe from a crash of this process; with the default `NORMAL` level the
 * last commits can still be rolled back by a power cut or OS crash, because the WAL is only
 * fsynced at checkpoints. `enqueueOffline` promises that a resolved message survives, and the
 * sender is told it was stored, so every commit fsyncs the WAL.
 *
 * Group commit (`group-commit.ts`): the appends (`appendHistory`, `enqueueOffline`,
 * `appendAudit`, `appendGroupMessage`, `ackGroup`, `setPublicKey`) that arrive in one turn share one
 * `BEGIN IMMEDIATE` transaction and one fsync, each append in a savepoint of its own so that
 * its constraint failure fails it alone; their promises resolve once it has committed. Every
 * other write commits the pending appends first, so writes take effect in call order; reads
 * see what has committed (an append is visible once its promise has resolved). A burst of
 * 10,000 history entries is a handful of fsyncs instead of 10,000.
 *
 * The folder is cut by the port's parts. `SqliteStore` (this file) holds one `SqliteDatabase`
 * (`database.ts`: the connection, open or closed, its transactions and group commit) and one
 * object per part that works through it: `SqliteAccounts` (`accounts.ts`), `SqliteMessages`
 * (`messages.ts`), `SqlitePeople` and `SqliteGroups` (`people.ts`, `groups.ts`: the social
 * part) and `SqliteDump` (`dump.ts`). It forwards each method of the port to its part, one
 * line each, so this file is the table of contents and each part implements one narrow port,
 * checked by the compiler. Delegation rather than free functions over the connection: a part
 * is a class with the port's method names and comments, and the forwarding keeps `SqliteStore`
 * an ordinary class (`instanceof`, `SqliteStore.open`, `path`, `appends`). What the parts
 * share: every statement and the lookups of stored spellings in `statements.ts`, row shapes
 * in `rows.ts`, the schema and its migrations in `schema.ts`.
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
import { SqliteAccounts } from "./accounts.js";
import { type Append, SqliteDatabase, type SqliteStoreOptions } from "./database.js";
import { SqliteDump } from "./dump.js";
import { SqliteGroups } from "./groups.js";
import { SqliteMessages } from "./messages.js";
import { SqlitePeople } from "./people.js";

export type { SqliteStoreOptions } from "./database.js";

export class SqliteStore implements Store {
  readonly path: string;
  /** Appends waiting for the end of the turn, committed together (see the header). */
  readonly appends: GroupCommit<Append>;
  private readonly db: SqliteDatabase;
  private readonly accounts: SqliteAccounts;
  private readonly messages: SqliteMessages;
  private readonly people: SqlitePeople;
  private readonly groups: SqliteGroups;
  private readonly dumps: SqliteDump;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.path = path;
    this.db = new SqliteDatabase(path, options);
    this.appends = this.db.appends;
    this.accounts = new SqliteAccounts(this.db);
    this.messages = new SqliteMessages(this.db);
    this.people = new SqlitePeople(this.db);
    this.groups = new SqliteGroups(this.db);
    this.dumps = new SqliteDump(this.db);
  }

  /** A store that is already initialised. */
  static async open(path: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
    const store = new SqliteStore(path, options);
    await store.init();
    return store;
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
