/**
 * The connection every part of the SQLite adapter works through: opening (file checks,
 * pragmas, the JavaScript functions the schema calls, migrations), the open/closed state, and
 * the four ways to run statements: `run` (a read, or one statement), `write` (after the
 * pending appends), `append` (in the next group commit) and `transaction` (`BEGIN IMMEDIATE`,
 * after the pending appends). Every failure leaves as a one-line `HallwayError`.
 */

import { chmodSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import { HallwayError } from "../../../errors.js";
import { wallClock } from "../../../net/clock.js";
import { systemRuntime } from "../../../net/system-runtime.js";
import { GroupCommit, type Outcome } from "../group-commit.js";
import { searchKey } from "../port-rules.js";
import { searchWords } from "../search-words.js";
import { checkStoreFile, migrate } from "./schema.js";
import { prepareStatements, type Statements } from "./statements.js";

export interface SqliteStoreOptions {
  /**
   * Clock for times the port does not pass in (ack delivery time, migration time). Default:
   * the wall clock (`net/clock.ts`).
   */
  now?: () => number;
  /** Runs a function at the end of this turn: when the group commit commits. Default the process's. */
  soon?: (fn: () => void) => void;
  /** How long a write waits for another connection's lock before `SQLITE_BUSY`. Default 5000. */
  busyTimeoutMs?: number;
  /** An existing empty file is a deliberately new store (`hallway server --init`), not a damaged one. */
  init?: boolean;
}

/** One append in a group commit: statements run inside the batch's transaction. */
export type Append = { op: string; apply: (s: Statements) => unknown };

interface OpenState {
  kind: "open";
  db: Database.Database;
  statements: Statements;
}

type State = { kind: "new" } | OpenState | { kind: "closed" };

export class SqliteDatabase {
  readonly path: string;
  readonly now: () => number;
  private readonly busyTimeoutMs: number;
  private readonly initNew: boolean;
  private state: State = { kind: "new" };
  /** Appends waiting for the end of the turn, committed together (see `sqlite-store.ts`). */
  readonly appends: GroupCommit<Append>;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.path = path;
    this.now = options.now ?? wallClock.now;
    this.appends = new GroupCommit<Append>({
      commit: (batch) => this.commitAppends(batch),
      batchError: (err, size) => toStoreError(`commit of ${size} appends`, err, this.path),
      schedule: options.soon ?? systemRuntime.soon,
    });
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    this.initNew = options.init ?? false;
  }

  async init(): Promise<void> {
    if (this.state.kind === "open") return;
    if (this.state.kind === "closed") throw new HallwayError("STORE_FAILED", "store is closed");

    const inMemory = this.path === ":memory:";
    if (!inMemory) {
      const dir = dirname(resolve(this.path));
      try {
        mkdirSync(dir, { recursive: true });
      } catch (err) {
        throw new HallwayError(
          "DATA_DIR_UNWRITABLE",
          `cannot create data directory ${dir} (${errorCode(err)})`,
          { cause: err },
        );
      }
    }

    const { fresh } = inMemory ? { fresh: false } : checkStoreFile(this.path, this.initNew);
    let db: Database.Database | undefined;
    try {
      db = new Database(this.path, { timeout: this.busyTimeoutMs });
      // The registry's accounts and messages: the owner's alone (its -wal and -shm follow).
      if (fresh) chmodSync(this.path, 0o600);
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = FULL");
      db.pragma("foreign_keys = ON");
      // The search index's key, folded in JavaScript as every other search key (port-rules.ts).
      db.function("hallway_search_key", { deterministic: true }, (body: unknown) =>
        typeof body === "string" ? searchKey(body) : null,
      );
      db.function("hallway_search_words", { deterministic: true, varargs: true }, (...fields: unknown[]) =>
        searchWords(fields.map((f) => (typeof f === "string" ? f : null))),
      );
      migrate(db, this.path, this.now);
      this.state = { kind: "open", db, statements: prepareStatements(db) };
    } catch (err) {
      db?.close();
      throw toStoreError(`open ${this.path}`, err, this.path);
    }
  }

  async close(): Promise<void> {
    if (this.state.kind === "open") {
      void this.appends.drain();
      this.state.db.close();
    }
    this.state = { kind: "closed" };
  }

  opened(): OpenState {
    switch (this.state.kind) {
      case "open":
        return this.state;
      case "new":
        throw new HallwayError("STORE_FAILED", "store used before init()");
      case "closed":
        throw new HallwayError("STORE_FAILED", "store is closed");
    }
  }

  run<T>(op: string, fn: (s: Statements) => T): T {
    const { statements } = this.opened();
    try {
      return fn(statements);
    } catch (err) {
      throw toStoreError(op, err, this.path);
    }
  }

  /** A one-statement write, after the appends waiting before it. */
  write<T>(op: string, fn: (s: Statements) => T): T {
    this.opened();
    void this.appends.drain();
    return this.run(op, fn);
  }

  /** An append, in the next group commit; resolves with `apply`'s result once that commits. */
  append<T>(op: string, apply: (s: Statements) => T): Promise<T> {
    this.opened();
    return this.appends.add<T>({ op, apply });
  }

  /**
   * The group commit's transaction: each append in a savepoint (better-sqlite3 nests a
   * transaction as one), so a constraint failure rolls back that append alone and fails it;
   * any other failure (disk full, busy, I/O) aborts the transaction and fails the batch.
   */
  private commitAppends(batch: readonly Append[]): Outcome[] {
    const { db, statements } = this.opened();
    return db
      .transaction(() =>
        batch.map((a): Outcome => {
          try {
            return { ok: true, value: db.transaction(() => a.apply(statements))() };
          } catch (err) {
            if (!(err instanceof HallwayError) && !sqliteCode(err)?.startsWith("SQLITE_CONSTRAINT"))
              throw err;
            return { ok: false, error: toStoreError(a.op, err, this.path) };
          }
        }),
      )
      .immediate();
  }

  /** `BEGIN IMMEDIATE`: take the write lock up front instead of failing to upgrade a read lock. */
  transaction<T>(op: string, fn: (s: Statements, db: Database.Database) => T): T {
    const { db, statements } = this.opened();
    void this.appends.drain();
    try {
      return db.transaction(() => fn(statements, db)).immediate();
    } catch (err) {
      throw toStoreError(op, err, this.path);
    }
  }
}

export function sqliteCode(err: unknown): string | undefined {
  return err instanceof Database.SqliteError ? err.code : undefined;
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code;
  return err instanceof Error ? (err.message.split("\n")[0] ?? "") : String(err);
}

const UNWRITABLE = /^SQLITE_(CANTOPEN|READONLY|PERM)/;

export function toStoreError(op: string, err: unknown, path: string): HallwayError {
  if (err instanceof HallwayError) return err;
  const code = sqliteCode(err);
  if (code !== undefined && UNWRITABLE.test(code)) {
    return new HallwayError("DATA_DIR_UNWRITABLE", `cannot write database ${path} (${code})`, { cause: err });
  }
  if (code === "SQLITE_CONSTRAINT_FOREIGNKEY") {
    return new HallwayError(
      "STORE_FAILED",
      `store ${op} failed: it refers to an unknown user, group or message`,
      {
        cause: err,
      },
    );
  }
  const detail = err instanceof Error ? (err.message.split("\n")[0] ?? "") : String(err);
  return new HallwayError("STORE_FAILED", `store ${op} failed: ${detail}${code ? ` (${code})` : ""}`, {
    cause: err,
  });
}
