/** `hallway server audit`'s pure parts: times, event lists and the text line. */

import { describe, expect, it } from "vitest";
import { auditEvent, formatAuditLine, parseAuditEvents, parseAuditTime } from "../../../src/server/audit.js";

describe("audit command helpers", () => {
  const now = Date.parse("2025-03-02T12:00:00Z");

  it("reads a duration ago or a date", () => {
    expect(parseAuditTime("90s", now, "--since")).toBe(now - 90_000);
    expect(parseAuditTime("30m", now, "--since")).toBe(now - 1_800_000);
    expect(parseAuditTime("12h", now, "--since")).toBe(now - 43_200_000);
    expect(parseAuditTime("7d", now, "--since")).toBe(now - 604_800_000);
    expect(parseAuditTime("2025-03-01T09:00:00Z", now, "--until")).toBe(Date.parse("2025-03-01T09:00:00Z"));
    expect(() => parseAuditTime("yesterday", now, "--since")).toThrow(/--since takes a duration ago/);
  });

  it("reads a comma-separated list of known events", () => {
    expect(parseAuditEvents("login_failed, blocked")).toEqual(["login_failed", "blocked"]);
    expect(() => parseAuditEvents("login,nope")).toThrow(/not nope/);
    expect(() => parseAuditEvents(",")).toThrow(/--event/);
  });

  it("prints one line per entry, and a JSON event with the audit event as `action`", () => {
    const e = {
      user: "alice",
      event: "login_failed" as const,
      at: now,
      address: "10.0.0.9:4000",
      detail: "wrong password",
    };
    expect(formatAuditLine(e)).toBe(
      "2025-03-02T12:00:00.000Z  login_failed  alice  10.0.0.9:4000  wrong password",
    );
    expect(formatAuditLine({ user: "", event: "blocked", at: now, address: "10.0.0.9:4000" })).toBe(
      "2025-03-02T12:00:00.000Z  blocked       -  10.0.0.9:4000",
    );
    expect(auditEvent(e)).toEqual({
      event: "audit",
      action: "login_failed",
      user: "alice",
      at: now,
      address: "10.0.0.9:4000",
      detail: "wrong password",
    });
  });
});
