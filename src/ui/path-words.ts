/**
 * Paths as people type or paste them, read the way a POSIX shell reads words: what a
 * terminal's drag-and-drop pastes (`'/path/with space.bin'`), a backslash-escaped path
 * (`/path/with\ space.bin`), `~` and `~/x`, and `file://` URIs (`file:///x%20y`). Pure
 * functions: the home and working directories are arguments.
 *
 * Quoting follows POSIX sh: inside '…' everything is literal; inside "…" a backslash
 * escapes only `\ " $` and a backquote; elsewhere a backslash escapes the next character.
 * Nothing is expanded but a leading unquoted `~` (`~user` is left alone). An unterminated
 * quote is an error, not a guess.
 */

import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { HallwayError } from "../errors.js";

/** One word as typed: its text, and whether it began with an unquoted `~`. */
export interface TypedWord {
  text: string;
  /** The first character was an unquoted `~`: home-relative. */
  tilde: boolean;
  /** Where the word starts in the line. */
  start: number;
}

/**
 * Splits `line` into shell words. Throws CLI_BAD_COMMAND on an unterminated quote, unless
 * `open` (for completing a half-typed line): then the quote ends with the line.
 */
export function shellWords(line: string, open = false): TypedWord[] {
  const words: TypedWord[] = [];
  let word: TypedWord | undefined;
  const begin = (at: number): TypedWord => {
    if (word === undefined) word = { text: "", tilde: false, start: at };
    return word;
  };
  const add = (ch: string, at: number): void => {
    begin(at).text += ch;
  };
  let i = 0;
  while (i < line.length) {
    const ch = line[i] as string;
    if (ch === " " || ch === "\t" || ch === "\n") {
      if (word !== undefined) words.push(word);
      word = undefined;
      i++;
    } else if (ch === "'") {
      let end = line.indexOf("'", i + 1);
      if (end < 0 && !open) throw new HallwayError("CLI_BAD_COMMAND", "a quote (') is not closed");
      if (end < 0) end = line.length;
      begin(i).text += line.slice(i + 1, end);
      i = end + 1;
    } else if (ch === '"') {
      const w = begin(i);
      i++;
      for (;;) {
        if (i >= line.length && open) break;
        if (i >= line.length) throw new HallwayError("CLI_BAD_COMMAND", 'a quote (") is not closed');
        const c = line[i] as string;
        if (c === '"') break;
        if (c === "\\" && i + 1 < line.length && '\\"$`'.includes(line[i + 1] as string)) {
          w.text += line[i + 1];
          i += 2;
        } else {
          w.text += c;
          i++;
        }
      }
      i++;
    } else if (ch === "\\") {
      // A trailing backslash stands for itself.
      add(i + 1 < line.length ? (line[i + 1] as string) : "\\", i);
      i += 2;
    } else {
      if (word === undefined && ch === "~") word = { text: "", tilde: true, start: i };
      add(ch, i);
      i++;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/**
 * The absolute path a typed word names: `~` and `~/x` against `home`, a `file://` URI
 * decoded, anything relative against `cwd`. Throws CLI_BAD_COMMAND for a URI of another
 * host or scheme it cannot read.
 */
export function typedPath(word: TypedWord, home: string, cwd: string): string {
  let text = word.text;
  if (word.tilde && (text === "~" || text.startsWith("~/"))) text = join(home, text.slice(1));
  else if (/^file:/i.test(text)) {
    try {
      // `file:///x` and `file://localhost/x`; percent-escapes decoded.
      text = fileURLToPath(text.replace(/^file:\/\/localhost\//i, "file:///"));
    } catch {
      throw new HallwayError("CLI_BAD_COMMAND", `'${word.text}' is not a file on this machine`);
    }
  }
  return isAbsolute(text) ? resolve(text) : resolve(cwd, text);
}
