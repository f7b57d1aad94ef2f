/**
 * The `Store` contract: one suite that every adapter runs (SQLite and Neo4j), in one file per
 * part of the port (`accounts.ts`, `messages.ts`, `people.ts` and `groups.ts` for the social
 * part, `pages.ts` for the pages and counts of all of them, `dump.ts`), with what they share in
 * `fixtures.ts`. This file holds the lifecycle and durability tests and `storeContract`, which
 * runs them all.
 *
 * `open` must return a store over empty data, not yet initialised (the suite calls `init()`).
 * `reopen`, when given, opens a fresh store over the same data; the suite closes the first store
 * before calling it and closes the reopened one itself. `another`, when given, opens a store over
 * separate empty data (the suite closes it). `cleanup` releases everything and must
 * tolerate stores that are already closed.
 */

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HallwayError } from "../../../src/errors.js";
import type { Store, StoredMessage } from "../../../src/server/store/index.js";
import { accountsContract } from "./accounts.js";
import { dumpContract } from "./dump.js";
import type { ContractContext, StoreFixture } from "./fixtures.js";
import { groupsContract } from "./groups.js";
import { messagesContract } from "./messages.js";
import { pagesContract } from "./pages.js";
import { peopleContract } from "./people.js";

export { collect, NO_PROFILE, populateEveryKind, replay, type StoreFixture } from "./fixtures.js";

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

    const t: ContractContext = {
      get store() {
        return store;
      },
      get fixture() {
        return fixture;
      },
      users,
      msg,
      rejectsWith,
    };

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

    accountsContract(t);
    messagesContract(t);
    peopleContract(t);
    groupsContract(t);
    pagesContract(t);
    dumpContract(t);

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
