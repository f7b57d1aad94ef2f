/**
 * The `Store` contract: one suite that every adapter runs (SQLite now, Neo4j later).
 *
 * `open` must return a store over empty data, not yet initialised (the suite calls `init()`).
 * `reopen`, when given, opens a fresh store over the same data; the suite closes the first store
 * before calling it and closes the reopened one itself. `another`, when given, opens a store over
 * separate empty data (the suite closes it). `cleanup` releases everything and must
 * tolerate stores that are already closed.
 */

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HallwayError } from "../../../src/errors.js";
import type { DumpRecord, GroupMessage, Store, StoredMessage } from "../../../src/server/store/index.js";

/** A user's profile fields before anyone set them. */
export const NO_PROFILE = {
  displayName: null,
  statusText: null,
  email: null,
  phone: null,
  department: null,
  note: null,
  birthDate: null,
  gender: null,
  country: null,
  region: null,
  school: null,
  profession: null,
  visibility: null,
  profileUpdatedAt: null,
};

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

export async function* replay<T>(items: readonly T[]): AsyncIterable<T> {
  yield* items;
}

export interface StoreFixture {
  store: Store;
  reopen?: () => Promise<Store>;
  /** A second store over separate, empty data, not yet initialised: the target of a load. */
  another: () => Promise<Store>;
  cleanup: () => Promise<void>;
}

/**
 * At least one record of every kind, some fields at their unusual values (a queue whose order
 * differs from sentAt, an acknowledged message, a moved admin, a member behind on acks).
 */
export async function populateEveryKind(t: Store): Promise<void> {
  for (const [i, n] of ["alice", "bob", "carol", "dave"].entries()) {
    await t.createUser({
      name: n,
      passwordHash: `scrypt$15$8$1$salt${i}$hash${i}`,
      createdAt: 1_000 + i,
    });
  }
  await t.setPublicKey("alice", "ab".repeat(32));
  await t.setProfile("alice", { displayName: "Alice L", statusText: "busy", email: "a@x", note: "n" });
  await t.setProfile("bob", { phone: "123", department: "ops", birthDate: "1980-01-02", school: "MIT" }, 900);
  await t.flushLastSeen([{ name: "bob", at: 5_000 }]);
  await t.appendAudit({ user: "alice", event: "register", at: 10, address: "10.0.0.1:1" });
  await t.appendAudit({ user: "bob", event: "login", at: 10, address: "10.0.0.2:1" });
  await t.appendAudit({ user: "alice", event: "logout", at: 9, address: "10.0.0.1:1" });
  await t.appendAudit({
    user: "ghost",
    event: "login_failed",
    at: 8,
    address: "10.0.0.9:1",
    detail: "unknown user",
  });
  await t.appendHistory({ ...message("h1", "alice", "bob", 100), deliveredAt: 150 });
  await t.enqueueOffline(message("q2", "carol", "bob", 300));
  await t.enqueueOffline(message("q1", "alice", "bob", 200));
  await t.enqueueOffline(message("q3", "alice", "carol", 250));
  await t.enqueueOffline(message("q4", "alice", "bob", 260));
  await t.ackOffline("bob", ["q4"]);
  await t.putFriendRequest({ from: "dave", to: "alice", at: 40 });
  await t.addFriendship("bob", "alice", 30);
  await t.addFriendship("carol", "bob", 31);
  await t.createGroup({ name: "ops", admin: "alice", createdAt: 60 });
  await t.createGroup({ name: "dev", admin: "bob", createdAt: 61 });
  await t.addMember("ops", "bob", 62);
  await t.putJoinRequest({ group: "ops", user: "carol", at: 63 });
  await t.appendGroupMessage({ id: "gm1", group: "ops", from: "alice", body: "one", sentAt: 70 });
  await t.appendGroupMessage({ id: "gm2", group: "ops", from: "bob", body: "two", sentAt: 71 });
  await t.addMember("ops", "dave", 72);
  await t.appendGroupMessage({ id: "gm3", group: "ops", from: "dave", body: "three", sentAt: 73 });
  await t.ackGroup("ops", "bob", 1);
  await t.setGroupAdmin("ops", "bob");
  await t.setGroupDescription("dev", "builds things");
  await t.enqueueNotice({ id: "n2", to: "dave", kind: "friend.declined", body: "{}", at: 80 });
  await t.enqueueNotice({
    id: "n1",
    to: "dave",
    kind: "group.joined",
    body: '{"group":"ops"}',
    at: 79,
  });
}

function message(id: string, from: string, to: string, sentAt: number): StoredMessage {
  return { id, from, to, body: `body ${id}`, sentAt, deliveredAt: null };
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
          ...NO_PROFILE,
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

      it("keeps entries that name nobody, or no account, with their detail", async () => {
        await users("alice");
        await store.appendAudit({
          user: "ghost",
          event: "login_failed",
          at: 1,
          address: "a",
          detail: "unknown user",
        });
        await store.appendAudit({ user: "", event: "blocked", at: 2, address: "b", detail: "60 s" });
        await store.appendAudit({ user: "alice", event: "replaced", at: 3, address: "c" });
        expect(await store.listAudit({ limit: 10 })).toEqual([
          { user: "alice", event: "replaced", at: 3, address: "c" },
          { user: "", event: "blocked", at: 2, address: "b", detail: "60 s" },
          { user: "ghost", event: "login_failed", at: 1, address: "a", detail: "unknown user" },
        ]);
        expect((await store.listAudit({ user: "GHOST", limit: 10 })).map((e) => e.event)).toEqual([
          "login_failed",
        ]);
      });

      it("filters by time (since inclusive, until exclusive) and by event", async () => {
        await users("alice", "bob");
        const events = ["login", "login_failed", "logout", "login_failed", "terminated", "blocked"] as const;
        for (const [i, event] of events.entries()) {
          await store.appendAudit({
            user: i % 2 === 0 ? "alice" : "bob",
            event,
            at: 10 * (i + 1),
            address: "a",
          });
        }
        expect((await store.listAudit({ since: 20, until: 50, limit: 10 })).map((e) => e.at)).toEqual([
          40, 30, 20,
        ]);
        expect(
          (await store.listAudit({ events: ["login_failed", "blocked"], limit: 10 })).map((e) => e.at),
        ).toEqual([60, 40, 20]);
        expect(
          (await store.listAudit({ user: "bob", events: ["login_failed"], since: 30, limit: 10 })).map(
            (e) => e.at,
          ),
        ).toEqual([40]);
        expect(await store.listAudit({ events: [], limit: 10 })).toEqual([]);
        expect((await store.listAudit({ since: 15, limit: 2 })).map((e) => e.at)).toEqual([60, 50]);
      });
    });

    describe("pages and quotas", () => {
      it("pages users by name", async () => {
        await users("dave", "alice", "carol", "bob", "erin");
        expect((await store.usersAfter(undefined, 2)).map((u) => u.name)).toEqual(["alice", "bob"]);
        expect((await store.usersAfter("bob", 2)).map((u) => u.name)).toEqual(["carol", "dave"]);
        expect((await store.usersAfter("dave", 2)).map((u) => u.name)).toEqual(["erin"]);
        expect(await store.usersAfter("erin", 2)).toEqual([]);
        expect(await store.usersAfter(undefined, 0)).toEqual([]);
        expect((await store.usersAfter("BOB", 1)).map((u) => u.name)).toEqual(["carol"]);
      });

      it("pages friends and friend requests, in the orders of the unpaged lists", async () => {
        await users("alice", "bob", "carol", "dave", "erin");
        await store.addFriendship("alice", "dave", 1);
        await store.addFriendship("bob", "alice", 2);
        await store.addFriendship("alice", "carol", 3);
        expect((await store.friendsAfter("alice", undefined, 2)).map((f) => f.name)).toEqual([
          "bob",
          "carol",
        ]);
        expect(await store.friendsAfter("alice", "carol", 2)).toEqual([{ name: "dave", since: 1 }]);
        expect(await store.friendsAfter("alice", "dave", 2)).toEqual([]);

        await store.putFriendRequest({ from: "erin", to: "bob", at: 20 });
        await store.putFriendRequest({ from: "carol", to: "bob", at: 20 });
        await store.putFriendRequest({ from: "dave", to: "bob", at: 10 });
        expect((await store.friendRequestsToAfter("bob", undefined, 2)).map((r) => r.from)).toEqual([
          "dave",
          "carol",
        ]);
        expect(await store.friendRequestsToAfter("bob", { at: 20, name: "carol" }, 2)).toEqual([
          { from: "erin", to: "bob", at: 20 },
        ]);
        expect(await store.friendRequestsToAfter("bob", { at: 20, name: "erin" }, 2)).toEqual([]);

        await store.putFriendRequest({ from: "erin", to: "dave", at: 5 });
        await store.putFriendRequest({ from: "erin", to: "carol", at: 5 });
        expect((await store.friendRequestsFromAfter("erin", undefined, 10)).map((r) => r.to)).toEqual([
          "carol",
          "dave",
          "bob",
        ]);
        expect(
          (await store.friendRequestsFromAfter("erin", { at: 5, name: "dave" }, 10)).map((r) => r.to),
        ).toEqual(["bob"]);
        await rejectsWith(store.friendsAfter("ghost", undefined, 2), "AUTH_UNKNOWN_USER");
        await rejectsWith(store.friendRequestsToAfter("ghost", undefined, 2), "AUTH_UNKNOWN_USER");
      });

      it("pages searches by name", async () => {
        await users("alan", "alba", "alice", "bob");
        await store.setProfile("bob", { displayName: "Al Bob" });
        await store.createUser({ name: "zed", passwordHash: "h", createdAt: 1 });
        expect((await store.searchUsersAfter("al", undefined, 2)).map((u) => u.name)).toEqual([
          "alan",
          "alba",
        ]);
        expect((await store.searchUsersAfter("al", "alba", 5)).map((u) => u.name)).toEqual(["alice", "bob"]);
        await store.createGroup({ name: "alpha", admin: "alan", createdAt: 1 });
        await store.createGroup({ name: "alps", admin: "alan", createdAt: 1 });
        await store.createGroup({ name: "beta", admin: "alan", createdAt: 1 });
        expect((await store.searchGroupsAfter("al", undefined, 1)).map((g) => g.name)).toEqual(["alpha"]);
        expect((await store.searchGroupsAfter("al", "alpha", 5)).map((g) => g.name)).toEqual(["alps"]);
      });

      it("counts what waits for a recipient", async () => {
        await users("alice", "bob", "carol");
        expect(await store.countOffline("bob")).toBe(0);
        await store.enqueueOffline(msg("m1", "alice", "bob", 1));
        await store.enqueueOffline(msg("m2", "carol", "bob", 2));
        await store.enqueueOffline(msg("m3", "bob", "alice", 3));
        expect(await store.countOffline("bob")).toBe(2);
        await store.ackOffline("bob", ["m1"]);
        expect(await store.countOffline("BOB")).toBe(1);
        expect(await store.countOffline("ghost")).toBe(0);

        await store.putFriendRequest({ from: "alice", to: "bob", at: 1 });
        await store.putFriendRequest({ from: "carol", to: "bob", at: 1 });
        expect(await store.countFriendRequestsTo("bob")).toBe(2);
        expect(await store.countFriendRequestsTo("alice")).toBe(0);
        expect(await store.countFriendRequestsTo("ghost")).toBe(0);

        await store.createGroup({ name: "ops", admin: "alice", createdAt: 1 });
        await store.putJoinRequest({ group: "ops", user: "bob", at: 2 });
        expect(await store.countJoinRequests("ops")).toBe(1);
        expect(await store.countJoinRequests("nope")).toBe(0);
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
        const copy = await fixture.another();
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

    describe("profiles and user search", () => {
      it("sets, replaces and clears profile fields; absent fields stay", async () => {
        await users("alice");
        await store.setProfile("Alice", { displayName: "Alice Liddell", email: "alice@example.org" });
        await store.setProfile("alice", { statusText: "in a meeting", email: null, department: "R&D" });
        await store.setProfile("alice", {});
        expect(await store.getUser("alice")).toMatchObject({
          displayName: "Alice Liddell",
          statusText: "in a meeting",
          email: null,
          phone: null,
          department: "R&D",
          note: null,
          passwordHash: "hash-alice",
        });
        await store.setProfile("alice", { phone: "+1 555", note: "ünïcödé ✓" });
        expect(await store.getUser("alice")).toMatchObject({ phone: "+1 555", note: "ünïcödé ✓" });
      });

      it("refuses a profile for an unknown user with AUTH_UNKNOWN_USER", async () => {
        await rejectsWith(store.setProfile("ghost", { note: "x" }), "AUTH_UNKNOWN_USER");
        await rejectsWith(store.setProfile("ghost", {}), "AUTH_UNKNOWN_USER");
      });

      it("sets and clears a group's description", async () => {
        await users("alice");
        await store.createGroup({ name: "ops", admin: "alice", createdAt: 1 });
        await store.setGroupDescription("OPS", "Keeps the lights on ✓");
        expect(await store.getGroup("ops")).toMatchObject({ description: "Keeps the lights on ✓" });
        expect((await store.groupsOf("alice"))[0]).toMatchObject({ description: "Keeps the lights on ✓" });
        await store.setGroupDescription("ops", null);
        expect(await store.getGroup("ops")).toMatchObject({ description: null });
        await rejectsWith(store.setGroupDescription("nope", "x"), "GROUP_UNKNOWN");
      });

      it("finds users by name or display name prefix, case-insensitively, sorted by name", async () => {
        await users("dave", "alice", "bob", "carol", "albert");
        await store.setProfile("bob", { displayName: "Alfred Bobson" });
        await store.setProfile("carol", { displayName: "Élise Carol" });
        await store.setProfile("dave", { displayName: "al%_" });
        const names = async (prefix: string, limit = 10) =>
          (await store.searchUsers(prefix, limit)).map((u) => u.name);
        expect(await names("al")).toEqual(["albert", "alice", "bob", "dave"]);
        expect(await names("AL")).toEqual(["albert", "alice", "bob", "dave"]);
        expect(await names("alf")).toEqual(["bob"]);
        expect(await names("élise")).toEqual(["carol"]);
        expect(await names("ÉLI")).toEqual(["carol"]);
        // Punctuation only separates words: "al%" is the word "al", "a_" the word "a".
        expect(await names("al%")).toEqual(["albert", "alice", "bob", "dave"]);
        expect(await names("elise")).toEqual(["carol"]);
        expect(await names("")).toEqual(["albert", "alice", "bob", "carol", "dave"]);
        expect(await names("al", 2)).toEqual(["albert", "alice"]);
        expect(await names("al", 0)).toEqual([]);
        expect(await names("zz")).toEqual([]);
        expect((await store.searchUsers("alf", 1))[0]).toMatchObject({ displayName: "Alfred Bobson" });
        // A cleared display name no longer matches.
        await store.setProfile("bob", { displayName: null });
        expect(await names("alf")).toEqual([]);
      });

      it("keeps the seed's profile fields and when the profile last changed", async () => {
        await users("alice");
        expect(await store.getUser("alice")).toMatchObject({ birthDate: null, profileUpdatedAt: null });
        const seed = {
          birthDate: "1990-04-23",
          gender: "f",
          country: "Österreich",
          region: "Tirol",
          school: "Uni Innsbruck",
          profession: "Engineer",
          visibility: '{"birthDate":"friends"}',
        };
        await store.setProfile("alice", seed, 5_000);
        expect(await store.getUser("alice")).toMatchObject({ ...seed, profileUpdatedAt: 5_000 });
        await store.setProfile("alice", { school: null });
        expect(await store.getUser("alice")).toMatchObject({ school: null, profileUpdatedAt: 5_000 });
        await store.setProfile("alice", { gender: null }, 6_000);
        expect(await store.getUser("alice")).toMatchObject({ gender: null, profileUpdatedAt: 6_000 });
      });

      it("finds users by any word of name, display name, department, school or profession, accent-folded", async () => {
        await users("alice", "bob", "carol", "dave", "erin");
        await store.setProfile("alice", { displayName: "Alice Liddell" });
        await store.setProfile("bob", { department: "Research & Development" });
        await store.setProfile("carol", { school: "Université de Genève" });
        await store.setProfile("dave", { profession: "Site Reliability Engineer", displayName: "José" });
        await store.setProfile("erin", { note: "liddell fan", email: "liddell@example.org" });
        const names = async (prefix: string) => (await store.searchUsers(prefix, 10)).map((u) => u.name);
        expect(await names("liddell")).toEqual(["alice"]);
        expect(await names("LIDD")).toEqual(["alice"]);
        expect(await names("alice l")).toEqual(["alice"]);
        expect(await names("development")).toEqual(["bob"]);
        expect(await names("geneve")).toEqual(["carol"]);
        expect(await names("UNIVERSITÉ")).toEqual(["carol"]);
        expect(await names("reliability eng")).toEqual(["dave"]);
        expect(await names("jose")).toEqual(["dave"]);
        // Inside a word is not a word's start; notes and addresses are not searched.
        expect(await names("iddell")).toEqual([]);
        expect(await names("engineer reliability")).toEqual([]);
        expect((await store.searchUsersAfter("e", "bob", 10)).map((u) => u.name)).toEqual(["dave", "erin"]);
        // A changed field is searched as it is now.
        await store.setProfile("bob", { department: null, school: "Liddell College" });
        expect(await names("liddell")).toEqual(["alice", "bob"]);
        expect(await names("development")).toEqual([]);
      });
    });

    describe("friends", () => {
      it("keeps friend requests, idempotently, listed both ways oldest first", async () => {
        await users("alice", "bob", "carol", "dave");
        await store.putFriendRequest({ from: "bob", to: "alice", at: 20 });
        await store.putFriendRequest({ from: "carol", to: "alice", at: 10 });
        await store.putFriendRequest({ from: "bob", to: "alice", at: 99 });
        await store.putFriendRequest({ from: "bob", to: "dave", at: 5 });
        await store.putFriendRequest({ from: "dave", to: "alice", at: 20 });
        expect(await store.friendRequestsTo("Alice")).toEqual([
          { from: "carol", to: "alice", at: 10 },
          { from: "bob", to: "alice", at: 20 },
          { from: "dave", to: "alice", at: 20 },
        ]);
        expect(await store.friendRequestsFrom("bob")).toEqual([
          { from: "bob", to: "dave", at: 5 },
          { from: "bob", to: "alice", at: 20 },
        ]);
        expect(await store.friendRequestsTo("bob")).toEqual([]);
        expect(await store.deleteFriendRequest("bob", "alice")).toBe(true);
        expect(await store.deleteFriendRequest("bob", "alice")).toBe(false);
        expect(await store.deleteFriendRequest("alice", "carol")).toBe(false);
        expect((await store.friendRequestsTo("alice")).map((r) => r.from)).toEqual(["carol", "dave"]);
      });

      it("refuses requests naming an unknown user with AUTH_UNKNOWN_USER", async () => {
        await users("alice");
        await rejectsWith(store.putFriendRequest({ from: "alice", to: "ghost", at: 1 }), "AUTH_UNKNOWN_USER");
        await rejectsWith(store.putFriendRequest({ from: "ghost", to: "alice", at: 1 }), "AUTH_UNKNOWN_USER");
        await rejectsWith(store.deleteFriendRequest("ghost", "alice"), "AUTH_UNKNOWN_USER");
        await rejectsWith(store.friendRequestsTo("ghost"), "AUTH_UNKNOWN_USER");
        await rejectsWith(store.friendRequestsFrom("ghost"), "AUTH_UNKNOWN_USER");
        expect(await store.friendRequestsFrom("alice")).toEqual([]);
      });

      it("makes friends symmetrically, clearing requests both ways, keeping the first since", async () => {
        await users("alice", "bob", "carol");
        await store.putFriendRequest({ from: "alice", to: "bob", at: 1 });
        await store.putFriendRequest({ from: "bob", to: "alice", at: 2 });
        await store.putFriendRequest({ from: "carol", to: "bob", at: 3 });
        await store.addFriendship("Bob", "alice", 100);
        expect(await store.friendRequestsTo("bob")).toEqual([{ from: "carol", to: "bob", at: 3 }]);
        expect(await store.friendRequestsTo("alice")).toEqual([]);
        await store.addFriendship("alice", "bob", 200);
        expect(await store.friendsOf("alice")).toEqual([{ name: "bob", since: 100 }]);
        expect(await store.friendsOf("bob")).toEqual([{ name: "alice", since: 100 }]);
        await store.addFriendship("carol", "alice", 300);
        expect(await store.friendsOf("alice")).toEqual([
          { name: "bob", since: 100 },
          { name: "carol", since: 300 },
        ]);
        expect(await store.areFriends("alice", "BOB")).toBe(true);
        expect(await store.areFriends("bob", "alice")).toBe(true);
        expect(await store.areFriends("bob", "carol")).toBe(false);
        expect(await store.areFriends("alice", "ghost")).toBe(false);
        expect(await store.areFriends("ghost", "phantom")).toBe(false);
      });

      it("removes a friendship both ways and says whether there was one", async () => {
        await users("alice", "bob");
        await store.addFriendship("alice", "bob", 100);
        expect(await store.removeFriendship("bob", "alice")).toBe(true);
        expect(await store.removeFriendship("alice", "bob")).toBe(false);
        expect(await store.friendsOf("alice")).toEqual([]);
        expect(await store.friendsOf("bob")).toEqual([]);
        expect(await store.areFriends("alice", "bob")).toBe(false);
      });

      it("refuses friendships naming an unknown user with AUTH_UNKNOWN_USER", async () => {
        await users("alice");
        await rejectsWith(store.addFriendship("alice", "ghost", 1), "AUTH_UNKNOWN_USER");
        await rejectsWith(store.removeFriendship("ghost", "alice"), "AUTH_UNKNOWN_USER");
        await rejectsWith(store.friendsOf("ghost"), "AUTH_UNKNOWN_USER");
        expect(await store.friendsOf("alice")).toEqual([]);
      });
    });

    describe("groups", () => {
      it("creates a group whose creator is admin and first member", async () => {
        await users("alice");
        await store.createGroup({ name: "ops", admin: "Alice", createdAt: 50 });
        expect(await store.getGroup("OPS")).toEqual({
          name: "ops",
          admin: "alice",
          createdAt: 50,
          lastSeq: 0,
          description: null,
        });
        expect(await store.groupMembers("ops")).toEqual([{ name: "alice", joinedAt: 50, ackedSeq: 0 }]);
        expect(await store.groupsOf("alice")).toEqual([
          { name: "ops", admin: "alice", createdAt: 50, lastSeq: 0, description: null },
        ]);
        expect(await store.getGroup("nope")).toBeUndefined();
      });

      it("refuses a taken name with GROUP_EXISTS, case-insensitively, and an unknown admin", async () => {
        await users("alice", "bob");
        await store.createGroup({ name: "ops", admin: "alice", createdAt: 1 });
        await rejectsWith(store.createGroup({ name: "OPS", admin: "bob", createdAt: 2 }), "GROUP_EXISTS");
        expect((await store.getGroup("ops"))?.admin).toBe("alice");
        await rejectsWith(
          store.createGroup({ name: "dev", admin: "ghost", createdAt: 3 }),
          "AUTH_UNKNOWN_USER",
        );
        expect(await store.getGroup("dev")).toBeUndefined();
      });

      it("searches groups by name prefix, case-insensitively, sorted by name", async () => {
        await users("alice");
        for (const name of ["devops", "design", "dev", "ops"]) {
          await store.createGroup({ name, admin: "alice", createdAt: 1 });
        }
        const names = async (prefix: string, limit = 10) =>
          (await store.searchGroups(prefix, limit)).map((g) => g.name);
        expect(await names("dev")).toEqual(["dev", "devops"]);
        expect(await names("DE")).toEqual(["design", "dev", "devops"]);
        expect(await names("")).toEqual(["design", "dev", "devops", "ops"]);
        expect(await names("d", 1)).toEqual(["design"]);
        expect(await names("d", 0)).toEqual([]);
        expect(await names("x")).toEqual([]);
      });

      it("adds members idempotently, clearing their join request, lists them sorted", async () => {
        await users("alice", "bob", "carol");
        await store.createGroup({ name: "ops", admin: "alice", createdAt: 1 });
        await store.putJoinRequest({ group: "ops", user: "bob", at: 5 });
        await store.addMember("OPS", "Bob", 10);
        await store.addMember("ops", "bob", 20);
        await store.addMember("ops", "carol", 30);
        expect(await store.joinRequests("ops")).toEqual([]);
        expect(await store.groupMembers("ops")).toEqual([
          { name: "alice", joinedAt: 1, ackedSeq: 0 },
          { name: "bob", joinedAt: 10, ackedSeq: 0 },
          { name: "carol", joinedAt: 30, ackedSeq: 0 },
        ]);
        expect((await store.groupsOf("bob")).map((g) => g.name)).toEqual(["ops"]);
      });

      it("adds many members in one call, all or none", async () => {
        await users("alice", "bob", "carol", "dave");
        await store.createGroup({ name: "ops", admin: "alice", createdAt: 1 });
        await store.putJoinRequest({ group: "ops", user: "carol", at: 5 });
        await store.addMembers("ops", ["Bob", "carol", "bob"], 10);
        await rejectsWith(store.addMembers("ops", ["dave", "ghost"], 20), "AUTH_UNKNOWN_USER");
        await rejectsWith(store.addMembers("nope", ["dave"], 20), "GROUP_UNKNOWN");
        await store.addMembers("ops", [], 30);
        expect(await store.joinRequests("ops")).toEqual([]);
        expect(await store.groupMembers("ops")).toEqual([
          { name: "alice", joinedAt: 1, ackedSeq: 0 },
          { name: "bob", joinedAt: 10, ackedSeq: 0 },
          { name: "carol", joinedAt: 10, ackedSeq: 0 },
        ]);
      });

      it("lists a user's groups sorted by name", async () => {
        await users("alice", "bob");
        await store.createGroup({ name: "zeta", admin: "alice", createdAt: 1 });
        await store.createGroup({ name: "alpha", admin: "bob", createdAt: 2 });
        await store.createGroup({ name: "mid", admin: "bob", createdAt: 3 });
        await store.addMember("zeta", "bob", 4);
        expect((await store.groupsOf("bob")).map((g) => [g.name, g.admin])).toEqual([
          ["alpha", "bob"],
          ["mid", "bob"],
          ["zeta", "alice"],
        ]);
        expect((await store.groupsOf("alice")).map((g) => g.name)).toEqual(["zeta"]);
      });

      it("removes members without changing the admin", async () => {
        await users("alice", "bob");
        await store.createGroup({ name: "ops", admin: "alice", createdAt: 1 });
        await store.addMember("ops", "bob", 2);
        expect(await store.removeMember("ops", "bob")).toBe(true);
        expect(await store.removeMember("ops", "bob")).toBe(false);
        expect(await store.removeMember("ops", "alice")).toBe(true);
        expect(await store.groupMembers("ops")).toEqual([]);
        expect((await store.getGroup("ops"))?.admin).toBe("alice");
        expect(await store.groupsOf("bob")).toEqual([]);
      });

      it("hands the admin role to a member only", async () => {
        await users("alice", "bob", "carol");
        await store.createGroup({ name: "ops", admin: "alice", createdAt: 1 });
        await store.addMember("ops", "bob", 2);
        await store.setGroupAdmin("ops", "BOB");
        expect((await store.getGroup("ops"))?.admin).toBe("bob");
        expect((await store.groupMembers("ops")).map((m) => m.name)).toEqual(["alice", "bob"]);
        await rejectsWith(store.setGroupAdmin("ops", "carol"), "GROUP_NOT_MEMBER");
        await rejectsWith(store.setGroupAdmin("ops", "ghost"), "AUTH_UNKNOWN_USER");
        await rejectsWith(store.setGroupAdmin("nope", "bob"), "GROUP_UNKNOWN");
        expect((await store.getGroup("ops"))?.admin).toBe("bob");
      });

      it("keeps join requests idempotently, oldest first, and deletes them", async () => {
        await users("alice", "bob", "carol", "dave");
        await store.createGroup({ name: "ops", admin: "alice", createdAt: 1 });
        await store.putJoinRequest({ group: "ops", user: "dave", at: 20 });
        await store.putJoinRequest({ group: "OPS", user: "carol", at: 10 });
        await store.putJoinRequest({ group: "ops", user: "dave", at: 99 });
        await store.putJoinRequest({ group: "ops", user: "bob", at: 20 });
        expect(await store.joinRequests("ops")).toEqual([
          { group: "ops", user: "carol", at: 10 },
          { group: "ops", user: "bob", at: 20 },
          { group: "ops", user: "dave", at: 20 },
        ]);
        expect(await store.deleteJoinRequest("ops", "Carol")).toBe(true);
        expect(await store.deleteJoinRequest("ops", "carol")).toBe(false);
        expect((await store.joinRequests("ops")).map((r) => r.user)).toEqual(["bob", "dave"]);
      });

      it("refuses unknown groups with GROUP_UNKNOWN and unknown users with AUTH_UNKNOWN_USER", async () => {
        await users("alice");
        await store.createGroup({ name: "ops", admin: "alice", createdAt: 1 });
        await rejectsWith(store.groupMembers("nope"), "GROUP_UNKNOWN");
        await rejectsWith(store.addMember("nope", "alice", 1), "GROUP_UNKNOWN");
        await rejectsWith(store.addMember("ops", "ghost", 1), "AUTH_UNKNOWN_USER");
        await rejectsWith(store.removeMember("nope", "alice"), "GROUP_UNKNOWN");
        await rejectsWith(store.removeMember("ops", "ghost"), "AUTH_UNKNOWN_USER");
        await rejectsWith(store.putJoinRequest({ group: "nope", user: "alice", at: 1 }), "GROUP_UNKNOWN");
        await rejectsWith(store.putJoinRequest({ group: "ops", user: "ghost", at: 1 }), "AUTH_UNKNOWN_USER");
        await rejectsWith(store.deleteJoinRequest("nope", "alice"), "GROUP_UNKNOWN");
        await rejectsWith(store.joinRequests("nope"), "GROUP_UNKNOWN");
        await rejectsWith(store.groupsOf("ghost"), "AUTH_UNKNOWN_USER");
        expect((await store.groupMembers("ops")).map((m) => m.name)).toEqual(["alice"]);
      });

      it("deletes a group with its members, requests and messages", async () => {
        await users("alice", "bob", "carol");
        await store.createGroup({ name: "ops", admin: "alice", createdAt: 1 });
        await store.addMember("ops", "bob", 2);
        await store.putJoinRequest({ group: "ops", user: "carol", at: 3 });
        await store.appendGroupMessage({ id: "g1", group: "ops", from: "alice", body: "hi", sentAt: 4 });
        expect(await store.deleteGroup("OPS")).toBe(true);
        expect(await store.deleteGroup("ops")).toBe(false);
        expect(await store.getGroup("ops")).toBeUndefined();
        expect(await store.groupsOf("bob")).toEqual([]);
        // The name is free again, and nothing of the old group comes back with it.
        await store.createGroup({ name: "ops", admin: "carol", createdAt: 10 });
        expect((await store.groupMembers("ops")).map((m) => m.name)).toEqual(["carol"]);
        expect(await store.joinRequests("ops")).toEqual([]);
        expect(await store.groupHistory("ops", { limit: 10 })).toEqual([]);
        const again = await store.appendGroupMessage({
          id: "g1",
          group: "ops",
          from: "carol",
          body: "new",
          sentAt: 11,
        });
        expect(again).toMatchObject({ body: "new", seq: 1 });
      });
    });

    describe("group messages", () => {
      async function groupWith(...members: string[]): Promise<void> {
        await users(...members);
        await store.createGroup({ name: "ops", admin: members[0] as string, createdAt: 1 });
        for (const m of members.slice(1)) await store.addMember("ops", m, 2);
      }

      function gmsg(id: string, from: string, sentAt: number): Omit<GroupMessage, "seq"> {
        return { id, group: "ops", from, body: `body ${id}`, sentAt };
      }

      it("numbers messages 1, 2, 3 per group and moves lastSeq", async () => {
        await groupWith("alice", "bob");
        await store.createGroup({ name: "dev", admin: "bob", createdAt: 1 });
        expect(await store.appendGroupMessage(gmsg("g1", "alice", 100))).toEqual({
          id: "g1",
          group: "ops",
          from: "alice",
          body: "body g1",
          sentAt: 100,
          seq: 1,
        });
        expect((await store.appendGroupMessage(gmsg("g2", "bob", 50))).seq).toBe(2);
        expect((await store.appendGroupMessage({ ...gmsg("d1", "bob", 60), group: "DEV" })).seq).toBe(1);
        expect((await store.appendGroupMessage(gmsg("g3", "alice", 70))).seq).toBe(3);
        expect((await store.getGroup("ops"))?.lastSeq).toBe(3);
        expect((await store.getGroup("dev"))?.lastSeq).toBe(1);
      });

      it("is idempotent on id: a repeat returns the first copy and assigns nothing", async () => {
        await groupWith("alice", "bob");
        await store.appendGroupMessage(gmsg("g1", "alice", 100));
        const repeat = await store.appendGroupMessage({ ...gmsg("g1", "bob", 999), body: "changed" });
        expect(repeat).toEqual({ ...gmsg("g1", "alice", 100), seq: 1 });
        expect((await store.getGroup("ops"))?.lastSeq).toBe(1);
        expect(await store.groupHistory("ops", { limit: 10 })).toHaveLength(1);
      });

      it("gives concurrent appends distinct, gapless sequence numbers", async () => {
        await groupWith("alice", "bob");
        const sent = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.appendGroupMessage(gmsg(`c${i}`, "bob", i))),
        );
        expect(sent.map((m) => m.seq).sort((a, b) => a - b)).toEqual(
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
      });

      it("resolves concurrent appends to one group in seq order", async () => {
        // The registry pushes each message to the members as its append resolves, so the order
        // in which appends resolve is the order members see.
        await groupWith("alice", "bob");
        const resolved: number[] = [];
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store
              .appendGroupMessage(gmsg(`o${i}`, i % 2 ? "alice" : "bob", i))
              .then((m) => resolved.push(m.seq)),
          ),
        );
        expect(resolved).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      });

      it("refuses an unknown group or sender", async () => {
        await groupWith("alice");
        await rejectsWith(
          store.appendGroupMessage({ ...gmsg("g1", "alice", 1), group: "nope" }),
          "GROUP_UNKNOWN",
        );
        await rejectsWith(store.appendGroupMessage(gmsg("g2", "ghost", 1)), "AUTH_UNKNOWN_USER");
        expect((await store.getGroup("ops"))?.lastSeq).toBe(0);
        await rejectsWith(store.groupHistory("nope", { limit: 5 }), "GROUP_UNKNOWN");
      });

      it("pages history backwards by seq, oldest first within a page", async () => {
        await groupWith("alice", "bob");
        for (let i = 1; i <= 7; i++)
          await store.appendGroupMessage(gmsg(`g${i}`, i % 2 ? "alice" : "bob", 1000 - i));
        const seqs = async (opts: { limit: number; beforeSeq?: number }) =>
          (await store.groupHistory("ops", opts)).map((m) => m.seq);
        expect(await seqs({ limit: 3 })).toEqual([5, 6, 7]);
        expect(await seqs({ limit: 3, beforeSeq: 5 })).toEqual([2, 3, 4]);
        expect(await seqs({ limit: 3, beforeSeq: 2 })).toEqual([1]);
        expect(await seqs({ limit: 3, beforeSeq: 1 })).toEqual([]);
        expect(await seqs({ limit: 0 })).toEqual([]);
        expect(await seqs({ limit: 100, beforeSeq: 100 })).toEqual([1, 2, 3, 4, 5, 6, 7]);
      });

      it("keeps a backlog per member from their ackedSeq; a new member starts at lastSeq", async () => {
        await groupWith("alice", "bob");
        for (let i = 1; i <= 3; i++) await store.appendGroupMessage(gmsg(`g${i}`, "alice", i));
        await users("carol");
        await store.addMember("ops", "carol", 50);
        expect((await store.groupMembers("ops")).find((m) => m.name === "carol")?.ackedSeq).toBe(3);
        await store.appendGroupMessage(gmsg("g4", "alice", 4));

        const ids = async (user: string, limit = 10) =>
          (await store.groupBacklog("ops", user, limit)).map((m) => m.id);
        expect(await ids("bob")).toEqual(["g1", "g2", "g3", "g4"]);
        expect(await ids("bob", 2)).toEqual(["g1", "g2"]);
        expect(await ids("bob", 0)).toEqual([]);
        expect(await ids("carol")).toEqual(["g4"]);

        await store.ackGroup("ops", "bob", 2);
        expect(await ids("bob")).toEqual(["g3", "g4"]);
        // Never backwards, never past lastSeq.
        await store.ackGroup("ops", "bob", 1);
        expect(await ids("bob")).toEqual(["g3", "g4"]);
        await store.ackGroup("OPS", "Bob", 99);
        expect(await ids("bob")).toEqual([]);
        expect((await store.groupMembers("ops")).find((m) => m.name === "bob")?.ackedSeq).toBe(4);
        await store.appendGroupMessage(gmsg("g5", "carol", 5));
        expect(await ids("bob")).toEqual(["g5"]);
      });

      it("refuses a backlog or ack for a non-member with GROUP_NOT_MEMBER", async () => {
        await groupWith("alice");
        await users("bob");
        await rejectsWith(store.groupBacklog("ops", "bob", 10), "GROUP_NOT_MEMBER");
        await rejectsWith(store.ackGroup("ops", "bob", 1), "GROUP_NOT_MEMBER");
        await rejectsWith(store.groupBacklog("ops", "ghost", 10), "AUTH_UNKNOWN_USER");
        await rejectsWith(store.groupBacklog("nope", "alice", 10), "GROUP_UNKNOWN");
        await rejectsWith(store.ackGroup("nope", "alice", 1), "GROUP_UNKNOWN");
      });
    });

    describe("notices", () => {
      it("queues notices per recipient in enqueue order, idempotently on id", async () => {
        await users("alice", "bob");
        await store.enqueueNotice({
          id: "n1",
          to: "alice",
          kind: "friend.accepted",
          body: '{"by":"bob"}',
          at: 50,
        });
        await store.enqueueNotice({ id: "n2", to: "Alice", kind: "group.joined", body: "{}", at: 10 });
        await store.enqueueNotice({ id: "n3", to: "bob", kind: "x", body: "{}", at: 5 });
        await store.enqueueNotice({ id: "n1", to: "alice", kind: "other", body: "{}", at: 1 });
        expect(await store.pendingNotices("alice", 10)).toEqual([
          { id: "n1", to: "alice", kind: "friend.accepted", body: '{"by":"bob"}', at: 50 },
          { id: "n2", to: "alice", kind: "group.joined", body: "{}", at: 10 },
        ]);
        expect((await store.pendingNotices("alice", 1)).map((n) => n.id)).toEqual(["n1"]);
        expect(await store.pendingNotices("alice", 0)).toEqual([]);
      });

      it("acknowledges only the recipient's notices", async () => {
        await users("alice", "bob");
        await store.enqueueNotice({ id: "n1", to: "alice", kind: "k", body: "{}", at: 1 });
        await store.enqueueNotice({ id: "n2", to: "bob", kind: "k", body: "{}", at: 2 });
        await store.enqueueNotice({ id: "n3", to: "alice", kind: "k", body: "{}", at: 3 });
        expect(await store.ackNotices("alice", ["n1", "n2", "zz"])).toBe(1);
        expect(await store.ackNotices("alice", [])).toBe(0);
        expect((await store.pendingNotices("alice", 10)).map((n) => n.id)).toEqual(["n3"]);
        expect((await store.pendingNotices("bob", 10)).map((n) => n.id)).toEqual(["n2"]);
      });

      it("refuses notices for an unknown user with AUTH_UNKNOWN_USER", async () => {
        await rejectsWith(
          store.enqueueNotice({ id: "n1", to: "ghost", kind: "k", body: "{}", at: 1 }),
          "AUTH_UNKNOWN_USER",
        );
        await rejectsWith(store.pendingNotices("ghost", 10), "AUTH_UNKNOWN_USER");
        await rejectsWith(store.ackNotices("ghost", ["n1"]), "AUTH_UNKNOWN_USER");
      });
    });

    describe("people you may know", () => {
      it("ranks by mutual friends, then shared groups, then name; never self or friends", async () => {
        await users("me", "f1", "f2", "f3", "x", "y", "z", "w", "lonely");
        for (const f of ["f1", "f2", "f3"]) await store.addFriendship("me", f, 1);
        // x: two mutual friends; y: two mutual friends and a shared group; z: one mutual friend.
        await store.addFriendship("x", "f1", 1);
        await store.addFriendship("x", "f2", 1);
        await store.addFriendship("y", "f2", 1);
        await store.addFriendship("y", "f3", 1);
        await store.addFriendship("z", "f3", 1);
        // Friends of each other: f1 and f2 are already my friends and must not be suggested.
        await store.addFriendship("f1", "f2", 1);
        await store.createGroup({ name: "g1", admin: "me", createdAt: 1 });
        await store.createGroup({ name: "g2", admin: "me", createdAt: 1 });
        await store.createGroup({ name: "g3", admin: "lonely", createdAt: 1 });
        await store.addMember("g1", "y", 2);
        await store.addMember("g1", "w", 2);
        await store.addMember("g2", "w", 2);
        await store.addMember("g1", "f1", 2);
        // A pending request does not exclude anyone.
        await store.putFriendRequest({ from: "me", to: "z", at: 1 });

        expect(await store.suggest("ME", 10)).toEqual([
          { name: "y", mutualFriends: 2, sharedGroups: 1 },
          { name: "x", mutualFriends: 2, sharedGroups: 0 },
          { name: "z", mutualFriends: 1, sharedGroups: 0 },
          { name: "w", mutualFriends: 0, sharedGroups: 2 },
        ]);
        expect((await store.suggest("me", 2)).map((s) => s.name)).toEqual(["y", "x"]);
        // A group left out (the office room) counts for nothing.
        expect(await store.suggest("me", 10, ["g1"])).toEqual([
          { name: "x", mutualFriends: 2, sharedGroups: 0 },
          { name: "y", mutualFriends: 2, sharedGroups: 0 },
          { name: "z", mutualFriends: 1, sharedGroups: 0 },
          { name: "w", mutualFriends: 0, sharedGroups: 1 },
        ]);
        expect(await store.suggest("me", 0)).toEqual([]);
        expect(await store.suggest("lonely", 10)).toEqual([]);
        await rejectsWith(store.suggest("ghost", 10), "AUTH_UNKNOWN_USER");
      });
    });

    describe("dump and load", () => {
      it("dumps every record in replayable order", async () => {
        await populateEveryKind(store);
        const records = await collect(store.dump());
        const kinds = records.map((r) => r.kind);
        const order = [
          "user",
          "audit",
          "message",
          "offline",
          "friendRequest",
          "friendship",
          "group",
          "member",
          "joinRequest",
          "groupMessage",
          "notice",
        ];
        expect([...new Set(kinds)]).toEqual(order);
        expect(kinds.map((k) => order.indexOf(k))).toEqual(
          [...kinds.map((k) => order.indexOf(k))].sort((a, b) => a - b),
        );
        const count = (kind: string) => kinds.filter((k) => k === kind).length;
        expect([count("user"), count("audit"), count("message"), count("offline")]).toEqual([4, 4, 5, 3]);
        expect(records.find((r) => r.kind === "audit" && r.user === "ghost")).toEqual({
          kind: "audit",
          user: "ghost",
          event: "login_failed",
          at: 8,
          address: "10.0.0.9:1",
          detail: "unknown user",
        });
        expect(records.filter((r) => r.kind === "offline")).toEqual([
          { kind: "offline", id: "q2", to: "bob" },
          { kind: "offline", id: "q1", to: "bob" },
          { kind: "offline", id: "q3", to: "carol" },
        ]);
        expect(records.filter((r) => r.kind === "friendship")).toEqual([
          { kind: "friendship", a: "alice", b: "bob", since: 30 },
          { kind: "friendship", a: "bob", b: "carol", since: 31 },
        ]);
        expect(records.find((r) => r.kind === "member" && r.group === "ops" && r.name === "bob")).toEqual({
          kind: "member",
          group: "ops",
          name: "bob",
          joinedAt: 62,
          ackedSeq: 1,
        });
        expect(records.find((r) => r.kind === "user" && r.name === "alice")).toEqual({
          kind: "user",
          name: "alice",
          passwordHash: "scrypt$15$8$1$salt0$hash0",
          publicKey: "ab".repeat(32),
          ...NO_PROFILE,
          displayName: "Alice L",
          statusText: "busy",
          email: "a@x",
          note: "n",
          createdAt: 1_000,
          lastSeen: null,
        });
        expect(
          records.filter((r) => r.kind === "notice").map((r) => r.kind === "notice" && r.notice.id),
        ).toEqual(["n2", "n1"]);
      });

      it("loads a dump into an empty store that then answers exactly like the original", async () => {
        await populateEveryKind(store);
        const records = await collect(store.dump());
        const second = await fixture.another();
        try {
          await second.init();
          await second.load(replay(records));
          expect(await collect(second.dump())).toEqual(records);
          // The loaded store behaves like the original, not just lists the same records.
          expect((await second.pendingOffline("bob", 10)).map((m) => m.id)).toEqual(["q2", "q1"]);
          expect((await second.groupBacklog("ops", "bob", 10)).map((m) => m.seq)).toEqual([2, 3]);
          expect((await second.groupBacklog("ops", "dave", 10)).map((m) => m.seq)).toEqual([3]);
          expect(
            (await second.appendGroupMessage({ id: "gm4", group: "ops", from: "bob", body: "4", sentAt: 90 }))
              .seq,
          ).toBe(4);
          expect((await second.listAudit({ limit: 2 })).map((e) => e.user)).toEqual(["bob", "alice"]);
          await second.enqueueOffline(msg("q5", "alice", "bob", 1));
          expect((await second.pendingOffline("bob", 10)).map((m) => m.id)).toEqual(["q2", "q1", "q5"]);
          await second.enqueueNotice({ id: "n3", to: "dave", kind: "k", body: "{}", at: 1 });
          expect((await second.pendingNotices("dave", 10)).map((n) => n.id)).toEqual(["n2", "n1", "n3"]);
          expect(await second.searchUsers("alice l", 10)).toHaveLength(1);
          expect(await second.areFriends("alice", "bob")).toBe(true);
          await rejectsWith(
            second.createUser({ name: "ALICE", passwordHash: "h", createdAt: 1 }),
            "AUTH_USER_EXISTS",
          );
        } finally {
          await second.close();
        }
      });

      it("refuses to load into a store that has users, with STORE_NOT_EMPTY, changing nothing", async () => {
        await users("zed");
        const records: DumpRecord[] = [
          {
            kind: "user",
            name: "amy",
            passwordHash: "h",
            publicKey: null,
            ...NO_PROFILE,
            createdAt: 1,
            lastSeen: null,
          },
        ];
        await rejectsWith(store.load(replay(records)), "STORE_NOT_EMPTY");
        expect((await store.listUsers()).map((u) => u.name)).toEqual(["zed"]);
      });

      it("loads nothing when a record refers to a missing user", async () => {
        const records: DumpRecord[] = [
          {
            kind: "user",
            name: "amy",
            passwordHash: "h",
            publicKey: null,
            ...NO_PROFILE,
            createdAt: 1,
            lastSeen: null,
          },
          { kind: "friendship", a: "amy", b: "ghost", since: 1 },
        ];
        await rejectsWith(store.load(replay(records)), "STORE_FAILED");
        expect(await store.listUsers()).toEqual([]);
        // And the store is still usable.
        await users("amy");
        expect(await store.friendsOf("amy")).toEqual([]);
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
        await store.setProfile("bob", { displayName: "Bob B" });
        await store.addFriendship("alice", "bob", 9);
        await store.createGroup({ name: "ops", admin: "alice", createdAt: 10 });
        await store.addMember("ops", "bob", 11);
        await store.appendGroupMessage({ id: "g1", group: "ops", from: "alice", body: "x", sentAt: 12 });
        await store.enqueueNotice({ id: "n1", to: "bob", kind: "k", body: "{}", at: 13 });
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
          expect((await reopened.getUser("bob"))?.displayName).toBe("Bob B");
          expect(await reopened.friendsOf("bob")).toEqual([{ name: "alice", since: 9 }]);
          expect((await reopened.groupBacklog("ops", "bob", 10)).map((m) => m.id)).toEqual(["g1"]);
          expect(
            (
              await reopened.appendGroupMessage({
                id: "g2",
                group: "ops",
                from: "bob",
                body: "y",
                sentAt: 14,
              })
            ).seq,
          ).toBe(2);
          expect((await reopened.pendingNotices("bob", 10)).map((n) => n.id)).toEqual(["n1"]);
        } finally {
          await reopened.close();
        }
      });
    });
  });
}
