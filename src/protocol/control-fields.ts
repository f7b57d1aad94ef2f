/**
 * The fields control messages share (`control.ts` holds the message union and its codec):
 * names, request ids, message ids, times, text, addresses and keys, with the checks every
 * message makes of them, presence, and the page size of the paged lists.
 */

import { isIP } from "node:net";
import { z } from "zod";
import { MAX_TEXT_BYTES } from "./limits.js";

const utf8 = new TextEncoder();

/** Longest user name and password a control message carries; nobody can be named by a longer one. */
export const MAX_NAME_CHARS = 64;
export const MAX_PASSWORD_CHARS = 1024;

/** A UTF-16 surrogate without its partner: JSON can carry one, UTF-8 cannot. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Text that is valid Unicode: every request with a lone surrogate is refused, not stored. */
export const wellFormed = (s: string) => !LONE_SURROGATE.test(s);
export const WELL_FORMED = "text is not valid Unicode (lone surrogate)";

export const name = z.string().min(1).max(MAX_NAME_CHARS).refine(wellFormed, WELL_FORMED);
export const rid = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const msgId = z.string().min(8).max(64);
export const time = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const text = z
  .string()
  .max(MAX_TEXT_BYTES)
  .refine(wellFormed, WELL_FORMED)
  // A UTF-16 unit is at most 3 UTF-8 bytes: short text (every chat line) needs no encoding.
  .refine((s) => s.length <= MAX_TEXT_BYTES / 3 || utf8.encode(s).length <= MAX_TEXT_BYTES, "text too long");
/** A peer's address on the wire is an IP literal: never a name to resolve, never "relay". */
export const address = z.object({
  host: z
    .string()
    .max(64)
    .refine((h) => isIP(h) !== 0, "not an IP address"),
  port: z.number().int().min(1).max(65535),
});
export const hexKey = z.string().regex(/^[0-9a-f]{64}$/);
export const punchToken = z.string().regex(/^[0-9a-f]{32}$/);
export const candidate = z.object({ type: z.enum(["host", "srflx"]), address });

/** Largest page of `users` and of each list of `friends` (docs/protocol.md, "Paging"). */
/**
 * A user's presence. `away` is a property of a live session (the user stepped away): an away
 * user is reachable exactly like an online one. Logout or timeout is `offline`.
 */
export const presenceStatus = z.enum(["online", "away", "offline"]);
export type PresenceStatus = z.infer<typeof presenceStatus>;
/** What a logged-in client may set; a new login starts `online`. */
export const settablePresence = z.enum(["online", "away"]);
export type SettablePresence = z.infer<typeof settablePresence>;

/** Largest page of `users` and of each list of `friends` (docs/protocol.md, "Paging"). */
export const MAX_PAGE = 1000;
export const pageLimit = z.number().int().min(1).max(MAX_PAGE);
