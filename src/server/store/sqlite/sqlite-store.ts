/**
 * SQLite adapter for the registry `Store` port (better-sqlite3, one synchronous connection).
 *
 * Durability: the database runs in WAL mode with `synchronous = FULL`. WAL alone keeps every
 * committed transaction safe from a crash of this process; with the default `NORMAL` level the
 * last commits can still be rolled back by a power cut or OS crash, because the WAL is only
 * fsynced at checkpoints. `enqueueOffline` promises that a resolved message survives, and the
 * sender is told it was stored, so every commit fsyncs the WAL.
 *
 * Group commit (`group-commit.ts`): the appends (`appendHistory`, `enqueueOffline`,
 * `appendAudit`, `appendGroupMessage`, `ackGroup`, `setPublicKey`) that arrive in one turn share one
 * `BEGIN IMMEDIATE` transaction and one fsync, each append in a savepoint of its own so that
 * its constraint failure fails it alone; their promises resolve once it has committed. Every
 * other write commits the pending appends first, so writes take effect in call order; reads
 * see what has committed (an append is visible once its promise has resolved). A burst of
 * 10,000 history entries is a handful of fsyncs instead of 10,000.
 *
 * The folder is cut by the port's parts. `SqliteStore` (this file) holds one `SqliteDatabase`
 * (`database.ts`: the connection, open or closed, its transactions and group commit) and is a
 * `ComposedStore` (`../composed-store.ts`) of one object per part working through it, to which
 * each method of the port is forwarded: `SqliteAccounts` (`accounts.ts`), `SqliteMessages`
 * (`messages.ts`), `SqlitePeople` and `SqliteGroups` (`people.ts`, `groups.ts`: the social
 * part) and `SqliteDump` (`dump.ts`). Delegation rather than free functions over the
 * connection: each part is a class that implements one narrow port, checked by the compiler.
 * What the parts share: every statement and the lookups of stored spellings in
 * `statements.ts`, row shapes in `rows.ts`, the schema and its migrations in `schema.ts`.
 */

import { ComposedStore } from "../composed-store.js";
import type { GroupCommit } from "../group-commit.js";
import { SqliteAccounts } from "./accounts.js";
import { type Append, SqliteDatabase, type SqliteStoreOptions } from "./database.js";
import { SqliteDump } from "./dump.js";
import { SqliteGroups } from "./groups.js";
import { SqliteMessages } from "./messages.js";
import { SqlitePeople } from "./people.js";

export type { SqliteStoreOptions } from "./database.js";

export class SqliteStore extends ComposedStore {
  readonly path: string;
  /** Appends waiting for the end of the turn, committed together (see the header). */
  readonly appends: GroupCommit<Append>;
  private readonly db: SqliteDatabase;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    const db = new SqliteDatabase(path, options);
    super({
      accounts: new SqliteAccounts(db),
      messages: new SqliteMessages(db),
      people: new SqlitePeople(db),
      groups: new SqliteGroups(db),
      dump: new SqliteDump(db),
    });
    this.db = db;
    this.path = path;
    this.appends = db.appends;
  }

  /** A store that is already initialised. */
  static async open(path: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
    const store = new SqliteStore(path, options);
    await store.init();
    return store;
  }

  override init(): Promise<void> {
    return this.db.init();
  }

  override close(): Promise<void> {
    return this.db.close();
  }
}
