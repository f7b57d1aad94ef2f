/**
 * Every Cypher statement of the Neo4j adapter, in one place, so that the lint test
 * (`test/server/cypher-lint.test.ts`) runs Neo4j's own linter over each of them and the adapter
 * cannot send a statement that was not linted. Each entry declares:
 *
 * - `mode`: `schema` statements run one per transaction in `init()`; `read` statements contain
 *   no updating clause (the lint test checks the parse tree) and may run in `executeRead`, which
 *   a cluster routes to any member; `write` statements run in `executeWrite`, on the leader.
 * - `params`: every parameter the text uses and its type. The adapter's call sites are typed
 *   from it (`ParamsOf`), and the lint test declares exactly these to the linter, so a typo in
 *   either place fails a check.
 *
 * Every node carries `registry`: one Neo4j database can hold several registries (the contract
 * tests run each test in a registry of its own), and every key, constraint and index starts
 * with it. Times are integers (milliseconds since the epoch), never floats.
 */

import type { Integer } from "neo4j-driver";

export type CypherType = "STRING" | "STRING?" | "INTEGER" | "INTEGER?" | "LIST<STRING>" | "LIST<MAP>";
export type StatementMode = "schema" | "read" | "write";

export interface CypherStatement {
  readonly mode: StatementMode;
  readonly text: string;
  readonly params: Readonly<Record<string, CypherType>>;
}

/** What the driver is given for each declared type. Integers go as `Integer`: a JS number is sent as a float. */
interface CypherValues {
  STRING: string;
  "STRING?": string | null;
  INTEGER: Integer;
  "INTEGER?": Integer | null;
  "LIST<STRING>": readonly string[];
  "LIST<MAP>": ReadonlyArray<Readonly<Record<string, string | Integer>>>;
}

/** Bumped when the graph model changes; `openRegistry` refuses data written by a newer build. */
export const GRAPH_SCHEMA_VERSION = 1;

/** Node labels and relationship types of the model, declared to the linter. */
export const GRAPH_LABELS = ["Registry", "User", "Message", "Audit"] as const;
export const GRAPH_RELATIONSHIP_TYPES = ["SENT", "TO", "QUEUED", "LOGGED"] as const;

const MESSAGE_FIELDS = "m {.id, .from, .to, .body, .sentAt, .deliveredAt}";
const USER_FIELDS = "u {.name, .passwordHash, .publicKey, .displayName, .createdAt, .lastSeen}";
const AUDIT_FIELDS = "a {.user, .event, .at, .address}";

export const CYPHER = {
  // --- schema: idempotent, one transaction each (Neo4j does not mix schema and data writes) ---
  registryConstraint: {
    mode: "schema",
    text: "CREATE CONSTRAINT hallway_registry IF NOT EXISTS FOR (r:Registry) REQUIRE r.registry IS UNIQUE",
    params: {},
  },
  userConstraint: {
    mode: "schema",
    text: "CREATE CONSTRAINT hallway_user IF NOT EXISTS FOR (u:User) REQUIRE (u.registry, u.nameLower) IS UNIQUE",
    params: {},
  },
  messageConstraint: {
    mode: "schema",
    text: "CREATE CONSTRAINT hallway_message IF NOT EXISTS FOR (m:Message) REQUIRE (m.registry, m.id) IS UNIQUE",
    params: {},
  },
  conversationIndex: {
    mode: "schema",
    text: "CREATE INDEX hallway_conversation IF NOT EXISTS FOR (m:Message) ON (m.registry, m.conversation, m.sentAt)",
    params: {},
  },
  auditIndex: {
    mode: "schema",
    text: "CREATE INDEX hallway_audit IF NOT EXISTS FOR (a:Audit) ON (a.registry, a.at)",
    params: {},
  },

  // --- the registry node: schema version and the audit sequence counter ---
  openRegistry: {
    mode: "write",
    text: `MERGE (r:Registry {registry: $registry})
ON CREATE SET r.schemaVersion = $schemaVersion, r.createdAt = $now, r.auditSeq = 0
RETURN r.schemaVersion AS schemaVersion`,
    params: { registry: "STRING", schemaVersion: "INTEGER", now: "INTEGER" },
  },

  // --- users ---
  /** MERGE under the uniqueness constraint: the adapter reads "created?" from the summary counters. */
  createUser: {
    mode: "write",
    text: `MERGE (u:User {registry: $registry, nameLower: $nameKey})
ON CREATE SET u.name = $name, u.passwordHash = $passwordHash, u.createdAt = $createdAt`,
    params: {
      registry: "STRING",
      nameKey: "STRING",
      name: "STRING",
      passwordHash: "STRING",
      createdAt: "INTEGER",
    },
  },
  getUser: {
    mode: "read",
    text: `MATCH (u:User {registry: $registry, nameLower: $nameKey})
RETURN ${USER_FIELDS} AS user`,
    params: { registry: "STRING", nameKey: "STRING" },
  },
  listUsers: {
    mode: "read",
    text: `MATCH (u:User {registry: $registry})
RETURN ${USER_FIELDS} AS user
ORDER BY u.nameLower, u.name`,
    params: { registry: "STRING" },
  },
  setPublicKey: {
    mode: "write",
    text: `MATCH (u:User {registry: $registry, nameLower: $nameKey})
SET u.publicKey = $publicKey
RETURN count(u) AS updated`,
    params: { registry: "STRING", nameKey: "STRING", publicKey: "STRING" },
  },
  /**
   * One row per user (the latest time in the batch wins), then `lastSeen` only moves forward.
   * Reading `u.lastSeen` on the right of SET takes the node's write lock first, so two
   * concurrent flushes cannot lose the later time.
   */
  flushLastSeen: {
    mode: "write",
    text: `UNWIND $entries AS entry
WITH entry.nameKey AS nameKey, max(entry.at) AS at
MATCH (u:User {registry: $registry, nameLower: nameKey})
SET u.lastSeen = CASE WHEN u.lastSeen IS NULL OR u.lastSeen < at THEN at ELSE u.lastSeen END`,
    params: { registry: "STRING", entries: "LIST<MAP>" },
  },

  // --- audit ---
  /** `seq` orders entries with equal `at`; the counter on the registry node is locked by the SET. */
  appendAudit: {
    mode: "write",
    text: `MATCH (u:User {registry: $registry, nameLower: $userKey})
MATCH (r:Registry {registry: $registry})
SET r.auditSeq = coalesce(r.auditSeq, 0) + 1
CREATE (u)-[:LOGGED]->(:Audit {registry: $registry, user: $user, event: $event, at: $at, address: $address, seq: r.auditSeq})
RETURN count(*) AS written`,
    params: {
      registry: "STRING",
      userKey: "STRING",
      user: "STRING",
      event: "STRING",
      at: "INTEGER",
      address: "STRING",
    },
  },
  listAudit: {
    mode: "read",
    text: `MATCH (a:Audit {registry: $registry})
RETURN ${AUDIT_FIELDS} AS entry
ORDER BY a.at DESC, a.seq DESC
LIMIT $limit`,
    params: { registry: "STRING", limit: "INTEGER" },
  },
  listAuditForUser: {
    mode: "read",
    text: `MATCH (:User {registry: $registry, nameLower: $userKey})-[:LOGGED]->(a:Audit)
RETURN ${AUDIT_FIELDS} AS entry
ORDER BY a.at DESC, a.seq DESC
LIMIT $limit`,
    params: { registry: "STRING", userKey: "STRING", limit: "INTEGER" },
  },

  // --- messages, history and the offline queue ---
  /** Which of the given (lower-cased) names are users: a message must name two of them. */
  knownUsers: {
    mode: "read",
    text: `MATCH (u:User {registry: $registry})
WHERE u.nameLower IN $nameKeys
RETURN u.nameLower AS nameKey`,
    params: { registry: "STRING", nameKeys: "LIST<STRING>" },
  },
  /**
   * Idempotent on id: MERGE under the uniqueness constraint waits for a concurrent insert of the
   * same id to commit, and only the transaction that created the node (it has no SENT yet) links
   * it, so the first stored copy wins, also for its sender and recipient.
   */
  insertMessage: {
    mode: "write",
    text: `MATCH (f:User {registry: $registry, nameLower: $fromKey})
MATCH (t:User {registry: $registry, nameLower: $toKey})
MERGE (m:Message {registry: $registry, id: $id})
ON CREATE SET m.from = $from, m.to = $to, m.conversation = $conversation, m.body = $body,
  m.sentAt = $sentAt, m.deliveredAt = $deliveredAt
WITH f, t, m
WHERE NOT EXISTS { (m)<-[:SENT]-(:User) }
CREATE (f)-[:SENT]->(m)-[:TO]->(t)`,
    params: {
      registry: "STRING",
      fromKey: "STRING",
      toKey: "STRING",
      id: "STRING",
      from: "STRING",
      to: "STRING",
      conversation: "STRING",
      body: "STRING",
      sentAt: "INTEGER",
      deliveredAt: "INTEGER?",
    },
  },
  /**
   * Queues the stored copy for its recipient, unless it is delivered or already queued. The
   * order key is a counter on the recipient's node. Both SET items read what they write, which
   * takes the write locks on the recipient and the message before the checks below read
   * anything: an ack (which deletes QUEUED, locking both ends) or a markDelivered of the same
   * message commits either wholly before or wholly after this check.
   */
  queueMessage: {
    mode: "write",
    text: `MATCH (m:Message {registry: $registry, id: $id})-[:TO]->(r:User)
SET r.queueSeq = coalesce(r.queueSeq, 0) + 1, m.sentAt = m.sentAt
WITH r, m
WHERE m.deliveredAt IS NULL AND NOT EXISTS { (r)-[:QUEUED]->(m) }
CREATE (r)-[:QUEUED {seq: r.queueSeq}]->(m)`,
    params: { registry: "STRING", id: "STRING" },
  },
  pendingOffline: {
    mode: "read",
    text: `MATCH (:User {registry: $registry, nameLower: $toKey})-[q:QUEUED]->(m:Message)
RETURN ${MESSAGE_FIELDS} AS message
ORDER BY q.seq
LIMIT $limit`,
    params: { registry: "STRING", toKey: "STRING", limit: "INTEGER" },
  },
  ackOffline: {
    mode: "write",
    text: `MATCH (:User {registry: $registry, nameLower: $toKey})-[q:QUEUED]->(m:Message)
WHERE m.id IN $ids
DELETE q
SET m.deliveredAt = coalesce(m.deliveredAt, $at)
RETURN count(*) AS removed`,
    params: { registry: "STRING", toKey: "STRING", ids: "LIST<STRING>", at: "INTEGER" },
  },
  markDelivered: {
    mode: "write",
    text: `MATCH (m:Message {registry: $registry, id: $id})
SET m.deliveredAt = coalesce(m.deliveredAt, $at)`,
    params: { registry: "STRING", id: "STRING", at: "INTEGER" },
  },
  historyLatest: {
    mode: "read",
    text: `MATCH (m:Message {registry: $registry, conversation: $conversation})
RETURN ${MESSAGE_FIELDS} AS message
ORDER BY m.sentAt DESC, m.id DESC
LIMIT $limit`,
    params: { registry: "STRING", conversation: "STRING", limit: "INTEGER" },
  },
  historyBefore: {
    mode: "read",
    text: `MATCH (m:Message {registry: $registry, conversation: $conversation})
WHERE m.sentAt < $beforeSentAt OR (m.sentAt = $beforeSentAt AND m.id < $beforeId)
RETURN ${MESSAGE_FIELDS} AS message
ORDER BY m.sentAt DESC, m.id DESC
LIMIT $limit`,
    params: {
      registry: "STRING",
      conversation: "STRING",
      beforeSentAt: "INTEGER",
      beforeId: "STRING",
      limit: "INTEGER",
    },
  },

  // --- maintenance ---
  /** Removes one registry's data and nothing else (the contract tests' cleanup). */
  deleteRegistry: {
    mode: "write",
    text: `MATCH (n:Registry|User|Message|Audit {registry: $registry})
DETACH DELETE n`,
    params: { registry: "STRING" },
  },
} as const satisfies Record<string, CypherStatement>;

export type StatementKey = keyof typeof CYPHER;

type ModeKey<M extends StatementMode> = {
  [K in StatementKey]: (typeof CYPHER)[K]["mode"] extends M ? K : never;
}[StatementKey];

export type SchemaKey = ModeKey<"schema">;
export type ReadKey = ModeKey<"read">;
/** A write transaction may also run read statements. */
export type DataKey = ModeKey<"read" | "write">;

export type ParamsOf<K extends StatementKey> = {
  -readonly [P in keyof (typeof CYPHER)[K]["params"]]: CypherValues[(typeof CYPHER)[K]["params"][P] &
    CypherType];
};

/** Schema statements in the order `init()` runs them. */
export const SCHEMA_KEYS: readonly SchemaKey[] = (Object.keys(CYPHER) as StatementKey[]).filter(
  (key): key is SchemaKey => CYPHER[key].mode === "schema",
);
