/**
 * The registry's social side: friends, groups and group chat, profiles, suggestions, and the
 * messaging policy. The store keeps the records; this module decides who may do what. The
 * `group.*` requests are answered by `social-groups.ts`, the `friend.*` ones and `friends`
 * by `social-friends.ts`.
 *
 * Delivery, by kind of news:
 * - A friend request and a join request are records in the store until answered. They are
 *   pushed live when the addressee (the user, or the group's admin) is online, and again at
 *   every login while they wait.
 * - Answers and outcomes (accepted, declined, removed, joined, made admin) are durable
 *   notices: stored first, pushed live if the addressee is online, pushed again at each login
 *   until the client acknowledges the notice's id.
 * - Group messages get the group's next sequence number from the store and are pushed to
 *   every online member, the sender included, so everyone sees one order. A member
 *   acknowledges the highest seq received (`group.ack`); at login the registry pushes each
 *   group's backlog above that, oldest first.
 *
 * Ordering: live pushes go through the addressee's session queue, and the login backlog is
 * chained on that queue as soon as the user is marked online. A live message therefore never
 * overtakes the backlog; one that is in both arrives twice and the client drops it by id.
 *
 * Policy: `open` (an office directory: anyone may message anyone, everyone sees everyone's
 * presence) or `friends` (only friends may look each other up, message each other or see each
 * other's presence; lookup is how the registry introduces peers, so non-friends never learn
 * each other's address or key).
 */

import { HallwayError } from "../errors.js";
import {
  type Control,
  type ControlOf,
  type NoticeNote,
  noticeNote,
  type PresenceStatus,
  type SearchCursors,
} from "../protocol/control.js";
import { normalizeUsername } from "./accounts.js";
import type { Limits } from "./limits.js";
import type { OfficeRoom } from "./office-room.js";
import { profileFor, searchVisible } from "./profile-view.js";
import { pushBatches } from "./push-batches.js";
import { ANSWER_BUDGET_BYTES, fitPage } from "./reply-size.js";
import { Friends } from "./social-friends.js";
import { Groups, toEntry } from "./social-groups.js";
import { mergeVisibility, validateProfilePatch } from "./social-rules.js";
import type { GroupRecord, Store } from "./store/store.js";

export type Policy = "open" | "friends";
export const POLICIES: readonly Policy[] = ["open", "friends"];

export interface SocialContext {
  store: Store;
  policy: Policy;
  /** How many friend requests may wait for one user, join requests for one group. */
  quotas: Pick<Limits["quotas"], "friendRequestsPerRecipient" | "joinRequestsPerGroup">;
  wall(): number;
  /** Random bytes (notice ids). */
  random(n: number): Uint8Array;
  /** `online` or `away` while the user has a live session, else `offline`. */
  presenceOf(user: string): PresenceStatus;
  /** Push to the user's session, after whatever that session is doing now; a no-op if offline. */
  push(user: string, msg: Control): void;
  log(line: string): void;
  /** The office room `#all` (office-room.ts); none when absent. */
  office?: OfficeRoom;
}

const SOCIAL_REQUESTS = [
  "friend.request",
  "friend.accept",
  "friend.decline",
  "friend.remove",
  "friends",
  "search",
  "group.create",
  "group.join",
  "group.approve",
  "group.decline",
  "group.leave",
  "group.remove",
  "group.admin",
  "group.send",
  "group.history",
  "group.ack",
  "groups",
  "group.describe",
  "profile.set",
  "profile.get",
  "suggest",
  "notice.ack",
] as const;

export type SocialRequest = ControlOf<(typeof SOCIAL_REQUESTS)[number]>;

const socialTypes: ReadonlySet<string> = new Set(SOCIAL_REQUESTS);

export function isSocialRequest(msg: Control): msg is SocialRequest {
  return socialTypes.has(msg.t);
}

const LOGIN_BACKLOG_LIMIT = 10_000;

export class Social {
  private readonly groups: Groups;
  private readonly friendsPart: Friends;

  constructor(private readonly ctx: SocialContext) {
    this.groups = new Groups(ctx, (to, note) => this.notify(to, note));
    this.friendsPart = new Friends(ctx, (to, note) => this.notify(to, note));
  }

  private get store(): Store {
    return this.ctx.store;
  }

  /** Handle one request of the logged-in `me`; resolves with the answer's `data`. */
  async handle(me: string, msg: SocialRequest): Promise<unknown> {
    switch (msg.t) {
      case "friend.request":
        return this.friendsPart.request(me, normalizeUsername(msg.to));
      case "friend.accept":
        return this.friendsPart.accept(me, normalizeUsername(msg.from));
      case "friend.decline":
        return this.friendsPart.decline(me, normalizeUsername(msg.from));
      case "friend.remove":
        return this.friendsPart.remove(me, normalizeUsername(msg.user));
      case "friends":
        return this.friendsPart.lists(me, msg);
      case "search":
        return this.search(me, msg.prefix.trim().toLowerCase(), msg.limit, msg.after ?? {});
      case "group.create":
        return this.groups.groupCreate(me, normalizeUsername(msg.group));
      case "group.join":
        return this.groups.groupJoin(me, normalizeUsername(msg.group));
      case "group.approve":
        return this.groups.groupApprove(me, normalizeUsername(msg.group), normalizeUsername(msg.user));
      case "group.decline":
        return this.groups.groupDecline(me, normalizeUsername(msg.group), normalizeUsername(msg.user));
      case "group.leave":
        return this.groups.groupLeave(me, normalizeUsername(msg.group));
      case "group.remove":
        return this.groups.groupRemove(me, normalizeUsername(msg.group), normalizeUsername(msg.user));
      case "group.admin":
        return this.groups.groupAdmin(me, normalizeUsername(msg.group), normalizeUsername(msg.user));
      case "group.send":
        return this.groups.groupSend(me, msg);
      case "group.history":
        return this.groups.history(me, msg);
      case "group.ack":
        await this.store.ackGroup(normalizeUsername(msg.group), me, msg.seq);
        return undefined;
      case "groups":
        return this.groups.list(me);
      case "profile.set":
        return this.profileSet(me, msg.patch);
      case "profile.get":
        return this.profile(me, normalizeUsername(msg.user));
      case "group.describe":
        return this.groups.describe(me, msg);
      case "suggest":
        return { suggestions: await this.store.suggest(me, msg.limit, this.ctx.office?.exceptGroups) };
      case "notice.ack":
        await this.store.ackNotices(me, msg.ids);
        return undefined;
    }
  }

  // ---- policy -------------------------------------------------------------------------

  /** Throws POLICY_NOT_FRIENDS when the policy forbids `from` to reach `to`. */
  async requireMayTalk(from: string, to: string): Promise<void> {
    if (this.ctx.policy === "open" || from === to) return;
    if (await this.store.areFriends(from, to)) return;
    throw new HallwayError(
      "POLICY_NOT_FRIENDS",
      `this registry only lets friends talk; send ${to} a friend request first`,
    );
  }

  /** Who may see `user`'s presence: everyone (undefined) or their friends. */
  async presenceAudience(user: string): Promise<ReadonlySet<string> | undefined> {
    if (this.ctx.policy === "open") return undefined;
    return new Set((await this.store.friendsOf(user)).map((f) => f.name));
  }

  // ---- login --------------------------------------------------------------------------

  /**
   * Everything waiting for `user`, sent with `send` (straight to the session, not through its
   * queue, so nothing queued meanwhile can overtake it): friend requests, join requests to
   * the groups they run, notices, and each group's backlog in seq order.
   */
  async atLogin(user: string, send: (msg: Control) => void): Promise<void> {
    for (const r of await this.store.friendRequestsTo(user)) {
      send({ t: "friend.incoming", from: r.from, at: r.at });
    }
    const groups = await this.store.groupsOf(user);
    for (const g of groups) {
      if (g.admin !== user) continue;
      for (const r of await this.store.joinRequests(g.name)) {
        send({ t: "group.joinRequest", group: g.name, user: r.user, at: r.at });
      }
    }
    const unreadable: string[] = [];
    for (const n of await this.store.pendingNotices(user, 1000)) {
      const note = parseNote(n.body);
      if (note) send({ t: "notice", id: n.id, at: n.at, note });
      else unreadable.push(n.id);
    }
    if (unreadable.length > 0) {
      this.ctx.log(`dropped ${unreadable.length} unreadable notice(s) for ${user}`);
      await this.store.ackNotices(user, unreadable);
    }
    for (const g of groups) {
      if (this.ctx.office?.is(g.name)) await this.skipToWindow(g, user, this.ctx.office.backlogWindow);
      const backlog = await this.store.groupBacklog(g.name, user, LOGIN_BACKLOG_LIMIT);
      for (const msgs of pushBatches(backlog.map(toEntry), (m) => m.text)) send({ t: "group.message", msgs });
    }
  }

  /**
   * Moves `user`'s acknowledgement in `g` up to `window` messages below the newest, so the
   * backlog holds at most the newest `window` (the older ones stay in history).
   */
  private async skipToWindow(g: GroupRecord, user: string, window: number): Promise<void> {
    const floor = g.lastSeq - window;
    if (floor <= 0) return;
    const me = (await this.store.groupMembers(g.name)).find((m) => m.name === user);
    if (me && me.ackedSeq < floor) await this.store.ackGroup(g.name, user, floor);
  }

  private async search(me: string, prefix: string, limit: number, after: SearchCursors): Promise<unknown> {
    const [users, groups] = await Promise.all([
      this.store.searchUsersAfter(prefix, after.users, limit + 1),
      this.store.searchGroupsAfter(prefix, after.groups, limit + 1),
    ]);
    const budget = Math.floor(ANSWER_BUDGET_BYTES / 2);
    // A user found only by a field they hide from `me` is left out (profile-view.ts).
    const examined = users.slice(0, limit);
    const visible = await searchVisible(examined, prefix, me, (a, b) => this.store.areFriends(a, b));
    const u = fitPage(
      visible.map((x) => ({ name: x.name, displayName: x.displayName })),
      "end",
      budget,
    );
    const g = fitPage(
      groups.slice(0, limit).map((x) => ({ name: x.name, admin: x.admin })),
      "end",
      budget,
    );
    const next: SearchCursors = {};
    const lastU = u.items.at(-1);
    const lastG = g.items.at(-1);
    const lastExamined = examined.at(-1);
    if (u.trimmed && lastU) next.users = lastU.name;
    else if (users.length > limit && lastExamined) next.users = lastExamined.name;
    if ((g.trimmed || groups.length > limit) && lastG) next.groups = lastG.name;
    return { users: u.items, groups: g.items, ...(Object.keys(next).length > 0 ? { next } : {}) };
  }

  private async profile(me: string, user: string): Promise<unknown> {
    const u = await this.requireUser(user);
    const friends = me !== u.name && (await this.store.areFriends(me, u.name));
    return profileFor(u, me, friends, this.ctx.wall());
  }

  private async profileSet(me: string, patch: ControlOf<"profile.set">["patch"]): Promise<unknown> {
    const now = this.ctx.wall();
    const fields = validateProfilePatch(patch, now);
    if (patch.visibility !== undefined) {
      const u = await this.requireUser(me);
      fields.visibility = mergeVisibility(u.visibility, patch.visibility);
    }
    await this.store.setProfile(me, fields, now);
    return undefined;
  }

  // ---- helpers ------------------------------------------------------------------------

  /** Store the notice, then push it if its addressee is online; it waits otherwise. */
  private async notify(to: string, note: NoticeNote): Promise<void> {
    const id = Buffer.from(this.ctx.random(12)).toString("hex");
    const at = this.ctx.wall();
    await this.store.enqueueNotice({ id, to, kind: note.kind, body: JSON.stringify(note), at });
    this.ctx.push(to, { t: "notice", id, at, note });
  }

  private async requireUser(name: string) {
    const u = await this.store.getUser(name);
    if (!u) throw new HallwayError("AUTH_UNKNOWN_USER", `no user named '${name}'`);
    return u;
  }
}

function parseNote(body: string): NoticeNote | undefined {
  try {
    const parsed = noticeNote.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
