/** The `MessageStore` part of the contract: the offline queue, history and message search. */

import { beforeEach, describe, expect, it } from "vitest";
import type { Store, StoredMessage } from "../../../src/server/store/index.js";
import { type ContractContext, collect } from "./fixtures.js";

export function messagesContract(t: ContractContext): void {
  const { users, msg, rejectsWith } = t;
  let store: Store;
  beforeEach(() => {
    store = t.store;
  });

  describe("offline queue", () => {
    it("returns queued messages in enqueue order, per recipient, up to the limit", async () => {
      await users("alice", "bob", "carol");
      // Enqueue order differs from sentAt order on purpose: the queue keeps arrival order.
      await store.enqueueOffline(msg("m1", "alice", "bob", 300));
      await store.enqueueOffline(msg("m2", "carol", "bob", 100));
      await store.enqueueOffline(msg("m3", "alice", "carol", 200));
      await store.enqueueOffline(msg("m4", "alice", "bob", 200));

      expect(await store.pendingOffline("bob", 10)).toEqual([
        msg("m1", "alice", "bob", 300),
        msg("m2", "carol", "bob", 100),
        msg("m4", "alice", "bob", 200),
      ]);
      expect((await store.pendingOffline("bob", 2)).map((m) => m.id)).toEqual(["m1", "m2"]);
      expect(await store.pendingOffline("bob", 0)).toEqual([]);
      expect((await store.pendingOffline("carol", 10)).map((m) => m.id)).toEqual(["m3"]);
      expect(await store.pendingOffline("alice", 10)).toEqual([]);
    });

    it("ignores a second enqueue of the same id; the first copy wins", async () => {
      await users("alice", "bob");
      await store.enqueueOffline(msg("m1", "alice", "bob", 100, "first"));
      await store.enqueueOffline(msg("m2", "alice", "bob", 200));
      await store.enqueueOffline(msg("m1", "alice", "bob", 100, "second"));
      const pending = await store.pendingOffline("bob", 10);
      expect(pending.map((m) => [m.id, m.body])).toEqual([
        ["m1", "first"],
        ["m2", "body m2"],
      ]);
      expect(await store.history("alice", "bob", { limit: 10 })).toHaveLength(2);
    });

    it("puts an enqueued message in history, undelivered", async () => {
      await users("alice", "bob");
      await store.enqueueOffline(msg("m1", "alice", "bob", 100));
      expect(await store.history("alice", "bob", { limit: 10 })).toEqual([msg("m1", "alice", "bob", 100)]);
    });

    it("acknowledges only messages queued for that recipient and marks them delivered", async () => {
      await users("alice", "bob", "carol");
      await store.enqueueOffline(msg("m1", "alice", "bob", 100));
      await store.enqueueOffline(msg("m2", "alice", "bob", 200));
      await store.enqueueOffline(msg("m3", "alice", "carol", 300));
      await store.enqueueOffline(msg("m4", "alice", "bob", 400));

      expect(await store.ackOffline("bob", ["m1", "m3", "m4", "nope"])).toBe(2);
      expect((await store.pendingOffline("bob", 10)).map((m) => m.id)).toEqual(["m2"]);
      expect((await store.pendingOffline("carol", 10)).map((m) => m.id)).toEqual(["m3"]);

      const delivered = new Map(
        (await store.history("alice", "bob", { limit: 10 })).map((m) => [m.id, m.deliveredAt]),
      );
      expect(delivered.get("m1")).toEqual(expect.any(Number));
      expect(delivered.get("m4")).toEqual(expect.any(Number));
      expect(delivered.get("m2")).toBeNull();
      expect((await store.history("alice", "carol", { limit: 10 }))[0]?.deliveredAt).toBeNull();

      expect(await store.ackOffline("bob", ["m1"])).toBe(0);
      expect(await store.ackOffline("bob", [])).toBe(0);
    });

    it("does not queue again a message that was already acknowledged", async () => {
      await users("alice", "bob");
      await store.enqueueOffline(msg("m1", "alice", "bob", 100));
      expect(await store.ackOffline("bob", ["m1"])).toBe(1);
      await store.enqueueOffline(msg("m1", "alice", "bob", 100));
      expect(await store.pendingOffline("bob", 10)).toEqual([]);
    });

    it("keeps a delivery time already set by markDelivered when acknowledged", async () => {
      await users("alice", "bob");
      await store.enqueueOffline(msg("m1", "alice", "bob", 100));
      await store.markDelivered("m1", 150);
      expect(await store.ackOffline("bob", ["m1"])).toBe(1);
      expect((await store.history("alice", "bob", { limit: 1 }))[0]?.deliveredAt).toBe(150);
    });

    it("refuses a message to or from an unknown user with STORE_FAILED", async () => {
      await users("alice");
      await rejectsWith(store.enqueueOffline(msg("m1", "alice", "ghost", 1)), "STORE_FAILED");
      await rejectsWith(store.enqueueOffline(msg("m2", "ghost", "alice", 1)), "STORE_FAILED");
      expect(await store.pendingOffline("alice", 10)).toEqual([]);
      expect(await store.history("alice", "ghost", { limit: 10 })).toEqual([]);
    });
  });

  describe("history", () => {
    it("appends idempotently on id; the first copy wins", async () => {
      await users("alice", "bob");
      await store.appendHistory(msg("m1", "alice", "bob", 100, "first"));
      await store.appendHistory(msg("m1", "alice", "bob", 100, "second"));
      expect(await store.history("alice", "bob", { limit: 10 })).toEqual([
        msg("m1", "alice", "bob", 100, "first"),
      ]);
    });

    it("keeps a deliveredAt given on append", async () => {
      await users("alice", "bob");
      await store.appendHistory({ ...msg("m1", "alice", "bob", 100), deliveredAt: 120 });
      expect((await store.history("alice", "bob", { limit: 1 }))[0]?.deliveredAt).toBe(120);
    });

    it("marks delivery once; the first time wins and unknown ids are ignored", async () => {
      await users("alice", "bob");
      await store.appendHistory(msg("m1", "alice", "bob", 100));
      await store.markDelivered("m1", 110);
      await store.markDelivered("m1", 999);
      await store.markDelivered("unknown", 5);
      expect((await store.history("alice", "bob", { limit: 1 }))[0]?.deliveredAt).toBe(110);
    });

    it("does not put a history-only message in the offline queue", async () => {
      await users("alice", "bob");
      await store.appendHistory(msg("m1", "alice", "bob", 100));
      expect(await store.pendingOffline("bob", 10)).toEqual([]);
    });

    it("returns both directions of one conversation only, oldest first", async () => {
      await users("alice", "bob", "carol");
      await store.appendHistory(msg("m1", "alice", "bob", 100));
      await store.appendHistory(msg("m2", "bob", "alice", 200));
      await store.appendHistory(msg("m3", "alice", "carol", 150));
      await store.appendHistory(msg("m4", "carol", "bob", 250));
      await store.appendHistory(msg("m5", "alice", "bob", 50));

      const ids = async (a: string, b: string) => (await store.history(a, b, { limit: 10 })).map((m) => m.id);
      expect(await ids("alice", "bob")).toEqual(["m5", "m1", "m2"]);
      expect(await ids("bob", "alice")).toEqual(["m5", "m1", "m2"]);
      expect(await ids("alice", "carol")).toEqual(["m3"]);
      expect(await ids("bob", "carol")).toEqual(["m4"]);
      expect(await store.history("alice", "bob", { limit: 0 })).toEqual([]);
    });

    it("pages backwards with cursors, across equal sentAt, without gaps or repeats", async () => {
      await users("alice", "bob");
      // sentAt collides on purpose; (sentAt, id) is the order. Appended out of order.
      const all = [
        msg("a", "alice", "bob", 100),
        msg("b", "bob", "alice", 100),
        msg("c", "alice", "bob", 100),
        msg("d", "bob", "alice", 200),
        msg("e", "alice", "bob", 200),
        msg("f", "alice", "bob", 300),
        msg("g", "bob", "alice", 300),
      ];
      for (const m of [...all].reverse()) await store.appendHistory(m);

      const latest = await store.history("alice", "bob", { limit: 3 });
      expect(latest.map((m) => m.id)).toEqual(["e", "f", "g"]);

      const pages: string[][] = [];
      let before: { sentAt: number; id: string } | undefined;
      for (let i = 0; i < 10; i++) {
        const page = await store.history("alice", "bob", before ? { limit: 2, before } : { limit: 2 });
        if (page.length === 0) break;
        pages.push(page.map((m) => m.id));
        const first = page[0] as StoredMessage;
        before = { sentAt: first.sentAt, id: first.id };
      }
      expect(pages).toEqual([["f", "g"], ["d", "e"], ["b", "c"], ["a"]]);

      // The cursor is exclusive, also for an equal sentAt with a smaller id.
      const beforeC = await store.history("alice", "bob", { limit: 10, before: { sentAt: 100, id: "c" } });
      expect(beforeC.map((m) => m.id)).toEqual(["a", "b"]);
      // A cursor need not name a stored message.
      const beforeGap = await store.history("alice", "bob", { limit: 10, before: { sentAt: 250, id: "" } });
      expect(beforeGap.map((m) => m.id)).toEqual(["a", "b", "c", "d", "e"]);
      expect(await store.history("alice", "bob", { limit: 10, before: { sentAt: 100, id: "a" } })).toEqual(
        [],
      );
    });
  });

  describe("message search", () => {
    it("finds text in the user's conversations and groups, case-insensitively, newest first", async () => {
      await users("alice", "bob", "carol", "dave");
      await store.appendHistory(msg("m1", "alice", "bob", 100, "Lunch at 12? 🍜"));
      await store.enqueueOffline(msg("m2", "bob", "alice", 200, "LUNCH is on me, 你好"));
      await store.appendHistory(msg("m3", "carol", "dave", 300, "lunch without alice"));
      await store.appendHistory(msg("m4", "alice", "carol", 400, "no food words"));
      await store.createGroup({ name: "ops", admin: "bob", createdAt: 1 });
      await store.addMember("ops", "alice", 2);
      await store.createGroup({ name: "dev", admin: "carol", createdAt: 1 });
      const g1 = await store.appendGroupMessage({
        id: "g1",
        group: "ops",
        from: "bob",
        body: "lunch 50% off_",
        sentAt: 250,
      });
      await store.appendGroupMessage({
        id: "g2",
        group: "dev",
        from: "carol",
        body: "lunch in dev",
        sentAt: 260,
      });

      const found = await store.searchMessages("alice", "lunch", 10);
      expect(found.map((h) => h.id)).toEqual(["g1", "m2", "m1"]);
      expect(found[0]).toEqual({
        id: "g1",
        from: "bob",
        to: null,
        group: "ops",
        seq: g1.seq,
        body: "lunch 50% off_",
        sentAt: 250,
      });
      expect(found[1]).toEqual({
        id: "m2",
        from: "bob",
        to: "alice",
        group: null,
        seq: null,
        body: "LUNCH is on me, 你好",
        sentAt: 200,
      });
      expect((await store.searchMessages("ALICE", "LuNcH", 2)).map((h) => h.id)).toEqual(["g1", "m2"]);
      // Short queries, CJK, emoji, and LIKE's wildcards taken literally.
      expect((await store.searchMessages("alice", "你好", 10)).map((h) => h.id)).toEqual(["m2"]);
      expect((await store.searchMessages("alice", "🍜", 10)).map((h) => h.id)).toEqual(["m1"]);
      expect((await store.searchMessages("alice", "0% off_", 10)).map((h) => h.id)).toEqual(["g1"]);
      expect(await store.searchMessages("alice", "%", 10)).toEqual([found[0]]);
      expect(await store.searchMessages("alice", "_", 10)).toEqual([found[0]]);
      // Not a member, not a party, nothing asked, nobody known.
      expect((await store.searchMessages("dave", "lunch", 10)).map((h) => h.id)).toEqual(["m3"]);
      expect(await store.searchMessages("alice", "", 10)).toEqual([]);
      expect(await store.searchMessages("alice", "lunch", 0)).toEqual([]);
      expect(await store.searchMessages("nobody", "lunch", 10)).toEqual([]);
      // A member who leaves no longer searches the group.
      await store.removeMember("ops", "alice");
      expect((await store.searchMessages("alice", "lunch", 10)).map((h) => h.id)).toEqual(["m2", "m1"]);
      // A deleted group's messages are gone from the index too.
      await store.deleteGroup("dev");
      expect((await store.searchMessages("carol", "dev", 10)).map((h) => h.id)).toEqual([]);
    });

    it("finds loaded messages", async () => {
      await users("alice", "bob");
      await store.appendHistory(msg("m1", "alice", "bob", 100, "the quarterly report"));
      const records = await collect(store.dump());
      const copy = await t.fixture.another();
      try {
        await copy.init();
        await copy.load(
          (async function* () {
            yield* records;
          })(),
        );
        expect((await copy.searchMessages("bob", "QUARTERLY", 5)).map((h) => h.id)).toEqual(["m1"]);
      } finally {
        await copy.close();
      }
    });
  });
}
