/**
 * What the view-model keeps of people: presence news in the status buffer (at most
 * PRESENCE_NEWS_LINES per PRESENCE_NEWS_WINDOW_MS, the rest summed up), groups and their
 * members, the directory, profiles, and the lines that say them.
 */

import type { PeerEvent } from "../../peer/index.js";
import { PRIVATE_PROFILE_FIELDS, type PresenceStatus } from "../../protocol/control.js";
import { presenceMark } from "../presence-mark.js";
import { addUnique, systemLine } from "./buffers.js";
import type { Model } from "./model.js";
import { sanitize } from "./text-width.js";

type EventOf<K extends PeerEvent["event"]> = PeerEvent & { event: K };

/** Presence lines the status buffer shows per window; more are summed up in one line. */
export const PRESENCE_NEWS_LINES = 3;
export const PRESENCE_NEWS_WINDOW_MS = 10_000;

/**
 * "bob is online" in the status buffer, at most PRESENCE_NEWS_LINES per window: when many
 * change at once (a registry restart, the morning), the rest wait for one summing-up line.
 */
export function statusNews(m: Model, news: string, now: number): void {
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
export function addMember(m: Model, group: string, user: string): void {
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
export function presenceNews(before: PresenceStatus | undefined, now: PresenceStatus): string {
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
