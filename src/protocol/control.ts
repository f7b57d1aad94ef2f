/**
 * Control messages: the reliable messages exchanged on stream 0 of a session, between a
 * client and the registry and between two peers. They are UTF-8 JSON objects with a `t`
 * (type) field, validated with zod schemas; `decodeControl` is total.
 *
 * Requests carry an `rid` chosen by the requester; the answer is `ok` or `err` with the
 * same `rid`. Pushes (presence, offline delivery, receipts) carry no `rid`.
 * See docs/protocol.md for every message.
 *
 * This file holds the union, the session and chat messages and the codec; the fields all
 * messages share are in `control-fields.ts`, the social messages (friends, groups, profiles,
 * notices) in `social-control.ts`, the drop box's in `drop.ts`. What moved is re-exported
 * from here.
 */

import { z } from "zod";
import { type Decoded, ERROR_CODES, fail, HallwayError, ok } from "../errors.js";
import {
  address,
  candidate,
  hexKey,
  MAX_PASSWORD_CHARS,
  msgId,
  name,
  pageLimit,
  presenceStatus,
  punchToken,
  rid,
  settablePresence,
  text,
  time,
  WELL_FORMED,
  wellFormed,
} from "./control-fields.js";
import { dropPushes, dropRequests } from "./drop.js";
import { MAX_MESSAGE_BYTES } from "./limits.js";
import { socialPushes, socialRequests } from "./social-control.js";

export {
  MAX_NAME_CHARS,
  MAX_PAGE,
  MAX_PASSWORD_CHARS,
  type PresenceStatus,
  presenceStatus,
  type SettablePresence,
  settablePresence,
} from "./control-fields.js";
export {
  FRIEND_LISTS,
  type FriendCursors,
  type FriendList,
  friendRequestData,
  friendsData,
  type GroupMessageEntry,
  groupHistoryData,
  groupLeaveData,
  groupMessage,
  groupSendData,
  groupsData,
  MAX_GROUP_DESCRIPTION_CHARS,
  MAX_PROFILE_FIELD_CHARS,
  type NoticeNote,
  noticeNote,
  PRIVATE_PROFILE_FIELDS,
  type PrivateProfileField,
  type ProfileData,
  type ProfilePatchWire,
  profileData,
  profilePatch,
  type SearchCursors,
  searchData,
  suggestData,
  type TimeCursor,
  VISIBILITIES,
  type Visibility,
  type VisibilityMap,
  visibilityMap,
} from "./social-control.js";

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
/** For finding the `rid` of a request that is not valid UTF-8: invalid bytes become U+FFFD. */
const lenientDecoder = new TextDecoder("utf-8");

export const chatMessage = z.object({
  id: msgId,
  from: name,
  to: name,
  text,
  sentAt: time,
});
export type ChatMessage = z.infer<typeof chatMessage>;

const userEntry = z.object({
  name,
  status: presenceStatus,
  lastSeen: time.nullable(),
});
export type UserEntry = z.infer<typeof userEntry>;

const historyEntry = chatMessage.extend({ deliveredAt: time.nullable() });
export type HistoryEntry = z.infer<typeof historyEntry>;

/** Hits one `history.search` answers at most, and the longest text it looks for. */
export const MAX_SEARCH_HITS = 50;
export const MAX_SEARCH_TEXT_CHARS = 200;
/** History entries one `history.batch` carries at most. */
export const MAX_HISTORY_BATCH = 100;
/** Padding a `connect` may carry: it buys the probes toward unverified candidates (docs/security.md). */
export const MAX_CONNECT_PAD_CHARS = 4096;
/** The ways the registry ends a session by itself (pushed in `session.end`, and the CLOSE reason). */
export const SESSION_END_CODES = ["SESSION_REPLACED", "SESSION_TERMINATED"] as const;

export const control = z.discriminatedUnion("t", [
  // client -> registry
  z.object({ t: z.literal("register"), rid, user: name, password: z.string().max(MAX_PASSWORD_CHARS) }),
  z.object({
    t: z.literal("login"),
    rid,
    user: name,
    password: z.string().max(MAX_PASSWORD_CHARS),
    heartbeatMs: z.number().int().min(100).max(600_000),
    addresses: z.array(address).max(16),
    /**
     * An automatic login again after a lost session: it never takes over a live session of the
     * account on another device (that session replaced this one: `SESSION_REPLACED`).
     */
    resume: z.boolean().optional(),
  }),
  z.object({ t: z.literal("logout"), rid }),
  z.object({ t: z.literal("heartbeat"), rid }),
  z.object({ t: z.literal("presence.set"), rid, status: settablePresence }),
  z.object({ t: z.literal("users"), rid, limit: pageLimit.optional(), after: name.optional() }),
  z.object({ t: z.literal("lookup"), rid, user: name }),
  z.object({ t: z.literal("offline.send"), rid, msg: chatMessage }),
  z.object({ t: z.literal("offline.ack"), rid, ids: z.array(msgId).max(1000) }),
  z.object({ t: z.literal("history.append"), rid, msg: historyEntry }),
  z.object({ t: z.literal("history.batch"), rid, msgs: z.array(historyEntry).min(1).max(MAX_HISTORY_BATCH) }),
  // relay: false asks for no relay channel (a background attempt to upgrade from one).
  z.object({
    t: z.literal("connect"),
    rid,
    to: name,
    relay: z.boolean().optional(),
    pad: z.string().max(MAX_CONNECT_PAD_CHARS).optional(),
  }),
  z.object({
    t: z.literal("history"),
    rid,
    with: name,
    limit: z.number().int().min(1).max(500),
    before: z.object({ sentAt: time, id: msgId }).optional(),
  }),
  z.object({
    t: z.literal("history.search"),
    rid,
    text: z.string().min(1).max(MAX_SEARCH_TEXT_CHARS).refine(wellFormed, WELL_FORMED),
    limit: z.number().int().min(1).max(MAX_SEARCH_HITS),
  }),
  // client -> registry: friends, groups, profiles (social-control.ts)
  ...socialRequests,
  // the drop box (drop.ts)
  ...dropRequests,
  ...dropPushes,
  // registry -> client answers
  z.object({ t: z.literal("ok"), rid, data: z.unknown().optional() }),
  z.object({
    t: z.literal("err"),
    rid,
    code: z.enum(ERROR_CODES),
    message: z.string().max(500),
    retryAfterMs: z.number().int().min(0).max(86_400_000).optional(),
  }),
  // registry -> client pushes
  z.object({
    t: z.literal("presence"),
    user: name,
    status: presenceStatus,
    at: time,
    /** A new process logged in (not a reconnect): a direct session with the user is stale. */
    fresh: z.boolean().optional(),
  }),
  z.object({ t: z.literal("offline.deliver"), msgs: z.array(chatMessage).max(1000) }),
  z.object({ t: z.literal("delivered"), id: msgId, at: time }),
  z.object({
    t: z.literal("punch"),
    from: name,
    token: punchToken,
    publicKey: hexKey,
    candidates: z.array(candidate).max(32),
    /** The relay channel for this pair, if the registry relays and one was asked for. */
    relay: punchToken.optional(),
    /** Bytes of probes toward candidates the registry did not observe, until one answers. */
    probeBudget: z.number().int().min(0).max(65_535).optional(),
  }),
  ...socialPushes,
  /** The registry ends this session by itself; the client must not log in again on its own. */
  z.object({ t: z.literal("session.end"), code: z.enum(SESSION_END_CODES), message: z.string().max(500) }),
  // peer <-> peer
  z.object({ t: z.literal("hello"), user: name }),
  z.object({ t: z.literal("chat"), msg: chatMessage }),
  z.object({ t: z.literal("receipt"), id: msgId, at: time }),
]);

export type Control = z.infer<typeof control>;
export type ControlOf<T extends Control["t"]> = Extract<Control, { t: T }>;
/** A request as the requester writes it: the `rid` is added when it is sent. */
export type Request = Extract<Control, { rid: number }>;
export type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, "rid"> : never) : never;

/** Answers' `data` shapes, validated by the requester. */
export const loginData = z.object({ user: name, sessionAddress: address });
export const usersData = z.object({ users: z.array(userEntry).max(100_000), next: name.optional() });
export const lookupData = z.object({
  user: name,
  status: presenceStatus,
  publicKey: hexKey.nullable(),
  addresses: z.array(address).max(32),
});
export type LookupData = z.infer<typeof lookupData>;
/** `next`: the page was cut to fit the message limit; ask again `before` it for the rest. */
export const historyData = z.object({
  messages: z.array(historyEntry).max(500),
  next: z.object({ sentAt: time, id: msgId }).optional(),
});
/** A message `history.search` found: 1:1 (`with`: the other person) or in a group (`group`, `seq`). */
const searchHit = z.object({
  id: msgId,
  from: name,
  with: name.optional(),
  group: name.optional(),
  seq: z.number().int().min(1).optional(),
  text,
  sentAt: time,
});
export type SearchHit = z.infer<typeof searchHit>;
export const historySearchData = z.object({ hits: z.array(searchHit).max(MAX_SEARCH_HITS) });
/** The answer to `connect`: what the initiator's `punch` push would carry, for the target. */
export const connectData = z.object({
  peer: name,
  token: punchToken,
  publicKey: hexKey,
  candidates: z.array(candidate).max(32),
  relay: punchToken.optional(),
  probeBudget: z.number().int().min(0).max(65_535).optional(),
});
export type ConnectData = z.infer<typeof connectData>;

/** An answer's `data`, validated; a bad shape is the registry's protocol error, PROTO_BAD_MESSAGE. */
export function parseAnswer<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new HallwayError("PROTO_BAD_MESSAGE", `bad ${what} answer from the registry`);
  return parsed.data;
}

export function encodeControl(msg: Control): Uint8Array {
  return utf8.encode(JSON.stringify(msg));
}

const withRid = z.object({ rid });

/**
 * The `rid` of a message that failed to decode, when it has a usable one: the registry still
 * answers such a request, so the requester fails at once instead of timing out.
 */
export function requestIdOf(bytes: Uint8Array): number | undefined {
  if (bytes.length > MAX_MESSAGE_BYTES) return undefined;
  try {
    const parsed = withRid.safeParse(JSON.parse(lenientDecoder.decode(bytes)));
    return parsed.success ? parsed.data.rid : undefined;
  } catch {
    // Not JSON at all (cut short, say): an rid near the start still gets its answer.
    return requestIdInHead(bytes);
  }
}

/**
 * The `rid` in the first bytes of a message that was too large to deliver (the reliable
 * channel hands over its first segment only), when the requester put it early, as this
 * project's clients do.
 */
export function requestIdInHead(head: Uint8Array): number | undefined {
  const m = /"rid"\s*:\s*(\d{1,15})\s*[,}]/.exec(lenientDecoder.decode(head.subarray(0, 4096)));
  return m ? Number(m[1]) : undefined;
}

/** Total decoder: bytes to a validated control message, or a typed error. */
export function decodeControl(bytes: Uint8Array): Decoded<Control> {
  if (bytes.length > MAX_MESSAGE_BYTES)
    return fail("WIRE_TOO_LARGE", `control message of ${bytes.length} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(utf8Decoder.decode(bytes));
  } catch {
    return fail("PROTO_BAD_MESSAGE", "control message is not UTF-8 JSON");
  }
  const parsed = control.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail("PROTO_BAD_MESSAGE", `${issue?.path.join(".") || "message"}: ${issue?.message ?? "invalid"}`);
  }
  return ok(parsed.data);
}
