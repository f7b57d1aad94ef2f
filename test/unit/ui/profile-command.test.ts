import { describe, expect, it } from "vitest";
import { HallwayError } from "../../../src/errors.js";
import { parseProfileCommand } from "../../../src/ui/profile-command.js";
import { profileText } from "../../../src/ui/tui/reducers.js";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof HallwayError ? err.code : String(err);
  }
}

describe("/profile", () => {
  it("shows your own profile or someone's", () => {
    expect(parseProfileCommand([])).toEqual({ kind: "get" });
    expect(parseProfileCommand(["alice"])).toEqual({ kind: "get", user: "alice" });
    // A user called "set" is still a name when no field follows.
    expect(parseProfileCommand(["set"])).toEqual({ kind: "get", user: "set" });
  });

  it("sets a field by any spelling of its name, and clears it without a value", () => {
    expect(parseProfileCommand(["set", "birth-date", "1990-04-23"])).toEqual({
      kind: "set",
      patch: { birthDate: "1990-04-23" },
    });
    expect(parseProfileCommand(["set", "School", "Université", "de", "Genève"])).toEqual({
      kind: "set",
      patch: { school: "Université de Genève" },
    });
    expect(parseProfileCommand(["set", "profession"])).toEqual({ kind: "set", patch: { profession: null } });
    expect(codeOf(() => parseProfileCommand(["set", "shoe-size", "7"]))).toBe("PROFILE_BAD_FIELD");
  });

  it("says who sees a field", () => {
    expect(parseProfileCommand(["visibility", "birthdate", "Friends"])).toEqual({
      kind: "set",
      patch: { visibility: { birthDate: "friends" } },
    });
    expect(codeOf(() => parseProfileCommand(["visibility", "school", "aliens"]))).toBe("PROFILE_BAD_FIELD");
    // The display name is the directory's: everyone sees it.
    expect(codeOf(() => parseProfileCommand(["visibility", "displayName", "nobody"]))).toBe(
      "PROFILE_BAD_FIELD",
    );
  });
});

describe("a profile in one line", () => {
  it("shows what the registry sent, the age beside the birth date, and your own settings", () => {
    const base = {
      event: "profile" as const,
      user: "alice",
      displayName: "Alice Liddell",
      statusText: null,
      email: null,
      phone: null,
      department: null,
      note: null,
    };
    expect(profileText({ ...base, birthDate: "1990-04-23", age: 36, school: null, profession: "SRE" })).toBe(
      "displayName: Alice Liddell, birthDate: 1990-04-23 (age 36), profession: SRE",
    );
    expect(profileText({ ...base, visibility: { school: "nobody" } })).toBe(
      "displayName: Alice Liddell, seen by: school nobody",
    );
    expect(profileText({ ...base, displayName: null })).toBe("(empty)");
  });
});
