/**
 * SQLite adapter for the registry `Store` port (better-sqlite3, one synchronous connection).
 *
 * Durability: the database runs in WAL mode with `synchronous = FULL`. WAL alone keeps every
 * committed transaction safe from a crash of this process; with the default `NORMAL` level the
 * last commits can still be rolled back by a power cut or OS crash, because the WAL is only
 * fsynced at checkpoints. `enqueueOffline` promises that a resolved message survives, and the
 * sender is told it was stored, so every commit fsyncs the WAL. The cost is one fsync per write,
 * which a LAN registry's write rate easily affords.
 *
 * Schema (version 1, recorded in `schema_migrations`):
 *
 *   users          name PK (NOCASE), password_hash, public_key, display_name, created_at, last_seen
 *   audit          id AUTOINCREMENT, user_name -> users, event, at, address
 *   messages       id PK, from_user -> users, to_user -> users, conversation, body, sent_at,
 *                  delivered_at; index (conversation, sent_at, id) serves history paging
 *   offline_queue  seq AUTOINCREMENT (enqueue order), message_id -> messages UNIQUE,
 *                  to_user -> users; index (to_user, seq)
 *
 * Queued message bodies live only in `messages`; the queue row is a pointer, so an offline
 * message is in history from the moment it is enqueued.
 */

import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import { HallwayError } from "../../errors.js";
import { conversationKey, rowLimit } from "./port-rules.js";
import type { AuditEntry, AuditEvent, HistoryCursor, Store, StoredMessage, UserRecord } from "./store.js";

export interface SqliteStoreOptions {
  /** Clock for times the port does not pass in (ack delivery time, migration time). */
  now?: () => number;
}

interface Migration {
  version: number;
  sql: string;
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE users (
        name TEXT NOT NULL COLLATE NOCASE PRIMARY KEY,
        password_hash TEXT NOT NULL,
        public_key TEXT,
        display_name TEXT,
        created_at INTEGER NOT NULL,
        last_seen INTEGER
      );
      CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_name TEXT NOT NULL COLLATE NOCASE REFERENCES users(name),
        event TEXT NOT NULL CHECK (event IN ('register', 'login', 'logout', 'timeout')),
        at INTEGER NOT NULL,
        address TEXT NOT NULL
      );
      CREATE INDEX audit_by_user ON audit(user_name, at);
      CREATE INDEX audit_by_time ON audit(at);
      CREATE TABLE messages (
        id TEXT NOT NULL PRIMARY KEY,
        from_user TEXT NOT NULL COLLATE NOCASE REFERENCES users(name),
        to_user TEXT NOT NULL COLLATE NOCASE REFERENCES users(name),
        conversation TEXT NOT NULL,
        body TEXT NOT NULL,
        sent_at INTEGER NOT NULL,
        delivered_at INTEGER
      );
      CREATE INDEX messages_by_conversation ON messages(conversation, sent_at, id);
      CREATE TABLE offline_queue (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL UNIQUE REFERENCES messages(id) ON DELETE CASCADE,
        to_user TEXT NOT NULL COLLATE NOCASE REFERENCES users(name)
      );
      CREATE INDEX offline_queue_by_recipient ON offline_queue(to_user, seq);
    `,
  },
];

const LATEST_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

interface UserRow {
  name: string;
  password_hash: string;
  public_key: string | null;
  display_name: string | null;
  created_at: number;
  last_seen: number | null;
}

interface MessageRow {
  id: string;
  from_user: string;
  to_user: string;
  body: string;
  sent_at: number;
  delivered_at: number | null;
}

interface AuditRow {
  user_name: string;
  event: AuditEvent;
  at: number;
  address: string;
}

const MESSAGE_COLUMNS = "m.id, m.from_user, m.to_user, m.body, m.sent_at, m.delivered_at";

function prepareStatements(db: Database.Database) {
  return {
    insertUser: db.prepare<[string, string, number]>(
      "INSERT INTO users (name, password_hash, created_at) VALUES (?, ?, ?)",
    ),
    getUser: db.prepare<[string], UserRow>("SELECT * FROM users WHERE name = ?"),
    listUsers: db.prepare<[], UserRow>("SELECT * FROM users ORDER BY name"),
    setPublicKey: db.prepare<[string, string]>("UPDATE users SET public_key = ? WHERE name = ?"),
    touchLastSeen: db.prepare<{ name: string; at: number }>(
      "UPDATE users SET last_seen = max(coalesce(last_seen, :at), :at) WHERE name = :name",
    ),
    insertAudit: db.prepare<[string, string, number, string]>(
      "INSERT INTO audit (user_name, event, at, address) VALUES (?, ?, ?, ?)",
    ),
    listAudit: db.prepare<[number], AuditRow>(
      "SELECT user_name, event, at, address FROM audit ORDER BY at DESC, id DESC LIMIT ?",
    ),
    listAuditForUser: db.prepare<[string, number], AuditRow>(
      "SELECT user_name, event, at, address FROM audit WHERE user_name = ? ORDER BY at DESC, id DESC LIMIT ?",
    ),
    insertMessage: db.prepare<[string, string, string, string, string, number, number | null]>(
      `INSERT INTO messages (id, from_user, to_user, conversation, body, sent_at, delivered_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    ),
    // Queues the stored copy (the first one wins), and only if it has not been delivered yet:
    // a retried enqueue after the recipient acknowledged must not deliver it twice.
    queueMessage: db.prepare<[string]>(
      `INSERT INTO offline_queue (message_id, to_user)
       SELECT id, to_user FROM messages WHERE id = ? AND delivered_at IS NULL
       ON CONFLICT (message_id) DO NOTHING`,
    ),
    pendingOffline: db.prepare<[string, number], MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM offline_queue q JOIN messages m ON m.id = q.message_id
       WHERE q.to_user = ? ORDER BY q.seq LIMIT ?`,
    ),
    dequeue: db.prepare<[string, string]>("DELETE FROM offline_queue WHERE message_id = ? AND to_user = ?"),
    markDelivered: db.prepare<[number, string]>(
      "UPDATE messages SET delivered_at = coalesce(delivered_at, ?) WHERE id = ?",
    ),
    historyLatest: db.prepare<[string, number], MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.conversation = ?
       ORDER BY m.sent_at DESC, m.id DESC LIMIT ?`,
    ),
    historyBefore: db.prepare<[string, number, string, number], MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.conversation = ? AND (m.sent_at, m.id) < (?, ?)
       ORDER BY m.sent_at DESC, m.id DESC LIMIT ?`,
    ),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

interface OpenState {
  kind: "open";
  db: Database.Database;
  statements: Statements;
}

type State = { kind: "new" } | OpenState | { kind: "closed" };

export class SqliteStore implements Store {
  readonly path: string;
  private readonly now: () => number;
  private state: State = { kind: "new" };

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.path = path;
    this.now = options.now ?? Date.now;
  }

  /** A store that is already initialised. */
  static async open(path: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
    const store = new SqliteStore(path, options);
    await store.init();
    return store;
  }

  async init(): Promise<void> {
    if (this.state.kind === "open") return;
    if (this.state.kind === "closed") throw new HallwayError("STORE_FAILED", "store is closed");

    const inMemory = this.path === ":memory:";
    if (!inMemory) {
      const dir = dirname(resolve(this.path));
      try {
        mkdirSync(dir, { recursive: true });
      } catch (err) {
        throw new HallwayError(
          "DATA_DIR_UNWRITABLE",
          `cannot create data directory ${dir} (${errorCode(err)})`,
          { cause: err },
        );
      }
    }

    let db: Database.Database | undefined;
    try {
      db = new Database(this.path);
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = FULL");
      db.pragma("foreign_keys = ON");
      this.migrate(db);
      this.state = { kind: "open", db, statements: prepareStatements(db) };
    } catch (err) {
      db?.close();
      throw toStoreError(`open ${this.path}`, err, this.path);
    }
  }

  async close(): Promise<void> {
    if (this.state.kind === "open") this.state.db.close();
    this.state = { kind: "closed" };
  }

  async createUser(user: { name: string; passwordHash: string; createdAt: number }): Promise<void> {
    this.run("createUser", (s) => {
      try {
        s.insertUser.run(user.name, user.passwordHash, user.createdAt);
      } catch (err) {
        if (sqliteCode(err) === "SQLITE_CONSTRAINT_PRIMARYKEY") {
          throw new HallwayError("AUTH_USER_EXISTS", `user ${JSON.stringify(user.name)} already exists`, {
            cause: err,
          });
        }
        throw err;
      }
    });
  }

  async getUser(name: string): Promise<UserRecord | undefined> {
    return this.run("getUser", (s) => {
      const row = s.getUser.get(name);
      return row === undefined ? undefined : toUser(row);
    });
  }

  async listUsers(): Promise<UserRecord[]> {
    return this.run("listUsers", (s) => s.listUsers.all().map(toUser));
  }

  async setPublicKey(name: string, publicKeyHex: string): Promise<void> {
    this.run("setPublicKey", (s) => {
      if (s.setPublicKey.run(publicKeyHex, name).changes === 0) {
        throw new HallwayError("AUTH_UNKNOWN_USER", `no user ${JSON.stringify(name)}`);
      }
    });
  }

  async flushLastSeen(entries: Array<{ name: string; at: number }>): Promise<void> {
    this.transaction("flushLastSeen", (s) => {
      for (const { name, at } of entries) s.touchLastSeen.run({ name, at });
    });
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    this.run("appendAudit", (s) => {
      s.insertAudit.run(entry.user, entry.event, entry.at, entry.address);
    });
  }

  async listAudit(opts: { user?: string; limit: number }): Promise<AuditEntry[]> {
    const limit = rowLimit(opts.limit);
    if (limit === 0) return [];
    return this.run("listAudit", (s) => {
      const rows =
        opts.user === undefined ? s.listAudit.all(limit) : s.listAuditForUser.all(opts.user, limit);
      return rows.map((r) => ({ user: r.user_name, event: r.event, at: r.at, address: r.address }));
    });
  }

  async enqueueOffline(msg: StoredMessage): Promise<void> {
    this.transaction("enqueueOffline", (s) => {
      insertMessage(s, msg);
      s.queueMessage.run(msg.id);
    });
  }

  async pendingOffline(to: string, limit: number): Promise<StoredMessage[]> {
    const rows = rowLimit(limit);
    if (rows === 0) return [];
    return this.run("pendingOffline", (s) => s.pendingOffline.all(to, rows).map(toMessage));
  }

  async ackOffline(to: string, ids: string[]): Promise<number> {
    const at = this.now();
    return this.transaction("ackOffline", (s) => {
      let removed = 0;
      for (const id of ids) {
        if (s.dequeue.run(id, to).changes === 0) continue;
        removed++;
        s.markDelivered.run(at, id);
      }
      return removed;
    });
  }

  async appendHistory(msg: StoredMessage): Promise<void> {
    this.run("appendHistory", (s) => insertMessage(s, msg));
  }

  async markDelivered(id: string, at: number): Promise<void> {
    this.run("markDelivered", (s) => {
      s.markDelivered.run(at, id);
    });
  }

  async history(
    a: string,
    b: string,
    opts: { limit: number; before?: HistoryCursor },
  ): Promise<StoredMessage[]> {
    const limit = rowLimit(opts.limit);
    if (limit === 0) return [];
    const conversation = conversationKey(a, b);
    return this.run("history", (s) => {
      const newestFirst =
        opts.before === undefined
          ? s.historyLatest.all(conversation, limit)
          : s.historyBefore.all(conversation, opts.before.sentAt, opts.before.id, limit);
      return newestFirst.reverse().map(toMessage);
    });
  }

  private migrate(db: Database.Database): void {
    db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    );
    db.transaction(() => {
      const row = db
        .prepare<[], { version: number | null }>("SELECT max(version) AS version FROM schema_migrations")
        .get();
      const current = row?.version ?? 0;
      if (current > LATEST_VERSION) {
        throw new HallwayError(
          "STORE_FAILED",
          `database ${this.path} has schema version ${current}, newer than this build supports (${LATEST_VERSION})`,
        );
      }
      const record = db.prepare<[number, number]>(
        "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
      );
      for (const migration of MIGRATIONS) {
        if (migration.version <= current) continue;
        db.exec(migration.sql);
        record.run(migration.version, this.now());
      }
    }).immediate();
  }

  private opened(): OpenState {
    switch (this.state.kind) {
      case "open":
        return this.state;
      case "new":
        throw new HallwayError("STORE_FAILED", "store used before init()");
      case "closed":
        throw new HallwayError("STORE_FAILED", "store is closed");
    }
  }

  private run<T>(op: string, fn: (s: Statements) => T): T {
    const { statements } = this.opened();
    try {
      return fn(statements);
    } catch (err) {
      throw toStoreError(op, err, this.path);
    }
  }

  /** `BEGIN IMMEDIATE`: take the write lock up front instead of failing to upgrade a read lock. */
  private transaction<T>(op: string, fn: (s: Statements) => T): T {
    const { db, statements } = this.opened();
    try {
      return db.transaction(() => fn(statements)).immediate();
    } catch (err) {
      throw toStoreError(op, err, this.path);
    }
  }
}

function insertMessage(s: Statements, msg: StoredMessage): void {
  s.insertMessage.run(
    msg.id,
    msg.from,
    msg.to,
    conversationKey(msg.from, msg.to),
    msg.body,
    msg.sentAt,
    msg.deliveredAt,
  );
}

function toUser(row: UserRow): UserRecord {
  return {
    name: row.name,
    passwordHash: row.password_hash,
    publicKey: row.public_key,
    displayName: row.display_name,
    createdAt: row.created_at,
    lastSeen: row.last_seen,
  };
}

function toMessage(row: MessageRow): StoredMessage {
  return {
    id: row.id,
    from: row.from_user,
    to: row.to_user,
    body: row.body,
    sentAt: row.sent_at,
    deliveredAt: row.delivered_at,
  };
}

function sqliteCode(err: unknown): string | undefined {
  return err instanceof Database.SqliteError ? err.code : undefined;
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code;
  return err instanceof Error ? (err.message.split("\n")[0] ?? "") : String(err);
}

const UNWRITABLE = /^SQLITE_(CANTOPEN|READONLY|PERM)/;

function toStoreError(op: string, err: unknown, path: string): HallwayError {
  if (err instanceof HallwayError) return err;
  const code = sqliteCode(err);
  if (code !== undefined && UNWRITABLE.test(code)) {
    return new HallwayError("DATA_DIR_UNWRITABLE", `cannot write database ${path} (${code})`, { cause: err });
  }
  if (code === "SQLITE_CONSTRAINT_FOREIGNKEY") {
    return new HallwayError("STORE_FAILED", `store ${op} failed: it refers to an unknown user`, {
      cause: err,
    });
  }
  const detail = err instanceof Error ? (err.message.split("\n")[0] ?? "") : String(err);
  return new HallwayError("STORE_FAILED", `store ${op} failed: ${detail}${code ? ` (${code})` : ""}`, {
    cause: err,
  });
}
