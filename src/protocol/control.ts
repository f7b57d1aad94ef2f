/**
 * Control messages: the reliable messages exchanged on stream 0 of a session, between a
 * client and the registry and between two peers. They are UTF-8 JSON objects with a `t`
 * (type) field, validated with zod schemas; `decodeControl` is total.
 *
 * Requests carry an `rid` chosen by the requester; the answer is `ok` or `err` with the
 * same `rid`. Pushes (presence, offline delivery, receipts) carry no `rid`.
 * See docs/protocol.md for every message.
 */

import { isIP } from "node:net";
import { z } from "zod";
import { type Decoded, ERROR_CODES, fail, HallwayError, ok } from "../errors.js";
import { dropPushes, dropRequests } from "./drop.js";
import { MAX_MESSAGE_BYTES, MAX_TEXT_BYTES } from "./limits.js";

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
/** For finding the `rid` of a request that is not valid UTF-8: invalid bytes become U+FFFD. */
const lenientDecoder = new TextDecoder("utf-8");

/** Longest user name and password a control message carries; nobody can be named by a longer one. */
export const MAX_NAME_CHARS = 64;
export const MAX_PASSWORD_CHARS = 1024;

/** A UTF-16 surrogate without its partner: JSON can carry one, UTF-8 cannot. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Text that is valid Unicode: every request with a lone surrogate is refused, not stored. */
const wellFormed = (s: string) => !LONE_SURROGATE.test(s);
const WELL_FORMED = "text is not valid Unicode (lone surrogate)";

const name = z.string().min(1).max(MAX_NAME_CHARS).refine(wellFormed, WELL_FORMED);
const rid = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const msgId = z.string().min(8).max(64);
const time = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const text = z
  .string()
  .max(MAX_TEXT_BYTES)
  .refine(wellFormed, WELL_FORMED)
  // A UTF-16 unit is at most 3 UTF-8 bytes: short text (every chat line) needs no encoding.
  .refine((s) => s.length <= MAX_TEXT_BYTES / 3 || utf8.encode(s).length <= MAX_TEXT_BYTES, "text too long");
/** A peer's address on the wire is an IP literal: never a name to resolve, never "relay". */
const address = z.object({
  host: z
    .string()
    .max(64)
    .refine((h) => isIP(h) !== 0, "not an IP address"),
  port: z.number().int().min(1).max(65535),
});
const hexKey = z.string().regex(/^[0-9a-f]{64}$/);
const punchToken = z.string().regex(/^[0-9a-f]{32}$/);
const candidate = z.object({ type: z.enum(["host", "srflx"]), address });

export const chatMessage = z.object({
  id: msgId,
  from: name,
  to: name,
  text,
  sentAt: time,
});
export type ChatMessage = z.infer<typeof chatMessage>;

/**
 * A user's presence. `away` is a property of a live session (the user stepped away): an away
 * user is reachable exactly like an online one. Logout or timeout is `offline`.
 */
export const presenceStatus = z.enum(["online", "away", "offline"]);
export type PresenceStatus = z.infer<typeof presenceStatus>;
/** What a logged-in client may set; a new login starts `online`. */
export const settablePresence = z.enum(["online", "away"]);
export type SettablePresence = z.infer<typeof settablePresence>;

const userEntry = z.object({
  name,
  status: presenceStatus,
  lastSeen: time.nullable(),
});
export type UserEntry = z.infer<typeof userEntry>;

const historyEntry = chatMessage.extend({ deliveredAt: time.nullable() });
export type HistoryEntry = z.infer<typeof historyEntry>;

/** A group message as the registry fans it out: `seq` is the group's order, the same for everyone. */
export const groupMessage = z.object({
  id: msgId,
  group: name,
  from: name,
  text,
  sentAt: time,
  seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
});
export type GroupMessageEntry = z.infer<typeof groupMessage>;

/** The fields whose visibility their owner chooses; the display name is the directory's. */
export const PRIVATE_PROFILE_FIELDS = [
  "statusText",
  "email",
  "phone",
  "department",
  "note",
  "birthDate",
  "gender",
  "country",
  "region",
  "school",
  "profession",
] as const;
export type PrivateProfileField = (typeof PRIVATE_PROFILE_FIELDS)[number];
export const VISIBILITIES = ["everyone", "friends", "nobody"] as const;
export type Visibility = (typeof VISIBILITIES)[number];
export const visibilityMap = z.partialRecord(z.enum(PRIVATE_PROFILE_FIELDS), z.enum(VISIBILITIES));
export type VisibilityMap = z.infer<typeof visibilityMap>;

/** Longest value of a profile field on the wire; the registry applies each field's own limit. */
export const MAX_PROFILE_FIELD_CHARS = 1024;
const profileValue = z.string().max(MAX_PROFILE_FIELD_CHARS).refine(wellFormed, WELL_FORMED).nullable();
export const profilePatch = z
  .object({
    displayName: profileValue.optional(),
    statusText: profileValue.optional(),
    email: profileValue.optional(),
    phone: profileValue.optional(),
    department: profileValue.optional(),
    note: profileValue.optional(),
    birthDate: profileValue.optional(),
    gender: profileValue.optional(),
    country: profileValue.optional(),
    region: profileValue.optional(),
    school: profileValue.optional(),
    profession: profileValue.optional(),
    /** Who sees each field; fields not named keep their setting (default `everyone`). */
    visibility: visibilityMap.optional(),
  })
  .strict();
export type ProfilePatchWire = z.infer<typeof profilePatch>;

/** A group's description: what it is for. */
export const MAX_GROUP_DESCRIPTION_CHARS = 500;

/**
 * What a durable notice says. The registry stores it as the notice's body and pushes it live
 * or at the next login until the client acknowledges its id (`notice.ack`).
 */
export const noticeNote = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("friend.accepted"), by: name }),
  z.object({ kind: z.literal("friend.declined"), by: name }),
  z.object({ kind: z.literal("friend.removed"), by: name }),
  z.object({ kind: z.literal("group.joined"), group: name }),
  z.object({ kind: z.literal("group.declined"), group: name }),
  z.object({ kind: z.literal("group.removed"), group: name, by: name }),
  z.object({ kind: z.literal("group.admin"), group: name }),
]);
export type NoticeNote = z.infer<typeof noticeNote>;

const groupName = z.object({ group: name });
const limit = z.number().int().min(1).max(500);

/** Largest page of `users` and of each list of `friends` (docs/protocol.md, "Paging"). */
export const MAX_PAGE = 1000;
const pageLimit = z.number().int().min(1).max(MAX_PAGE);
/** Position in a list ordered by time, then name: the page holds entries strictly after it. */
const timeCursor = z.object({ at: time, name });
export type TimeCursor = z.infer<typeof timeCursor>;
export const FRIEND_LISTS = ["friends", "incoming", "outgoing"] as const;
export type FriendList = (typeof FRIEND_LISTS)[number];
const friendCursors = z
  .object({ friends: name.optional(), incoming: timeCursor.optional(), outgoing: timeCursor.optional() })
  .strict();
export type FriendCursors = z.infer<typeof friendCursors>;
const searchCursors = z.object({ users: name.optional(), groups: name.optional() }).strict();
export type SearchCursors = z.infer<typeof searchCursors>;
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
  // client -> registry: friends, groups, profiles (see docs/protocol.md)
  z.object({ t: z.literal("friend.request"), rid, to: name }),
  z.object({ t: z.literal("friend.accept"), rid, from: name }),
  z.object({ t: z.literal("friend.decline"), rid, from: name }),
  z.object({ t: z.literal("friend.remove"), rid, user: name }),
  z.object({
    t: z.literal("friends"),
    rid,
    limit: pageLimit.optional(),
    after: friendCursors.optional(),
    only: z.array(z.enum(FRIEND_LISTS)).min(1).max(3).optional(),
  }),
  z.object({
    t: z.literal("search"),
    rid,
    prefix: z.string().max(MAX_NAME_CHARS).refine(wellFormed, WELL_FORMED),
    limit,
    after: searchCursors.optional(),
  }),
  groupName.extend({ t: z.literal("group.create"), rid }),
  groupName.extend({ t: z.literal("group.join"), rid }),
  groupName.extend({ t: z.literal("group.approve"), rid, user: name }),
  groupName.extend({ t: z.literal("group.decline"), rid, user: name }),
  groupName.extend({ t: z.literal("group.leave"), rid }),
  groupName.extend({ t: z.literal("group.remove"), rid, user: name }),
  groupName.extend({ t: z.literal("group.admin"), rid, user: name }),
  groupName.extend({ t: z.literal("group.send"), rid, id: msgId, text, sentAt: time }),
  groupName.extend({
    t: z.literal("group.history"),
    rid,
    limit,
    beforeSeq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  }),
  groupName.extend({
    t: z.literal("group.ack"),
    rid,
    seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  }),
  z.object({ t: z.literal("groups"), rid }),
  groupName.extend({
    t: z.literal("group.describe"),
    rid,
    description: z.string().max(MAX_PROFILE_FIELD_CHARS).refine(wellFormed, WELL_FORMED).nullable(),
  }),
  z.object({ t: z.literal("profile.set"), rid, patch: profilePatch }),
  z.object({ t: z.literal("profile.get"), rid, user: name }),
  z.object({ t: z.literal("suggest"), rid, limit }),
  z.object({ t: z.literal("notice.ack"), rid, ids: z.array(msgId).max(1000) }),
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
  z.object({ t: z.literal("friend.incoming"), from: name, at: time }),
  z.object({ t: z.literal("group.joinRequest"), group: name, user: name, at: time }),
  groupName.extend({ t: z.literal("group.joined"), user: name, at: time }),
  z.object({ t: z.literal("group.message"), msgs: z.array(groupMessage).max(1000) }),
  z.object({ t: z.literal("notice"), id: msgId, at: time, note: noticeNote }),
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

const nullableText = z.string().max(MAX_PROFILE_FIELD_CHARS).nullable();
export const friendRequestData = z.object({ friends: z.boolean() });
export const friendsData = z.object({
  friends: z.array(z.object({ name, since: time, status: presenceStatus })).max(100_000),
  incoming: z.array(z.object({ from: name, at: time })).max(100_000),
  outgoing: z.array(z.object({ to: name, at: time })).max(100_000),
  /** The lists that have more, and where their next page starts. */
  next: friendCursors.optional(),
});
export const searchData = z.object({
  users: z.array(z.object({ name, displayName: nullableText })).max(500),
  groups: z.array(z.object({ name, admin: name })).max(500),
  next: searchCursors.optional(),
});
export const groupsData = z.object({
  groups: z
    .array(
      z.object({
        name,
        admin: name,
        lastSeq: z.number().int().min(0),
        members: z.array(name).max(100_000),
        description: nullableText.optional(),
      }),
    )
    .max(100_000),
});
export const groupSendData = z.object({ seq: z.number().int().min(1) });
export const groupLeaveData = z.object({ deleted: z.boolean() });
/** `nextBeforeSeq`: the page was cut to fit the message limit; ask again before it for the rest. */
export const groupHistoryData = z.object({
  messages: z.array(groupMessage).max(500),
  nextBeforeSeq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
});
export const profileData = z.object({
  user: name,
  displayName: nullableText,
  statusText: nullableText,
  email: nullableText,
  phone: nullableText,
  department: nullableText,
  note: nullableText,
  birthDate: nullableText.optional(),
  /** Whole years, from the birth date, as of the registry's clock. */
  age: z.number().int().min(0).max(200).nullable().optional(),
  gender: nullableText.optional(),
  country: nullableText.optional(),
  region: nullableText.optional(),
  school: nullableText.optional(),
  profession: nullableText.optional(),
  updatedAt: time.nullable().optional(),
  /** Only in your own profile: who sees each field. */
  visibility: visibilityMap.optional(),
});
export type ProfileData = z.infer<typeof profileData>;
export const suggestData = z.object({
  suggestions: z
    .array(z.object({ name, mutualFriends: z.number().int().min(0), sharedGroups: z.number().int().min(0) }))
    .max(500),
});

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
