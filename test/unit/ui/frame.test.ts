import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { COMMAND_NAMES, completeArgument, parseCommand } from "../../../src/ui/tui/commands.js";
import { frame, plainText, transferRow } from "../../../src/ui/tui/frame.js";
import { handleKey, type KeyContext } from "../../../src/ui/tui/keys.js";
import { createModel, type Model } from "../../../src/ui/tui/model.js";
import { applyEvent, noteDirectory, switchTo } from "../../../src/ui/tui/reducers.js";
import { stringWidth } from "../../../src/ui/tui/text-width.js";

const T0 = new Date(2026, 10, 22, 9, 30).getTime();

/** A session with a bit of everything: buffers, unread, a CJK line, a transfer, a prompt. */
function busyModel(): Model {
  const m = createModel("alice");
  const events = [
    { event: "registry", status: "connected", address: "10.1.2.3:7777", fingerprint: "ce96-68c9" },
    { event: "ready", user: "alice" },
    {
      event: "friends",
      friends: [
        { name: "bob", since: T0, status: "online" },
        { name: "erin", since: T0, status: "offline" },
        { name: "frank", since: T0, status: "away" },
      ],
      incoming: [],
      outgoing: [],
    },
    {
      event: "message",
      id: "m000000001",
      from: "bob",
      to: "alice",
      text: "lunch? 你好 🎉 the place with the long queue and the good noodles",
      via: "direct",
      sentAt: T0,
    },
    {
      event: "groupMessage",
      id: "m000000002",
      group: "ops",
      from: "carol",
      text: "deploy at 10",
      seq: 1,
      sentAt: T0,
    },
    { event: "friend.request", from: "dave", at: T0 },
    {
      event: "transfer",
      id: "t1",
      n: 2,
      direction: "receive",
      state: "progress",
      peer: "bob",
      name: "slides 日本.pdf",
      size: 10_000_000,
      bytes: 4_200_000,
      sha256: "0".repeat(64),
    },
  ] as const;
  for (const e of events) applyEvent(m, e as Parameters<typeof applyEvent>[1], T0);
  return m;
}

describe("the main screen as text", () => {
  for (const [cols, rows] of [
    [80, 24],
    [120, 40],
    [41, 12],
  ] as const) {
    it(`is exactly ${cols}×${rows}, every row ${cols} columns, wide characters included`, () => {
      const m = busyModel();
      for (const current of [0, 1, 2]) {
        m.current = current;
        const out = frame(m, cols, rows, T0);
        expect(out).toHaveLength(rows);
        for (const r of out) expect(stringWidth(r.map((s) => s.text).join(""))).toBe(cols);
      }
    });
  }

  it("shows contacts with presence and unread counts, the conversation, transfer, prompt, status and input", () => {
    const m = busyModel();
    switchTo(m, 1);
    const text = plainText(frame(m, 80, 24, T0));
    expect(text).toContain(" 2 ●bob");
    expect(text).toMatch(/ 3 #ops +1│/);
    expect(text).toContain("○erin");
    expect(text).toContain("◐frank");
    expect(text).toContain("bob │ lunch? 你好 🎉");
    expect(text).toMatch(/#2 ← bob slides 日本\.pdf 9\.5 MB \[#+ +\] {2}42%/);
    expect(text).toContain("? dave asks to be your friend  Alt+Y accept · Alt+N decline");
    expect(text).toContain("alice (online) · 10.1.2.3:7777 · bob via direct [act: 3]");
    expect(text.split("\n").at(-1)).toBe("[bob]");
  });

  it("lists the directory in the contacts pane, online first, without a command", () => {
    const m = busyModel();
    noteDirectory(m, [
      { name: "zoe", status: "online" },
      { name: "adam", status: "offline" },
      { name: "alice", status: "online" },
    ]);
    const rows = plainText(frame(m, 80, 24, T0)).split("\n");
    const people = rows.map((r) => /^ {3}([●◐○])(\w+)/.exec(r)?.slice(1).join("")).filter(Boolean);
    expect(people).toEqual(["●zoe", "◐frank", "○adam", "○erin"]);
  });

  it("a group buffer at 120 columns lists its members beside the conversation", () => {
    const m = busyModel();
    applyEvent(
      m,
      {
        event: "groups",
        groups: [{ name: "ops", admin: "carol", lastSeq: 1, members: ["alice", "carol", "bob"] }],
      },
      T0,
    );
    m.presence.carol = "offline";
    switchTo(m, 2);
    const wide = frame(m, 120, 40, T0);
    for (const r of wide) expect(stringWidth(r.map((x) => x.text).join(""))).toBe(120);
    const text = plainText(wide);
    expect(text).toMatch(/│3 members\n/);
    expect(text).toMatch(/│●alice\n.*│●bob\n.*│○carol\n/s);
    expect(plainText(frame(m, 100, 30, T0))).not.toContain("3 members");
  });

  it("shows own presence and status text on the status line, and a peer's in their buffer title", () => {
    const m = busyModel();
    switchTo(m, 1);
    const profile = (user: string, statusText: string | null) =>
      applyEvent(
        m,
        {
          event: "profile",
          user,
          displayName: null,
          statusText,
          email: null,
          phone: null,
          department: null,
          note: null,
        },
        T0,
      );
    applyEvent(m, { event: "ok", cmd: "presence", status: "away" }, T0);
    applyEvent(m, { event: "presence", user: "bob", status: "away" }, T0);
    profile("alice", "lunch");
    profile("bob", "in a meeting");
    for (const [cols, rows] of [
      [80, 24],
      [120, 40],
    ] as const) {
      const text = plainText(frame(m, cols, rows, T0));
      expect(text).toContain("alice (away · lunch) · 10.1.2.3:7777");
      expect(text).toContain(" 2 ◐bob");
      expect(text).toContain("bob · away · in a meeting · friend");
    }
    applyEvent(m, { event: "ok", cmd: "presence", status: "online" }, T0);
    applyEvent(m, { event: "presence", user: "bob", status: "online" }, T0);
    profile("alice", "on call");
    profile("bob", null);
    const text = plainText(frame(m, 80, 24, T0));
    expect(text).toContain("alice (online · on call) · 10.1.2.3:7777");
    expect(text).toMatch(/│bob · online · friend/);
  });

  it("says so when the terminal is too small instead of drawing a broken layout", () => {
    const out = frame(busyModel(), 30, 8, T0);
    expect(plainText(out)).toContain("needs 40×10, not 30×8");
    expect(out).toHaveLength(8);
  });

  it("draws a transfer's percentage, rate and ETA", () => {
    const row = transferRow(
      {
        id: "t",
        n: 3,
        direction: "send",
        peer: "bob",
        name: "a.bin",
        size: 1_048_576,
        bytes: 524_288,
        state: "progress",
        rateBps: 131_072,
        sampleAt: 0,
        sampleBytes: 0,
      },
      60,
    );
    expect(stringWidth(row)).toBe(60);
    expect(row).toMatch(/^#3 → bob a\.bin 1\.0 MB \[#+ +\] {2}50% 128\.0 KB\/s ETA 0:04$/);
  });
});

describe("keys", () => {
  function keys(m: Model, submitted: string[] = []): KeyContext {
    return {
      model: m,
      commands: COMMAND_NAMES,
      pane: () => ({ cols: 60, rows: 20 }),
      submit: (line) => submitted.push(line),
      quit: () => submitted.push("<quit>"),
      loadOlder: () => submitted.push("<older>"),
      completeArgument,
      now: () => T0,
    };
  }

  const press = (ctx: KeyContext, text: string): void => {
    for (const ch of text) handleKey(ctx, ch, { name: ch, full: ch });
  };
  const tab = (ctx: KeyContext): boolean => handleKey(ctx, "\t", { name: "tab", full: "tab" });

  it("Tab after /send completes the path before the cursor, keeps what follows and lists several fits", () => {
    const dir = mkdtempSync(join(tmpdir(), "hallway-tab-"));
    try {
      mkdirSync(join(dir, "my photos"));
      writeFileSync(join(dir, "report-2025.pdf"), "x");
      writeFileSync(join(dir, "report-2026.pdf"), "x");
      const m = createModel("alice");
      const ctx = keys(m);
      press(ctx, `/send bob ${dir}/my`);
      expect(tab(ctx)).toBe(true);
      expect(m.input.text).toBe(`/send bob ${dir}/my\\ photos/`);
      expect(m.input.cursor).toBe(m.input.text.length);

      m.input = { ...m.input, text: "", cursor: 0 };
      press(ctx, `/send bob ${dir}/rep and more`);
      m.input.cursor = `/send bob ${dir}/rep`.length;
      tab(ctx);
      expect(m.input.text).toBe(`/send bob ${dir}/report-202 and more`);
      expect(m.input.cursor).toBe(`/send bob ${dir}/report-202`.length);
      expect(m.buffers[0]?.lines.at(-1)?.text).toBe("report-2025.pdf  report-2026.pdf");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("Tab completes names where no path fits: the recipient of /send, also after a comma", () => {
    const m = createModel("alice");
    noteDirectory(m, [
      { name: "bob", status: "online" },
      { name: "carol", status: "offline" },
    ]);
    const ctx = keys(m);
    press(ctx, "/send zz-no-such-file-bo");
    tab(ctx);
    expect(m.input.text).toBe("/send zz-no-such-file-bo");
    m.input = { ...m.input, text: "", cursor: 0 };
    press(ctx, "/send bob,ca");
    tab(ctx);
    expect(m.input.text).toBe("/send bob,carol ");
  });

  it("one carriage return is one Enter: blessed's second report of it ('return') does nothing", () => {
    const m = createModel("alice");
    const sent: string[] = [];
    const ctx = keys(m, sent);
    handleKey(ctx, "x", { name: "x", full: "x" });
    handleKey(ctx, "\r", { name: "enter", full: "enter" });
    expect(handleKey(ctx, "\r", { name: "return", full: "return" })).toBe(false);
    expect(sent).toEqual(["x"]);
  });

  it("PageUp at the top of what is loaded asks for older history", () => {
    const m = createModel("alice");
    const sent: string[] = [];
    handleKey(keys(m, sent), undefined, { full: "pageup" });
    expect(sent).toEqual(["<older>"]);
  });

  it("types, completes and submits; Alt+Y and Alt+N answer the prompt; Ctrl+C quits", () => {
    const m = busyModel();
    const sent: string[] = [];
    const ctx = keys(m, sent);
    for (const ch of "/he") handleKey(ctx, ch, { name: ch, full: ch });
    handleKey(ctx, "\t", { name: "tab", full: "tab" });
    expect(m.input.text).toBe("/help ");
    handleKey(ctx, "\r", { name: "enter", full: "enter" });
    handleKey(ctx, undefined, { name: "y", full: "M-y", meta: true });
    handleKey(ctx, undefined, { name: "n", full: "M-n", meta: true });
    handleKey(ctx, undefined, { name: "c", full: "C-c", ctrl: true });
    expect(sent).toEqual(["/help ", "/accept", "/decline", "<quit>"]);
  });

  it("switches buffers with Alt+digit, Ctrl+N/P and Alt+A; scrolls by pages", () => {
    const m = busyModel();
    const ctx = keys(m);
    handleKey(ctx, undefined, { full: "M-3", meta: true });
    expect(m.current).toBe(2);
    handleKey(ctx, undefined, { full: "C-n", ctrl: true });
    expect(m.current).toBe(0);
    handleKey(ctx, undefined, { full: "C-p", ctrl: true });
    expect(m.current).toBe(2);
    handleKey(ctx, undefined, { full: "M-a", meta: true });
    expect(m.current).toBe(1);
    for (let i = 0; i < 40; i++) applyEvent(m, { event: "bye" }, T0);
    m.current = 0;
    handleKey(ctx, undefined, { full: "pageup" });
    expect(m.buffers[0]?.scrollRows).toBe(18);
    handleKey(ctx, undefined, { full: "pagedown" });
    expect(m.buffers[0]?.scrollRows).toBe(0);
  });

  it("ignores control characters it has no meaning for", () => {
    const m = createModel("alice");
    expect(handleKey(keys(m), "\u001b", { full: "escape", name: "escape" })).toBe(false);
    expect(m.input.text).toBe("");
  });
});

describe("/command parsing", () => {
  it("gives the last argument the rest of the line", () => {
    expect(parseCommand("/msg bob hello there  you", 2)).toEqual(["bob", "hello there you"]);
    expect(parseCommand("/away", 0)).toEqual([]);
    expect(parseCommand("/away at lunch", 0)).toEqual(["at", "lunch"]);
  });

  it("knows every command the issue asks for", () => {
    for (const c of [
      "/help",
      "/away",
      "/back",
      "/status",
      "/add",
      "/join",
      "/send",
      "/accept",
      "/decline",
      "/profile",
      "/search",
      "/quit",
    ]) {
      expect(COMMAND_NAMES).toContain(c);
    }
  });
});
