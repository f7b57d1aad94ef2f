/**
 * The client's durable local message log: one SQLite file per account in the data
 * directory (`messages-<user>.sqlite`, mode 0600). The disk adapter of "acknowledge after
 * hand-over" (docs/architecture.md):
 *
 *   1. what arrives for the user (a direct or offline message, a group message, a receipt)
 *      is recorded here, in one committed transaction per event-loop turn (what arrived in
 *      it: one fsync for a burst), *before* the client acknowledges it to the registry or the
 *      sender;
 *   2. the presenter is given each newly recorded entry, in log order, and reports when it
 *      has handed it over (the JSON mode: when the write to stdout completed);
 *   3. the log keeps a hand-over mark, the highest entry handed over. At the next start,
 *      every entry above it is handed over again.
 *
 * Exactly once: an entry is recorded once (a direct message by its id, a group message by
 * its group and seq and by its id, a receipt by the message id), so a registry or a sender
 * that delivers again after a lost acknowledgement adds nothing. What remains is the moment
 * between the write to stdout completing and the mark being written: a process killed
 * there shows those lines again at its next start (see docs/architecture.md).
 *
 * WAL with `synchronous = FULL`: a recorded entry survives the process and the machine. The
 * hand-over mark goes through a second connection with `synchronous = NORMAL`: its commit is
 * one `write(2)` to the WAL, so it survives the process at once, and only a power loss can
 * take the last marks back (those messages are then shown again).
 */

import { chmodSync, existsSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { HallwayError } from "../errors.js";
import type { PeerEvent } from "./events.js";

/** What the log records: the events a user must see once each. */
export type InboxEvent = Extract<PeerEvent, { event: "message" | "groupMessage" | "delivered" }>;

export interface LoggedEntry {
  /** The entry's place in the log: hand-over follows it. */
  seq: number;
  event: InboxEvent;
}

/** The log's file for `user` in `dir`: names that are not plain file names are hex-encoded. */
export function messageLogPath(dir: string, user: string): string {
  const safe = /^[a-z0-9][a-z0-9._-]{0,63}$/.test(user) ? user : `x-${Buffer.from(user).toString("hex")}`;
  return join(dir, `messages-${safe}.sqlite`);
}

/** The dedupe key of an entry; a group message also has its id as a second key. */
function keysOf(e: InboxEvent): { key: string; msgId: string | null } {
  switch (e.event) {
    case "message":
      return { key: `m:${e.id}`, msgId: e.id };
    case "groupMessage":
      return { key: `g:${e.group}:${e.seq}`, msgId: e.id };
    case "delivered":
      return { key: `r:${e.id}`, msgId: null };
  }
}

/** The conversation an entry belongs to, for the TUI's history: a user or `#group`. */
function conversationOf(e: InboxEvent, me: string): string | null {
  switch (e.event) {
    case "message":
      return e.from === me ? e.to : e.from;
    case "groupMessage":
      return `#${e.group}`;
    case "delivered":
      return null;
  }
}

const failed = (path: string, err: unknown) =>
  new HallwayError(
    "LOCAL_LOG_FAILED",
    `the message log ${path} cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
  );

export class MessageLog {
  private readonly db: Database.Database;
  /** The hand-over mark's own connection: no fsync per mark. */
  private readonly markDb: Database.Database;
  private readonly insert: Database.Statement;
  private readonly markStmt: Database.Statement;
  private readonly recordAll: (events: readonly InboxEvent[]) => LoggedEntry[];
  private handed: number;

  private constructor(
    readonly path: string,
    private readonly me: string,
  ) {
    const fresh = !existsSync(path);
    try {
      this.db = new Database(path);
      if (fresh) chmodSync(path, 0o600);
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("synchronous = FULL");
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS entries (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          key TEXT NOT NULL UNIQUE,
          msg_id TEXT UNIQUE,
          conversation TEXT,
          body TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS entries_conversation ON entries (conversation, seq);
        CREATE TABLE IF NOT EXISTS mark (one INTEGER PRIMARY KEY CHECK (one = 1), handed INTEGER NOT NULL);
        INSERT OR IGNORE INTO mark (one, handed) VALUES (1, 0);
      `);
      this.markDb = new Database(path);
      this.markDb.pragma("synchronous = NORMAL");
      // Its first write opens what a write needs, now rather than at the first mark.
      this.markDb.exec("UPDATE mark SET handed = handed WHERE one = 1");
    } catch (err) {
      throw new HallwayError(
        "LOCAL_LOG_FAILED",
        `the message log ${path} cannot be opened (${(err as Error).message.split("\n")[0]}); move it away to start a new one`,
      );
    }
    this.insert = this.db.prepare(
      "INSERT OR IGNORE INTO entries (key, msg_id, conversation, body) VALUES (?, ?, ?, ?)",
    );
    this.markStmt = this.markDb.prepare("UPDATE mark SET handed = ? WHERE one = 1");
    this.handed = (this.db.prepare("SELECT handed FROM mark").get() as { handed: number }).handed;
    this.recordAll = this.db.transaction((events: readonly InboxEvent[]) => {
      const fresh: LoggedEntry[] = [];
      for (const event of events) {
        const { key, msgId } = keysOf(event);
        const r = this.insert.run(key, msgId, conversationOf(event, this.me), JSON.stringify(event));
        if (r.changes === 1) fresh.push({ seq: Number(r.lastInsertRowid), event });
      }
      return fresh;
    });
  }

  /** Opens (or creates) the log of `user` in the data directory `dir`. */
  static open(dir: string, user: string): MessageLog {
    return new MessageLog(messageLogPath(dir, user), user);
  }

  /**
   * Records the events not recorded before, in one durable transaction, and returns those
   * (in order): the ones to hand over. Throws `LOCAL_LOG_FAILED` if the disk refuses, in
   * which case nothing may be acknowledged.
   */
  record(events: readonly InboxEvent[]): LoggedEntry[] {
    if (events.length === 0) return [];
    try {
      return this.recordAll(events);
    } catch (err) {
      throw failed(this.path, err);
    }
  }

  /** Everything recorded and not handed over yet, oldest first. */
  pending(): LoggedEntry[] {
    const rows = this.db
      .prepare("SELECT seq, body FROM entries WHERE seq > ? ORDER BY seq")
      .all(this.handed) as Array<{ seq: number; body: string }>;
    return rows.map((r) => ({ seq: r.seq, event: JSON.parse(r.body) as InboxEvent }));
  }

  /**
   * Entries up to `seq` have been handed over (hand-over is in log order), durably against
   * the process's death when this returns. `handed: false` takes it back: the entry at `seq`
   * and those after it were not handed over after all.
   */
  handedOver(seq: number, handed = true): void {
    const mark = handed ? seq : seq - 1;
    if ((handed ? mark <= this.handed : mark >= this.handed) || !this.markDb.open) return;
    try {
      this.markStmt.run(mark);
      this.handed = mark;
    } catch {
      // Not marked: shown again at the next start, never lost.
    }
  }

  /** The last `limit` entries of a conversation (a user, or `#group`), oldest first. */
  recent(conversation: string, limit: number): InboxEvent[] {
    const rows = this.db
      .prepare("SELECT body FROM entries WHERE conversation = ? ORDER BY seq DESC LIMIT ?")
      .all(conversation, limit) as Array<{ body: string }>;
    return rows.reverse().map((r) => JSON.parse(r.body) as InboxEvent);
  }

  close(): void {
    if (this.markDb.open) this.markDb.close();
    if (this.db.open) this.db.close();
  }
}
