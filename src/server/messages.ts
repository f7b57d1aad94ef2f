/**
 * Offline messages and history, as the registry serves them: a message for someone offline
 * is stored, acknowledged once committed and pushed to the recipient if they come online; the
 * recipient's `offline.ack` tells the sender it was delivered; history entries are appended in
 * the store's group commit and read back in pages that fit a message.
 *
 * The requests that append answer with a `Later`: they take their place in the store's next
 * batch and are answered when it commits (`store/group-commit.ts`).
 */

import { HallwayError } from "../errors.js";
import type { Control, ControlOf } from "../protocol/control.js";
import { normalizeUsername } from "./accounts.js";
import type { Limits } from "./limits.js";
import type { PresenceBoard } from "./presence-board.js";
import { pushBatches } from "./push-batches.js";
import { type ClientSession, Later, toChat } from "./registry-session.js";
import { fitPage } from "./reply-size.js";
import type { Social } from "./social.js";
import type { Store } from "./store/store.js";

export interface MessagesOptions {
  store: Store;
  social: Social;
  presence: PresenceBoard;
  quotas: Limits["quotas"];
  wall: () => number;
  reply: (s: ClientSession, msg: Control) => void;
}

export class Messages {
  constructor(private readonly opts: MessagesOptions) {}

  /** Checks every entry, then places them all in the next group commit (answered with it). */
  async appendHistory(user: string, entries: ControlOf<"history.append">["msg"][]): Promise<Later> {
    const peers = new Set<string>();
    for (const entry of entries) {
      if (entry.from !== user) throw new HallwayError("PROTO_BAD_MESSAGE", "history entry is not yours");
      peers.add(normalizeUsername(entry.to));
    }
    for (const to of peers) await this.opts.social.requireMayTalk(user, to);
    const appends = entries.map(({ text, ...rest }) =>
      this.opts.store.appendHistory({ ...rest, to: normalizeUsername(rest.to), body: text }),
    );
    return new Later(Promise.all(appends).then(() => undefined));
  }

  /** One page of the history with one peer, newest last. */
  async history(user: string, msg: ControlOf<"history">): Promise<unknown> {
    const messages = await this.opts.store.history(user, normalizeUsername(msg.with), {
      limit: msg.limit,
      ...(msg.before ? { before: msg.before } : {}),
    });
    // Newest last: what does not fit is dropped from the oldest end, so the next page (before
    // the first message of this one) still continues it.
    const entries = messages.map((m) => ({ ...toChat(m), deliveredAt: m.deliveredAt }));
    const page = fitPage(entries, "start");
    const first = page.items[0];
    return {
      messages: page.items,
      ...(page.trimmed && first ? { next: { sentAt: first.sentAt, id: first.id } } : {}),
    };
  }

  async search(user: string, msg: ControlOf<"history.search">): Promise<unknown> {
    const hits = await this.opts.store.searchMessages(user, msg.text, msg.limit);
    const entries = hits.map((h) => ({
      id: h.id,
      from: h.from,
      ...(h.group === null ? { with: h.from === user ? (h.to ?? user) : h.from } : { group: h.group }),
      ...(h.seq === null ? {} : { seq: h.seq }),
      text: h.body,
      sentAt: h.sentAt,
    }));
    // Newest first: what does not fit is dropped from the oldest end.
    return { hits: fitPage(entries, "end").items };
  }

  async offlineSend(user: string, msg: ControlOf<"offline.send">): Promise<Later> {
    if (msg.msg.from !== user) throw new HallwayError("PROTO_BAD_MESSAGE", "message is not from you");
    const to = normalizeUsername(msg.msg.to);
    if (!(await this.opts.store.getUser(to))) {
      throw new HallwayError("MSG_UNKNOWN_RECIPIENT", `no user named '${to}'`);
    }
    await this.opts.social.requireMayTalk(user, to);
    const waiting = await this.opts.store.countOffline(to);
    if (waiting >= this.opts.quotas.offlinePerRecipient) {
      throw new HallwayError(
        "QUOTA_FULL",
        `${to} has ${waiting} stored messages waiting, the most the registry keeps; try again after they read some`,
      );
    }
    // Committed to disk before the ack goes out, and before the recipient sees it.
    const { text, ...rest } = msg.msg;
    const stored = this.opts.store.enqueueOffline({ ...rest, to, body: text, deliveredAt: null });
    return new Later(
      stored.then(() => {
        const recipient = this.opts.presence.online.get(to);
        if (recipient) this.opts.reply(recipient, { t: "offline.deliver", msgs: [{ ...msg.msg, to }] });
        return undefined;
      }),
    );
  }

  async offlineAck(user: string, msg: ControlOf<"offline.ack">): Promise<unknown> {
    const pending = await this.opts.store.pendingOffline(user, 10_000);
    const wanted = new Set(msg.ids);
    await this.opts.store.ackOffline(user, msg.ids);
    const at = this.opts.wall();
    for (const m of pending) {
      if (!wanted.has(m.id)) continue;
      const sender = this.opts.presence.online.get(m.from);
      if (sender) this.opts.reply(sender, { t: "delivered", id: m.id, at });
    }
    return undefined;
  }

  /** What waited for the session's user, in order, in pushes that fit a message. */
  async deliverBacklog(s: ClientSession): Promise<void> {
    const user = s.user;
    if (!user) return;
    const pending = await this.opts.store.pendingOffline(user, 10_000);
    for (const msgs of pushBatches(pending.map(toChat), (m) => m.text)) {
      this.opts.reply(s, { t: "offline.deliver", msgs });
    }
  }
}
