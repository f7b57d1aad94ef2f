/**
 * What LAN mode owes others, durably (docs/discovery.md): one SQLite file per account in the
 * data directory (`lan-outbox-<user>.sqlite`, mode 0600, WAL, `synchronous = FULL`).
 *
 *   - `outbox`: messages to peers that were not on the LAN when sent. Each leaves by one of
 *     two ways, whichever comes first: directly, when its recipient appears and sends the
 *     receipt; or to the registry as an offline message, once it is reachable again. Both
 *     carry the message's id, so the recipient's log and the registry's queue keep it once.
 *   - `history`: direct messages delivered while no registry was reachable, for the
 *     registry's history (`history.batch`) when it is back.
 *
 * A row is removed only after the receipt, or after the registry acknowledged it.
 */

import type Database from "better-sqlite3";
import { HallwayError } from "../errors.js";
import type { ChatMessage, HistoryEntry } from "../protocol/control.js";
import { accountFilePath, openAccountDatabase } from "./account-db.js";

export function lanOutboxPath(dir: string, user: string): string {
  return accountFilePath(dir, "lan-outbox", user);
}

export class LanOutbox {
  private readonly db: Database.Database;
  /** The ids in each table, so that the calls on every receipt and history batch cost nothing when none waits. */
  private readonly outboxIds = new Set<string>();
  private readonly historyIds = new Set<string>();

  private constructor(readonly path: string) {
    try {
      this.db = openAccountDatabase(path);
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS outbox (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          recipient TEXT NOT NULL,
          body TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS outbox_recipient ON outbox (recipient, seq);
        CREATE TABLE IF NOT EXISTS history (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          body TEXT NOT NULL
        );
      `);
      for (const r of this.db.prepare("SELECT id FROM outbox").all() as Array<{ id: string }>)
        this.outboxIds.add(r.id);
      for (const r of this.db.prepare("SELECT id FROM history").all() as Array<{ id: string }>)
        this.historyIds.add(r.id);
    } catch (err) {
      throw this.failed(err);
    }
  }

  static open(dir: string, user: string): LanOutbox {
    return new LanOutbox(lanOutboxPath(dir, user));
  }

  private failed(err: unknown): HallwayError {
    return new HallwayError(
      "LOCAL_LOG_FAILED",
      `the LAN outbox ${this.path} cannot be written (${(err as Error).message.split("\n")[0]})`,
    );
  }

  private run<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw this.failed(err);
    }
  }

  /** Keeps `msg` until it is delivered or stored at the registry; a second add is a no-op. */
  add(msg: ChatMessage): void {
    if (this.outboxIds.has(msg.id)) return;
    this.run(() =>
      this.db
        .prepare("INSERT OR IGNORE INTO outbox (id, recipient, body) VALUES (?, ?, ?)")
        .run(msg.id, msg.to, JSON.stringify(msg)),
    );
    this.outboxIds.add(msg.id);
  }

  /** Waiting messages, oldest first; only those to `recipient` if given. */
  waiting(recipient?: string): ChatMessage[] {
    const rows = this.run(() =>
      recipient === undefined
        ? this.db.prepare("SELECT body FROM outbox ORDER BY seq").all()
        : this.db.prepare("SELECT body FROM outbox WHERE recipient = ? ORDER BY seq").all(recipient),
    ) as Array<{ body: string }>;
    return rows.map((r) => JSON.parse(r.body) as ChatMessage);
  }

  has(id: string): boolean {
    return this.outboxIds.has(id);
  }

  /** Delivered (receipt) or stored at the registry. */
  remove(id: string): void {
    if (!this.outboxIds.has(id)) return;
    this.run(() => this.db.prepare("DELETE FROM outbox WHERE id = ?").run(id));
    this.outboxIds.delete(id);
  }

  addHistory(entry: HistoryEntry): void {
    if (this.historyIds.has(entry.id)) return;
    this.run(() =>
      this.db
        .prepare("INSERT OR IGNORE INTO history (id, body) VALUES (?, ?)")
        .run(entry.id, JSON.stringify(entry)),
    );
    this.historyIds.add(entry.id);
  }

  history(): HistoryEntry[] {
    const rows = this.run(() => this.db.prepare("SELECT body FROM history ORDER BY seq").all()) as Array<{
      body: string;
    }>;
    return rows.map((r) => JSON.parse(r.body) as HistoryEntry);
  }

  /** The registry has these history entries. */
  removeHistory(all: readonly string[]): void {
    const ids = all.filter((id) => this.historyIds.has(id));
    if (ids.length === 0) return;
    const del = this.db.prepare("DELETE FROM history WHERE id = ?");
    this.run(() =>
      this.db.transaction(() => {
        for (const id of ids) del.run(id);
      })(),
    );
    for (const id of ids) this.historyIds.delete(id);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
