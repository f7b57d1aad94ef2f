/**
 * The SQLite schema: its migrations, and the check that a store file is one.
 *
 * Version 5, recorded in `schema_migrations`. Every user/group column is NOCASE and holds the
 * spelling stored in `users`/`chat_groups`, resolved when a row is written:
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
 */

import { closeSync, openSync, readSync, statSync } from "node:fs";
import type Database from "better-sqlite3";
import { HallwayError } from "../../../errors.js";

const SQLITE_HEADER = Buffer.from("SQLite format 3\0");

/**
 * STORE_CORRUPT for a store file that exists but is empty (unless `init`) or is not a SQLite
 * database: opening it would start an empty registry, every account gone, without a word.
 */
export function checkStoreFile(path: string, init: boolean): { fresh: boolean } {
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

/** Creates or migrates the schema in one `BEGIN IMMEDIATE` transaction; `now` stamps each step. */
export function migrate(db: Database.Database, path: string, now: () => number): void {
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
        `database ${path} has schema version ${current}, newer than this build supports (${LATEST_VERSION})`,
      );
    }
    const record = db.prepare<[number, number]>(
      "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
    );
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      record.run(migration.version, now());
    }
  }).immediate();
}
