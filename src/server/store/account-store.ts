/**
 * The accounts part of the store port: users (name, password hash, key, last seen), the audit
 * log, and the user list a page at a time. The rules every part keeps are in `store.ts`.
 */

import { PRIVATE_PROFILE_FIELDS } from "../../protocol/control.js";

/** The profile fields a user edits about themselves. `null` means "not set". */
export interface Profile {
  displayName: string | null;
  /** Free status text ("in a meeting until 3"). */
  statusText: string | null;
  email: string | null;
  phone: string | null;
  department: string | null;
  note: string | null;
  /** `YYYY-MM-DD`; the age is derived from it by the registry. */
  birthDate: string | null;
  gender: string | null;
  country: string | null;
  region: string | null;
  school: string | null;
  profession: string | null;
  /**
   * Who sees which field: JSON text of `{field: "everyone" | "friends" | "nobody"}`, written and
   * read by the registry (social-rules.ts); the store keeps it as it is given.
   */
  visibility: string | null;
}

export const PROFILE_FIELDS = ["displayName", ...PRIVATE_PROFILE_FIELDS, "visibility"] as const;
export type ProfileField = (typeof PROFILE_FIELDS)[number];

/** A change to a profile: a field set to a string replaces it, `null` clears it, absent leaves it. */
export type ProfilePatch = Partial<Profile>;

export interface UserRecord extends Profile {
  name: string;
  passwordHash: string;
  /** Hex-encoded public key, once the user has registered one. */
  publicKey: string | null;
  createdAt: number;
  lastSeen: number | null;
  /** When the profile last changed (`setProfile`'s `at`); null before the first change. */
  profileUpdatedAt: number | null;
}

export const AUDIT_EVENTS = [
  "register",
  "login",
  "logout",
  "timeout",
  /** A wrong password, or a login for a name nobody registered. */
  "login_failed",
  /** A session ended because the account logged in on another device. */
  "replaced",
  /** A session ended for abuse (`SESSION_TERMINATED`). */
  "terminated",
  /** A source address blocked after a termination; `detail` says for how long. */
  "blocked",
] as const;
export type AuditEvent = (typeof AUDIT_EVENTS)[number];

export interface AuditEntry {
  /** The account's name as given; may name nobody (a failed login), empty for no account. */
  user: string;
  event: AuditEvent;
  at: number;
  address: string;
  /** A short reason (`wrong password`, `blocked for 60 s: too many requests`); absent if none. */
  detail?: string;
}

/** Filters of `listAudit`; `since` is inclusive, `until` exclusive. */
export interface AuditQuery {
  user?: string;
  since?: number;
  until?: number;
  /** Only these events (all when absent). */
  events?: readonly AuditEvent[];
  limit: number;
}

export interface AccountStore {
  /** Rejects with `AUTH_USER_EXISTS` if the name is taken, compared case-insensitively. */
  createUser(user: { name: string; passwordHash: string; createdAt: number }): Promise<void>;
  /** Case-insensitive lookup. */
  getUser(name: string): Promise<UserRecord | undefined>;
  /** Sorted by name. */
  listUsers(): Promise<UserRecord[]>;
  /** Users named after `after` (none: from the first), sorted by name, at most `limit`. */
  usersAfter(after: string | undefined, limit: number): Promise<UserRecord[]>;
  /** Rejects with `AUTH_UNKNOWN_USER` if there is no such user. */
  setPublicKey(name: string, publicKeyHex: string): Promise<void>;
  /**
   * One transaction for the batch. `lastSeen` never moves backwards (a late, older entry is
   * ignored); unknown names are skipped so one stale entry cannot fail the batch.
   */
  flushLastSeen(entries: Array<{ name: string; at: number }>): Promise<void>;

  appendAudit(entry: AuditEntry): Promise<void>;
  /**
   * The `limit` newest entries that pass the filters (`user` compared case-insensitively),
   * newest first; entries with equal `at` come newest-appended first.
   */
  listAudit(opts: AuditQuery): Promise<AuditEntry[]>;
}
