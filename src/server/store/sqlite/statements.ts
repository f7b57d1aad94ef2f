/**
 * Every SQL statement of the adapter but the schema's and the export's, prepared once per
 * connection, and the lookups the parts share (a user's, group's or member's stored spelling).
 */

import type Database from "better-sqlite3";
import { HallwayError } from "../../../errors.js";
import type { ProfileField } from "../account-store.js";
import type { StoredMessage } from "../message-store.js";
import { conversationKey } from "../port-rules.js";
import type { FriendRequest, Friendship, JoinRequest, Suggestion } from "../social-store.js";
import {
  type AuditRow,
  GROUP_MESSAGE_COLUMNS,
  type GroupMessageRow,
  type GroupRow,
  MESSAGE_COLUMNS,
  type MemberRow,
  type MessageRow,
  type NoticeRow,
  USER_COLUMNS,
  type UserRow,
} from "./rows.js";

/** Profile fields and their columns; the only names `setProfile` puts into SQL text. */
export const PROFILE_COLUMNS: Readonly<Record<ProfileField, string>> = {
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
export function containsPattern(query: string): string {
  return `%${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function prepareStatements(db: Database.Database) {
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

export type Statements = ReturnType<typeof prepareStatements>;

export function insertMessage(s: Statements, msg: StoredMessage): void {
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
export function knownUser(s: Statements, name: string): string {
  const stored = s.userName.get(name);
  if (stored === undefined) throw new HallwayError("AUTH_UNKNOWN_USER", `no user ${JSON.stringify(name)}`);
  return stored;
}

export function knownGroup(s: Statements, name: string): GroupRow {
  const row = s.getGroup.get(name);
  if (row === undefined) throw new HallwayError("GROUP_UNKNOWN", `no group ${JSON.stringify(name)}`);
  return row;
}

/** The stored spelling of a member's name; AUTH_UNKNOWN_USER or GROUP_NOT_MEMBER otherwise. */
export function knownMember(s: Statements, group: string, name: string): string {
  const user = knownUser(s, name);
  if (s.getMember.get(group, user) === undefined) {
    throw new HallwayError(
      "GROUP_NOT_MEMBER",
      `${JSON.stringify(user)} is not in group ${JSON.stringify(group)}`,
    );
  }
  return user;
}
