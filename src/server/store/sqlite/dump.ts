/**
 * `DumpStore` in SQLite: `dump` reads every record in the port's replayable order in one read
 * transaction, `load` writes them back, every field as exported, in one write transaction.
 * Here are the queries, the inserts, and the two methods.
 */

import type Database from "better-sqlite3";
import { HallwayError } from "../../../errors.js";
import type { DumpRecord, DumpStore } from "../dump-store.js";
import { conversationKey, searchKey } from "../port-rules.js";
import type { FriendRequest, JoinRequest } from "../social-store.js";
import { type SqliteDatabase, toStoreError } from "./database.js";
import {
  type AuditRow,
  GROUP_MESSAGE_COLUMNS,
  MESSAGE_COLUMNS,
  toAuditEntry,
  toGroup,
  toGroupMessage,
  toMember,
  toMessage,
  toNotice,
  toUser,
  USER_COLUMNS,
} from "./rows.js";

type Row = Record<string, unknown>;

/** What `dump` reads, in the port's replayable order, and how each row becomes a record. */
export const DUMP_QUERIES: ReadonlyArray<readonly [string, (row: Row) => DumpRecord]> = [
  [`SELECT ${USER_COLUMNS} FROM users ORDER BY name`, (r) => ({ kind: "user", ...toUser(r as never) })],
  [
    "SELECT user_name, event, at, address, detail FROM audit ORDER BY id",
    (r) => ({ kind: "audit", ...toAuditEntry(r as unknown as AuditRow) }),
  ],
  [
    `SELECT ${MESSAGE_COLUMNS} FROM messages m ORDER BY m.rowid`,
    (r) => ({ kind: "message", ...toMessage(r as never) }),
  ],
  [
    'SELECT message_id AS id, to_user AS "to" FROM offline_queue ORDER BY seq',
    (r) => ({ kind: "offline", id: r.id as string, to: r.to as string }),
  ],
  [
    `SELECT from_user AS "from", to_user AS "to", at FROM friend_requests ORDER BY at, from_user, to_user`,
    (r) => ({ kind: "friendRequest", ...(r as unknown as FriendRequest) }),
  ],
  [
    `SELECT user_name AS a, friend_name AS b, since FROM friendships WHERE user_name < friend_name
     ORDER BY user_name, friend_name`,
    (r) => ({ kind: "friendship", a: r.a as string, b: r.b as string, since: r.since as number }),
  ],
  ["SELECT * FROM chat_groups ORDER BY name", (r) => ({ kind: "group", ...toGroup(r as never) })],
  [
    "SELECT group_name, user_name, joined_at, acked_seq FROM group_members ORDER BY group_name, user_name",
    (r) => ({ kind: "member", group: r.group_name as string, ...toMember(r as never) }),
  ],
  [
    `SELECT group_name AS "group", user_name AS user, at FROM join_requests ORDER BY group_name, at, user_name`,
    (r) => ({ kind: "joinRequest", ...(r as unknown as JoinRequest) }),
  ],
  [
    `SELECT ${GROUP_MESSAGE_COLUMNS} FROM group_messages ORDER BY group_name, seq`,
    (r) => ({ kind: "groupMessage", ...toGroupMessage(r as never) }),
  ],
  [
    "SELECT id, to_user, kind, body, at FROM notices ORDER BY seq",
    (r) => ({ kind: "notice", notice: toNotice(r as never) }),
  ],
];

/** The fields an export from before schema 5 lacks. */
const LATER_USER_DEFAULTS = {
  birthDate: null,
  gender: null,
  country: null,
  region: null,
  school: null,
  profession: null,
  visibility: null,
  profileUpdatedAt: null,
};

/** Inserts that keep every exported field; `load` runs them inside its one transaction. */
export function prepareLoad(db: Database.Database) {
  const statements = {
    user: db.prepare(
      `INSERT INTO users (${USER_COLUMNS}, display_key) VALUES (:name, :passwordHash, :publicKey,
       :displayName, :statusText, :email, :phone, :department, :note, :createdAt, :lastSeen,
       :birthDate, :gender, :country, :region, :school, :profession, :visibility, :profileUpdatedAt,
       :displayKey)`,
    ),
    audit: db.prepare<[string, string, number, string, string | null]>(
      "INSERT INTO audit (user_name, event, at, address, detail) VALUES (?, ?, ?, ?, ?)",
    ),
    message: db.prepare<[string, string, string, string, string, number, number | null]>(
      `INSERT INTO messages (id, from_user, to_user, conversation, body, sent_at, delivered_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    queue: db.prepare<[string, string]>("INSERT INTO offline_queue (message_id, to_user) VALUES (?, ?)"),
    friendRequest: db.prepare<[string, string, number]>(
      "INSERT INTO friend_requests (from_user, to_user, at) VALUES (?, ?, ?)",
    ),
    friendship: db.prepare<[string, string, number]>(
      "INSERT INTO friendships (user_name, friend_name, since) VALUES (?, ?, ?)",
    ),
    group: db.prepare<[string, string, number, number, string | null]>(
      "INSERT INTO chat_groups (name, admin, created_at, last_seq, description) VALUES (?, ?, ?, ?, ?)",
    ),
    member: db.prepare<[string, string, number, number]>(
      "INSERT INTO group_members (group_name, user_name, joined_at, acked_seq) VALUES (?, ?, ?, ?)",
    ),
    joinRequest: db.prepare<[string, string, number]>(
      "INSERT INTO join_requests (group_name, user_name, at) VALUES (?, ?, ?)",
    ),
    groupMessage: db.prepare<[string, string, string, string, number, number]>(
      "INSERT INTO group_messages (id, group_name, from_user, body, sent_at, seq) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    notice: db.prepare<[string, string, string, string, number]>(
      "INSERT INTO notices (id, to_user, kind, body, at) VALUES (?, ?, ?, ?, ?)",
    ),
  };
  return (r: DumpRecord): void => {
    const s = statements;
    switch (r.kind) {
      case "user": {
        const { kind: _kind, ...user } = r;
        s.user.run({
          ...LATER_USER_DEFAULTS,
          ...user,
          displayKey: user.displayName === null ? null : searchKey(user.displayName),
        });
        return;
      }
      case "audit":
        s.audit.run(r.user, r.event, r.at, r.address, r.detail ?? null);
        return;
      case "message":
        s.message.run(r.id, r.from, r.to, conversationKey(r.from, r.to), r.body, r.sentAt, r.deliveredAt);
        return;
      case "offline":
        s.queue.run(r.id, r.to);
        return;
      case "friendRequest":
        s.friendRequest.run(r.from, r.to, r.at);
        return;
      case "friendship":
        s.friendship.run(r.a, r.b, r.since);
        s.friendship.run(r.b, r.a, r.since);
        return;
      case "group":
        s.group.run(r.name, r.admin, r.createdAt, r.lastSeq, r.description ?? null);
        return;
      case "member":
        s.member.run(r.group, r.name, r.joinedAt, r.ackedSeq);
        return;
      case "joinRequest":
        s.joinRequest.run(r.group, r.user, r.at);
        return;
      case "groupMessage":
        s.groupMessage.run(r.id, r.group, r.from, r.body, r.sentAt, r.seq);
        return;
      case "notice":
        s.notice.run(r.notice.id, r.notice.to, r.notice.kind, r.notice.body, r.notice.at);
        return;
    }
  };
}

export class SqliteDump implements DumpStore {
  constructor(private readonly db: SqliteDatabase) {}

  /**
   * One read transaction for the whole dump, so the records are one consistent snapshot. The
   * connection is busy until the dump has been read to the end (or abandoned): make no other
   * call on this store meanwhile.
   */
  async *dump(): AsyncIterable<DumpRecord> {
    const { db } = this.db.opened();
    void this.db.appends.drain();
    db.exec("BEGIN");
    try {
      for (const [sql, toRecord] of DUMP_QUERIES) {
        for (const row of db.prepare(sql).iterate()) yield toRecord(row as never);
      }
    } catch (err) {
      throw toStoreError("dump", err, this.db.path);
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
    const { db } = this.db.opened();
    void this.db.appends.drain();
    const loadRecord = prepareLoad(db);
    try {
      db.exec("BEGIN IMMEDIATE");
    } catch (err) {
      throw toStoreError("load", err, this.db.path);
    }
    try {
      if ((db.prepare("SELECT count(*) FROM users").pluck().get() as number) > 0) {
        throw new HallwayError("STORE_NOT_EMPTY", `cannot load into ${this.db.path}: it already has users`);
      }
      for await (const record of records) loadRecord(record);
      db.exec("COMMIT");
    } catch (err) {
      if (db.inTransaction) db.exec("ROLLBACK");
      throw toStoreError("load", err, this.db.path);
    }
  }
}
