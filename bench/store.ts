/**
 * bench/store: the registry's store operations on SQLite and on Neo4j, side by side, over the
 * same office: 10,000 users, 50,000 friendships, 500 groups of 20, and 20,000 messages of
 * history (one conversation of 1,000 of them is paged).
 *
 * Each operation is the store calls the registry makes for it (`src/server/registry.ts`,
 * `social.ts`), run one after another by one caller, after a warm-up:
 *
 * - login: getUser, appendAudit, friendRequestsTo, groupsOf, joinRequests for the groups the
 *   user runs, pendingNotices, groupBacklog per group, pendingOffline (the password check is
 *   CPU in the registry, not the store, and is left out);
 * - offline enqueue: one message stored for an offline user (committed before it returns);
 * - offline drain: pendingOffline then ackOffline of the 10 messages waiting for one user;
 * - group send: appendGroupMessage to a group of 20 (the next seq, in one transaction);
 * - history page: 50 messages of a 1,000-message conversation, before a cursor;
 * - suggest: people you may know for one user, 10 of them.
 *
 * SQLite is a file in a temporary directory (WAL, synchronous = FULL, as the registry runs it).
 * Neo4j is the test server (`test/neo4j-server/`, Neo4j Community 5.26, started here), or the
 * server `HALLWAY_NEO4J_URI` names (in a registry of its own, deleted afterwards).
 *
 * Prints one JSON document and writes it to bench/results/store.json.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { auth as neo4jAuth, driver as neo4jDriver } from "neo4j-driver";
import {
  type DumpRecord,
  type Neo4jConnection,
  SqliteStore,
  type Store,
  type StoredMessage,
} from "../src/server/store/index.js";
import { CYPHER } from "../src/server/store/neo4j/cypher.js";
import { Neo4jStore } from "../src/server/store/neo4j/neo4j-store.js";
import { startTestNeo4j, type TestNeo4j } from "../test/neo4j/test-server.js";
import { machine, publish, summarize } from "./stats.js";

const USERS = 10_000;
const FRIENDSHIPS = 50_000;
const GROUPS = 500;
const GROUP_SIZE = 20;
const HISTORY_MESSAGES = 20_000;
const CONVERSATION = 1_000;
const PAGE = 50;
const SCALE = Number(process.env.BENCH_STORE_SCALE ?? 1);

/** Iterations per operation (after WARMUP of each), times BENCH_STORE_SCALE. */
const ITERATIONS = {
  login: 300,
  offlineEnqueue: 1_000,
  offlineDrain: 100,
  groupSend: 1_000,
  historyPage: 500,
  suggest: 300,
};
const WARMUP = 50;

/** mulberry32: the same office on every run and for both stores. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const userName = (i: number) => `user${String(i).padStart(5, "0")}`;
const groupName = (i: number) => `group${String(i).padStart(3, "0")}`;

/** The office as export records, in the order `load` replays. */
function* office(): Generator<DumpRecord> {
  const random = rng(12_345);
  const pick = () => Math.floor(random() * USERS);
  const t0 = 1_700_000_000_000;
  for (let i = 0; i < USERS; i++) {
    yield {
      kind: "user",
      name: userName(i),
      passwordHash: `scrypt$15$8$1$salt${i}$hash${i}`,
      publicKey: null,
      displayName: `User ${i}`,
      statusText: null,
      email: null,
      phone: null,
      department: `dept${i % 40}`,
      note: null,
      createdAt: t0 + i,
      lastSeen: null,
    };
  }
  for (let i = 0; i < HISTORY_MESSAGES; i++) {
    const inConversation = i < CONVERSATION;
    const a = inConversation ? 0 : pick();
    let b = inConversation ? 1 : pick();
    if (b === a) b = (a + 1) % USERS;
    const [from, to] = i % 2 === 0 ? [a, b] : [b, a];
    yield {
      kind: "message",
      id: `h${i}`,
      from: userName(from),
      to: userName(to),
      body: `message ${i}`,
      sentAt: t0 + 1_000_000 + i * 1_000,
      deliveredAt: t0 + 1_000_000 + i * 1_000 + 10,
    };
  }
  const pairs = new Set<string>();
  while (pairs.size < FRIENDSHIPS) {
    const a = pick();
    const b = pick();
    if (a === b) continue;
    const [x, y] = a < b ? [a, b] : [b, a];
    const key = `${x}-${y}`;
    if (pairs.has(key)) continue;
    pairs.add(key);
    yield { kind: "friendship", a: userName(x), b: userName(y), since: t0 + pairs.size };
  }
  const members: number[][] = [];
  for (let g = 0; g < GROUPS; g++) {
    const inGroup = new Set<number>();
    while (inGroup.size < GROUP_SIZE) inGroup.add(pick());
    members.push([...inGroup]);
    yield {
      kind: "group",
      name: groupName(g),
      admin: userName(members[g]?.[0] as number),
      createdAt: t0 + g,
      lastSeq: 0,
    };
  }
  for (const [g, list] of members.entries()) {
    for (const u of list) {
      yield { kind: "member", group: groupName(g), name: userName(u), joinedAt: t0 + g, ackedSeq: 0 };
    }
  }
}

async function* replay(records: Iterable<DumpRecord>): AsyncIterable<DumpRecord> {
  yield* records;
}

/** The store calls of one login (see the header). */
async function login(store: Store, user: string, now: number): Promise<void> {
  await store.getUser(user);
  await store.appendAudit({ user, event: "login", at: now, address: "127.0.0.1:7000" });
  await store.friendRequestsTo(user);
  const groups = await store.groupsOf(user);
  for (const g of groups) if (g.admin === user) await store.joinRequests(g.name);
  await store.pendingNotices(user, 1000);
  for (const g of groups) await store.groupBacklog(g.name, user, 500);
  await store.pendingOffline(user, 10_000);
}

type Result = ReturnType<typeof summarize> & { opsPerSec: number };

/** `count` calls of `op`, one after another, after WARMUP more; latency of each. */
async function measure(count: number, op: (i: number) => Promise<unknown>): Promise<Result> {
  for (let i = 0; i < WARMUP; i++) await op(count + i);
  const samples: number[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await op(i);
    samples.push(performance.now() - t);
  }
  const seconds = (performance.now() - started) / 1000;
  return { ...summarize(samples), opsPerSec: Math.round(count / seconds) };
}

async function run(
  name: string,
  store: Store,
): Promise<{ populateSeconds: number; results: Record<string, Result> }> {
  const began = performance.now();
  await store.load(replay(office()));
  const populateSeconds = Math.round((performance.now() - began) / 100) / 10;
  process.stderr.write(`${name}: office loaded in ${populateSeconds} s\n`);

  const random = rng(777);
  const anyone = () => userName(Math.floor(random() * USERS));
  const n = (k: keyof typeof ITERATIONS) => Math.max(1, Math.round(ITERATIONS[k] * SCALE));
  const results: Record<string, Result> = {};
  let clock = 1_800_000_000_000;
  const message = (id: string, to: string): StoredMessage => ({
    id,
    from: userName(0),
    to,
    body: "The quick brown fox jumps over the lazy dog, twice over.",
    sentAt: ++clock,
    deliveredAt: null,
  });

  results.login = await measure(n("login"), () => login(store, anyone(), ++clock));
  process.stderr.write(`${name}: login\n`);
  results.offlineEnqueue = await measure(n("offlineEnqueue"), (i) =>
    store.enqueueOffline(message(`q${i}-${random()}`, anyone())),
  );
  process.stderr.write(`${name}: offline enqueue\n`);
  // Ten messages wait for each of the users drained (set up outside the measurement).
  const drained = Array.from({ length: n("offlineDrain") + WARMUP }, (_, i) => userName(USERS - 1 - i));
  for (const [u, user] of drained.entries()) {
    for (let k = 0; k < 10; k++) await store.enqueueOffline(message(`d${u}-${k}`, user));
  }
  results.offlineDrain = await measure(n("offlineDrain"), async (i) => {
    const user = drained[i] as string;
    const pending = await store.pendingOffline(user, 10_000);
    await store.ackOffline(
      user,
      pending.map((m) => m.id),
    );
  });
  process.stderr.write(`${name}: offline drain\n`);
  const groupMembers: string[][] = [];
  for (let g = 0; g < GROUPS; g++)
    groupMembers.push((await store.groupMembers(groupName(g))).map((m) => m.name));
  results.groupSend = await measure(n("groupSend"), (i) => {
    const g = Math.floor(random() * GROUPS);
    const from = groupMembers[g]?.[Math.floor(random() * GROUP_SIZE)] as string;
    return store.appendGroupMessage({
      id: `g${i}-${random()}`,
      group: groupName(g),
      from,
      body: "hi all",
      sentAt: ++clock,
    });
  });
  process.stderr.write(`${name}: group send\n`);
  const conversation = await store.history(userName(0), userName(1), { limit: CONVERSATION });
  results.historyPage = await measure(n("historyPage"), () => {
    const cursor = conversation[PAGE + Math.floor(random() * (CONVERSATION - PAGE))] as StoredMessage;
    return store.history(userName(0), userName(1), {
      limit: PAGE,
      before: { sentAt: cursor.sentAt, id: cursor.id },
    });
  });
  process.stderr.write(`${name}: history page\n`);
  results.suggest = await measure(n("suggest"), () => store.suggest(anyone(), 10));
  process.stderr.write(`${name}: suggest\n`);
  return { populateSeconds, results };
}

async function neo4jVersion(c: Neo4jConnection): Promise<string> {
  const driver = neo4jDriver(c.uri, neo4jAuth.basic(c.user, c.password));
  try {
    const r = await driver.executeQuery(
      "CALL dbms.components() YIELD versions, edition RETURN versions[0] AS v, edition",
    );
    const row = r.records[0];
    return row ? `${row.get("v")} ${row.get("edition")}` : "unknown";
  } finally {
    await driver.close();
  }
}

async function dropRegistry(c: Neo4jConnection, registry: string): Promise<void> {
  const driver = neo4jDriver(c.uri, neo4jAuth.basic(c.user, c.password));
  try {
    await driver.executeQuery(CYPHER.deleteRegistry.text, { registry });
  } finally {
    await driver.close();
  }
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const dir = mkdtempSync(join(tmpdir(), "hallway-bench-store-"));
  let server: TestNeo4j | undefined;
  const registry = `bench-${process.pid}`;
  try {
    let connection: Neo4jConnection;
    if (process.env.HALLWAY_NEO4J_URI) {
      connection = {
        uri: process.env.HALLWAY_NEO4J_URI,
        user: process.env.HALLWAY_NEO4J_USER || "neo4j",
        password: process.env.HALLWAY_NEO4J_PASSWORD ?? "",
      };
    } else {
      process.stderr.write("starting the test Neo4j (test/neo4j-server/)\n");
      server = await startTestNeo4j();
      connection = { uri: server.uri, user: server.user, password: server.password };
    }

    const sqlite = await SqliteStore.open(join(dir, "registry.sqlite"));
    const sqliteRun = await run("SQLite", sqlite);
    await sqlite.close();

    const neo4j = await Neo4jStore.connect({ ...connection, registry });
    const neo4jRun = await run("Neo4j", neo4j);
    await neo4j.close();
    if (server === undefined) await dropRegistry(connection, registry);

    const operations = Object.keys(sqliteRun.results);
    publish("store", {
      bench: "store",
      date: new Date().toISOString(),
      machine: machine(),
      loadAverage: {
        before: loadBefore.map((x) => Math.round(x * 100) / 100),
        after: loadavg().map((x) => Math.round(x * 100) / 100),
      },
      neo4j: {
        version: await neo4jVersion(connection),
        server: server ? "test server, embedded, same machine" : "HALLWAY_NEO4J_URI",
      },
      office: {
        users: USERS,
        friendships: FRIENDSHIPS,
        groups: GROUPS,
        groupSize: GROUP_SIZE,
        historyMessages: HISTORY_MESSAGES,
        conversation: CONVERSATION,
      },
      iterations: Object.fromEntries(
        Object.entries(ITERATIONS).map(([k, v]) => [k, Math.max(1, Math.round(v * SCALE))]),
      ),
      warmup: WARMUP,
      populateSeconds: { sqlite: sqliteRun.populateSeconds, neo4j: neo4jRun.populateSeconds },
      results: Object.fromEntries(
        operations.map((op) => [op, { sqlite: sqliteRun.results[op], neo4j: neo4jRun.results[op] }]),
      ),
    });
  } finally {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(
    `bench:store failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
