/**
 * Who is there and how to reach them: the user directory (`users`), `lookup` (a user's
 * presence, key and addresses) and the registry-coordinated `connect`, which hands both sides
 * each other's candidates, one fresh token and, unless asked not to, a relay channel
 * (`relay.ts`). The registry introduces only peers that may talk (`social.ts`).
 */

import { HallwayError } from "../errors.js";
import type { ConnectData, Control, ControlOf, UserEntry } from "../protocol/control.js";
import { MAX_PAGE } from "../protocol/control.js";
import { PROBE_BYTES } from "../protocol/probe.js";
import { normalizeUsername } from "./accounts.js";
import type { PresenceBoard } from "./presence-board.js";
import { type ClientSession, dedupe } from "./registry-session.js";
import type { Relay } from "./relay.js";
import { fitPage } from "./reply-size.js";
import type { Social } from "./social.js";
import type { Store } from "./store/store.js";

/**
 * Probes a peer may send toward candidates the registry did not observe, beyond the size of
 * the `connect` that asked for them: two probes (docs/security.md, "Reflection").
 */
export const PROBE_ALLOWANCE_BYTES = 2 * PROBE_BYTES;

export interface IntroductionsOptions {
  store: Store;
  social: Social;
  presence: PresenceBoard;
  relay: Relay;
  /** `n` random bytes (connect tokens). */
  random: (n: number) => Uint8Array;
  reply: (s: ClientSession, msg: Control) => void;
}

export class Introductions {
  constructor(private readonly opts: IntroductionsOptions) {}

  /**
   * Everyone under the open policy; yourself and your friends under the friends policy. One
   * page of `limit` names after `after`; `next` is where the following page starts.
   */
  async directory(
    me: string,
    limit: number,
    after: string | undefined,
  ): Promise<{ users: UserEntry[]; next?: string }> {
    const { store, presence } = this.opts;
    const audience = await this.opts.social.presenceAudience(me);
    const want = Math.min(limit, MAX_PAGE);
    let records: Array<{ name: string; lastSeen: number | null }>;
    if (!audience) {
      records = await store.usersAfter(after, want + 1);
    } else {
      const names = [...new Set([me, ...audience])].sort().filter((n) => after === undefined || n > after);
      records = [];
      for (const n of names.slice(0, want + 1)) {
        const u = await store.getUser(n);
        if (u) records.push(u);
      }
    }
    const entries = records.slice(0, want).map((u) => ({
      name: u.name,
      status: presence.presenceOf(u.name),
      lastSeen: presence.lastSeen.get(u.name) ?? u.lastSeen,
    }));
    const page = fitPage(entries, "end");
    const more = page.trimmed || records.length > want;
    const last = page.items.at(-1);
    return { users: page.items, ...(more && last ? { next: last.name } : {}) };
  }

  async lookup(me: string, msg: ControlOf<"lookup">): Promise<unknown> {
    const name = normalizeUsername(msg.user);
    // The registry introduces only peers that may talk: no address or key otherwise.
    await this.opts.social.requireMayTalk(me, name);
    const target = this.opts.presence.online.get(name);
    if (target) {
      return {
        user: name,
        status: this.opts.presence.presenceOf(name),
        publicKey: Buffer.from(target.conn.remoteKey).toString("hex"),
        addresses: dedupe([target.conn.address, ...target.addresses]),
      };
    }
    const user = await this.opts.store.getUser(name);
    if (!user) throw new HallwayError("MSG_UNKNOWN_RECIPIENT", `no user named '${name}'`);
    return { user: name, status: "offline", publicKey: user.publicKey, addresses: [] };
  }

  /**
   * Registry-coordinated connect (docs/nat-traversal.md): both sides get the other's
   * candidates and one fresh token at the same moment, the target as a `punch` push and the
   * initiator as this answer, sent back to back. `size` is the request's size in bytes.
   */
  async connect(
    s: ClientSession,
    user: string,
    msg: ControlOf<"connect">,
    size: number,
    now: () => number,
  ): Promise<ConnectData> {
    const to = normalizeUsername(msg.to);
    if (to === user) throw new HallwayError("PEER_UNREACHABLE", "that is you");
    // Under --policy friends the registry introduces only friends.
    await this.opts.social.requireMayTalk(user, to);
    const target = this.opts.presence.online.get(to);
    if (!target) throw new HallwayError("PEER_OFFLINE", `${to} is not online`);
    const token = Buffer.from(this.opts.random(16)).toString("hex");
    const relay = msg.relay === false ? undefined : this.opts.relay.open(user, to, now());
    // Probes toward candidates nobody observed are paid for by the size of this request: the
    // requester pads it to buy more (docs/security.md, "Reflection").
    const probeBudget = Math.min(65_535, size + PROBE_ALLOWANCE_BYTES);
    const candidatesOf = (c: ClientSession) => [
      ...c.addresses.map((address) => ({ type: "host" as const, address })),
      { type: "srflx" as const, address: c.conn.address },
    ];
    this.opts.reply(target, {
      t: "punch",
      from: user,
      token,
      publicKey: Buffer.from(s.conn.remoteKey).toString("hex"),
      candidates: candidatesOf(s),
      ...(relay === undefined ? {} : { relay }),
      probeBudget,
    });
    return {
      peer: to,
      token,
      publicKey: Buffer.from(target.conn.remoteKey).toString("hex"),
      candidates: candidatesOf(target),
      ...(relay === undefined ? {} : { relay }),
      probeBudget,
    };
  }
}
