/**
 * Profiles from the seed designs through the real CLI's JSON mode: birth date (and the age the
 * registry derives), school, profession and the rest, each validated; who sees which field is
 * the registry's decision (everyone, friends, nobody), also for search, which finds any word of
 * a name, display name, department, school or profession, accent-folded. Groups get a
 * description from their admin.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killAll, requireBuild, startRegistry, tempDir } from "./harness.js";
import { ask, login, must } from "./social-helpers.js";

beforeAll(requireBuild);
afterAll(killAll);

describe("profiles", () => {
  it("sets the seed's fields, searches them, and hides them by visibility", async () => {
    const reg = await startRegistry(tempDir("registry"));
    const alice = await login("alice", reg.port);
    const bob = await login("bob", reg.port);
    const carol = await login("carol", reg.port);
    await must(bob, { cmd: "friend.request", to: "alice" });
    await alice.proc.waitFor((e) => e.event === "friend.request" && e.from === "bob", "bob's request");
    await must(alice, { cmd: "friend.accept", from: "bob" });

    await must(alice, {
      cmd: "profile.set",
      displayName: "Alice Liddell",
      birthDate: "1990-04-23",
      gender: "female",
      country: "Schweiz",
      school: "Université de Genève",
      profession: "Site Reliability Engineer",
      visibility: { birthDate: "friends", school: "nobody" },
    });
    for (const bad of [
      { birthDate: "2999-01-01" },
      { birthDate: "1990-02-30" },
      { birthDate: "23.04.1990" },
      { gender: "x".repeat(33) },
      { school: "y".repeat(101) },
    ]) {
      expect(await ask(alice, { cmd: "profile.set", ...bad })).toMatchObject({ code: "PROFILE_BAD_FIELD" });
    }
    expect(await ask(alice, { cmd: "profile.set", visibility: { school: "aliens" } })).toMatchObject({
      code: "CLI_BAD_COMMAND",
    });

    // A stranger sees what is for everyone; a friend also what is for friends; nobody the school.
    const byCarol = await must(carol, { cmd: "profile.get", user: "alice" });
    expect(byCarol).toMatchObject({
      displayName: "Alice Liddell",
      birthDate: null,
      age: null,
      school: null,
      profession: "Site Reliability Engineer",
      country: "Schweiz",
      updatedAt: expect.any(Number),
    });
    expect(byCarol.visibility).toBeUndefined();
    const byBob = await must(bob, { cmd: "profile.get", user: "alice" });
    expect(byBob).toMatchObject({ birthDate: "1990-04-23", school: null });
    expect(byBob.age).toBeGreaterThanOrEqual(36);
    expect(await must(alice, { cmd: "profile.get" })).toMatchObject({
      school: "Université de Genève",
      visibility: { birthDate: "friends", school: "nobody" },
    });

    // Search by any word, accent-folded; never by a field hidden from the one searching.
    const found = async (who: typeof alice, query: string) =>
      ((await must(who, { cmd: "search", query })).users as Array<{ name: string }>).map((u) => u.name);
    expect(await found(carol, "liddell")).toEqual(["alice"]);
    expect(await found(carol, "reliability")).toEqual(["alice"]);
    expect(await found(carol, "geneve")).toEqual([]);
    expect(await found(bob, "geneve")).toEqual([]);
    expect(await found(alice, "GENÈVE")).toEqual(["alice"]);
    await must(alice, { cmd: "profile.set", visibility: { school: "everyone" } });
    expect(await found(carol, "geneve")).toEqual(["alice"]);
    expect(await must(carol, { cmd: "profile.get", user: "alice" })).toMatchObject({
      school: "Université de Genève",
    });

    // A group's description, from its admin only.
    await must(alice, { cmd: "group.create", group: "sre" });
    await must(alice, { cmd: "group.describe", group: "sre", description: "Keeps the lights on" });
    expect(await ask(bob, { cmd: "group.describe", group: "sre", description: "mine now" })).toMatchObject({
      code: "GROUP_NOT_ADMIN",
    });
    expect(
      await ask(alice, { cmd: "group.describe", group: "sre", description: "z".repeat(501) }),
    ).toMatchObject({
      code: "GROUP_BAD_DESCRIPTION",
    });
    const groups = (await must(alice, { cmd: "groups" })).groups as Array<{ name: string }>;
    expect(groups.find((g) => g.name === "sre")).toMatchObject({ description: "Keeps the lights on" });
  });
});
