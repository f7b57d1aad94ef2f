/**
 * The registry's social module on a real SQLite file, without sockets: who may do what, what
 * is pushed to whom, and what waits for a login, in order. The context records pushes for
 * the users it is told are online (the registry's sessions are what it stands in for).
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HallwayError } from "../../../src/errors.js";
import { systemRuntime } from "../../../src/net/system-runtime.js";
import type { Control } from "../../../src/protocol/control.js";
import { type Policy, Social, type SocialRequest } from "../../../src/server/social.js";
import { SqliteStore } from "../../../src/server/store/index.js";

let dir: string;
let store: SqliteStore;
let clock: number;
let online: Set<string>;
let pushed: Array<{ to: string; msg: Control }>;

function social(policy: Policy = "open"): Social {
  return new Social({
    store,
    policy,
    wall: () => ++clock,
    random: systemRuntime.random,
    quotas: { friendRequestsPerRecipient: 500, joinRequestsPerGroup: 500 },
    presenceOf: (u) => (online.has(u) ? "online" : "offline"),
    push: (to, msg) => {
      if (online.has(to)) pushed.push({ to, msg });
    },
    log: () => {},
  });
}

async function users(...names: string[]): Promise<void> {
  for (const name of names) await store.createUser({ name, passwordHash: "x", createdAt: ++clock });
}

type Body = SocialRequest extends infer R ? (R extends SocialRequest ? Omit<R, "rid"> : never) : never;

function ask(s: Social, me: string, body: Body): Promise<unknown> {
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

async function atLogin(s: Social, user: string): Promise<Control[]> {
  const got: Control[] = [];
  await s.atLogin(user, (m) => got.push(m));
  return got;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "hallway-social-"));
  store = new SqliteStore(join(dir, "registry.sqlite"));
  await store.init();
  clock = 1_000;
  online = new Set();
  pushed = [];
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe("what waits for a login", () => {
  it("comes in one order: friend requests, join requests, notices, then each group's backlog", async () => {
    const s = social();
    await users("alice", "bob", "carol");
    await ask(s, "alice", { t: "group.create", group: "ops" });
    await ask(s, "bob", { t: "group.join", group: "ops" });
    await ask(s, "alice", { t: "group.approve", group: "ops", user: "bob" });
    await ask(s, "carol", { t: "group.join", group: "ops" });
    await ask(s, "bob", { t: "friend.request", to: "alice" });
    await ask(s, "alice", { t: "friend.request", to: "carol" });
    await ask(s, "carol", { t: "friend.decline", from: "alice" });
    for (const text of ["one", "two"]) {
      await ask(s, "bob", { t: "group.send", group: "ops", id: `message-${text}`, text, sentAt: clock });
    }
    expect(pushed).toEqual([]);

    const got = await atLogin(s, "alice");
    expect(got.map((m) => m.t)).toEqual(["friend.incoming", "group.joinRequest", "notice", "group.message"]);
    expect(got[0]).toMatchObject({ from: "bob" });
    expect(got[1]).toMatchObject({ group: "ops", user: "carol" });
    expect(got[2]).toMatchObject({ note: { kind: "friend.declined", by: "carol" } });
    const backlog = got[3] as Extract<Control, { t: "group.message" }>;
    expect(backlog.msgs.map((m) => [m.seq, m.text])).toEqual([
      [1, "one"],
      [2, "two"],
    ]);

    // Acknowledged notices and seqs are not sent again; waiting requests are.
    const notice = got[2] as Extract<Control, { t: "notice" }>;
    await ask(s, "alice", { t: "notice.ack", ids: [notice.id] });
    await ask(s, "alice", { t: "group.ack", group: "ops", seq: 2 });
    expect((await atLogin(s, "alice")).map((m) => m.t)).toEqual(["friend.incoming", "group.joinRequest"]);
  });

  it("pushes live to whoever is online, the sender of a group message included", async () => {
    const s = social();
    await users("alice", "bob");
    online = new Set(["alice", "bob"]);
    await ask(s, "alice", { t: "group.create", group: "ops" });
    await ask(s, "bob", { t: "group.join", group: "ops" });
    await ask(s, "alice", { t: "group.approve", group: "ops", user: "bob" });
    pushed = [];
    expect(
      await ask(s, "bob", { t: "group.send", group: "ops", id: "message-0001", text: "hi", sentAt: 1 }),
    ).toEqual({ seq: 1 });
    expect(pushed.map((p) => p.to).sort()).toEqual(["alice", "bob"]);
    // A repeated id is the same message: same seq, nothing new stored.
    expect(
      await ask(s, "bob", { t: "group.send", group: "ops", id: "message-0001", text: "hi", sentAt: 1 }),
    ).toEqual({ seq: 1 });
    expect((await store.getGroup("ops"))?.lastSeq).toBe(1);
  });
});

describe("groups", () => {
  it("lets only the admin answer, remove and hand over; an admin leaving passes the group on", async () => {
    const s = social();
    await users("alice", "bob", "carol", "dan");
    await ask(s, "alice", { t: "group.create", group: "ops" });
    for (const u of ["carol", "bob", "dan"]) {
      await ask(s, u, { t: "group.join", group: "ops" });
      await ask(s, "alice", { t: "group.approve", group: "ops", user: u });
    }
    expect(await codeOf(ask(s, "bob", { t: "group.remove", group: "ops", user: "dan" }))).toBe(
      "GROUP_NOT_ADMIN",
    );
    expect(await codeOf(ask(s, "bob", { t: "group.admin", group: "ops", user: "bob" }))).toBe(
      "GROUP_NOT_ADMIN",
    );
    expect(await codeOf(ask(s, "alice", { t: "group.decline", group: "ops", user: "dan" }))).toBe(
      "GROUP_NO_REQUEST",
    );
    // carol joined before bob: she is the longest-standing member after alice.
    expect(await ask(s, "alice", { t: "group.leave", group: "ops" })).toEqual({ deleted: false });
    expect((await store.getGroup("ops"))?.admin).toBe("carol");
    // An admin removing themselves leaves.
    await ask(s, "carol", { t: "group.remove", group: "ops", user: "carol" });
    expect((await store.getGroup("ops"))?.admin).toBe("bob");
    await ask(s, "bob", { t: "group.leave", group: "ops" });
    expect(await ask(s, "dan", { t: "group.leave", group: "ops" })).toEqual({ deleted: true });
    expect(await store.getGroup("ops")).toBeUndefined();
  });
});

describe("policy", () => {
  it("lets anyone talk under open, only friends (and yourself) under friends", async () => {
    await users("alice", "bob");
    await expect(social("open").requireMayTalk("alice", "bob")).resolves.toBeUndefined();
    const strict = social("friends");
    expect(await codeOf(strict.requireMayTalk("alice", "bob"))).toBe("POLICY_NOT_FRIENDS");
    expect(await codeOf(strict.requireMayTalk("alice", "nobody"))).toBe("POLICY_NOT_FRIENDS");
    await expect(strict.requireMayTalk("alice", "alice")).resolves.toBeUndefined();
    expect(await social("open").presenceAudience("alice")).toBeUndefined();

    await ask(strict, "alice", { t: "friend.request", to: "bob" });
    await ask(strict, "bob", { t: "friend.accept", from: "alice" });
    await expect(strict.requireMayTalk("alice", "bob")).resolves.toBeUndefined();
    expect([...((await strict.presenceAudience("alice")) ?? [])]).toEqual(["bob"]);
  });
});
