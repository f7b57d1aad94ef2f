import { describe, expect, it } from "vitest";
import { HallwayError } from "../../src/errors.js";
import { type Control, decodeControl, encodeControl } from "../../src/protocol/control.js";
import { nextAdmin, validateGroupName, validateProfilePatch } from "../../src/server/social-rules.js";

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
    expect(validateProfilePatch({ displayName: "  Alice  ", statusText: "", note: null })).toEqual({
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
        codeOf(() => validateProfilePatch(patch)),
        JSON.stringify(patch),
      ).toBe("PROFILE_BAD_FIELD");
    }
    expect(validateProfilePatch({ email: "a.b@example.com", phone: "+44 (0)20 7946-0000" })).toEqual({
      email: "a.b@example.com",
      phone: "+44 (0)20 7946-0000",
    });
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
