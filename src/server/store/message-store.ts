/**
 * The messages part of the store port: 1:1 messages, the offline queue that holds them for a
 * recipient who is away, history both ways, and search over a user's messages (1:1 and in
 * their groups). The rules every part keeps are in `store.ts`.
 */

export interface StoredMessage {
  id: string;
  from: string;
  to: string;
  body: string;
  sentAt: number;
  deliveredAt: number | null;
}

/** A message `searchMessages` found: 1:1 (`to` set) or in a group (`group` and `seq` set). */
export interface MessageHit {
  id: string;
  from: string;
  to: string | null;
  group: string | null;
  seq: number | null;
  body: string;
  sentAt: number;
}

/** Position in a conversation: pages hold messages strictly before it in (sentAt, id) order. */
export interface HistoryCursor {
  sentAt: number;
  id: string;
}

export interface MessageStore {
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
  /** Messages queued for `to` (0 for an unknown user). */
  countOffline(to: string): Promise<number>;

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
  /**
   * The `limit` newest messages (sentAt, then id, descending) whose text contains `query`
   * (both lower-cased as `searchKey` does), among `user`'s 1:1 messages, sent or received, and
   * the messages of the groups `user` is a member of now. Served by an index in each adapter
   * (a trigram index in SQLite, a text index in Neo4j). An empty query finds nothing; an
   * unknown user finds nothing.
   */
  searchMessages(user: string, query: string, limit: number): Promise<MessageHit[]>;
}
