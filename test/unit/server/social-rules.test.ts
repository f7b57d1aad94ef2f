import { describe, expect, it } from "vitest";
import { HallwayError } from "../../../src/errors.js";
import { type Control, decodeControl, encodeControl } from "../../../src/protocol/control.js";
import {
  ageOn,
  maySee,
  mergeVisibility,
  nextAdmin,
  parseVisibility,
  validateGroupDescription,
  validateGroupName,
  validateProfilePatch,
} from "../../../src/server/social-rules.js";

/** A fixed registry clock: 2026-03-01. */
const NOW = Date.UTC(2026, 2, 1);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof HallwayError ? err.code : "not a HallwayError";
  }
}

describe("group names", () => {
  it("follow the user-name rule, with their own code", () => {
    expect(codeOf(() => validateGroupName("ops"))).toBeUndefined();
    expect(codeOf(() => validateGroupName("ops-team.2"))).toBeUndefined();
    for (const bad of ["", "ab", "9ops", "Ops", "o ps", "x".repeat(33), "ops/1"]) {
      expect(
        codeOf(() => validateGroupName(bad)),
        bad,
      ).toBe("GROUP_BAD_NAME");
    }
  });
});

describe("profile patches", () => {
  it("trims values, turns empty ones into clears, and leaves absent fields absent", () => {
    expect(validateProfilePatch({ displayName: "  Alice  ", statusText: "", note: null }, NOW)).toEqual({
      displayName: "Alice",
      statusText: null,
      note: null,
    });
  });

  it("refuses over-long values, control characters and malformed addresses and numbers", () => {
    const bad = [
      { displayName: "x".repeat(65) },
      { statusText: "y".repeat(141) },
      { note: "z".repeat(501) },
      { department: "R&D\u0007" },
      { email: "alice" },
      { email: "alice@exa mple.com" },
      { phone: "call me" },
    ];
    for (const patch of bad) {
      expect(
        codeOf(() => validateProfilePatch(patch, NOW)),
        JSON.stringify(patch),
      ).toBe("PROFILE_BAD_FIELD");
    }
    expect(validateProfilePatch({ email: "a.b@example.com", phone: "+44 (0)20 7946-0000" }, NOW)).toEqual({
      email: "a.b@example.com",
      phone: "+44 (0)20 7946-0000",
    });
  });
});

describe("the seed's profile fields", () => {
  it("takes a birth date that is a real past day since 1900, and derives the age", () => {
    expect(validateProfilePatch({ birthDate: " 1990-04-23 " }, NOW)).toEqual({ birthDate: "1990-04-23" });
    expect(validateProfilePatch({ birthDate: "2026-03-01" }, NOW)).toEqual({ birthDate: "2026-03-01" });
    for (const birthDate of ["2026-03-02", "1990-02-30", "1899-12-31", "90-04-23", "1990-4-23"]) {
      expect(
        codeOf(() => validateProfilePatch({ birthDate }, NOW)),
        birthDate,
      ).toBe("PROFILE_BAD_FIELD");
    }
    expect(ageOn("1990-03-01", NOW)).toBe(36);
    expect(ageOn("1990-03-02", NOW)).toBe(35);
    expect(ageOn("2000-02-29", NOW)).toBe(26);
  });

  it("limits the lengths of the other fields", () => {
    for (const [field, max] of [
      ["gender", 32],
      ["country", 64],
      ["region", 64],
      ["school", 100],
      ["profession", 100],
    ] as const) {
      expect(validateProfilePatch({ [field]: "a".repeat(max) }, NOW)).toEqual({ [field]: "a".repeat(max) });
      expect(codeOf(() => validateProfilePatch({ [field]: "a".repeat(max + 1) }, NOW))).toBe(
        "PROFILE_BAD_FIELD",
      );
    }
  });

  it("merges visibility settings, keeping only what is not everyone's", () => {
    const stored = mergeVisibility(null, { birthDate: "friends", school: "nobody" });
    expect(parseVisibility(stored)).toEqual({ birthDate: "friends", school: "nobody" });
    expect(parseVisibility(mergeVisibility(stored, { school: "everyone" }))).toEqual({
      birthDate: "friends",
    });
    expect(mergeVisibility(stored, { school: "everyone", birthDate: "everyone" })).toBeNull();
    expect(parseVisibility("not json")).toEqual({});
    expect([
      maySee("friends", false, true),
      maySee("friends", false, false),
      maySee("nobody", true, false),
    ]).toEqual([true, false, true]);
  });

  it("takes a group description of up to 500 characters; empty clears it", () => {
    expect(validateGroupDescription("  On call ")).toBe("On call");
    expect(validateGroupDescription("")).toBeNull();
    expect(validateGroupDescription(null)).toBeNull();
    expect(codeOf(() => validateGroupDescription("d".repeat(501)))).toBe("GROUP_BAD_DESCRIPTION");
    expect(codeOf(() => validateGroupDescription("bell\u0007"))).toBe("GROUP_BAD_DESCRIPTION");
  });
});

describe("admin succession", () => {
  it("picks the longest-standing other member, then by name, or nobody", () => {
    const m = (name: string, joinedAt: number) => ({ name, joinedAt, ackedSeq: 0 });
    expect(nextAdmin([m("alice", 1), m("carol", 5), m("bob", 3)], "alice")).toBe("bob");
    expect(nextAdmin([m("alice", 1), m("dan", 3), m("bob", 3)], "alice")).toBe("bob");
    expect(nextAdmin([m("alice", 1)], "alice")).toBeUndefined();
  });
});

describe("social control messages", () => {
  it("round-trip, and push types never clash with request types", () => {
    const msgs: Control[] = [
      { t: "friend.request", rid: 1, to: "bob" },
      { t: "friend.incoming", from: "alice", at: 5 },
      { t: "group.send", rid: 2, group: "ops", id: "0123456789ab", text: "hi", sentAt: 7 },
      {
        t: "group.message",
        msgs: [{ id: "0123456789ab", group: "ops", from: "alice", text: "hi", sentAt: 7, seq: 1 }],
      },
      { t: "notice", id: "0123456789ab", at: 9, note: { kind: "group.removed", group: "ops", by: "alice" } },
      { t: "profile.set", rid: 3, patch: { displayName: "Alice", phone: null } },
    ];
    for (const m of msgs) {
      const decoded = decodeControl(encodeControl(m));
      expect(decoded).toEqual({ ok: true, value: m });
    }
  });

  it("rejects unknown profile fields and zero sequence numbers as bad messages", () => {
    const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    for (const bad of [
      { t: "profile.set", rid: 1, patch: { shoeSize: "7" } },
      { t: "group.ack", rid: 1, group: "ops", seq: 0 },
      { t: "notice", id: "0123456789ab", at: 1, note: { kind: "party", group: "ops" } },
    ]) {
      const decoded = decodeControl(bytes(bad));
      expect(decoded.ok ? "ok" : decoded.error.code, JSON.stringify(bad)).toBe("PROTO_BAD_MESSAGE");
    }
  });
});
