/**
 * The view-model's buffers: opening one per conversation, appending lines (counting the unread
 * ones and queueing a desktop notification for what arrives out of view), the prompts that
 * wait for an answer, and what the user does with buffers: switch, cycle, jump to the next
 * unread, scroll, show an own message at once, recall a conversation from the local log.
 * Changes the model in place; `now` is passed in.
 */

import {
  type BufferKind,
  type ChatBuffer,
  currentBuffer,
  type Line,
  type LineKind,
  type Model,
  type Prompt,
} from "./model.js";
import { noteFeed } from "./simple.js";
import { sanitize } from "./text-width.js";

/** Index of the buffer for `name`, opened (appended) if there is none yet. */
export function openBuffer(m: Model, kind: BufferKind, rawName: string): number {
  const name = rawName.toLowerCase();
  const i = m.buffers.findIndex((b) => b.kind === kind && b.name === name);
  if (i >= 0) return i;
  m.buffers.push({ kind, name, lines: [], unread: 0, scrollRows: 0 });
  return m.buffers.length - 1;
}

export function findBuffer(m: Model, kind: BufferKind, name: string): ChatBuffer | undefined {
  return m.buffers.find((b) => b.kind === kind && b.name === name.toLowerCase());
}

/** Appends a line; a buffer not in view counts it as unread unless it is the user's own. */
export function addLine(m: Model, index: number, line: Line): void {
  const b = m.buffers[index];
  if (!b) return;
  const added = { ...line, text: sanitize(line.text, true) };
  b.lines.push(added);
  if (b.lines.length > m.maxLines) b.lines.splice(0, b.lines.length - m.maxLines);
  noteFeed(m, b, index, added);
  if (index !== m.current && line.kind !== "own" && b.kind !== "status") {
    b.unread += 1;
    b.unreadFrom ??= added;
  }
  // A reader scrolled up keeps their place; the new line's rows add below it.
  if (b.scrollRows > 0) b.scrollRows += 1;
}

export function systemLine(m: Model, text: string, now: number, index = 0): void {
  addLine(m, index, { at: now, kind: "system", text });
}

export function errorLine(m: Model, text: string, now: number): void {
  addLine(m, m.current, { at: now, kind: "error", text });
}

export function toCurrent(m: Model, text: string, now: number): void {
  systemLine(m, text, now, m.current);
}

/**
 * A system line in the buffer of `name` if one is open, else in the status buffer. `#name` is
 * a group (a file sent to it through the drop box).
 */
export function aboutUser(m: Model, name: string, text: string, now: number): void {
  const group = name.startsWith("#");
  const want = (group ? name.slice(1) : name).toLowerCase();
  const i = m.buffers.findIndex((b) => b.kind === (group ? "group" : "user") && b.name === want);
  systemLine(m, text, now, Math.max(i, 0));
}

/** Inserts `name` into the sorted `list` unless it is there (a binary search: the directory may be long). */
export function addUnique(list: string[], name: string): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as string) < name) lo = mid + 1;
    else hi = mid;
  }
  if (list[lo] !== name) list.splice(lo, 0, name);
}

export function removeFrom(list: string[], name: string): void {
  const i = list.indexOf(name);
  if (i >= 0) list.splice(i, 1);
}

/** False if the same question is already waiting (the registry repeats it after a re-login). */
export function addPrompt(m: Model, p: Prompt): boolean {
  if (m.prompts.some((q) => promptKey(q) === promptKey(p))) return false;
  m.prompts.push(p);
  m.bells += 1;
  return true;
}

export function promptKey(p: Prompt): string {
  if (p.kind === "friend") return `friend:${p.from}`;
  if (p.kind === "group") return `group:${p.group}:${p.user}`;
  return `file:${p.n}`;
}

export function dropPrompt(m: Model, key: string): void {
  m.prompts = m.prompts.filter((p) => promptKey(p) !== key);
}

/** Desktop notifications waiting at most; more in one burst would only bury the screen. */
const MAX_NOTIFICATIONS = 3;

export function incoming(m: Model, index: number, kind: LineKind, line: Line): void {
  const b = m.buffers[index];
  const wasUnread = b?.unread ?? 0;
  addLine(m, index, { ...line, kind });
  if (kind === "other" && b && b.unread > wasUnread) {
    m.bells += 1;
    if (m.notifications.length < MAX_NOTIFICATIONS) {
      const title = b.kind === "group" ? `${line.from ?? ""} in #${b.name}` : (line.from ?? b.name);
      m.notifications.push({ title, body: sanitize(line.text, true).replaceAll("\n", " ") });
    }
  }
}

// ---- User actions ----

/** A message the local log kept (`PeerClient.localHistory`): what `recall` needs of it. */
export interface Recalled {
  id: string;
  from: string;
  text: string;
  sentAt: number;
  seq?: number;
}

/**
 * Fills a conversation's buffer from the local log: at once and without the registry (it may
 * be unreachable). Lines it already has are kept; unlike a registry page, this says nothing of
 * whether older history exists there.
 */
export function recall(m: Model, kind: "user" | "group", name: string, entries: readonly Recalled[]): void {
  const b = m.buffers[openBuffer(m, kind, name)] as ChatBuffer;
  const have = new Set(b.lines.map((l) => l.id).filter((id) => id !== undefined));
  const older: Line[] = [];
  for (const e of entries) {
    if (have.has(e.id)) continue;
    have.add(e.id);
    const own = e.from === m.me;
    older.push({
      at: e.sentAt,
      kind: own ? "own" : "other",
      from: e.from,
      text: sanitize(e.text, true),
      id: e.id,
      ...(e.seq === undefined ? {} : { seq: e.seq }),
    });
    if (own && kind === "user") m.marks[e.id] ??= "sent";
  }
  if (older.length > 0) b.lines = [...older, ...b.lines].sort((a, c) => a.at - c.at).slice(-m.maxLines);
}

export function switchTo(m: Model, index: number): void {
  const b = m.buffers[index];
  if (!b) return;
  // The marker stays while the buffer is read, and goes when the reader leaves it.
  const left = m.buffers[m.current];
  if (left && m.current !== index) {
    delete left.unreadFrom;
    delete left.focus;
  }
  m.current = index;
  b.unread = 0;
}

/** Ctrl+N / Ctrl+P: the next or previous buffer, wrapping around. */
export function cycleBuffer(m: Model, delta: 1 | -1): void {
  const n = m.buffers.length;
  switchTo(m, (m.current + delta + n) % n);
}

/** Alt+A: the next buffer after the current one with unread lines; false if there is none. */
export function nextUnread(m: Model): boolean {
  const n = m.buffers.length;
  for (let step = 1; step < n; step++) {
    const i = (m.current + step) % n;
    if ((m.buffers[i]?.unread ?? 0) > 0) {
      switchTo(m, i);
      return true;
    }
  }
  return false;
}

/** PageUp (positive rows) / PageDown (negative); never above the first row nor below the last. */
export function scroll(m: Model, rows: number, totalRows: number, height: number): void {
  const b = currentBuffer(m);
  b.scrollRows = Math.max(0, Math.min(Math.max(0, totalRows - height), b.scrollRows + rows));
}

/** The user's own 1:1 message, shown at once; its id arrives when the client has sent it. */
export function ownMessage(m: Model, peer: string, text: string, now: number): Line {
  const i = openBuffer(m, "user", peer);
  addLine(m, i, { at: now, kind: "own", from: m.me, text });
  const b = m.buffers[i] as ChatBuffer;
  // Writing follows the conversation's end again.
  delete b.focus;
  b.scrollRows = 0;
  return b.lines[b.lines.length - 1] as Line;
}

export function messageQueued(m: Model, line: Line, id: string): void {
  line.id = id;
  m.marks[id] ??= "sending";
}
