/**
 * Friends, the part of the registry's social side (`social.ts`) that answers the `friend.*`
 * requests and `friends`: a request (one the other way already says yes; a recipient has at
 * most `friendRequestsPerRecipient` waiting), accept, decline, remove, and the three lists,
 * page by page. Under the `friends` policy, becoming friends shows each other's presence and
 * ending it says "offline" to both.
 */

import { HallwayError } from "../errors.js";
import { type ControlOf, FRIEND_LISTS, type FriendCursors, type NoticeNote } from "../protocol/control.js";
import { ANSWER_BUDGET_BYTES, fitPage } from "./reply-size.js";
import type { SocialContext } from "./social.js";
import type { Store } from "./store/store.js";

/** Entries per list of `friends` when the request names no limit. */
const DEFAULT_FRIENDS_PAGE = 500;

export class Friends {
  constructor(
    private readonly ctx: SocialContext,
    /** Stores a notice for `to` and pushes it if they are online. */
    private readonly notify: (to: string, note: NoticeNote) => Promise<void>,
  ) {}

  private get store(): Store {
    return this.ctx.store;
  }

  private async requireUser(name: string) {
    const u = await this.store.getUser(name);
    if (!u) throw new HallwayError("AUTH_UNKNOWN_USER", `no user named '${name}'`);
    return u;
  }

  async request(me: string, to: string): Promise<unknown> {
    if (to === me) throw new HallwayError("FRIEND_SELF", "you cannot befriend yourself");
    await this.requireUser(to);
    if (await this.store.areFriends(me, to)) {
      throw new HallwayError("FRIEND_ALREADY", `you and ${to} are already friends`);
    }
    // A request the other way already says yes.
    if ((await this.store.friendRequestsTo(me)).some((r) => r.from === to)) {
      await this.befriend(to, me);
      return { friends: true };
    }
    const asked = (await this.store.friendRequestsFrom(me)).some((r) => r.to === to);
    const waiting = asked ? 0 : await this.store.countFriendRequestsTo(to);
    if (waiting >= this.ctx.quotas.friendRequestsPerRecipient) {
      throw new HallwayError(
        "QUOTA_FULL",
        `${to} has ${waiting} friend requests waiting, the most the registry keeps; try again later`,
      );
    }
    await this.store.putFriendRequest({ from: me, to, at: this.ctx.wall() });
    const stored = (await this.store.friendRequestsFrom(me)).find((r) => r.to === to);
    this.ctx.push(to, { t: "friend.incoming", from: me, at: stored?.at ?? this.ctx.wall() });
    return { friends: false };
  }

  async accept(me: string, from: string): Promise<unknown> {
    if (!(await this.store.friendRequestsTo(me)).some((r) => r.from === from)) {
      throw new HallwayError("FRIEND_NO_REQUEST", `${from} has not asked to be your friend`);
    }
    await this.befriend(from, me);
    return undefined;
  }

  private async befriend(requester: string, accepter: string): Promise<void> {
    const at = this.ctx.wall();
    await this.store.addFriendship(requester, accepter, at);
    await this.notify(requester, { kind: "friend.accepted", by: accepter });
    const requesterIs = this.ctx.presenceOf(requester);
    const accepterIs = this.ctx.presenceOf(accepter);
    if (this.ctx.policy === "friends" && requesterIs !== "offline" && accepterIs !== "offline") {
      this.ctx.push(requester, { t: "presence", user: accepter, status: accepterIs, at });
      this.ctx.push(accepter, { t: "presence", user: requester, status: requesterIs, at });
    }
  }

  async decline(me: string, from: string): Promise<unknown> {
    if (!(await this.store.deleteFriendRequest(from, me))) {
      throw new HallwayError("FRIEND_NO_REQUEST", `${from} has not asked to be your friend`);
    }
    await this.notify(from, { kind: "friend.declined", by: me });
    return undefined;
  }

  async remove(me: string, other: string): Promise<unknown> {
    if (!(await this.store.removeFriendship(me, other))) {
      throw new HallwayError("FRIEND_NOT_FRIENDS", `you and ${other} are not friends`);
    }
    await this.notify(other, { kind: "friend.removed", by: me });
    if (this.ctx.policy === "friends") {
      // Their presence is no longer each other's business: the last word either saw is "offline".
      const at = this.ctx.wall();
      this.ctx.push(me, { t: "presence", user: other, status: "offline", at });
      this.ctx.push(other, { t: "presence", user: me, status: "offline", at });
    }
    return undefined;
  }

  /**
   * One page of each list asked for (`only`, default all three): `limit` entries after each
   * list's cursor. `next` holds the cursor of every list that has more.
   */
  async lists(me: string, msg: ControlOf<"friends">): Promise<unknown> {
    const limit = msg.limit ?? DEFAULT_FRIENDS_PAGE;
    const only = new Set(msg.only ?? FRIEND_LISTS);
    const after = msg.after ?? {};
    // A third of the answer for each list, so the three together fit.
    const budget = Math.floor(ANSWER_BUDGET_BYTES / 3);
    const [friends, incoming, outgoing] = await Promise.all([
      only.has("friends") ? this.store.friendsAfter(me, after.friends, limit + 1) : [],
      only.has("incoming") ? this.store.friendRequestsToAfter(me, after.incoming, limit + 1) : [],
      only.has("outgoing") ? this.store.friendRequestsFromAfter(me, after.outgoing, limit + 1) : [],
    ]);
    const cut = <T>(items: T[]) => {
      const page = fitPage(items.slice(0, limit), "end", budget);
      return { items: page.items, more: page.trimmed || items.length > limit };
    };
    const f = cut(
      friends.map((x) => ({ name: x.name, since: x.since, status: this.ctx.presenceOf(x.name) })),
    );
    const i = cut(incoming.map((r) => ({ from: r.from, at: r.at })));
    const o = cut(outgoing.map((r) => ({ to: r.to, at: r.at })));
    const next: FriendCursors = {};
    const lastF = f.items.at(-1);
    const lastI = i.items.at(-1);
    const lastO = o.items.at(-1);
    if (f.more && lastF) next.friends = lastF.name;
    if (i.more && lastI) next.incoming = { at: lastI.at, name: lastI.from };
    if (o.more && lastO) next.outgoing = { at: lastO.at, name: lastO.to };
    return {
      friends: f.items,
      incoming: i.items,
      outgoing: o.items,
      ...(Object.keys(next).length > 0 ? { next } : {}),
    };
  }
}
