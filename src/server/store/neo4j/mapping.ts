/**
 * Pure translations for the Neo4j adapter: the maps its statements return into the port's
 * records, and driver failures into one-line `HallwayError`s. Nothing here talks to a server,
 * so all of it is unit-tested with plain values (`test/integration/neo4j-mapping.test.ts`).
 *
 * Record values are checked, not cast: a node written by something else (an older build, a
 * person with cypher-shell) that lacks a field or has the wrong type is a `STORE_FAILED` naming
 * the field, not an `undefined` deep inside the registry.
 */

import { HallwayError } from "../../../errors.js";
import {
  AUDIT_EVENTS,
  type AuditEntry,
  type AuditEvent,
  type FriendRequest,
  type Friendship,
  type GroupMember,
  type GroupMessage,
  type GroupRecord,
  type JoinRequest,
  type Notice,
  type StoredMessage,
  type Suggestion,
  type UserRecord,
} from "../store.js";

const KNOWN_AUDIT_EVENTS: ReadonlySet<string> = new Set<AuditEvent>(AUDIT_EVENTS);

type Fields = Readonly<Record<string, unknown>>;

function fields(value: unknown, what: string): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw unexpected(what, "is not a map");
  }
  return value as Fields;
}

function unexpected(field: string, problem: string): HallwayError {
  return new HallwayError("STORE_FAILED", `unexpected data from Neo4j: ${field} ${problem}`);
}

function text(f: Fields, what: string, key: string): string {
  const v = f[key];
  if (typeof v !== "string") throw unexpected(`${what}.${key}`, "is not a string");
  return v;
}

function optionalText(f: Fields, what: string, key: string): string | null {
  const v = f[key];
  return v === null || v === undefined ? null : text(f, what, key);
}

/**
 * Milliseconds. With `disableLosslessIntegers` the driver returns plain numbers; a driver
 * `Integer` (anything with `toNumber`) is accepted too, so the mapping does not depend on that
 * setting. A float is refused: every time the adapter writes is an integer.
 */
function millis(f: Fields, what: string, key: string): number {
  const v = f[key];
  const n =
    typeof v === "object" && v !== null && typeof (v as { toNumber?: unknown }).toNumber === "function"
      ? (v as { toNumber(): number }).toNumber()
      : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n))
    throw unexpected(`${what}.${key}`, "is not an integer");
  return n;
}

function optionalMillis(f: Fields, what: string, key: string): number | null {
  const v = f[key];
  return v === null || v === undefined ? null : millis(f, what, key);
}

/** A `u {.name, .passwordHash, …}` projection. Absent optional properties read as null. */
export function toUserRecord(value: unknown): UserRecord {
  const f = fields(value, "User");
  return {
    name: text(f, "User", "name"),
    passwordHash: text(f, "User", "passwordHash"),
    publicKey: optionalText(f, "User", "publicKey"),
    displayName: optionalText(f, "User", "displayName"),
    statusText: optionalText(f, "User", "statusText"),
    email: optionalText(f, "User", "email"),
    phone: optionalText(f, "User", "phone"),
    department: optionalText(f, "User", "department"),
    note: optionalText(f, "User", "note"),
    birthDate: optionalText(f, "User", "birthDate"),
    gender: optionalText(f, "User", "gender"),
    country: optionalText(f, "User", "country"),
    region: optionalText(f, "User", "region"),
    school: optionalText(f, "User", "school"),
    profession: optionalText(f, "User", "profession"),
    visibility: optionalText(f, "User", "visibility"),
    createdAt: millis(f, "User", "createdAt"),
    lastSeen: optionalMillis(f, "User", "lastSeen"),
    profileUpdatedAt: optionalMillis(f, "User", "profileUpdatedAt"),
  };
}

/** A `m {.id, .from, .to, .body, .sentAt, .deliveredAt}` projection. */
export function toStoredMessage(value: unknown): StoredMessage {
  const f = fields(value, "Message");
  return {
    id: text(f, "Message", "id"),
    from: text(f, "Message", "from"),
    to: text(f, "Message", "to"),
    body: text(f, "Message", "body"),
    sentAt: millis(f, "Message", "sentAt"),
    deliveredAt: optionalMillis(f, "Message", "deliveredAt"),
  };
}

/** A `a {.user, .event, .at, .address}` projection. */
export function toAuditEntry(value: unknown): AuditEntry {
  const f = fields(value, "Audit");
  const event = text(f, "Audit", "event");
  if (!KNOWN_AUDIT_EVENTS.has(event)) throw unexpected("Audit.event", `is ${JSON.stringify(event)}`);
  const detail = optionalText(f, "Audit", "detail");
  return {
    user: text(f, "Audit", "user"),
    event: event as AuditEvent,
    at: millis(f, "Audit", "at"),
    address: text(f, "Audit", "address"),
    ...(detail === null ? {} : { detail }),
  };
}

/** A `{from, to, at}` map (friend requests). */
export function toFriendRequest(value: unknown): FriendRequest {
  const f = fields(value, "FriendRequest");
  return {
    from: text(f, "FriendRequest", "from"),
    to: text(f, "FriendRequest", "to"),
    at: millis(f, "FriendRequest", "at"),
  };
}

/** A `{name, since}` map. */
export function toFriendship(value: unknown): Friendship {
  const f = fields(value, "Friendship");
  return { name: text(f, "Friendship", "name"), since: millis(f, "Friendship", "since") };
}

/** A `{name, admin, createdAt, lastSeq}` map; a group without an admin is refused. */
export function toGroupRecord(value: unknown): GroupRecord {
  const f = fields(value, "Group");
  return {
    name: text(f, "Group", "name"),
    admin: text(f, "Group", "admin"),
    createdAt: millis(f, "Group", "createdAt"),
    lastSeq: millis(f, "Group", "lastSeq"),
    description: optionalText(f, "Group", "description"),
  };
}

/** A `{name, joinedAt, ackedSeq}` map. */
export function toGroupMember(value: unknown): GroupMember {
  const f = fields(value, "Member");
  return {
    name: text(f, "Member", "name"),
    joinedAt: millis(f, "Member", "joinedAt"),
    ackedSeq: millis(f, "Member", "ackedSeq"),
  };
}

/** A `{group, user, at}` map. */
export function toJoinRequest(value: unknown): JoinRequest {
  const f = fields(value, "JoinRequest");
  return {
    group: text(f, "JoinRequest", "group"),
    user: text(f, "JoinRequest", "user"),
    at: millis(f, "JoinRequest", "at"),
  };
}

/** A `m {.id, .group, .from, .body, .sentAt, .seq}` projection. */
export function toGroupMessage(value: unknown): GroupMessage {
  const f = fields(value, "GroupMessage");
  return {
    id: text(f, "GroupMessage", "id"),
    group: text(f, "GroupMessage", "group"),
    from: text(f, "GroupMessage", "from"),
    body: text(f, "GroupMessage", "body"),
    sentAt: millis(f, "GroupMessage", "sentAt"),
    seq: millis(f, "GroupMessage", "seq"),
  };
}

/** A `n {.id, .to, .kind, .body, .at}` projection. */
export function toNotice(value: unknown): Notice {
  const f = fields(value, "Notice");
  return {
    id: text(f, "Notice", "id"),
    to: text(f, "Notice", "to"),
    kind: text(f, "Notice", "kind"),
    body: text(f, "Notice", "body"),
    at: millis(f, "Notice", "at"),
  };
}

/** A `{name, mutualFriends, sharedGroups}` map. */
export function toSuggestion(value: unknown): Suggestion {
  const f = fields(value, "Suggestion");
  return {
    name: text(f, "Suggestion", "name"),
    mutualFriends: millis(f, "Suggestion", "mutualFriends"),
    sharedGroups: millis(f, "Suggestion", "sharedGroups"),
  };
}

/** A `{id, to}` map: one entry of the offline queue in an export. */
export function toQueueEntry(value: unknown): { id: string; to: string } {
  const f = fields(value, "Queued");
  return { id: text(f, "Queued", "id"), to: text(f, "Queued", "to") };
}

/** A `{a, b, since}` map: one friendship in an export. */
export function toFriendPair(value: unknown): { a: string; b: string; since: number } {
  const f = fields(value, "Friend");
  return { a: text(f, "Friend", "a"), b: text(f, "Friend", "b"), since: millis(f, "Friend", "since") };
}

/** A `{group, name, joinedAt, ackedSeq}` map: one membership in an export. */
export function toMembership(value: unknown): GroupMember & { group: string } {
  const f = fields(value, "Member");
  return { group: text(f, "Member", "group"), ...toGroupMember(value) };
}

/** A boolean the statement returned (`RETURN EXISTS {…} AS x`). */
export function toFlag(value: unknown, what: string): boolean {
  if (typeof value !== "boolean") throw unexpected(`result.${what}`, "is not a boolean");
  return value;
}

/** A count the statement returned (`RETURN count(*) AS n`). */
export function toCount(value: unknown, what: string): number {
  return millis({ [what]: value }, "result", what);
}

/** Where the adapter connects, for messages. Never the password. */
export interface Neo4jTarget {
  uri: string;
  user: string;
  database?: string | undefined;
}

/** The URI as shown in messages: without user info, in case someone put credentials in it. */
export function displayUri(uri: string): string {
  return uri.replace(/^([a-z0-9+.-]+:\/\/)[^@/]*@/i, "$1");
}

const MAX_DETAIL_CHARS = 200;

function firstLine(s: string): string {
  const line = (s.split("\n")[0] ?? "").trim();
  return line.length > MAX_DETAIL_CHARS ? `${line.slice(0, MAX_DETAIL_CHARS - 1)}…` : line;
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The error and its causes, outermost first (bounded: a cause chain can be a cycle). */
function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && out.length < 8; ) {
    out.push(e);
    e = (e as { cause?: unknown }).cause;
  }
  return out;
}

/** Node's socket errors and the driver's own wordings, as a few words for a person. */
const REACH_REASONS: ReadonlyArray<[RegExp, (m: RegExpMatchArray) => string]> = [
  [/ECONNREFUSED/, () => "connection refused"],
  [/ENOTFOUND|EAI_AGAIN/, () => "host not found"],
  [/EHOSTUNREACH/, () => "host unreachable"],
  [/ENETUNREACH/, () => "network unreachable"],
  [/ECONNRESET|closed by server/i, () => "the server closed the connection"],
  [/Connection acquisition timed out in (\d+) ms/, (m) => `no answer within ${m[1]} ms`],
  [/ETIMEDOUT|timed out/i, () => "timed out"],
  [/responded HTTP/, () => "that port speaks HTTP, not Bolt (Neo4j's Bolt port is 7687 by default)"],
  [/certificate|SSL|TLS|EPROTO/i, (m) => `TLS failed (${m.input ? firstLine(m.input) : "handshake"})`],
];

function reachReason(errors: readonly unknown[]): string {
  const texts = errors.map(messageOf);
  for (const [pattern, describe] of REACH_REASONS) {
    for (const t of texts) {
      const m = t.match(pattern);
      if (m) return describe(m);
    }
  }
  // The driver's generic advice comes first; what went wrong follows "Caused by:".
  const innermost = texts[texts.length - 1] ?? "";
  return firstLine(innermost.split("Caused by:").pop() ?? innermost) || "unavailable";
}

const UNREACHABLE_CODES: ReadonlySet<string> = new Set(["ServiceUnavailable", "SessionExpired"]);

/**
 * Whether a failure says the server could not be reached at all (as opposed to an answer that
 * refused something): the adapter's outage handling keys on this.
 */
export function isUnreachable(err: unknown): boolean {
  if (err instanceof HallwayError) return false;
  const errors = chain(err);
  return (
    errors.some((e) => {
      const code = codeOf(e);
      return code !== undefined && UNREACHABLE_CODES.has(code);
    }) || errors.some((e) => /Connection acquisition timed out|responded HTTP/.test(messageOf(e)))
  );
}

/**
 * Any failure of a Neo4j operation as a one-line `HallwayError`. Everything is `STORE_FAILED`
 * (the error codes are shared by the whole project); the message says which of the usual
 * causes it was: unreachable server, refused credentials, missing database, missing privilege.
 */
export function describeNeo4jFailure(op: string, err: unknown, target: Neo4jTarget): HallwayError {
  if (err instanceof HallwayError) return err;
  const errors = chain(err);
  const codes = errors.map(codeOf);
  const has = (code: string) => codes.includes(code);
  const where = displayUri(target.uri);
  const fail = (message: string) => new HallwayError("STORE_FAILED", message, { cause: err });

  if (has("Neo.ClientError.Security.Unauthorized")) {
    return fail(`Neo4j at ${where} refused the credentials for user ${JSON.stringify(target.user)}`);
  }
  if (has("Neo.ClientError.Security.AuthenticationRateLimit")) {
    return fail(
      `Neo4j at ${where} is refusing logins for user ${JSON.stringify(target.user)} after too many failures; wait and retry`,
    );
  }
  if (has("Neo.ClientError.Security.CredentialsExpired")) {
    return fail(
      `the Neo4j password of user ${JSON.stringify(target.user)} has expired; set a new one (cypher-shell) first`,
    );
  }
  if (has("Neo.ClientError.Database.DatabaseNotFound")) {
    const db =
      target.database === undefined ? "the default database" : `database ${JSON.stringify(target.database)}`;
    return fail(`Neo4j at ${where} has no ${db}`);
  }
  if (has("Neo.ClientError.Security.Forbidden")) {
    const index = codes.indexOf("Neo.ClientError.Security.Forbidden");
    return fail(
      `Neo4j user ${JSON.stringify(target.user)} may not ${op}: ${firstLine(messageOf(errors[index]))}`,
    );
  }
  if (isUnreachable(err)) return fail(`cannot reach Neo4j at ${where}: ${reachReason(errors)}`);

  const code = codes[0];
  return fail(`store ${op} failed: ${firstLine(messageOf(err))}${code ? ` (${code})` : ""}`);
}
