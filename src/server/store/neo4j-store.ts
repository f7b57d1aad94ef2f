/**
 * Neo4j adapter for the registry `Store` port (neo4j-driver). Same contract as SQLite, checked
 * by the same suite when `HALLWAY_NEO4J_URI` names a server (`test/server/neo4j-store.test.ts`).
 *
 * Graph model (every node also carries `registry`, see below):
 *
 *   (:Registry {registry, schemaVersion, createdAt, auditSeq})
 *   (:User {name, nameLower, passwordHash, publicKey, displayName, createdAt, lastSeen, queueSeq})
 *   (:User)-[:SENT]->(:Message {id, from, to, conversation, body, sentAt, deliveredAt})-[:TO]->(:User)
 *   (:User)-[:QUEUED {seq}]->(:Message)           the offline queue: recipient -> queued message
 *   (:User)-[:LOGGED]->(:Audit {user, event, at, address, seq})
 *
 *   unique (registry, nameLower) on User, (registry, id) on Message, registry on Registry;
 *   indexes (registry, conversation, sentAt) on Message for history pages, (registry, at) on Audit.
 *
 * Ordering keys. The queue's order is `QUEUED.seq`, taken from a counter on the recipient's node
 * in the transaction that queues; the audit's tie-break is `Audit.seq`, from a counter on the
 * registry node. Incrementing a counter with `SET n.c = n.c + 1` takes the node's write lock
 * before reading it (Neo4j's rule for a SET that reads what it writes), so concurrent writers
 * get distinct, increasing numbers. History pages by (sentAt, id) like SQLite.
 *
 * `registry` scopes everything: one Neo4j database can hold several registries, and the contract
 * tests use a fresh one per test on a shared server without touching anything else.
 *
 * Transactions. Every write runs in `session.executeWrite`, every read in `executeRead`, each in
 * a short session; all sessions share one bookmark manager, so in a cluster a read routed to
 * another member still sees this store's earlier writes. The driver retries a transaction that
 * failed transiently (leader switch, deadlock, lost connection) for up to
 * `maxTransactionRetryTimeMs`; work functions are idempotent for that reason.
 *
 * Connections belong to the driver: it keeps a pool, replaces broken connections on the next
 * use, and with a `neo4j://` URI keeps a routing table of the cluster (writes to the leader,
 * reads spread over members). There is no reconnect logic here. `init()` checks once that the
 * server answers and accepts the credentials, so a bad URI or password fails at start-up with
 * one line, not at the first login.
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
  type Session,
} from "neo4j-driver";
import { HallwayError } from "../../errors.js";
import {
  CYPHER,
  type DataKey,
  GRAPH_SCHEMA_VERSION,
  type ParamsOf,
  type ReadKey,
  SCHEMA_KEYS,
  type StatementKey,
} from "./cypher.js";
import {
  describeNeo4jFailure,
  displayUri,
  type Neo4jTarget,
  toAuditEntry,
  toCount,
  toStoredMessage,
  toUserRecord,
} from "./neo4j-mapping.js";
import { conversationKey, nameKey, rowLimit } from "./port-rules.js";
import type { AuditEntry, HistoryCursor, Store, StoredMessage, UserRecord } from "./store.js";

export interface Neo4jConnection {
  /** `bolt://host:7687` for one server, `neo4j://host:7687` for routing (clusters); `+s` for TLS. */
  uri: string;
  user: string;
  password: string;
  /** Omitted: the server's default (or the user's home) database. */
  database?: string;
}

export interface Neo4jStoreOptions extends Neo4jConnection {
  /** Which registry's data in the database this store sees. Default `"hallway"`. */
  registry?: string;
  /** Clock for times the port does not pass in (ack delivery time, registry creation). */
  now?: () => number;
  /** Limit for opening a connection, TCP and Bolt handshake. Default 5000. */
  connectionTimeoutMs?: number;
  /** How long the driver keeps retrying a transiently failed transaction. Default 10000. */
  maxTransactionRetryTimeMs?: number;
  /** Builds the driver. Default: neo4j-driver's `driver()`; tests pass a scripted fake. */
  createDriver?: DriverFactory;
}

export type DriverFactory = (uri: string, authToken: AuthToken, config: Config) => Driver;

export const DEFAULT_REGISTRY = "hallway";
const DEFAULT_CONNECTION_TIMEOUT_MS = 5_000;
// A registry request waits on its store call; past ~10 s the client has given up anyway.
const DEFAULT_MAX_RETRY_TIME_MS = 10_000;

type ReadRun = <K extends ReadKey>(key: K, params: ParamsOf<K>) => Promise<QueryResult>;
type WriteRun = <K extends DataKey>(key: K, params: ParamsOf<K>) => Promise<QueryResult>;

interface OpenState {
  kind: "open";
  driver: Driver;
  bookmarks: BookmarkManager;
}

type State = { kind: "new" } | { kind: "opening"; done: Promise<void> } | OpenState | { kind: "closed" };

export class Neo4jStore implements Store {
  readonly registry: string;
  private readonly connection: Neo4jConnection;
  private readonly target: Neo4jTarget;
  private readonly now: () => number;
  private readonly connectionTimeoutMs: number;
  private readonly maxTransactionRetryTimeMs: number;
  private readonly createDriver: DriverFactory;
  private state: State = { kind: "new" };

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

  async setPublicKey(name: string, publicKeyHex: string): Promise<void> {
    await this.write("setPublicKey", async (run) => {
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
    await this.write("appendAudit", async (run) => {
      const result = await run("appendAudit", {
        registry: this.registry,
        userKey: nameKey(entry.user),
        user: entry.user,
        event: entry.event,
        at: int(entry.at),
        address: entry.address,
      });
      if (toCount(result.records[0]?.get("written"), "written") === 0) {
        throw unknownUser("appendAudit", [entry.user]);
      }
    });
  }

  async listAudit(opts: { user?: string; limit: number }): Promise<AuditEntry[]> {
    const limit = rowLimit(opts.limit);
    if (limit === 0) {
      this.opened();
      return [];
    }
    return this.read("listAudit", async (run) => {
      const result =
        opts.user === undefined
          ? await run("listAudit", { registry: this.registry, limit: int(limit) })
          : await run("listAuditForUser", {
              registry: this.registry,
              userKey: nameKey(opts.user),
              limit: int(limit),
            });
      return result.records.map((r) => toAuditEntry(r.get("entry")));
    });
  }

  async enqueueOffline(msg: StoredMessage): Promise<void> {
    await this.write("enqueueOffline", async (run) => {
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
    await this.write("appendHistory", (run) => this.insertMessage(run, "appendHistory", msg));
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

  // Not yet in the graph model: the social methods follow in the next change.
  setProfile(): Promise<never> {
    return Promise.reject(notYet("setProfile"));
  }
  searchUsers(): Promise<never> {
    return Promise.reject(notYet("searchUsers"));
  }
  putFriendRequest(): Promise<never> {
    return Promise.reject(notYet("putFriendRequest"));
  }
  deleteFriendRequest(): Promise<never> {
    return Promise.reject(notYet("deleteFriendRequest"));
  }
  friendRequestsTo(): Promise<never> {
    return Promise.reject(notYet("friendRequestsTo"));
  }
  friendRequestsFrom(): Promise<never> {
    return Promise.reject(notYet("friendRequestsFrom"));
  }
  addFriendship(): Promise<never> {
    return Promise.reject(notYet("addFriendship"));
  }
  removeFriendship(): Promise<never> {
    return Promise.reject(notYet("removeFriendship"));
  }
  friendsOf(): Promise<never> {
    return Promise.reject(notYet("friendsOf"));
  }
  areFriends(): Promise<never> {
    return Promise.reject(notYet("areFriends"));
  }
  createGroup(): Promise<never> {
    return Promise.reject(notYet("createGroup"));
  }
  getGroup(): Promise<never> {
    return Promise.reject(notYet("getGroup"));
  }
  searchGroups(): Promise<never> {
    return Promise.reject(notYet("searchGroups"));
  }
  deleteGroup(): Promise<never> {
    return Promise.reject(notYet("deleteGroup"));
  }
  setGroupAdmin(): Promise<never> {
    return Promise.reject(notYet("setGroupAdmin"));
  }
  groupMembers(): Promise<never> {
    return Promise.reject(notYet("groupMembers"));
  }
  groupsOf(): Promise<never> {
    return Promise.reject(notYet("groupsOf"));
  }
  addMember(): Promise<never> {
    return Promise.reject(notYet("addMember"));
  }
  removeMember(): Promise<never> {
    return Promise.reject(notYet("removeMember"));
  }
  putJoinRequest(): Promise<never> {
    return Promise.reject(notYet("putJoinRequest"));
  }
  deleteJoinRequest(): Promise<never> {
    return Promise.reject(notYet("deleteJoinRequest"));
  }
  joinRequests(): Promise<never> {
    return Promise.reject(notYet("joinRequests"));
  }
  appendGroupMessage(): Promise<never> {
    return Promise.reject(notYet("appendGroupMessage"));
  }
  groupHistory(): Promise<never> {
    return Promise.reject(notYet("groupHistory"));
  }
  groupBacklog(): Promise<never> {
    return Promise.reject(notYet("groupBacklog"));
  }
  ackGroup(): Promise<never> {
    return Promise.reject(notYet("ackGroup"));
  }
  enqueueNotice(): Promise<never> {
    return Promise.reject(notYet("enqueueNotice"));
  }
  pendingNotices(): Promise<never> {
    return Promise.reject(notYet("pendingNotices"));
  }
  ackNotices(): Promise<never> {
    return Promise.reject(notYet("ackNotices"));
  }
  suggest(): Promise<never> {
    return Promise.reject(notYet("suggest"));
  }
  load(): Promise<never> {
    return Promise.reject(notYet("load"));
  }
  dump(): AsyncIterable<never> {
    throw notYet("dump");
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
          // Also bounds a server that accepts TCP but never answers the Bolt handshake.
          connectionAcquisitionTimeout: this.connectionTimeoutMs,
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
    } catch (err) {
      await driver.close().catch(() => {});
      throw describeNeo4jFailure("init", err, this.target);
    }
    return opened;
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

  /** One managed transaction in a short session; failures become one-line STORE_FAILED errors. */
  private async transaction<T>(
    state: OpenState,
    mode: "READ" | "WRITE",
    op: string,
    work: (tx: ManagedTransaction) => Promise<T>,
  ): Promise<T> {
    let session: Session | undefined;
    try {
      session = state.driver.session({
        defaultAccessMode: mode,
        bookmarkManager: state.bookmarks,
        ...(this.connection.database === undefined ? {} : { database: this.connection.database }),
      });
      return mode === "READ" ? await session.executeRead(work) : await session.executeWrite(work);
    } catch (err) {
      throw describeNeo4jFailure(op, err, this.target);
    } finally {
      await session?.close().catch(() => {});
    }
  }
}

/** The only place a statement's text meets the driver: always a constant from `CYPHER`. */
function runStatement<K extends StatementKey>(
  tx: ManagedTransaction,
  key: K,
  params: ParamsOf<K>,
): Promise<QueryResult> {
  return tx.run(CYPHER[key].text, params);
}

function unknownUser(op: string, names: readonly string[]): HallwayError {
  const list = names.map((n) => JSON.stringify(n)).join(" and ");
  return new HallwayError("STORE_FAILED", `store ${op} failed: it refers to an unknown user (${list})`);
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n")[0] ?? "";
}

function notYet(op: string): HallwayError {
  return new HallwayError("STORE_FAILED", `store ${op} failed: not yet supported by the Neo4j adapter`);
}
