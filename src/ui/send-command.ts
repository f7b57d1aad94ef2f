/**
 * `/send [NAME[,NAME…]] PATH…`, the same in line mode and the terminal UI: which people and
 * which paths a typed line names. Paths are read as a shell reads them (`path-words.ts`).
 *
 * A first word that looks like names (`bob` or `bob,carol`) and is not an existing path is
 * the recipient list; otherwise every word is a path, for the person of the current
 * conversation. A path with spaces typed without quotes still works when the whole rest of
 * the line names an existing file or folder.
 */

import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { HallwayError } from "../errors.js";
import { shellWords, typedPath } from "./path-words.js";

/** People, and groups as `#name` (their files go through the registry's drop box). */
const NAME_LIST = /^#?[a-z][a-z0-9._-]*(,#?[a-z][a-z0-9._-]*)*,?$/i;

export interface SendRequest {
  /** Undefined: the person of the current conversation. */
  to: string[] | undefined;
  paths: string[];
}

export function parseSend(
  rest: string,
  opts: { home?: string; cwd?: string; exists?: (path: string) => boolean } = {},
): SendRequest {
  const home = opts.home ?? homedir();
  const cwd = opts.cwd ?? process.cwd();
  const exists = opts.exists ?? existsSync;
  const words = shellWords(rest);
  const path = (w: (typeof words)[number]) => typedPath(w, home, cwd);
  const first = words[0];
  if (first === undefined) throw new HallwayError("CLI_BAD_COMMAND", "usage: /send [NAME[,NAME…]] PATH…");
  let to: string[] | undefined;
  let pathWords = words;
  if (words.length >= 2 && NAME_LIST.test(first.text) && !exists(path(first))) {
    to = [...new Set(first.text.toLowerCase().split(",").filter(Boolean))];
    pathWords = words.slice(1);
  }
  let paths = pathWords.map(path);
  if (paths.length > 1 && !paths.every(exists)) {
    // `/send bob my notes.txt`: the rest of the line, unquoted, as one path.
    const start = pathWords[0]?.start ?? 0;
    const whole = typedPath(
      { text: rest.slice(start).trim(), tilde: rest[start] === "~", start: 0 },
      home,
      cwd,
    );
    if (exists(whole)) paths = [whole];
  }
  return { to, paths };
}
