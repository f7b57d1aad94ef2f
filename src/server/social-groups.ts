/**
 * Groups and group chat, the part of the registry's social side (`social.ts`) that answers
 * the `group.*` requests: create, join (a request the admin answers), approve, decline, leave
 * (an admin who leaves hands the group to the longest-standing member; the last member to
 * leave deletes it), remove, hand over, describe, send, history and the list of one's groups.
 * Only a group's admin approves, declines, removes or hands over; the office room `#all`
 * (office-room.ts) refuses membership changes. A group message gets the group's next seq in
 * the store's transaction and is pushed to every online member, the sender included.
 */

import { HallwayError } from "../errors.js";
import type { ControlOf, GroupMessageEntry, NoticeNote } from "../protocol/control.js";
import { normalizeUsername } from "./accounts.js";
import { ANSWER_BUDGET_BYTES, fitPage } from "./reply-size.js";
import type { SocialContext } from "./social.js";
import { nextAdmin, validateGroupDescription, validateGroupName } from "./social-rules.js";
import type { GroupMember, GroupMessage, GroupRecord, Store } from "./store/store.js";

export class Groups {
  constructor(
    private readonly ctx: SocialContext,
    /** Stores a notice for `to` and pushes it if they are online. */
    private readonly notify: (to: string, note: NoticeNote) => Promise<void>,
  ) {}

  private get store(): Store {
    return this.ctx.store;
  }

  /** A page of the group's history, oldest first; members only. */
  async history(me: string, msg: ControlOf<"group.history">): Promise<unknown> {
    const g = await this.requireGroup(normalizeUsername(msg.group));
    await this.requireMember(g, me);
    const opts =
      msg.beforeSeq === undefined ? { limit: msg.limit } : { limit: msg.limit, beforeSeq: msg.beforeSeq };
    // Oldest first: what does not fit goes from the oldest end, so `beforeSeq` of the first
    // entry still continues the history.
    const page = fitPage((await this.store.groupHistory(g.name, opts)).map(toEntry), "start");
    const first = page.items[0];
    return { messages: page.items, ...(page.trimmed && first ? { nextBeforeSeq: first.seq } : {}) };
  }

  async describe(me: string, msg: ControlOf<"group.describe">): Promise<unknown> {
    const g = await this.requireAdmin(normalizeUsername(msg.group), me);
    await this.store.setGroupDescription(g.name, validateGroupDescription(msg.description));
    return undefined;
  }

  async groupCreate(me: string, group: string): Promise<unknown> {
    validateGroupName(group);
    await this.store.createGroup({ name: group, admin: me, createdAt: this.ctx.wall() });
    return undefined;
  }

  async groupJoin(me: string, group: string): Promise<unknown> {
    const g = await this.requireGroup(group);
    if (this.ctx.office?.is(g.name)) this.ctx.office.refuseMembershipChange();
    if ((await this.store.groupMembers(g.name)).some((m) => m.name === me)) {
      throw new HallwayError("GROUP_ALREADY_MEMBER", `you are already in ${g.name}`);
    }
    const asked = (await this.store.joinRequests(g.name)).some((r) => r.user === me);
    const waiting = asked ? 0 : await this.store.countJoinRequests(g.name);
    if (waiting >= this.ctx.quotas.joinRequestsPerGroup) {
      throw new HallwayError(
        "QUOTA_FULL",
        `${g.name} has ${waiting} join requests waiting, the most the registry keeps; try again later`,
      );
    }
    await this.store.putJoinRequest({ group: g.name, user: me, at: this.ctx.wall() });
    const stored = (await this.store.joinRequests(g.name)).find((r) => r.user === me);
    this.ctx.push(g.admin, {
      t: "group.joinRequest",
      group: g.name,
      user: me,
      at: stored?.at ?? this.ctx.wall(),
    });
    return undefined;
  }

  async groupApprove(me: string, group: string, user: string): Promise<unknown> {
    const g = await this.requireAdmin(group, me);
    if (!(await this.store.joinRequests(g.name)).some((r) => r.user === user)) {
      throw new HallwayError("GROUP_NO_REQUEST", `${user} has not asked to join ${g.name}`);
    }
    const at = this.ctx.wall();
    await this.store.addMember(g.name, user, at);
    await this.notify(user, { kind: "group.joined", group: g.name });
    for (const m of await this.store.groupMembers(g.name)) {
      if (m.name !== user) this.ctx.push(m.name, { t: "group.joined", group: g.name, user, at });
    }
    return undefined;
  }

  async groupDecline(me: string, group: string, user: string): Promise<unknown> {
    const g = await this.requireAdmin(group, me);
    if (!(await this.store.deleteJoinRequest(g.name, user))) {
      throw new HallwayError("GROUP_NO_REQUEST", `${user} has not asked to join ${g.name}`);
    }
    await this.notify(user, { kind: "group.declined", group: g.name });
    return undefined;
  }

  async groupLeave(me: string, group: string): Promise<unknown> {
    const g = await this.requireGroup(group);
    if (this.ctx.office?.is(g.name)) this.ctx.office.refuseMembershipChange();
    const members = await this.requireMember(g, me);
    if (g.admin === me) {
      const heir = nextAdmin(members, me);
      if (heir === undefined) {
        await this.store.deleteGroup(g.name);
        return { deleted: true };
      }
      await this.store.setGroupAdmin(g.name, heir);
      await this.notify(heir, { kind: "group.admin", group: g.name });
    }
    await this.store.removeMember(g.name, me);
    return { deleted: false };
  }

  async groupRemove(me: string, group: string, user: string): Promise<unknown> {
    const g = await this.requireAdmin(group, me);
    if (user === me) return this.groupLeave(me, group);
    if (!(await this.store.removeMember(g.name, user))) {
      throw new HallwayError("GROUP_NOT_MEMBER", `${user} is not in ${g.name}`);
    }
    await this.notify(user, { kind: "group.removed", group: g.name, by: me });
    return undefined;
  }

  async groupAdmin(me: string, group: string, user: string): Promise<unknown> {
    const g = await this.requireAdmin(group, me);
    if (user === me) return undefined;
    await this.store.setGroupAdmin(g.name, user);
    await this.notify(user, { kind: "group.admin", group: g.name });
    return undefined;
  }

  async groupSend(me: string, msg: ControlOf<"group.send">): Promise<unknown> {
    const g = await this.requireGroup(normalizeUsername(msg.group));
    const members = await this.requireMember(g, me);
    if (this.ctx.office?.is(g.name)) this.ctx.office.requireMayWrite(me);
    if (msg.text.length === 0) throw new HallwayError("MSG_EMPTY", "message is empty");
    const stored = await this.store.appendGroupMessage({
      id: msg.id,
      group: g.name,
      from: me,
      body: msg.text,
      sentAt: msg.sentAt,
    });
    const entry = toEntry(stored);
    for (const m of members) this.ctx.push(m.name, { t: "group.message", msgs: [entry] });
    return { seq: stored.seq };
  }

  async list(me: string): Promise<unknown> {
    const groups = await this.store.groupsOf(me);
    return {
      groups: await Promise.all(
        groups.map(async (g) => ({
          name: g.name,
          admin: g.admin,
          lastSeq: g.lastSeq,
          ...(g.description === null ? {} : { description: g.description }),
          members: await this.memberNames(g.name),
        })),
      ),
    };
  }

  /**
   * A group's members by name. The office room's list is everyone registered: it is cut to
   * half an answer (some 20,000 names), so the `groups` answer still fits a message.
   */
  private async memberNames(group: string): Promise<string[]> {
    const names = (await this.store.groupMembers(group)).map((m) => m.name);
    return this.ctx.office?.is(group)
      ? fitPage(names, "end", Math.floor(ANSWER_BUDGET_BYTES / 2)).items
      : names;
  }

  private async requireGroup(name: string): Promise<GroupRecord> {
    const g = await this.store.getGroup(name);
    if (!g) throw new HallwayError("GROUP_UNKNOWN", `no group named '${name}'`);
    return g;
  }

  private async requireMember(g: GroupRecord, user: string): Promise<GroupMember[]> {
    const members = await this.store.groupMembers(g.name);
    if (!members.some((m) => m.name === user)) {
      throw new HallwayError("GROUP_NOT_MEMBER", `you are not in ${g.name}`);
    }
    return members;
  }

  private async requireAdmin(group: string, me: string): Promise<GroupRecord> {
    const g = await this.requireGroup(group);
    if (this.ctx.office?.is(g.name)) this.ctx.office.refuseMembershipChange();
    if (g.admin !== me) throw new HallwayError("GROUP_NOT_ADMIN", `only ${g.admin}, the admin, may do that`);
    return g;
  }
}

export function toEntry(m: GroupMessage): GroupMessageEntry {
  return { id: m.id, group: m.group, from: m.from, text: m.body, sentAt: m.sentAt, seq: m.seq };
}
