/**
 * Neo4j adapter for the registry `Store` port (neo4j-driver). Same contract as SQLite, checked
 * by the same suite against a real Neo4j (`test/integration/neo4j-store.test.ts`).
 *
 * Group commit (`group-commit.ts`). The appends (`appendHistory`, `enqueueOffline`,
 * `appendAudit`, `appendGroupMessage`, `ackGroup`, which every member sends per group
 * message, and `setPublicKey`, which a login of a new device makes) that arrive in one event-loop turn, or while the previous batch commits, run in
 * one write transaction, one after another, and resolve once it has committed. An
 * append's work checks before it writes (unknown user, unknown group), so its own refusal
 * fails it alone and leaves nothing behind; a failure of the transaction (Neo4j gone, a
 * statement refused by the server) fails every append in it with `STORE_FAILED`. One batch
 * commits at a time, so appends to one group resolve in seq order.
 *
 *
 * The folder is cut by the port's parts, like `sqlite/`. `Neo4jStore` (this file) holds one
 * `Neo4jDatabase` (`database.ts`: the driver, open or closed, the outage state, transactions
 * and the group commit) and is a `ComposedStore` (`../composed-store.ts`) of one object per
 * part working through it, to which each method of the port is forwarded: `Neo4jAccounts`
 * (`accounts.ts`), `Neo4jMessages` (`messages.ts`), `Neo4jPeople` and `Neo4jGroups`
 * (`people.ts`, `groups.ts`: the social part) and `Neo4jDump` (`dump.ts`). The graph model and
 * its migrations are in `schema.ts`, every statement in `cypher.ts` (the one catalogue the
 * linter test reads), the record mapping in `mapping.ts`, and the export's and import's
 * record <-> row translation in `dump.ts`.
 */

import { ComposedStore } from "../composed-store.js";
import type { GroupCommit } from "../group-commit.js";
import { Neo4jAccounts } from "./accounts.js";
import { type Append, Neo4jDatabase, type Neo4jStoreOptions } from "./database.js";
import { Neo4jDump } from "./dump.js";
import { Neo4jGroups } from "./groups.js";
import { Neo4jMessages } from "./messages.js";
import { Neo4jPeople } from "./people.js";

export {
  DEFAULT_REGISTRY,
  type DriverFactory,
  type Neo4jConnection,
  type Neo4jStoreOptions,
  OUTAGE_PROBE_INTERVAL_MS,
} from "./database.js";

export class Neo4jStore extends ComposedStore {
  readonly registry: string;
  /** Appends waiting for their batch's transaction (see the header). */
  readonly appends: GroupCommit<Append>;
  private readonly db: Neo4jDatabase;

  constructor(options: Neo4jStoreOptions) {
    const db = new Neo4jDatabase(options);
    super({
      accounts: new Neo4jAccounts(db),
      messages: new Neo4jMessages(db),
      people: new Neo4jPeople(db),
      groups: new Neo4jGroups(db),
      dump: new Neo4jDump(db),
    });
    this.db = db;
    this.registry = db.registry;
    this.appends = db.appends;
  }

  /** A store that is connected and initialised. */
  static async connect(options: Neo4jStoreOptions): Promise<Neo4jStore> {
    const store = new Neo4jStore(options);
    await store.init();
    return store;
  }

  /** Where this store connects, for logs: URI without credentials, database, registry. */
  describe(): string {
    return this.db.describe();
  }

  override init(): Promise<void> {
    return this.db.init();
  }

  override close(): Promise<void> {
    return this.db.close();
  }
}
