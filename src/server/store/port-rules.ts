/** Rules of the `Store` port that every adapter applies the same way. Pure functions. */

import type { GroupMessage, MessageHit, StoredMessage } from "./store.js";

/**
 * The key a name is compared by. Usernames are ASCII (`accounts.ts`), so this agrees with
 * SQLite's NOCASE collation.
 */
export function nameKey(name: string): string {
  return name.toLowerCase();
}

/**
 * The same key for a->b and b->a, so one index range holds a conversation in time order. Both
 * adapters store it, so it must not change for existing data.
 * U+001F cannot occur in a valid username, so distinct pairs never collide.
 */
export function conversationKey(a: string, b: string): string {
  const x = nameKey(a);
  const y = nameKey(b);
  return x < y ? `${x}\u001f${y}` : `${y}\u001f${x}`;
}

/**
 * The port says a `limit` of zero or less yields nothing (SQLite would read a negative LIMIT
 * as "no limit", Neo4j would reject it); fractions round down.
 */
export function rowLimit(limit: number): number {
  return Number.isFinite(limit) && limit > 0 ? Math.floor(limit) : 0;
}

/**
 * The key a prefix search compares by: names and display names lower-cased here, in
 * JavaScript, and stored next to the text, so both adapters fold case the same way (SQLite's
 * NOCASE and Cypher's `toLower` disagree outside ASCII).
 */
export function searchKey(text: string): string {
  return text.toLowerCase();
}

export function messageHit(m: StoredMessage): MessageHit {
  return { id: m.id, from: m.from, to: m.to, group: null, seq: null, body: m.body, sentAt: m.sentAt };
}

export function groupMessageHit(m: GroupMessage): MessageHit {
  return { id: m.id, from: m.from, to: null, group: m.group, seq: m.seq, body: m.body, sentAt: m.sentAt };
}

/** `searchMessages`' order: newest first (sentAt, then id, descending), at most `limit`. */
export function newestHits(a: readonly MessageHit[], b: readonly MessageHit[], limit: number): MessageHit[] {
  return [...a, ...b]
    .sort((x, y) => y.sentAt - x.sentAt || (x.id < y.id ? 1 : x.id > y.id ? -1 : 0))
    .slice(0, limit);
}
