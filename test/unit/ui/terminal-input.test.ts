import { describe, expect, it } from "vitest";
import { InputSplitter, MAX_PASTE_CHARS } from "../../../src/ui/tui/terminal-input.js";

describe("terminal input before blessed", () => {
  it("passes key presses on as they come, one read at a time", () => {
    const s = new InputSplitter();
    expect(s.push("a")).toEqual([{ kind: "keys", data: "a" }]);
    expect(s.push("\r")).toEqual([{ kind: "keys", data: "\r" }]);
    // Typed text and Enter in one read is still typing: the line break ends it.
    expect(s.push("hello bob\r")).toEqual([{ kind: "keys", data: "hello bob\r" }]);
    expect(s.push("\x1b[A")).toEqual([{ kind: "keys", data: "\x1b[A" }]);
    // A lone ESC is the Escape key, never held back.
    expect(s.push("\x1b")).toEqual([{ kind: "keys", data: "\x1b" }]);
  });

  it("takes a bracketed paste out whole, also split over reads, keys around it kept", () => {
    const s = new InputSplitter();
    expect(s.push("x\x1b[200~one\rtw")).toEqual([{ kind: "keys", data: "x" }]);
    expect(s.push("o\rthree\r\x1b[20")).toEqual([]);
    expect(s.push("1~y")).toEqual([
      { kind: "paste", text: "one\rtwo\rthree\r" },
      { kind: "keys", data: "y" },
    ]);
  });

  it("a read with a line break followed by more text is still key presses (typed fast, not pasted)", () => {
    const s = new InputSplitter();
    expect(s.push("bob\rcorrect horse")).toEqual([{ kind: "keys", data: "bob\rcorrect horse" }]);
  });

  it("bounds what one paste keeps", () => {
    const s = new InputSplitter();
    const out = s.push(`\x1b[200~${"a".repeat(MAX_PASTE_CHARS + 10)}\x1b[201~`);
    expect(out).toHaveLength(1);
    expect(out[0]?.kind === "paste" && out[0].text.length).toBe(MAX_PASTE_CHARS);
  });

  it("takes cursor reports out only while they are awaited", () => {
    const s = new InputSplitter();
    // Ctrl+F3 in some terminals looks like a report: a key when nothing is awaited.
    expect(s.push("\x1b[1;5R")).toEqual([{ kind: "keys", data: "\x1b[1;5R" }]);
    s.awaitCursor(2);
    expect(s.push("\x1b[1;3R\x1b[1;")).toEqual([{ kind: "cursor", row: 1, col: 3 }]);
    expect(s.push("2Rq")).toEqual([
      { kind: "cursor", row: 1, col: 2 },
      { kind: "keys", data: "q" },
    ]);
    expect(s.push("\x1b[1;5R")).toEqual([{ kind: "keys", data: "\x1b[1;5R" }]);
  });
});
