/**
 * The input line of the view-model: inserting and pasting, deleting and moving by grapheme
 * cluster or readline word, killing, the history, and Tab completion of commands, names and
 * arguments. Changes `m.input` in place.
 */

import { systemLine } from "./buffers.js";
import type { Model } from "./model.js";
import { clusters, sanitize } from "./text-width.js";

export function inputInsert(m: Model, s: string): void {
  const { text, cursor } = m.input;
  m.input.text = text.slice(0, cursor) + s + text.slice(cursor);
  m.input.cursor = cursor + s.length;
}

/** Most lines a paste may put into the input line (one message holds them all). */
const MAX_PASTE_LINES = 200;

/**
 * A paste goes into the input line as it is, line breaks kept (drawn as ↵), never sent by
 * itself: one Enter then sends it as one message, after the note says how many lines it is.
 */
export function inputPaste(m: Model, pasted: string, now: number): void {
  const text = sanitize(pasted, true).replace(/\n+$/, "");
  const lines = text.split("\n").slice(0, MAX_PASTE_LINES);
  inputInsert(m, lines.join("\n"));
  if (lines.length > 1) {
    systemLine(
      m,
      `pasted ${lines.length} lines: Enter sends them as one message (Ctrl+U clears)`,
      now,
      m.current,
    );
  }
}

/** Where the cluster before `at` starts (a ZWJ family or a flag is one step). */
function clusterBefore(text: string, at: number): number {
  const parts = clusters(text.slice(0, at));
  return at - (parts[parts.length - 1] ?? "").length;
}

/** Where the cluster at `at` ends. */
function clusterAfter(text: string, at: number): number {
  return at + (clusters(text.slice(at))[0] ?? "").length;
}

/** readline's words: the start of the word before `at` (spaces before it skipped). */
function wordBefore(text: string, at: number): number {
  let i = at;
  while (i > 0 && /\s/.test(text[i - 1] ?? "")) i--;
  while (i > 0 && !/\s/.test(text[i - 1] ?? "")) i--;
  return i;
}

function wordAfter(text: string, at: number): number {
  let i = at;
  while (i < text.length && /\s/.test(text[i] ?? "")) i++;
  while (i < text.length && !/\s/.test(text[i] ?? "")) i++;
  return i;
}

/** Backspace (-1) or Delete (+1), one cluster: what the user sees as one character. */
export function inputDelete(m: Model, dir: -1 | 1): void {
  const { text, cursor } = m.input;
  if (dir < 0 && cursor > 0) {
    const from = clusterBefore(text, cursor);
    m.input.text = text.slice(0, from) + text.slice(cursor);
    m.input.cursor = from;
  } else if (dir > 0 && cursor < text.length) {
    m.input.text = text.slice(0, cursor) + text.slice(clusterAfter(text, cursor));
  }
}

export type InputMove = "left" | "right" | "home" | "end" | "wordLeft" | "wordRight";

export function inputMove(m: Model, to: InputMove): void {
  m.input.cursor = moveTarget(m.input.text, m.input.cursor, to);
}

function moveTarget(text: string, cursor: number, to: InputMove): number {
  switch (to) {
    case "home":
      return 0;
    case "end":
      return text.length;
    case "left":
      return clusterBefore(text, cursor);
    case "right":
      return clusterAfter(text, cursor);
    case "wordLeft":
      return wordBefore(text, cursor);
    case "wordRight":
      return wordAfter(text, cursor);
  }
}

/** Ctrl+W (the word before the cursor), Ctrl+U (all before it), Ctrl+K (all after it). */
export function inputKill(m: Model, to: "wordLeft" | "home" | "end"): void {
  const { text, cursor } = m.input;
  const other = moveTarget(text, cursor, to);
  const [from, till] = other < cursor ? [other, cursor] : [cursor, other];
  m.input.text = text.slice(0, from) + text.slice(till);
  m.input.cursor = from;
}

/** Up (-1) and Down (+1) through what was entered before. */
export function inputRecall(m: Model, dir: -1 | 1): void {
  const h = m.input.history;
  const i = Math.max(0, Math.min(h.length, m.input.historyIndex + dir));
  m.input.historyIndex = i;
  m.input.text = h[i] ?? "";
  m.input.cursor = m.input.text.length;
}

/** Enter: the input line's text, which is cleared and remembered. */
export function inputSubmit(m: Model): string {
  const text = m.input.text;
  if (text.trim() !== "" && m.input.history[m.input.history.length - 1] !== text) m.input.history.push(text);
  m.input.history.splice(0, Math.max(0, m.input.history.length - 200));
  m.input.historyIndex = m.input.history.length;
  m.input.text = "";
  m.input.cursor = 0;
  return text;
}

/**
 * Tab in a command's argument: `complete` gets the text before the cursor and gives it back
 * completed; the text after the cursor stays. Undefined (nothing changed) when `complete`
 * does not know the argument or nothing fits, so that names are completed instead
 * (`/send bo` completes a name unless a file starting with "bo" is there).
 */
export function inputCompleteArgument(
  m: Model,
  complete: (before: string) => { text: string; matches: string[] } | undefined,
): string[] | undefined {
  const before = m.input.text.slice(0, m.input.cursor);
  const c = complete(before);
  if (!c || (c.text === before && c.matches.length === 0)) return undefined;
  m.input.text = c.text + m.input.text.slice(m.input.cursor);
  m.input.cursor = c.text.length;
  return c.matches;
}

/**
 * Tab: completes the word before the cursor from the command names (first word starting
 * with "/") or the names the model knows. One match completes with a space; several complete
 * their common prefix and are returned so the caller can show them.
 */
export function inputComplete(m: Model, commands: readonly string[]): string[] {
  const before = m.input.text.slice(0, m.input.cursor);
  // A word starts after a space, or after a comma in a list of names (`/send bob,ca`).
  const start = before.search(/[^\s,]*$/);
  const word = before.slice(start);
  if (word === "") return [];
  const names = new Set<string>([
    ...m.friends,
    ...Object.keys(m.presence),
    ...m.groups,
    ...m.buffers.filter((b) => b.kind !== "status").map((b) => b.name),
  ]);
  const pool = start === 0 && word.startsWith("/") ? [...commands] : [...names];
  const matches = pool.filter((c) => c.toLowerCase().startsWith(word.toLowerCase())).sort();
  if (matches.length === 0) return [];
  let common = matches[0] as string;
  for (const c of matches)
    while (!c.toLowerCase().startsWith(common.toLowerCase())) common = common.slice(0, -1);
  const replacement = matches.length === 1 ? `${common} ` : common.length > word.length ? common : word;
  m.input.text = before.slice(0, start) + replacement + m.input.text.slice(m.input.cursor);
  m.input.cursor = start + replacement.length;
  return matches.length === 1 ? [] : matches;
}
