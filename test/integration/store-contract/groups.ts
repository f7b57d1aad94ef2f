/** The groups half of the `SocialStore` contract: groups, members, join requests, group messages. */

import { beforeEach, describe, expect, it } from "vitest";
import type { GroupMessage, Store } from "../../../src/server/store/index.js";
import type { ContractContext } from "./fixtures.js";

export function groupsContract(t: ContractContext): void {
  const { users, rejectsWith } = t;
  let store: Store;
  beforeEach(() => {
    store = t.store;
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
}
