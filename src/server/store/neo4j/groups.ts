/**
 * `GroupStore` in Neo4j: `Group` nodes with `ADMIN_OF`, `MEMBER {joinedAt, ackedSeq}` and
 * `WANTS_TO_JOIN` relationships, and `GroupMessage` nodes numbered by the group's `lastSeq`.
 * The checks a write depends on (group exists, membership) run inside that write's transaction.
 */

import { int } from "neo4j-driver";
import { HallwayError } from "../../../errors.js";
import { nameKey, rowLimit, searchKey } from "../port-rules.js";
import type { GroupMember, GroupMessage, GroupRecord, GroupStore, JoinRequest } from "../social-store.js";
import { type Neo4jDatabase, noGroup, noUser, type ReadRun } from "./database.js";
import { toCount, toFlag, toGroupMember, toGroupMessage, toGroupRecord, toJoinRequest } from "./mapping.js";

export class Neo4jGroups implements GroupStore {
  constructor(private readonly db: Neo4jDatabase) {}

  async createGroup(group: { name: string; admin: string; createdAt: number }): Promise<void> {
    const groupKey = nameKey(group.name);
    await this.db.write("createGroup", async (run) => {
      await this.db.requireUsers(run, [group.admin]);
      const created = await run("createGroup", {
        registry: this.db.registry,
        groupKey,
        name: group.name,
        createdAt: int(group.createdAt),
      });
      if (created.summary.counters.updates().nodesCreated === 0) {
        throw new HallwayError("GROUP_EXISTS", `group ${JSON.stringify(group.name)} already exists`);
      }
      await run("foundGroup", { registry: this.db.registry, groupKey, adminKey: nameKey(group.admin) });
    });
  }

  async getGroup(name: string): Promise<GroupRecord | undefined> {
    return this.db.read("getGroup", (run) => this.findGroup(run, name));
  }

  async searchGroups(prefix: string, limit: number): Promise<GroupRecord[]> {
    const rows = rowLimit(limit);
    if (rows === 0) return this.db.none();
    return this.db.read("searchGroups", async (run) => {
      const result = await run("searchGroups", {
        registry: this.db.registry,
        prefix: searchKey(prefix),
        limit: int(rows),
      });
      return result.records.map((r) => toGroupRecord(r.get("group")));
    });
  }

  async searchGroupsAfter(prefix: string, after: string | undefined, limit: number): Promise<GroupRecord[]> {
    const rows = rowLimit(limit);
    if (rows === 0) {
      this.db.opened();
      return [];
    }
    return this.db.read("searchGroupsAfter", async (run) => {
      const result = await run("searchGroupsAfter", {
        registry: this.db.registry,
        prefix: searchKey(prefix),
        afterKey: nameKey(after ?? ""),
        limit: int(rows),
      });
      return result.records.map((r) => toGroupRecord(r.get("group")));
    });
  }

  async setGroupDescription(group: string, description: string | null): Promise<void> {
    await this.db.write("setGroupDescription", async (run) => {
      const result = await run("setGroupDescription", {
        registry: this.db.registry,
        groupKey: nameKey(group),
        description,
      });
      if (toCount(result.records[0]?.get("updated"), "updated") === 0) throw noGroup(group);
    });
  }

  async deleteGroup(name: string): Promise<boolean> {
    return this.db.write("deleteGroup", async (run) => {
      const result = await run("deleteGroup", { registry: this.db.registry, groupKey: nameKey(name) });
      return toCount(result.records[0]?.get("deleted"), "deleted") > 0;
    });
  }

  async setGroupAdmin(group: string, user: string): Promise<void> {
    await this.db.write("setGroupAdmin", async (run) => {
      await this.requireMember(run, group, user);
      await run("setGroupAdmin", {
        registry: this.db.registry,
        groupKey: nameKey(group),
        userKey: nameKey(user),
      });
    });
  }

  async groupMembers(group: string): Promise<GroupMember[]> {
    return this.db.read("groupMembers", async (run) => {
      await this.requireGroup(run, group);
      const result = await run("groupMembers", { registry: this.db.registry, groupKey: nameKey(group) });
      return result.records.map((r) => toGroupMember(r.get("member")));
    });
  }

  async groupsOf(user: string): Promise<GroupRecord[]> {
    return this.db.read("groupsOf", async (run) => {
      await this.db.requireUsers(run, [user]);
      const result = await run("groupsOf", { registry: this.db.registry, userKey: nameKey(user) });
      return result.records.map((r) => toGroupRecord(r.get("group")));
    });
  }

  async addMember(group: string, user: string, joinedAt: number): Promise<void> {
    await this.db.write("addMember", async (run) => {
      await this.requireGroup(run, group);
      await this.db.requireUsers(run, [user]);
      await run("addMember", {
        registry: this.db.registry,
        groupKey: nameKey(group),
        userKey: nameKey(user),
        joinedAt: int(joinedAt),
      });
    });
  }

  async addMembers(group: string, users: readonly string[], joinedAt: number): Promise<void> {
    if (users.length === 0) return;
    await this.db.write("addMembers", async (run) => {
      await this.requireGroup(run, group);
      await this.db.requireUsers(run, users);
      await run("addMembers", {
        registry: this.db.registry,
        groupKey: nameKey(group),
        userKeys: users.map(nameKey),
        joinedAt: int(joinedAt),
      });
    });
  }

  async removeMember(group: string, user: string): Promise<boolean> {
    return this.db.write("removeMember", async (run) => {
      await this.requireGroup(run, group);
      await this.db.requireUsers(run, [user]);
      const result = await run("removeMember", {
        registry: this.db.registry,
        groupKey: nameKey(group),
        userKey: nameKey(user),
      });
      return toCount(result.records[0]?.get("removed"), "removed") > 0;
    });
  }

  async putJoinRequest(req: JoinRequest): Promise<void> {
    await this.db.write("putJoinRequest", async (run) => {
      await this.requireGroup(run, req.group);
      await this.db.requireUsers(run, [req.user]);
      await run("putJoinRequest", {
        registry: this.db.registry,
        groupKey: nameKey(req.group),
        userKey: nameKey(req.user),
        at: int(req.at),
      });
    });
  }

  async deleteJoinRequest(group: string, user: string): Promise<boolean> {
    return this.db.write("deleteJoinRequest", async (run) => {
      await this.requireGroup(run, group);
      await this.db.requireUsers(run, [user]);
      const result = await run("deleteJoinRequest", {
        registry: this.db.registry,
        groupKey: nameKey(group),
        userKey: nameKey(user),
      });
      return toCount(result.records[0]?.get("removed"), "removed") > 0;
    });
  }

  async joinRequests(group: string): Promise<JoinRequest[]> {
    return this.db.read("joinRequests", async (run) => {
      await this.requireGroup(run, group);
      const result = await run("joinRequests", { registry: this.db.registry, groupKey: nameKey(group) });
      return result.records.map((r) => toJoinRequest(r.get("request")));
    });
  }

  async countJoinRequests(group: string): Promise<number> {
    return this.db.read("countJoinRequests", async (run) => {
      const result = await run("countJoinRequests", { registry: this.db.registry, groupKey: nameKey(group) });
      return toCount(result.records[0]?.get("n"), "n");
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
    return this.db.append("appendGroupMessage", async (run) => {
      const earlier = await this.findGroupMessage(run, msg.id);
      if (earlier !== undefined) return earlier;
      const locked = await run("lockGroup", { registry: this.db.registry, groupKey });
      if (locked.records.length === 0) throw noGroup(msg.group);
      const racing = await this.findGroupMessage(run, msg.id);
      if (racing !== undefined) return racing;
      await this.db.requireUsers(run, [msg.from]);
      const result = await run("appendGroupMessage", {
        registry: this.db.registry,
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

  async groupHistory(group: string, opts: { limit: number; beforeSeq?: number }): Promise<GroupMessage[]> {
    const limit = rowLimit(opts.limit);
    const groupKey = nameKey(group);
    return this.db.read("groupHistory", async (run) => {
      await this.requireGroup(run, group);
      if (limit === 0) return [];
      const result =
        opts.beforeSeq === undefined
          ? await run("groupHistoryLatest", { registry: this.db.registry, groupKey, limit: int(limit) })
          : await run("groupHistoryBefore", {
              registry: this.db.registry,
              groupKey,
              beforeSeq: int(opts.beforeSeq),
              limit: int(limit),
            });
      return result.records.map((r) => toGroupMessage(r.get("message"))).reverse();
    });
  }

  async groupBacklog(group: string, user: string, limit: number): Promise<GroupMessage[]> {
    const rows = rowLimit(limit);
    return this.db.read("groupBacklog", async (run) => {
      const ackedSeq = await this.requireMember(run, group, user);
      if (rows === 0) return [];
      const result = await run("groupMessagesAfter", {
        registry: this.db.registry,
        groupKey: nameKey(group),
        afterSeq: int(ackedSeq),
        limit: int(rows),
      });
      return result.records.map((r) => toGroupMessage(r.get("message")));
    });
  }

  /** In the group commit: every member acknowledges every group message it gets. */
  async ackGroup(group: string, user: string, seq: number): Promise<void> {
    await this.db.append("ackGroup", async (run) => {
      await this.requireMember(run, group, user);
      await run("ackGroup", {
        registry: this.db.registry,
        groupKey: nameKey(group),
        userKey: nameKey(user),
        seq: int(Math.floor(seq)),
      });
    });
  }

  private async findGroup(run: ReadRun, name: string): Promise<GroupRecord | undefined> {
    const result = await run("getGroup", { registry: this.db.registry, groupKey: nameKey(name) });
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
      registry: this.db.registry,
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
    const result = await run("getGroupMessage", { registry: this.db.registry, id });
    const record = result.records[0];
    return record === undefined ? undefined : toGroupMessage(record.get("message"));
  }
}
