/**
 * The social control messages (docs/protocol.md: friends, groups, profiles, notices): their
 * requests, the pushes, and the shapes of their answers' `data`. `control.ts` holds the
 * message union they are part of and its codec.
 */

import { z } from "zod";
import {
  MAX_NAME_CHARS,
  msgId,
  name,
  pageLimit,
  presenceStatus,
  rid,
  text,
  time,
  WELL_FORMED,
  wellFormed,
} from "./control-fields.js";

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

/** Client → registry: friends, groups, profiles, notices. */
export const socialRequests = [
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
] as const;

/** Registry → client. */
export const socialPushes = [
  z.object({ t: z.literal("friend.incoming"), from: name, at: time }),
  z.object({ t: z.literal("group.joinRequest"), group: name, user: name, at: time }),
  groupName.extend({ t: z.literal("group.joined"), user: name, at: time }),
  z.object({ t: z.literal("group.message"), msgs: z.array(groupMessage).max(1000) }),
  z.object({ t: z.literal("notice"), id: msgId, at: time, note: noticeNote }),
] as const;

/** Answers' `data` shapes, validated by the requester. */
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
