/**
 * The people half of the `SocialStore` contract: profiles and user search, friends, notices,
 * and "people you may know".
 */

import { beforeEach, describe, expect, it } from "vitest";
import type { Store } from "../../../src/server/store/index.js";
import type { ContractContext } from "./fixtures.js";

export function peopleContract(t: ContractContext): void {
  const { users, rejectsWith } = t;
  let store: Store;
  beforeEach(() => {
    store = t.store;
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
}
