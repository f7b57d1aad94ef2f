/**
 * `MessageStore` in Neo4j: `Message` nodes between their users, the offline queue as
 * `QUEUED {seq}` relationships from the recipient, history pages by (sentAt, id), and search
 * through the text index on each message's `textKey`. `enqueueOffline` and `appendHistory` go
 * through the group commit.
 */

import { int } from "neo4j-driver";
import { HallwayError } from "../../../errors.js";
import type { HistoryCursor, MessageHit, MessageStore, StoredMessage } from "../message-store.js";
import {
  conversationKey,
  groupMessageHit,
  messageHit,
  nameKey,
  newestHits,
  rowLimit,
  searchKey,
} from "../port-rules.js";
import type { Neo4jDatabase, WriteRun } from "./database.js";
import { toCount, toGroupMessage, toStoredMessage } from "./mapping.js";

export class Neo4jMessages implements MessageStore {
  constructor(private readonly db: Neo4jDatabase) {}

  async enqueueOffline(msg: StoredMessage): Promise<void> {
    await this.db.append("enqueueOffline", async (run) => {
      await this.insertMessage(run, "enqueueOffline", msg);
      await run("queueMessage", { registry: this.db.registry, id: msg.id });
    });
  }

  async pendingOffline(to: string, limit: number): Promise<StoredMessage[]> {
    const rows = rowLimit(limit);
    if (rows === 0) {
      this.db.opened();
      return [];
    }
    return this.db.read("pendingOffline", async (run) => {
      const result = await run("pendingOffline", {
        registry: this.db.registry,
        toKey: nameKey(to),
        limit: int(rows),
      });
      return result.records.map((r) => toStoredMessage(r.get("message")));
    });
  }

  async ackOffline(to: string, ids: string[]): Promise<number> {
    if (ids.length === 0) {
      this.db.opened();
      return 0;
    }
    const at = this.db.now();
    return this.db.write("ackOffline", async (run) => {
      const result = await run("ackOffline", {
        registry: this.db.registry,
        toKey: nameKey(to),
        ids,
        at: int(at),
      });
      return toCount(result.records[0]?.get("removed"), "removed");
    });
  }

  async countOffline(to: string): Promise<number> {
    return this.db.read("countOffline", async (run) => {
      const result = await run("countOffline", { registry: this.db.registry, userKey: nameKey(to) });
      return toCount(result.records[0]?.get("n"), "n");
    });
  }

  async appendHistory(msg: StoredMessage): Promise<void> {
    await this.db.append("appendHistory", (run) => this.insertMessage(run, "appendHistory", msg));
  }

  async markDelivered(id: string, at: number): Promise<void> {
    await this.db.write("markDelivered", async (run) => {
      await run("markDelivered", { registry: this.db.registry, id, at: int(at) });
    });
  }

  async history(
    a: string,
    b: string,
    opts: { limit: number; before?: HistoryCursor },
  ): Promise<StoredMessage[]> {
    const limit = rowLimit(opts.limit);
    if (limit === 0) {
      this.db.opened();
      return [];
    }
    const conversation = conversationKey(a, b);
    return this.db.read("history", async (run) => {
      const result =
        opts.before === undefined
          ? await run("historyLatest", { registry: this.db.registry, conversation, limit: int(limit) })
          : await run("historyBefore", {
              registry: this.db.registry,
              conversation,
              beforeSentAt: int(opts.before.sentAt),
              beforeId: opts.before.id,
              limit: int(limit),
            });
      return result.records.map((r) => toStoredMessage(r.get("message"))).reverse();
    });
  }

  async searchMessages(user: string, query: string, limit: number): Promise<MessageHit[]> {
    const n = rowLimit(limit);
    if (n === 0 || query === "") {
      this.db.opened();
      return [];
    }
    const params = { registry: this.db.registry, query: searchKey(query), limit: int(n) };
    return this.db.read("searchMessages", async (run) => {
      const direct = await run("searchMessages", { ...params, user: nameKey(user) });
      const groups = await run("searchGroupMessages", { ...params, userKey: nameKey(user) });
      return newestHits(
        direct.records.map((r) => messageHit(toStoredMessage(r.get("message")))),
        groups.records.map((r) => groupMessageHit(toGroupMessage(r.get("message")))),
        n,
      );
    });
  }

  /** Both users must exist (the SQLite adapter's foreign keys); the first stored copy wins. */
  private async insertMessage(run: WriteRun, op: string, msg: StoredMessage): Promise<void> {
    const keys = [nameKey(msg.from), nameKey(msg.to)];
    const known = await run("knownUsers", { registry: this.db.registry, nameKeys: keys });
    const found = new Set(known.records.map((r) => r.get("nameKey") as unknown));
    const missing = [msg.from, msg.to].filter((_, i) => !found.has(keys[i]));
    if (missing.length > 0) throw unknownUser(op, missing);
    await run("insertMessage", {
      registry: this.db.registry,
      fromKey: nameKey(msg.from),
      toKey: nameKey(msg.to),
      id: msg.id,
      from: msg.from,
      to: msg.to,
      conversation: conversationKey(msg.from, msg.to),
      body: msg.body,
      textKey: searchKey(msg.body),
      sentAt: int(msg.sentAt),
      deliveredAt: msg.deliveredAt === null ? null : int(msg.deliveredAt),
    });
  }
}

function unknownUser(op: string, names: readonly string[]): HallwayError {
  const list = names.map((n) => JSON.stringify(n)).join(" and ");
  return new HallwayError("STORE_FAILED", `store ${op} failed: it refers to an unknown user (${list})`);
}
