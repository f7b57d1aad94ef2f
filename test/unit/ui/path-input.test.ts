/**
 * Paths typed or pasted into `/send`: shell words (quotes, escapes, `~`, `file://`), the
 * recipients-or-path rule of `/send`, and Tab completion over a listed folder. Pure: the
 * home, working directory and folder listings are given.
 */

import { describe, expect, it } from "vitest";
import { completePath } from "../../../src/ui/path-complete.js";
import { shellWords, typedPath } from "../../../src/ui/path-words.js";
import { parseSend } from "../../../src/ui/send-command.js";

const HOME = "/home/ann";
const CWD = "/work";
const paths = (line: string) => shellWords(line).map((w) => typedPath(w, HOME, CWD));

describe("shell words", () => {
  it("reads what drag-and-drop, escapes, ~ and file:// URIs produce", () => {
    expect(paths("'/path/with space.bin' ")).toEqual(["/path/with space.bin"]);
    expect(paths("/path/with\\ space.bin")).toEqual(["/path/with space.bin"]);
    expect(paths('"/a \\"b\\" $x"')).toEqual(['/a "b" $x']);
    expect(paths("~/x ~ ~ann/y")).toEqual(["/home/ann/x", "/home/ann", "/work/~ann/y"]);
    expect(paths("'~/x'")).toEqual(["/work/~/x"]);
    expect(paths("file:///tmp/a%20b.txt file://localhost/etc/hosts")).toEqual(["/tmp/a b.txt", "/etc/hosts"]);
    expect(paths("rel/../f.txt it\\'s")).toEqual(["/work/f.txt", "/work/it's"]);
    expect(paths("'a'\\''b'")).toEqual(["/work/a'b"]);
  });

  it("refuses an unterminated quote and a URI of another host, with CLI_BAD_COMMAND", () => {
    expect(() => shellWords("'/open")).toThrow(expect.objectContaining({ code: "CLI_BAD_COMMAND" }));
    expect(() => shellWords('"/open')).toThrow(expect.objectContaining({ code: "CLI_BAD_COMMAND" }));
    expect(() => paths("file://server/share/x")).toThrow(
      expect.objectContaining({ code: "CLI_BAD_COMMAND" }),
    );
  });
});

describe("/send arguments", () => {
  const existing = new Set(["/work/a.txt", "/work/my notes.txt", "/work/bob", "/home/ann/pics"]);
  const parse = (rest: string) => parseSend(rest, { home: HOME, cwd: CWD, exists: (p) => existing.has(p) });

  it("takes a first word of names as the recipients, unless it is an existing path", () => {
    expect(parse("bob,carol a.txt ~/pics")).toEqual({
      to: ["bob", "carol"],
      paths: ["/work/a.txt", "/home/ann/pics"],
    });
    expect(parse("Bob a.txt")).toEqual({ to: ["bob"], paths: ["/work/a.txt"] });
    expect(parse("a.txt")).toEqual({ to: undefined, paths: ["/work/a.txt"] });
    // `bob` is a folder here: both words are paths, for the conversation's person.
    expect(parse("bob a.txt")).toEqual({ to: undefined, paths: ["/work/bob", "/work/a.txt"] });
  });

  it("reads an unquoted path with spaces as one path when that path exists", () => {
    expect(parse("carol my notes.txt")).toEqual({ to: ["carol"], paths: ["/work/my notes.txt"] });
    expect(parse("carol 'my notes.txt'")).toEqual({ to: ["carol"], paths: ["/work/my notes.txt"] });
    expect(parse("carol no such")).toEqual({ to: ["carol"], paths: ["/work/no", "/work/such"] });
  });

  it("needs a path", () => {
    expect(() => parse("  ")).toThrow(expect.objectContaining({ code: "CLI_BAD_COMMAND" }));
  });
});

describe("Tab completion of a path", () => {
  const tree: Record<string, Array<{ name: string; folder: boolean }>> = {
    "/work": [
      { name: "My Documents", folder: true },
      { name: "music", folder: true },
      { name: "notes.txt", folder: false },
      { name: ".hidden", folder: false },
    ],
    "/home/ann": [{ name: "Downloads", folder: true }],
    "/work/My Documents": [{ name: "cv.pdf", folder: false }],
  };
  const complete = (line: string) =>
    completePath(line, {
      home: HOME,
      cwd: CWD,
      list: (dir) => {
        const entries = tree[dir];
        if (!entries) throw new Error("ENOENT");
        return entries;
      },
    });

  it("completes a unique file with a space, a folder with a slash, quoting as the word began", () => {
    expect(complete("/send bob no").line).toBe("/send bob notes.txt ");
    expect(complete("/send bob My").line).toBe("/send bob My\\ Documents/");
    expect(complete("/send bob 'My").line).toBe("/send bob 'My Documents/");
    expect(complete("/send bob 'My Documents/c").line).toBe("/send bob 'My Documents/cv.pdf' ");
    expect(complete("/send bob My\\ Documents/").line).toBe("/send bob My\\ Documents/cv.pdf ");
    expect(complete("/send bob ~/Do").line).toBe("/send bob ~/Downloads/");
    expect(complete("/send bob ~").line).toBe("/send bob ~/");
  });

  it("lists several matches and completes their common part; hidden files only after a dot", () => {
    expect(complete("/send bob m")).toMatchObject({ line: "/send bob music/", matches: [] });
    const several = complete("/send bob ");
    expect(several.matches).toEqual(["My Documents/", "music/", "notes.txt"]);
    expect(several.line).toBe("/send bob ");
    expect(complete("/send bob .h").line).toBe("/send bob .hidden ");
    // readline's form: each way to finish the typed word, written as it was begun.
    const r = complete("/send bob M");
    expect(r.typed).toBe("M");
    expect(r.words).toEqual(["My\\ Documents/"]);
  });

  it("leaves a line alone when nothing fits or the folder cannot be listed", () => {
    expect(complete("/send bob zz")).toMatchObject({ line: "/send bob zz", matches: [] });
    expect(complete("/send bob /nowhere/x")).toMatchObject({ line: "/send bob /nowhere/x", matches: [] });
  });
});
