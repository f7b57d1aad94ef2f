/** The `DumpStore` part of the contract: every record out, and into an empty store. */

import { beforeEach, describe, expect, it } from "vitest";
import type { DumpRecord, Store } from "../../../src/server/store/index.js";
import { type ContractContext, collect, NO_PROFILE, populateEveryKind, replay } from "./fixtures.js";

export function dumpContract(t: ContractContext): void {
  const { users, msg, rejectsWith } = t;
  let store: Store;
  beforeEach(() => {
    store = t.store;
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
      const second = await t.fixture.another();
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
}
