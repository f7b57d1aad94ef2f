/**
 * `PeopleStore` in Neo4j: profiles and user search (`searchText`, folded in JavaScript, behind a
 * text index), `REQUESTED` and `FRIEND` relationships, `Notice` nodes, and "people you may
 * know" as one pattern of two hops over FRIEND|MEMBER.
 */

import { int } from "neo4j-driver";
import { PROFILE_FIELDS, type ProfilePatch, type UserRecord } from "../account-store.js";
import { nameKey, rowLimit, searchKey } from "../port-rules.js";
import { searchNeedle, searchWords } from "../search-words.js";
import type {
  FriendRequest,
  Friendship,
  Notice,
  PeopleStore,
  Suggestion,
  TimeNameCursor,
} from "../social-store.js";
import type { CypherScalar } from "./cypher.js";
import { type Neo4jDatabase, noUser } from "./database.js";
import {
  toCount,
  toFlag,
  toFriendRequest,
  toFriendship,
  toNotice,
  toSuggestion,
  toUserRecord,
} from "./mapping.js";

export class Neo4jPeople implements PeopleStore {
  constructor(private readonly db: Neo4jDatabase) {}

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
    await this.db.write("setProfile", async (run) => {
      // The search text folds in JavaScript (Cypher cannot drop accents), from the fields as
      // they will be; read in the transaction that writes them.
      const found = await run("getUser", { registry: this.db.registry, nameKey: nameKey(name) });
      const record = found.records[0];
      if (record === undefined) throw noUser(name);
      const u = { ...toUserRecord(record.get("user")), ...patch };
      profile.searchText = searchWords([u.name, u.displayName, u.department, u.school, u.profession]);
      const result = await run("setProfile", { registry: this.db.registry, nameKey: nameKey(name), profile });
      if (toCount(result.records[0]?.get("updated"), "updated") === 0) throw noUser(name);
    });
  }

  async searchUsers(prefix: string, limit: number): Promise<UserRecord[]> {
    const rows = rowLimit(limit);
    if (rows === 0) return this.db.none();
    return this.db.read("searchUsers", async (run) => {
      const result = await run("searchUsers", {
        registry: this.db.registry,
        needle: searchNeedle(prefix),
        limit: int(rows),
      });
      return result.records.map((r) => toUserRecord(r.get("user")));
    });
  }

  async searchUsersAfter(prefix: string, after: string | undefined, limit: number): Promise<UserRecord[]> {
    const rows = rowLimit(limit);
    if (rows === 0) {
      this.db.opened();
      return [];
    }
    return this.db.read("searchUsersAfter", async (run) => {
      const result = await run("searchUsersAfter", {
        registry: this.db.registry,
        needle: searchNeedle(prefix),
        afterKey: nameKey(after ?? ""),
        limit: int(rows),
      });
      return result.records.map((r) => toUserRecord(r.get("user")));
    });
  }

  async putFriendRequest(req: FriendRequest): Promise<void> {
    await this.db.write("putFriendRequest", async (run) => {
      await this.db.requireUsers(run, [req.from, req.to]);
      await run("putFriendRequest", {
        registry: this.db.registry,
        fromKey: nameKey(req.from),
        toKey: nameKey(req.to),
        at: int(req.at),
      });
    });
  }

  async deleteFriendRequest(from: string, to: string): Promise<boolean> {
    return this.db.write("deleteFriendRequest", async (run) => {
      await this.db.requireUsers(run, [from, to]);
      const result = await run("deleteFriendRequest", {
        registry: this.db.registry,
        fromKey: nameKey(from),
        toKey: nameKey(to),
      });
      return toCount(result.records[0]?.get("removed"), "removed") > 0;
    });
  }

  async friendRequestsTo(user: string): Promise<FriendRequest[]> {
    return this.db.read("friendRequestsTo", async (run) => {
      await this.db.requireUsers(run, [user]);
      const result = await run("friendRequestsTo", { registry: this.db.registry, userKey: nameKey(user) });
      return result.records.map((r) => toFriendRequest(r.get("request")));
    });
  }

  async friendRequestsFrom(user: string): Promise<FriendRequest[]> {
    return this.db.read("friendRequestsFrom", async (run) => {
      await this.db.requireUsers(run, [user]);
      const result = await run("friendRequestsFrom", { registry: this.db.registry, userKey: nameKey(user) });
      return result.records.map((r) => toFriendRequest(r.get("request")));
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
    return this.db.read(key, async (run) => {
      await this.db.requireUsers(run, [user]);
      if (rows === 0) return [];
      const result = await run(key, {
        registry: this.db.registry,
        userKey: nameKey(user),
        afterAt: int(after?.at ?? -1),
        afterKey: nameKey(after?.name ?? ""),
        limit: int(rows),
      });
      return result.records.map((r) => toFriendRequest(r.get("request")));
    });
  }

  async countFriendRequestsTo(user: string): Promise<number> {
    return this.db.read("countFriendRequestsTo", async (run) => {
      const result = await run("countFriendRequestsTo", {
        registry: this.db.registry,
        userKey: nameKey(user),
      });
      return toCount(result.records[0]?.get("n"), "n");
    });
  }

  async addFriendship(a: string, b: string, since: number): Promise<void> {
    const [aKey, bKey] = [nameKey(a), nameKey(b)].sort() as [string, string];
    await this.db.write("addFriendship", async (run) => {
      await this.db.requireUsers(run, [a, b]);
      await run("addFriendship", { registry: this.db.registry, aKey, bKey, since: int(since) });
    });
  }

  async removeFriendship(a: string, b: string): Promise<boolean> {
    return this.db.write("removeFriendship", async (run) => {
      await this.db.requireUsers(run, [a, b]);
      const result = await run("removeFriendship", {
        registry: this.db.registry,
        aKey: nameKey(a),
        bKey: nameKey(b),
      });
      return toCount(result.records[0]?.get("removed"), "removed") > 0;
    });
  }

  async friendsOf(user: string): Promise<Friendship[]> {
    return this.db.read("friendsOf", async (run) => {
      await this.db.requireUsers(run, [user]);
      const result = await run("friendsOf", { registry: this.db.registry, userKey: nameKey(user) });
      return result.records.map((r) => toFriendship(r.get("friend")));
    });
  }

  async friendsAfter(user: string, after: string | undefined, limit: number): Promise<Friendship[]> {
    const rows = rowLimit(limit);
    return this.db.read("friendsAfter", async (run) => {
      await this.db.requireUsers(run, [user]);
      if (rows === 0) return [];
      const result = await run("friendsAfter", {
        registry: this.db.registry,
        userKey: nameKey(user),
        afterKey: nameKey(after ?? ""),
        limit: int(rows),
      });
      return result.records.map((r) => toFriendship(r.get("friend")));
    });
  }

  async areFriends(a: string, b: string): Promise<boolean> {
    return this.db.read("areFriends", async (run) => {
      const result = await run("areFriends", {
        registry: this.db.registry,
        aKey: nameKey(a),
        bKey: nameKey(b),
      });
      return toFlag(result.records[0]?.get("friends"), "friends");
    });
  }

  async enqueueNotice(notice: Notice): Promise<void> {
    await this.db.write("enqueueNotice", async (run) => {
      await this.db.requireUsers(run, [notice.to]);
      await run("enqueueNotice", {
        registry: this.db.registry,
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
    return this.db.read("pendingNotices", async (run) => {
      await this.db.requireUsers(run, [to]);
      if (rows === 0) return [];
      const result = await run("pendingNotices", {
        registry: this.db.registry,
        toKey: nameKey(to),
        limit: int(rows),
      });
      return result.records.map((r) => toNotice(r.get("notice")));
    });
  }

  async ackNotices(to: string, ids: string[]): Promise<number> {
    return this.db.write("ackNotices", async (run) => {
      await this.db.requireUsers(run, [to]);
      if (ids.length === 0) return 0;
      const result = await run("ackNotices", { registry: this.db.registry, toKey: nameKey(to), ids });
      return toCount(result.records[0]?.get("removed"), "removed");
    });
  }

  async suggest(user: string, limit: number, exceptGroups: readonly string[] = []): Promise<Suggestion[]> {
    const rows = rowLimit(limit);
    return this.db.read("suggest", async (run) => {
      await this.db.requireUsers(run, [user]);
      if (rows === 0) return [];
      const result = await run("suggest", {
        registry: this.db.registry,
        userKey: nameKey(user),
        exceptKeys: exceptGroups.map(nameKey),
        limit: int(rows),
      });
      return result.records.map((r) => toSuggestion(r.get("suggestion")));
    });
  }
}
