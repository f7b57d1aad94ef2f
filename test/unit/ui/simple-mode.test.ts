/**
 * Simple mode's model and layout without a terminal: every message of every person and group
 * in one feed, prefixed with where it came from; F2 and the page keys; `@name text` and
 * `#group text` as addressed lines. The tmux test (tui-simple.test.ts) answers through it.
 */

import { describe, expect, it } from "vitest";
import type { PeerEvent } from "../../../src/peer/index.js";
import { parseAddressed } from "../../../src/ui/addressed-line.js";
import { COMMAND_NAMES, completeArgument } from "../../../src/ui/tui/commands.js";
import { frame, plainText } from "../../../src/ui/tui/frame.js";
import { handleKey, type KeyContext } from "../../../src/ui/tui/keys.js";
import { createModel, type Model } from "../../../src/ui/tui/model.js";
import { applyEvent, ownMessage, systemLine } from "../../../src/ui/tui/reducers.js";

const T0 = new Date(2026, 0, 5, 14, 48).getTime();

function message(from: string, text: string, n: number): PeerEvent {
  return {
    event: "message",
    id: `m${n}`.padEnd(16, "0"),
    from,
    to: "alice",
    text,
    via: "direct",
    sentAt: T0 + n,
  };
}

function groupMessage(group: string, from: string, text: string, seq: number): PeerEvent {
  return { event: "groupMessage", id: `g${seq}`.padEnd(16, "0"), group, from, text, seq, sentAt: T0 + seq };
}

function keys(m: Model): KeyContext {
  return {
    model: m,
    commands: COMMAND_NAMES,
    pane: () => ({ cols: 60, rows: 8 }),
    submit: () => {},
    quit: () => {},
    loadOlder: () => {},
    completeArgument,
    now: () => T0,
  };
}

describe("simple mode", () => {
  it("lists every message of every person and group in arrival order, prefixed with its place", () => {
    const m = createModel("alice");
    applyEvent(m, message("bob", "lunch?", 1), T0);
    applyEvent(m, groupMessage("ops", "carol", "deploy at 3", 1), T0);
    ownMessage(m, "bob", "yes, 12:30", T0 + 5);
    applyEvent(m, groupMessage("all", "dan", "cake in the kitchen", 2), T0);
    systemLine(m, "not in the feed while simple mode is off", T0);
    m.simple = true;
    const screen = plainText(frame(m, 60, 12, T0));
    const lines = screen.split("\n");
    expect(lines[0]).toBe("simple · every message · @name text or #group text answers ·");
    expect(lines.filter((l) => /^\d\d:\d\d [@#]/.test(l))).toEqual([
      "14:48 @bob bob: lunch?",
      "14:48 #ops carol: deploy at 3",
      "14:48 @bob alice: yes, 12:30",
      "14:48 #all dan: cake in the kitchen",
    ]);
    expect(lines.at(-1)).toBe("[simple]");
    // The buffers are all still there underneath.
    expect(m.buffers.map((b) => b.name)).toEqual(["status", "bob", "ops", "all"]);
  });

  it("shows the answers of commands while it is on, and toggles with F2", () => {
    const m = createModel("alice");
    const ctx = keys(m);
    expect(handleKey(ctx, undefined, { name: "f2", full: "f2" })).toBe(true);
    expect(m.simple).toBe(true);
    systemLine(m, "groups: #all (3, admin dan)", T0, m.current);
    expect(plainText(frame(m, 60, 12, T0))).toContain("14:48 * groups: #all (3, admin dan)");
    handleKey(ctx, undefined, { name: "f2", full: "f2" });
    expect(m.simple).toBe(false);
    expect(plainText(frame(m, 60, 12, T0))).toContain("status · registry");
  });

  it("scrolls the feed with the page keys, never past its ends", () => {
    const m = createModel("alice");
    m.simple = true;
    for (let i = 1; i <= 30; i++) applyEvent(m, message("bob", `line ${i}`, i), T0);
    const ctx = keys(m);
    handleKey(ctx, undefined, { name: "pageup", full: "pageup" });
    expect(m.feedScroll).toBe(6);
    const scrolled = plainText(frame(m, 60, 10, T0));
    expect(scrolled).toContain("line 23");
    expect(scrolled).toContain("-- 6 more rows below (PageDown) --");
    for (let i = 0; i < 10; i++) handleKey(ctx, undefined, { name: "pageup", full: "pageup" });
    expect(m.feedScroll).toBe(30 - 7);
    for (let i = 0; i < 10; i++) handleKey(ctx, undefined, { name: "pagedown", full: "pagedown" });
    expect(m.feedScroll).toBe(0);
  });

  it("reads @name text and #group text, and nothing else", () => {
    expect(parseAddressed("@Bob see you at 12")).toEqual({
      kind: "user",
      name: "bob",
      text: "see you at 12",
    });
    expect(parseAddressed("#ops on it")).toEqual({ kind: "group", name: "ops", text: "on it" });
    expect(parseAddressed("@bob")).toBeUndefined();
    expect(parseAddressed("hello @bob")).toBeUndefined();
    expect(parseAddressed("# heading")).toBeUndefined();
  });
});
