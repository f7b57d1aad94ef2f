/**
 * Reducers of the terminal UI's view-model: `applyEvent` for every PeerEvent the client core
 * emits. They change the model in place and touch no terminal; `now` is passed in, never read.
 *
 * EVENT_REDUCERS is keyed by every event name of PeerEvent: a new event type without a case
 * here fails the typecheck, and test/unit/ui/reducers.test.ts feeds each one.
 *
 * The parts it uses, each re-exported from here:
 *   - `buffers.ts`: buffers, lines, prompts, and the user's buffer actions (switch, scroll,
 *     recall, an own message);
 *   - `transfer-rows.ts`: transfer rows, their lines and media previews;
 *   - `social-news.ts`: presence news, groups, the directory, profiles;
 *   - `input-line.ts`: editing, history and completion of the input line.
 */

import type { LanPeerView, PeerEvent, Via } from "../../peer/index.js";
import { dropLine, dropsText } from "../drop-text.js";
import { presenceMark } from "../presence-mark.js";
import {
  aboutUser,
  addPrompt,
  addUnique,
  dropPrompt,
  errorLine,
  findBuffer,
  incoming,
  openBuffer,
  removeFrom,
  systemLine,
  toCurrent,
} from "./buffers.js";
import { type ChatBuffer, clock, type Line, type Model } from "./model.js";
import {
  addMember,
  noteDirectory,
  noteGroups,
  noteProfile,
  presenceNews,
  profileText,
  statusNews,
} from "./social-news.js";
import { sanitize } from "./text-width.js";
import { reduceTransfer } from "./transfer-rows.js";

export {
  addLine,
  cycleBuffer,
  dropPrompt,
  messageQueued,
  nextUnread,
  openBuffer,
  ownMessage,
  promptKey,
  type Recalled,
  recall,
  scroll,
  switchTo,
  systemLine,
} from "./buffers.js";
export * from "./input-line.js";
export {
  flushPresenceNews,
  namesLine,
  noteDirectory,
  noteGroups,
  noteProfile,
  PRESENCE_NEWS_LINES,
  PRESENCE_NEWS_WINDOW_MS,
  profileText,
} from "./social-news.js";
export { previewReady, togglePreviews } from "./transfer-rows.js";

export type EventName = PeerEvent["event"];
type EventOf<K extends EventName> = PeerEvent & { event: K };
type Reducer<K extends EventName> = (m: Model, e: EventOf<K>, now: number) => void;

/**
 * A message says how it travelled; a `path` event says which path a session took. A direct
 * message does not overwrite the finer kind (lan, punched) a path event gave.
 */
function notePath(m: Model, peer: string, via: Via): void {
  if (via === "offline") return;
  if (via === "relay" || m.paths[peer] === undefined) m.paths[peer] = via;
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

export function applyEvent(m: Model, e: PeerEvent, now: number): void {
  const reducer = EVENT_REDUCERS[e.event] as (m: Model, e: PeerEvent, now: number) => void;
  reducer(m, e, now);
}
