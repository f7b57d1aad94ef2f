/**
 * No answer exceeds the message limit (docs/protocol.md, "Paging"): a page of list entries
 * is cut to what fits in `ANSWER_BUDGET_BYTES` of UTF-8 JSON, from the end the caller names,
 * so the cursor of the next page still follows on from what was sent.
 */

import { MAX_MESSAGE_BYTES } from "../protocol/limits.js";

/** What a page's entries may take, leaving room for the answer's envelope and the other lists. */
export const ANSWER_BUDGET_BYTES = MAX_MESSAGE_BYTES - 16 * 1024;

/**
 * `items` cut to fit: `drop: "start"` keeps the last entries (a history page, oldest first,
 * continued before its first entry), `"end"` keeps the first (a list continued after its last).
 */
export function fitPage<T>(
  items: readonly T[],
  drop: "start" | "end",
  budget = ANSWER_BUDGET_BYTES,
): { items: T[]; trimmed: boolean } {
  let total = 2;
  const sizes = items.map((item) => Buffer.byteLength(JSON.stringify(item)) + 1);
  for (const n of sizes) total += n;
  if (total <= budget) return { items: [...items], trimmed: false };
  let used = 2;
  let kept = 0;
  const order = drop === "end" ? sizes : [...sizes].reverse();
  for (const n of order) {
    if (used + n > budget) break;
    used += n;
    kept++;
  }
  return {
    items: drop === "end" ? items.slice(0, kept) : items.slice(items.length - kept),
    trimmed: true,
  };
}
