/**
 * The office room's rules on a real SQLite file, without sockets: who is enrolled when, who
 * may write under `announce`, the login backlog window, and "people you may know" ignoring
 * the room everyone shares.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HallwayError } from "../../../src/errors.js";
import { systemRuntime } from "../../../src/net/system-runtime.js";
import type { Control } from "../../../src/protocol/control.js";
import { OfficeRoom, type OfficeRoomOptions } from "../../../src/server/office-room.js";
import { Social, type SocialRequest } from "../../../src/server/social.js";
import { SqliteStore } from "../../../src/server/store/index.js";

let dir: string;
let store: SqliteStore;
let clock: number;

function social(office: OfficeRoom): Social {
  return new Social({
    store,
    policy: "open",
    wall: () => ++clock,
    random: systemRuntime.random,
    quotas: { friendRequestsPerRecipient: 500, joinRequestsPerGroup: 500 },
    presenceOf: () => "offline",
    push: () => {},
    log: () => {},
    office,
  });
}

async function users(...names: string[]): Promise<void> {
  for (const name of names) await store.createUser({ name, passwordHash: "x", createdAt: ++clock });
}

function ask(s: Social, me: string, body: Record<string, unknown>): Promise<unknown> {
  return s.handle(me, { ...body, rid: 1 } as SocialRequest);
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (err) {
    return err instanceof HallwayError ? err.code : String(err);
  }
}

async function room(opts: OfficeRoomOptions, ...names: string[]): Promise<{ office: OfficeRoom; s: Social }> {
  const office = new OfficeRoom(store, opts);
  for (const name of names) {
    await users(name);
    await office.enroll(name, ++clock);
  }
  return { office, s: social(office) };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "hallway-office-"));
  store = new SqliteStore(join(dir, "registry.sqlite"));
  await store.init();
  clock = 1_000;
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe("the office room", () => {
  it("enrols the users a store already has at start, and hands the room to the registry admin", async () => {
    await users("carol", "alice", "bob");
    const office = new OfficeRoom(store, { mode: "open", admin: "bob" });
    expect(await office.enrollEveryone(++clock)).toBe(3);
    expect((await store.groupMembers("all")).map((m) => m.name)).toEqual(["alice", "bob", "carol"]);
    expect((await store.getGroup("all"))?.admin).toBe("bob");
    expect(await office.enrollEveryone(++clock)).toBe(0);
  });

  it("starts with the first user when the registry admin has not registered yet", async () => {
    const { office } = await room({ mode: "open", admin: "boss" }, "alice", "bob");
    expect((await store.getGroup("all"))?.admin).toBe("alice");
    await users("boss");
    await office.enroll("boss", ++clock);
    expect((await store.getGroup("all"))?.admin).toBe("boss");
  });

  it("does nothing when turned off", async () => {
    const office = new OfficeRoom(store, { mode: "off" });
    await users("alice");
    await office.enroll("alice", ++clock);
    expect(await office.enrollEveryone(++clock)).toBe(0);
    expect(await store.getGroup("all")).toBeUndefined();
  });

  it("lets only the admin write under announce", async () => {
    const { s } = await room({ mode: "announce", admin: "boss" }, "boss", "alice");
    const send = (me: string) =>
      ask(s, me, { t: "group.send", group: "all", id: `m-${me}`, text: "hi", sentAt: ++clock });
    expect(await codeOf(send("alice"))).toBe("GROUP_READ_ONLY");
    expect(await codeOf(send("boss"))).toBe("ok");
    expect(() => new OfficeRoom(store, { mode: "announce" })).toThrow(/--admin/);
  });

  it("refuses every change of membership or admin", async () => {
    const { s } = await room({ mode: "open" }, "alice", "bob");
    for (const [me, body] of [
      ["bob", { t: "group.leave", group: "all" }],
      ["bob", { t: "group.join", group: "all" }],
      ["alice", { t: "group.remove", group: "all", user: "bob" }],
      ["alice", { t: "group.admin", group: "all", user: "bob" }],
      ["alice", { t: "group.approve", group: "all", user: "bob" }],
    ] as const) {
      expect(await codeOf(ask(s, me, body))).toBe("GROUP_OFFICE_ROOM");
    }
  });

  it("gives a returning member only the newest messages of the window at login", async () => {
    const { s } = await room({ mode: "open", backlogWindow: 3 }, "alice", "bob");
    for (let i = 1; i <= 5; i++) {
      await ask(s, "alice", { t: "group.send", group: "all", id: `m${i}`, text: `t${i}`, sentAt: ++clock });
    }
    const got: Control[] = [];
    await s.atLogin("bob", (m) => got.push(m));
    const seqs = got.flatMap((m) => (m.t === "group.message" ? m.msgs.map((x) => x.seq) : []));
    expect(seqs).toEqual([3, 4, 5]);
    expect((await store.groupHistory("all", { limit: 10 })).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it("counts for nothing in people you may know", async () => {
    const { s } = await room({ mode: "open" }, "alice", "bob", "carol");
    await store.createGroup({ name: "ops", admin: "alice", createdAt: ++clock });
    await store.addMember("ops", "carol", ++clock);
    expect(await ask(s, "alice", { t: "suggest", limit: 10 })).toEqual({
      suggestions: [{ name: "carol", mutualFriends: 0, sharedGroups: 1 }],
    });
  });
});
