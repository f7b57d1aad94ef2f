/**
 * The `Store` contract: one suite that every adapter runs (SQLite now, Neo4j later).
 *
 * `open` must return a store over empty data, not yet initialised (the suite calls `init()`).
 * `reopen`, when given, opens a fresh store over the same data; the suite closes the first store
 * before calling it and closes the reopened one itself. `cleanup` releases everything and must
 * tolerate stores that are already closed.
 */

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HallwayError } from "../../src/errors.js";
import type { Store, StoredMessage } from "../../src/server/store/index.js";

export interface StoreFixture {
  store: Store;
  reopen?: () => Promise<Store>;
  cleanup: () => Promise<void>;
}

export function storeContract(name: string, open: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeEach(async () => {
      fixture = await open();
      store = fixture.store;
      await store.init();
    });

    afterEach(async () => {
      await store.close();
      await fixture.cleanup();
    });

    async function users(...names: string[]): Promise<void> {
      for (const [i, n] of names.entries()) {
        await store.createUser({ name: n, passwordHash: `hash-${n}`, createdAt: 1_000 + i });
      }
    }

    function msg(id: string, from: string, to: string, sentAt: number, body = `body ${id}`): StoredMessage {
      return { id, from, to, body, sentAt, deliveredAt: null };
    }

    async function rejectsWith(promise: Promise<unknown>, code: HallwayError["code"]): Promise<HallwayError> {
      const err = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, `expected a rejection with ${code}`).toBeInstanceOf(HallwayError);
      const hallwayError = err as HallwayError;
      expect(hallwayError.code).toBe(code);
      expect(hallwayError.message).not.toContain("\n");
      return hallwayError;
    }

    describe("lifecycle", () => {
      it("init and close are idempotent", async () => {
        await store.init();
        await users("alice");
        await store.close();
        await store.close();
      });

      it("rejects calls after close with STORE_FAILED", async () => {
        await store.close();
        await rejectsWith(store.getUser("alice"), "STORE_FAILED");
        await rejectsWith(
          store.createUser({ name: "alice", passwordHash: "h", createdAt: 1 }),
          "STORE_FAILED",
        );
      });
    });

    describe("users", () => {
      it("creates a user with empty optional fields", async () => {
        await store.createUser({ name: "alice", passwordHash: "scrypt$x", createdAt: 1234 });
        expect(await store.getUser("alice")).toEqual({
          name: "alice",
          passwordHash: "scrypt$x",
          publicKey: null,
          displayName: null,
          createdAt: 1234,
          lastSeen: null,
        });
      });

      it("returns undefined for an unknown user", async () => {
        expect(await store.getUser("nobody-here")).toBeUndefined();
      });

      it("refuses a duplicate name with AUTH_USER_EXISTS, case-insensitively", async () => {
        await users("alice");
        await rejectsWith(
          store.createUser({ name: "alice", passwordHash: "h2", createdAt: 2 }),
          "AUTH_USER_EXISTS",
        );
        await rejectsWith(
          store.createUser({ name: "ALICE", passwordHash: "h3", createdAt: 3 }),
          "AUTH_USER_EXISTS",
        );
        expect((await store.getUser("alice"))?.passwordHash).toBe("hash-alice");
        expect(await store.listUsers()).toHaveLength(1);
      });

      it("looks names up case-insensitively and returns the stored spelling", async () => {
        await users("alice");
        expect((await store.getUser("Alice"))?.name).toBe("alice");
      });

      it("lists users sorted by name", async () => {
        expect(await store.listUsers()).toEqual([]);
        await users("carol", "alice", "bob");
        expect((await store.listUsers()).map((u) => u.name)).toEqual(["alice", "bob", "carol"]);
      });

      it("sets and replaces the public key", async () => {
        await users("alice", "bob");
        await store.setPublicKey("alice", "aa".repeat(32));
        expect((await store.getUser("alice"))?.publicKey).toBe("aa".repeat(32));
        await store.setPublicKey("alice", "bb".repeat(32));
        expect((await store.getUser("alice"))?.publicKey).toBe("bb".repeat(32));
        expect((await store.getUser("bob"))?.publicKey).toBeNull();
      });

      it("refuses a public key for an unknown user with AUTH_UNKNOWN_USER", async () => {
        await rejectsWith(store.setPublicKey("ghost", "aa"), "AUTH_UNKNOWN_USER");
      });

      it("flushes lastSeen in a batch, never moving it backwards, skipping unknown names", async () => {
        await users("alice", "bob", "carol");
        await store.flushLastSeen([]);
        await store.flushLastSeen([
          { name: "alice", at: 500 },
          { name: "ghost", at: 600 },
          { name: "bob", at: 700 },
          { name: "bob", at: 650 },
        ]);
        await store.flushLastSeen([{ name: "alice", at: 400 }]);
        expect((await store.getUser("alice"))?.lastSeen).toBe(500);
        expect((await store.getUser("bob"))?.lastSeen).toBe(700);
        expect((await store.getUser("carol"))?.lastSeen).toBeNull();
        expect(await store.getUser("ghost")).toBeUndefined();
        await store.flushLastSeen([{ name: "alice", at: 900 }]);
        expect((await store.getUser("alice"))?.lastSeen).toBe(900);
      });
    });

    describe("audit", () => {
      it("lists newest first, with ties in newest-appended order, up to the limit", async () => {
        await users("alice", "bob");
        await store.appendAudit({ user: "alice", event: "register", at: 10, address: "10.0.0.1:4000" });
        await store.appendAudit({ user: "alice", event: "login", at: 20, address: "10.0.0.1:4000" });
        await store.appendAudit({ user: "bob", event: "login", at: 20, address: "10.0.0.2:4000" });
        await store.appendAudit({ user: "alice", event: "timeout", at: 30, address: "10.0.0.1:4000" });
        await store.appendAudit({ user: "bob", event: "logout", at: 40, address: "10.0.0.2:4000" });

        expect(await store.listAudit({ limit: 10 })).toEqual([
          { user: "bob", event: "logout", at: 40, address: "10.0.0.2:4000" },
          { user: "alice", event: "timeout", at: 30, address: "10.0.0.1:4000" },
          { user: "bob", event: "login", at: 20, address: "10.0.0.2:4000" },
          { user: "alice", event: "login", at: 20, address: "10.0.0.1:4000" },
          { user: "alice", event: "register", at: 10, address: "10.0.0.1:4000" },
        ]);
        expect((await store.listAudit({ limit: 2 })).map((e) => e.at)).toEqual([40, 30]);
        expect(await store.listAudit({ limit: 0 })).toEqual([]);
      });

      it("filters by user", async () => {
        await users("alice", "bob");
        await store.appendAudit({ user: "alice", event: "login", at: 1, address: "a" });
        await store.appendAudit({ user: "bob", event: "login", at: 2, address: "b" });
        await store.appendAudit({ user: "alice", event: "logout", at: 3, address: "a" });
        expect((await store.listAudit({ user: "alice", limit: 10 })).map((e) => e.event)).toEqual([
          "logout",
          "login",
        ]);
        expect(await store.listAudit({ user: "alice", limit: 1 })).toHaveLength(1);
        expect(await store.listAudit({ user: "carol", limit: 10 })).toEqual([]);
      });

      it("refuses an entry for an unknown user with STORE_FAILED", async () => {
        await rejectsWith(
          store.appendAudit({ user: "ghost", event: "login", at: 1, address: "a" }),
          "STORE_FAILED",
        );
      });
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

        const ids = async (a: string, b: string) =>
          (await store.history(a, b, { limit: 10 })).map((m) => m.id);
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

    describe("durability", () => {
      it("keeps everything across close and reopen", async (ctx) => {
        if (fixture.reopen === undefined) {
          ctx.skip();
          return;
        }
        await users("alice", "bob");
        await store.setPublicKey("alice", "ab".repeat(32));
        await store.flushLastSeen([{ name: "bob", at: 777 }]);
        await store.appendAudit({ user: "alice", event: "login", at: 5, address: "10.0.0.1:4000" });
        await store.enqueueOffline(msg("m1", "alice", "bob", 100));
        await store.enqueueOffline(msg("m2", "alice", "bob", 200));
        await store.appendHistory(msg("m3", "bob", "alice", 150));
        await store.ackOffline("bob", ["m1"]);
        await store.close();

        const reopened = await fixture.reopen();
        try {
          await reopened.init();
          expect((await reopened.listUsers()).map((u) => u.name)).toEqual(["alice", "bob"]);
          expect((await reopened.getUser("alice"))?.publicKey).toBe("ab".repeat(32));
          expect((await reopened.getUser("bob"))?.lastSeen).toBe(777);
          expect(await reopened.listAudit({ limit: 10 })).toEqual([
            { user: "alice", event: "login", at: 5, address: "10.0.0.1:4000" },
          ]);
          expect((await reopened.pendingOffline("bob", 10)).map((m) => m.id)).toEqual(["m2"]);
          const history = await reopened.history("alice", "bob", { limit: 10 });
          expect(history.map((m) => m.id)).toEqual(["m1", "m3", "m2"]);
          expect(history[0]?.deliveredAt).toEqual(expect.any(Number));
          await rejectsWith(
            reopened.createUser({ name: "Alice", passwordHash: "h", createdAt: 1 }),
            "AUTH_USER_EXISTS",
          );
          // The queue keeps its order across a reopen.
          await reopened.enqueueOffline(msg("m4", "alice", "bob", 50));
          expect((await reopened.pendingOffline("bob", 10)).map((m) => m.id)).toEqual(["m2", "m4"]);
        } finally {
          await reopened.close();
        }
      });
    });
  });
}
