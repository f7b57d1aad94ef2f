/**
 * Away as a presence state, with a real registry and real clients: the registry pushes it to
 * whoever may see the user's presence and reports it in `users`, `friends` and lookups, while
 * an away user stays reachable (messages go direct, nothing is stored). Back, or a new login,
 * is `online` again.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hallway, type Json, killAll, requireBuild, startRegistry, tempDir } from "./harness.js";
import { ask, eventsSince, login, logout, must, type Person } from "./social-helpers.js";

beforeAll(requireBuild);
afterAll(killAll);

const presenceOf = (user: string, status: string) => (e: Json) =>
  e.event === "presence" && e.user === user && e.status === status;

function statusIn(list: unknown, user: string): unknown {
  return (list as Array<{ name: string; status: string }>).find((u) => u.name === user)?.status;
}

async function befriend(a: Person, b: Person): Promise<void> {
  await must(a, { cmd: "friend.request", to: b.name });
  await b.proc.waitFor((e) => e.event === "friend.request" && e.from === a.name, "the request");
  await must(b, { cmd: "friend.accept", from: a.name });
}

describe("away", () => {
  it("is pushed and listed, keeps messages direct, and ends with back or a new login", async () => {
    const reg = await startRegistry(tempDir("registry"));
    let alice = await login("alice", reg.port);
    const bob = await login("bob", reg.port);
    await befriend(alice, bob);
    await bob.proc.waitFor(presenceOf("alice", "online"), "alice online");

    expect(await ask(alice, { cmd: "presence", status: "busy" })).toMatchObject({
      event: "error",
      code: "CLI_BAD_COMMAND",
      cmd: "presence",
    });
    expect(await must(alice, { cmd: "presence", status: "away" })).toMatchObject({
      cmd: "presence",
      status: "away",
    });
    await bob.proc.waitFor(presenceOf("alice", "away"), "alice away");
    expect(statusIn((await must(bob, { cmd: "users" })).users, "alice")).toBe("away");
    expect(statusIn((await must(bob, { cmd: "friends" })).friends, "alice")).toBe("away");
    // Setting what is already set pushes nothing again.
    await must(alice, { cmd: "presence", status: "away" });

    // Away is still reachable: the message goes straight to alice and the registry keeps none.
    const sent = await must(bob, { cmd: "send", to: "alice", text: "lunch?" });
    expect(sent.via).toBe("direct");
    const got = await alice.proc.waitFor((e) => e.event === "message" && e.id === sent.id, "the message");
    expect(got.via).toBe("direct");
    await bob.proc.waitFor((e) => e.event === "delivered" && e.id === sent.id, "the receipt");
    expect(eventsSince(bob, 0, (e) => e.event === "sent" && e.via === "offline")).toEqual([]);

    await must(alice, { cmd: "presence", status: "online" });
    await bob.proc.waitForCount(presenceOf("alice", "online"), 2, "alice back");
    expect(statusIn((await must(bob, { cmd: "users" })).users, "alice")).toBe("online");
    expect(eventsSince(bob, 0, presenceOf("alice", "away"))).toHaveLength(1);

    // A new login starts online, whatever the last session said.
    await must(alice, { cmd: "presence", status: "away" });
    await bob.proc.waitForCount(presenceOf("alice", "away"), 2, "alice away again");
    await logout(alice);
    await bob.proc.waitFor(presenceOf("alice", "offline"), "alice logged out");
    alice = await login("alice", reg.port, alice.dir);
    await bob.proc.waitForCount(presenceOf("alice", "online"), 3, "alice logged in again");
    expect(statusIn((await must(bob, { cmd: "friends" })).friends, "alice")).toBe("online");

    // Also when the new login replaces an away session that never logged out (a crash).
    await must(alice, { cmd: "presence", status: "away" });
    await bob.proc.waitForCount(presenceOf("alice", "away"), 3, "alice away before the crash");
    alice.proc.child.kill("SIGKILL");
    await alice.proc.waitExit("alice killed");
    alice = await login("alice", reg.port, alice.dir);
    await bob.proc.waitForCount(presenceOf("alice", "online"), 4, "alice online after the crash");
    expect(statusIn((await must(bob, { cmd: "users" })).users, "alice")).toBe("online");
    await logout(alice);
    await logout(bob);
  });

  it("under --policy friends reaches friends only, and a new friend learns it at once", async () => {
    const reg = await startRegistry(tempDir("registry"), 0, ["--policy", "friends"]);
    const alice = await login("alice", reg.port);
    const bob = await login("bob", reg.port);
    const carol = await login("carol", reg.port);

    await must(alice, { cmd: "presence", status: "away" });
    // Friends since after alice went away: bob hears she is away, not online.
    await befriend(alice, bob);
    await bob.proc.waitFor(presenceOf("alice", "away"), "alice away, as a new friend");
    expect(statusIn((await must(bob, { cmd: "friends" })).friends, "alice")).toBe("away");

    await must(alice, { cmd: "presence", status: "online" });
    await bob.proc.waitFor(presenceOf("alice", "online"), "alice back");
    await must(alice, { cmd: "presence", status: "away" });
    await bob.proc.waitForCount(presenceOf("alice", "away"), 2, "alice away again");

    // carol is no friend of alice: no push, and her directory has only herself. Pushes to carol
    // leave before the answer to her later request, so none can still be on its way.
    const users = await must(carol, { cmd: "users" });
    expect(users.users).toEqual([{ name: "carol", status: "online", lastSeen: expect.any(Number) }]);
    expect(eventsSince(carol, 0, (e) => e.event === "presence" && e.user === "alice")).toEqual([]);
    for (const p of [alice, bob, carol]) await logout(p);
  });

  it("line mode: /away and /back, and /users marks away people", async () => {
    const reg = await startRegistry(tempDir("registry"));
    const bob = await login("bob", reg.port);
    const line = hallway(
      "alice (line mode)",
      ["client", "--server", `127.0.0.1:${reg.port}`, "--user", "alice", "--data", tempDir("alice")],
      { HALLWAY_PASSWORD: "correct horse battery staple" },
    );
    const said = (text: string) => (e: Json) => String(e.line ?? "").includes(text);
    const type = (text: string) => line.child.stdin?.write(`${text}\n`);
    // "y" answers the offer to register the unknown name.
    type("y");
    await line.waitFor(said("* logged in as alice"), "alice logged in", 45_000);
    await bob.proc.waitFor(presenceOf("alice", "online"), "alice online");
    type("/away");
    await line.waitFor(said("* you are away"), "away confirmed");
    await bob.proc.waitFor(presenceOf("alice", "away"), "alice away");
    await must(bob, { cmd: "presence", status: "away" });
    await line.waitFor(said("* bob is away"), "bob away, as alice sees him");
    type("/users");
    await line.waitFor(said("◐ bob"), "bob marked away in /users");
    type("/back");
    await line.waitFor(said("* you are back"), "back confirmed");
    await bob.proc.waitForCount(presenceOf("alice", "online"), 2, "alice back");
    line.child.stdin?.end();
    expect(await line.waitExit("end of input")).toBe(0);
    await logout(bob);
  });
});
