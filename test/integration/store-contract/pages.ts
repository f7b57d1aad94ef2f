/**
 * The pages and counts every part offers for the abuse limits (no answer exceeds the message
 * limit): users, friends and friend requests, searches, and what waits for a recipient.
 */

import { beforeEach, describe, expect, it } from "vitest";
import type { Store } from "../../../src/server/store/index.js";
import type { ContractContext } from "./fixtures.js";

export function pagesContract(t: ContractContext): void {
  const { users, msg, rejectsWith } = t;
  let store: Store;
  beforeEach(() => {
    store = t.store;
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
      expect((await store.friendsAfter("alice", undefined, 2)).map((f) => f.name)).toEqual(["bob", "carol"]);
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
      expect((await store.searchUsersAfter("al", undefined, 2)).map((u) => u.name)).toEqual(["alan", "alba"]);
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
}
