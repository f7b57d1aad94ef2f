/**
 * Control messages: the reliable messages exchanged on stream 0 of a session, between a
 * client and the registry and between two peers. They are UTF-8 JSON objects with a `t`
 * (type) field, validated with zod schemas; `decodeControl` is total.
 *
 * Requests carry an `rid` chosen by the requester; the answer is `ok` or `err` with the
 * same `rid`. Pushes (presence, offline delivery, receipts) carry no `rid`.
 * See docs/protocol.md for every message.
 */

import { z } from "zod";
import { type Decoded, ERROR_CODES, fail, ok } from "../errors.js";
import { MAX_MESSAGE_BYTES, MAX_TEXT_BYTES } from "./limits.js";

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** Longest user name and password a control message carries; nobody can be named by a longer one. */
export const MAX_NAME_CHARS = 64;
export const MAX_PASSWORD_CHARS = 1024;

const name = z.string().min(1).max(MAX_NAME_CHARS);
const rid = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const msgId = z.string().min(8).max(64);
const time = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const text = z
  .string()
  .max(MAX_TEXT_BYTES)
  .refine((s) => utf8.encode(s).length <= MAX_TEXT_BYTES, "text too long");
const address = z.object({ host: z.string().min(1).max(64), port: z.number().int().min(1).max(65535) });
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

const userEntry = z.object({
  name,
  status: z.enum(["online", "offline"]),
  lastSeen: time.nullable(),
});
export type UserEntry = z.infer<typeof userEntry>;

const historyEntry = chatMessage.extend({ deliveredAt: time.nullable() });
export type HistoryEntry = z.infer<typeof historyEntry>;

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
  }),
  z.object({ t: z.literal("logout"), rid }),
  z.object({ t: z.literal("heartbeat"), rid }),
  z.object({ t: z.literal("users"), rid }),
  z.object({ t: z.literal("lookup"), rid, user: name }),
  z.object({ t: z.literal("offline.send"), rid, msg: chatMessage }),
  z.object({ t: z.literal("offline.ack"), rid, ids: z.array(msgId).max(1000) }),
  z.object({ t: z.literal("history.append"), rid, msg: historyEntry }),
  z.object({ t: z.literal("connect"), rid, to: name }),
  z.object({
    t: z.literal("history"),
    rid,
    with: name,
    limit: z.number().int().min(1).max(500),
    before: z.object({ sentAt: time, id: msgId }).optional(),
  }),
  // registry -> client answers
  z.object({ t: z.literal("ok"), rid, data: z.unknown().optional() }),
  z.object({ t: z.literal("err"), rid, code: z.enum(ERROR_CODES), message: z.string().max(500) }),
  // registry -> client pushes
  z.object({ t: z.literal("presence"), user: name, status: z.enum(["online", "offline"]), at: time }),
  z.object({ t: z.literal("offline.deliver"), msgs: z.array(chatMessage).max(1000) }),
  z.object({ t: z.literal("delivered"), id: msgId, at: time }),
  z.object({
    t: z.literal("punch"),
    from: name,
    token: punchToken,
    publicKey: hexKey,
    candidates: z.array(candidate).max(32),
  }),
  // peer <-> peer
  z.object({ t: z.literal("hello"), user: name }),
  z.object({ t: z.literal("chat"), msg: chatMessage }),
  z.object({ t: z.literal("receipt"), id: msgId, at: time }),
]);

export type Control = z.infer<typeof control>;
export type ControlOf<T extends Control["t"]> = Extract<Control, { t: T }>;

/** Answers' `data` shapes, validated by the requester. */
export const loginData = z.object({ user: name, sessionAddress: address });
export const usersData = z.object({ users: z.array(userEntry).max(100_000) });
export const lookupData = z.object({
  user: name,
  status: z.enum(["online", "offline"]),
  publicKey: hexKey.nullable(),
  addresses: z.array(address).max(32),
});
export type LookupData = z.infer<typeof lookupData>;
export const historyData = z.object({ messages: z.array(historyEntry).max(500) });
/** The answer to `connect`: what the initiator's `punch` push would carry, for the target. */
export const connectData = z.object({
  peer: name,
  token: punchToken,
  publicKey: hexKey,
  candidates: z.array(candidate).max(32),
});
export type ConnectData = z.infer<typeof connectData>;

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
    const parsed = withRid.safeParse(JSON.parse(utf8Decoder.decode(bytes)));
    return parsed.success ? parsed.data.rid : undefined;
  } catch {
    return undefined;
  }
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
