/**
 * Groups with a real registry and real clients: joining with the admin's approval (also when
 * the admin was offline), group chat in one registry-assigned order with the backlog for an
 * offline member, paged history, and leaving, removing and handing over the admin role.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Json, killAll, requireBuild, startRegistry, tempDir } from "./harness.js";
import { ask, eventsSince, login, logout, must, type Person } from "./social-helpers.js";

beforeAll(requireBuild);
afterAll(killAll);

/** `user` asks to join `group` and its admin (online) approves. */
async function join(admin: Person, user: Person, group: string): Promise<void> {
  await must(user, { cmd: "group.join", group });
  await admin.proc.waitFor(
    (e) => e.event === "group.joinRequest" && e.group === group && e.user === user.name,
    `${user.name} asks to join ${group}`,
  );
  await must(admin, { cmd: "group.approve", group, user: user.name });
  await user.proc.waitFor(
    (e) => e.event === "group.joined" && e.group === group && e.user === user.name,
    `${user.name} joined ${group}`,
  );
}

/** These tests are about groups people make; `#all` has its own (office-room.test.ts). */
const NO_OFFICE_ROOM = ["--no-office-room"];

const isGroupMessage = (group: string) => (e: Json) => e.event === "groupMessage" && e.group === group;

describe("groups", () => {
  it("approves a join request made while the admin was offline", async () => {
    const reg = await startRegistry(tempDir("registry"), 0, NO_OFFICE_ROOM);
    let alice = await login("alice", reg.port);
    await must(alice, { cmd: "group.create", group: "Ops" });
    expect(await ask(alice, { cmd: "group.create", group: "ops" })).toMatchObject({ code: "GROUP_EXISTS" });
    expect(await ask(alice, { cmd: "group.create", group: "9lives" })).toMatchObject({
      code: "GROUP_BAD_NAME",
    });
    await logout(alice);

    const bob = await login("bob", reg.port);
    expect(await ask(bob, { cmd: "group.join", group: "nope" })).toMatchObject({ code: "GROUP_UNKNOWN" });
    await must(bob, { cmd: "group.join", group: "ops" });
    expect(await ask(bob, { cmd: "group.approve", group: "ops", user: "bob" })).toMatchObject({
      code: "GROUP_NOT_ADMIN",
    });

    // The request waited for the admin's login.
    alice = await login("alice", reg.port, alice.dir);
    await alice.proc.waitFor(
      (e) => e.event === "group.joinRequest" && e.group === "ops" && e.user === "bob",
      "bob's join request at login",
    );
    await must(alice, { cmd: "group.approve", group: "ops", user: "bob" });
    await bob.proc.waitFor(
      (e) => e.event === "group.joined" && e.group === "ops" && e.user === "bob",
      "joined",
    );
    expect(await ask(alice, { cmd: "group.approve", group: "ops", user: "bob" })).toMatchObject({
      code: "GROUP_NO_REQUEST",
    });
    expect(await ask(bob, { cmd: "group.join", group: "ops" })).toMatchObject({
      code: "GROUP_ALREADY_MEMBER",
    });
    expect((await must(bob, { cmd: "groups" })).groups).toEqual([
      { name: "ops", admin: "alice", lastSeq: 0, members: ["alice", "bob"] },
    ]);

    // A declined request is an answer too.
    const carol = await login("carol", reg.port);
    await must(carol, { cmd: "group.join", group: "ops" });
    await alice.proc.waitFor((e) => e.event === "group.joinRequest" && e.user === "carol", "carol asks");
    await must(alice, { cmd: "group.decline", group: "ops", user: "carol" });
    await carol.proc.waitFor((e) => e.event === "group.declined" && e.group === "ops", "declined");
    expect(await ask(carol, { cmd: "group.send", group: "ops", text: "hi" })).toMatchObject({
      code: "GROUP_NOT_MEMBER",
    });
  });

  it("gives every member one order, and an offline member the backlog in that order", async () => {
    const reg = await startRegistry(tempDir("registry"));
    const alice = await login("alice", reg.port);
    const bob = await login("bob", reg.port);
    let carol = await login("carol", reg.port);
    await must(alice, { cmd: "group.create", group: "ops" });
    await join(alice, bob, "ops");
    await join(alice, carol, "ops");
    await logout(carol);

    // Two senders at once: the registry's seq decides the order, the same for everyone.
    const texts = ["a1", "b1", "a2", "b2", "a3", "b3"];
    const sendAll = async (p: Person) => {
      const seqs: unknown[] = [];
      for (const text of texts.filter((t) => t.startsWith(p.name.slice(0, 1)))) {
        seqs.push((await must(p, { cmd: "group.send", group: "ops", text })).seq);
      }
      return seqs;
    };
    const seqs = (await Promise.all([sendAll(alice), sendAll(bob)])).flat();
    expect(seqs.sort((x, y) => Number(x) - Number(y))).toEqual([1, 2, 3, 4, 5, 6]);
    const seen = async (p: Person) => {
      const got = await p.proc.waitForCount(
        isGroupMessage("ops"),
        texts.length,
        `${p.name}'s group messages`,
      );
      return got.map((e) => ({ seq: e.seq, id: e.id, from: e.from, text: e.text }));
    };
    const order = await seen(alice);
    expect(order.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await seen(bob)).toEqual(order);

    // carol was offline: the backlog comes at login, in seq order, once.
    carol = await login("carol", reg.port, carol.dir);
    expect(await seen(carol)).toEqual(order);
    await must(carol, { cmd: "groups" });
    expect(eventsSince(carol, 0, isGroupMessage("ops"))).toHaveLength(texts.length);

    // Acknowledged: the next login brings nothing new, and live messages continue the order.
    await logout(carol);
    carol = await login("carol", reg.port, carol.dir);
    await must(alice, { cmd: "group.send", group: "ops", text: "after" });
    const next = await carol.proc.waitFor(isGroupMessage("ops"), "the live message");
    expect(next).toMatchObject({ seq: 7, from: "alice", text: "after" });
    expect(eventsSince(carol, 0, isGroupMessage("ops"))).toHaveLength(1);

    // History is paged from the newest, oldest first within a page.
    const page1 = await must(carol, { cmd: "group.history", group: "ops", limit: 3 });
    expect((page1.messages as Json[]).map((m) => m.seq)).toEqual([5, 6, 7]);
    const page2 = await must(carol, { cmd: "group.history", group: "ops", limit: 3, beforeSeq: 5 });
    expect((page2.messages as Json[]).map((m) => m.text)).toEqual(order.slice(1, 4).map((m) => m.text));
    const page3 = await must(carol, { cmd: "group.history", group: "ops", limit: 3, beforeSeq: 2 });
    expect((page3.messages as Json[]).map((m) => m.seq)).toEqual([1]);
    expect(await ask(carol, { cmd: "group.send", group: "ops", text: "" })).toMatchObject({
      code: "MSG_EMPTY",
    });
  });

  it("removes members, hands the admin role over, and deletes a group its last member leaves", async () => {
    const reg = await startRegistry(tempDir("registry"), 0, NO_OFFICE_ROOM);
    const alice = await login("alice", reg.port);
    const bob = await login("bob", reg.port);
    const carol = await login("carol", reg.port);
    await must(alice, { cmd: "group.create", group: "ops" });
    await join(alice, bob, "ops");
    await join(alice, carol, "ops");

    expect(await ask(bob, { cmd: "group.remove", group: "ops", user: "carol" })).toMatchObject({
      code: "GROUP_NOT_ADMIN",
    });
    await must(alice, { cmd: "group.remove", group: "ops", user: "carol" });
    await carol.proc.waitFor(
      (e) => e.event === "group.removed" && e.group === "ops" && e.by === "alice",
      "removed",
    );
    expect(await ask(carol, { cmd: "group.history", group: "ops" })).toMatchObject({
      code: "GROUP_NOT_MEMBER",
    });

    // Handing over: bob is admin, alice a member.
    expect(await ask(alice, { cmd: "group.admin", group: "ops", user: "carol" })).toMatchObject({
      code: "GROUP_NOT_MEMBER",
    });
    await must(alice, { cmd: "group.admin", group: "ops", user: "bob" });
    await bob.proc.waitFor(
      (e) => e.event === "group.admin" && e.group === "ops" && e.user === "bob",
      "admin",
    );
    expect((await must(alice, { cmd: "groups" })).groups).toMatchObject([{ name: "ops", admin: "bob" }]);

    // The admin who leaves hands the group to the longest-standing member.
    await join(bob, carol, "ops");
    await must(bob, { cmd: "group.leave", group: "ops" });
    await alice.proc.waitFor((e) => e.event === "group.admin" && e.group === "ops", "alice inherits");
    expect((await must(carol, { cmd: "groups" })).groups).toEqual([
      { name: "ops", admin: "alice", lastSeq: 0, members: ["alice", "carol"] },
    ]);

    // A plain member leaves; then the last one, and the group is gone.
    await must(carol, { cmd: "group.leave", group: "ops" });
    expect(await must(alice, { cmd: "group.leave", group: "ops" })).toMatchObject({ deleted: true });
    expect((await must(alice, { cmd: "search", query: "ops" })).groups).toEqual([]);
    expect(await ask(alice, { cmd: "group.leave", group: "ops" })).toMatchObject({ code: "GROUP_UNKNOWN" });
  });

  it("keeps a group message sent while the registry is down, and stores it once it is back", async () => {
    const dir = tempDir("registry");
    const reg = await startRegistry(dir);
    const alice = await login("alice", reg.port);
    const bob = await login("bob", reg.port);
    await must(alice, { cmd: "group.create", group: "ops" });
    await join(alice, bob, "ops");

    await reg.proc.kill();
    const sending = must(alice, { cmd: "group.send", group: "ops", text: "while it was down" }, 60_000);
    await alice.proc.waitFor((e) => e.event === "registry" && e.status === "lost", "alice notices", 30_000);
    await startRegistry(dir, reg.port);

    // Sent again with the same id after alice's reconnect: stored once, seq 1, and bob gets it.
    const sent = await sending;
    expect(sent).toMatchObject({ group: "ops", seq: 1 });
    const got = await bob.proc.waitFor(
      (e) => e.event === "groupMessage" && e.id === sent.id,
      "bob's copy",
      60_000,
    );
    expect(got).toMatchObject({ from: "alice", text: "while it was down", seq: 1 });
    expect((await must(bob, { cmd: "group.history", group: "ops" }, 30_000)).messages).toHaveLength(1);
  });
});
