/**
 * The Neo4j adapter, in three parts:
 *
 * 1. The shared `Store` contract against a real Neo4j: the test server the run started, or the
 *    one `HALLWAY_NEO4J_URI` names (`test/neo4j/`). Each test uses a registry of its own in
 *    that database and deletes it afterwards, so runs on a shared server do not collide and
 *    touch nothing else.
 * 2. The adapter against a scripted driver: which statement runs in which kind of transaction,
 *    with which parameters (integers as Neo4j integers), and how results and counters become the
 *    port's answers and errors. This checks the TypeScript half without a server; what the
 *    statements do inside Neo4j only part 1 can show.
 * 3. Failures that need no server, on loopback only: a closed port, a silent server, an HTTP
 *    server, a bad URI, and the `hallway server --store neo4j` command line.
 */

import { createServer, type Server, type Socket } from "node:net";
import { type Driver, isInt, Neo4jError, auth as neo4jAuth, driver as neo4jDriver } from "neo4j-driver";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HallwayError } from "../../src/errors.js";
import { openStore } from "../../src/server/store/index.js";
import {
  CYPHER,
  type CypherStatement,
  GRAPH_SCHEMA_VERSION,
  type StatementKey,
} from "../../src/server/store/neo4j/cypher.js";
import {
  type DriverFactory,
  Neo4jStore,
  type Neo4jStoreOptions,
  OUTAGE_PROBE_INTERVAL_MS,
} from "../../src/server/store/neo4j/neo4j-store.js";
import { describeNeo4j, testNeo4jConnection } from "../neo4j/test-neo4j.js";
import { hallway, type Json, killAll, type Proc, requireBuild, tempDir } from "./harness.js";
import { collect, NO_PROFILE, replay, storeContract } from "./store-contract/index.js";

// ---------------------------------------------------------------------------------------------
// 1. The contract against a real Neo4j.

describeNeo4j("Store contract against a real Neo4j", () => {
  const runId = `contract-${process.pid}-${Date.now().toString(36)}`;
  let registries = 0;
  let cleaner: Driver | undefined;
  afterAll(async () => {
    await cleaner?.close();
  });

  const connection = testNeo4jConnection;

  /** The test's registry, and nothing else, goes: the database may be shared. */
  async function deleteRegistry(registry: string): Promise<void> {
    const c = connection();
    cleaner ??= neo4jDriver(c.uri, neo4jAuth.basic(c.user, c.password));
    const session = cleaner.session(c.database === undefined ? {} : { database: c.database });
    try {
      await session.executeWrite((tx) => tx.run(CYPHER.deleteRegistry.text, { registry }));
    } finally {
      await session.close();
    }
  }

  it("commits the 200 appends of one turn in one transaction, every one stored", async () => {
    const registry = `${runId}-group-commit`;
    const store = new Neo4jStore({ ...connection(), registry });
    try {
      await store.init();
      await store.createUser({ name: "alice", passwordHash: "h", createdAt: 1 });
      await store.createUser({ name: "bob", passwordHash: "h", createdAt: 1 });
      const before = { ...store.appends.stats };
      const ids = Array.from({ length: 200 }, (_, i) => `m-${String(i).padStart(4, "0")}`);
      await Promise.all(
        ids.map((id, i) =>
          store.appendHistory({ id, from: "alice", to: "bob", body: id, sentAt: i, deliveredAt: i }),
        ),
      );
      expect(store.appends.stats.batches - before.batches).toBe(1);
      const stored = await store.history("alice", "bob", { limit: 500 });
      expect(stored.map((m) => m.id)).toEqual(ids);
    } finally {
      await store.close();
      await deleteRegistry(registry);
    }
  });

  it("opens a model-4 registry as model 5: users stored before get their search words", async () => {
    const registry = `${runId}-model-4`;
    const c = connection();
    let store = new Neo4jStore({ ...c, registry });
    try {
      await store.init();
      await store.createUser({ name: "alice", passwordHash: "h", createdAt: 1 });
      await store.setProfile("alice", { displayName: "Alice Liddell", department: "Forschung" });
      await store.close();
      // What a model-4 build left: no search words, version 4.
      cleaner ??= neo4jDriver(c.uri, neo4jAuth.basic(c.user, c.password));
      const session = cleaner.session(c.database === undefined ? {} : { database: c.database });
      try {
        await session.executeWrite((tx) =>
          tx.run(
            `MATCH (u:User {registry: $registry}) REMOVE u.searchText
             WITH count(*) AS n MATCH (r:Registry {registry: $registry}) SET r.schemaVersion = 4`,
            { registry },
          ),
        );
      } finally {
        await session.close();
      }
      store = new Neo4jStore({ ...c, registry });
      await store.init();
      expect((await store.searchUsers("liddell", 10)).map((u) => u.name)).toEqual(["alice"]);
      expect((await store.searchUsers("forsch", 10)).map((u) => u.name)).toEqual(["alice"]);
      expect(await store.getUser("alice")).toMatchObject({ birthDate: null, profileUpdatedAt: null });
    } finally {
      await store.close();
      await deleteRegistry(registry);
    }
  });

  storeContract("Neo4jStore", async () => {
    const registry = `${runId}-${++registries}`;
    const c = connection();
    const opened: Neo4jStore[] = [];
    const make = (): Neo4jStore => {
      const store = new Neo4jStore({ ...c, registry });
      opened.push(store);
      return store;
    };
    return {
      store: make(),
      reopen: async () => make(),
      another: async () => {
        const store = new Neo4jStore({ ...c, registry: `${registry}-another` });
        opened.push(store);
        return store;
      },
      cleanup: async () => {
        for (const store of opened) await store.close();
        await deleteRegistry(registry);
        await deleteRegistry(`${registry}-another`);
      },
    };
  });
});

// ---------------------------------------------------------------------------------------------
// 2. The adapter against a scripted driver.

interface Call {
  key: StatementKey;
  params: Record<string, unknown>;
  access: "READ" | "WRITE";
  transaction: number;
}

type Row = Record<string, unknown>;
type Answer = { rows?: Row[]; nodesCreated?: number };

const KEY_BY_TEXT = new Map(
  (Object.entries(CYPHER) as Array<[StatementKey, CypherStatement]>).map(([key, s]) => [s.text, key]),
);

/**
 * Enough of neo4j-driver's Driver for the adapter: sessions whose managed transactions answer
 * each statement from `answer`, and a record of every statement run.
 */
class ScriptedDriver {
  readonly calls: Call[] = [];
  readonly sessionConfigs: Array<Record<string, unknown>> = [];
  /** How each transaction was begun: managed (retried by the driver) or explicit (once). */
  readonly begun: Array<"managed" | "explicit"> = [];
  closed = 0;
  connectivityError: unknown;
  /** While set, every transaction fails to begin with this error (a server that went away). */
  beginError: unknown;
  private transactions = 0;

  constructor(
    private readonly answer: (key: StatementKey, params: Record<string, unknown>) => Answer = () => ({}),
  ) {}

  factory(): DriverFactory {
    return () => this as unknown as ReturnType<DriverFactory>;
  }

  async verifyConnectivity(): Promise<object> {
    if (this.connectivityError !== undefined) throw this.connectivityError;
    return {};
  }

  session(config: Record<string, unknown>) {
    this.sessionConfigs.push(config);
    const managed = (access: "READ" | "WRITE") => {
      const transaction = ++this.transactions;
      return {
        run: async (text: string, params: Record<string, unknown> = {}) => {
          const key = KEY_BY_TEXT.get(text);
          if (key === undefined) throw new Error(`statement not in CYPHER:\n${text}`);
          this.calls.push({ key, params, access, transaction });
          const { rows = [], nodesCreated = 0 } = this.answer(key, params);
          return {
            records: rows.map((row) => ({ get: (field: string) => row[field] })),
            summary: { counters: { updates: () => ({ nodesCreated }) } },
          };
        },
      };
    };
    const begin = (how: "managed" | "explicit") => {
      this.begun.push(how);
      if (this.beginError !== undefined) throw this.beginError;
    };
    return {
      executeRead: async <T>(work: (tx: unknown) => Promise<T>) => {
        begin("managed");
        return work(managed("READ"));
      },
      executeWrite: async <T>(work: (tx: unknown) => Promise<T>) => {
        begin("managed");
        return work(managed("WRITE"));
      },
      // An explicit transaction, whose results are awaited or read by async iteration (the export).
      beginTransaction: async () => {
        begin("explicit");
        const tx = managed(config.defaultAccessMode as "READ" | "WRITE");
        return {
          run: (text: string, params: Record<string, unknown> = {}) => {
            const result = tx.run(text, params);
            return Object.assign(result, {
              async *[Symbol.asyncIterator]() {
                yield* (await result).records;
              },
            });
          },
          commit: async () => {},
          close: async () => {},
        };
      },
      close: async () => {},
    };
  }

  async close(): Promise<void> {
    this.closed++;
  }

  keys(): StatementKey[] {
    return this.calls.map((c) => c.key);
  }
}

const CONNECTION = { uri: "bolt://db.example:7687", user: "hallway", password: "s3cret-pw" };

/** Answers that let every operation succeed: users exist, counts are 1, one row per read. */
function happy(key: StatementKey, params: Record<string, unknown>): Answer {
  const message = { id: "m1", from: "alice", to: "bob", body: "hi", sentAt: 100, deliveredAt: null };
  const user = { name: "alice", passwordHash: "h", createdAt: 5, publicKey: null, lastSeen: null };
  const group = { name: "ops", admin: "alice", createdAt: 1, lastSeq: 3 };
  const groupMessage = { id: "g1", group: "ops", from: "alice", body: "hi", sentAt: 9, seq: 3 };
  const notice = { id: "n1", to: "bob", kind: "k", body: "{}", at: 4 };
  const request = { from: "bob", to: "alice", at: 2 };
  switch (key) {
    case "setProfile":
      return { rows: [{ updated: 1 }] };
    case "searchUsers":
    case "dumpUsers":
      return { rows: [{ user, record: user }] };
    case "friendRequestsTo":
    case "friendRequestsFrom":
    case "dumpFriendRequests":
      return { rows: [{ request, record: request }] };
    case "friendsOf":
      return { rows: [{ friend: { name: "bob", since: 7 } }] };
    case "areFriends":
      return { rows: [{ friends: true }] };
    case "createGroup":
      return { nodesCreated: 1 };
    case "getGroup":
    case "searchGroups":
    case "groupsOf":
    case "dumpGroups":
      return { rows: [{ group, record: group }] };
    case "membership":
      return { rows: [{ group: "ops", userExists: true, ackedSeq: 1 }] };
    case "groupMembers":
      return { rows: [{ member: { name: "alice", joinedAt: 1, ackedSeq: 0 } }] };
    case "joinRequests":
      return { rows: [{ request: { group: "ops", user: "bob", at: 3 } }] };
    case "lockGroup":
      return { rows: [{ name: "ops" }] };
    case "appendGroupMessage":
    case "groupHistoryLatest":
    case "groupHistoryBefore":
    case "groupMessagesAfter":
    case "dumpGroupMessages":
      return { rows: [{ message: groupMessage, record: groupMessage }] };
    case "pendingNotices":
    case "dumpNotices":
      return { rows: [{ notice, record: notice }] };
    case "suggest":
      return { rows: [{ suggestion: { name: "carol", mutualFriends: 2, sharedGroups: 1 } }] };
    case "deleteFriendRequest":
    case "removeFriendship":
    case "removeMember":
    case "deleteJoinRequest":
    case "ackNotices":
      return { rows: [{ removed: 1 }] };
    case "deleteGroup":
      return { rows: [{ deleted: 1 }] };
    case "countUsers":
      return { rows: [{ users: 0 }] };
    case "dumpAudit":
      return { rows: [{ record: { user: "alice", event: "login", at: 7, address: "a" } }] };
    case "dumpMessages":
      return { rows: [{ record: message }] };
    case "dumpOffline":
      return { rows: [{ record: { id: "m1", to: "bob" } }] };
    case "dumpFriendships":
      return { rows: [{ record: { a: "alice", b: "bob", since: 6 } }] };
    case "dumpMembers":
      return { rows: [{ record: { group: "ops", name: "alice", joinedAt: 1, ackedSeq: 0 } }] };
    case "dumpJoinRequests":
      return { rows: [{ record: { group: "ops", user: "bob", at: 3 } }] };
    case "loadUsers":
    case "loadAudit":
    case "loadMessages":
    case "loadOffline":
    case "loadFriendRequests":
    case "loadFriendships":
    case "loadGroups":
    case "loadMembers":
    case "loadJoinRequests":
    case "loadGroupMessages":
    case "loadNotices":
      return { rows: [{ written: (params.rows as unknown[]).length }] };
    case "openRegistry":
      return { rows: [{ schemaVersion: 1 }] };
    case "usersWithoutSearchText":
      return {
        rows: [{ user: { nameLower: "alice", name: "alice", displayName: "Alice L", department: null } }],
      };
    case "setSearchTexts":
      return { rows: [{ written: 1 }] };
    case "setGroupDescription":
      return { rows: [{ updated: 1 }] };
    case "createUser":
      return { nodesCreated: 1 };
    case "getUser":
    case "listUsers":
      return {
        rows: [{ user: { name: "alice", passwordHash: "h", createdAt: 5, publicKey: null, lastSeen: null } }],
      };
    case "setPublicKey":
      return { rows: [{ updated: 1 }] };
    case "appendAudit":
      return { rows: [{ written: 1 }] };
    case "listAudit":
      return { rows: [{ entry: { user: "alice", event: "login", at: 7, address: "a" } }] };
    case "usersAfter":
    case "searchUsersAfter":
      return {
        rows: [{ user: { name: "alice", passwordHash: "h", createdAt: 5, publicKey: null, lastSeen: null } }],
      };
    case "countOffline":
    case "countFriendRequestsTo":
    case "countJoinRequests":
      return { rows: [{ n: 2 }] };
    case "knownUsers":
      return { rows: (params.nameKeys as string[]).map((nameKey) => ({ nameKey })) };
    case "pendingOffline":
      return { rows: [{ message }] };
    case "historyLatest":
    case "historyBefore":
      return { rows: [{ message: { ...message, id: "m2", sentAt: 200 } }, { message }] };
    case "ackOffline":
      return { rows: [{ removed: 1 }] };
    default:
      return {};
  }
}

async function scripted(
  answer: (key: StatementKey, params: Record<string, unknown>) => Answer = happy,
  options: Partial<Neo4jStoreOptions> = {},
): Promise<{ store: Neo4jStore; driver: ScriptedDriver }> {
  const driver = new ScriptedDriver(answer);
  const store = new Neo4jStore({ ...CONNECTION, createDriver: driver.factory(), now: () => 999, ...options });
  await store.init();
  return { store, driver };
}

async function failure(promise: Promise<unknown>): Promise<HallwayError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HallwayError);
  const e = err as HallwayError;
  expect(e.message).not.toContain("\n");
  expect(e.message).not.toContain(CONNECTION.password);
  return e;
}

/** Every operation of the port once, with arguments that reach every statement. */
async function exerciseEverything(store: Neo4jStore): Promise<void> {
  await store.createUser({ name: "Alice", passwordHash: "h", createdAt: 5 });
  await store.getUser("ALICE");
  await store.listUsers();
  await store.setPublicKey("alice", "ab");
  await store.flushLastSeen([{ name: "alice", at: 10 }]);
  await store.appendAudit({ user: "alice", event: "login", at: 7, address: "a" });
  await store.listAudit({ limit: 5 });
  await store.listAudit({ user: "alice", limit: 5, since: 1, until: 9, events: ["login_failed"] });
  await store.enqueueOffline({
    id: "m1",
    from: "alice",
    to: "bob",
    body: "hi",
    sentAt: 100,
    deliveredAt: null,
  });
  await store.pendingOffline("bob", 5);
  await store.ackOffline("bob", ["m1"]);
  await store.appendHistory({
    id: "m2",
    from: "bob",
    to: "alice",
    body: "yo",
    sentAt: 200,
    deliveredAt: 250,
  });
  await store.markDelivered("m2", 300);
  await store.history("alice", "bob", { limit: 5 });
  await store.history("alice", "bob", { limit: 5, before: { sentAt: 200, id: "m2" } });

  await store.setProfile("alice", { displayName: "Alice", note: null });
  await store.searchUsers("al", 5);
  await store.putFriendRequest({ from: "bob", to: "alice", at: 2 });
  await store.friendRequestsTo("alice");
  await store.friendRequestsFrom("bob");
  await store.deleteFriendRequest("bob", "alice");
  await store.addFriendship("bob", "alice", 6);
  await store.friendsOf("alice");
  await store.areFriends("alice", "bob");
  await store.removeFriendship("alice", "bob");
  await store.createGroup({ name: "Ops", admin: "alice", createdAt: 1 });
  await store.getGroup("ops");
  await store.searchGroups("o", 5);
  await store.groupsOf("alice");
  await store.putJoinRequest({ group: "ops", user: "bob", at: 3 });
  await store.joinRequests("ops");
  await store.deleteJoinRequest("ops", "bob");
  await store.addMember("ops", "bob", 4);
  await store.addMembers("ops", ["bob"], 4);
  await store.groupMembers("ops");
  await store.setGroupAdmin("ops", "bob");
  await store.appendGroupMessage({ id: "g1", group: "ops", from: "alice", body: "hi", sentAt: 9 });
  await store.groupHistory("ops", { limit: 5 });
  await store.groupHistory("ops", { limit: 5, beforeSeq: 3 });
  await store.groupBacklog("ops", "bob", 5);
  await store.ackGroup("ops", "bob", 3);
  await store.removeMember("ops", "bob");
  await store.deleteGroup("ops");
  await store.enqueueNotice({ id: "n1", to: "bob", kind: "k", body: "{}", at: 4 });
  await store.pendingNotices("bob", 5);
  await store.ackNotices("bob", ["n1"]);
  await store.suggest("alice", 5);
  await store.usersAfter("alice", 5);
  await store.friendsAfter("alice", "bob", 5);
  await store.friendRequestsToAfter("alice", { at: 2, name: "bob" }, 5);
  await store.friendRequestsFromAfter("alice", undefined, 5);
  await store.searchUsersAfter("al", "alice", 5);
  await store.searchGroupsAfter("o", undefined, 5);
  await store.countOffline("bob");
  await store.countFriendRequestsTo("bob");
  await store.countJoinRequests("ops");
  await store.searchMessages("alice", "lunch", 5);
  await store.setGroupDescription("ops", "what ops does");
  await store.load(replay(await collect(store.dump())));
}

describe("Neo4jStore against a scripted driver", () => {
  it("creates the schema and the registry node on init, once", async () => {
    const { store, driver } = await scripted();
    const schemaKeys = (Object.keys(CYPHER) as StatementKey[]).filter((k) => CYPHER[k].mode === "schema");
    // The scripted registry is of model 1: messages an older build stored get their search key.
    expect(driver.keys()).toEqual([
      ...schemaKeys,
      "openRegistry",
      "addMessageTextKeys",
      "addGroupMessageTextKeys",
      "usersWithoutSearchText",
      "setSearchTexts",
    ]);
    // One transaction each: Neo4j refuses schema and data changes in one transaction.
    expect(new Set(driver.calls.map((c) => c.transaction)).size).toBe(driver.calls.length);
    expect(driver.calls.every((c) => c.access === "WRITE")).toBe(true);
    await store.init();
    expect(driver.calls).toHaveLength(schemaKeys.length + 5);
    await store.close();
  });

  it("runs reads in read transactions and writes in write transactions", async () => {
    const { store, driver } = await scripted();
    await exerciseEverything(store);
    // A write transaction may read (checks before writing); a read transaction never writes.
    for (const call of driver.calls) {
      if (CYPHER[call.key].mode !== "read") expect(call.access, call.key).toBe("WRITE");
    }
    const reads = driver.calls.filter((c) => c.access === "READ").map((c) => c.key);
    expect(reads).toContain("getUser");
    expect(reads).toContain("dumpUsers");
    const used = new Set(driver.keys());
    const unused = (Object.keys(CYPHER) as StatementKey[]).filter((k) => !used.has(k));
    expect(unused, "statements a successful run never sends (the next tests send clearRegistryData)").toEqual(
      ["clearRegistryData", "deleteRegistry"],
    );
    await store.close();
  });

  it("sends exactly the declared parameters, integers as Neo4j integers, names by lower-case key", async () => {
    const { store, driver } = await scripted();
    await exerciseEverything(store);
    for (const call of driver.calls) {
      const declared = CYPHER[call.key].params as Record<string, string>;
      expect(Object.keys(call.params).sort(), call.key).toEqual(Object.keys(declared).sort());
      for (const [name, type] of Object.entries(declared)) {
        const value = call.params[name];
        if (type === "INTEGER") expect(isInt(value), `${call.key}.${name}`).toBe(true);
        if (type === "INTEGER?") expect(value === null || isInt(value), `${call.key}.${name}`).toBe(true);
        if (name === "registry") expect(value).toBe("hallway");
      }
    }
    const create = driver.calls.find((c) => c.key === "createUser");
    expect(create?.params).toMatchObject({ name: "Alice", nameKey: "alice" });
    expect(driver.calls.find((c) => c.key === "getUser")?.params.nameKey).toBe("alice");
    const flush = driver.calls.find((c) => c.key === "flushLastSeen");
    const entries = (flush?.params.entries ?? []) as Array<{ nameKey: unknown; at: unknown }>;
    expect(entries.map((e) => [e.nameKey, isInt(e.at)])).toEqual([["alice", true]]);
    const ack = driver.calls.find((c) => c.key === "ackOffline");
    expect(String(ack?.params.at)).toBe("999");
    const insert = driver.calls.filter((c) => c.key === "insertMessage");
    expect(insert[0]?.params.conversation).toBe("alice\u001fbob");
    expect(insert[0]?.params.deliveredAt).toBeNull();
    expect(String(insert[1]?.params.deliveredAt)).toBe("250");
    await store.close();
  });

  it("checks both users, inserts and queues an offline message in one write transaction", async () => {
    const { store, driver } = await scripted();
    driver.calls.length = 0;
    await store.enqueueOffline({
      id: "m1",
      from: "alice",
      to: "Bob",
      body: "x",
      sentAt: 1,
      deliveredAt: null,
    });
    expect(driver.keys()).toEqual(["knownUsers", "insertMessage", "queueMessage"]);
    expect(new Set(driver.calls.map((c) => c.transaction)).size).toBe(1);
    expect(driver.calls[0]?.params.nameKeys).toEqual(["alice", "bob"]);
    await store.close();
  });

  it("refuses a message naming an unknown user with STORE_FAILED, before writing", async () => {
    const { store, driver } = await scripted((key, params) =>
      key === "knownUsers" ? { rows: [{ nameKey: "alice" }] } : happy(key, params),
    );
    driver.calls.length = 0;
    const e = await failure(
      store.enqueueOffline({ id: "m1", from: "alice", to: "ghost", body: "x", sentAt: 1, deliveredAt: null }),
    );
    expect(e.code).toBe("STORE_FAILED");
    expect(e.message).toMatch(/unknown user \("ghost"\)/);
    expect(driver.keys()).toEqual(["knownUsers"]);
    await store.close();
  });

  it("maps counters and counts to the port's errors", async () => {
    const { store } = await scripted((key, params) => {
      if (key === "createUser") return { nodesCreated: 0 };
      if (key === "setPublicKey") return { rows: [{ updated: 0 }] };
      if (key === "appendAudit") return { rows: [{ written: 0 }] };
      if (key === "getUser") return { rows: [] };
      return happy(key, params);
    });
    expect((await failure(store.createUser({ name: "alice", passwordHash: "h", createdAt: 1 }))).code).toBe(
      "AUTH_USER_EXISTS",
    );
    expect((await failure(store.setPublicKey("ghost", "ab"))).code).toBe("AUTH_UNKNOWN_USER");
    const audit = await failure(store.appendAudit({ user: "ghost", event: "login", at: 1, address: "a" }));
    expect(audit.code).toBe("STORE_FAILED");
    expect(audit.message).toMatch(/registry .* is missing/);
    expect(await store.getUser("ghost")).toBeUndefined();
    await store.close();
  });

  it("takes the next group seq only after checking the id twice, all in one write transaction", async () => {
    const { store, driver } = await scripted();
    driver.calls.length = 0;
    const sent = await store.appendGroupMessage({
      id: "g1",
      group: "OPS",
      from: "alice",
      body: "hi",
      sentAt: 9,
    });
    expect(sent.seq).toBe(3);
    expect(driver.keys()).toEqual([
      "getGroupMessage",
      "lockGroup",
      "getGroupMessage",
      "knownUsers",
      "appendGroupMessage",
    ]);
    expect(new Set(driver.calls.map((c) => c.transaction)).size).toBe(1);
    expect(driver.calls.every((c) => c.access === "WRITE")).toBe(true);
    expect(driver.calls[1]?.params.groupKey).toBe("ops");
    await store.close();
  });

  it("runs the appends of one turn in one write transaction, in call order, and resolves them so", async () => {
    const { store, driver } = await scripted();
    driver.calls.length = 0;
    const resolved: string[] = [];
    const message = { from: "alice", to: "bob", body: "x", sentAt: 1, deliveredAt: null };
    await Promise.all([
      store
        .appendGroupMessage({ id: "a1", group: "ops", from: "alice", body: "1", sentAt: 1 })
        .then(() => resolved.push("a1")),
      store
        .appendGroupMessage({ id: "a2", group: "OPS", from: "alice", body: "2", sentAt: 2 })
        .then(() => resolved.push("a2")),
      store.appendHistory({ ...message, id: "h1" }).then(() => resolved.push("h1")),
      store.enqueueOffline({ ...message, id: "o1" }).then(() => resolved.push("o1")),
      store
        .appendAudit({ user: "alice", event: "login", at: 1, address: "a" })
        .then(() => resolved.push("au")),
    ]);
    expect(new Set(driver.calls.map((c) => c.transaction)).size).toBe(1);
    expect(driver.calls.every((c) => c.access === "WRITE")).toBe(true);
    const firstOf = (id: string) => driver.calls.findIndex((c) => c.params.id === id);
    const firsts = ["a1", "a2", "h1", "o1"].map(firstOf);
    expect(firsts).toEqual([...firsts].sort((x, y) => x - y));
    expect(driver.keys().at(-1)).toBe("appendAudit");
    expect(resolved).toEqual(["a1", "a2", "h1", "o1", "au"]);
    expect(store.appends.stats).toMatchObject({ batches: 1, items: 5, failedBatches: 0 });
    await store.close();
  });

  it("fails only the append that refuses itself; the batch's others commit", async () => {
    const { store, driver } = await scripted((key, params) =>
      key === "knownUsers" && (params.nameKeys as string[]).includes("ghost")
        ? { rows: [{ nameKey: "alice" }] }
        : happy(key, params),
    );
    driver.calls.length = 0;
    const message = { from: "alice", to: "bob", body: "x", sentAt: 1, deliveredAt: null };
    const [first, ghost, last] = await Promise.allSettled([
      store.appendHistory({ ...message, id: "h1" }),
      store.appendHistory({ ...message, id: "h2", to: "ghost" }),
      store.appendHistory({ ...message, id: "h3" }),
    ]);
    expect(first.status).toBe("fulfilled");
    expect(last.status).toBe("fulfilled");
    expect(ghost.status === "rejected" && (ghost.reason as HallwayError).code).toBe("STORE_FAILED");
    expect(ghost.status === "rejected" && (ghost.reason as HallwayError).retryAfterMs).toBeUndefined();
    expect(driver.calls.filter((c) => c.key === "insertMessage").map((c) => c.params.id)).toEqual([
      "h1",
      "h3",
    ]);
    expect(new Set(driver.calls.map((c) => c.transaction)).size).toBe(1);
    await store.close();
  });

  it("fails every append of a batch that cannot commit with STORE_FAILED and a retry-after", async () => {
    let refuse = true;
    const { store, driver } = await scripted((key, params) => {
      if (key === "insertMessage" && params.id === "h2" && refuse) {
        throw Object.assign(new Error("No space left on device"), {
          code: "Neo.DatabaseError.General.UnknownError",
        });
      }
      return happy(key, params);
    });
    const message = { from: "alice", to: "bob", body: "x", sentAt: 1, deliveredAt: null };
    const batch = ["h1", "h2", "h3"].map((id) => store.appendHistory({ ...message, id }));
    for (const e of await Promise.all(batch.map(failure))) {
      expect(e.code).toBe("STORE_FAILED");
      expect(e.retryAfterMs).toBe(1000);
      expect(e.message).toMatch(/3 appends/);
    }
    expect(store.appends.stats.failedBatches).toBe(1);
    // The clients send them again, and the next batch commits.
    refuse = false;
    driver.calls.length = 0;
    await Promise.all(["h1", "h2", "h3"].map((id) => store.appendHistory({ ...message, id })));
    expect(driver.calls.filter((c) => c.key === "insertMessage")).toHaveLength(3);
    await store.close();
  });

  it("answers a repeated group message id without taking a seq", async () => {
    const stored = { id: "g1", group: "ops", from: "alice", body: "first", sentAt: 9, seq: 1 };
    const { store, driver } = await scripted((key, params) =>
      key === "getGroupMessage" ? { rows: [{ message: stored }] } : happy(key, params),
    );
    driver.calls.length = 0;
    expect(await store.appendGroupMessage({ ...stored, body: "again" })).toEqual(stored);
    expect(driver.keys()).toEqual(["getGroupMessage"]);
    await store.close();
  });

  it("maps membership answers to GROUP_UNKNOWN, AUTH_UNKNOWN_USER and GROUP_NOT_MEMBER", async () => {
    let membership: Row[] = [];
    const { store } = await scripted((key, params) =>
      key === "membership" ? { rows: membership } : happy(key, params),
    );
    expect((await failure(store.groupBacklog("nope", "bob", 5))).code).toBe("GROUP_UNKNOWN");
    membership = [{ group: "ops", userExists: false, ackedSeq: null }];
    expect((await failure(store.ackGroup("ops", "ghost", 1))).code).toBe("AUTH_UNKNOWN_USER");
    membership = [{ group: "ops", userExists: true, ackedSeq: null }];
    expect((await failure(store.setGroupAdmin("ops", "carol"))).code).toBe("GROUP_NOT_MEMBER");
    await store.close();
  });

  it("orders a friendship by name key, so each pair has one FRIEND relationship", async () => {
    const { store, driver } = await scripted();
    await store.addFriendship("Zed", "amy", 1);
    await store.addFriendship("amy", "zed", 1);
    const pairs = driver.calls
      .filter((c) => c.key === "addFriendship")
      .map((c) => [c.params.aKey, c.params.bKey]);
    expect(pairs).toEqual([
      ["amy", "zed"],
      ["amy", "zed"],
    ]);
    await store.close();
  });

  it("numbers audit, queue and notice order on load, per recipient, in record order", async () => {
    const { store, driver } = await scripted();
    const user = (name: string) => ({
      kind: "user" as const,
      name,
      passwordHash: "h",
      publicKey: null,
      ...NO_PROFILE,
      createdAt: 1,
      lastSeen: null,
    });
    await store.load(
      replay([
        user("alice"),
        user("bob"),
        { kind: "offline", id: "m1", to: "bob" },
        { kind: "offline", id: "m2", to: "alice" },
        { kind: "offline", id: "m3", to: "bob" },
        { kind: "friendship", a: "bob", b: "alice", since: 1 },
      ]),
    );
    const rowsOf = (key: StatementKey) =>
      driver.calls
        .filter((c) => c.key === key)
        .flatMap((c) => c.params.rows as Array<Record<string, unknown>>);
    expect(rowsOf("loadUsers")).toHaveLength(2);
    expect(rowsOf("loadOffline").map((r) => [r.id, String(r.seq)])).toEqual([
      ["m1", "1"],
      ["m2", "1"],
      ["m3", "2"],
    ]);
    expect(rowsOf("loadFriendships").map((r) => [r.aKey, r.bKey])).toEqual([["alice", "bob"]]);
    await store.close();
  });

  it("refuses to load into a registry with users, and undoes a load whose rows do not all match", async () => {
    let users = 1;
    const { store, driver } = await scripted((key, params) => {
      if (key === "countUsers") return { rows: [{ users }] };
      if (key === "loadFriendships") return { rows: [{ written: 0 }] };
      return happy(key, params);
    });
    const records = async function* () {
      yield { kind: "friendship" as const, a: "amy", b: "ghost", since: 1 };
    };
    expect((await failure(store.load(records()))).code).toBe("STORE_NOT_EMPTY");
    expect(driver.keys()).not.toContain("loadFriendships");
    users = 0;
    const e = await failure(store.load(records()));
    expect(e.code).toBe("STORE_FAILED");
    expect(e.message).toMatch(
      /1 friendship record\(s\) refer to a user, group or message not loaded before them/,
    );
    expect(driver.keys().slice(-2)).toEqual(["loadFriendships", "clearRegistryData"]);
    await store.close();
  });

  it("returns history oldest first and pages with the (sentAt, id) cursor", async () => {
    const { store, driver } = await scripted();
    expect((await store.history("bob", "alice", { limit: 2 })).map((m) => m.id)).toEqual(["m1", "m2"]);
    await store.history("alice", "bob", { limit: 2, before: { sentAt: 200, id: "m2" } });
    const before = driver.calls.find((c) => c.key === "historyBefore");
    expect(String(before?.params.beforeSentAt)).toBe("200");
    expect(before?.params.beforeId).toBe("m2");
    await store.close();
  });

  it("asks nothing for a zero limit or an empty batch", async () => {
    const { store, driver } = await scripted();
    const before = driver.calls.length;
    expect(await store.listAudit({ limit: 0 })).toEqual([]);
    expect(await store.pendingOffline("bob", -1)).toEqual([]);
    expect(await store.history("a", "b", { limit: 0 })).toEqual([]);
    expect(await store.ackOffline("bob", [])).toBe(0);
    await store.flushLastSeen([]);
    expect(driver.calls).toHaveLength(before);
    await store.close();
  });

  it("uses one bookmark manager and the configured database for every session", async () => {
    const { store, driver } = await scripted(happy, { database: "office" });
    await exerciseEverything(store);
    const managers = new Set(driver.sessionConfigs.map((c) => c.bookmarkManager));
    expect(managers.size).toBe(1);
    expect([...managers][0]).toBeDefined();
    expect(driver.sessionConfigs.every((c) => c.database === "office")).toBe(true);
    await store.close();
  });

  it("refuses a registry written by a newer build, and closes the driver", async () => {
    const driver = new ScriptedDriver((key) =>
      key === "openRegistry" ? { rows: [{ schemaVersion: 7 }] } : {},
    );
    const store = new Neo4jStore({ ...CONNECTION, createDriver: driver.factory() });
    const e = await failure(store.init());
    expect(e.code).toBe("STORE_FAILED");
    expect(e.message).toMatch(
      new RegExp(`schema version 7, newer than this build supports \\(${GRAPH_SCHEMA_VERSION}\\)`),
    );
    expect(driver.closed).toBe(1);
  });

  it("reports refused credentials at init as one line naming the user, never the password", async () => {
    const driver = new ScriptedDriver(happy);
    driver.connectivityError = new Neo4jError(
      "The client is unauthorized due to authentication failure.",
      "Neo.ClientError.Security.Unauthorized" as never,
      "42NFF",
      "error: permission/access denied",
    );
    const store = new Neo4jStore({ ...CONNECTION, createDriver: driver.factory() });
    const e = await failure(store.init());
    expect(e.code).toBe("STORE_FAILED");
    expect(e.message).toBe('Neo4j at bolt://db.example:7687 refused the credentials for user "hallway"');
    expect(driver.closed).toBe(1);
    // A failed init leaves the store unopened, not stuck: the next init tries again.
    driver.connectivityError = undefined;
    await store.init();
    await store.close();
  });

  it("tries again after a driver could not even be created", async () => {
    const driver = new ScriptedDriver(happy);
    let attempts = 0;
    const store = new Neo4jStore({
      ...CONNECTION,
      createDriver: (...args) => {
        if (++attempts === 1) throw new Error("Unknown scheme: nope");
        return driver.factory()(...args);
      },
    });
    expect((await failure(store.init())).message).toMatch(/^invalid Neo4j URI .*: Unknown scheme: nope$/);
    await store.init();
    expect(await store.listUsers()).toHaveLength(1);
    await store.close();
  });

  it("rejects use before init and after close with STORE_FAILED; close is idempotent", async () => {
    const driver = new ScriptedDriver(happy);
    const store = new Neo4jStore({ ...CONNECTION, createDriver: driver.factory() });
    expect((await failure(store.listUsers())).message).toMatch(/before init/);
    expect((await failure(store.listAudit({ limit: 0 }))).code).toBe("STORE_FAILED");
    await store.init();
    await store.close();
    await store.close();
    expect(driver.closed).toBe(1);
    expect((await failure(store.getUser("alice"))).message).toMatch(/closed/);
    expect((await failure(store.flushLastSeen([]))).code).toBe("STORE_FAILED");
    expect((await failure(store.init())).code).toBe("STORE_FAILED");
  });

  it("closes the driver of an init that close() overtook", async () => {
    const driver = new ScriptedDriver(happy);
    const store = new Neo4jStore({ ...CONNECTION, createDriver: driver.factory() });
    const init = store.init();
    await store.close();
    expect((await failure(init)).message).toMatch(/closed/);
    expect(driver.closed).toBe(1);
  });

  it("fails fast while Neo4j is unreachable, tries it once a second without retries, and recovers", async () => {
    let now = 10_000;
    const { store, driver } = await scripted(happy, { now: () => now });
    const gone = new Neo4jError(
      "Could not perform discovery. No routing servers available. Caused by: connect ECONNREFUSED",
      "ServiceUnavailable" as never,
      "08000",
      "error: connection exception",
    );
    driver.begun.length = 0;
    driver.beginError = gone;

    // The first call finds out (the driver's retries ran inside executeRead).
    const first = await failure(store.listUsers());
    expect(first.message).toBe("cannot reach Neo4j at bolt://db.example:7687: connection refused");
    expect(driver.begun).toEqual(["managed"]);

    // Within the probe interval: the same answer, without asking the driver.
    now += OUTAGE_PROBE_INTERVAL_MS - 1;
    expect((await failure(store.getUser("alice"))).message).toBe(first.message);
    expect((await failure(store.appendAudit({ user: "a", event: "login", at: 1, address: "x" }))).code).toBe(
      "STORE_FAILED",
    );
    expect(driver.begun).toEqual(["managed"]);

    // A second later one call tries once, without the driver's retries; still gone.
    now += 1;
    expect((await failure(store.listUsers())).message).toBe(first.message);
    expect(driver.begun).toEqual(["managed", "explicit"]);
    await failure(store.listUsers());
    expect(driver.begun).toHaveLength(2);

    // Back: the next probe gets through, and then calls are managed (retried) again.
    driver.beginError = undefined;
    now += OUTAGE_PROBE_INTERVAL_MS;
    expect(await store.listUsers()).toHaveLength(1);
    await store.getUser("alice");
    await store.createUser({ name: "carol", passwordHash: "h", createdAt: 1 });
    expect(driver.begun).toEqual(["managed", "explicit", "explicit", "managed", "managed"]);
    await store.close();
  });

  it("ends an outage on any answer from the server, also a refusal", async () => {
    let now = 10_000;
    // The name is taken: MERGE creates no node.
    const taken = (key: StatementKey, params: Record<string, unknown>): Answer =>
      key === "createUser" ? {} : happy(key, params);
    const { store, driver } = await scripted(taken, { now: () => now });
    driver.beginError = new Neo4jError("gone", "ServiceUnavailable" as never, "08000", "error");
    await failure(store.listUsers());
    driver.beginError = undefined;
    now += OUTAGE_PROBE_INTERVAL_MS;
    // The server answers, refusing a duplicate user (no node created): the outage is over.
    expect((await failure(store.createUser({ name: "alice", passwordHash: "h", createdAt: 1 }))).code).toBe(
      "AUTH_USER_EXISTS",
    );
    driver.begun.length = 0;
    await store.listUsers();
    expect(driver.begun).toEqual(["managed"]);
    await store.close();
  });

  it("is what openStore makes for kind neo4j, and describes itself without the password", async () => {
    const store = await openStore({ kind: "neo4j", ...CONNECTION, database: "office" });
    expect(store).toBeInstanceOf(Neo4jStore);
    const line = (store as Neo4jStore).describe();
    expect(line).toBe('Neo4j bolt://db.example:7687, database office, registry "hallway"');
  });
});

// ---------------------------------------------------------------------------------------------
// 3. No server: loopback failures and the command line.

/** Every loopback server a test opened, closed after it. */
const servers: Server[] = [];
const sockets: Socket[] = [];

async function listen(onConnection: (socket: Socket) => void): Promise<number> {
  const server = createServer((socket) => {
    sockets.push(socket);
    onConnection(socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

/** A loopback TCP port that nothing listens on (bound, read, released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const CONNECT_TIMEOUT_MS = 1_000;
/** Generous next to CONNECT_TIMEOUT_MS, tight next to the driver's own 60 s default. */
const SETTLE_WITHIN_MS = 15_000;

/** The rejection of `init()`, or a failure if it does not settle within SETTLE_WITHIN_MS. */
async function initFailure(uri: string): Promise<HallwayError> {
  const store = new Neo4jStore({
    uri,
    user: "neo4j",
    password: "pw-never-shown",
    connectionTimeoutMs: CONNECT_TIMEOUT_MS,
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`init() did not fail within ${SETTLE_WITHIN_MS} ms`)),
      SETTLE_WITHIN_MS,
    );
  });
  try {
    const e = await failure(Promise.race([store.init(), deadline]));
    expect(e.message).not.toContain("pw-never-shown");
    return e;
  } finally {
    clearTimeout(timer);
    await store.close();
  }
}

describe("Neo4jStore without a server (loopback only)", () => {
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });

  it("a closed port is STORE_FAILED: cannot reach Neo4j, connection refused (bolt and neo4j schemes)", async () => {
    const port = await closedPort();
    for (const scheme of ["bolt", "neo4j"]) {
      const uri = `${scheme}://127.0.0.1:${port}`;
      const e = await initFailure(uri);
      expect(e.code).toBe("STORE_FAILED");
      expect(e.message).toBe(`cannot reach Neo4j at ${uri}: connection refused`);
    }
  });

  it("a server that accepts but never answers is STORE_FAILED after the connection timeout", async () => {
    const port = await listen(() => {});
    const e = await initFailure(`bolt://127.0.0.1:${port}`);
    expect(e.code).toBe("STORE_FAILED");
    expect(e.message).toBe(
      `cannot reach Neo4j at bolt://127.0.0.1:${port}: no answer within ${2 * CONNECT_TIMEOUT_MS} ms`,
    );
  });

  it("a server that hangs up is STORE_FAILED", async () => {
    const port = await listen((socket) => socket.destroy());
    const e = await initFailure(`neo4j://127.0.0.1:${port}`);
    expect(e.message).toBe(
      `cannot reach Neo4j at neo4j://127.0.0.1:${port}: the server closed the connection`,
    );
  });

  it("Neo4j's HTTP port instead of Bolt is STORE_FAILED that says so", async () => {
    const port = await listen((socket) => {
      socket.on("data", () => socket.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
    });
    const e = await initFailure(`bolt://127.0.0.1:${port}`);
    expect(e.message).toMatch(/speaks HTTP, not Bolt/);
  });

  it("a URI the driver cannot use is STORE_FAILED, at every init", async () => {
    const store = new Neo4jStore({ uri: "http://127.0.0.1:7474", user: "neo4j", password: "pw" });
    for (let attempt = 0; attempt < 2; attempt++) {
      const e = await failure(store.init());
      expect(e.code).toBe("STORE_FAILED");
      expect(e.message).toMatch(/^invalid Neo4j URI "http:\/\/127\.0\.0\.1:7474": Unknown scheme: http$/);
    }
    await store.close();
    expect((await failure(store.init())).message).toBe("store is closed");
  });
});

describe("hallway server --store neo4j", () => {
  const HOME = { HALLWAY_HOME: "" };
  beforeAll(() => {
    requireBuild();
    HOME.HALLWAY_HOME = tempDir("home");
  });
  afterEach(async () => {
    await killAll();
  });

  function server(name: string, extra: string[], env: Record<string, string | undefined>, json = true): Proc {
    const args = ["server", "--host", "127.0.0.1", "--port", "0", "--data", tempDir(name), "--no-mdns"];
    return hallway(name, [...args, ...(json ? ["--json"] : []), ...extra], {
      ...HOME,
      HALLWAY_NEO4J_PASSWORD: undefined,
      ...env,
    });
  }

  async function jsonFailure(p: Proc, code: string, status: number): Promise<Json> {
    expect(await p.waitExit(`${p.name} fails with ${code}`)).toBe(status);
    const errors = p.events.filter((e) => e.event === "error");
    expect(errors, JSON.stringify(p.events)).toHaveLength(1);
    expect(p.events.some((e) => e.event === "listening")).toBe(false);
    const e = errors[0] as Json;
    expect(e.code).toBe(code);
    expect(e.message).not.toMatch(/\n/);
    return e;
  }

  it("without HALLWAY_NEO4J_PASSWORD is AUTH_NO_PASSWORD, before connecting", async () => {
    const uri = ["--store", "neo4j", "--neo4j-uri", `bolt://127.0.0.1:${await closedPort()}`];
    const e = await jsonFailure(server("nopw", uri, {}), "AUTH_NO_PASSWORD", 1);
    expect(e.message).toMatch(/HALLWAY_NEO4J_PASSWORD/);
    await jsonFailure(server("emptypw", uri, { HALLWAY_NEO4J_PASSWORD: "" }), "AUTH_NO_PASSWORD", 1);

    const line = server("nopw-line", uri, {}, false);
    expect(await line.waitExit("fails")).toBe(1);
    expect(line.stderr).toHaveLength(1);
    expect(line.stderr[0]).toMatch(/^hallway: set HALLWAY_NEO4J_PASSWORD/);
  });

  it("without --neo4j-uri, with a bad URI, or with Neo4j options for SQLite is CLI_BAD_ARGS", async () => {
    const env = { HALLWAY_NEO4J_PASSWORD: "pw" };
    const e = await jsonFailure(server("nouri", ["--store", "neo4j"], env), "CLI_BAD_ARGS", 2);
    expect(e.message).toMatch(/--neo4j-uri/);
    await jsonFailure(
      server("baduri", ["--store", "neo4j", "--neo4j-uri", "http://x:7474"], env),
      "CLI_BAD_ARGS",
      2,
    );
    await jsonFailure(server("badstore", ["--store", "postgres"], env), "CLI_BAD_ARGS", 2);
    const mixed = await jsonFailure(
      server("mixed", ["--neo4j-uri", "bolt://127.0.0.1:1"], env),
      "CLI_BAD_ARGS",
      2,
    );
    expect(mixed.message).toMatch(/--neo4j-uri needs --store neo4j/);
  });

  it("with an unreachable Neo4j is STORE_FAILED, one line, and no password in it", async () => {
    const uri = `bolt://127.0.0.1:${await closedPort()}`;
    const args = ["--store", "neo4j", "--neo4j-uri", uri, "--neo4j-user", "ops"];
    const e = await jsonFailure(
      server("unreachable", args, { HALLWAY_NEO4J_PASSWORD: "pw-secret" }),
      "STORE_FAILED",
      1,
    );
    expect(e.message).toBe(`cannot reach Neo4j at ${uri}: connection refused`);
    const line = server("unreachable-line", args, { HALLWAY_NEO4J_PASSWORD: "pw-secret" }, false);
    expect(await line.waitExit("fails")).toBe(1);
    expect(line.stderr).toEqual([`hallway: cannot reach Neo4j at ${uri}: connection refused`]);
  });
});
