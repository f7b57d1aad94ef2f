/**
 * The client's message log on a real SQLite file: dedupe, the hand-over mark, what the user
 * sent (history, never handed over), lazy creation, the upgrade of a log written before
 * `outgoing`/`at` existed, and pruning.
 */

import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import {
  type InboxEvent,
  MAX_ENTRIES,
  MessageLog,
  messageLogPath,
  RETENTION_MS,
} from "../../../src/peer/message-log.js";

/** The clock the log is given (it reads none itself). */
const NOW = 1_800_000_000_000;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), "hallway-log-"));
  dirs.push(d);
  return d;
}

const msg = (id: string, from: string, to: string, text = `text ${id}`): InboxEvent => ({
  event: "message",
  id,
  from,
  to,
  text,
  via: "direct",
  sentAt: 1_000 + Number(id.replace(/\D/g, "") || 0),
});
const group = (id: string, seq: number, from = "carol"): InboxEvent => ({
  event: "groupMessage",
  id,
  group: "ops",
  from,
  text: `g ${id}`,
  seq,
  sentAt: 2_000 + seq,
});

function open(d: string, user = "bob"): MessageLog {
  const log = MessageLog.open(d, user, true, NOW);
  if (!log) throw new Error("not opened");
  return log;
}

describe("message log", () => {
  it("records each message once, by id, by group and seq, and receipts by id", () => {
    const log = open(dir());
    const first = log.record(
      [msg("m1", "alice", "bob"), group("g1", 1), { event: "delivered", id: "x1" }],
      [],
      NOW,
    );
    expect(first.map((e) => e.event.event)).toEqual(["message", "groupMessage", "delivered"]);
    // Delivered again after a lost acknowledgement: nothing new.
    expect(
      log.record(
        [msg("m1", "alice", "bob"), group("g1-other-id", 1), { event: "delivered", id: "x1" }],
        [],
        NOW,
      ),
    ).toEqual([]);
    expect(log.record([group("g1", 2)], [], NOW)).toEqual([]);
    log.close();
  });

  it("hands over again, at the next open, exactly what is above the mark", () => {
    const d = dir();
    const log = open(d);
    const entries = log.record(
      [msg("m1", "alice", "bob"), msg("m2", "alice", "bob"), msg("m3", "alice", "bob")],
      [],
      NOW,
    );
    log.handedOver((entries[1] as { seq: number }).seq);
    log.close();
    const again = open(d);
    expect(again.pending().map((e) => (e.event as { id: string }).id)).toEqual(["m3"]);
    // Taken back: the write that was marked first did not go through.
    again.handedOver((entries[1] as { seq: number }).seq, false);
    expect(again.pending().map((e) => (e.event as { id: string }).id)).toEqual(["m2", "m3"]);
    again.close();
  });

  it("keeps what the user sent as history, never handed over; a message to oneself still arrives", () => {
    const d = dir();
    const log = open(d);
    log.record([], [msg("s1", "bob", "alice", "hi alice")], NOW);
    const fresh = log.record(
      [msg("m2", "alice", "bob", "hi bob")],
      [msg("s3", "bob", "alice", "how are you")],
      NOW,
    );
    expect(fresh.map((e) => (e.event as { id: string }).id)).toEqual(["m2"]);
    expect(log.pending().map((e) => (e.event as { id: string }).id)).toEqual(["m2"]);
    // In the order recorded (a turn's sends before its arrivals); the TUI orders by time.
    expect(log.recent("alice", 10).map((e) => (e.event === "message" ? e.text : ""))).toEqual([
      "hi alice",
      "how are you",
      "hi bob",
    ]);
    // Sent to oneself: recorded as sent, and its arrival is still new.
    log.record([], [msg("self", "bob", "bob")], NOW);
    expect(log.record([msg("self", "bob", "bob")], [], NOW).length).toBe(1);
    log.close();
  });

  it("a damaged mark file falls back to the mark kept at close; one left from another log is ignored", () => {
    const d = dir();
    const log = open(d);
    const entries = log.record(
      [msg("m1", "alice", "bob"), msg("m2", "alice", "bob"), msg("m3", "alice", "bob")],
      [],
      NOW,
    );
    log.handedOver((entries[0] as { seq: number }).seq);
    log.close();
    const again = open(d);
    again.handedOver((entries[2] as { seq: number }).seq);
    // Killed: no close, so the database still says m1.
    writeFileSync(`${messageLogPath(d, "bob")}.mark`, "garbage!garbage!");
    const afterDamage = open(d);
    expect(afterDamage.pending().map((e) => (e.event as { id: string }).id)).toEqual(["m2", "m3"]);
    afterDamage.close();
    again.close();

    const other = dir();
    const first = open(other);
    first.handedOver(first.record([msg("m1", "alice", "bob")], [], NOW)[0]?.seq ?? 0);
    first.close();
    rmSync(messageLogPath(other, "bob"));
    const fresh = open(other);
    fresh.record([msg("n1", "alice", "bob")], [], NOW);
    fresh.close();
    expect(
      open(other)
        .pending()
        .map((e) => (e.event as { id: string }).id),
    ).toEqual(["n1"]);
  });

  it("is created only when asked: opening without `create` finds nothing and writes nothing", () => {
    const d = dir();
    expect(MessageLog.open(d, "bob", false, NOW)).toBeUndefined();
    expect(existsSync(messageLogPath(d, "bob"))).toBe(false);
    open(d).close();
    expect(statSync(messageLogPath(d, "bob")).mode & 0o777).toBe(0o600);
    const again = MessageLog.open(d, "bob", false, NOW);
    expect(again).toBeDefined();
    again?.close();
  });

  it("opens a log written before `outgoing` and `at` existed, with its pending entries", () => {
    const d = dir();
    const old = new Database(messageLogPath(d, "bob"));
    old.exec(`
      CREATE TABLE entries (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,
        msg_id TEXT UNIQUE, conversation TEXT, body TEXT NOT NULL);
      CREATE TABLE mark (one INTEGER PRIMARY KEY CHECK (one = 1), handed INTEGER NOT NULL);
      INSERT INTO mark (one, handed) VALUES (1, 1);
    `);
    const insert = old.prepare("INSERT INTO entries (key, msg_id, conversation, body) VALUES (?, ?, ?, ?)");
    insert.run("m:m1", "m1", "alice", JSON.stringify(msg("m1", "alice", "bob")));
    insert.run("m:m2", "m2", "alice", JSON.stringify(msg("m2", "alice", "bob")));
    old.close();
    const log = open(d);
    expect(log.pending().map((e) => (e.event as { id: string }).id)).toEqual(["m2"]);
    expect(log.record([msg("m1", "alice", "bob")], [], NOW)).toEqual([]);
    expect(log.recent("alice", 10).length).toBe(2);
    log.close();
  });

  it("prunes handed-over entries past the retention when it opens, never what is pending", () => {
    const d = dir();
    const log = open(d);
    const entries = log.record(
      [msg("m1", "alice", "bob"), msg("m2", "alice", "bob"), msg("m3", "alice", "bob")],
      [],
      NOW,
    );
    log.handedOver((entries[1] as { seq: number }).seq);
    log.close();
    // Everything recorded long ago.
    const db = new Database(messageLogPath(d, "bob"));
    db.prepare("UPDATE entries SET at = ?").run(NOW - RETENTION_MS - 1000);
    db.close();
    const again = open(d);
    expect(again.recent("alice", 10).map((e) => e.id)).toEqual(["m3"]);
    expect(again.pending().map((e) => (e.event as { id: string }).id)).toEqual(["m3"]);
    again.close();
    expect(MAX_ENTRIES).toBeGreaterThan(10_000);
  });
});
