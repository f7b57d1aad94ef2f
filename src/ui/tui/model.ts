/**
 * The terminal UI's view-model: plain data, no terminal. Reducers (reducers.ts) change it
 * from client events and user actions; the renderer (render.ts) only draws it. Like
 * weechat's buffers and hotlist, this is what the unit tests look at.
 *
 * Buffers: index 0 is the status buffer (registry, system lines, command answers); one
 * buffer per person or group talked with, opened on the first message either way.
 * The hotlist is derived: buffers with `unread > 0`, in buffer order.
 */

import type { ErrorCode } from "../../errors.js";
import type { MediaInfo, PreviewPixels } from "../../media/index.js";
import type { LanPeerView, TransferState, Via } from "../../peer/index.js";
import type { PresenceStatus, SearchHit } from "../../protocol/control.js";
import type { PathKind } from "../../traversal/candidates.js";
import type { RegistryChoice } from "../registry-choice.js";
import type { FeedEntry } from "./simple.js";
import { stringWidth, takeColumns, wrap } from "./text-width.js";

export type LineKind = "own" | "other" | "system" | "error";

export interface Line {
  at: number;
  kind: LineKind;
  from?: string;
  text: string;
  /** Message id, for delivery marks (own 1:1 messages) and history paging. */
  id?: string;
  /** A group message's place in its group, for history paging. */
  seq?: number;
  /** The media line of received file N (`/open N`), and its image's preview once decoded. */
  transfer?: number;
  preview?: PreviewPixels;
}

export type BufferKind = "status" | "user" | "group";

export interface ChatBuffer {
  kind: BufferKind;
  /** User or group name; "status" for the status buffer. */
  name: string;
  lines: Line[];
  unread: number;
  /** Rows scrolled up from the bottom; 0 follows new lines. */
  scrollRows: number;
  /** The first line that arrived while the buffer was out of view: the unread marker goes above it. */
  unreadFrom?: Line;
  /** Older history: being fetched, or none left on the registry. */
  older?: "loading" | "none";
  /** A message to keep in view and highlight (a search result jumped to), by id. */
  focus?: string;
}

export type MessageMark = "sending" | "sent" | "stored" | "delivered" | "queued";

/** A file, or a whole folder (`files` set): its files share one number and one row. */
export interface TransferView {
  /** The file's transfer id, or the folder's. */
  id: string;
  /** The number `/accept N`, `/decline N` and `/cancel N` take. */
  n: number;
  /** A folder: how many files it has and how many arrived. */
  files?: { total: number; done: number };
  direction: "send" | "receive";
  peer: string;
  name: string;
  size: number;
  bytes: number;
  state: TransferState;
  /** Smoothed bytes per second from progress events; 0 until two samples. */
  rateBps: number;
  sampleAt: number;
  sampleBytes: number;
  /** Received and done: where the file (or folder) is, for `/open N`, and what it is. */
  path?: string;
  media?: MediaInfo;
}

export type Prompt =
  | { kind: "friend"; from: string }
  | { kind: "group"; group: string; user: string }
  /** A file or folder offer (`files` set), answered by its transfer number `n`. */
  | { kind: "file"; id: string; n: number; peer: string; name: string; size: number; files?: number };

/** The screens in the order a session meets them; "main" is the chat. */
export type Screen = "registry" | "login" | "main";

export interface ScreenError {
  code: ErrorCode;
  message: string;
}

/** The registry screen: what mDNS found, or the offer to host one here. */
export interface RegistryView {
  phase: "searching" | "found" | "none" | "hosting";
  found: RegistryChoice[];
  selected: number;
  error?: ScreenError;
}

export type LoginField = "user" | "password" | "register";

/** The login screen. `password` is kept for the attempt only and never drawn, only masked. */
export interface LoginView {
  registry: RegistryChoice;
  /** The registry runs in this process (the user chose to host one). */
  hosted: boolean;
  /** The registry screen was shown, so Esc can go back to it. */
  canGoBack: boolean;
  user: string;
  password: string;
  /** The password comes from HALLWAY_PASSWORD; its field is not shown. */
  passwordFromEnv: boolean;
  register: boolean;
  field: LoginField;
  busy: boolean;
  error?: ScreenError;
  /** A line that is no error, such as the offer to register an unknown name. */
  note?: string;
}

export interface Model {
  screen: Screen;
  registryView: RegistryView;
  login: LoginView;
  me: string;
  registry: { status: "connecting" | "connected" | "lost"; address: string; fingerprint: string };
  /** Own presence: away (/away) or online (/back), as the registry last confirmed. */
  away: boolean;
  /** Own status text (the profile's statusText), as /status and /away TEXT set it. */
  statusText: string;
  /** The note `/away TEXT` set, which `/back` clears again; "" when none. */
  awayNote: string;
  buffers: ChatBuffer[];
  current: number;
  presence: Record<string, PresenceStatus>;
  /** Other people's status text ("lunch"), as their profiles said when last asked. */
  statuses: Record<string, string>;
  friends: string[];
  groups: string[];
  /** The path to each peer: its session's kind (lan, direct, punched) or how messages travel. */
  paths: Record<string, Via | PathKind>;
  marks: Record<string, MessageMark>;
  transfers: TransferView[];
  /** What the buffers were told of each folder, by number (transfer-text.ts `FolderLines`). */
  foldersTold: Map<number, Set<string>>;
  prompts: Prompt[];
  input: { text: string; cursor: number; history: string[]; historyIndex: number };
  /** Bumped for every notification that should ring the terminal bell. */
  bells: number;
  /** Desktop notifications not yet shown (a message in a buffer out of view); the root drains it. */
  notifications: Array<{ title: string; body: string }>;
  /**
   * Everyone the directory lists (`users`: the whole office under the open policy, friends
   * under the friends policy), and whoever presence news came about since.
   */
  directory: string[];
  /** The last `/search` results, numbered from 1 for `/jump N`. */
  searchHits: SearchHit[];
  /** Members of each group, as the last `groups` answer said. */
  groupMembers: Record<string, string[]>;
  /** "bob is online" lines shown in the current window, and those held back (rate limit). */
  presenceNews: { windowStart: number; shown: number; held: string[] };
  /** Inline image previews shown (Alt+I toggles). */
  previews: boolean;
  /** LAN discovery: whether in LAN mode (no registry), and the LAN directory (docs/discovery.md). */
  lan: { mode: boolean; peers: LanPeerView[] };
  /** Bounded scrollback per buffer. */
  maxLines: number;
  quit: boolean;
  /** Simple mode (simple.ts): the screen is the feed of every message instead of the panes. */
  simple: boolean;
  /** Every message line of every buffer, in arrival order (bounded like a buffer). */
  feed: FeedEntry[];
  /** Rows the feed is scrolled up from its bottom. */
  feedScroll: number;
}

export function createModel(me = "", maxLines = 2000): Model {
  return {
    screen: "main",
    registryView: { phase: "searching", found: [], selected: 0 },
    login: {
      registry: { name: "", address: { host: "", port: 0 }, fingerprint: "" },
      hosted: false,
      canGoBack: false,
      user: me,
      password: "",
      passwordFromEnv: false,
      register: false,
      field: "user",
      busy: false,
    },
    me,
    registry: { status: "connecting", address: "", fingerprint: "" },
    away: false,
    statusText: "",
    awayNote: "",
    buffers: [{ kind: "status", name: "status", lines: [], unread: 0, scrollRows: 0 }],
    current: 0,
    presence: {},
    statuses: {},
    friends: [],
    groups: [],
    paths: {},
    marks: {},
    transfers: [],
    foldersTold: new Map(),
    prompts: [],
    input: { text: "", cursor: 0, history: [], historyIndex: 0 },
    bells: 0,
    notifications: [],
    directory: [],
    searchHits: [],
    groupMembers: {},
    presenceNews: { windowStart: 0, shown: 0, held: [] },
    previews: true,
    lan: { mode: false, peers: [] },
    maxLines,
    quit: false,
    simple: false,
    feed: [],
    feedScroll: 0,
  };
}

export function currentBuffer(m: Model): ChatBuffer {
  return m.buffers[m.current] ?? (m.buffers[0] as ChatBuffer);
}

/** Buffer numbers (1-based, as Alt+N shows them) that have unread lines. */
export function hotlist(m: Model): number[] {
  return m.buffers.flatMap((b, i) => (b.unread > 0 ? [i + 1] : []));
}

export function totalUnread(m: Model): number {
  return m.buffers.reduce((n, b) => n + b.unread, 0);
}

/** "HH:MM" in local time. */
export function clock(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

const MARK_GLYPH: Record<MessageMark, string> = {
  sending: "…",
  sent: "✓",
  stored: "✉",
  delivered: "✓✓",
  queued: "⌛",
};

/** A message that starts with this is an action: "/me waves" shows as "* alice waves". */
export const ACTION_PREFIX = "/me ";

/**
 * One line as text before wrapping: "HH:MM nick │ text", with the delivery mark of own
 * messages. A multi-line message keeps its line breaks (bufferRows draws each line).
 */
export function formatLine(m: Model, line: Line): { prefix: string; text: string } {
  const action = line.from !== undefined && line.text.startsWith(ACTION_PREFIX);
  const who =
    line.kind === "system" || action
      ? "*"
      : line.kind === "error"
        ? "!"
        : line.from === undefined
          ? ""
          : line.from;
  const mark =
    line.kind === "own" && line.id !== undefined ? ` ${MARK_GLYPH[m.marks[line.id] ?? "sending"]}` : "";
  const nick = stringWidth(who) > 10 ? `${takeColumns(who, 9)}…` : who;
  const text = action ? `${line.from} ${line.text.slice(ACTION_PREFIX.length)}` : line.text;
  return {
    prefix: `${clock(line.at)} ${" ".repeat(10 - stringWidth(nick))}${nick} │ `,
    text: `${text}${mark}`,
  };
}

export type RowKind = LineKind | "marker" | "focus" | "image";

/**
 * A row of the conversation pane: text, or (kind "image") one row of half-block cells of a
 * preview, `indent` columns in; cell x shows pixels (x, 2·y) on top and (x, 2·y + 1) below.
 */
export interface PaneRow {
  kind: RowKind;
  text: string;
  image?: { pixels: PreviewPixels; y: number; indent: number };
}

/** A preview narrower than this would show nothing recognisable: no preview then. */
export const MIN_PREVIEW_COLS = 16;

/** The preview resampled (nearest pixel) to at most `cols` wide, or undefined when too narrow. */
export function fitPreview(p: PreviewPixels, cols: number): PreviewPixels | undefined {
  if (cols < Math.min(p.width, MIN_PREVIEW_COLS)) return undefined;
  if (p.width <= cols) return p;
  const width = cols;
  const height = Math.max(1, Math.round((p.height * cols) / p.width));
  const colors = new Uint8Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      colors[y * width + x] = p.colors[
        Math.floor((y * p.height) / height) * p.width + Math.floor((x * p.width) / width)
      ] as number;
  return { width, height, colors };
}

/** The line drawn above the first message that arrived while the buffer was out of view. */
export const UNREAD_MARKER = "── new ──";

/** The rows one line of `b` wraps to, with the unread marker above it when it is the first unread. */
function lineRows(m: Model, b: ChatBuffer, line: Line, cols: number): PaneRow[] {
  const rows: PaneRow[] = [];
  if (line === b.unreadFrom) {
    const side = "─".repeat(Math.max(0, Math.floor((cols - stringWidth(UNREAD_MARKER)) / 2)));
    rows.push({ kind: "marker", text: side + UNREAD_MARKER + side });
  }
  const { prefix, text } = formatLine(m, line);
  const indent = " ".repeat(stringWidth(prefix));
  const kind = b.focus !== undefined && line.id === b.focus ? "focus" : line.kind;
  text.split("\n").forEach((part, i) => {
    for (const row of wrap((i === 0 ? prefix : indent) + part, cols, indent)) rows.push({ kind, text: row });
  });
  // Shown when the pane is wide enough for it beside the text column's indent.
  const pixels = line.preview && m.previews ? fitPreview(line.preview, cols - indent.length) : undefined;
  if (pixels) {
    for (let y = 0; y < Math.ceil(pixels.height / 2); y++)
      rows.push({ kind: "image", text: "", image: { pixels, y, indent: indent.length } });
  }
  return rows;
}

/** The rows of buffer `b` wrapped to `cols`, oldest first, with the unread marker. */
export function bufferRows(m: Model, b: ChatBuffer, cols: number): PaneRow[] {
  return b.lines.flatMap((line) => lineRows(m, b, line, cols));
}

/**
 * The last `count` rows of `b` (fewer if it has fewer), wrapping only the lines they come
 * from: a frame costs the rows it shows, not the whole scrollback.
 */
export function lastRows(m: Model, b: ChatBuffer, cols: number, count: number): PaneRow[] {
  const parts: Array<PaneRow[]> = [];
  let n = 0;
  for (let i = b.lines.length - 1; i >= 0 && n < count; i--) {
    const rows = lineRows(m, b, b.lines[i] as Line, cols);
    parts.push(rows);
    n += rows.length;
  }
  return parts.reverse().flat().slice(-count);
}

/**
 * Rows scrolled up from the bottom: `scrollRows`, or, while a message has the focus, what
 * puts it in the middle of the pane.
 */
export function effectiveScroll(
  rows: ReadonlyArray<{ kind: RowKind }>,
  b: ChatBuffer,
  height: number,
): number {
  if (b.focus === undefined) return b.scrollRows;
  const at = rows.findIndex((r) => r.kind === "focus");
  if (at < 0) return b.scrollRows;
  const end = Math.min(rows.length, at + Math.ceil(height / 2));
  return Math.max(0, rows.length - Math.max(end, Math.min(rows.length, height)));
}

/** What the conversation pane shows: `height` rows ending `scrollRows` above the last one. */
export function visibleRows(m: Model, b: ChatBuffer, cols: number, height: number): PaneRow[] {
  if (b.focus === undefined) {
    const rows = lastRows(m, b, cols, b.scrollRows + height);
    const end = Math.max(0, rows.length - b.scrollRows);
    return rows.slice(Math.max(0, end - height), end);
  }
  const rows = bufferRows(m, b, cols);
  const end = Math.max(0, rows.length - effectiveScroll(rows, b, height));
  return rows.slice(Math.max(0, end - height), end);
}

/** "[#####     ]  42%  1.2 MB/s  ETA 0:07" for a transfer in `cols` columns. */
export function progressText(t: TransferView): { percent: number; rate: string; eta: string } {
  const percent = t.size === 0 ? 100 : Math.floor((t.bytes / t.size) * 100);
  const rate = t.rateBps > 0 ? `${formatBytes(t.rateBps)}/s` : "";
  const left = t.size - t.bytes;
  const etaS = t.rateBps > 0 && left > 0 ? Math.ceil(left / t.rateBps) : undefined;
  const eta = etaS === undefined ? "" : `ETA ${Math.floor(etaS / 60)}:${String(etaS % 60).padStart(2, "0")}`;
  return { percent, rate, eta };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(1)} GB`;
}
