/**
 * `MessageStore` in SQLite: the offline queue (a pointer into `messages`, so a queued message
 * is in history from the start), history pages by (sent_at, id), and search through the FTS5
 * trigram tables. `enqueueOffline` and `appendHistory` go through the group commit.
 */

import type { HistoryCursor, MessageHit, MessageStore, StoredMessage } from "../message-store.js";
import {
  conversationKey,
  groupMessageHit,
  messageHit,
  newestHits,
  rowLimit,
  searchKey,
} from "../port-rules.js";
import type { SqliteDatabase } from "./database.js";
import { toGroupMessage, toMessage } from "./rows.js";
import { containsPattern, insertMessage } from "./statements.js";

export class SqliteMessages implements MessageStore {
  constructor(private readonly db: SqliteDatabase) {}

  async enqueueOffline(msg: StoredMessage): Promise<void> {
    await this.db.append("enqueueOffline", (s) => {
      insertMessage(s, msg);
      s.queueMessage.run(msg.id);
    });
  }

  async pendingOffline(to: string, limit: number): Promise<StoredMessage[]> {
    const rows = rowLimit(limit);
    if (rows === 0) return [];
    return this.db.run("pendingOffline", (s) => s.pendingOffline.all(to, rows).map(toMessage));
  }

  async ackOffline(to: string, ids: string[]): Promise<number> {
    const at = this.db.now();
    return this.db.transaction("ackOffline", (s) => {
      let removed = 0;
      for (const id of ids) {
        if (s.dequeue.run(id, to).changes === 0) continue;
        removed++;
        s.markDelivered.run(at, id);
      }
      return removed;
    });
  }

  async countOffline(to: string): Promise<number> {
    return this.db.run("countOffline", (s) => s.countOffline.get(to) ?? 0);
  }

  async appendHistory(msg: StoredMessage): Promise<void> {
    await this.db.append("appendHistory", (s) => insertMessage(s, msg));
  }

  async markDelivered(id: string, at: number): Promise<void> {
    this.db.write("markDelivered", (s) => {
      s.markDelivered.run(at, id);
    });
  }

  async history(
    a: string,
    b: string,
    opts: { limit: number; before?: HistoryCursor },
  ): Promise<StoredMessage[]> {
    const limit = rowLimit(opts.limit);
    if (limit === 0) return [];
    const conversation = conversationKey(a, b);
    return this.db.run("history", (s) => {
      const newestFirst =
        opts.before === undefined
          ? s.historyLatest.all(conversation, limit)
          : s.historyBefore.all(conversation, opts.before.sentAt, opts.before.id, limit);
      return newestFirst.reverse().map(toMessage);
    });
  }

  async searchMessages(user: string, query: string, limit: number): Promise<MessageHit[]> {
    const n = rowLimit(limit);
    if (n === 0 || query === "") return [];
    const params = { user, pattern: containsPattern(searchKey(query)), limit: n };
    return this.db.run("searchMessages", (s) =>
      newestHits(
        s.searchMessages.all(params).map((r) => messageHit(toMessage(r))),
        s.searchGroupMessages.all(params).map((r) => groupMessageHit(toGroupMessage(r))),
        n,
      ),
    );
  }
}
