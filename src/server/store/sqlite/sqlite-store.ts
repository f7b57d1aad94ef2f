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
 * Schema (version 5, recorded in `schema_migrations`; every user/group column is NOCASE and
 * holds the spelling stored in `users`/`chat_groups`, resolved when a row is written):
 *
 *   users            name PK, password_hash, public_key, created_at, last_seen, profile columns
 *                    (display_name, status_text, email, phone, department, note) and
 *                    display_key (`searchKey(display_name)`); index display_key; schema 5:
 *                    birth_date, gender, country, region, school, profession, visibility,
 *                    profile_updated_at, and search_text (`searchWords` of name, display name,
 *                    department, school, profession; kept by triggers through the JavaScript
 *                    function `hallway_search_words`), which user search scans
 *   audit            id AUTOINCREMENT, user_name (the name as given: no foreign key, a failed
 *                    login may name nobody), event, at, address, detail; indexes (user_name, at)
 *                    and (at)
 *   messages         id PK, from_user -> users, to_user -> users, conversation, body, sent_at,
 *                    delivered_at; index (conversation, sent_at, id) serves history paging
 *   offline_queue    seq AUTOINCREMENT (enqueue order), message_id -> messages UNIQUE,
 *                    to_user -> users; index (to_user, seq)
 *   friend_requests  (from_user, to_user) PK, at; index (to_user, at) for incoming requests
 *   friendships      (user_name, friend_name) PK, since; one row per direction, so a user's
 *                    friends are one PK range and "friend of a friend" is one self-join
 *   chat_groups      name PK, admin -> users, created_at, last_seq (the group's counter),
 *                    description (schema 5)
 *   group_members    (group_name, user_name) PK, joined_at, acked_seq; index (user_name)
 *   join_requests    (group_name, user_name) PK, at; index (group_name, at)
 *   group_messages   id PK, group_name, from_user, body, sent_at, seq; UNIQUE (group_name, seq)
 *                    serves history pages and backlogs
 *   notices          seq AUTOINCREMENT (enqueue order), id UNIQUE, to_user, kind, body, at;
 *                    index (to_user, seq)
 *   message_text,    FTS5 tables (trigram tokenizer: any substring of 3 or more characters is
 *   group_message_   an index lookup) holding `searchKey(body)` of each message and group
 *   text             message under its rowid; triggers keep them in step (the key is computed
 *                    by the JavaScript function `hallway_search_key`, registered on open)
 *
 * Rows of a group go with it (ON DELETE CASCADE). Queued message bodies live only in
 * `messages`; the queue row is a pointer, so an offline message is in history from the moment
 * it is enqueued. Multi-step changes (accepting a friend, joining a group, assigning a group
 * sequence number) run in one `BEGIN IMMEDIATE` transaction, so the counter read and the insert
 * cannot interleave with another writer.
 *
 * Row shapes and their mapping to the port's records are in `sqlite-rows.ts`; the export's
 * queries and the import's inserts in `sqlite-dump.ts`.
 */

import { chmodSync, closeSync, mkdirSync, openSync, readSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import { HallwayError } from "../../../errors.js";
import { GroupCommit, type Outcome } from "../group-commit.js";
import {
  conversationKey,
  groupMessageHit,
  messageHit,
  newestHits,
  rowLimit,
  searchKey,
} from "../port-rules.js";
import { searchNeedle, searchWords } from "../search-words.js";
import {
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
  type ProfileField,
  type ProfilePatch,
  type Store,
  type StoredMessage,
  type Suggestion,
  type TimeNameCursor,
  type UserRecord,
} from "../store.js";
import { DUMP_QUERIES, prepareLoad } from "./dump.js";
import {
  type AuditRow,
  GROUP_MESSAGE_COLUMNS,
  type GroupMessageRow,
  type GroupRow,
  MESSAGE_COLUMNS,
  type MemberRow,
  type MessageRow,
  type NoticeRow,
  toAuditEntry,
  toGroup,
  toGroupMessage,
  toMember,
  toMessage,
  toNotice,
  toUser,
  USER_COLUMNS,
  type UserRow,
} from "./rows.js";

export interface SqliteStoreOptions {
  /** Clock for times the port does not pass in (ack delivery time, migration time). */
  now?: () => number;
  /** How long a write waits for another connection's lock before `SQLITE_BUSY`. Default 5000. */
  busyTimeoutMs?: number;
  /** An existing empty file is a deliberately new store (`hallway server --init`), not a damaged one. */
  init?: boolean;
}

const SQLITE_HEADER = Buffer.from("SQLite format 3\0");

/**
 * STORE_CORRUPT for a store file that exists but is empty (unless `init`) or is not a SQLite
 * database: opening it would start an empty registry, every account gone, without a word.
 */
function checkStoreFile(path: string, init: boolean): { fresh: boolean } {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return { fresh: true };
  }
  if (size === 0) {
    if (init) return { fresh: true };
    throw new HallwayError(
      "STORE_CORRUPT",
      `the store ${path} is empty: its accounts are gone; restore it from a backup, or start a new store deliberately with --init`,
    );
  }
  const head = Buffer.alloc(SQLITE_HEADER.length);
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    readSync(fd, head, 0, head.length, 0);
  } catch {
    return { fresh: false }; // unreadable: opening it reports why
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (!head.equals(SQLITE_HEADER)) {
    throw new HallwayError(
      "STORE_CORRUPT",
      `the store ${path} is not a SQLite database; restore it from a backup, or move it away to start a new store`,
    );
  }
  return { fresh: false };
}

/** One append in a group commit: statements run inside the batch's transaction. */
type Append = { op: string; apply: (s: Statements) => unknown };

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
  {
    version: 2,
    sql: `
      ALTER TABLE users ADD COLUMN status_text TEXT;
      ALTER TABLE users ADD COLUMN email TEXT;
      ALTER TABLE users ADD COLUMN phone TEXT;
      ALTER TABLE users ADD COLUMN department TEXT;
      ALTER TABLE users ADD COLUMN note TEXT;
      ALTER TABLE users ADD COLUMN display_key TEXT;
      UPDATE users SET display_key = lower(display_name) WHERE display_name IS NOT NULL;
      CREATE INDEX users_by_display_key ON users(display_key);
      CREATE TABLE friend_requests (
        from_user TEXT NOT NULL COLLATE NOCASE REFERENCES users(name),
        to_user TEXT NOT NULL COLLATE NOCASE REFERENCES users(name),
        at INTEGER NOT NULL,
        PRIMARY KEY (from_user, to_user)
      );
      CREATE INDEX friend_requests_to ON friend_requests(to_user, at);
      CREATE TABLE friendships (
        user_name TEXT NOT NULL COLLATE NOCASE REFERENCES users(name),
        friend_name TEXT NOT NULL COLLATE NOCASE REFERENCES users(name),
        since INTEGER NOT NULL,
        PRIMARY KEY (user_name, friend_name)
      );
      CREATE TABLE chat_groups (
        name TEXT NOT NULL COLLATE NOCASE PRIMARY KEY,
        admin TEXT NOT NULL COLLATE NOCASE REFERENCES users(name),
        created_at INTEGER NOT NULL,
        last_seq INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE group_members (
        group_name TEXT NOT NULL COLLATE NOCASE REFERENCES chat_groups(name) ON DELETE CASCADE,
        user_name TEXT NOT NULL COLLATE NOCASE REFERENCES users(name),
        joined_at INTEGER NOT NULL,
        acked_seq INTEGER NOT NULL,
        PRIMARY KEY (group_name, user_name)
      );
      CREATE INDEX group_members_by_user ON group_members(user_name, group_name);
      CREATE TABLE join_requests (
        group_name TEXT NOT NULL COLLATE NOCASE REFERENCES chat_groups(name) ON DELETE CASCADE,
        user_name TEXT NOT NULL COLLATE NOCASE REFERENCES users(name),
        at INTEGER NOT NULL,
        PRIMARY KEY (group_name, user_name)
      );
      CREATE INDEX join_requests_by_group ON join_requests(group_name, at);
      CREATE TABLE group_messages (
        id TEXT NOT NULL PRIMARY KEY,
        group_name TEXT NOT NULL COLLATE NOCASE REFERENCES chat_groups(name) ON DELETE CASCADE,
        from_user TEXT NOT NULL COLLATE NOCASE REFERENCES users(name),
        body TEXT NOT NULL,
        sent_at INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        UNIQUE (group_name, seq)
      );
      CREATE TABLE notices (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        to_user TEXT NOT NULL COLLATE NOCASE REFERENCES users(name),
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        at INTEGER NOT NULL
      );
      CREATE INDEX notices_by_recipient ON notices(to_user, seq);
    `,
  },
  {
    // Audit entries for names nobody registered (failed logins) and for events without an
    // account (blocks), with a detail; the event list is the port's, checked when read.
    version: 3,
    sql: `
      CREATE TABLE audit_v3 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_name TEXT NOT NULL COLLATE NOCASE,
        event TEXT NOT NULL,
        at INTEGER NOT NULL,
        address TEXT NOT NULL,
        detail TEXT
      );
      INSERT INTO audit_v3 (id, user_name, event, at, address)
        SELECT id, user_name, event, at, address FROM audit ORDER BY id;
      DROP TABLE audit;
      ALTER TABLE audit_v3 RENAME TO audit;
      CREATE INDEX audit_by_user ON audit(user_name, at);
      CREATE INDEX audit_by_time ON audit(at);
    `,
  },
  {
    // Message search (`searchMessages`): the text of every message, lower-cased in JavaScript,
    // in a trigram index. Contentful, so LIKE can check each candidate.
    version: 4,
    sql: `
      CREATE VIRTUAL TABLE message_text USING fts5(key, tokenize = 'trigram');
      CREATE VIRTUAL TABLE group_message_text USING fts5(key, tokenize = 'trigram');
      INSERT INTO message_text (rowid, key) SELECT rowid, hallway_search_key(body) FROM messages;
      INSERT INTO group_message_text (rowid, key) SELECT rowid, hallway_search_key(body) FROM group_messages;
      CREATE TRIGGER message_text_insert AFTER INSERT ON messages BEGIN
        INSERT INTO message_text (rowid, key) VALUES (new.rowid, hallway_search_key(new.body));
      END;
      CREATE TRIGGER message_text_delete AFTER DELETE ON messages BEGIN
        DELETE FROM message_text WHERE rowid = old.rowid;
      END;
      CREATE TRIGGER group_message_text_insert AFTER INSERT ON group_messages BEGIN
        INSERT INTO group_message_text (rowid, key) VALUES (new.rowid, hallway_search_key(new.body));
      END;
      CREATE TRIGGER group_message_text_delete AFTER DELETE ON group_messages BEGIN
        DELETE FROM group_message_text WHERE rowid = old.rowid;
      END;
    `,
  },
  {
    // Profiles from the seed designs, a description for groups, and user search by any word
    // (accent-folded in JavaScript). A scan of search_text: an office's users are few enough
    // that it stays well under a millisecond per thousand, and a word index would have to be
    // kept per word.
    version: 5,
    sql: `
      ALTER TABLE users ADD COLUMN birth_date TEXT;
      ALTER TABLE users ADD COLUMN gender TEXT;
      ALTER TABLE users ADD COLUMN country TEXT;
      ALTER TABLE users ADD COLUMN region TEXT;
      ALTER TABLE users ADD COLUMN school TEXT;
      ALTER TABLE users ADD COLUMN profession TEXT;
      ALTER TABLE users ADD COLUMN visibility TEXT;
      ALTER TABLE users ADD COLUMN profile_updated_at INTEGER;
      ALTER TABLE users ADD COLUMN search_text TEXT NOT NULL DEFAULT ' ';
      UPDATE users SET search_text = hallway_search_words(name, display_name, department, school, profession);
      CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
        UPDATE users SET search_text = hallway_search_words(new.name, new.display_name, new.department, new.school, new.profession)
        WHERE name = new.name;
      END;
      CREATE TRIGGER users_search_update AFTER UPDATE OF display_name, department, school, profession ON users BEGIN
        UPDATE users SET search_text = hallway_search_words(new.name, new.display_name, new.department, new.school, new.profession)
        WHERE name = new.name;
      END;
      ALTER TABLE chat_groups ADD COLUMN description TEXT;
    `,
  },
];

const LATEST_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

/** Profile fields and their columns; the only names `setProfile` puts into SQL text. */
const PROFILE_COLUMNS: Readonly<Record<ProfileField, string>> = {
  displayName: "display_name",
  statusText: "status_text",
  email: "email",
  phone: "phone",
  department: "department",
  note: "note",
  birthDate: "birth_date",
  gender: "gender",
  country: "country",
  region: "region",
  school: "school",
  profession: "profession",
  visibility: "visibility",
};

/** Above every character of a UTF-8 key: `key >= p AND key < p || PREFIX_END` is "starts with p". */
const PREFIX_END = "char(1114111)";

/** `text LIKE pattern ESCAPE '\\'` finds `text` containing `query` literally. */
function containsPattern(query: string): string {
  return `%${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function prepareStatements(db: Database.Database) {
  return {
    searchMessages: db.prepare<{ user: string; pattern: string; limit: number }, MessageRow>(
      `SELECT m.id, m.from_user, m.to_user, m.body, m.sent_at, m.delivered_at
       FROM message_text t JOIN messages m ON m.rowid = t.rowid
       WHERE t.key LIKE :pattern ESCAPE '\\' AND (m.from_user = :user OR m.to_user = :user)
       ORDER BY m.sent_at DESC, m.id DESC LIMIT :limit`,
    ),
    searchGroupMessages: db.prepare<{ user: string; pattern: string; limit: number }, GroupMessageRow>(
      `SELECT g.id, g.group_name, g.from_user, g.body, g.sent_at, g.seq
       FROM group_message_text t JOIN group_messages g ON g.rowid = t.rowid
       JOIN group_members gm ON gm.group_name = g.group_name AND gm.user_name = :user
       WHERE t.key LIKE :pattern ESCAPE '\\'
       ORDER BY g.sent_at DESC, g.id DESC LIMIT :limit`,
    ),
    insertUser: db.prepare<[string, string, number]>(
      "INSERT INTO users (name, password_hash, created_at) VALUES (?, ?, ?)",
    ),
    getUser: db.prepare<[string], UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE name = ?`),
    listUsers: db.prepare<[], UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY name`),
    userName: db.prepare<[string], string>("SELECT name FROM users WHERE name = ?").pluck(),
    setPublicKey: db.prepare<[string, string]>("UPDATE users SET public_key = ? WHERE name = ?"),
    touchLastSeen: db.prepare<{ name: string; at: number }>(
      "UPDATE users SET last_seen = max(coalesce(last_seen, :at), :at) WHERE name = :name",
    ),
    insertAudit: db.prepare<[string, string, number, string, string | null]>(
      "INSERT INTO audit (user_name, event, at, address, detail) VALUES (?, ?, ?, ?, ?)",
    ),
    // Every filter is a parameter; a NULL one passes everything. The event filter is a JSON
    // array so one statement serves any set of events.
    listAudit: db.prepare<
      {
        user: string | null;
        since: number | null;
        until: number | null;
        events: string | null;
        limit: number;
      },
      AuditRow
    >(
      `SELECT user_name, event, at, address, detail FROM audit
       WHERE (:user IS NULL OR user_name = :user)
         AND (:since IS NULL OR at >= :since)
         AND (:until IS NULL OR at < :until)
         AND (:events IS NULL OR event IN (SELECT value FROM json_each(:events)))
       ORDER BY at DESC, id DESC LIMIT :limit`,
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

    // A walk of the primary key in name order that stops at `limit` matches (schema 5).
    searchUsers: db.prepare<{ needle: string; limit: number }, UserRow>(
      `SELECT ${USER_COLUMNS} FROM users WHERE instr(search_text, :needle) > 0 ORDER BY name LIMIT :limit`,
    ),

    usersAfter: db.prepare<[string, number], UserRow>(
      `SELECT ${USER_COLUMNS} FROM users WHERE name > ? ORDER BY name LIMIT ?`,
    ),
    searchUsersAfter: db.prepare<{ needle: string; after: string; limit: number }, UserRow>(
      `SELECT ${USER_COLUMNS} FROM users WHERE name > :after AND instr(search_text, :needle) > 0
       ORDER BY name LIMIT :limit`,
    ),
    friendRequestsToAfter: db.prepare<[string, number, number, string, number], FriendRequest>(
      `SELECT from_user AS "from", to_user AS "to", at FROM friend_requests
       WHERE to_user = ? AND (at > ? OR (at = ? AND from_user > ?))
       ORDER BY at, from_user LIMIT ?`,
    ),
    friendRequestsFromAfter: db.prepare<[string, number, number, string, number], FriendRequest>(
      `SELECT from_user AS "from", to_user AS "to", at FROM friend_requests
       WHERE from_user = ? AND (at > ? OR (at = ? AND to_user > ?))
       ORDER BY at, to_user LIMIT ?`,
    ),
    friendsAfter: db.prepare<[string, string, number], Friendship>(
      `SELECT friend_name AS name, since FROM friendships WHERE user_name = ? AND friend_name > ?
       ORDER BY friend_name LIMIT ?`,
    ),
    searchGroupsAfter: db.prepare<{ prefix: string; after: string; limit: number }, GroupRow>(
      `SELECT * FROM chat_groups WHERE name > :after AND name >= :prefix AND name < :prefix || ${PREFIX_END}
       ORDER BY name LIMIT :limit`,
    ),
    countOffline: db
      .prepare<[string], number>("SELECT count(*) FROM offline_queue WHERE to_user = ?")
      .pluck(),
    countFriendRequestsTo: db
      .prepare<[string], number>("SELECT count(*) FROM friend_requests WHERE to_user = ?")
      .pluck(),
    countJoinRequests: db
      .prepare<[string], number>("SELECT count(*) FROM join_requests WHERE group_name = ?")
      .pluck(),

    putFriendRequest: db.prepare<[string, string, number]>(
      "INSERT INTO friend_requests (from_user, to_user, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    ),
    deleteFriendRequest: db.prepare<[string, string]>(
      "DELETE FROM friend_requests WHERE from_user = ? AND to_user = ?",
    ),
    friendRequestsTo: db.prepare<[string], FriendRequest>(
      `SELECT from_user AS "from", to_user AS "to", at FROM friend_requests WHERE to_user = ?
       ORDER BY at, from_user`,
    ),
    friendRequestsFrom: db.prepare<[string], FriendRequest>(
      `SELECT from_user AS "from", to_user AS "to", at FROM friend_requests WHERE from_user = ?
       ORDER BY at, to_user`,
    ),
    addFriendship: db.prepare<[string, string, number]>(
      "INSERT INTO friendships (user_name, friend_name, since) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    ),
    removeFriendship: db.prepare<[string, string]>(
      "DELETE FROM friendships WHERE user_name = ? AND friend_name = ?",
    ),
    friendsOf: db.prepare<[string], Friendship>(
      "SELECT friend_name AS name, since FROM friendships WHERE user_name = ? ORDER BY friend_name",
    ),
    areFriends: db
      .prepare<[string, string], number>(
        "SELECT count(*) FROM friendships WHERE user_name = ? AND friend_name = ?",
      )
      .pluck(),

    insertGroup: db.prepare<[string, string, number, number]>(
      "INSERT INTO chat_groups (name, admin, created_at, last_seq) VALUES (?, ?, ?, ?)",
    ),
    getGroup: db.prepare<[string], GroupRow>("SELECT * FROM chat_groups WHERE name = ?"),
    searchGroups: db.prepare<{ prefix: string; limit: number }, GroupRow>(
      `SELECT * FROM chat_groups WHERE name >= :prefix AND name < :prefix || ${PREFIX_END}
       ORDER BY name LIMIT :limit`,
    ),
    deleteGroup: db.prepare<[string]>("DELETE FROM chat_groups WHERE name = ?"),
    setGroupAdmin: db.prepare<[string, string]>("UPDATE chat_groups SET admin = ? WHERE name = ?"),
    setGroupDescription: db.prepare<[string | null, string]>(
      "UPDATE chat_groups SET description = ? WHERE name = ?",
    ),
    nextGroupSeq: db
      .prepare<[string], number>(
        "UPDATE chat_groups SET last_seq = last_seq + 1 WHERE name = ? RETURNING last_seq",
      )
      .pluck(),
    insertMember: db.prepare<[string, string, number, number]>(
      `INSERT INTO group_members (group_name, user_name, joined_at, acked_seq) VALUES (?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
    ),
    deleteMember: db.prepare<[string, string]>(
      "DELETE FROM group_members WHERE group_name = ? AND user_name = ?",
    ),
    getMember: db.prepare<[string, string], MemberRow>(
      "SELECT user_name, joined_at, acked_seq FROM group_members WHERE group_name = ? AND user_name = ?",
    ),
    groupMembers: db.prepare<[string], MemberRow>(
      "SELECT user_name, joined_at, acked_seq FROM group_members WHERE group_name = ? ORDER BY user_name",
    ),
    groupsOf: db.prepare<[string], GroupRow>(
      `SELECT g.* FROM group_members gm JOIN chat_groups g ON g.name = gm.group_name
       WHERE gm.user_name = ? ORDER BY g.name`,
    ),
    ackGroup: db.prepare<{ group: string; user: string; seq: number }>(
      `UPDATE group_members
       SET acked_seq = max(acked_seq, min(:seq, (SELECT last_seq FROM chat_groups WHERE name = :group)))
       WHERE group_name = :group AND user_name = :user`,
    ),
    putJoinRequest: db.prepare<[string, string, number]>(
      "INSERT INTO join_requests (group_name, user_name, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    ),
    deleteJoinRequest: db.prepare<[string, string]>(
      "DELETE FROM join_requests WHERE group_name = ? AND user_name = ?",
    ),
    joinRequests: db.prepare<[string], JoinRequest>(
      `SELECT group_name AS "group", user_name AS user, at FROM join_requests WHERE group_name = ?
       ORDER BY at, user_name`,
    ),

    getGroupMessage: db.prepare<[string], GroupMessageRow>(
      `SELECT ${GROUP_MESSAGE_COLUMNS} FROM group_messages WHERE id = ?`,
    ),
    insertGroupMessage: db.prepare<[string, string, string, string, number, number]>(
      `INSERT INTO group_messages (id, group_name, from_user, body, sent_at, seq) VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    groupHistoryLatest: db.prepare<[string, number], GroupMessageRow>(
      `SELECT ${GROUP_MESSAGE_COLUMNS} FROM group_messages WHERE group_name = ? ORDER BY seq DESC LIMIT ?`,
    ),
    groupHistoryBefore: db.prepare<[string, number, number], GroupMessageRow>(
      `SELECT ${GROUP_MESSAGE_COLUMNS} FROM group_messages WHERE group_name = ? AND seq < ?
       ORDER BY seq DESC LIMIT ?`,
    ),
    groupMessagesAfter: db.prepare<[string, number, number], GroupMessageRow>(
      `SELECT ${GROUP_MESSAGE_COLUMNS} FROM group_messages WHERE group_name = ? AND seq > ?
       ORDER BY seq LIMIT ?`,
    ),

    insertNotice: db.prepare<[string, string, string, string, number]>(
      "INSERT INTO notices (id, to_user, kind, body, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
    ),
    pendingNotices: db.prepare<[string, number], NoticeRow>(
      "SELECT id, to_user, kind, body, at FROM notices WHERE to_user = ? ORDER BY seq LIMIT ?",
    ),
    deleteNotice: db.prepare<[string, string]>("DELETE FROM notices WHERE id = ? AND to_user = ?"),

    /**
     * Candidates are friends of friends and members of the user's groups; `:user` is the
     * stored spelling, so plain equality is exact. Both sides of the UNION use an index range
     * per friend or group.
     */
    suggest: db.prepare<{ user: string; limit: number; except: string }, Suggestion>(
      `WITH mine AS (SELECT friend_name AS name FROM friendships WHERE user_name = :user),
            my_groups AS (
              SELECT group_name FROM group_members
              WHERE user_name = :user AND group_name NOT IN (SELECT value FROM json_each(:except))
            ),
            via_friends AS (
              SELECT f.friend_name AS name, count(*) AS n
              FROM friendships f JOIN mine ON f.user_name = mine.name
              GROUP BY f.friend_name
            ),
            via_groups AS (
              SELECT gm.user_name AS name, count(*) AS n
              FROM group_members gm JOIN my_groups mg ON gm.group_name = mg.group_name
              GROUP BY gm.user_name
            ),
            candidates AS (SELECT name FROM via_friends UNION SELECT name FROM via_groups)
       SELECT c.name AS name, coalesce(vf.n, 0) AS mutualFriends, coalesce(vg.n, 0) AS sharedGroups
       FROM candidates c
       LEFT JOIN via_friends vf ON vf.name = c.name
       LEFT JOIN via_groups vg ON vg.name = c.name
       WHERE c.name <> :user AND c.name NOT IN (SELECT name FROM mine)
       ORDER BY mutualFriends DESC, sharedGroups DESC, c.name
       LIMIT :limit`,
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
  private readonly busyTimeoutMs: number;
  private readonly initNew: boolean;
  private state: State = { kind: "new" };
  /** Appends waiting for the end of the turn, committed together (see the header). */
  readonly appends = new GroupCommit<Append>({
    commit: (batch) => this.commitAppends(batch),
    batchError: (err, size) => toStoreError(`commit of ${size} appends`, err, this.path),
  });

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.path = path;
    this.now = options.now ?? Date.now;
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    this.initNew = options.init ?? false;
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

    const { fresh } = inMemory ? { fresh: false } : checkStoreFile(this.path, this.initNew);
    let db: Database.Database | undefined;
    try {
      db = new Database(this.path, { timeout: this.busyTimeoutMs });
      // The registry's accounts and messages: the owner's alone (its -wal and -shm follow).
      if (fresh) chmodSync(this.path, 0o600);
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = FULL");
      db.pragma("foreign_keys = ON");
      // The search index's key, folded in JavaScript as every other search key (port-rules.ts).
      db.function("hallway_search_key", { deterministic: true }, (body: unknown) =>
        typeof body === "string" ? searchKey(body) : null,
      );
      db.function("hallway_search_words", { deterministic: true, varargs: true }, (...fields: unknown[]) =>
        searchWords(fields.map((f) => (typeof f === "string" ? f : null))),
      );
      this.migrate(db);
      this.state = { kind: "open", db, statements: prepareStatements(db) };
    } catch (err) {
      db?.close();
      throw toStoreError(`open ${this.path}`, err, this.path);
    }
  }

  async close(): Promise<void> {
    if (this.state.kind === "open") {
      void this.appends.drain();
      this.state.db.close();
    }
    this.state = { kind: "closed" };
  }

  async createUser(user: { name: string; passwordHash: string; createdAt: number }): Promise<void> {
    this.write("createUser", (s) => {
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

  /** In the group commit: a login storm of new devices is not one fsync per login. */
  async setPublicKey(name: string, publicKeyHex: string): Promise<void> {
    await this.append("setPublicKey", (s) => {
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
    await this.append("appendAudit", (s) => {
      s.insertAudit.run(entry.user, entry.event, entry.at, entry.address, entry.detail ?? null);
    });
  }

  async listAudit(opts: AuditQuery): Promise<AuditEntry[]> {
    const limit = rowLimit(opts.limit);
    if (limit === 0) return this.run("listAudit", () => []);
    return this.run("listAudit", (s) =>
      s.listAudit
        .all({
          user: opts.user ?? null,
          since: opts.since ?? null,
          until: opts.until ?? null,
          events: opts.events === undefined ? null : JSON.stringify(opts.events),
          limit,
        })
        .map(toAuditEntry),
    );
  }

  async enqueueOffline(msg: StoredMessage): Promise<void> {
    await this.append("enqueueOffline", (s) => {
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
    await this.append("appendHistory", (s) => insertMessage(s, msg));
  }

  async markDelivered(id: string, at: number): Promise<void> {
    this.write("markDelivered", (s) => {
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

  async searchMessages(user: string, query: string, limit: number): Promise<MessageHit[]> {
    const n = rowLimit(limit);
    if (n === 0 || query === "") return [];
    const params = { user, pattern: containsPattern(searchKey(query)), limit: n };
    return this.run("searchMessages", (s) =>
      newestHits(
        s.searchMessages.all(params).map((r) => messageHit(toMessage(r))),
        s.searchGroupMessages.all(params).map((r) => groupMessageHit(toGroupMessage(r))),
        n,
      ),
    );
  }

  async setProfile(name: string, patch: ProfilePatch, at?: number): Promise<void> {
    const fields = PROFILE_FIELDS.filter((f) => patch[f] !== undefined);
    this.transaction("setProfile", (s, db) => {
      const user = knownUser(s, name);
      if (fields.length === 0) return;
      const sets = fields.map((f) => `${PROFILE_COLUMNS[f]} = :${f}`);
      const values: Record<string, string | number | null> = { name: user };
      if (at !== undefined) {
        sets.push("profile_updated_at = :at");
        values.at = at;
      }
      for (const f of fields) values[f] = patch[f] ?? null;
      if (patch.displayName !== undefined) {
        sets.push("display_key = :displayKey");
        values.displayKey = patch.displayName === null ? null : searchKey(patch.displayName);
      }
      db.prepare(`UPDATE users SET ${sets.join(", ")} WHERE name = :name`).run(values);
    });
  }

  async searchUsers(prefix: string, limit: number): Promise<UserRecord[]> {
    const rows = rowLimit(limit);
    if (rows === 0) return this.run("searchUsers", () => []);
    return this.run("searchUsers", (s) =>
      s.searchUsers.all({ needle: searchNeedle(prefix), limit: rows }).map(toUser),
    );
  }

  async putFriendRequest(req: FriendRequest): Promise<void> {
    this.transaction("putFriendRequest", (s) => {
      s.putFriendRequest.run(knownUser(s, req.from), knownUser(s, req.to), req.at);
    });
  }

  async deleteFriendRequest(from: string, to: string): Promise<boolean> {
    return this.transaction("deleteFriendRequest", (s) => {
      return s.deleteFriendRequest.run(knownUser(s, from), knownUser(s, to)).changes > 0;
    });
  }

  async friendRequestsTo(user: string): Promise<FriendRequest[]> {
    return this.run("friendRequestsTo", (s) => s.friendRequestsTo.all(knownUser(s, user)));
  }

  async friendRequestsFrom(user: string): Promise<FriendRequest[]> {
    return this.run("friendRequestsFrom", (s) => s.friendRequestsFrom.all(knownUser(s, user)));
  }

  async addFriendship(a: string, b: string, since: number): Promise<void> {
    this.transaction("addFriendship", (s) => {
      const x = knownUser(s, a);
      const y = knownUser(s, b);
      s.addFriendship.run(x, y, since);
      s.addFriendship.run(y, x, since);
      s.deleteFriendRequest.run(x, y);
      s.deleteFriendRequest.run(y, x);
    });
  }

  async removeFriendship(a: string, b: string): Promise<boolean> {
    return this.transaction("removeFriendship", (s) => {
      const x = knownUser(s, a);
      const y = knownUser(s, b);
      const removed = s.removeFriendship.run(x, y).changes;
      s.removeFriendship.run(y, x);
      return removed > 0;
    });
  }

  async usersAfter(after: string | undefined, limit: number): Promise<UserRecord[]> {
    const rows = rowLimit(limit);
    return this.run("usersAfter", (s) => (rows === 0 ? [] : s.usersAfter.all(after ?? "", rows).map(toUser)));
  }

  async friendsAfter(user: string, after: string | undefined, limit: number): Promise<Friendship[]> {
    const rows = rowLimit(limit);
    return this.run("friendsAfter", (s) => {
      const u = knownUser(s, user);
      return rows === 0 ? [] : s.friendsAfter.all(u, after ?? "", rows);
    });
  }

  async friendRequestsToAfter(
    user: string,
    after: TimeNameCursor | undefined,
    limit: number,
  ): Promise<FriendRequest[]> {
    return this.friendRequestsPage("friendRequestsToAfter", user, after, limit);
  }

  async friendRequestsFromAfter(
    user: string,
    after: TimeNameCursor | undefined,
    limit: number,
  ): Promise<FriendRequest[]> {
    return this.friendRequestsPage("friendRequestsFromAfter", user, after, limit);
  }

  /** A page of a user's requests, either way, after a (time, name) cursor. */
  private async friendRequestsPage(
    op: "friendRequestsToAfter" | "friendRequestsFromAfter",
    user: string,
    after: TimeNameCursor | undefined,
    limit: number,
  ): Promise<FriendRequest[]> {
    const rows = rowLimit(limit);
    const [at, name] = after === undefined ? [-1, ""] : [after.at, after.name];
    return this.run(op, (s) => {
      const u = knownUser(s, user);
      return rows === 0 ? [] : s[op].all(u, at, at, name, rows);
    });
  }

  async searchUsersAfter(prefix: string, after: string | undefined, limit: number): Promise<UserRecord[]> {
    const rows = rowLimit(limit);
    return this.run("searchUsersAfter", (s) =>
      rows === 0
        ? []
        : s.searchUsersAfter
            .all({ needle: searchNeedle(prefix), after: after ?? "", limit: rows })
            .map(toUser),
    );
  }

  async searchGroupsAfter(prefix: string, after: string | undefined, limit: number): Promise<GroupRecord[]> {
    const rows = rowLimit(limit);
    return this.run("searchGroupsAfter", (s) =>
      rows === 0
        ? []
        : s.searchGroupsAfter
            .all({ prefix: searchKey(prefix), after: after ?? "", limit: rows })
            .map(toGroup),
    );
  }

  async countOffline(to: string): Promise<number> {
    return this.run("countOffline", (s) => s.countOffline.get(to) ?? 0);
  }

  async countFriendRequestsTo(user: string): Promise<number> {
    return this.run("countFriendRequestsTo", (s) => s.countFriendRequestsTo.get(user) ?? 0);
  }

  async countJoinRequests(group: string): Promise<number> {
    return this.run("countJoinRequests", (s) => s.countJoinRequests.get(group) ?? 0);
  }

  async friendsOf(user: string): Promise<Friendship[]> {
    return this.run("friendsOf", (s) => s.friendsOf.all(knownUser(s, user)));
  }

  async areFriends(a: string, b: string): Promise<boolean> {
    return this.run("areFriends", (s) => s.areFriends.get(a, b) === 1);
  }

  async createGroup(group: { name: string; admin: string; createdAt: number }): Promise<void> {
    this.transaction("createGroup", (s) => {
      const admin = knownUser(s, group.admin);
      if (s.getGroup.get(group.name) !== undefined) {
        throw new HallwayError("GROUP_EXISTS", `group ${JSON.stringify(group.name)} already exists`);
      }
      s.insertGroup.run(group.name, admin, group.createdAt, 0);
      s.insertMember.run(group.name, admin, group.createdAt, 0);
    });
  }

  async getGroup(name: string): Promise<GroupRecord | undefined> {
    return this.run("getGroup", (s) => {
      const row = s.getGroup.get(name);
      return row === undefined ? undefined : toGroup(row);
    });
  }

  async searchGroups(prefix: string, limit: number): Promise<GroupRecord[]> {
    const rows = rowLimit(limit);
    if (rows === 0) return this.run("searchGroups", () => []);
    return this.run("searchGroups", (s) =>
      s.searchGroups.all({ prefix: searchKey(prefix), limit: rows }).map(toGroup),
    );
  }

  async setGroupDescription(group: string, description: string | null): Promise<void> {
    this.transaction("setGroupDescription", (s) => {
      s.setGroupDescription.run(description, knownGroup(s, group).name);
    });
  }

  async deleteGroup(name: string): Promise<boolean> {
    return this.transaction("deleteGroup", (s) => s.deleteGroup.run(name).changes > 0);
  }

  async setGroupAdmin(group: string, user: string): Promise<void> {
    this.transaction("setGroupAdmin", (s) => {
      const g = knownGroup(s, group);
      const u = knownMember(s, g.name, user);
      s.setGroupAdmin.run(u, g.name);
    });
  }

  async groupMembers(group: string): Promise<GroupMember[]> {
    return this.run("groupMembers", (s) => s.groupMembers.all(knownGroup(s, group).name).map(toMember));
  }

  async groupsOf(user: string): Promise<GroupRecord[]> {
    return this.run("groupsOf", (s) => s.groupsOf.all(knownUser(s, user)).map(toGroup));
  }

  async addMember(group: string, user: string, joinedAt: number): Promise<void> {
    this.transaction("addMember", (s) => {
      const g = knownGroup(s, group);
      const u = knownUser(s, user);
      s.insertMember.run(g.name, u, joinedAt, g.last_seq);
      s.deleteJoinRequest.run(g.name, u);
    });
  }

  async addMembers(group: string, users: readonly string[], joinedAt: number): Promise<void> {
    if (users.length === 0) return;
    this.transaction("addMembers", (s) => {
      const g = knownGroup(s, group);
      for (const user of users) {
        const u = knownUser(s, user);
        s.insertMember.run(g.name, u, joinedAt, g.last_seq);
        s.deleteJoinRequest.run(g.name, u);
      }
    });
  }

  async removeMember(group: string, user: string): Promise<boolean> {
    return this.transaction("removeMember", (s) => {
      const g = knownGroup(s, group);
      return s.deleteMember.run(g.name, knownUser(s, user)).changes > 0;
    });
  }

  async putJoinRequest(req: JoinRequest): Promise<void> {
    this.transaction("putJoinRequest", (s) => {
      const g = knownGroup(s, req.group);
      s.putJoinRequest.run(g.name, knownUser(s, req.user), req.at);
    });
  }

  async deleteJoinRequest(group: string, user: string): Promise<boolean> {
    return this.transaction("deleteJoinRequest", (s) => {
      const g = knownGroup(s, group);
      return s.deleteJoinRequest.run(g.name, knownUser(s, user)).changes > 0;
    });
  }

  async joinRequests(group: string): Promise<JoinRequest[]> {
    return this.run("joinRequests", (s) => s.joinRequests.all(knownGroup(s, group).name));
  }

  async appendGroupMessage(msg: Omit<GroupMessage, "seq">): Promise<GroupMessage> {
    return this.append("appendGroupMessage", (s) => {
      const existing = s.getGroupMessage.get(msg.id);
      if (existing !== undefined) return toGroupMessage(existing);
      const g = knownGroup(s, msg.group);
      const from = knownUser(s, msg.from);
      const seq = s.nextGroupSeq.get(g.name) as number;
      s.insertGroupMessage.run(msg.id, g.name, from, msg.body, msg.sentAt, seq);
      return { id: msg.id, group: g.name, from, body: msg.body, sentAt: msg.sentAt, seq };
    });
  }

  async groupHistory(group: string, opts: { limit: number; beforeSeq?: number }): Promise<GroupMessage[]> {
    const limit = rowLimit(opts.limit);
    return this.run("groupHistory", (s) => {
      const g = knownGroup(s, group);
      if (limit === 0) return [];
      const newestFirst =
        opts.beforeSeq === undefined
          ? s.groupHistoryLatest.all(g.name, limit)
          : s.groupHistoryBefore.all(g.name, opts.beforeSeq, limit);
      return newestFirst.reverse().map(toGroupMessage);
    });
  }

  async groupBacklog(group: string, user: string, limit: number): Promise<GroupMessage[]> {
    const rows = rowLimit(limit);
    return this.transaction("groupBacklog", (s) => {
      const g = knownGroup(s, group);
      const member = s.getMember.get(g.name, knownMember(s, g.name, user)) as MemberRow;
      if (rows === 0) return [];
      return s.groupMessagesAfter.all(g.name, member.acked_seq, rows).map(toGroupMessage);
    });
  }

  /** In the group commit: every member acknowledges every group message it gets. */
  async ackGroup(group: string, user: string, seq: number): Promise<void> {
    await this.append("ackGroup", (s) => {
      const g = knownGroup(s, group);
      s.ackGroup.run({ group: g.name, user: knownMember(s, g.name, user), seq });
    });
  }

  async enqueueNotice(notice: Notice): Promise<void> {
    this.transaction("enqueueNotice", (s) => {
      s.insertNotice.run(notice.id, knownUser(s, notice.to), notice.kind, notice.body, notice.at);
    });
  }

  async pendingNotices(to: string, limit: number): Promise<Notice[]> {
    const rows = rowLimit(limit);
    return this.run("pendingNotices", (s) => {
      const user = knownUser(s, to);
      return rows === 0 ? [] : s.pendingNotices.all(user, rows).map(toNotice);
    });
  }

  async ackNotices(to: string, ids: string[]): Promise<number> {
    return this.transaction("ackNotices", (s) => {
      const user = knownUser(s, to);
      let removed = 0;
      for (const id of ids) removed += s.deleteNotice.run(id, user).changes;
      return removed;
    });
  }

  async suggest(user: string, limit: number, exceptGroups: readonly string[] = []): Promise<Suggestion[]> {
    const rows = rowLimit(limit);
    const except = JSON.stringify(exceptGroups);
    return this.run("suggest", (s) => {
      const name = knownUser(s, user);
      return rows === 0 ? [] : s.suggest.all({ user: name, limit: rows, except });
    });
  }

  /**
   * One read transaction for the whole dump, so the records are one consistent snapshot. The
   * connection is busy until the dump has been read to the end (or abandoned): make no other
   * call on this store meanwhile.
   */
  async *dump(): AsyncIterable<DumpRecord> {
    const { db } = this.opened();
    void this.appends.drain();
    db.exec("BEGIN");
    try {
      for (const [sql, toRecord] of DUMP_QUERIES) {
        for (const row of db.prepare(sql).iterate()) yield toRecord(row as never);
      }
    } catch (err) {
      throw toStoreError("dump", err, this.path);
    } finally {
      if (db.inTransaction) db.exec("COMMIT");
    }
  }

  /**
   * One write transaction for the whole load: a failure part-way leaves the store as empty as
   * it was. Autoincrement keys (audit, queue, notice order) are assigned in record order. The
   * transaction stays open while `records` is awaited, so make no other call on this store
   * until the load has settled (the import command has the store to itself).
   */
  async load(records: AsyncIterable<DumpRecord>): Promise<void> {
    const { db } = this.opened();
    void this.appends.drain();
    const loadRecord = prepareLoad(db);
    try {
      db.exec("BEGIN IMMEDIATE");
    } catch (err) {
      throw toStoreError("load", err, this.path);
    }
    try {
      if ((db.prepare("SELECT count(*) FROM users").pluck().get() as number) > 0) {
        throw new HallwayError("STORE_NOT_EMPTY", `cannot load into ${this.path}: it already has users`);
      }
      for await (const record of records) loadRecord(record);
      db.exec("COMMIT");
    } catch (err) {
      if (db.inTransaction) db.exec("ROLLBACK");
      throw toStoreError("load", err, this.path);
    }
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

  /** A one-statement write, after the appends waiting before it. */
  private write<T>(op: string, fn: (s: Statements) => T): T {
    this.opened();
    void this.appends.drain();
    return this.run(op, fn);
  }

  /** An append, in the next group commit; resolves with `apply`'s result once that commits. */
  private append<T>(op: string, apply: (s: Statements) => T): Promise<T> {
    this.opened();
    return this.appends.add<T>({ op, apply });
  }

  /**
   * The group commit's transaction: each append in a savepoint (better-sqlite3 nests a
   * transaction as one), so a constraint failure rolls back that append alone and fails it;
   * any other failure (disk full, busy, I/O) aborts the transaction and fails the batch.
   */
  private commitAppends(batch: readonly Append[]): Outcome[] {
    const { db, statements } = this.opened();
    return db
      .transaction(() =>
        batch.map((a): Outcome => {
          try {
            return { ok: true, value: db.transaction(() => a.apply(statements))() };
          } catch (err) {
            if (!(err instanceof HallwayError) && !sqliteCode(err)?.startsWith("SQLITE_CONSTRAINT"))
              throw err;
            return { ok: false, error: toStoreError(a.op, err, this.path) };
          }
        }),
      )
      .immediate();
  }

  /** `BEGIN IMMEDIATE`: take the write lock up front instead of failing to upgrade a read lock. */
  private transaction<T>(op: string, fn: (s: Statements, db: Database.Database) => T): T {
    const { db, statements } = this.opened();
    void this.appends.drain();
    try {
      return db.transaction(() => fn(statements, db)).immediate();
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

/** The stored spelling of a user's name, or AUTH_UNKNOWN_USER. */
function knownUser(s: Statements, name: string): string {
  const stored = s.userName.get(name);
  if (stored === undefined) throw new HallwayError("AUTH_UNKNOWN_USER", `no user ${JSON.stringify(name)}`);
  return stored;
}

function knownGroup(s: Statements, name: string): GroupRow {
  const row = s.getGroup.get(name);
  if (row === undefined) throw new HallwayError("GROUP_UNKNOWN", `no group ${JSON.stringify(name)}`);
  return row;
}

/** The stored spelling of a member's name; AUTH_UNKNOWN_USER or GROUP_NOT_MEMBER otherwise. */
function knownMember(s: Statements, group: string, name: string): string {
  const user = knownUser(s, name);
  if (s.getMember.get(group, user) === undefined) {
    throw new HallwayError(
      "GROUP_NOT_MEMBER",
      `${JSON.stringify(user)} is not in group ${JSON.stringify(group)}`,
    );
  }
  return user;
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
    return new HallwayError(
      "STORE_FAILED",
      `store ${op} failed: it refers to an unknown user, group or message`,
      {
        cause: err,
      },
    );
  }
  const detail = err instanceof Error ? (err.message.split("\n")[0] ?? "") : String(err);
  return new HallwayError("STORE_FAILED", `store ${op} failed: ${detail}${code ? ` (${code})` : ""}`, {
    cause: err,
  });
}
