/**
 * Neo4j adapter for the registry `Store` port (neo4j-driver). Same contract as SQLite, checked
 * by the same suite when `HALLWAY_NEO4J_URI` names a server (`test/server/neo4j-store.test.ts`).
 *
 * Graph model (every node also carries `registry`, see below):
 *
 *   (:Registry {registry, schemaVersion, createdAt, auditSeq})
 *   (:User {name, nameLower, passwordHash, publicKey, createdAt, lastSeen, queueSeq, noticeSeq,
 *           displayName, displayKey, statusText, email, phone, department, note,
 *           birthDate, gender, country, region, school, profession, visibility, profileUpdatedAt,
 *           searchText})                   model 5: the seed's profile fields; searchText is
 *                                          `searchWords` of name, display name, department,
 *                                          school, profession (text index, CONTAINS)
 *   (:User)-[:SENT]->(:Message {id, from, to, conversation, body, sentAt, deliveredAt})-[:TO]->(:User)
 *   (:User)-[:QUEUED {seq}]->(:Message)           the offline queue: recipient -> queued message
 *   (:Audit {user, event, at, address, detail, seq})   linked (:User)-[:LOGGED]->(:Audit) when
 *                                                  the user exists: a failed login may name nobody
 *   (:User)-[:REQUESTED {at}]->(:User)             a pending friend request
 *   (:User)-[:FRIEND {since}]->(:User)             one per pair, lower name key -> higher; read
 *                                                  in either direction
 *   (:Group {name, nameLower, createdAt, lastSeq, description})
 *   (:User)-[:ADMIN_OF]->(:Group)                  exactly one per group
 *   (:User)-[:MEMBER {joinedAt, ackedSeq}]->(:Group)
 *   (:User)-[:WANTS_TO_JOIN {at}]->(:Group)        a pending join request
 *   (:User)-[:POSTED]->(:GroupMessage {id, groupKey, group, from, body, sentAt, seq})-[:IN]->(:Group)
 *   (:User)-[:NOTIFIED]->(:Notice {id, to, kind, body, at, seq})
 *
 *   unique (registry, nameLower) on User and Group, (registry, id) on Message, GroupMessage and
 *   Notice, (registry, groupKey, seq) on GroupMessage (which also serves history pages and
 *   backlogs), registry on Registry; indexes (registry, conversation, sentAt) on Message for
 *   history pages, (registry, at) on Audit, (registry, displayKey) on User for search.
 *
 * "People you may know" is one pattern: two hops over FRIEND|MEMBER from the user, counting
 * distinct middle nodes that are users (mutual friends) and groups (shared groups).
 *
 * Ordering keys. The queue's order is `QUEUED.seq`, taken from a counter on the recipient's node
 * in the transaction that queues, and notices' order `Notice.seq` likewise; the audit's
 * tie-break is `Audit.seq`, from a counter on the registry node; a group message's `seq` is the
 * group's `lastSeq`, incremented in the transaction that stores it. Incrementing a counter with
 * `SET n.c = n.c + 1` takes the node's write lock before reading it (Neo4j's rule for a SET that
 * reads what it writes), so concurrent writers get distinct, increasing numbers; where a lock is
 * needed with nothing to increment, a statement sets and removes a property (LOCKING in
 * `cypher.ts`). History pages
 * by (sentAt, id) like SQLite.
 *
 * `registry` scopes everything: one Neo4j database can hold several registries, and the contract
 * tests use a fresh one per test on a shared server without touching anything else.
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
 * Transactions. Every write runs in `session.executeWrite`, every read in `executeRead`, each in
 * a short session (the export reads in one explicit read transaction, streamed); the checks a
 * write depends on (user exists, group exists, membership) run inside its write transaction; all sessions share one bookmark manager, so in a cluster a read routed to
 * another member still sees this store's earlier writes. The driver retries a transaction that
 * failed transiently (leader switch, deadlock, lost connection) for up to
 * `maxTransactionRetryTimeMs`; work functions are idempotent for that reason.
 *
 * Connections belong to the driver: it keeps a pool, replaces broken connections on the next
 * use, and with a `neo4j://` URI keeps a routing table of the cluster (writes to the leader,
 * reads spread over members). There is no reconnect logic here. `init()` checks once that the
 * server answers and accepts the credentials, so a bad URI or password fails at start-up with
 * one line, not at the first login.
 *
 * Time budget and outages. A registry request waits on its store call, the requests of one
 * client session run one after another (heartbeats too), and a client that gets no answer
 * within 5 s takes the registry for lost and reconnects. So a store call must end well within
 * that: the driver starts no retry after `maxTransactionRetryTimeMs` (2 s; with its backoff of
 * 1 s, then 2 s, ±20%, the last attempt ends by about 3.6 s; at 3 s the next retry came at
 * about 7 s against a stopped server, after the client had gone), a TCP connect gives up after
 * `connectionTimeoutMs` (2 s) and a usable connection (handshake, login, a free one in the
 * pool) after twice that. When Neo4j is unreachable (stopped, restarting, network gone), the
 * first call finds out within that budget; from then on the store is in an outage: calls fail
 * at once with the same `STORE_FAILED` ("cannot reach Neo4j at …"), except that one call a
 * second (`OUTAGE_PROBE_INTERVAL_MS`) tries the server once, without the driver's retries. The
 * first call that reaches the server ends the outage. So while Neo4j is gone every request
 * still gets its answer quickly, and the registry serves again as soon as Neo4j is back, with
 * no restart.
 *
 * The statements are in `cypher.ts`, the record mapping in `neo4j-mapping.ts`, and the export's
 * and import's record <-> row translation in `neo4j-dump.ts`.
 */

import {
  type AuthToken,
  auth,
  type BookmarkManager,
  bookmarkManager,
  type Config,
  driver as createDriver,
  type Driver,
  int,
  type ManagedTransaction,
  type QueryResult,
  type Result,
  type Session,
  type Transaction,
} from "neo4j-driver";
import { HallwayError } from "../../../errors.js";
import { GroupCommit, type Outcome } from "../group-commit.js";
import {
  conversationKey,
  groupMessageHit,
  messageHit,
  nameKey,
  newestHits,
  rowLimit,
  searchKey,
} from "../port-rules.js";
import { searchNeedle, searchWords } from "../search-words.js";
import {
  AUDIT_EVENTS,
  type AuditEntry,
  type AuditQuery,
  type DumpRecord,
  type FriendRequest,
  type Friendship,
  type GroupMember,
  type GroupMessage,
  type GroupRecord,
  type HistoryCursor,
  type JoinRequest,
  type MessageHit,
  type Notice,
  PROFILE_FIELDS,
  type ProfilePatch,
  type Store,
  type StoredMessage,
  type Suggestion,
  type TimeNameCursor,
  type UserRecord,
} from "../store.js";
import {
  CYPHER,
  type CypherScalar,
  type DataKey,
  GRAPH_SCHEMA_VERSION,
  type ParamsOf,
  type ReadKey,
  SCHEMA_KEYS,
  type StatementKey,
} from "./cypher.js";
import { DUMP_STATEMENTS, LOAD_BATCH_ROWS, LOAD_STATEMENTS, type LoadRow, LoadRows } from "./dump.js";
import {
  describeNeo4jFailure,
  displayUri,
  isUnreachable,
  type Neo4jTarget,
  toAuditEntry,
  toCount,
  toFlag,
  toFriendRequest,
  toFriendship,
  toGroupMember,
  toGroupMessage,
  toGroupRecord,
  toJoinRequest,
  toNotice,
  toStoredMessage,
  toSuggestion,
  toUserRecord,
} from "./mapping.js";

export interface Neo4jConnection {
  /** `bolt://host:7687` for one server, `neo4j://host:7687` for routing (clusters); `+s` for TLS. */
  uri: string;
  user: string;
  password: string;
  /** Omitted: the server's default (or the user's home) database. */
  database?: string;
  /**
   * Which registry's data in the database this store sees. Default `"hallway"`. Several
   * registries (or test runs) can share one database; each sees only its own.
   */
  registry?: string;
}

export interface Neo4jStoreOptions extends Neo4jConnection {
  /** Clock for times the port does not pass in (ack delivery time, registry creation). */
  now?: () => number;
  /** Limit for a TCP connect to Neo4j; twice this for a usable connection (handshake, login). Default 2000. */
  connectionTimeoutMs?: number;
  /** How long the driver keeps retrying a transiently failed transaction. Default 2000. */
  maxTransactionRetryTimeMs?: number;
  /** Builds the driver. Default: neo4j-driver's `driver()`; tests pass a scripted fake. */
  createDriver?: DriverFactory;
}

export type DriverFactory = (uri: string, authToken: AuthToken, config: Config) => Driver;

export const DEFAULT_REGISTRY = "hallway";
// Both well under the client's 5 s request timeout (see "Time budget and outages" above).
const DEFAULT_CONNECTION_TIMEOUT_MS = 2_000;
const DEFAULT_MAX_RETRY_TIME_MS = 2_000;
/** During an outage, how often one call may try the server; the others fail at once. */
export const OUTAGE_PROBE_INTERVAL_MS = 1_000;

type ReadRun = <K extends ReadKey>(key: K, params: ParamsOf<K>) => Promise<QueryResult>;
type WriteRun = <K extends DataKey>(key: K, params: ParamsOf<K>) => Promise<QueryResult>;
/** One append in a group commit: its statements run inside the batch's transaction. */
type Append = { op: string; work: (run: WriteRun) => Promise<unknown> };

interface OpenState {
  kind: "open";
  driver: Driver;
  bookmarks: BookmarkManager;
}

type State = { kind: "new" } | { kind: "opening"; done: Promise<void> } | OpenState | { kind: "closed" };

/** Neo4j found unreachable: since when the last attempt started, and what it said. */
interface Outage {
  lastAttemptAt: number;
  failure: HallwayError;
}

export class Neo4jStore implements Store {
  readonly registry: string;
  private readonly connection: Neo4jConnection;
  private readonly target: Neo4jTarget;
  private readonly now: () => number;
  private readonly connectionTimeoutMs: number;
  private readonly maxTransactionRetryTimeMs: number;
  private readonly createDriver: DriverFactory;
  private state: State = { kind: "new" };
  private outage: Outage | undefined;
  /** Appends waiting for their batch's transaction (see the header). */
  readonly appends = new GroupCommit<Append>({
    commit: (batch) => this.commitAppends(batch),
    batchError: (err, size) => describeNeo4jFailure(`commit of ${size} appends`, err, this.target),
  });

  constructor(options: Neo4jStoreOptions) {
    this.connection = {
      uri: options.uri,
      user: options.user,
      password: options.password,
      ...(options.database === undefined ? {} : { database: options.database }),
    };
    this.target = { uri: options.uri, user: options.user, database: options.database };
    this.registry = options.registry ?? DEFAULT_REGISTRY;
    this.now = options.now ?? Date.now;
    this.connectionTimeoutMs = options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS;
    this.maxTransactionRetryTimeMs = options.maxTransactionRetryTimeMs ?? DEFAULT_MAX_RETRY_TIME_MS;
    this.createDriver = options.createDriver ?? createDriver;
  }

  /** A store that is connected and initialised. */
  static async connect(options: Neo4jStoreOptions): Promise<Neo4jStore> {
    const store = new Neo4jStore(options);
    await store.init();
    return store;
  }

  /** Where this store connects, for logs: URI without credentials, database, registry. */
  describe(): string {
    const db = this.connection.database === undefined ? "" : `, database ${this.connection.database}`;
    return `Neo4j ${displayUri(this.connection.uri)}${db}, registry ${JSON.stringify(this.registry)}`;
  }

  async init(): Promise<void> {
    switch (this.state.kind) {
      case "open":
        return;
      case "closed":
        throw new HallwayError("STORE_FAILED", "store is closed");
      case "opening":
        return this.state.done;
      case "new": {
        // The callbacks run after `state` says "opening", also when open() fails synchronously.
        const done = this.open().then(
          async (opened) => {
            if (this.state.kind !== "opening") {
              // close() was called while connecting.
              await opened.driver.close();
              throw new HallwayError("STORE_FAILED", "store is closed");
            }
            this.state = opened;
          },
          (err: unknown) => {
            if (this.state.kind === "opening") this.state = { kind: "new" };
            throw err;
          },
        );
        this.state = { kind: "opening", done };
        return done;
      }
    }
  }

  async close(): Promise<void> {
    if (this.state.kind === "open") await this.appends.drain();
    const previous = this.state;
    this.state = { kind: "closed" };
    if (previous.kind === "open") await previous.driver.close();
    // An init() still in progress sees the closed state when it finishes and closes its driver.
  }

  async createUser(user: { name: string; passwordHash: string; createdAt: number }): Promise<void> {
    await this.write("createUser", async (run) => {
      const result = await run("createUser", {
        registry: this.registry,
        nameKey: nameKey(user.name),
        name: user.name,
        passwordHash: user.passwordHash,
        createdAt: int(user.createdAt),
        searchText: searchWords([user.name]),
      });
      if (result.summary.counters.updates().nodesCreated === 0) {
        throw new HallwayError("AUTH_USER_EXISTS", `user ${JSON.stringify(user.name)} already exists`);
      }
    });
  }

  async getUser(name: string): Promise<UserRecord | undefined> {
    return this.read("getUser", async (run) => {
      const result = await run("getUser", { registry: this.registry, nameKey: nameKey(name) });
      const record = result.records[0];
      return record === undefined ? undefined : toUserRecord(record.get("user"));
    });
  }

  async listUsers(): Promise<UserRecord[]> {
    return this.read("listUsers", async (run) => {
      const result = await run("listUsers", { registry: this.registry });
      return result.records.map((r) => toUserRecord(r.get("user")));
    });
  }

  /** In the group commit: a login storm of new devices is not one transaction per login. */
  async setPublicKey(name: string, publicKeyHex: string): Promise<void> {
    await this.append("setPublicKey", async (run) => {
      const result = await run("setPublicKey", {
        registry: this.registry,
        nameKey: nameKey(name),
        publicKey: publicKeyHex,
      });
      if (toCount(result.records[0]?.get("updated"), "updated") === 0) {
        throw new HallwayError("AUTH_UNKNOWN_USER", `no user ${JSON.stringify(name)}`);
      }
    });
  }

  async flushLastSeen(entries: Array<{ name: string; at: number }>): Promise<void> {
    if (entries.length === 0) {
      this.opened();
      return;
    }
    await this.write("flushLastSeen", async (run) => {
      await run("flushLastSeen", {
        registry: this.registry,
        entries: entries.map((e) => ({ nameKey: nameKey(e.name), at: int(e.at) })),
      });
    });
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.append("appendAudit", async (run) => {
      const result = await run("appendAudit", {
        registry: this.registry,
        userKey: nameKey(entry.user),
        user: entry.user,
        event: entry.event,
        at: int(entry.at),
        address: entry.address,
        detail: entry.detail ?? null,
      });
      if (toCount(result.records[0]?.get("written"), "written") === 0) {
        throw new HallwayError("STORE_FAILED", `appendAudit: registry ${this.registry} is missing`);
      }
    });
  }

  async listAudit(opts: AuditQuery): Promise<AuditEntry[]> {
    const limit = rowLimit(opts.limit);
    if (limit === 0) {
      this.opened();
      return [];
    }
    return this.read("listAudit", async (run) => {
      const result = await run("listAudit", {
        registry: this.registry,
        userKey: opts.user === undefined ? null : nameKey(opts.user),
        since: opts.since === undefined ? null : int(opts.since),
        until: opts.until === undefined ? null : int(opts.until),
        events: [...(opts.events ?? AUDIT_EVENTS)],
        limit: int(limit),
      });
      return result.records.map((r) => toAuditEntry(r.get("entry")));
    });
  }

  async enqueueOffline(msg: StoredMessage): Promise<void> {
    await this.append("enqueueOffline", async (run) => {
      await this.insertMessage(run, "enqueueOffline", msg);
      await run("queueMessage", { registry: this.registry, id: msg.id });
    });
  }

  async pendingOffline(to: string, limit: number): Promise<StoredMessage[]> {
    const rows = rowLimit(limit);
    if (rows === 0) {
      this.opened();
      return [];
    }
    return this.read("pendingOffline", async (run) => {
      const result = await run("pendingOffline", {
        registry: this.registry,
        toKey: nameKey(to),
        limit: int(rows),
      });
      return result.records.map((r) => toStoredMessage(r.get("message")));
    });
  }

  async ackOffline(to: string, ids: string[]): Promise<number> {
    if (ids.length === 0) {
      this.opened();
      return 0;
    }
    const at = this.now();
    return this.write("ackOffline", async (run) => {
      const result = await run("ackOffline", {
        registry: this.registry,
        toKey: nameKey(to),
        ids,
        at: int(at),
      });
      return toCount(result.records[0]?.get("removed"), "removed");
    });
  }

  async appendHistory(msg: StoredMessage): Promise<void> {
    await this.append("appendHistory", (run) => this.insertMessage(run, "appendHistory", msg));
  }

  async markDelivered(id: string, at: number): Promise<void> {
    await this.write("markDelivered", async (run) => {
      await run("markDelivered", { registry: this.registry, id, at: int(at) });
    });
  }

  async history(
    a: string,
    b: string,
    opts: { limit: number; before?: HistoryCursor },
  ): Promise<StoredMessage[]> {
    const limit = rowLimit(opts.limit);
    if (limit === 0) {
      this.opened();
      return [];
    }
    const conversation = conversationKey(a, b);
    return this.read("history", async (run) => {
      const result =
        opts.before === undefined
          ? await run("historyLatest", { registry: this.registry, conversation, limit: int(limit) })
          : await run("historyBefore", {
              registry: this.registry,
              conversation,
              beforeSentAt: int(opts.before.sentAt),
              beforeId: opts.before.id,
              limit: int(limit),
            });
      return result.records.map((r) => toStoredMessage(r.get("message"))).reverse();
    });
  }

  async setProfile(name: string, patch: ProfilePatch, at?: number): Promise<void> {
    const profile: Record<string, CypherScalar> = {};
    for (const field of PROFILE_FIELDS) {
      const value = patch[field];
      if (value !== undefined) profile[field] = value;
    }
    if (patch.displayName !== undefined) {
      profile.displayKey = patch.displayName === null ? null : searchKey(patch.displayName);
    }
    if (at !== undefined) profile.profileUpdatedAt = int(at);
    await this.write("setProfile", async (run) => {
      // The search text folds in JavaScript (Cypher cannot drop accents), from the fields as
      // they will be; read in the transaction that writes them.
      const found = await run("getUser", { registry: this.registry, nameKey: nameKey(name) });
      const record = found.records[0];
      if (record === undefined) throw noUser(name);
      const u = { ...toUserRecord(record.get("user")), ...patch };
      profile.searchText = searchWords([u.name, u.displayName, u.department, u.school, u.profession]);
      const result = await run("setProfile", { registry: this.registry, nameKey: nameKey(name), profile });
      if (toCount(result.records[0]?.get("updated"), "updated") === 0) throw noUser(name);
    });
  }

  async searchUsers(prefix: string, limit: number): Promise<UserRecord[]> {
    const rows = rowLimit(limit);
    if (rows === 0) return this.none();
    return this.read("searchUsers", async (run) => {
      const result = await run("searchUsers", {
        registry: this.registry,
        needle: searchNeedle(prefix),
        limit: int(rows),
      });
      return result.records.map((r) => toUserRecord(r.get("user")));
    });
  }

  async putFriendRequest(req: FriendRequest): Promise<void> {
    await this.write("putFriendRequest", async (run) => {
      await this.requireUsers(run, [req.from, req.to]);
      await run("putFriendRequest", {
        registry: this.registry,
        fromKey: nameKey(req.from),
        toKey: nameKey(req.to),
        at: int(req.at),
      });
    });
  }

  async deleteFriendRequest(from: string, to: string): Promise<boolean> {
    return this.write("deleteFriendRequest", async (run) => {
      await this.requireUsers(run, [from, to]);
      const result = await run("deleteFriendRequest", {
        registry: this.registry,
        fromKey: nameKey(from),
        toKey: nameKey(to),
      });
      return toCount(result.records[0]?.get("removed"), "removed") > 0;
    });
  }

  async friendRequestsTo(user: string): Promise<FriendRequest[]> {
    return this.read("friendRequestsTo", async (run) => {
      await this.requireUsers(run, [user]);
      const result = await run("friendRequestsTo", { registry: this.registry, userKey: nameKey(user) });
      return result.records.map((r) => toFriendRequest(r.get("request")));
    });
  }

  async friendRequestsFrom(user: string): Promise<FriendRequest[]> {
    return this.read("friendRequestsFrom", async (run) => {
      await this.requireUsers(run, [user]);
      const result = await run("friendRequestsFrom", { registry: this.registry, userKey: nameKey(user) });
      return result.records.map((r) => toFriendRequest(r.get("request")));
    });
  }

  async addFriendship(a: string, b: string, since: number): Promise<void> {
    const [aKey, bKey] = [nameKey(a), nameKey(b)].sort() as [string, string];
    await this.write("addFriendship", async (run) => {
      await this.requireUsers(run, [a, b]);
      await run("addFriendship", { registry: this.registry, aKey, bKey, since: int(since) });
    });
  }

  async removeFriendship(a: string, b: string): Promise<boolean> {
    return this.write("removeFriendship", async (run) => {
      await this.requireUsers(run, [a, b]);
      const result = await run("removeFriendship", {
        registry: this.registry,
        aKey: nameKey(a),
        bKey: nameKey(b),
      });
      return toCount(result.records[0]?.get("removed"), "removed") > 0;
    });
  }

  async usersAfter(after: string | undefined, limit: number): Promise<UserRecord[]> {
    const rows = rowLimit(limit);
    if (rows === 0) {
      this.opened();
      return [];
    }
    return this.read("usersAfter", async (run) => {
      const result = await run("usersAfter", {
        registry: this.registry,
        afterKey: nameKey(after ?? ""),
        limit: int(rows),
      });
      return result.records.map((r) => toUserRecord(r.get("user")));
    });
  }

  async friendsAfter(user: string, after: string | undefined, limit: number): Promise<Friendship[]> {
    const rows = rowLimit(limit);
    return this.read("friendsAfter", async (run) => {
      await this.requireUsers(run, [user]);
      if (rows === 0) return [];
      const result = await run("friendsAfter", {
        registry: this.registry,
        userKey: nameKey(user),
        afterKey: nameKey(after ?? ""),
        limit: int(rows),
      });
      return result.records.map((r) => toFriendship(r.get("friend")));
    });
  }

  async friendRequestsToAfter(
    user: string,
    after: TimeNameCursor | undefined,
    limit: number,
  ): Promise<FriendRequest[]> {
    return this.requestsAfter("friendRequestsToAfter", user, after, limit);
  }

  async friendRequestsFromAfter(
    user: string,
    after: TimeNameCursor | undefined,
    limit: number,
  ): Promise<FriendRequest[]> {
    return this.requestsAfter("friendRequestsFromAfter", user, after, limit);
  }

  private async requestsAfter(
    key: "friendRequestsToAfter" | "friendRequestsFromAfter",
    user: string,
    after: TimeNameCursor | undefined,
    limit: number,
  ): Promise<FriendRequest[]> {
    const rows = rowLimit(limit);
    return this.read(key, async (run) => {
      await this.requireUsers(run, [user]);
      if (rows === 0) return [];
      const result = await run(key, {
        registry: this.registry,
        userKey: nameKey(user),
        afterAt: int(after?.at ?? -1),
        afterKey: nameKey(after?.name ?? ""),
        limit: int(rows),
      });
      return result.records.map((r) => toFriendRequest(r.get("request")));
    });
  }

  async searchUsersAfter(prefix: string, after: string | undefined, limit: number): Promise<UserRecord[]> {
    const rows = rowLimit(limit);
    if (rows === 0) {
      this.opened();
      return [];
    }
    return this.read("searchUsersAfter", async (run) => {
      const result = await run("searchUsersAfter", {
        registry: this.registry,
        needle: searchNeedle(prefix),
        afterKey: nameKey(after ?? ""),
        limit: int(rows),
      });
      return result.records.map((r) => toUserRecord(r.get("user")));
    });
  }

  async searchGroupsAfter(prefix: string, after: string | undefined, limit: number): Promise<GroupRecord[]> {
    const rows = rowLimit(limit);
    if (rows === 0) {
      this.opened();
      return [];
    }
    return this.read("searchGroupsAfter", async (run) => {
      const result = await run("searchGroupsAfter", {
        registry: this.registry,
        prefix: searchKey(prefix),
        afterKey: nameKey(after ?? ""),
        limit: int(rows),
      });
      return result.records.map((r) => toGroupRecord(r.get("group")));
    });
  }

  async countOffline(to: string): Promise<number> {
    return this.read("countOffline", async (run) => {
      const result = await run("countOffline", { registry: this.registry, userKey: nameKey(to) });
      return toCount(result.records[0]?.get("n"), "n");
    });
  }

  async countFriendRequestsTo(user: string): Promise<number> {
    return this.read("countFriendRequestsTo", async (run) => {
      const result = await run("countFriendRequestsTo", { registry: this.registry, userKey: nameKey(user) });
      return toCount(result.records[0]?.get("n"), "n");
    });
  }

  async countJoinRequests(group: string): Promise<number> {
    return this.read("countJoinRequests", async (run) => {
      const result = await run("countJoinRequests", { registry: this.registry, groupKey: nameKey(group) });
      return toCount(result.records[0]?.get("n"), "n");
    });
  }

  async friendsOf(user: string): Promise<Friendship[]> {
    return this.read("friendsOf", async (run) => {
      await this.requireUsers(run, [user]);
      const result = await run("friendsOf", { registry: this.registry, userKey: nameKey(user) });
      return result.records.map((r) => toFriendship(r.get("friend")));
    });
  }

  async areFriends(a: string, b: string): Promise<boolean> {
    return this.read("areFriends", async (run) => {
      const result = await run("areFriends", { registry: this.registry, aKey: nameKey(a), bKey: nameKey(b) });
      return toFlag(result.records[0]?.get("friends"), "friends");
    });
  }

  async createGroup(group: { name: string; admin: string; createdAt: number }): Promise<void> {
    const groupKey = nameKey(group.name);
    await this.write("createGroup", async (run) => {
      await this.requireUsers(run, [group.admin]);
      const created = await run("createGroup", {
        registry: this.registry,
        groupKey,
        name: group.name,
        createdAt: int(group.createdAt),
      });
      if (created.summary.counters.updates().nodesCreated === 0) {
        throw new HallwayError("GROUP_EXISTS", `group ${JSON.stringify(group.name)} already exists`);
      }
      await run("foundGroup", { registry: this.registry, groupKey, adminKey: nameKey(group.admin) });
    });
  }

  async getGroup(name: string): Promise<GroupRecord | undefined> {
    return this.read("getGroup", (run) => this.findGroup(run, name));
  }

  async searchGroups(prefix: string, limit: number): Promise<GroupRecord[]> {
    const rows = rowLimit(limit);
    if (rows === 0) return this.none();
    return this.read("searchGroups", async (run) => {
      const result = await run("searchGroups", {
        registry: this.registry,
        prefix: searchKey(prefix),
        limit: int(rows),
      });
      return result.records.map((r) => toGroupRecord(r.get("group")));
    });
  }

  async deleteGroup(name: string): Promise<boolean> {
    return this.write("deleteGroup", async (run) => {
      const result = await run("deleteGroup", { registry: this.registry, groupKey: nameKey(name) });
      return toCount(result.records[0]?.get("deleted"), "deleted") > 0;
    });
  }

  async setGroupDescription(group: string, description: string | null): Promise<void> {
    await this.write("setGroupDescription", async (run) => {
      const result = await run("setGroupDescription", {
        registry: this.registry,
        groupKey: nameKey(group),
        description,
      });
      if (toCount(result.records[0]?.get("updated"), "updated") === 0) throw noGroup(group);
    });
  }

  async setGroupAdmin(group: string, user: string): Promise<void> {
    await this.write("setGroupAdmin", async (run) => {
      await this.requireMember(run, group, user);
      await run("setGroupAdmin", {
        registry: this.registry,
        groupKey: nameKey(group),
        userKey: nameKey(user),
      });
    });
  }

  async groupMembers(group: string): Promise<GroupMember[]> {
    return this.read("groupMembers", async (run) => {
      await this.requireGroup(run, group);
      const result = await run("groupMembers", { registry: this.registry, groupKey: nameKey(group) });
      return result.records.map((r) => toGroupMember(r.get("member")));
    });
  }

  async groupsOf(user: string): Promise<GroupRecord[]> {
    return this.read("groupsOf", async (run) => {
      await this.requireUsers(run, [user]);
      const result = await run("groupsOf", { registry: this.registry, userKey: nameKey(user) });
      return result.records.map((r) => toGroupRecord(r.get("group")));
    });
  }

  async addMembers(group: string, users: readonly string[], joinedAt: number): Promise<void> {
    if (users.length === 0) return;
    await this.write("addMembers", async (run) => {
      await this.requireGroup(run, group);
      await this.requireUsers(run, users);
      await run("addMembers", {
        registry: this.registry,
        groupKey: nameKey(group),
        userKeys: users.map(nameKey),
        joinedAt: int(joinedAt),
      });
    });
  }

  async addMember(group: string, user: string, joinedAt: number): Promise<void> {
    await this.write("addMember", async (run) => {
      await this.requireGroup(run, group);
      await this.requireUsers(run, [user]);
      await run("addMember", {
        registry: this.registry,
        groupKey: nameKey(group),
        userKey: nameKey(user),
        joinedAt: int(joinedAt),
      });
    });
  }

  async removeMember(group: string, user: string): Promise<boolean> {
    return this.write("removeMember", async (run) => {
      await this.requireGroup(run, group);
      await this.requireUsers(run, [user]);
      const result = await run("removeMember", {
        registry: this.registry,
        groupKey: nameKey(group),
        userKey: nameKey(user),
      });
      return toCount(result.records[0]?.get("removed"), "removed") > 0;
    });
  }

  async putJoinRequest(req: JoinRequest): Promise<void> {
    await this.write("putJoinRequest", async (run) => {
      await this.requireGroup(run, req.group);
      await this.requireUsers(run, [req.user]);
      await run("putJoinRequest", {
        registry: this.registry,
        groupKey: nameKey(req.group),
        userKey: nameKey(req.user),
        at: int(req.at),
      });
    });
  }

  async deleteJoinRequest(group: string, user: string): Promise<boolean> {
    return this.write("deleteJoinRequest", async (run) => {
      await this.requireGroup(run, group);
      await this.requireUsers(run, [user]);
      const result = await run("deleteJoinRequest", {
        registry: this.registry,
        groupKey: nameKey(group),
        userKey: nameKey(user),
      });
      return toCount(result.records[0]?.get("removed"), "removed") > 0;
    });
  }

  async joinRequests(group: string): Promise<JoinRequest[]> {
    return this.read("joinRequests", async (run) => {
      await this.requireGroup(run, group);
      const result = await run("joinRequests", { registry: this.registry, groupKey: nameKey(group) });
      return result.records.map((r) => toJoinRequest(r.get("request")));
    });
  }

  /**
   * A repeated id is answered before the lock (the common retry) and again under it (a retry
   * racing the first attempt); only then is a seq taken.
   *
   * In the group commit, whose batches commit one at a time with their appends in call order,
   * so appends to one group resolve in seq order: the registry pushes each message to the
   * members as its append resolves, and concurrent transactions on different connections can
   * report their commits in any order (20 clients writing at once on a loaded machine got seq
   * 88 pushed before 87 when each append had a transaction of its own).
   */
  async appendGroupMessage(msg: Omit<GroupMessage, "seq">): Promise<GroupMessage> {
    const groupKey = nameKey(msg.group);
    return this.append("appendGroupMessage", async (run) => {
      const earlier = await this.findGroupMessage(run, msg.id);
      if (earlier !== undefined) return earlier;
      const locked = await run("lockGroup", { registry: this.registry, groupKey });
      if (locked.records.length === 0) throw noGroup(msg.group);
      const racing = await this.findGroupMessage(run, msg.id);
      if (racing !== undefined) return racing;
      await this.requireUsers(run, [msg.from]);
      const result = await run("appendGroupMessage", {
        registry: this.registry,
        groupKey,
        fromKey: nameKey(msg.from),
        id: msg.id,
        body: msg.body,
        textKey: searchKey(msg.body),
        sentAt: int(msg.sentAt),
      });
      return toGroupMessage(result.records[0]?.get("message"));
    });
  }

  async searchMessages(user: string, query: string, limit: number): Promise<MessageHit[]> {
    const n = rowLimit(limit);
    if (n === 0 || query === "") {
      this.opened();
      return [];
    }
    const params = { registry: this.registry, query: searchKey(query), limit: int(n) };
    return this.read("searchMessages", async (run) => {
      const direct = await run("searchMessages", { ...params, user: nameKey(user) });
      const groups = await run("searchGroupMessages", { ...params, userKey: nameKey(user) });
      return newestHits(
        direct.records.map((r) => messageHit(toStoredMessage(r.get("message")))),
        groups.records.map((r) => groupMessageHit(toGroupMessage(r.get("message")))),
        n,
      );
    });
  }

  async groupHistory(group: string, opts: { limit: number; beforeSeq?: number }): Promise<GroupMessage[]> {
    const limit = rowLimit(opts.limit);
    const groupKey = nameKey(group);
    return this.read("groupHistory", async (run) => {
      await this.requireGroup(run, group);
      if (limit === 0) return [];
      const result =
        opts.beforeSeq === undefined
          ? await run("groupHistoryLatest", { registry: this.registry, groupKey, limit: int(limit) })
          : await run("groupHistoryBefore", {
              registry: this.registry,
              groupKey,
              beforeSeq: int(opts.beforeSeq),
              limit: int(limit),
            });
      return result.records.map((r) => toGroupMessage(r.get("message"))).reverse();
    });
  }

  async groupBacklog(group: string, user: string, limit: number): Promise<GroupMessage[]> {
    const rows = rowLimit(limit);
    return this.read("groupBacklog", async (run) => {
      const ackedSeq = await this.requireMember(run, group, user);
      if (rows === 0) return [];
      const result = await run("groupMessagesAfter", {
        registry: this.registry,
        groupKey: nameKey(group),
        afterSeq: int(ackedSeq),
        limit: int(rows),
      });
      return result.records.map((r) => toGroupMessage(r.get("message")));
    });
  }

  /** In the group commit: every member acknowledges every group message it gets. */
  async ackGroup(group: string, user: string, seq: number): Promise<void> {
    await this.append("ackGroup", async (run) => {
      await this.requireMember(run, group, user);
      await run("ackGroup", {
        registry: this.registry,
        groupKey: nameKey(group),
        userKey: nameKey(user),
        seq: int(Math.floor(seq)),
      });
    });
  }

  async enqueueNotice(notice: Notice): Promise<void> {
    await this.write("enqueueNotice", async (run) => {
      await this.requireUsers(run, [notice.to]);
      await run("enqueueNotice", {
        registry: this.registry,
        toKey: nameKey(notice.to),
        id: notice.id,
        kind: notice.kind,
        body: notice.body,
        at: int(notice.at),
      });
    });
  }

  async pendingNotices(to: string, limit: number): Promise<Notice[]> {
    const rows = rowLimit(limit);
    return this.read("pendingNotices", async (run) => {
      await this.requireUsers(run, [to]);
      if (rows === 0) return [];
      const result = await run("pendingNotices", {
        registry: this.registry,
        toKey: nameKey(to),
        limit: int(rows),
      });
      return result.records.map((r) => toNotice(r.get("notice")));
    });
  }

  async ackNotices(to: string, ids: string[]): Promise<number> {
    return this.write("ackNotices", async (run) => {
      await this.requireUsers(run, [to]);
      if (ids.length === 0) return 0;
      const result = await run("ackNotices", { registry: this.registry, toKey: nameKey(to), ids });
      return toCount(result.records[0]?.get("removed"), "removed");
    });
  }

  async suggest(user: string, limit: number, exceptGroups: readonly string[] = []): Promise<Suggestion[]> {
    const rows = rowLimit(limit);
    return this.read("suggest", async (run) => {
      await this.requireUsers(run, [user]);
      if (rows === 0) return [];
      const result = await run("suggest", {
        registry: this.registry,
        userKey: nameKey(user),
        exceptKeys: exceptGroups.map(nameKey),
        limit: int(rows),
      });
      return result.records.map((r) => toSuggestion(r.get("suggestion")));
    });
  }

  /**
   * One read transaction for the whole dump (a consistent snapshot), each statement's records
   * streamed as the consumer reads them.
   */
  async *dump(): AsyncIterable<DumpRecord> {
    const state = this.opened();
    const session = this.session(state, "READ");
    let tx: Transaction | undefined;
    try {
      tx = await session.beginTransaction();
      for (const [key, toRecord] of DUMP_STATEMENTS) {
        for await (const record of runStatement(tx, key, { registry: this.registry })) {
          yield toRecord(record.get("record"));
        }
      }
      await tx.commit();
    } catch (err) {
      throw describeNeo4jFailure("dump", err, this.target);
    } finally {
      await tx?.close().catch(() => {});
      await session.close().catch(() => {});
    }
  }

  /**
   * Consecutive records of one kind go in batches of `LOAD_BATCH_ROWS`, one write transaction
   * each; a batch whose rows do not all find their users, groups or messages fails the load.
   * A failed load removes what it wrote, so the registry is as empty as before.
   */
  async load(records: AsyncIterable<DumpRecord>): Promise<void> {
    const users = await this.read("load", async (run) => {
      const result = await run("countUsers", { registry: this.registry });
      return toCount(result.records[0]?.get("users"), "users");
    });
    if (users > 0) {
      throw new HallwayError("STORE_NOT_EMPTY", `cannot load into ${this.describe()}: it already has users`);
    }
    const rows = new LoadRows();
    let kind: DumpRecord["kind"] | undefined;
    let batch: LoadRow[] = [];
    const flush = async () => {
      if (kind === undefined || batch.length === 0) return;
      const [key, rowsOf] = [LOAD_STATEMENTS[kind], batch];
      const what = kind;
      batch = [];
      await this.write("load", async (run) => {
        const result = await run(key, { registry: this.registry, rows: rowsOf });
        const written = toCount(result.records[0]?.get("written"), "written");
        if (written !== rowsOf.length) {
          throw new HallwayError(
            "STORE_FAILED",
            `store load failed: ${rowsOf.length - written} ${what} record(s) refer to a user, group or message not loaded before them`,
          );
        }
      });
    };
    try {
      for await (const record of records) {
        if (record.kind !== kind || batch.length >= LOAD_BATCH_ROWS) {
          await flush();
          kind = record.kind;
        }
        batch.push(rows.of(record));
      }
      await flush();
    } catch (err) {
      await this.write("load", (run) => run("clearRegistryData", { registry: this.registry })).catch(
        () => {},
      );
      throw err;
    }
  }

  /** What a method with nothing to ask the server answers: nothing, if the store is open. */
  private async none(): Promise<never[]> {
    this.opened();
    return [];
  }

  private async requireUsers(run: ReadRun, names: readonly string[]): Promise<void> {
    const keys = names.map(nameKey);
    const known = await run("knownUsers", { registry: this.registry, nameKeys: keys });
    const found = new Set(known.records.map((r) => r.get("nameKey") as unknown));
    const missing = names.find((_, i) => !found.has(keys[i]));
    if (missing !== undefined) throw noUser(missing);
  }

  private async findGroup(run: ReadRun, name: string): Promise<GroupRecord | undefined> {
    const result = await run("getGroup", { registry: this.registry, groupKey: nameKey(name) });
    const record = result.records[0];
    return record === undefined ? undefined : toGroupRecord(record.get("group"));
  }

  private async requireGroup(run: ReadRun, name: string): Promise<GroupRecord> {
    const group = await this.findGroup(run, name);
    if (group === undefined) throw noGroup(name);
    return group;
  }

  /** The member's ackedSeq; GROUP_UNKNOWN, AUTH_UNKNOWN_USER or GROUP_NOT_MEMBER otherwise. */
  private async requireMember(run: ReadRun, group: string, user: string): Promise<number> {
    const result = await run("membership", {
      registry: this.registry,
      groupKey: nameKey(group),
      userKey: nameKey(user),
    });
    const record = result.records[0];
    if (record === undefined) throw noGroup(group);
    if (!toFlag(record.get("userExists"), "userExists")) throw noUser(user);
    const acked = record.get("ackedSeq") as unknown;
    if (acked === null || acked === undefined) {
      throw new HallwayError(
        "GROUP_NOT_MEMBER",
        `${JSON.stringify(user)} is not in group ${JSON.stringify(group)}`,
      );
    }
    return toCount(acked, "ackedSeq");
  }

  private async findGroupMessage(run: ReadRun, id: string): Promise<GroupMessage | undefined> {
    const result = await run("getGroupMessage", { registry: this.registry, id });
    const record = result.records[0];
    return record === undefined ? undefined : toGroupMessage(record.get("message"));
  }

  /** Both users must exist (the SQLite adapter's foreign keys); the first stored copy wins. */
  private async insertMessage(run: WriteRun, op: string, msg: StoredMessage): Promise<void> {
    const keys = [nameKey(msg.from), nameKey(msg.to)];
    const known = await run("knownUsers", { registry: this.registry, nameKeys: keys });
    const found = new Set(known.records.map((r) => r.get("nameKey") as unknown));
    const missing = [msg.from, msg.to].filter((_, i) => !found.has(keys[i]));
    if (missing.length > 0) throw unknownUser(op, missing);
    await run("insertMessage", {
      registry: this.registry,
      fromKey: nameKey(msg.from),
      toKey: nameKey(msg.to),
      id: msg.id,
      from: msg.from,
      to: msg.to,
      conversation: conversationKey(msg.from, msg.to),
      body: msg.body,
      textKey: searchKey(msg.body),
      sentAt: int(msg.sentAt),
      deliveredAt: msg.deliveredAt === null ? null : int(msg.deliveredAt),
    });
  }

  /** A connected driver over an initialised schema; leaves `state` to init(). */
  private async open(): Promise<OpenState> {
    let driver: Driver;
    try {
      driver = this.createDriver(
        this.connection.uri,
        auth.basic(this.connection.user, this.connection.password),
        {
          disableLosslessIntegers: true,
          connectionTimeout: this.connectionTimeoutMs,
          // The TCP connect is bounded above; getting a connection from the pool also covers the
          // Bolt handshake and login (which a busy server, or 100 connections opened at once
          // after a registry restart, makes slow) and waiting for a free one. Bounded too, so a
          // server that accepts TCP but never answers is found out.
          connectionAcquisitionTimeout: 2 * this.connectionTimeoutMs,
          maxTransactionRetryTime: this.maxTransactionRetryTimeMs,
          userAgent: "hallway-registry",
        },
      );
    } catch (err) {
      throw new HallwayError(
        "STORE_FAILED",
        `invalid Neo4j URI ${JSON.stringify(displayUri(this.connection.uri))}: ${firstLine(err)}`,
        { cause: err },
      );
    }
    const opened: OpenState = { kind: "open", driver, bookmarks: bookmarkManager() };
    try {
      await driver.verifyConnectivity(
        this.connection.database === undefined ? {} : { database: this.connection.database },
      );
      for (const key of SCHEMA_KEYS) {
        await this.transaction(opened, "WRITE", `init (${key})`, (tx) => tx.run(CYPHER[key].text));
      }
      const version = await this.transaction(opened, "WRITE", "init", async (tx) => {
        const result = await runStatement(tx, "openRegistry", {
          registry: this.registry,
          schemaVersion: int(GRAPH_SCHEMA_VERSION),
          now: int(this.now()),
        });
        return toCount(result.records[0]?.get("schemaVersion"), "schemaVersion");
      });
      if (version > GRAPH_SCHEMA_VERSION) {
        throw new HallwayError(
          "STORE_FAILED",
          `registry ${JSON.stringify(this.registry)} in Neo4j has schema version ${version}, newer than this build supports (${GRAPH_SCHEMA_VERSION})`,
        );
      }
      if (version < 4) {
        for (const key of ["addMessageTextKeys", "addGroupMessageTextKeys"] as const) {
          await this.transaction(opened, "WRITE", `init (${key})`, (tx) =>
            runStatement(tx, key, { registry: this.registry }),
          );
        }
      }
      if (version < 5) await this.addSearchTexts(opened);
    } catch (err) {
      await driver.close().catch(() => {});
      throw describeNeo4jFailure("init", err, this.target);
    }
    return opened;
  }

  /**
   * Model 5: the search text of users stored before it, in batches of `LOAD_BATCH_ROWS`, each
   * statement in its own transaction like the rest of `init`.
   */
  private async addSearchTexts(opened: OpenState): Promise<void> {
    for (;;) {
      const rows = await this.transaction(opened, "WRITE", "init (usersWithoutSearchText)", async (tx) => {
        const result = await runStatement(tx, "usersWithoutSearchText", {
          registry: this.registry,
          limit: int(LOAD_BATCH_ROWS),
        });
        return result.records.map((r) => {
          const u = r.get("user") as Record<string, string | null>;
          return {
            nameKey: u.nameLower ?? "",
            searchText: searchWords([u.name, u.displayName, u.department, u.school, u.profession]),
          };
        });
      });
      if (rows.length === 0) return;
      await this.transaction(opened, "WRITE", "init (setSearchTexts)", (tx) =>
        runStatement(tx, "setSearchTexts", { registry: this.registry, rows }),
      );
      if (rows.length < LOAD_BATCH_ROWS) return;
    }
  }

  private opened(): OpenState {
    switch (this.state.kind) {
      case "open":
        return this.state;
      case "new":
      case "opening":
        throw new HallwayError("STORE_FAILED", "store used before init()");
      case "closed":
        throw new HallwayError("STORE_FAILED", "store is closed");
    }
  }

  private read<T>(op: string, work: (run: ReadRun) => Promise<T>): Promise<T> {
    return this.transaction(this.opened(), "READ", op, (tx) =>
      work((key, params) => runStatement(tx, key, params)),
    );
  }

  private write<T>(op: string, work: (run: WriteRun) => Promise<T>): Promise<T> {
    return this.transaction(this.opened(), "WRITE", op, (tx) =>
      work((key, params) => runStatement(tx, key, params)),
    );
  }

  /** An append, in the next group commit; resolves with `work`'s result once that commits. */
  private append<T>(op: string, work: (run: WriteRun) => Promise<T>): Promise<T> {
    this.opened();
    return this.appends.add<T>({ op, work });
  }

  /**
   * The group commit's transaction: the appends one after another. A HallwayError is the
   * append's own refusal, raised before it wrote anything; anything else fails the batch. The
   * driver may run this again after a transient failure, so the outcomes start afresh.
   */
  private commitAppends(batch: readonly Append[]): Promise<Outcome[]> {
    const op = batch.length === 1 ? (batch[0]?.op ?? "append") : `${batch.length} appends`;
    return this.write(op, async (run) => {
      const outcomes: Outcome[] = [];
      for (const a of batch) {
        try {
          outcomes.push({ ok: true, value: await a.work(run) });
        } catch (err) {
          if (!(err instanceof HallwayError)) throw err;
          outcomes.push({ ok: false, error: err });
        }
      }
      return outcomes;
    });
  }

  /** A short session; all share the bookmark manager, so reads see this store's earlier writes. */
  private session(state: OpenState, mode: "READ" | "WRITE"): Session {
    return state.driver.session({
      defaultAccessMode: mode,
      bookmarkManager: state.bookmarks,
      ...(this.connection.database === undefined ? {} : { database: this.connection.database }),
    });
  }

  /**
   * One transaction in a short session; failures become one-line STORE_FAILED errors. Normally
   * a managed transaction, which the driver retries on transient failures; during an outage
   * (see the header) either an immediate failure or, once a second, a single attempt.
   */
  private async transaction<T>(
    state: OpenState,
    mode: "READ" | "WRITE",
    op: string,
    work: (tx: Pick<ManagedTransaction, "run">) => Promise<T>,
  ): Promise<T> {
    const probing = this.outage !== undefined;
    if (this.outage !== undefined) {
      const now = this.now();
      if (now - this.outage.lastAttemptAt < OUTAGE_PROBE_INTERVAL_MS) {
        throw new HallwayError("STORE_FAILED", this.outage.failure.message);
      }
      this.outage.lastAttemptAt = now;
    }
    const startedAt = this.now();
    let session: Session | undefined;
    try {
      session = this.session(state, mode);
      const result = probing
        ? await once(session, work)
        : mode === "READ"
          ? await session.executeRead(work)
          : await session.executeWrite(work);
      this.outage = undefined;
      return result;
    } catch (err) {
      const failure = describeNeo4jFailure(op, err, this.target);
      // Anything but "unreachable" (a refused constraint, an unknown user) means it answered.
      this.outage = isUnreachable(err) ? { lastAttemptAt: startedAt, failure } : undefined;
      throw failure;
    } finally {
      await session?.close().catch(() => {});
    }
  }
}

/** One explicit transaction, no retries: the outage probe. */
async function once<T>(
  session: Session,
  work: (tx: Pick<ManagedTransaction, "run">) => Promise<T>,
): Promise<T> {
  const tx = await session.beginTransaction();
  try {
    const result = await work(tx);
    await tx.commit();
    return result;
  } finally {
    await tx.close().catch(() => {});
  }
}

/** The only place a statement's text meets the driver: always a constant from `CYPHER`. */
function runStatement<K extends StatementKey>(
  tx: Pick<ManagedTransaction, "run">,
  key: K,
  params: ParamsOf<K>,
): Result {
  return tx.run(CYPHER[key].text, params);
}

function noUser(name: string): HallwayError {
  return new HallwayError("AUTH_UNKNOWN_USER", `no user ${JSON.stringify(name)}`);
}

function noGroup(name: string): HallwayError {
  return new HallwayError("GROUP_UNKNOWN", `no group ${JSON.stringify(name)}`);
}

function unknownUser(op: string, names: readonly string[]): HallwayError {
  const list = names.map((n) => JSON.stringify(n)).join(" and ");
  return new HallwayError("STORE_FAILED", `store ${op} failed: it refers to an unknown user (${list})`);
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n")[0] ?? "";
}
