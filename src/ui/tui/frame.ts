/**
 * The main screen as rows of styled text, computed from the model alone: the contacts pane
 * (left), the conversation pane, the transfers pane, the prompt bar, the status line and the
 * input line. Pure, so tests can look at a whole screen without a terminal (docs/ui.md shows tmux);
 * render.ts writes the rows to the terminal.
 *
 *   ┌contacts─┬conversation──────────────────┐  rows - 2 - transfers - prompt
 *   │1 status │title: peer, presence, path    │
 *   │2 ● bob 3│HH:MM       bob │ text         │
 *   ├─────────┴───────────────────────────────┤
 *   │#3 → bob name [####  ] 42% rate ETA    │  only while there are transfers
 *   │? prompt (Alt+Y accept, Alt+N decline)   │  only while there are prompts
 *   │status line                              │
 *   │[bob] input                              │
 */

import { presenceMark } from "../presence-mark.js";
import {
  bufferRows,
  type ChatBuffer,
  clock,
  currentBuffer,
  effectiveScroll,
  formatBytes,
  hotlist,
  type Model,
  type PaneRow,
  progressText,
  type RowKind,
  type TransferView,
  visibleRows,
} from "./model.js";
import { feedRows } from "./simple.js";
import { clusters, fitColumns, sanitize, stringWidth, takeColumns } from "./text-width.js";

export type Style = "plain" | "dim" | "bold" | "inverse" | "own" | "system" | "error" | "highlight";

export interface Segment {
  text: string;
  style: Style;
  /** xterm 256-colour foreground and background (image previews' half-blocks). */
  fg?: number;
  bg?: number;
}

export type Row = Segment[];

/** Fewest columns and rows the layout is drawn for; smaller terminals get a note instead. */
export const MIN_COLS = 40;
export const MIN_ROWS = 10;
const SHOWN_TRANSFERS = 3;

/** Width of the contacts pane; the conversation pane has the rest but one separator column. */
export function contactsCols(cols: number): number {
  return cols >= 120 ? 24 : cols >= 80 ? 18 : 14;
}

export function row(text: string, cols: number, style: Style = "plain"): Row {
  return [{ text: fitColumns(text, cols), style }];
}

function bufferMark(m: Model, b: ChatBuffer): string {
  if (b.kind === "status") return "*";
  if (b.kind === "group") return "#";
  return presenceMark(m.presence[b.name]);
}

const PRESENCE_ORDER: Record<string, number> = { online: 0, away: 1, offline: 2 };

/**
 * The people the contacts pane lists below the buffers: the directory (everyone under the
 * open policy, friends under the friends policy) and friends, without yourself and those
 * with a buffer already; online first, then away, then offline, each by name. The
 * directory is kept sorted, so with ten thousand names this is one pass and nearly sorted
 * runs, not a sort per frame.
 */
export function directoryPeople(m: Model): string[] {
  const open = new Set(m.buffers.filter((b) => b.kind === "user").map((b) => b.name));
  const seen = new Set<string>();
  const byPresence: string[][] = [[], [], []];
  const add = (n: string): void => {
    if (n === m.me || open.has(n) || seen.has(n)) return;
    seen.add(n);
    byPresence[PRESENCE_ORDER[m.presence[n] ?? "offline"] ?? 2]?.push(n);
  };
  for (const n of m.directory) add(n);
  for (const n of m.friends) add(n);
  return byPresence.flatMap((names) => names.sort());
}

/**
 * Buffers first (numbered for Alt+N), then groups without a buffer yet, then the people of
 * the directory; only the rows that fit are laid out.
 */
function contactRows(m: Model, width: number, height: number): Row[] {
  const rows: Row[] = [];
  m.buffers.forEach((b, i) => {
    const unread = b.unread > 0 ? ` ${b.unread}` : "";
    const name = takeColumns(b.name, width - 4 - unread.length);
    const text =
      fitColumns(`${String(i + 1).padStart(2)} ${bufferMark(m, b)}${name}`, width - unread.length) + unread;
    rows.push([{ text, style: i === m.current ? "inverse" : b.unread > 0 ? "highlight" : "plain" }]);
  });
  const open = new Set(m.buffers.map((b) => `${b.kind}:${b.name}`));
  const people = directoryPeople(m);
  const groups = m.groups.filter((g) => !open.has(`group:${g}`));
  if (people.length + groups.length > 0) rows.push(row("", width));
  for (const g of groups) rows.push(row(`   #${g}`, width, "dim"));
  for (const p of people) {
    if (rows.length >= height) break;
    const status = m.presence[p] ?? "offline";
    rows.push(row(`   ${presenceMark(status)}${p}`, width, status === "offline" ? "dim" : "plain"));
  }
  while (rows.length < height) rows.push(row("", width));
  return rows.slice(0, height);
}

const LINE_STYLE: Record<RowKind, Style> = {
  own: "own",
  other: "plain",
  system: "system",
  error: "error",
  marker: "highlight",
  focus: "highlight",
  image: "plain",
};

/** The upper half block: its foreground paints the top pixel of a cell, the background the bottom. */
export const HALF_BLOCK = "\u2580";

/**
 * One row of a preview as half-block cells, `cols` wide: runs of cells with the same two
 * colours share a segment. An odd last pixel row leaves the background alone.
 */
export function imageRow(image: NonNullable<PaneRow["image"]>, cols: number): Row {
  const { pixels: p, y, indent } = image;
  const out: Row = [{ text: " ".repeat(indent), style: "plain" }];
  const width = Math.min(p.width, Math.max(0, cols - indent));
  for (let x = 0; x < width; x++) {
    const fg = p.colors[2 * y * p.width + x] as number;
    const bg = 2 * y + 1 < p.height ? (p.colors[(2 * y + 1) * p.width + x] as number) : undefined;
    const last = out[out.length - 1] as Segment;
    if (x > 0 && last.fg === fg && last.bg === bg) last.text += HALF_BLOCK;
    else out.push({ text: HALF_BLOCK, style: "plain", fg, ...(bg === undefined ? {} : { bg }) });
  }
  out.push({ text: " ".repeat(Math.max(0, cols - indent - width)), style: "plain" });
  return out;
}

/** Columns of the member list a group buffer shows at MEMBER_LIST_MIN_COLS and wider. */
export const MEMBER_LIST_COLS = 16;
export const MEMBER_LIST_MIN_COLS = 120;

/** Columns the conversation text has in a pane `cols` wide (less the member list of a group). */
export function conversationTextCols(m: Model, cols: number, screenCols: number): number {
  return hasMemberList(m, screenCols) ? cols - MEMBER_LIST_COLS - 1 : cols;
}

function hasMemberList(m: Model, screenCols: number): boolean {
  return screenCols >= MEMBER_LIST_MIN_COLS && currentBuffer(m).kind === "group";
}

/** A group's members, online first, the admin marked with @. */
function memberRows(m: Model, width: number, height: number): Row[] {
  const b = currentBuffer(m);
  const members = [...(m.groupMembers[b.name] ?? [])];
  const rank = (n: string): number => (n === m.me ? 0 : (PRESENCE_ORDER[m.presence[n] ?? "offline"] ?? 2));
  members.sort((x, y) => rank(x) - rank(y) || (x < y ? -1 : 1));
  const rows: Row[] = [row(`${members.length} members`, width, "bold")];
  for (const n of members) {
    const status = n === m.me ? (m.away ? "away" : "online") : (m.presence[n] ?? "offline");
    rows.push(row(`${presenceMark(status)}${n}`, width, status === "offline" ? "dim" : "plain"));
  }
  while (rows.length < height) rows.push(row("", width));
  return rows.slice(0, height);
}

/** How many people the LAN directory lists. */
function lanCount(m: Model): number {
  return new Set(m.lan.peers.map((p) => p.user)).size;
}

function bufferTitle(m: Model, b: ChatBuffer): string {
  if (b.kind === "status") {
    if (m.lan.mode) return `status · LAN mode (no registry) · ${lanCount(m)} on the LAN`;
    const r = m.registry;
    return `status · registry ${r.address || "?"} ${r.status}${r.fingerprint ? ` · key ${r.fingerprint}` : ""}`;
  }
  if (b.kind === "group") return `#${b.name}${m.groups.includes(b.name) ? "" : " (not a member)"}`;
  const presence = m.presence[b.name] ?? "unknown";
  const friend = m.friends.includes(b.name) ? " · friend" : "";
  const status = m.statuses[b.name] ? ` · ${m.statuses[b.name]}` : "";
  return `${b.name} · ${presence}${status}${friend}`;
}

function conversationRows(m: Model, width: number, height: number, screenCols: number): Row[] {
  const b = currentBuffer(m);
  const textCols = conversationTextCols(m, width, screenCols);
  const rows: Row[] = [row(bufferTitle(m, b), textCols, "bold")];
  const body = visibleRows(m, b, textCols, height - 1);
  const pad = height - 1 - body.length;
  const top = b.older === "loading" ? "-- loading older messages… --" : "";
  for (let i = 0; i < pad; i++) rows.push(row(i === 0 ? top : "", textCols, "highlight"));
  for (const r of body)
    rows.push(r.image ? imageRow(r.image, textCols) : row(r.text, textCols, LINE_STYLE[r.kind]));
  const below =
    b.focus === undefined ? b.scrollRows : effectiveScroll(bufferRows(m, b, textCols), b, height - 1);
  if (below > 0 && rows.length > 1)
    rows[rows.length - 1] = row(`-- ${below} more rows below (PageDown) --`, textCols, "highlight");
  const out = rows.slice(0, height);
  if (textCols === width) return out;
  const members = memberRows(m, MEMBER_LIST_COLS, height);
  return out.map((r, i) => [...r, { text: "│", style: "dim" }, ...(members[i] ?? row("", MEMBER_LIST_COLS))]);
}

export function transferRow(t: TransferView, cols: number): string {
  const arrow = t.direction === "send" ? "→" : "←";
  const { percent, rate, eta } = progressText(t);
  const finished = t.state === "done" || t.state === "failed" || t.state === "cancelled";
  const tail =
    finished || t.state === "offered"
      ? ` ${t.state}`
      : ` ${String(percent).padStart(3)}% ${rate} ${eta}`.trimEnd();
  const files = t.files ? ` ${t.files.done}/${t.files.total} files` : "";
  const head = `#${t.n} ${arrow} ${t.peer} ${sanitize(t.name)}${t.files ? "/" : ""} ${formatBytes(t.size)}${files} `;
  const headCols = Math.min(stringWidth(head), Math.floor(cols / 2));
  const barCols = Math.max(0, cols - headCols - stringWidth(tail) - 2);
  const filled = Math.round((barCols * Math.min(100, percent)) / 100);
  const bar = barCols > 0 ? `[${"#".repeat(filled)}${" ".repeat(barCols - filled)}]` : "";
  return fitColumns(takeColumns(head, headCols) + bar + tail, cols);
}

function visibleTransfers(m: Model): TransferView[] {
  const active = m.transfers.filter(
    (t) => t.state === "offered" || t.state === "accepted" || t.state === "progress",
  );
  const finished = m.transfers.filter((t) => !active.includes(t));
  return [...active, ...finished.slice(-1)].slice(0, SHOWN_TRANSFERS);
}

function promptText(m: Model): string | undefined {
  const p = m.prompts[0];
  if (!p) return undefined;
  const more = m.prompts.length > 1 ? ` (+${m.prompts.length - 1})` : "";
  const what =
    p.kind === "friend"
      ? `${p.from} asks to be your friend`
      : p.kind === "group"
        ? `${p.user} asks to join #${p.group}`
        : p.files === undefined
          ? `#${p.n} ${p.peer} offers ${JSON.stringify(p.name)} (${formatBytes(p.size)})`
          : `#${p.n} ${p.peer} offers folder ${JSON.stringify(p.name)} (${p.files} files, ${formatBytes(p.size)})`;
  return `? ${what}${more}  Alt+Y accept · Alt+N decline`;
}

function statusLine(m: Model, cols: number, now: number): Row {
  const b = currentBuffer(m);
  const reg = m.lan.mode
    ? `LAN mode · ${lanCount(m)} on the LAN`
    : m.registry.status === "connected"
      ? m.registry.address
      : `${m.registry.address || "registry"} ${m.registry.status}`;
  const own = `${m.away ? "away" : "online"}${m.statusText ? ` · ${m.statusText}` : ""}`;
  const path = b.kind === "user" ? ` · ${b.name} via ${m.paths[b.name] ?? "—"}` : "";
  const hot = hotlist(m);
  const act = hot.length > 0 ? ` [act: ${hot.join(",")}]` : "";
  return row(`${clock(now)} ${m.me || "?"} (${own}) · ${reg}${path}${act}`, cols, "inverse");
}

/** The input line: "[buffer] text", scrolled so the cursor stays in view, cursor shown inverse. */
function inputLine(m: Model, cols: number): Row {
  const b = currentBuffer(m);
  const label = m.simple ? "[simple] " : `[${b.kind === "group" ? "#" : ""}${takeColumns(b.name, 16)}] `;
  const room = Math.max(1, cols - stringWidth(label) - 1);
  // Line breaks of a paste show as ↵; the cursor steps over whole clusters.
  const text = m.input.text.replaceAll("\n", "↵");
  const cursor = m.input.cursor;
  let start = 0;
  while (stringWidth(text.slice(start, cursor)) > room - 1)
    start += (clusters(text.slice(start))[0] ?? " ").length;
  const before = sanitize(text.slice(start, cursor));
  const atCursor = clusters(text.slice(cursor))[0] ?? " ";
  const after = sanitize(text.slice(cursor + atCursor.length));
  const cursorText = sanitize(atCursor);
  const used = stringWidth(label) + stringWidth(before) + stringWidth(cursorText);
  return [
    { text: label, style: "bold" },
    { text: before, style: "plain" },
    { text: cursorText, style: "inverse" },
    { text: fitColumns(after, Math.max(0, cols - used)), style: "plain" },
  ];
}

/** What a terminal smaller than the layouts get instead of them, or undefined if it is big enough. */
export function tooSmall(cols: number, rows: number): Row[] | undefined {
  if (cols >= MIN_COLS && rows >= MIN_ROWS) return undefined;
  const out = [row(`needs ${MIN_COLS}×${MIN_ROWS}, not ${cols}×${rows}`, cols)];
  while (out.length < rows) out.push(row("", cols));
  return out.slice(0, rows);
}

/** The main screen, `rows` rows of exactly `cols` columns each. */
export function frame(m: Model, cols: number, rows: number, now: number): Row[] {
  const small = tooSmall(cols, rows);
  if (small) return small;
  const transfers = visibleTransfers(m);
  const prompt = promptText(m);
  const bottom = (transfers.length > 0 ? transfers.length + 1 : 0) + (prompt ? 1 : 0) + 2;
  const mainRows = rows - bottom;
  const left = contactsCols(cols);
  const right = cols - left - 1;
  const out: Row[] = m.simple ? feedRows(m, cols, mainRows) : [];
  const contacts = m.simple ? [] : contactRows(m, left, mainRows);
  const convo = m.simple ? [] : conversationRows(m, right, mainRows, cols);
  for (let i = 0; i < (m.simple ? 0 : mainRows); i++) {
    out.push([
      ...(contacts[i] ?? row("", left)),
      { text: "│", style: "dim" },
      ...(convo[i] ?? row("", right)),
    ]);
  }
  if (transfers.length > 0) {
    const title = `${"─".repeat(left)}┴── transfers `;
    out.push(row(title + "─".repeat(Math.max(0, cols - stringWidth(title))), cols, "dim"));
    for (const t of transfers)
      out.push(row(transferRow(t, cols), cols, t.state === "failed" ? "error" : "plain"));
  }
  if (prompt) out.push(row(prompt, cols, "highlight"));
  out.push(statusLine(m, cols, now));
  out.push(inputLine(m, cols));
  return out;
}

export function plainText(rows: Row[]): string {
  return rows
    .map((r) =>
      r
        .map((s) => s.text)
        .join("")
        .trimEnd(),
    )
    .join("\n");
}
