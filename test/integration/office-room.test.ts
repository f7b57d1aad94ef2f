/**
 * `#all`, the office room, with a real registry and real clients: everyone registered is in
 * it, a message written while a user is offline reaches them at login (the newest
 * `--office-backlog` of them; the rest stay in history), and nobody leaves or runs it.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hallway, type Json, killAll, requireBuild, startRegistry, tempDir } from "./harness.js";
import { ask, login, logout, must } from "./social-helpers.js";

beforeAll(requireBuild);
afterAll(killAll);

const inAll = (e: Json) => e.event === "groupMessage" && e.group === "all";

describe("the office room #all", () => {
  it("reaches a user who was offline at their next login, within the backlog window", async () => {
    const reg = await startRegistry(tempDir("registry"), 0, ["--office-backlog", "2"]);
    const alice = await login("alice", reg.port);
    let bob = await login("bob", reg.port);
    expect((await must(bob, { cmd: "groups" })).groups).toEqual([
      { name: "all", admin: "alice", lastSeq: 0, members: ["alice", "bob"] },
    ]);
    await logout(bob);

    for (const text of ["one", "two", "three"]) await must(alice, { cmd: "group.send", group: "all", text });
    await alice.proc.waitForCount(inAll, 3, "alice sees her own three");

    bob = await login("bob", reg.port, bob.dir);
    const got = await bob.proc.waitForCount(inAll, 2, "bob's backlog of #all");
    expect(got.map((e) => ({ seq: e.seq, from: e.from, text: e.text }))).toEqual([
      { seq: 2, from: "alice", text: "two" },
      { seq: 3, from: "alice", text: "three" },
    ]);
    // What the window held back is still history.
    const page = await must(bob, { cmd: "group.history", group: "all", limit: 10 });
    expect((page.messages as Json[]).map((m) => m.text)).toEqual(["one", "two", "three"]);

    // bob writes back; everyone is a member, nobody asked to join.
    await must(bob, { cmd: "group.send", group: "all", text: "hello office" });
    await alice.proc.waitFor((e) => inAll(e) && e.text === "hello office", "bob's answer in #all");

    for (const cmd of [
      { cmd: "group.leave", group: "all" },
      { cmd: "group.join", group: "all" },
      { cmd: "group.remove", group: "all", user: "bob" },
    ]) {
      expect(await ask(cmd.cmd === "group.remove" ? alice : bob, cmd)).toMatchObject({
        event: "error",
        code: "GROUP_OFFICE_ROOM",
      });
    }
  });

  it("is read-only but for --admin under --office-room announce, which needs --admin", async () => {
    const refused = hallway("registry", [
      "server",
      "--port",
      "0",
      "--data",
      tempDir("r"),
      "--no-mdns",
      "--json",
      "--office-room",
      "announce",
    ]);
    expect(await refused.waitExit("the refusal")).toBe(2);
    expect(refused.events).toContainEqual(expect.objectContaining({ event: "error", code: "CLI_BAD_ARGS" }));

    const reg = await startRegistry(tempDir("registry"), 0, ["--office-room", "announce", "--admin", "Boss"]);
    const boss = await login("boss", reg.port);
    const bob = await login("bob", reg.port);
    expect(await ask(bob, { cmd: "group.send", group: "all", text: "hi all" })).toMatchObject({
      event: "error",
      code: "GROUP_READ_ONLY",
    });
    await must(boss, { cmd: "group.send", group: "all", text: "the office is closed on Friday" });
    await bob.proc.waitFor((e) => inAll(e) && e.from === "boss", "the announcement");
    expect((await must(bob, { cmd: "groups" })).groups).toMatchObject([{ name: "all", admin: "boss" }]);
  });
});
