/** The `AccountStore` part of the contract: users and the audit log. */

import { beforeEach, describe, expect, it } from "vitest";
import type { Store } from "../../../src/server/store/index.js";
import { type ContractContext, NO_PROFILE } from "./fixtures.js";

export function accountsContract(t: ContractContext): void {
  const { users, rejectsWith } = t;
  let store: Store;
  beforeEach(() => {
    store = t.store;
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
}
