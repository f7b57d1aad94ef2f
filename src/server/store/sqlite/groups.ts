/**
 * `GroupStore` in SQLite: groups, members, join requests and group messages. A group's
 * `last_seq` is its counter, incremented inside the `BEGIN IMMEDIATE` transaction (or group
 * commit) that stores the message, so seqs are gapless and in commit order.
 */

import { HallwayError } from "../../../errors.js";
import { rowLimit, searchKey } from "../port-rules.js";
import type { GroupMember, GroupMessage, GroupRecord, GroupStore, JoinRequest } from "../social-store.js";
import type { SqliteDatabase } from "./database.js";
import { type MemberRow, toGroup, toGroupMessage, toMember } from "./rows.js";
import { knownGroup, knownMember, knownUser } from "./statements.js";

export class SqliteGroups implements GroupStore {
  constructor(private readonly db: SqliteDatabase) {}

  async createGroup(group: { name: string; admin: string; createdAt: number }): Promise<void> {
    this.db.transaction("createGroup", (s) => {
      const admin = knownUser(s, group.admin);
      if (s.getGroup.get(group.name) !== undefined) {
        throw new HallwayError("GROUP_EXISTS", `group ${JSON.stringify(group.name)} already exists`);
      }
      s.insertGroup.run(group.name, admin, group.createdAt, 0);
      s.insertMember.run(group.name, admin, group.createdAt, 0);
    });
  }

  async getGroup(name: string): Promise<GroupRecord | undefined> {
    return this.db.run("getGroup", (s) => {
      const row = s.getGroup.get(name);
      return row === undefined ? undefined : toGroup(row);
    });
  }

  async searchGroups(prefix: string, limit: number): Promise<GroupRecord[]> {
    const rows = rowLimit(limit);
    if (rows === 0) return this.db.run("searchGroups", () => []);
    return this.db.run("searchGroups", (s) =>
      s.searchGroups.all({ prefix: searchKey(prefix), limit: rows }).map(toGroup),
    );
  }

  async searchGroupsAfter(prefix: string, after: string | undefined, limit: number): Promise<GroupRecord[]> {
    const rows = rowLimit(limit);
    return this.db.run("searchGroupsAfter", (s) =>
      rows === 0
        ? []
        : s.searchGroupsAfter
            .all({ prefix: searchKey(prefix), after: after ?? "", limit: rows })
            .map(toGroup),
    );
  }

  async setGroupDescription(group: string, description: string | null): Promise<void> {
    this.db.transaction("setGroupDescription", (s) => {
      s.setGroupDescription.run(description, knownGroup(s, group).name);
    });
  }

  async deleteGroup(name: string): Promise<boolean> {
    return this.db.transaction("deleteGroup", (s) => s.deleteGroup.run(name).changes > 0);
  }

  async setGroupAdmin(group: string, user: string): Promise<void> {
    this.db.transaction("setGroupAdmin", (s) => {
      const g = knownGroup(s, group);
      const u = knownMember(s, g.name, user);
      s.setGroupAdmin.run(u, g.name);
    });
  }

  async groupMembers(group: string): Promise<GroupMember[]> {
    return this.db.run("groupMembers", (s) => s.groupMembers.all(knownGroup(s, group).name).map(toMember));
  }

  async groupsOf(user: string): Promise<GroupRecord[]> {
    return this.db.run("groupsOf", (s) => s.groupsOf.all(knownUser(s, user)).map(toGroup));
  }

  async addMember(group: string, user: string, joinedAt: number): Promise<void> {
    this.db.transaction("addMember", (s) => {
      const g = knownGroup(s, group);
      const u = knownUser(s, user);
      s.insertMember.run(g.name, u, joinedAt, g.last_seq);
      s.deleteJoinRequest.run(g.name, u);
    });
  }

  async addMembers(group: string, users: readonly string[], joinedAt: number): Promise<void> {
    if (users.length === 0) return;
    this.db.transaction("addMembers", (s) => {
      const g = knownGroup(s, group);
      for (const user of users) {
        const u = knownUser(s, user);
        s.insertMember.run(g.name, u, joinedAt, g.last_seq);
        s.deleteJoinRequest.run(g.name, u);
      }
    });
  }

  async removeMember(group: string, user: string): Promise<boolean> {
    return this.db.transaction("removeMember", (s) => {
      const g = knownGroup(s, group);
      return s.deleteMember.run(g.name, knownUser(s, user)).changes > 0;
    });
  }

  async putJoinRequest(req: JoinRequest): Promise<void> {
    this.db.transaction("putJoinRequest", (s) => {
      const g = knownGroup(s, req.group);
      s.putJoinRequest.run(g.name, knownUser(s, req.user), req.at);
    });
  }

  async deleteJoinRequest(group: string, user: string): Promise<boolean> {
    return this.db.transaction("deleteJoinRequest", (s) => {
      const g = knownGroup(s, group);
      return s.deleteJoinRequest.run(g.name, knownUser(s, user)).changes > 0;
    });
  }

  async joinRequests(group: string): Promise<JoinRequest[]> {
    return this.db.run("joinRequests", (s) => s.joinRequests.all(knownGroup(s, group).name));
  }

  async countJoinRequests(group: string): Promise<number> {
    return this.db.run("countJoinRequests", (s) => s.countJoinRequests.get(group) ?? 0);
  }

  async appendGroupMessage(msg: Omit<GroupMessage, "seq">): Promise<GroupMessage> {
    return this.db.append("appendGroupMessage", (s) => {
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
    return this.db.run("groupHistory", (s) => {
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
    return this.db.transaction("groupBacklog", (s) => {
      const g = knownGroup(s, group);
      const member = s.getMember.get(g.name, knownMember(s, g.name, user)) as MemberRow;
      if (rows === 0) return [];
      return s.groupMessagesAfter.all(g.name, member.acked_seq, rows).map(toGroupMessage);
    });
  }

  /** In the group commit: every member acknowledges every group message it gets. */
  async ackGroup(group: string, user: string, seq: number): Promise<void> {
    await this.db.append("ackGroup", (s) => {
      const g = knownGroup(s, group);
      s.ackGroup.run({ group: g.name, user: knownMember(s, g.name, user), seq });
    });
  }
}
