/**
 * Tab completion of a path at the end of an input line (`/send bob ~/Doc` → `~/Documents/`),
 * shared by line mode and the terminal UI. The last word is read as a shell reads it
 * (`path-words.ts`), its folder is listed, and the word is replaced by the longest common
 * completion, quoted when it needs to be; a folder gets a trailing `/`. Hidden entries
 * appear only once the typed name starts with a dot.
 */

import { readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { shellWords, typedPath } from "./path-words.js";

export interface PathCompletion {
  /** The line with its last word completed as far as it is unambiguous. */
  line: string;
  /** Every entry that fits, when more than one does (names only, folders with `/`). */
  matches: string[];
  /**
   * The last word as typed, and every way to complete it, written the way it was typed
   * (backslashes, or inside the quote it opened): what readline's completer wants.
   */
  typed: string;
  words: string[];
}

const MAX_LISTED = 200;

/**
 * Completes the last word of `line` as a path. `list(dir)` names the entries of a folder
 * and whether each is one (the file system by default).
 */
export function completePath(
  line: string,
  opts: {
    home?: string;
    cwd?: string;
    list?: (dir: string) => Array<{ name: string; folder: boolean }>;
  } = {},
): PathCompletion {
  const home = opts.home ?? homedir();
  const cwd = opts.cwd ?? process.cwd();
  const list = opts.list ?? listFolder;
  const none: PathCompletion = { line, matches: [], typed: "", words: [] };
  let words: ReturnType<typeof shellWords>;
  try {
    words = shellWords(line, true);
  } catch {
    return none;
  }
  const endsInSpace = /\s$/.test(line) && !/\\\s$/.test(line);
  const last = endsInSpace ? undefined : words[words.length - 1];
  const start = last?.start ?? line.length;
  const typedRaw = line.slice(start);
  const text = last?.text ?? "";
  const tilde = last?.tilde ?? false;
  const write = writer(typedRaw, tilde);
  if (tilde && text === "~") {
    const word = write("~/", false);
    return { line: line.slice(0, start) + word, matches: [], typed: typedRaw, words: [word] };
  }
  // The folder part as typed (kept in the completion) and the name part to match.
  const cut = text.lastIndexOf("/") + 1;
  const typedDir = text.slice(0, cut);
  const prefix = text.slice(cut);
  const dir = typedDir === "" ? cwd : typedPath({ text: typedDir, tilde, start: 0 }, home, cwd);
  let entries: Array<{ name: string; folder: boolean }>;
  try {
    entries = list(dir);
  } catch {
    return none;
  }
  const fits = entries
    .filter((e) => e.name.startsWith(prefix) && (prefix.startsWith(".") || !e.name.startsWith(".")))
    .map((e) => (e.folder ? `${e.name}/` : e.name))
    .sort()
    .slice(0, MAX_LISTED);
  if (fits.length === 0) return none;
  let common = fits[0] as string;
  for (const f of fits) while (!f.startsWith(common)) common = common.slice(0, -1);
  const done = fits.length === 1 && !common.endsWith("/");
  const completed = write(typedDir + common, done);
  return {
    line: `${line.slice(0, start)}${completed}${done ? " " : ""}`,
    matches: fits.length > 1 ? fits : [],
    typed: typedRaw,
    words: fits.map((f) => write(typedDir + f, fits.length === 1 && !f.endsWith("/"))),
  };
}

/**
 * Writes a path the way the word was begun: inside the quote it opened (closed when
 * `done`), else with backslashes; a leading `~/` stays bare so that it still means home.
 */
function writer(typedRaw: string, tilde: boolean): (text: string, done: boolean) => string {
  const afterTilde = tilde && typedRaw.startsWith("~/") ? typedRaw.slice(2) : typedRaw;
  const quote = afterTilde.startsWith("'") ? "'" : afterTilde.startsWith('"') ? '"' : "";
  const written = (t: string): string => {
    if (quote === "'") return `'${t.replace(/'/g, "'\\''")}`;
    if (quote === '"') return `"${t.replace(/(["\\$`])/g, "\\$1")}`;
    return t.replace(/([\s'"\\$`!&;|<>()*?#{}[\]])/g, "\\$1");
  };
  return (text, done) => {
    const home = tilde && text.startsWith("~/");
    const rest = home ? text.slice(2) : text;
    const body = rest === "" && quote === "" ? "" : written(rest) + (done ? quote : "");
    return home ? `~/${body}` : body;
  };
}

function listFolder(dir: string): Array<{ name: string; folder: boolean }> {
  return readdirSync(dir, { withFileTypes: true }).map((d) => ({
    name: d.name,
    folder: d.isDirectory() || (d.isSymbolicLink() && isFolder(join(dir, d.name))),
  }));
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
