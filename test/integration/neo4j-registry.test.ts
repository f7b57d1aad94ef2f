/**
 * The product's flows with the registry on Neo4j (`hallway server --store neo4j`), through the
 * real CLI, real clients and the run's real Neo4j: accounts, offline messages across a SIGKILL
 * of the registry, friends and suggestions, groups with join approval, backlog and history
 * pages, and 20 clients writing to one group at once. Each test is a registry of its own in the
 * shared database (`--neo4j-registry`), deleted afterwards. Each test may take up to 3 minutes:
 * a loaded 2-core machine runs Neo4j, the registry and up to 20 clients at once.
 */

import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { describeNeo4j } from "../neo4j/test-neo4j.js";
import { type Json, killAll, requireBuild, startClient, tempDir } from "./harness.js";
import { dropRegistries, newRegistryName, startNeo4jRegistry } from "./neo4j-helpers.js";
import { ask, eventsSince, login, logout, must, type Person } from "./social-helpers.js";

beforeAll(requireBuild);
afterEach(async () => {
  await killAll();
  await dropRegistries();
});
afterAll(dropRegistries);

const isGroupMessage = (group: string) => (e: Json) => e.event === "groupMessage" && e.group === group;

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

describeNeo4j("the registry on Neo4j", () => {
  it("registers, logs in, and keeps offline messages across a registry SIGKILL, delivered once, in order", async () => {
    const registry = newRegistryName();
    const regDir = tempDir("registry");
    const reg = await startNeo4jRegistry(regDir, { registry });
    const alice = await login("alice", reg.port);
    let bob = await login("bob", reg.port);
    expect(await ask(bob, { cmd: "users" })).toMatchObject({
      users: [
        { name: "alice", status: "online" },
        { name: "bob", status: "online" },
      ],
    });

    // A wrong password is refused with its code; the right one logs in.
    const intruder = startClient("bob", reg.port, tempDir("intruder"), [], "not bob's password");
    const refused = await intruder.waitFor((e) => e.event === "error", "refusal", 45_000);
    expect(refused.code).toBe("AUTH_BAD_PASSWORD");

    const direct = await must(alice, { cmd: "send", to: "bob", text: "hello bob" });
    expect(direct.via).toBe("direct");
    await bob.proc.waitFor((e) => e.event === "message" && e.id === direct.id, "the direct message");
    await logout(bob);
    await alice.proc.waitFor(
      (e) => e.event === "presence" && e.user === "bob" && e.status === "offline",
      "bob offline",
    );

    const count = 30;
    for (let i = 0; i < count; i++) alice.proc.send({ cmd: "send", to: "bob", text: `offline ${i}` });
    const stored = await alice.proc.waitForCount(
      (e) => e.event === "sent" && e.via === "offline",
      count,
      "stored",
      60_000,
    );

    // Acknowledged means committed in Neo4j: a registry killed now loses none of them.
    await reg.proc.kill("SIGKILL");
    const reg2 = await startNeo4jRegistry(regDir, { registry, port: reg.port });
    expect(reg2.port).toBe(reg.port);
    await alice.proc.waitForCount((e) => e.event === "ready", 2, "alice logged in again", 30_000);

    bob = await login("bob", reg.port, bob.dir);
    const isOffline = (e: Json) =>
      e.event === "message" && typeof e.text === "string" && e.text.startsWith("offline ");
    await bob.proc.waitForCount(isOffline, count, "offline messages", 60_000);
    const storedIds = new Set(stored.map((e) => e.id));
    await alice.proc.waitForCount(
      (e) => e.event === "delivered" && storedIds.has(e.id as string),
      count,
      "receipts for the stored messages",
      60_000,
    );
    const texts = bob.proc.events.filter(isOffline).map((e) => e.text);
    expect(texts).toEqual(Array.from({ length: count }, (_, i) => `offline ${i}`));

    // Acknowledged by bob, so a second login brings none of them again.
    await logout(bob);
    bob = await login("bob", reg.port, bob.dir);
    await must(bob, { cmd: "friends" });
    expect(eventsSince(bob, 0, isOffline)).toEqual([]);

    // History keeps both kinds, in order, paged with the cursor.
    const all = await must(bob, { cmd: "history", with: "alice", limit: 100 });
    const messages = all.messages as Json[];
    expect(messages.map((m) => m.text)).toEqual(["hello bob", ...texts]);
    expect(messages.every((m) => typeof m.deliveredAt === "number")).toBe(true);
    const last = await must(bob, { cmd: "history", with: "alice", limit: 10 });
    const before = (last.messages as Json[])[0] as Json;
    const previous = await must(bob, {
      cmd: "history",
      with: "alice",
      limit: 10,
      before: { sentAt: before.sentAt, id: before.id },
    });
    expect((previous.messages as Json[]).map((m) => m.text)).toEqual(texts.slice(10, 20));
  }, 180_000);

  it("keeps friend requests for offline users, and suggests people by mutual friends, then shared groups", async () => {
    const reg = await startNeo4jRegistry(tempDir("registry"), { registry: newRegistryName() });
    let bob = await login("bob", reg.port);
    await logout(bob);
    let alice = await login("alice", reg.port);
    await must(alice, { cmd: "friend.request", to: "Bob" });
    await logout(alice);

    bob = await login("bob", reg.port, bob.dir);
    await bob.proc.waitFor((e) => e.event === "friend.request" && e.from === "alice", "alice's request");
    await must(bob, { cmd: "friend.accept", from: "alice" });
    alice = await login("alice", reg.port, alice.dir);
    await alice.proc.waitFor((e) => e.event === "friend.accepted" && e.by === "bob", "bob's answer");
    expect((await must(alice, { cmd: "friends" })).friends).toEqual([
      { name: "bob", since: expect.any(Number), status: "online" },
    ]);
    expect(await ask(alice, { cmd: "friend.request", to: "bob" })).toMatchObject({ code: "FRIEND_ALREADY" });

    // alice-bob, alice-carol; dan knows bob and carol; eve knows bob and shares a group with alice.
    const carol = await login("carol", reg.port);
    const dan = await login("dan", reg.port);
    const eve = await login("eve", reg.port);
    const befriend = async (a: Person, b: Person) => {
      await must(a, { cmd: "friend.request", to: b.name });
      await must(b, { cmd: "friend.accept", from: a.name });
    };
    await befriend(alice, carol);
    await befriend(dan, bob);
    await befriend(dan, carol);
    await befriend(eve, bob);
    await must(alice, { cmd: "group.create", group: "book-club" });
    await join(alice, eve, "book-club");

    expect((await must(alice, { cmd: "suggest" })).suggestions).toEqual([
      { name: "dan", mutualFriends: 2, sharedGroups: 0 },
      { name: "eve", mutualFriends: 1, sharedGroups: 1 },
    ]);
    expect((await must(dan, { cmd: "suggest" })).suggestions).toEqual([
      { name: "alice", mutualFriends: 2, sharedGroups: 0 },
      { name: "eve", mutualFriends: 1, sharedGroups: 0 },
    ]);

    // Removing a friendship changes the graph the suggestions walk.
    await must(bob, { cmd: "friend.remove", user: "dan" });
    expect((await must(alice, { cmd: "suggest" })).suggestions).toEqual([
      { name: "eve", mutualFriends: 1, sharedGroups: 1 },
      { name: "dan", mutualFriends: 1, sharedGroups: 0 },
    ]);
  }, 180_000);

  it("approves a join request made while the admin was offline, and pages group history", async () => {
    const reg = await startNeo4jRegistry(tempDir("registry"), { registry: newRegistryName() });
    let alice = await login("alice", reg.port);
    await must(alice, { cmd: "group.create", group: "Ops" });
    expect(await ask(alice, { cmd: "group.create", group: "ops" })).toMatchObject({ code: "GROUP_EXISTS" });
    await logout(alice);

    const bob = await login("bob", reg.port);
    await must(bob, { cmd: "group.join", group: "ops" });
    alice = await login("alice", reg.port, alice.dir);
    await alice.proc.waitFor(
      (e) => e.event === "group.joinRequest" && e.group === "ops" && e.user === "bob",
      "bob's join request at login",
    );
    await must(alice, { cmd: "group.approve", group: "ops", user: "bob" });
    await bob.proc.waitFor((e) => e.event === "group.joined" && e.group === "ops", "joined");
    expect(await ask(alice, { cmd: "group.approve", group: "ops", user: "bob" })).toMatchObject({
      code: "GROUP_NO_REQUEST",
    });
    let carol = await login("carol", reg.port);
    await join(alice, carol, "ops");
    await logout(carol);

    for (let i = 1; i <= 7; i++) {
      const sender = i % 2 === 1 ? alice : bob;
      expect(await must(sender, { cmd: "group.send", group: "ops", text: `m${i}` })).toMatchObject({
        seq: i,
      });
    }

    // carol was offline: the backlog at login, in order, once.
    carol = await login("carol", reg.port, carol.dir);
    const backlog = await carol.proc.waitForCount(isGroupMessage("ops"), 7, "carol's backlog");
    expect(backlog.map((e) => [e.seq, e.text])).toEqual(
      Array.from({ length: 7 }, (_, i) => [i + 1, `m${i + 1}`]),
    );

    const page = async (beforeSeq?: number) =>
      (
        (
          await must(carol, {
            cmd: "group.history",
            group: "ops",
            limit: 3,
            ...(beforeSeq === undefined ? {} : { beforeSeq }),
          })
        ).messages as Json[]
      ).map((m) => m.seq);
    expect(await page()).toEqual([5, 6, 7]);
    expect(await page(5)).toEqual([2, 3, 4]);
    expect(await page(2)).toEqual([1]);
    const groups = (await must(carol, { cmd: "groups" })).groups as Json[];
    expect(groups.find((g) => g.name === "ops")).toEqual({
      name: "ops",
      admin: "alice",
      lastSeq: 7,
      members: ["alice", "bob", "carol"],
    });
    // The office room, in Neo4j as in SQLite: everyone registered is in it.
    expect(groups.find((g) => g.name === "all")).toMatchObject({ members: ["alice", "bob", "carol"] });
  }, 180_000);

  it("gives 20 clients writing to one group at once one gapless order, the same for every member", async () => {
    const reg = await startNeo4jRegistry(tempDir("registry"), { registry: newRegistryName() });
    const names = Array.from({ length: 20 }, (_, i) => `writer${String(i).padStart(2, "0")}`);
    const people: Person[] = [];
    // Registration hashes with scrypt in the registry; a few at a time keeps a 2-core box responsive.
    for (let i = 0; i < names.length; i += 5) {
      people.push(...(await Promise.all(names.slice(i, i + 5).map((n) => login(n, reg.port)))));
    }
    const [admin, ...rest] = people as [Person, ...Person[]];
    await must(admin, { cmd: "group.create", group: "all-hands" });
    for (const p of rest) await join(admin, p, "all-hands");

    // All 20 write at once, each its messages one after another, as people do.
    const perWriter = 5;
    const sent = await Promise.all(
      people.map(async (p) => {
        const answers: Json[] = [];
        for (let k = 0; k < perWriter; k++) {
          answers.push(
            await must(p, { cmd: "group.send", group: "all-hands", text: `${p.name}:${k}` }, 60_000),
          );
        }
        return answers;
      }),
    );
    const total = names.length * perWriter;
    const seqs = sent.flat().map((e) => e.seq as number);
    expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i + 1));

    // Every member sees every message once, in seq order: the same sequence of ids for all.
    const orders = await Promise.all(
      people.map(async (p) => {
        const got = await p.proc.waitForCount(
          isGroupMessage("all-hands"),
          total,
          `${p.name}'s copies`,
          60_000,
        );
        return got.map((e) => `${e.seq} ${e.id}`);
      }),
    );
    const first = orders[0] as string[];
    expect(first.map((o) => Number(o.split(" ")[0]))).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    for (const order of orders) expect(order).toEqual(first);
  }, 180_000);
});
