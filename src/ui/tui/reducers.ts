/**
 * Reducers of the terminal UI's view-model: `applyEvent` for every PeerEvent the client core
 * emits, and small actions for what the user does (switch buffers, scroll, edit the input).
 * They change the model in place and touch no terminal; `now` is passed in, never read.
 *
 * EVENT_REDUCERS is keyed by every event name of PeerEvent: a new event type without a case
 * here fails the typecheck, and test/ui/reducers.test.ts feeds each one.
 */

import type { PreviewPixels } from "../../media/index.js";
import type { LanPeerView, PeerEvent, TransferEvent, Via } from "../../peer/events.js";
import { PRIVATE_PROFILE_FIELDS, type PresenceStatus } from "../../protocol/control.js";
import { dropLine, dropsText } from "../drop-text.js";
import { presenceMark } from "../presence-mark.js";
import { FolderLines, folderState, mediaLine } from "../transfer-text.js";
import {
  type BufferKind,
  type ChatBuffer,
  clock,
  currentBuffer,
  type Line,
  type LineKind,
  type Model,
  type Prompt,
  type TransferView,
} from "./model.js";
import { noteFeed } from "./simple.js";
import { clusters, sanitize } from "./text-width.js";

export type EventName = PeerEvent["event"];
type EventOf<K extends EventName> = PeerEvent & { event: K };
type Reducer<K extends EventName> = (m: Model, e: EventOf<K>, now: number) => void;

/** Index of the buffer for `name`, opened (appended) if there is none yet. */
export function openBuffer(m: Model, kind: BufferKind, rawName: string): number {
  const name = rawName.toLowerCase();
  const i = m.buffers.findIndex((b) => b.kind === kind && b.name === name);
  if (i >= 0) return i;
  m.buffers.push({ kind, name, lines: [], unread: 0, scrollRows: 0 });
  return m.buffers.length - 1;
}

function findBuffer(m: Model, kind: BufferKind, name: string): ChatBuffer | undefined {
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

function errorLine(m: Model, text: string, now: number): void {
  addLine(m, m.current, { at: now, kind: "error", text });
}

function toCurrent(m: Model, text: string, now: number): void {
  systemLine(m, text, now, m.current);
}

/**
 * A system line in the buffer of `name` if one is open, else in the status buffer. `#name` is
 * a group (a file sent to it through the drop box).
 */
function aboutUser(m: Model, name: string, text: string, now: number): void {
  const group = name.startsWith("#");
  const want = (group ? name.slice(1) : name).toLowerCase();
  const i = m.buffers.findIndex((b) => b.kind === (group ? "group" : "user") && b.name === want);
  systemLine(m, text, now, Math.max(i, 0));
}

/** Inserts `name` into the sorted `list` unless it is there (a binary search: the directory may be long). */
function addUnique(list: string[], name: string): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as string) < name) lo = mid + 1;
    else hi = mid;
  }
  if (list[lo] !== name) list.splice(lo, 0, name);
}

function removeFrom(list: string[], name: string): void {
  const i = list.indexOf(name);
  if (i >= 0) list.splice(i, 1);
}

/** False if the same question is already waiting (the registry repeats it after a re-login). */
function addPrompt(m: Model, p: Prompt): boolean {
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

function incoming(m: Model, index: number, kind: LineKind, line: Line): void {
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

/** Smoothing of the transfer rate: new sample weight, and the shortest interval worth sampling. */
const RATE_WEIGHT = 0.3;
const RATE_SAMPLE_MS = 250;

/**
 * A message says how it travelled; a `path` event says which path a session took. A direct
 * message does not overwrite the finer kind (lan, punched) a path event gave.
 */
function notePath(m: Model, peer: string, via: Via): void {
  if (via === "offline") return;
  if (via === "relay" || m.paths[peer] === undefined) m.paths[peer] = via;
}

const KEEP_FINISHED_TRANSFERS = 20;
const ENDED_STATES: ReadonlySet<string> = new Set(["done", "failed", "cancelled"]);

/**
 * A transfer's row and lines. A folder is one row under its own id, its files' bytes summed,
 * and one line per step of the whole folder (transfer-text.ts `FolderLines`): its offer, its
 * answer, its end, and a file that failed alone. Lines are plain words led by the number.
 */
function reduceTransfer(m: Model, e: TransferEvent, now: number): void {
  const folder = e.batch;
  const id = folder?.id ?? e.id;
  const bytes = folder?.bytesDone ?? e.bytes;
  let t: TransferView | undefined = m.transfers.find((x) => x.id === id);
  // A folder that ended was told so; its other files' ends add nothing.
  if (t && ENDED_STATES.has(t.state)) return;
  if (!t) {
    t = {
      id,
      n: e.n,
      direction: e.direction,
      peer: e.peer,
      name: sanitize(folder?.name ?? e.name),
      size: folder?.bytes ?? e.size,
      bytes,
      state: e.state,
      rateBps: 0,
      sampleAt: now,
      sampleBytes: bytes,
    };
    m.transfers.push(t);
  }
  const dt = now - t.sampleAt;
  if (e.state === "progress" && dt >= RATE_SAMPLE_MS) {
    const sample = ((bytes - t.sampleBytes) / dt) * 1000;
    t.rateBps = t.rateBps === 0 ? sample : t.rateBps * (1 - RATE_WEIGHT) + sample * RATE_WEIGHT;
    t.sampleAt = now;
    t.sampleBytes = bytes;
  }
  t.bytes = bytes;
  t.state = folder ? folderState(t.state, e) : e.state;
  if (folder) t.files = { total: folder.files, done: folder.filesDone };
  const text = new FolderLines(m.foldersTold).line(e);
  // A folder's later files are offered too, after its answer: only its first offer asks.
  if (e.state === "offered" && e.direction === "receive" && text !== undefined) {
    addPrompt(m, {
      kind: "file",
      id: e.id,
      n: e.n,
      peer: e.peer,
      name: t.name,
      size: t.size,
      ...(folder ? { files: folder.files } : {}),
    });
  } else if (e.state !== "offered") {
    dropPrompt(m, `file:${e.n}`);
  }
  for (const line of text?.split("\n") ?? []) aboutUser(m, e.peer, line, now);
  noteReceived(m, t, e, now);
  if (ENDED_STATES.has(t.state)) {
    if (t.state === "done") m.bells += 1;
    const finished = m.transfers.filter((x) => ENDED_STATES.has(x.state));
    const drop = new Set(finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED_TRANSFERS)));
    m.transfers = m.transfers.filter((x) => !drop.has(x));
  }
}

/**
 * A received file that is done: where it is (for `/open N`), and, for an image, video or
 * audio file, its media line; an image's preview is attached to that line when decoded
 * (`previewReady`).
 */
function noteReceived(m: Model, t: TransferView, e: TransferEvent, now: number): void {
  if (e.direction !== "receive" || e.state !== "done") return;
  const path = e.batch?.path ?? e.path;
  if (path !== undefined) t.path = path;
  if (e.media !== undefined && !e.batch) t.media = e.media;
  const media = mediaLine(e);
  if (media === undefined) return;
  const i = Math.max(
    0,
    m.buffers.findIndex((b) => b.kind === "user" && b.name === e.peer.toLowerCase()),
  );
  addLine(m, i, { at: now, kind: "system", text: media, transfer: e.n });
}

/** A decoded preview for received file `n`: drawn under its media line. False if that line is gone. */
export function previewReady(m: Model, n: number, pixels: PreviewPixels): boolean {
  for (const b of m.buffers) {
    for (let i = b.lines.length - 1; i >= 0; i--) {
      const line = b.lines[i] as Line;
      if (line.transfer !== n) continue;
      line.preview = pixels;
      return true;
    }
  }
  return false;
}

/** Alt+I: image previews shown or hidden. */
export function togglePreviews(m: Model): void {
  m.previews = !m.previews;
}

/** One device of the LAN directory, in words. */
function lanLine(p: LanPeerView, state: "up" | "changed" | "down"): string {
  if (state === "down") return `${p.user} left the LAN`;
  const warn = p.conflicting
    ? " — CONFLICT: another device announces this name with another key; neither is trusted"
    : "";
  return `${p.user} is on the LAN at ${p.address} (${p.presence}, key ${p.fingerprint})${warn}`;
}

function okText(e: EventOf<"ok">): string {
  const detail = Object.entries(e)
    .filter(([k]) => k !== "event" && k !== "cmd")
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(", ");
  return `${e.cmd}: done${detail ? ` (${detail})` : ""}`;
}

export const EVENT_REDUCERS: { [K in EventName]: Reducer<K> } = {
  ready: (m, e, now) => {
    m.me = e.user;
    systemLine(m, `logged in as ${e.user}. /help lists the commands`, now);
  },
  registry: (m, e, now) => {
    const changed = m.registry.status !== e.status || m.registry.address !== e.address;
    m.registry = { status: e.status, address: e.address, fingerprint: e.fingerprint };
    if (!changed) return;
    systemLine(
      m,
      e.status === "connected"
        ? `connected to the registry at ${e.address} (key ${e.fingerprint})`
        : `lost the registry at ${e.address}; reconnecting…`,
      now,
    );
  },
  message: (m, e) => {
    const own = e.from === m.me;
    const peer = own ? e.to : e.from;
    notePath(m, peer, e.via);
    const i = openBuffer(m, "user", peer);
    const away = e.via === "offline" ? " (while you were away)" : "";
    // The id lets history pages and search results find this line instead of adding it again.
    if (own) m.marks[e.id] ??= "delivered";
    incoming(m, i, own ? "own" : "other", {
      at: e.sentAt,
      kind: "other",
      from: e.from,
      text: e.text + away,
      id: e.id,
    });
  },
  sent: (m, e) => {
    m.marks[e.id] = e.via === "offline" ? "stored" : m.marks[e.id] === "delivered" ? "delivered" : "sent";
    notePath(m, e.to, e.via);
  },
  path: (m, e) => {
    m.paths[e.peer] = e.kind;
  },
  delivered: (m, e) => {
    m.marks[e.id] = "delivered";
  },
  presence: (m, e, now) => {
    const before = m.presence[e.user];
    m.presence[e.user] = e.status;
    if (e.user === m.me || before === e.status) return;
    addUnique(m.directory, e.user);
    const news = `${e.user} ${presenceNews(before, e.status)}`;
    const b = findBuffer(m, "user", e.user);
    if (b) aboutUser(m, e.user, news, now);
    statusNews(m, news, now);
  },
  users: (m, e, now) => {
    noteDirectory(m, e.users);
    const list = e.users.map((u) => `${presenceMark(u.status)} ${u.name}`).join("  ");
    toCurrent(m, `users: ${list || "(none)"}`, now);
  },
  history: (m, e) => {
    const i = openBuffer(m, "user", e.with);
    const b = m.buffers[i] as ChatBuffer;
    const have = new Set(b.lines.map((l) => l.id).filter((id) => id !== undefined));
    const older: Line[] = [];
    for (const h of e.messages) {
      if (have.has(h.id)) continue;
      const own = h.from === m.me;
      older.push({
        at: h.sentAt,
        kind: own ? "own" : "other",
        from: h.from,
        text: sanitize(h.text, true),
        id: h.id,
      });
      if (own) m.marks[h.id] = h.deliveredAt === null ? "stored" : "delivered";
    }
    // Only an empty page says the registry has nothing older: a page of lines the buffer
    // already has (recalled from the local log) does not.
    b.older = e.messages.length === 0 ? "none" : undefined;
    b.lines = [...older, ...b.lines].sort((a, c) => a.at - c.at).slice(-m.maxLines);
  },
  found: (m, e, now) => {
    m.searchHits = e.hits;
    if (e.hits.length === 0) {
      toCurrent(m, `no message contains "${e.query}"`, now);
      return;
    }
    const n = e.hits.length;
    toCurrent(m, `${n} message${n === 1 ? " contains" : "s contain"} "${e.query}"; /jump N opens one:`, now);
    e.hits.forEach((h, i) => {
      const where =
        h.group === undefined ? (h.from === m.me ? `→ ${h.with ?? ""}` : h.from) : `#${h.group} ${h.from}`;
      const text = h.text.replace(/\s+/g, " ");
      toCurrent(
        m,
        `[${i + 1}] ${clock(h.sentAt)} ${where}: ${text.length > 80 ? `${text.slice(0, 79)}…` : text}`,
        now,
      );
    });
  },
  error: (m, e, now) => {
    errorLine(m, `${e.message} (${e.code})`, now);
  },
  "lan.mode": (m, e, now) => {
    m.lan.mode = e.lan;
    systemLine(
      m,
      e.lan
        ? "LAN mode: no registry. You can chat and send files to people on this LAN (/lan lists them); messages to others wait until they appear or the registry is back"
        : "the registry is back: LAN mode ends",
      now,
    );
  },
  "lan.peer": (m, e, now) => {
    const { event: _e, state, why: _w, ...view } = e;
    m.lan.peers = m.lan.peers.filter((p) => p.user !== view.user || p.fingerprint !== view.fingerprint);
    if (state !== "down") {
      m.lan.peers.push(view);
      m.lan.peers.sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
      addUnique(m.directory, view.user);
    }
    // Without a registry, the LAN is who is there.
    if (m.lan.mode) m.presence[view.user] = state === "down" ? "offline" : view.presence;
    if (state === "changed" && !view.conflicting) return;
    systemLine(m, lanLine(view, state), now);
  },
  "lan.peers": (m, e, now) => {
    m.lan = { mode: e.lan, peers: e.peers };
    for (const p of e.peers) addUnique(m.directory, p.user);
    const head = `${e.lan ? "LAN mode" : "registry mode"}; this peer ${e.announcing ? "announces itself" : "does not announce itself"} on the LAN`;
    toCurrent(m, `${head}. On the LAN: ${e.peers.length === 0 ? "nobody yet" : ""}`, now);
    for (const p of e.peers) toCurrent(m, `  ${lanLine(p, "up")}`, now);
  },
  queued: (m, e, now) => {
    m.marks[e.id] = "queued";
    aboutUser(m, e.to, `${e.to} is not on the LAN: the message waits and goes when they appear`, now);
  },
  bye: (m, _e, now) => {
    systemLine(m, "logged out", now);
  },
  "friend.request": (m, e, now) => {
    if (!addPrompt(m, { kind: "friend", from: e.from })) return;
    aboutUser(m, e.from, `${e.from} asks to be your friend: /accept ${e.from} or /decline ${e.from}`, now);
  },
  "friend.accepted": (m, e, now) => {
    addUnique(m.friends, e.by);
    aboutUser(m, e.by, `${e.by} is now your friend`, now);
  },
  "friend.declined": (m, e, now) => {
    aboutUser(m, e.by, `${e.by} declined your friend request`, now);
  },
  "friend.removed": (m, e, now) => {
    removeFrom(m.friends, e.by);
    aboutUser(m, e.by, `${e.by} removed you from their friends`, now);
  },
  "group.joinRequest": (m, e, now) => {
    if (!addPrompt(m, { kind: "group", group: e.group, user: e.user })) return;
    const i = openBuffer(m, "group", e.group);
    systemLine(m, `${e.user} asks to join #${e.group}: /accept ${e.user} or /decline ${e.user}`, now, i);
  },
  "group.joined": (m, e, now) => {
    if (e.user === m.me) addUnique(m.groups, e.group);
    addMember(m, e.group, e.user);
    const i = openBuffer(m, "group", e.group);
    systemLine(m, e.user === m.me ? `you joined #${e.group}` : `${e.user} joined #${e.group}`, now, i);
  },
  "group.declined": (m, e, now) => {
    systemLine(m, `your request to join #${e.group} was declined`, now);
  },
  "group.removed": (m, e, now) => {
    removeFrom(m.groups, e.group);
    delete m.groupMembers[e.group];
    const b = findBuffer(m, "group", e.group);
    const i = b ? m.buffers.indexOf(b) : 0;
    systemLine(m, `${e.by} removed you from #${e.group}`, now, i);
  },
  "group.admin": (m, e, now) => {
    const i = openBuffer(m, "group", e.group);
    systemLine(m, `${e.user === m.me ? "you are" : `${e.user} is`} now the admin of #${e.group}`, now, i);
  },
  groupMessage: (m, e) => {
    addUnique(m.groups, e.group);
    // Whoever writes in a group is in it (the list may predate their joining).
    addMember(m, e.group, e.from);
    const i = openBuffer(m, "group", e.group);
    const b = m.buffers[i] as ChatBuffer;
    if (b.lines.some((l) => l.id === e.id)) return;
    const own = e.from === m.me;
    incoming(m, i, own ? "own" : "other", {
      at: e.sentAt,
      kind: "other",
      from: e.from,
      text: e.text,
      id: e.id,
      seq: e.seq,
    });
  },
  ok: (m, e, now) => {
    const group = typeof e.group === "string" ? e.group : undefined;
    const user = typeof e.user === "string" ? e.user : undefined;
    const from = typeof e.from === "string" ? e.from : undefined;
    if ((e.cmd === "friend.accept" || e.cmd === "friend.decline") && from) dropPrompt(m, `friend:${from}`);
    if (e.cmd === "friend.accept" && from) addUnique(m.friends, from);
    if ((e.cmd === "group.approve" || e.cmd === "group.decline") && group && user) {
      dropPrompt(m, `group:${group}:${user}`);
    }
    if (e.cmd === "group.create" && group) {
      addUnique(m.groups, group);
      addMember(m, group, m.me);
      openBuffer(m, "group", group);
    }
    if (e.cmd === "group.approve" && group && user) addMember(m, group, user);
    if (e.cmd === "group.leave" && group) {
      removeFrom(m.groups, group);
      delete m.groupMembers[group];
    }
    if (e.cmd === "presence") {
      m.away = e.status === "away";
      toCurrent(m, m.away ? "you are away (still reachable; /back returns)" : "you are back", now);
      return;
    }
    toCurrent(m, okText(e), now);
  },
  friends: (m, e, now) => {
    m.friends = e.friends.map((f) => f.name).sort();
    for (const f of e.friends) m.presence[f.name] = f.status;
    for (const r of e.incoming) addPrompt(m, { kind: "friend", from: r.from });
    const parts = [
      ...e.friends.map((f) => `${presenceMark(f.status)} ${f.name}`),
      ...e.incoming.map((r) => `? ${r.from} asks`),
      ...e.outgoing.map((r) => `… waiting for ${r.to}`),
    ];
    toCurrent(m, `friends: ${parts.join("  ") || "(none yet: /add NAME)"}`, now);
  },
  search: (m, e, now) => {
    const users = e.users.map((u) => (u.displayName ? `${u.name} (${u.displayName})` : u.name));
    const groups = e.groups.map((g) => `#${g.name}`);
    toCurrent(m, `search "${e.query}": ${[...users, ...groups].join("  ") || "nothing found"}`, now);
  },
  groups: (m, e, now) => {
    noteGroups(m, e);
    const list = e.groups
      .map(
        (g) =>
          `#${g.name} (${g.members.length}, admin ${g.admin})${g.description ? `: ${g.description}` : ""}`,
      )
      .join("  ");
    toCurrent(m, `groups: ${list || "(none)"}`, now);
  },
  "group.sent": (m, e) => {
    m.marks[e.id] = "delivered";
  },
  "group.history": (m, e) => {
    const i = openBuffer(m, "group", e.group);
    const b = m.buffers[i] as ChatBuffer;
    const have = new Set(b.lines.map((l) => l.id).filter((id) => id !== undefined));
    const older: Line[] = e.messages
      .filter((g) => !have.has(g.id))
      .map((g) => ({
        at: g.sentAt,
        kind: g.from === m.me ? "own" : "other",
        from: g.from,
        text: sanitize(g.text, true),
        id: g.id,
        seq: g.seq,
      }));
    b.older = e.messages.length === 0 ? "none" : undefined;
    b.lines = [...older, ...b.lines].sort((a, c) => a.at - c.at).slice(-m.maxLines);
  },
  profile: (m, e, now) => {
    noteProfile(m, e);
    toCurrent(m, `profile of ${e.user}: ${profileText(e)}`, now);
  },
  suggest: (m, e, now) => {
    const list = e.suggestions.map((s) => `${s.name} (${s.mutualFriends} mutual, ${s.sharedGroups} groups)`);
    toCurrent(m, `people you may know: ${list.join("  ") || "(none)"}`, now);
  },
  transfer: reduceTransfer,
  drop: (m, e, now) => {
    if (e.drop.from === "") toCurrent(m, dropLine(e.drop), now);
    // A group's file in the group's buffer, a person's in theirs.
    else aboutUser(m, e.drop.to.startsWith("#") ? e.drop.to : e.drop.from, dropLine(e.drop), now);
  },
  drops: (m, e, now) => {
    for (const line of ["drop box:", ...dropsText(e.sent, e.received).split("\n")]) toCurrent(m, line, now);
  },
};

/** Presence lines the status buffer shows per window; more are summed up in one line. */
export const PRESENCE_NEWS_LINES = 3;
export const PRESENCE_NEWS_WINDOW_MS = 10_000;

/**
 * "bob is online" in the status buffer, at most PRESENCE_NEWS_LINES per window: when many
 * change at once (a registry restart, the morning), the rest wait for one summing-up line.
 */
function statusNews(m: Model, news: string, now: number): void {
  flushPresenceNews(m, now);
  const n = m.presenceNews;
  if (n.shown < PRESENCE_NEWS_LINES) {
    n.shown++;
    systemLine(m, news, now, 0);
  } else {
    n.held.push(news);
  }
}

/** Ends a window that is over: the held lines become one. True if a line was added. */
export function flushPresenceNews(m: Model, now: number): boolean {
  const n = m.presenceNews;
  if (now - n.windowStart < PRESENCE_NEWS_WINDOW_MS) return false;
  const held = n.held;
  m.presenceNews = { windowStart: now, shown: 0, held: [] };
  if (held.length === 0) return false;
  const shown = held.slice(0, 5).join(", ");
  const more = held.length > 5 ? ` and ${held.length - 5} more` : "";
  systemLine(m, `${held.length} presence changes: ${shown}${more}`, now, 0);
  return true;
}

/** A member the last `groups` answer did not know yet (a join since, a group just made). */
function addMember(m: Model, group: string, user: string): void {
  const members = m.groupMembers[group] ?? (m.me === "" ? [] : [m.me]);
  addUnique(members, user);
  m.groupMembers[group] = members;
}

/** Your groups and their members, from a `groups` answer, with no line. */
export function noteGroups(m: Model, e: EventOf<"groups">): void {
  m.groups = e.groups.map((g) => g.name).sort();
  m.groupMembers = {};
  for (const g of e.groups) m.groupMembers[g.name] = [...g.members].sort();
}

/** `/names`: "#ops (3): @alice ●bob ○carol", members online first, the admin marked @. */
export function namesLine(m: Model, e: EventOf<"groups">, group: string): string {
  const g = e.groups.find((x) => x.name === group);
  if (!g) return `you are not in #${group}`;
  const rank = (n: string): number =>
    m.presence[n] === "online" || n === m.me ? 0 : m.presence[n] === "away" ? 1 : 2;
  const names = [...g.members]
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1))
    .map(
      (n) =>
        `${n === g.admin ? "@" : ""}${presenceMark(n === m.me ? "online" : (m.presence[n] ?? "offline"))}${n}`,
    );
  return `#${g.name} (${g.members.length}): ${names.join("  ")}`;
}

/**
 * The directory's answer: who is listed (it replaces the list: under `--policy friends` a
 * friend removed is gone from it), and their presence; no line (the pane shows them).
 */
export function noteDirectory(
  m: Model,
  users: ReadonlyArray<{ name: string; status: PresenceStatus }>,
): void {
  for (const u of users) m.presence[u.name] = u.status;
  m.directory = [...new Set(users.map((u) => u.name).filter((n) => n !== m.me))].sort();
}

/** The line a conversation shows when its peer's presence changes. */
function presenceNews(before: PresenceStatus | undefined, now: PresenceStatus): string {
  if (now === "away") return "is away";
  if (now === "offline") return "went offline";
  return before === "away" ? "is back" : "is online";
}

/** A profile's fields in one line; what the registry did not show is left out. */
export function profileText(e: EventOf<"profile">): string {
  const fields = (["displayName", ...PRIVATE_PROFILE_FIELDS] as const)
    .filter((k) => typeof e[k] === "string" && e[k] !== "")
    .map((k) =>
      k === "birthDate" && typeof e.age === "number" ? `${k}: ${e[k]} (age ${e.age})` : `${k}: ${e[k]}`,
    );
  const hidden = Object.entries(e.visibility ?? {}).map(([k, who]) => `${k} ${who}`);
  if (hidden.length > 0) fields.push(`seen by: ${hidden.join(", ")}`);
  return sanitize(fields.join(", ")) || "(empty)";
}

/** What a profile says: own status text, or another person's (their presence comes from the registry). */
export function noteProfile(m: Model, e: EventOf<"profile">): void {
  const text = sanitize(e.statusText ?? "");
  if (e.user === m.me) m.statusText = text;
  else if (text === "") delete m.statuses[e.user];
  else m.statuses[e.user] = text;
}

export function applyEvent(m: Model, e: PeerEvent, now: number): void {
  const reducer = EVENT_REDUCERS[e.event] as (m: Model, e: PeerEvent, now: number) => void;
  reducer(m, e, now);
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
