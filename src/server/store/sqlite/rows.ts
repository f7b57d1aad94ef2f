/**
 * Rows of the SQLite schema (see `schema.ts`) and their translation into the port's records,
 * shared by the adapter's parts and its export/import (`dump.ts`).
 */

import { HallwayError } from "../../../errors.js";
import {
  AUDIT_EVENTS,
  type AuditEntry,
  type AuditEvent,
  type GroupMember,
  type GroupMessage,
  type GroupRecord,
  type Notice,
  type StoredMessage,
  type UserRecord,
} from "../store.js";

export interface UserRow {
  name: string;
  password_hash: string;
  public_key: string | null;
  display_name: string | null;
  status_text: string | null;
  email: string | null;
  phone: string | null;
  department: string | null;
  note: string | null;
  created_at: number;
  last_seen: number | null;
  birth_date: string | null;
  gender: string | null;
  country: string | null;
  region: string | null;
  school: string | null;
  profession: string | null;
  visibility: string | null;
  profile_updated_at: number | null;
}

export interface GroupRow {
  name: string;
  admin: string;
  created_at: number;
  last_seq: number;
  description: string | null;
}

export interface MemberRow {
  user_name: string;
  joined_at: number;
  acked_seq: number;
}

export interface GroupMessageRow {
  id: string;
  group_name: string;
  from_user: string;
  body: string;
  sent_at: number;
  seq: number;
}

export interface NoticeRow {
  id: string;
  to_user: string;
  kind: string;
  body: string;
  at: number;
}

export interface MessageRow {
  id: string;
  from_user: string;
  to_user: string;
  body: string;
  sent_at: number;
  delivered_at: number | null;
}

export interface AuditRow {
  user_name: string;
  event: string;
  at: number;
  address: string;
  detail: string | null;
}

/** A row of `audit`; an event this build does not know is a `STORE_FAILED`, not a guess. */
export function toAuditEntry(r: AuditRow): AuditEntry {
  if (!(AUDIT_EVENTS as readonly string[]).includes(r.event)) {
    throw new HallwayError("STORE_FAILED", `unknown audit event ${JSON.stringify(r.event)} in the database`);
  }
  return {
    user: r.user_name,
    event: r.event as AuditEvent,
    at: r.at,
    address: r.address,
    ...(r.detail === null ? {} : { detail: r.detail }),
  };
}

export const MESSAGE_COLUMNS = "m.id, m.from_user, m.to_user, m.body, m.sent_at, m.delivered_at";
export const USER_COLUMNS = `name, password_hash, public_key, display_name, status_text, email, phone, department,
  note, created_at, last_seen, birth_date, gender, country, region, school, profession, visibility,
  profile_updated_at`;
export const GROUP_MESSAGE_COLUMNS = "id, group_name, from_user, body, sent_at, seq";
export function toUser(row: UserRow): UserRecord {
  return {
    name: row.name,
    passwordHash: row.password_hash,
    publicKey: row.public_key,
    displayName: row.display_name,
    statusText: row.status_text,
    email: row.email,
    phone: row.phone,
    department: row.department,
    note: row.note,
    birthDate: row.birth_date,
    gender: row.gender,
    country: row.country,
    region: row.region,
    school: row.school,
    profession: row.profession,
    visibility: row.visibility,
    createdAt: row.created_at,
    lastSeen: row.last_seen,
    profileUpdatedAt: row.profile_updated_at,
  };
}

export function toGroup(row: GroupRow): GroupRecord {
  return {
    name: row.name,
    admin: row.admin,
    createdAt: row.created_at,
    lastSeq: row.last_seq,
    description: row.description,
  };
}

export function toMember(row: MemberRow): GroupMember {
  return { name: row.user_name, joinedAt: row.joined_at, ackedSeq: row.acked_seq };
}

export function toGroupMessage(row: GroupMessageRow): GroupMessage {
  return {
    id: row.id,
    group: row.group_name,
    from: row.from_user,
    body: row.body,
    sentAt: row.sent_at,
    seq: row.seq,
  };
}

export function toNotice(row: NoticeRow): Notice {
  return { id: row.id, to: row.to_user, kind: row.kind, body: row.body, at: row.at };
}

export function toMessage(row: MessageRow): StoredMessage {
  return {
    id: row.id,
    from: row.from_user,
    to: row.to_user,
    body: row.body,
    sentAt: row.sent_at,
    deliveredAt: row.delivered_at,
  };
}
