/**
 * The registry's storage port. Every adapter (SQLite today, Neo4j later) implements this
 * interface and runs the same contract suite (`test/server/store-contract.ts`), so the rules
 * below are checked, not just written down:
 *
 * - Names are compared case-insensitively everywhere (the caller stores them lower-cased).
 * - Times are milliseconds since the epoch, supplied by the caller. The one exception is
 *   `ackOffline`, whose `deliveredAt` comes from the adapter's injected clock.
 * - Writes that reference a user (audit, messages) must name an existing user; otherwise they
 *   reject with `STORE_FAILED`. Storage failures reject with `STORE_FAILED`; a data location
 *   that cannot be written rejects with `DATA_DIR_UNWRITABLE`.
 * - A `limit` of zero or less yields an empty result.
 * - After `close()`, every other method rejects with `STORE_FAILED`.
 */

export interface UserRecord {
  name: string;
  passwordHash: string;
  /** Hex-encoded public key, once the user has registered one. */
  publicKey: string | null;
  displayName: string | null;
  createdAt: number;
  lastSeen: number | null;
}

export interface StoredMessage {
  id: string;
  from: string;
  to: string;
  body: string;
  sentAt: number;
  deliveredAt: number | null;
}

export type AuditEvent = "register" | "login" | "logout" | "timeout";

export interface AuditEntry {
  user: string;
  event: AuditEvent;
  at: number;
  address: string;
}

/** Position in a conversation: pages hold messages strictly before it in (sentAt, id) order. */
export interface HistoryCursor {
  sentAt: number;
  id: string;
}

export interface Store {
  /** Opens the backing storage and creates or migrates the schema. Idempotent. */
  init(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;

  /** Rejects with `AUTH_USER_EXISTS` if the name is taken, compared case-insensitively. */
  createUser(user: { name: string; passwordHash: string; createdAt: number }): Promise<void>;
  /** Case-insensitive lookup. */
  getUser(name: string): Promise<UserRecord | undefined>;
  /** Sorted by name. */
  listUsers(): Promise<UserRecord[]>;
  /** Rejects with `AUTH_UNKNOWN_USER` if there is no such user. */
  setPublicKey(name: string, publicKeyHex: string): Promise<void>;
  /**
   * One transaction for the batch. `lastSeen` never moves backwards (a late, older entry is
   * ignored); unknown names are skipped so one stale entry cannot fail the batch.
   */
  flushLastSeen(entries: Array<{ name: string; at: number }>): Promise<void>;

  appendAudit(entry: AuditEntry): Promise<void>;
  /** Newest first; entries with equal `at` come newest-appended first. */
  listAudit(opts: { user?: string; limit: number }): Promise<AuditEntry[]>;

  /**
   * Durable (committed) when the promise resolves. Also appends the message to history.
   * Idempotent on `id`: if the id is already queued or already delivered this is a no-op, and
   * the first stored copy of a message wins.
   */
  enqueueOffline(msg: StoredMessage): Promise<void>;
  /** Messages queued for `to`, in enqueue order (oldest first). */
  pendingOffline(to: string, limit: number): Promise<StoredMessage[]>;
  /**
   * Removes those of `ids` that are queued for `to` (other ids are ignored), sets `deliveredAt`
   * on their history rows unless already set, and returns how many were removed.
   */
  ackOffline(to: string, ids: string[]): Promise<number>;

  /** Idempotent on `id`: the first stored copy wins. */
  appendHistory(msg: StoredMessage): Promise<void>;
  /** The first delivery time wins; an unknown id is ignored. */
  markDelivered(id: string, at: number): Promise<void>;
  /**
   * Both directions of the a<->b conversation. The page is the `limit` newest messages strictly
   * before `before` in (sentAt, id) order, returned oldest-first; the next page's cursor is the
   * first message of this one.
   */
  history(a: string, b: string, opts: { limit: number; before?: HistoryCursor }): Promise<StoredMessage[]>;
}
