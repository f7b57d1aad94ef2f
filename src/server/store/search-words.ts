/**
 * The words a user search matches (`Store.searchUsers`), folded the same way in both adapters:
 * lower case, accents removed (NFD, then the combining marks dropped), split at anything that
 * is not a letter or digit. A user's searchable text is their words between spaces, so a
 * prefix of one word, or of several consecutive ones, is a plain substring test of
 * `searchNeedle(query)` in `searchWords(…)`: "liddell" and "alice l" both find "Alice Liddell",
 * and "jose" finds "José".
 */

export function foldText(text: string): string {
  return text
    .normalize("NFD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase();
}

export function wordsOf(text: string): string[] {
  return foldText(text)
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0);
}

/** The stored search text of a user: ` word word … ` over the given fields, in order. */
export function searchWords(fields: ReadonlyArray<string | null | undefined>): string {
  const words = fields.flatMap((f) => (f ? wordsOf(f) : []));
  return ` ${words.join(" ")} `;
}

/** What `searchWords` text must contain for `query` to match: ` word word`, or ` ` for all. */
export function searchNeedle(query: string): string {
  return ` ${wordsOf(query).join(" ")}`;
}
