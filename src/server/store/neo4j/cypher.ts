/**
 * Every Cypher statement of the Neo4j adapter, in one place, so that the lint test
 * (`test/integration/cypher-lint.test.ts`) runs Neo4j's own linter over each of them and the adapter
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

import type { Integer, ManagedTransaction, Result } from "neo4j-driver";

export type CypherType = "STRING" | "STRING?" | "INTEGER" | "INTEGER?" | "MAP" | "LIST<STRING>" | "LIST<MAP>";
export type StatementMode = "schema" | "read" | "write";

export interface CypherStatement {
  readonly mode: StatementMode;
  readonly text: string;
  readonly params: Readonly<Record<string, CypherType>>;
}

export type CypherScalar = string | Integer | null;

/** What the driver is given for each declared type. Integers go as `Integer`: a JS number is sent as a float. */
interface CypherValues {
  STRING: string;
  "STRING?": string | null;
  INTEGER: Integer;
  "INTEGER?": Integer | null;
  MAP: Readonly<Record<string, CypherScalar>>;
  "LIST<STRING>": readonly string[];
  "LIST<MAP>": ReadonlyArray<Readonly<Record<string, CypherScalar | Readonly<Record<string, CypherScalar>>>>>;
}

/** Bumped when the graph model changes; `openRegistry` refuses data written by a newer build. */
export const GRAPH_SCHEMA_VERSION = 5;

/** Node labels and relationship types of the model, declared to the linter. */
export const GRAPH_LABELS = [
  "Registry",
  "User",
  "Message",
  "Audit",
  "Group",
  "GroupMessage",
  "Notice",
] as const;
export const GRAPH_RELATIONSHIP_TYPES = [
  "SENT",
  "TO",
  "QUEUED",
  "LOGGED",
  "REQUESTED",
  "FRIEND",
  "MEMBER",
  "ADMIN_OF",
  "WANTS_TO_JOIN",
  "POSTED",
  "IN",
  "NOTIFIED",
] as const;

/**
 * LOCKING. Neo4j reads at read-committed; a transaction holds a node's write lock from its first
 * write to that node until it ends. Two ways to take one here, both checked against a real
 * server by the contract suite's concurrency tests:
 *
 * - `SET n.c = n.c + 1` (any SET whose right side reads the property it writes): Cypher takes
 *   the lock *before* it reads, so concurrent increments never lose one.
 * - `LOCK("n")`, for a lock without a value to change: a property set and removed in one
 *   statement, Neo4j's documented idiom. It writes nothing that outlives the transaction. Not
 *   `SET n.p = n.p`, which reads `p` before waiting for the lock and then writes that stale value
 *   into the transaction, hiding a later committed one from the rest of it.
 */
const LOCK = (v: string) => `SET ${v}._lock = true
REMOVE ${v}._lock`;

const MESSAGE_FIELDS = "m {.id, .from, .to, .body, .sentAt, .deliveredAt}";
const USER_FIELDS = `u {.name, .passwordHash, .publicKey, .displayName, .statusText, .email, .phone, .department,
  .note, .createdAt, .lastSeen, .birthDate, .gender, .country, .region, .school, .profession, .visibility,
  .profileUpdatedAt}`;
/** Needs `g` and the admin `a` (OPTIONAL MATCH, so a group without one fails loudly in the mapping). */
const GROUP_FIELDS =
  "{name: g.name, admin: a.name, createdAt: g.createdAt, lastSeq: g.lastSeq, description: g.description}";
const GROUP_MESSAGE_FIELDS = "m {.id, .group, .from, .body, .sentAt, .seq}";
const NOTICE_FIELDS = "n {.id, .to, .kind, .body, .at}";
const AUDIT_FIELDS = "a {.user, .event, .at, .address, .detail}";

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
  displayKeyIndex: {
    mode: "schema",
    text: "CREATE INDEX hallway_user_display IF NOT EXISTS FOR (u:User) ON (u.registry, u.displayKey)",
    params: {},
  },
  groupConstraint: {
    mode: "schema",
    text: "CREATE CONSTRAINT hallway_group IF NOT EXISTS FOR (g:Group) REQUIRE (g.registry, g.nameLower) IS UNIQUE",
    params: {},
  },
  groupMessageConstraint: {
    mode: "schema",
    text: "CREATE CONSTRAINT hallway_group_message IF NOT EXISTS FOR (m:GroupMessage) REQUIRE (m.registry, m.id) IS UNIQUE",
    params: {},
  },
  /** The per-group order, enforced, and the index that serves history pages and backlogs. */
  groupSeqConstraint: {
    mode: "schema",
    text: "CREATE CONSTRAINT hallway_group_seq IF NOT EXISTS FOR (m:GroupMessage) REQUIRE (m.registry, m.groupKey, m.seq) IS UNIQUE",
    params: {},
  },
  noticeConstraint: {
    mode: "schema",
    text: "CREATE CONSTRAINT hallway_notice IF NOT EXISTS FOR (n:Notice) REQUIRE (n.registry, n.id) IS UNIQUE",
    params: {},
  },

  messageText: {
    mode: "schema",
    text: "CREATE TEXT INDEX hallway_message_text IF NOT EXISTS FOR (m:Message) ON (m.textKey)",
    params: {},
  },
  /** User search (model 5): `searchText` holds the user's folded words (search-words.ts). */
  userSearchText: {
    mode: "schema",
    text: "CREATE TEXT INDEX hallway_user_search IF NOT EXISTS FOR (u:User) ON (u.searchText)",
    params: {},
  },
  groupMessageText: {
    mode: "schema",
    text: "CREATE TEXT INDEX hallway_group_message_text IF NOT EXISTS FOR (m:GroupMessage) ON (m.textKey)",
    params: {},
  },
  // --- the registry node: schema version and the audit sequence counter ---
  /**
   * Returns the version the registry had (or was created with); raises an older one to this
   * build's, since every model change so far only adds node kinds and optional properties.
   */
  openRegistry: {
    mode: "write",
    text: `MERGE (r:Registry {registry: $registry})
ON CREATE SET r.schemaVersion = $schemaVersion, r.createdAt = $now, r.auditSeq = 0
WITH r, r.schemaVersion AS found
SET r.schemaVersion = CASE WHEN found < $schemaVersion THEN $schemaVersion ELSE found END
RETURN found AS schemaVersion`,
    params: { registry: "STRING", schemaVersion: "INTEGER", now: "INTEGER" },
  },

  // --- users ---
  /** MERGE under the uniqueness constraint: the adapter reads "created?" from the summary counters. */
  createUser: {
    mode: "write",
    text: `MERGE (u:User {registry: $registry, nameLower: $nameKey})
ON CREATE SET u.name = $name, u.passwordHash = $passwordHash, u.createdAt = $createdAt, u.searchText = $searchText`,
    params: {
      registry: "STRING",
      nameKey: "STRING",
      name: "STRING",
      passwordHash: "STRING",
      createdAt: "INTEGER",
      searchText: "STRING",
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
  /**
   * `seq` orders entries with equal `at`; the counter on the registry node is locked by the SET.
   * An entry may name nobody (a failed login for an unknown name) or no one (`user` empty): it
   * is linked to its user only if there is one. `detail` null leaves the property out.
   */
  appendAudit: {
    mode: "write",
    text: `MATCH (r:Registry {registry: $registry})
SET r.auditSeq = coalesce(r.auditSeq, 0) + 1
CREATE (a:Audit {registry: $registry, user: $user, event: $event, at: $at, address: $address, detail: $detail, seq: r.auditSeq})
WITH a
OPTIONAL MATCH (u:User {registry: $registry, nameLower: $userKey})
FOREACH (x IN CASE WHEN u IS NULL THEN [] ELSE [u] END | CREATE (x)-[:LOGGED]->(a))
RETURN count(*) AS written`,
    params: {
      registry: "STRING",
      userKey: "STRING",
      user: "STRING",
      event: "STRING",
      at: "INTEGER",
      address: "STRING",
      detail: "STRING?",
    },
  },
  /** Every filter is a parameter: a null `userKey`, `since` or `until` passes everything. */
  listAudit: {
    mode: "read",
    text: `MATCH (a:Audit {registry: $registry})
WHERE ($userKey IS NULL OR toLower(a.user) = $userKey)
  AND ($since IS NULL OR a.at >= $since)
  AND ($until IS NULL OR a.at < $until)
  AND a.event IN $events
RETURN ${AUDIT_FIELDS} AS entry
ORDER BY a.at DESC, a.seq DESC
LIMIT $limit`,
    params: {
      registry: "STRING",
      userKey: "STRING?",
      since: "INTEGER?",
      until: "INTEGER?",
      events: "LIST<STRING>",
      limit: "INTEGER",
    },
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
  m.textKey = $textKey, m.sentAt = $sentAt, m.deliveredAt = $deliveredAt
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
      textKey: "STRING",
      sentAt: "INTEGER",
      deliveredAt: "INTEGER?",
    },
  },
  /**
   * Queues the stored copy for its recipient, unless it is delivered or already queued. The
   * order key is a counter on the recipient's node (a SET that reads what it writes, so it
   * locks first); the message is locked too (LOCKING), before the checks below read anything:
   * an ack (which deletes QUEUED, locking both ends) or a markDelivered of the same message
   * commits either wholly before or wholly after this check.
   */
  queueMessage: {
    mode: "write",
    text: `MATCH (m:Message {registry: $registry, id: $id})-[:TO]->(r:User)
SET r.queueSeq = coalesce(r.queueSeq, 0) + 1
${LOCK("m")}
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

  // --- profiles and search ---
  /** `profile` holds the changed fields (null removes one) and `displayKey` with a display name. */
  setProfile: {
    mode: "write",
    text: `MATCH (u:User {registry: $registry, nameLower: $nameKey})
SET u += $profile
RETURN count(u) AS updated`,
    params: { registry: "STRING", nameKey: "STRING", profile: "MAP" },
  },
  searchUsers: {
    mode: "read",
    text: `MATCH (u:User {registry: $registry})
WHERE u.searchText CONTAINS $needle
RETURN ${USER_FIELDS} AS user
ORDER BY u.nameLower, u.name
LIMIT $limit`,
    params: { registry: "STRING", needle: "STRING", limit: "INTEGER" },
  },
  /** The fields `searchText` is made of, for users of an older model that have none. */
  usersWithoutSearchText: {
    mode: "read",
    text: `MATCH (u:User {registry: $registry})
WHERE u.searchText IS NULL
RETURN u {.nameLower, .name, .displayName, .department, .school, .profession} AS user
LIMIT $limit`,
    params: { registry: "STRING", limit: "INTEGER" },
  },
  setSearchTexts: {
    mode: "write",
    text: `UNWIND $rows AS row
MATCH (u:User {registry: $registry, nameLower: row.nameKey})
SET u.searchText = row.searchText
RETURN count(*) AS written`,
    params: { registry: "STRING", rows: "LIST<MAP>" },
  },

  // --- pages and quotas ---
  usersAfter: {
    mode: "read",
    text: `MATCH (u:User {registry: $registry})
WHERE u.nameLower > $afterKey
RETURN ${USER_FIELDS} AS user
ORDER BY u.nameLower
LIMIT $limit`,
    params: { registry: "STRING", afterKey: "STRING", limit: "INTEGER" },
  },
  searchUsersAfter: {
    mode: "read",
    text: `MATCH (u:User {registry: $registry})
WHERE u.nameLower > $afterKey AND u.searchText CONTAINS $needle
RETURN ${USER_FIELDS} AS user
ORDER BY u.nameLower
LIMIT $limit`,
    params: { registry: "STRING", needle: "STRING", afterKey: "STRING", limit: "INTEGER" },
  },
  searchGroupsAfter: {
    mode: "read",
    text: `MATCH (g:Group {registry: $registry})
WHERE g.nameLower > $afterKey AND g.nameLower STARTS WITH $prefix
OPTIONAL MATCH (a:User)-[:ADMIN_OF]->(g)
RETURN ${GROUP_FIELDS} AS group
ORDER BY g.nameLower
LIMIT $limit`,
    params: { registry: "STRING", prefix: "STRING", afterKey: "STRING", limit: "INTEGER" },
  },
  friendsAfter: {
    mode: "read",
    text: `MATCH (:User {registry: $registry, nameLower: $userKey})-[f:FRIEND]-(o:User)
WHERE o.nameLower > $afterKey
RETURN {name: o.name, since: f.since} AS friend
ORDER BY o.nameLower
LIMIT $limit`,
    params: { registry: "STRING", userKey: "STRING", afterKey: "STRING", limit: "INTEGER" },
  },
  friendRequestsToAfter: {
    mode: "read",
    text: `MATCH (f:User)-[r:REQUESTED]->(t:User {registry: $registry, nameLower: $userKey})
WHERE r.at > $afterAt OR (r.at = $afterAt AND f.nameLower > $afterKey)
RETURN {from: f.name, to: t.name, at: r.at} AS request
ORDER BY r.at, f.nameLower
LIMIT $limit`,
    params: {
      registry: "STRING",
      userKey: "STRING",
      afterAt: "INTEGER",
      afterKey: "STRING",
      limit: "INTEGER",
    },
  },
  friendRequestsFromAfter: {
    mode: "read",
    text: `MATCH (f:User {registry: $registry, nameLower: $userKey})-[r:REQUESTED]->(t:User)
WHERE r.at > $afterAt OR (r.at = $afterAt AND t.nameLower > $afterKey)
RETURN {from: f.name, to: t.name, at: r.at} AS request
ORDER BY r.at, t.nameLower
LIMIT $limit`,
    params: {
      registry: "STRING",
      userKey: "STRING",
      afterAt: "INTEGER",
      afterKey: "STRING",
      limit: "INTEGER",
    },
  },
  countOffline: {
    mode: "read",
    text: `OPTIONAL MATCH (:User {registry: $registry, nameLower: $userKey})-[q:QUEUED]->(:Message)
RETURN count(q) AS n`,
    params: { registry: "STRING", userKey: "STRING" },
  },
  countFriendRequestsTo: {
    mode: "read",
    text: `OPTIONAL MATCH (:User)-[r:REQUESTED]->(:User {registry: $registry, nameLower: $userKey})
RETURN count(r) AS n`,
    params: { registry: "STRING", userKey: "STRING" },
  },
  countJoinRequests: {
    mode: "read",
    text: `OPTIONAL MATCH (:User)-[r:WANTS_TO_JOIN]->(:Group {registry: $registry, nameLower: $groupKey})
RETURN count(r) AS n`,
    params: { registry: "STRING", groupKey: "STRING" },
  },

  // --- friends ---
  /** MERGE of a relationship between bound nodes locks both nodes, so it is never doubled. */
  putFriendRequest: {
    mode: "write",
    text: `MATCH (f:User {registry: $registry, nameLower: $fromKey})
MATCH (t:User {registry: $registry, nameLower: $toKey})
MERGE (f)-[r:REQUESTED]->(t)
ON CREATE SET r.at = $at`,
    params: { registry: "STRING", fromKey: "STRING", toKey: "STRING", at: "INTEGER" },
  },
  deleteFriendRequest: {
    mode: "write",
    text: `MATCH (:User {registry: $registry, nameLower: $fromKey})-[r:REQUESTED]->(:User {registry: $registry, nameLower: $toKey})
DELETE r
RETURN count(*) AS removed`,
    params: { registry: "STRING", fromKey: "STRING", toKey: "STRING" },
  },
  friendRequestsTo: {
    mode: "read",
    text: `MATCH (f:User)-[r:REQUESTED]->(t:User {registry: $registry, nameLower: $userKey})
RETURN {from: f.name, to: t.name, at: r.at} AS request
ORDER BY r.at, f.nameLower`,
    params: { registry: "STRING", userKey: "STRING" },
  },
  friendRequestsFrom: {
    mode: "read",
    text: `MATCH (f:User {registry: $registry, nameLower: $userKey})-[r:REQUESTED]->(t:User)
RETURN {from: f.name, to: t.name, at: r.at} AS request
ORDER BY r.at, t.nameLower`,
    params: { registry: "STRING", userKey: "STRING" },
  },
  /**
   * One FRIEND relationship per pair, from the lower name key to the higher (the adapter orders
   * `aKey` < `bKey`), matched in either direction everywhere else; requests both ways go.
   */
  addFriendship: {
    mode: "write",
    text: `MATCH (a:User {registry: $registry, nameLower: $aKey})
MATCH (b:User {registry: $registry, nameLower: $bKey})
OPTIONAL MATCH (a)-[r:REQUESTED]-(b)
DELETE r
WITH DISTINCT a, b
MERGE (a)-[f:FRIEND]->(b)
ON CREATE SET f.since = $since`,
    params: { registry: "STRING", aKey: "STRING", bKey: "STRING", since: "INTEGER" },
  },
  removeFriendship: {
    mode: "write",
    text: `MATCH (:User {registry: $registry, nameLower: $aKey})-[f:FRIEND]-(:User {registry: $registry, nameLower: $bKey})
DELETE f
RETURN count(*) AS removed`,
    params: { registry: "STRING", aKey: "STRING", bKey: "STRING" },
  },
  friendsOf: {
    mode: "read",
    text: `MATCH (:User {registry: $registry, nameLower: $userKey})-[f:FRIEND]-(o:User)
RETURN {name: o.name, since: f.since} AS friend
ORDER BY o.nameLower`,
    params: { registry: "STRING", userKey: "STRING" },
  },
  areFriends: {
    mode: "read",
    text: `RETURN EXISTS {
  (:User {registry: $registry, nameLower: $aKey})-[:FRIEND]-(:User {registry: $registry, nameLower: $bKey})
} AS friends`,
    params: { registry: "STRING", aKey: "STRING", bKey: "STRING" },
  },

  // --- groups ---
  /** MERGE under the uniqueness constraint; "created?" comes from the summary counters. */
  createGroup: {
    mode: "write",
    text: `MERGE (g:Group {registry: $registry, nameLower: $groupKey})
ON CREATE SET g.name = $name, g.createdAt = $createdAt, g.lastSeq = 0`,
    params: { registry: "STRING", groupKey: "STRING", name: "STRING", createdAt: "INTEGER" },
  },
  /** The creator of a group just created: admin and first member. */
  foundGroup: {
    mode: "write",
    text: `MATCH (g:Group {registry: $registry, nameLower: $groupKey})
MATCH (u:User {registry: $registry, nameLower: $adminKey})
CREATE (u)-[:ADMIN_OF]->(g)
CREATE (u)-[:MEMBER {joinedAt: g.createdAt, ackedSeq: 0}]->(g)`,
    params: { registry: "STRING", groupKey: "STRING", adminKey: "STRING" },
  },
  getGroup: {
    mode: "read",
    text: `MATCH (g:Group {registry: $registry, nameLower: $groupKey})
OPTIONAL MATCH (a:User)-[:ADMIN_OF]->(g)
RETURN ${GROUP_FIELDS} AS group`,
    params: { registry: "STRING", groupKey: "STRING" },
  },
  searchGroups: {
    mode: "read",
    text: `MATCH (g:Group {registry: $registry})
WHERE g.nameLower STARTS WITH $prefix
OPTIONAL MATCH (a:User)-[:ADMIN_OF]->(g)
RETURN ${GROUP_FIELDS} AS group
ORDER BY g.nameLower
LIMIT $limit`,
    params: { registry: "STRING", prefix: "STRING", limit: "INTEGER" },
  },
  deleteGroup: {
    mode: "write",
    text: `MATCH (g:Group {registry: $registry, nameLower: $groupKey})
OPTIONAL MATCH (m:GroupMessage)-[:IN]->(g)
DETACH DELETE m
WITH DISTINCT g
DETACH DELETE g
RETURN count(*) AS deleted`,
    params: { registry: "STRING", groupKey: "STRING" },
  },
  setGroupAdmin: {
    mode: "write",
    text: `MATCH (g:Group {registry: $registry, nameLower: $groupKey})
MATCH (u:User {registry: $registry, nameLower: $userKey})
OPTIONAL MATCH (:User)-[old:ADMIN_OF]->(g)
DELETE old
WITH DISTINCT g, u
CREATE (u)-[:ADMIN_OF]->(g)`,
    params: { registry: "STRING", groupKey: "STRING", userKey: "STRING" },
  },
  setGroupDescription: {
    mode: "write",
    text: `MATCH (g:Group {registry: $registry, nameLower: $groupKey})
SET g.description = $description
RETURN count(g) AS updated`,
    params: { registry: "STRING", groupKey: "STRING", description: "STRING?" },
  },
  /** Whether the group and the user exist, and the user's membership (ackedSeq null if none). */
  membership: {
    mode: "read",
    text: `MATCH (g:Group {registry: $registry, nameLower: $groupKey})
OPTIONAL MATCH (u:User {registry: $registry, nameLower: $userKey})
OPTIONAL MATCH (u)-[m:MEMBER]->(g)
RETURN g.name AS group, u IS NOT NULL AS userExists, m.ackedSeq AS ackedSeq`,
    params: { registry: "STRING", groupKey: "STRING", userKey: "STRING" },
  },
  groupMembers: {
    mode: "read",
    text: `MATCH (u:User)-[m:MEMBER]->(:Group {registry: $registry, nameLower: $groupKey})
RETURN {name: u.name, joinedAt: m.joinedAt, ackedSeq: m.ackedSeq} AS member
ORDER BY u.nameLower`,
    params: { registry: "STRING", groupKey: "STRING" },
  },
  groupsOf: {
    mode: "read",
    text: `MATCH (:User {registry: $registry, nameLower: $userKey})-[:MEMBER]->(g:Group)
OPTIONAL MATCH (a:User)-[:ADMIN_OF]->(g)
RETURN ${GROUP_FIELDS} AS group
ORDER BY g.nameLower`,
    params: { registry: "STRING", userKey: "STRING" },
  },
  /** A new member starts at the group's lastSeq: no backlog of what was said before. */
  addMember: {
    mode: "write",
    text: `MATCH (g:Group {registry: $registry, nameLower: $groupKey})
MATCH (u:User {registry: $registry, nameLower: $userKey})
OPTIONAL MATCH (u)-[r:WANTS_TO_JOIN]->(g)
DELETE r
WITH DISTINCT g, u
MERGE (u)-[m:MEMBER]->(g)
ON CREATE SET m.joinedAt = $joinedAt, m.ackedSeq = g.lastSeq`,
    params: { registry: "STRING", groupKey: "STRING", userKey: "STRING", joinedAt: "INTEGER" },
  },
  addMembers: {
    mode: "write",
    text: `MATCH (g:Group {registry: $registry, nameLower: $groupKey})
UNWIND $userKeys AS userKey
MATCH (u:User {registry: $registry, nameLower: userKey})
OPTIONAL MATCH (u)-[r:WANTS_TO_JOIN]->(g)
DELETE r
WITH DISTINCT g, u
MERGE (u)-[m:MEMBER]->(g)
ON CREATE SET m.joinedAt = $joinedAt, m.ackedSeq = g.lastSeq`,
    params: { registry: "STRING", groupKey: "STRING", userKeys: "LIST<STRING>", joinedAt: "INTEGER" },
  },
  removeMember: {
    mode: "write",
    text: `MATCH (:User {registry: $registry, nameLower: $userKey})-[m:MEMBER]->(:Group {registry: $registry, nameLower: $groupKey})
DELETE m
RETURN count(*) AS removed`,
    params: { registry: "STRING", groupKey: "STRING", userKey: "STRING" },
  },
  putJoinRequest: {
    mode: "write",
    text: `MATCH (g:Group {registry: $registry, nameLower: $groupKey})
MATCH (u:User {registry: $registry, nameLower: $userKey})
MERGE (u)-[r:WANTS_TO_JOIN]->(g)
ON CREATE SET r.at = $at`,
    params: { registry: "STRING", groupKey: "STRING", userKey: "STRING", at: "INTEGER" },
  },
  deleteJoinRequest: {
    mode: "write",
    text: `MATCH (:User {registry: $registry, nameLower: $userKey})-[r:WANTS_TO_JOIN]->(:Group {registry: $registry, nameLower: $groupKey})
DELETE r
RETURN count(*) AS removed`,
    params: { registry: "STRING", groupKey: "STRING", userKey: "STRING" },
  },
  joinRequests: {
    mode: "read",
    text: `MATCH (u:User)-[r:WANTS_TO_JOIN]->(g:Group {registry: $registry, nameLower: $groupKey})
RETURN {group: g.name, user: u.name, at: r.at} AS request
ORDER BY r.at, u.nameLower`,
    params: { registry: "STRING", groupKey: "STRING" },
  },

  // --- group messages ---
  getGroupMessage: {
    mode: "read",
    text: `MATCH (m:GroupMessage {registry: $registry, id: $id})
RETURN ${GROUP_MESSAGE_FIELDS} AS message`,
    params: { registry: "STRING", id: "STRING" },
  },
  /**
   * Takes the group's write lock and holds it to the end of the transaction: appends to one
   * group run one after another, and a repeated id is seen by the `getGroupMessage` that
   * follows. The lock is Neo4j's documented idiom, a property set and removed (see LOCKING
   * above). Not `SET g.lastSeq = g.lastSeq`: that reads lastSeq *before* it waits for the lock
   * and writes the stale value into this transaction, so 20 concurrent appends all got seq 1.
   */
  lockGroup: {
    mode: "write",
    text: `MATCH (g:Group {registry: $registry, nameLower: $groupKey})
${LOCK("g")}
RETURN g.name AS name`,
    params: { registry: "STRING", groupKey: "STRING" },
  },
  /** The next seq, under the lock `lockGroup` took: gapless and unique per group. */
  appendGroupMessage: {
    mode: "write",
    text: `MATCH (g:Group {registry: $registry, nameLower: $groupKey})
MATCH (u:User {registry: $registry, nameLower: $fromKey})
SET g.lastSeq = g.lastSeq + 1
CREATE (u)-[:POSTED]->(m:GroupMessage {registry: $registry, id: $id, groupKey: $groupKey, group: g.name, from: u.name, body: $body, textKey: $textKey, sentAt: $sentAt, seq: g.lastSeq})-[:IN]->(g)
RETURN ${GROUP_MESSAGE_FIELDS} AS message`,
    params: {
      registry: "STRING",
      groupKey: "STRING",
      fromKey: "STRING",
      id: "STRING",
      body: "STRING",
      textKey: "STRING",
      sentAt: "INTEGER",
    },
  },
  /**
   * `searchMessages`: the text index on `textKey` (`searchKey(body)`, a trigram index in
   * Neo4j 5) serves CONTAINS; the sender or recipient must be the user.
   */
  searchMessages: {
    mode: "read",
    text: `MATCH (m:Message {registry: $registry})
WHERE m.textKey CONTAINS $query AND (toLower(m.from) = $user OR toLower(m.to) = $user)
RETURN ${MESSAGE_FIELDS} AS message
ORDER BY m.sentAt DESC, m.id DESC
LIMIT $limit`,
    params: { registry: "STRING", query: "STRING", user: "STRING", limit: "INTEGER" },
  },
  /** The same in the groups the user is a member of. */
  searchGroupMessages: {
    mode: "read",
    text: `MATCH (:User {registry: $registry, nameLower: $userKey})-[:MEMBER]->(g:Group)
MATCH (m:GroupMessage {registry: $registry})-[:IN]->(g)
WHERE m.textKey CONTAINS $query
RETURN ${GROUP_MESSAGE_FIELDS} AS message
ORDER BY m.sentAt DESC, m.id DESC
LIMIT $limit`,
    params: { registry: "STRING", query: "STRING", userKey: "STRING", limit: "INTEGER" },
  },
  /** Model 4: messages stored by an older build get their search key (Cypher's toLower). */
  addMessageTextKeys: {
    mode: "write",
    text: `MATCH (m:Message {registry: $registry})
WHERE m.textKey IS NULL
SET m.textKey = toLower(m.body)
RETURN count(m) AS written`,
    params: { registry: "STRING" },
  },
  addGroupMessageTextKeys: {
    mode: "write",
    text: `MATCH (m:GroupMessage {registry: $registry})
WHERE m.textKey IS NULL
SET m.textKey = toLower(m.body)
RETURN count(m) AS written`,
    params: { registry: "STRING" },
  },
  groupHistoryLatest: {
    mode: "read",
    text: `MATCH (m:GroupMessage {registry: $registry, groupKey: $groupKey})
RETURN ${GROUP_MESSAGE_FIELDS} AS message
ORDER BY m.seq DESC
LIMIT $limit`,
    params: { registry: "STRING", groupKey: "STRING", limit: "INTEGER" },
  },
  groupHistoryBefore: {
    mode: "read",
    text: `MATCH (m:GroupMessage {registry: $registry, groupKey: $groupKey})
WHERE m.seq < $beforeSeq
RETURN ${GROUP_MESSAGE_FIELDS} AS message
ORDER BY m.seq DESC
LIMIT $limit`,
    params: { registry: "STRING", groupKey: "STRING", beforeSeq: "INTEGER", limit: "INTEGER" },
  },
  groupMessagesAfter: {
    mode: "read",
    text: `MATCH (m:GroupMessage {registry: $registry, groupKey: $groupKey})
WHERE m.seq > $afterSeq
RETURN ${GROUP_MESSAGE_FIELDS} AS message
ORDER BY m.seq
LIMIT $limit`,
    params: { registry: "STRING", groupKey: "STRING", afterSeq: "INTEGER", limit: "INTEGER" },
  },
  /** Forward only, and never past the group's lastSeq. */
  ackGroup: {
    mode: "write",
    text: `MATCH (:User {registry: $registry, nameLower: $userKey})-[m:MEMBER]->(g:Group {registry: $registry, nameLower: $groupKey})
WITH m, CASE WHEN $seq < g.lastSeq THEN $seq ELSE g.lastSeq END AS target
SET m.ackedSeq = CASE WHEN m.ackedSeq < target THEN target ELSE m.ackedSeq END`,
    params: { registry: "STRING", groupKey: "STRING", userKey: "STRING", seq: "INTEGER" },
  },

  // --- notices ---
  /**
   * The order key is a counter on the recipient's node, locked by the SET, which also makes a
   * repeated id for the same recipient wait for the first and then see it.
   */
  enqueueNotice: {
    mode: "write",
    text: `MATCH (u:User {registry: $registry, nameLower: $toKey})
SET u.noticeSeq = coalesce(u.noticeSeq, 0) + 1
WITH u
WHERE NOT EXISTS { MATCH (n:Notice {registry: $registry, id: $id}) }
CREATE (u)-[:NOTIFIED]->(:Notice {registry: $registry, id: $id, to: u.name, kind: $kind, body: $body, at: $at, seq: u.noticeSeq})`,
    params: {
      registry: "STRING",
      toKey: "STRING",
      id: "STRING",
      kind: "STRING",
      body: "STRING",
      at: "INTEGER",
    },
  },
  pendingNotices: {
    mode: "read",
    text: `MATCH (:User {registry: $registry, nameLower: $toKey})-[:NOTIFIED]->(n:Notice)
RETURN ${NOTICE_FIELDS} AS notice
ORDER BY n.seq
LIMIT $limit`,
    params: { registry: "STRING", toKey: "STRING", limit: "INTEGER" },
  },
  ackNotices: {
    mode: "write",
    text: `MATCH (:User {registry: $registry, nameLower: $toKey})-[:NOTIFIED]->(n:Notice)
WHERE n.id IN $ids
DETACH DELETE n
RETURN count(*) AS removed`,
    params: { registry: "STRING", toKey: "STRING", ids: "LIST<STRING>" },
  },

  // --- graph queries ---
  /**
   * People two hops away: through a friend (FRIEND, FRIEND) or through a group (MEMBER, MEMBER).
   * No other two-hop path of these types ends at a user, so `via` is a mutual friend exactly
   * when it is a User and a shared group exactly when it is a Group. The groups in
   * `$exceptKeys` are left at the first hop (the office room would reach everyone).
   */
  suggest: {
    mode: "read",
    text: `MATCH (me:User {registry: $registry, nameLower: $userKey})-[:FRIEND|MEMBER]-(via)
WHERE NOT (via:Group AND via.nameLower IN $exceptKeys)
MATCH (via)-[:FRIEND|MEMBER]-(c:User)
WHERE c <> me AND NOT EXISTS { (me)-[:FRIEND]-(c) }
WITH c,
  count(DISTINCT CASE WHEN via:User THEN via END) AS mutualFriends,
  count(DISTINCT CASE WHEN via:Group THEN via END) AS sharedGroups
RETURN {name: c.name, mutualFriends: mutualFriends, sharedGroups: sharedGroups} AS suggestion
ORDER BY mutualFriends DESC, sharedGroups DESC, c.nameLower
LIMIT $limit`,
    params: { registry: "STRING", userKey: "STRING", exceptKeys: "LIST<STRING>", limit: "INTEGER" },
  },

  // --- export: every record, in the port's replayable order (see DumpRecord) ---
  dumpUsers: {
    mode: "read",
    text: `MATCH (u:User {registry: $registry})
RETURN ${USER_FIELDS} AS record
ORDER BY u.nameLower`,
    params: { registry: "STRING" },
  },
  dumpAudit: {
    mode: "read",
    text: `MATCH (a:Audit {registry: $registry})
RETURN ${AUDIT_FIELDS} AS record
ORDER BY a.seq`,
    params: { registry: "STRING" },
  },
  dumpMessages: {
    mode: "read",
    text: `MATCH (m:Message {registry: $registry})
RETURN ${MESSAGE_FIELDS} AS record
ORDER BY m.sentAt, m.id`,
    params: { registry: "STRING" },
  },
  dumpOffline: {
    mode: "read",
    text: `MATCH (u:User {registry: $registry})-[q:QUEUED]->(m:Message)
RETURN {id: m.id, to: u.name} AS record
ORDER BY u.nameLower, q.seq`,
    params: { registry: "STRING" },
  },
  dumpFriendRequests: {
    mode: "read",
    text: `MATCH (f:User {registry: $registry})-[r:REQUESTED]->(t:User)
RETURN {from: f.name, to: t.name, at: r.at} AS record
ORDER BY r.at, f.nameLower, t.nameLower`,
    params: { registry: "STRING" },
  },
  dumpFriendships: {
    mode: "read",
    text: `MATCH (a:User {registry: $registry})-[f:FRIEND]->(b:User)
RETURN {a: a.name, b: b.name, since: f.since} AS record
ORDER BY a.nameLower, b.nameLower`,
    params: { registry: "STRING" },
  },
  dumpGroups: {
    mode: "read",
    text: `MATCH (g:Group {registry: $registry})
OPTIONAL MATCH (a:User)-[:ADMIN_OF]->(g)
RETURN ${GROUP_FIELDS} AS record
ORDER BY g.nameLower`,
    params: { registry: "STRING" },
  },
  dumpMembers: {
    mode: "read",
    text: `MATCH (u:User)-[m:MEMBER]->(g:Group {registry: $registry})
RETURN {group: g.name, name: u.name, joinedAt: m.joinedAt, ackedSeq: m.ackedSeq} AS record
ORDER BY g.nameLower, u.nameLower`,
    params: { registry: "STRING" },
  },
  dumpJoinRequests: {
    mode: "read",
    text: `MATCH (u:User)-[r:WANTS_TO_JOIN]->(g:Group {registry: $registry})
RETURN {group: g.name, user: u.name, at: r.at} AS record
ORDER BY g.nameLower, r.at, u.nameLower`,
    params: { registry: "STRING" },
  },
  dumpGroupMessages: {
    mode: "read",
    text: `MATCH (m:GroupMessage {registry: $registry})
RETURN ${GROUP_MESSAGE_FIELDS} AS record
ORDER BY m.groupKey, m.seq`,
    params: { registry: "STRING" },
  },
  dumpNotices: {
    mode: "read",
    text: `MATCH (u:User {registry: $registry})-[:NOTIFIED]->(n:Notice)
RETURN ${NOTICE_FIELDS} AS record
ORDER BY u.nameLower, n.seq`,
    params: { registry: "STRING" },
  },

  // --- import: one UNWIND per batch of records of one kind; `written` must equal the rows ---
  countUsers: {
    mode: "read",
    text: `MATCH (u:User {registry: $registry})
RETURN count(u) AS users`,
    params: { registry: "STRING" },
  },
  /** `props` is every stored property but the keys: name, hashes, profile, times. */
  loadUsers: {
    mode: "write",
    text: `UNWIND $rows AS row
CREATE (u:User {registry: $registry, nameLower: row.nameKey})
SET u += row.props
RETURN count(*) AS written`,
    params: { registry: "STRING", rows: "LIST<MAP>" },
  },
  /**
   * Rows in dump order; `seq` numbers them, and the registry's counter ends at the last. An
   * entry is linked to its user when there is one (it may name nobody, as in `appendAudit`).
   */
  loadAudit: {
    mode: "write",
    text: `MATCH (r:Registry {registry: $registry})
UNWIND $rows AS row
CREATE (a:Audit {registry: $registry, user: row.user, event: row.event, at: row.at, address: row.address, detail: row.detail, seq: row.seq})
SET r.auditSeq = row.seq
WITH a, row
OPTIONAL MATCH (u:User {registry: $registry, nameLower: row.userKey})
FOREACH (x IN CASE WHEN u IS NULL THEN [] ELSE [u] END | CREATE (x)-[:LOGGED]->(a))
RETURN count(*) AS written`,
    params: { registry: "STRING", rows: "LIST<MAP>" },
  },
  loadMessages: {
    mode: "write",
    text: `UNWIND $rows AS row
MATCH (f:User {registry: $registry, nameLower: row.fromKey})
MATCH (t:User {registry: $registry, nameLower: row.toKey})
CREATE (f)-[:SENT]->(:Message {registry: $registry, id: row.id, from: f.name, to: t.name, conversation: row.conversation, body: row.body, textKey: row.textKey, sentAt: row.sentAt, deliveredAt: row.deliveredAt})-[:TO]->(t)
RETURN count(*) AS written`,
    params: { registry: "STRING", rows: "LIST<MAP>" },
  },
  /** Rows in queue order per recipient; `seq` numbers them and the recipient's counter follows. */
  loadOffline: {
    mode: "write",
    text: `UNWIND $rows AS row
MATCH (u:User {registry: $registry, nameLower: row.toKey})
MATCH (m:Message {registry: $registry, id: row.id})-[:TO]->(u)
CREATE (u)-[:QUEUED {seq: row.seq}]->(m)
SET u.queueSeq = row.seq
RETURN count(*) AS written`,
    params: { registry: "STRING", rows: "LIST<MAP>" },
  },
  loadFriendRequests: {
    mode: "write",
    text: `UNWIND $rows AS row
MATCH (f:User {registry: $registry, nameLower: row.fromKey})
MATCH (t:User {registry: $registry, nameLower: row.toKey})
CREATE (f)-[:REQUESTED {at: row.at}]->(t)
RETURN count(*) AS written`,
    params: { registry: "STRING", rows: "LIST<MAP>" },
  },
  loadFriendships: {
    mode: "write",
    text: `UNWIND $rows AS row
MATCH (a:User {registry: $registry, nameLower: row.aKey})
MATCH (b:User {registry: $registry, nameLower: row.bKey})
CREATE (a)-[:FRIEND {since: row.since}]->(b)
RETURN count(*) AS written`,
    params: { registry: "STRING", rows: "LIST<MAP>" },
  },
  loadGroups: {
    mode: "write",
    text: `UNWIND $rows AS row
MATCH (a:User {registry: $registry, nameLower: row.adminKey})
CREATE (a)-[:ADMIN_OF]->(:Group {registry: $registry, nameLower: row.groupKey, name: row.name, createdAt: row.createdAt, lastSeq: row.lastSeq, description: row.description})
RETURN count(*) AS written`,
    params: { registry: "STRING", rows: "LIST<MAP>" },
  },
  loadMembers: {
    mode: "write",
    text: `UNWIND $rows AS row
MATCH (g:Group {registry: $registry, nameLower: row.groupKey})
MATCH (u:User {registry: $registry, nameLower: row.userKey})
CREATE (u)-[:MEMBER {joinedAt: row.joinedAt, ackedSeq: row.ackedSeq}]->(g)
RETURN count(*) AS written`,
    params: { registry: "STRING", rows: "LIST<MAP>" },
  },
  loadJoinRequests: {
    mode: "write",
    text: `UNWIND $rows AS row
MATCH (g:Group {registry: $registry, nameLower: row.groupKey})
MATCH (u:User {registry: $registry, nameLower: row.userKey})
CREATE (u)-[:WANTS_TO_JOIN {at: row.at}]->(g)
RETURN count(*) AS written`,
    params: { registry: "STRING", rows: "LIST<MAP>" },
  },
  loadGroupMessages: {
    mode: "write",
    text: `UNWIND $rows AS row
MATCH (g:Group {registry: $registry, nameLower: row.groupKey})
MATCH (u:User {registry: $registry, nameLower: row.fromKey})
CREATE (u)-[:POSTED]->(:GroupMessage {registry: $registry, id: row.id, groupKey: row.groupKey, group: g.name, from: u.name, body: row.body, textKey: row.textKey, sentAt: row.sentAt, seq: row.seq})-[:IN]->(g)
RETURN count(*) AS written`,
    params: { registry: "STRING", rows: "LIST<MAP>" },
  },
  /** Rows in enqueue order per recipient, numbered like `loadOffline`. */
  loadNotices: {
    mode: "write",
    text: `UNWIND $rows AS row
MATCH (u:User {registry: $registry, nameLower: row.toKey})
CREATE (u)-[:NOTIFIED]->(:Notice {registry: $registry, id: row.id, to: u.name, kind: row.kind, body: row.body, at: row.at, seq: row.seq})
SET u.noticeSeq = row.seq
RETURN count(*) AS written`,
    params: { registry: "STRING", rows: "LIST<MAP>" },
  },
  /** Undoes a failed load: everything of the registry but its Registry node goes. */
  clearRegistryData: {
    mode: "write",
    text: `MATCH (n:User|Message|Audit|Group|GroupMessage|Notice {registry: $registry})
DETACH DELETE n`,
    params: { registry: "STRING" },
  },

  // --- maintenance ---
  /** Removes one registry's data and nothing else (the contract tests' cleanup). */
  deleteRegistry: {
    mode: "write",
    text: `MATCH (n:Registry|User|Message|Audit|Group|GroupMessage|Notice {registry: $registry})
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

/** The only place a statement's text meets the driver: always a constant from `CYPHER`. */
export function runStatement<K extends StatementKey>(
  tx: Pick<ManagedTransaction, "run">,
  key: K,
  params: ParamsOf<K>,
): Result {
  return tx.run(CYPHER[key].text, params);
}
