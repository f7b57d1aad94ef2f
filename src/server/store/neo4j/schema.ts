/**
 * The graph: its model, constraints and indexes (created by `init`, statements in `cypher.ts`),
 * and the steps that bring a registry stored by an older build up to this model.
 *
 * Model (every node also carries `registry`, see below):
 *
 *   (:Registry {registry, schemaVersion, createdAt, auditSeq})
 *   (:User {name, nameLower, passwordHash, publicKey, createdAt, lastSeen, queueSeq, noticeSeq,
 *           displayName, displayKey, statusText, email, phone, department, note,
 *           birthDate, gender, country, region, school, profession, visibility, profileUpdatedAt,
 *           searchText})                   model 5: the seed's profile fields; searchText is
 *                                          `searchWords` of name, display name, department,
 *                                          school, profession (text index, CONTAINS)
 *   (:User)-[:SENT]->(:Message {id, from, to, conversation, body, sentAt, deliveredAt})-[:TO]->(:User)
 *   (:User)-[:QUEUED {seq}]->(:Message)           the offline queue: recipient -> queued message
 *   (:Audit {user, event, at, address, detail, seq})   linked (:User)-[:LOGGED]->(:Audit) when
 *                                                  the user exists: a failed login may name nobody
 *   (:User)-[:REQUESTED {at}]->(:User)             a pending friend request
 *   (:User)-[:FRIEND {since}]->(:User)             one per pair, lower name key -> higher; read
 *                                                  in either direction
 *   (:Group {name, nameLower, createdAt, lastSeq, description})
 *   (:User)-[:ADMIN_OF]->(:Group)                  exactly one per group
 *   (:User)-[:MEMBER {joinedAt, ackedSeq}]->(:Group)
 *   (:User)-[:WANTS_TO_JOIN {at}]->(:Group)        a pending join request
 *   (:User)-[:POSTED]->(:GroupMessage {id, groupKey, group, from, body, sentAt, seq})-[:IN]->(:Group)
 *   (:User)-[:NOTIFIED]->(:Notice {id, to, kind, body, at, seq})
 *
 *   unique (registry, nameLower) on User and Group, (registry, id) on Message, GroupMessage and
 *   Notice, (registry, groupKey, seq) on GroupMessage (which also serves history pages and
 *   backlogs), registry on Registry; indexes (registry, conversation, sentAt) on Message for
 *   history pages, (registry, at) on Audit, (registry, displayKey) on User for search.
 *
 * "People you may know" is one pattern: two hops over FRIEND|MEMBER from the user, counting
 * distinct middle nodes that are users (mutual friends) and groups (shared groups).
 *
 * Ordering keys. The queue's order is `QUEUED.seq`, taken from a counter on the recipient's node
 * in the transaction that queues, and notices' order `Notice.seq` likewise; the audit's
 * tie-break is `Audit.seq`, from a counter on the registry node; a group message's `seq` is the
 * group's `lastSeq`, incremented in the transaction that stores it. Incrementing a counter with
 * `SET n.c = n.c + 1` takes the node's write lock before reading it (Neo4j's rule for a SET that
 * reads what it writes), so concurrent writers get distinct, increasing numbers; where a lock is
 * needed with nothing to increment, a statement sets and removes a property (LOCKING in
 * `cypher.ts`). History pages by (sentAt, id) like SQLite.
 *
 * `registry` scopes everything: one Neo4j database can hold several registries, and the contract
 * tests use a fresh one per test on a shared server without touching anything else.
 */

import { int, type ManagedTransaction } from "neo4j-driver";
import { HallwayError } from "../../../errors.js";
import { searchWords } from "../search-words.js";
import { CYPHER, GRAPH_SCHEMA_VERSION, runStatement, SCHEMA_KEYS } from "./cypher.js";
import { LOAD_BATCH_ROWS } from "./dump.js";
import { toCount } from "./mapping.js";

/** One write transaction of `init`, each statement in its own. */
export type InitTransaction = <T>(
  op: string,
  work: (tx: Pick<ManagedTransaction, "run">) => Promise<T>,
) => Promise<T>;

/**
 * Creates the constraints and indexes, the registry's node, and runs what an older model needs;
 * rejects a registry stored by a newer build.
 */
export async function prepareGraph(
  transaction: InitTransaction,
  registry: string,
  now: () => number,
): Promise<void> {
  for (const key of SCHEMA_KEYS) {
    await transaction(`init (${key})`, (tx) => tx.run(CYPHER[key].text));
  }
  const version = await transaction("init", async (tx) => {
    const result = await runStatement(tx, "openRegistry", {
      registry,
      schemaVersion: int(GRAPH_SCHEMA_VERSION),
      now: int(now()),
    });
    return toCount(result.records[0]?.get("schemaVersion"), "schemaVersion");
  });
  if (version > GRAPH_SCHEMA_VERSION) {
    throw new HallwayError(
      "STORE_FAILED",
      `registry ${JSON.stringify(registry)} in Neo4j has schema version ${version}, newer than this build supports (${GRAPH_SCHEMA_VERSION})`,
    );
  }
  if (version < 4) {
    for (const key of ["addMessageTextKeys", "addGroupMessageTextKeys"] as const) {
      await transaction(`init (${key})`, (tx) => runStatement(tx, key, { registry }));
    }
  }
  if (version < 5) await addSearchTexts(transaction, registry);
}

/**
 * Model 5: the search text of users stored before it, in batches of `LOAD_BATCH_ROWS`, each
 * statement in its own transaction like the rest of `init`.
 */
async function addSearchTexts(transaction: InitTransaction, registry: string): Promise<void> {
  for (;;) {
    const rows = await transaction("init (usersWithoutSearchText)", async (tx) => {
      const result = await runStatement(tx, "usersWithoutSearchText", {
        registry,
        limit: int(LOAD_BATCH_ROWS),
      });
      return result.records.map((r) => {
        const u = r.get("user") as Record<string, string | null>;
        return {
          nameKey: u.nameLower ?? "",
          searchText: searchWords([u.name, u.displayName, u.department, u.school, u.profession]),
        };
      });
    });
    if (rows.length === 0) return;
    await transaction("init (setSearchTexts)", (tx) =>
      runStatement(tx, "setSearchTexts", { registry, rows }),
    );
    if (rows.length < LOAD_BATCH_ROWS) return;
  }
}
