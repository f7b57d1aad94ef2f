/**
 * Simple mode (`hallway --simple`, F2 toggles it): the main screen becomes one compact,
 * scrolling list of every message from every person and group, each line prefixed with where
 * it came from (`@bob`, `#ops`), in the order they arrived; typing `@name text` or
 * `#group text` answers there. The buffers go on underneath, so leaving simple mode finds
 * every conversation as it was.
 *
 * The feed is a view of the buffers' lines, not a copy: `noteFeed` (called by `addLine`)
 * keeps a reference to each message line, so delivery marks follow. While simple mode is on,
 * the answers and errors of commands go to the feed as well (the status buffer is out of
 * view). Pure model and layout; the renderer draws the rows like any others.
 */

import type { Row } from "./frame.js";
import { type ChatBuffer, formatLine, type Line, type Model, type RowKind } from "./model.js";
import { fitColumns, stringWidth, wrap } from "./text-width.js";

export interface FeedEntry {
  /** Where the line belongs: `@name` for a person, `#name` for a group, `*` for a note. */
  where: string;
  line: Line;
}

/** Adds a line that `addLine` put in buffer `b` to the feed, if the feed shows it. */
export function noteFeed(m: Model, b: ChatBuffer, index: number, line: Line): void {
  const message = (b.kind === "user" || b.kind === "group") && (line.kind === "own" || line.kind === "other");
  // Notes (command answers, errors) only while the feed is what the user looks at.
  const note = m.simple && (line.kind === "system" || line.kind === "error") && index === m.current;
  if (!message && !note) return;
  m.feed.push({ where: message ? `${b.kind === "group" ? "#" : "@"}${b.name}` : "*", line });
  if (m.feed.length > m.maxLines) m.feed.splice(0, m.feed.length - m.maxLines);
  if (m.feedScroll > 0) m.feedScroll += 1;
}

export function toggleSimple(m: Model): void {
  m.simple = !m.simple;
  m.feedScroll = 0;
}

const STYLE: Record<RowKind, Row[number]["style"]> = {
  own: "own",
  other: "plain",
  system: "system",
  error: "error",
  marker: "highlight",
  focus: "highlight",
  // The feed shows a received image as its line; its preview stays in the conversation.
  image: "plain",
};

/** The rows of one feed entry: "HH:MM #ops bob │ text", wrapped under the text. */
function entryRows(m: Model, e: FeedEntry, cols: number): Array<{ kind: RowKind; text: string }> {
  const { prefix, text } = formatLine(m, e.line);
  // formatLine's prefix is "HH:MM      nick │ "; here the place goes first and the nick is not padded.
  const time = prefix.slice(0, 5);
  const nick = prefix.slice(6, -3).trim();
  const head = e.where === "*" ? `${time} ${nick} ` : `${time} ${e.where} ${nick}: `;
  const indent = " ".repeat(Math.min(8, stringWidth(head)));
  const rows: Array<{ kind: RowKind; text: string }> = [];
  text.split("\n").forEach((part, i) => {
    for (const r of wrap((i === 0 ? head : indent) + part, cols, indent))
      rows.push({ kind: e.line.kind, text: r });
  });
  return rows;
}

/** The feed as `height` rows of `cols` columns: a title, then the newest rows, `feedScroll` up. */
export function feedRows(m: Model, cols: number, height: number): Row[] {
  const title = "simple · every message · @name text or #group text answers · F2 back";
  const out: Row[] = [[{ text: fitColumns(title, cols), style: "bold" }]];
  const body = height - 1;
  const want = m.feedScroll + body;
  const parts: Array<Array<{ kind: RowKind; text: string }>> = [];
  let n = 0;
  for (let i = m.feed.length - 1; i >= 0 && n < want; i--) {
    const rows = entryRows(m, m.feed[i] as FeedEntry, cols);
    parts.push(rows);
    n += rows.length;
  }
  const rows = parts.reverse().flat();
  const end = Math.max(0, rows.length - m.feedScroll);
  const shown = rows.slice(Math.max(0, end - body), end);
  for (let i = shown.length; i < body; i++) out.push([{ text: fitColumns("", cols), style: "plain" }]);
  for (const r of shown) out.push([{ text: fitColumns(r.text, cols), style: STYLE[r.kind] }]);
  if (m.feedScroll > 0 && out.length > 1) {
    out[out.length - 1] = [
      { text: fitColumns(`-- ${m.feedScroll} more rows below (PageDown) --`, cols), style: "highlight" },
    ];
  }
  return out;
}

/** PageUp (`rows` > 0) or PageDown in the feed, never past its top or bottom. */
export function scrollFeed(m: Model, rows: number, cols: number, height: number): void {
  let total = 0;
  for (let i = m.feed.length - 1; i >= 0 && total < m.feedScroll + rows + height; i--) {
    total += entryRows(m, m.feed[i] as FeedEntry, cols).length;
  }
  m.feedScroll = Math.max(0, Math.min(m.feedScroll + rows, total - (height - 1)));
}
