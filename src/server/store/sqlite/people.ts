/**
 * `PeopleStore` in SQLite: profiles and user search (a scan of `search_text`), friend requests
 * and friendships (one row per direction), notices, and "people you may know" (one statement,
 * `suggest` in `statements.ts`).
 */

import { PROFILE_FIELDS, type ProfilePatch, type UserRecord } from "../account-store.js";
import { rowLimit, searchKey } from "../port-rules.js";
import { searchNeedle } from "../search-words.js";
import type {
  FriendRequest,
  Friendship,
  Notice,
  PeopleStore,
  Suggestion,
  TimeNameCursor,
} from "../social-store.js";
import type { SqliteDatabase } from "./database.js";
import { toNotice, toUser } from "./rows.js";
import { knownUser, PROFILE_COLUMNS } from "./statements.js";

export class SqlitePeople implements PeopleStore {
  constructor(private readonly db: SqliteDatabase) {}

  async setProfile(name: string, patch: ProfilePatch, at?: number): Promise<void> {
    const fields = PROFILE_FIELDS.filter((f) => patch[f] !== undefined);
    this.db.transaction("setProfile", (s, db) => {
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
    if (rows === 0) return this.db.run("searchUsers", () => []);
    return this.db.run("searchUsers", (s) =>
      s.searchUsers.all({ needle: searchNeedle(prefix), limit: rows }).map(toUser),
    );
  }

  async searchUsersAfter(prefix: string, after: string | undefined, limit: number): Promise<UserRecord[]> {
    const rows = rowLimit(limit);
    return this.db.run("searchUsersAfter", (s) =>
      rows === 0
        ? []
        : s.searchUsersAfter
            .all({ needle: searchNeedle(prefix), after: after ?? "", limit: rows })
            .map(toUser),
    );
  }

  async putFriendRequest(req: FriendRequest): Promise<void> {
    this.db.transaction("putFriendRequest", (s) => {
      s.putFriendRequest.run(knownUser(s, req.from), knownUser(s, req.to), req.at);
    });
  }

  async deleteFriendRequest(from: string, to: string): Promise<boolean> {
    return this.db.transaction("deleteFriendRequest", (s) => {
      return s.deleteFriendRequest.run(knownUser(s, from), knownUser(s, to)).changes > 0;
    });
  }

  async friendRequestsTo(user: string): Promise<FriendRequest[]> {
    return this.db.run("friendRequestsTo", (s) => s.friendRequestsTo.all(knownUser(s, user)));
  }

  async friendRequestsFrom(user: string): Promise<FriendRequest[]> {
    return this.db.run("friendRequestsFrom", (s) => s.friendRequestsFrom.all(knownUser(s, user)));
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
    return this.db.run(op, (s) => {
      const u = knownUser(s, user);
      return rows === 0 ? [] : s[op].all(u, at, at, name, rows);
    });
  }

  async countFriendRequestsTo(user: string): Promise<number> {
    return this.db.run("countFriendRequestsTo", (s) => s.countFriendRequestsTo.get(user) ?? 0);
  }

  async addFriendship(a: string, b: string, since: number): Promise<void> {
    this.db.transaction("addFriendship", (s) => {
      const x = knownUser(s, a);
      const y = knownUser(s, b);
      s.addFriendship.run(x, y, since);
      s.addFriendship.run(y, x, since);
      s.deleteFriendRequest.run(x, y);
      s.deleteFriendRequest.run(y, x);
    });
  }

  async removeFriendship(a: string, b: string): Promise<boolean> {
    return this.db.transaction("removeFriendship", (s) => {
      const x = knownUser(s, a);
      const y = knownUser(s, b);
      const removed = s.removeFriendship.run(x, y).changes;
      s.removeFriendship.run(y, x);
      return removed > 0;
    });
  }

  async friendsOf(user: string): Promise<Friendship[]> {
    return this.db.run("friendsOf", (s) => s.friendsOf.all(knownUser(s, user)));
  }

  async friendsAfter(user: string, after: string | undefined, limit: number): Promise<Friendship[]> {
    const rows = rowLimit(limit);
    return this.db.run("friendsAfter", (s) => {
      const u = knownUser(s, user);
      return rows === 0 ? [] : s.friendsAfter.all(u, after ?? "", rows);
    });
  }

  async areFriends(a: string, b: string): Promise<boolean> {
    return this.db.run("areFriends", (s) => s.areFriends.get(a, b) === 1);
  }

  async enqueueNotice(notice: Notice): Promise<void> {
    this.db.transaction("enqueueNotice", (s) => {
      s.insertNotice.run(notice.id, knownUser(s, notice.to), notice.kind, notice.body, notice.at);
    });
  }

  async pendingNotices(to: string, limit: number): Promise<Notice[]> {
    const rows = rowLimit(limit);
    return this.db.run("pendingNotices", (s) => {
      const user = knownUser(s, to);
      return rows === 0 ? [] : s.pendingNotices.all(user, rows).map(toNotice);
    });
  }

  async ackNotices(to: string, ids: string[]): Promise<number> {
    return this.db.transaction("ackNotices", (s) => {
      const user = knownUser(s, to);
      let removed = 0;
      for (const id of ids) removed += s.deleteNotice.run(id, user).changes;
      return removed;
    });
  }

  async suggest(user: string, limit: number, exceptGroups: readonly string[] = []): Promise<Suggestion[]> {
    const rows = rowLimit(limit);
    const except = JSON.stringify(exceptGroups);
    return this.db.run("suggest", (s) => {
      const name = knownUser(s, user);
      return rows === 0 ? [] : s.suggest.all({ user: name, limit: rows, except });
    });
  }
}
