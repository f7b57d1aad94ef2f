/**
 * The client's read requests to the registry that come in pages: the directory, a
 * conversation's history, and message search.
 */

import {
  type HistoryEntry,
  historyData,
  historySearchData,
  MAX_PAGE,
  MAX_SEARCH_HITS,
  MAX_SEARCH_TEXT_CHARS,
  parseAnswer,
  type RequestBody,
  type UserEntry,
  usersData,
} from "../protocol/control.js";
import type { PeerEvent } from "./events.js";
import { fitsWire } from "./social.js";

type Request = (body: RequestBody) => Promise<unknown>;

/** The whole directory, page by page (the registry answers at most `MAX_PAGE` a time). */
export async function users(request: Request): Promise<PeerEvent> {
  const users: UserEntry[] = [];
  let after: string | undefined;
  for (;;) {
    const page = parseAnswer(
      usersData,
      await request({
        t: "users",
        limit: MAX_PAGE,
        ...(after === undefined ? {} : { after }),
      }),
      "users",
    );
    users.push(...page.users);
    if (page.next === undefined || page.users.length === 0) break;
    after = page.next;
  }
  return { event: "users", users };
}

export async function history(
  request: Request,
  withUser: string,
  limit: number,
  before?: { sentAt: number; id: string },
): Promise<PeerEvent> {
  const w = withUser.trim().toLowerCase();
  if (!fitsWire(w)) return { event: "history", with: w, messages: [] };
  // A page the registry cut to fit its message limit names where the rest continues.
  const messages: HistoryEntry[] = [];
  let cursor = before;
  while (messages.length < limit) {
    const data = parseAnswer(
      historyData,
      await request({
        t: "history",
        with: w,
        limit: limit - messages.length,
        ...(cursor ? { before: cursor } : {}),
      }),
      "history",
    );
    messages.unshift(...data.messages);
    if (data.next === undefined || data.messages.length === 0) break;
    cursor = data.next;
  }
  return { event: "history", with: w, messages };
}

/** Messages containing `text` in your conversations and groups (the registry's index), newest first. */
export async function searchMessages(request: Request, text: string, limit = 20): Promise<PeerEvent> {
  const query = text.trim().slice(0, MAX_SEARCH_TEXT_CHARS);
  if (query === "") return { event: "found", query, hits: [] };
  const data = parseAnswer(
    historySearchData,
    await request({
      t: "history.search",
      text: query,
      limit: Math.min(limit, MAX_SEARCH_HITS),
    }),
    "history.search",
  );
  return { event: "found", query, hits: data.hits };
}
