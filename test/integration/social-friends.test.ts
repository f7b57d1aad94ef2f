/**
 * Friends, profiles, search, suggestions and the friends-only policy, with a real registry
 * and real clients: requests and answers wait in the store for whoever is offline and appear
 * at their next login, exactly once.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killAll, requireBuild, startRegistry, tempDir } from "./harness.js";
import { ask, eventsSince, login, logout, must } from "./social-helpers.js";

beforeAll(requireBuild);
afterAll(killAll);

describe("friends", () => {
  it("delivers a request to an offline user at login, and the answer to the offline requester", async () => {
    const reg = await startRegistry(tempDir("registry"));
    let bob = await login("bob", reg.port);
    await logout(bob);
    let alice = await login("alice", reg.port);

    expect(await must(alice, { cmd: "friend.request", to: "Bob" })).toMatchObject({
      to: "bob",
      friends: false,
    });
    await logout(alice);

    // bob was offline when alice asked: the request waits for his login.
    bob = await login("bob", reg.port, bob.dir);
    const request = await bob.proc.waitFor((e) => e.event === "friend.request", "alice's request");
    expect(request).toMatchObject({ from: "alice" });
    expect(await must(bob, { cmd: "friends" })).toMatchObject({
      friends: [],
      incoming: [{ from: "alice" }],
      outgoing: [],
    });
    await must(bob, { cmd: "friend.accept", from: "alice" });

    // alice was offline when bob answered: the answer waits for her login, and comes once.
    alice = await login("alice", reg.port, alice.dir);
    await alice.proc.waitFor((e) => e.event === "friend.accepted" && e.by === "bob", "bob's answer");
    const friends = await must(alice, { cmd: "friends" });
    expect(friends.friends).toEqual([{ name: "bob", since: expect.any(Number), status: "online" }]);
    expect(friends.incoming).toEqual([]);
    await logout(alice);
    alice = await login("alice", reg.port, alice.dir);
    // Pushes at login come before the answer to a request sent after `ready`.
    await must(alice, { cmd: "friends" });
    expect(eventsSince(alice, 0, (e) => e.event === "friend.accepted")).toEqual([]);
  });

  it("answers live, turns a mutual request into a friendship, declines and removes", async () => {
    const reg = await startRegistry(tempDir("registry"));
    const alice = await login("alice", reg.port);
    const bob = await login("bob", reg.port);
    const carol = await login("carol", reg.port);

    expect(await ask(alice, { cmd: "friend.request", to: "alice" })).toMatchObject({ code: "FRIEND_SELF" });
    expect(await ask(alice, { cmd: "friend.request", to: "nobody" })).toMatchObject({
      code: "AUTH_UNKNOWN_USER",
    });
    expect(await ask(bob, { cmd: "friend.accept", from: "alice" })).toMatchObject({
      code: "FRIEND_NO_REQUEST",
    });

    // A request to someone online arrives live; asking back is saying yes.
    await must(alice, { cmd: "friend.request", to: "bob" });
    await bob.proc.waitFor((e) => e.event === "friend.request" && e.from === "alice", "live request");
    expect(await must(bob, { cmd: "friend.request", to: "alice" })).toMatchObject({ friends: true });
    await alice.proc.waitFor((e) => e.event === "friend.accepted" && e.by === "bob", "mutual accept");
    expect(await ask(alice, { cmd: "friend.request", to: "bob" })).toMatchObject({ code: "FRIEND_ALREADY" });

    // Declined: the requester hears it live, and there is nothing left to accept.
    await must(carol, { cmd: "friend.request", to: "alice" });
    await alice.proc.waitFor((e) => e.event === "friend.request" && e.from === "carol", "carol's request");
    await must(alice, { cmd: "friend.decline", from: "carol" });
    await carol.proc.waitFor((e) => e.event === "friend.declined" && e.by === "alice", "declined");
    expect(await ask(alice, { cmd: "friend.accept", from: "carol" })).toMatchObject({
      code: "FRIEND_NO_REQUEST",
    });

    // Removed: both lists are empty again, and the other side is told.
    await must(bob, { cmd: "friend.remove", user: "alice" });
    await alice.proc.waitFor((e) => e.event === "friend.removed" && e.by === "bob", "removed");
    expect((await must(alice, { cmd: "friends" })).friends).toEqual([]);
    expect(await ask(bob, { cmd: "friend.remove", user: "alice" })).toMatchObject({
      code: "FRIEND_NOT_FRIENDS",
    });
  });

  it("sets, shows and validates profiles, and searches names and display names", async () => {
    // Without #all, which a search for "al" would find too.
    const reg = await startRegistry(tempDir("registry"), 0, ["--no-office-room"]);
    const alice = await login("alice", reg.port);
    const bob = await login("bob", reg.port);

    await must(alice, {
      cmd: "profile.set",
      displayName: "Alice Liddell",
      statusText: "in a meeting until 3",
      email: "alice@example.com",
      department: "Wonderland",
    });
    expect(await must(bob, { cmd: "profile.get", user: "alice" })).toEqual({
      event: "profile",
      user: "alice",
      displayName: "Alice Liddell",
      statusText: "in a meeting until 3",
      email: "alice@example.com",
      phone: null,
      department: "Wonderland",
      note: null,
      birthDate: null,
      age: null,
      gender: null,
      country: null,
      region: null,
      school: null,
      profession: null,
      updatedAt: expect.any(Number),
    });
    // null (or "") clears a field; absent fields stay.
    await must(alice, { cmd: "profile.set", statusText: null, phone: "+44 20 7946 0000" });
    expect(await must(alice, { cmd: "profile.get" })).toMatchObject({
      displayName: "Alice Liddell",
      statusText: null,
      phone: "+44 20 7946 0000",
    });
    expect(await ask(alice, { cmd: "profile.set", email: "not an address" })).toMatchObject({
      code: "PROFILE_BAD_FIELD",
    });
    expect(await ask(alice, { cmd: "profile.set", displayName: "x".repeat(65) })).toMatchObject({
      code: "PROFILE_BAD_FIELD",
    });
    expect(await ask(alice, { cmd: "profile.set", shoeSize: "7" })).toMatchObject({
      code: "CLI_BAD_COMMAND",
    });
    expect(await ask(bob, { cmd: "profile.get", user: "nobody" })).toMatchObject({
      code: "AUTH_UNKNOWN_USER",
    });

    await must(bob, { cmd: "group.create", group: "alpine-club" });
    // By user name, by display name (case-insensitive), and groups by name.
    const byName = await must(bob, { cmd: "search", query: "AL" });
    expect(byName.users).toEqual([{ name: "alice", displayName: "Alice Liddell" }]);
    expect(byName.groups).toEqual([{ name: "alpine-club", admin: "bob" }]);
    // Any word of the display name, from its start.
    const byDisplay = await must(bob, { cmd: "search", query: "lid" });
    expect(byDisplay.users).toEqual([{ name: "alice", displayName: "Alice Liddell" }]);
    expect((await must(bob, { cmd: "search", query: "iddell" })).users).toEqual([]);
    expect((await must(bob, { cmd: "search", query: "alice l" })).users).toEqual([
      { name: "alice", displayName: "Alice Liddell" },
    ]);
  });

  it("suggests people by mutual friends, then shared groups", async () => {
    const reg = await startRegistry(tempDir("registry"));
    const ann = await login("ann", reg.port);
    const ben = await login("ben", reg.port);
    const cat = await login("cat", reg.port);
    const dan = await login("dan", reg.port);
    const eve = await login("eve", reg.port);
    const befriend = async (a: typeof ann, b: typeof ann) => {
      await must(a, { cmd: "friend.request", to: b.name });
      await must(b, { cmd: "friend.accept", from: a.name });
    };
    // ann-ben, ann-cat; dan knows both ben and cat; eve knows ben only; eve shares a group with ann.
    await befriend(ann, ben);
    await befriend(ann, cat);
    await befriend(dan, ben);
    await befriend(dan, cat);
    await befriend(eve, ben);
    await must(ann, { cmd: "group.create", group: "book-club" });
    await must(eve, { cmd: "group.join", group: "book-club" });
    await ann.proc.waitFor((e) => e.event === "group.joinRequest" && e.user === "eve", "eve asks");
    await must(ann, { cmd: "group.approve", group: "book-club", user: "eve" });

    const s = await must(ann, { cmd: "suggest" });
    expect(s.suggestions).toEqual([
      { name: "dan", mutualFriends: 2, sharedGroups: 0 },
      { name: "eve", mutualFriends: 1, sharedGroups: 1 },
    ]);
  });
});

describe("--policy friends", () => {
  it("refuses messages and introductions between non-friends with POLICY_NOT_FRIENDS", async () => {
    const reg = await startRegistry(tempDir("registry"), 0, ["--policy", "friends"]);
    expect(reg.listening.policy).toBe("friends");
    const alice = await login("alice", reg.port);
    const bob = await login("bob", reg.port);

    // bob is online, but alice may not learn where he is, nor leave him a message.
    const refused = await ask(alice, { cmd: "send", to: "bob", text: "hello?" });
    expect(refused).toMatchObject({ event: "error", cmd: "send", code: "POLICY_NOT_FRIENDS" });
    expect((await must(alice, { cmd: "users" })).users).toEqual([
      { name: "alice", status: "online", lastSeen: expect.any(Number) },
    ]);
    expect(eventsSince(alice, 0, (e) => e.event === "presence" && e.user === "bob")).toEqual([]);

    // Friends may talk, directly, and see each other come and go.
    await must(alice, { cmd: "friend.request", to: "bob" });
    await must(bob, { cmd: "friend.accept", from: "alice" });
    await alice.proc.waitFor(
      (e) => e.event === "presence" && e.user === "bob" && e.status === "online",
      "presence",
    );
    const sent = await must(alice, { cmd: "send", to: "bob", text: "hello, friend" });
    const got = await bob.proc.waitFor((e) => e.event === "message" && e.id === sent.id, "the message");
    expect(got).toMatchObject({ from: "alice", text: "hello, friend" });

    // Once they are not friends any more, both drop their session and the registry refuses again.
    await must(bob, { cmd: "friend.remove", user: "alice" });
    await alice.proc.waitFor((e) => e.event === "friend.removed", "removed");
    // bob is still online, but alice no longer sees him.
    await alice.proc.waitFor(
      (e) => e.event === "presence" && e.user === "bob" && e.status === "offline",
      "bob out of sight",
    );
    expect(await ask(alice, { cmd: "send", to: "bob", text: "still there?" })).toMatchObject({
      code: "POLICY_NOT_FRIENDS",
    });
  });
});
