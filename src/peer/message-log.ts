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
 * between the mark and the presenter's write (the JSON mode marks first): a process killed
 * there does not show that write's lines, which stay in the log as history
 * (docs/architecture.md says why no order of two system calls closes it). The mark is one
 * `pwrite(2)` of 12 bytes to make that moment as short as it can be.
 *
 * What the user sent is recorded too (`outgoing`), never handed over: with the rest it makes
 * the conversation the TUI reads back across restarts (`recent`). Handed-over entries older
 * than RETENTION_MS, and the oldest beyond MAX_ENTRIES, are pruned when the log opens: the
 * registry's history keeps the rest, and a message that old is not delivered again.
 *
 * WAL with `synchronous = FULL`: a recorded entry survives the process and the machine. The
 * hand-over mark lives beside it in `<log>.mark` (the seq and its CRC-32, rewritten in place
 * without fsync): it survives the process at once, and only a power loss can take the last
 * marks back (those messages are then shown again). A missing or damaged mark file falls back
 * to the mark the database keeps at each close: again, shown again rather than lost.
 */

import { closeSync, constants, existsSync, openSync, readSync, writeSync } from "node:fs";
import { crc32 } from "node:zlib";
import type Database from "better-sqlite3";
import { HallwayError } from "../errors.js";
import { accountFilePath, openAccountDatabase } from "./account-db.js";
import type { PeerEvent } from "./events.js";

/** What the log records: the events a user must see once each. */
export type InboxEvent = Extract<PeerEvent, { event: "message" | "groupMessage" | "delivered" }>;

/** The mark file: the handed-over seq (int64 LE) and its CRC-32 (uint32 LE). */
const MARK_BYTES = 12;

/** Handed-over entries older than this are pruned when the log opens. */
export const RETENTION_MS = 180 * 24 * 3600 * 1000;
/** Beyond this many entries, the oldest handed-over ones are pruned when the log opens. */
export const MAX_ENTRIES = 200_000;

export interface LoggedEntry {
  /** The entry's place in the log: hand-over follows it. */
  seq: number;
  event: InboxEvent;
}

/** The log's file for `user` in `dir`: names that are not plain file names are hex-encoded. */
export function messageLogPath(dir: string, user: string): string {
  return accountFilePath(dir, "messages", user);
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
  /** The hand-over mark's own file (`<log>.mark`), written in place. */
  private markFd: number | undefined;
  private readonly markBytes = Buffer.alloc(MARK_BYTES);
  private readonly insert: Database.Statement;
  private readonly recordAll: (
    events: readonly InboxEvent[],
    outgoing: readonly InboxEvent[],
    at: number,
  ) => LoggedEntry[];
  private handed: number;

  private constructor(
    readonly path: string,
    private readonly me: string,
    now: number,
  ) {
    const fresh = !existsSync(path);
    try {
      this.db = openAccountDatabase(path);
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
      // Added after the first release of the log: what the user sent, and when each was recorded.
      const columns = new Set(
        (this.db.prepare("PRAGMA table_info(entries)").all() as Array<{ name: string }>).map((c) => c.name),
      );
      if (!columns.has("outgoing"))
        this.db.exec("ALTER TABLE entries ADD COLUMN outgoing INTEGER NOT NULL DEFAULT 0");
      if (!columns.has("at")) {
        this.db.exec("ALTER TABLE entries ADD COLUMN at INTEGER NOT NULL DEFAULT 0");
        this.db.prepare("UPDATE entries SET at = ?").run(now);
      }
      this.markFd = openSync(`${path}.mark`, constants.O_RDWR | constants.O_CREAT, 0o600);
    } catch (err) {
      throw new HallwayError(
        "LOCAL_LOG_FAILED",
        `the message log ${path} cannot be opened (${(err as Error).message.split("\n")[0]}); move it away to start a new one`,
      );
    }
    this.insert = this.db.prepare(
      "INSERT OR IGNORE INTO entries (key, msg_id, conversation, body, outgoing, at) VALUES (?, ?, ?, ?, ?, ?)",
    );
    const kept = (this.db.prepare("SELECT handed FROM mark").get() as { handed: number }).handed;
    // A mark file left from a log that is gone, or past the last entry, is not this log's.
    const { last } = this.db
      .prepare("SELECT coalesce(max(seq), 0) AS last FROM sqlite_sequence WHERE name = 'entries'")
      .get() as { last: number };
    const marked = fresh ? undefined : this.readMark();
    this.handed = marked !== undefined && marked <= last ? marked : kept;
    if (this.handed !== marked) this.writeMark(this.handed);
    this.recordAll = this.db.transaction(
      (events: readonly InboxEvent[], outgoing: readonly InboxEvent[], at: number) => {
        for (const event of outgoing) {
          // Keys of their own: a message to oneself also arrives, and must be handed over then.
          this.insert.run(
            `o:${event.id}`,
            null,
            conversationOf(event, this.me),
            JSON.stringify(event),
            1,
            at,
          );
        }
        const fresh: LoggedEntry[] = [];
        for (const event of events) {
          const { key, msgId } = keysOf(event);
          const r = this.insert.run(key, msgId, conversationOf(event, this.me), JSON.stringify(event), 0, at);
          if (r.changes === 1) fresh.push({ seq: Number(r.lastInsertRowid), event });
        }
        return fresh;
      },
    );
    this.prune(now);
  }

  /** Drops handed-over entries past the retention, and the oldest beyond MAX_ENTRIES. */
  private prune(now: number): void {
    try {
      this.db.prepare("DELETE FROM entries WHERE seq <= ? AND at < ?").run(this.handed, now - RETENTION_MS);
      const { n } = this.db.prepare("SELECT count(*) AS n FROM entries").get() as { n: number };
      if (n > MAX_ENTRIES) {
        this.db
          .prepare(
            "DELETE FROM entries WHERE seq IN (SELECT seq FROM entries WHERE seq <= ? ORDER BY seq LIMIT ?)",
          )
          .run(this.handed, n - MAX_ENTRIES);
      }
    } catch {
      // Not pruned this time: the log only stays larger.
    }
  }

  /**
   * Opens the log of `user` in the data directory `dir`; creates it only with `create`
   * (a login that fails leaves no file behind), else undefined when there is none. `now`
   * dates what an old log had, and prunes.
   */
  static open(dir: string, user: string, create: boolean, now: number): MessageLog | undefined {
    const path = messageLogPath(dir, user);
    if (!create && !existsSync(path)) return undefined;
    return new MessageLog(path, user, now);
  }

  /**
   * Records the events not recorded before, in one durable transaction, and returns those
   * (in order): the ones to hand over. Throws `LOCAL_LOG_FAILED` if the disk refuses, in
   * which case nothing may be acknowledged. `outgoing`: what the user sent, recorded in the
   * same transaction as history only (never handed over).
   */
  record(events: readonly InboxEvent[], outgoing: readonly InboxEvent[], now: number): LoggedEntry[] {
    if (events.length === 0 && outgoing.length === 0) return [];
    try {
      return this.recordAll(events, outgoing, now);
    } catch (err) {
      throw failed(this.path, err);
    }
  }

  /** Everything recorded and not handed over yet, oldest first. */
  pending(): LoggedEntry[] {
    const rows = this.db
      .prepare("SELECT seq, body FROM entries WHERE seq > ? AND outgoing = 0 ORDER BY seq")
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
    if (handed ? mark <= this.handed : mark >= this.handed) return;
    if (this.writeMark(mark)) this.handed = mark;
  }

  /** One `pwrite(2)`; false if it failed (not marked: shown again at the next start, never lost). */
  private writeMark(mark: number): boolean {
    if (this.markFd === undefined) return false;
    const b = this.markBytes;
    b.writeBigInt64LE(BigInt(mark), 0);
    b.writeUInt32LE(crc32(b.subarray(0, 8)), 8);
    try {
      return writeSync(this.markFd, b, 0, MARK_BYTES, 0) === MARK_BYTES;
    } catch {
      return false;
    }
  }

  /** The mark file's seq, or undefined when it is missing, short or damaged. */
  private readMark(): number | undefined {
    if (this.markFd === undefined) return undefined;
    const b = Buffer.alloc(MARK_BYTES);
    if (readSync(this.markFd, b, 0, MARK_BYTES, 0) !== MARK_BYTES) return undefined;
    if (b.readUInt32LE(8) !== crc32(b.subarray(0, 8))) return undefined;
    return Number(b.readBigInt64LE(0));
  }

  /** The last `limit` entries of a conversation (a user, or `#group`), sent and received, oldest first. */
  recent(conversation: string, limit: number): InboxEvent[] {
    const rows = this.db
      .prepare("SELECT body FROM entries WHERE conversation = ? ORDER BY seq DESC LIMIT ?")
      .all(conversation, limit) as Array<{ body: string }>;
    return rows.reverse().map((r) => JSON.parse(r.body) as InboxEvent);
  }

  close(): void {
    if (this.markFd !== undefined) {
      closeSync(this.markFd);
      this.markFd = undefined;
    }
    if (!this.db.open) return;
    try {
      // The mark the database keeps, should the mark file be lost.
      this.db.prepare("UPDATE mark SET handed = ? WHERE one = 1").run(this.handed);
    } catch {
      // Kept in the mark file only.
    }
    this.db.close();
  }
}
