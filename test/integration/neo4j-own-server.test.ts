/**
 * The registry on a Neo4j server of this file's own (not the run's shared one), for what the
 * shared server cannot show: start-up on a fresh database, and a Neo4j that goes away while the
 * registry runs and comes back on the same address and store.
 *
 * - Start-up is idempotent: the first registry creates every constraint and index; a second
 *   start on the same database changes nothing (the schema and the registry's data compare
 *   equal before and after).
 * - Neo4j goes away (SIGKILL) under a running registry: each request that needs the store gets
 *   one `STORE_FAILED` answer, quickly enough that no client takes the registry for lost;
 *   what needs no store (presence, direct chat) keeps working; when Neo4j is back, the same
 *   registry process serves again and nothing it had acknowledged is lost.
 * - Wrong credentials at start-up: one `STORE_FAILED` line, exit status 1, no stack trace.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Driver, auth as neo4jAuth, driver as neo4jDriver } from "neo4j-driver";
import { afterAll, afterEach, beforeAll, expect, it, onTestFinished } from "vitest";
import { CYPHER, SCHEMA_KEYS } from "../../src/server/store/neo4j/cypher.js";
import { type Neo4jConnection, Neo4jStore } from "../../src/server/store/neo4j/neo4j-store.js";
import { describeNeo4j } from "../neo4j/test-neo4j.js";
import { startTestNeo4j, type TestNeo4j } from "../neo4j/test-server.js";
import { warmUpNeo4j } from "../neo4j/warm-up.js";
import { hallway, type Json, killAll, requireBuild, tempDir } from "./harness.js";
import { neo4jStoreArgs, startNeo4jRegistry } from "./neo4j-helpers.js";
import { ask, eventsSince, login, logout, must } from "./social-helpers.js";

/** The names of the constraints and indexes the adapter creates, from its schema statements. */
const SCHEMA_NAMES = SCHEMA_KEYS.map((key) => {
  const name = /^CREATE (?:CONSTRAINT|(?:TEXT |RANGE |POINT |FULLTEXT )?INDEX) (\w+)/.exec(
    CYPHER[key].text,
  )?.[1];
  if (name === undefined) throw new Error(`schema statement ${key} has no name`);
  return name;
}).sort();

describeNeo4j("the registry on a Neo4j server of its own", () => {
  let server: TestNeo4j;
  let storeDir: string;
  let connection: Neo4jConnection;
  let inspector: Driver | undefined;

  beforeAll(async () => {
    requireBuild();
    // Not a harness tempDir: killAll() after each test deletes those, and this one must last.
    storeDir = mkdtempSync(join(tmpdir(), "hallway-neo4j-store-"));
    server = await startTestNeo4j({ dir: storeDir });
    connection = { uri: server.uri, user: server.user, password: server.password };
  }, 300_000);
  afterEach(killAll);
  afterAll(async () => {
    await inspector?.close();
    await server?.stop();
    rmSync(storeDir, { recursive: true, force: true });
  });

  /** One read on the server, outside the registry: what the schema and the data look like. */
  async function query(text: string): Promise<Json[]> {
    inspector ??= neo4jDriver(connection.uri, neo4jAuth.basic(connection.user, connection.password), {
      disableLosslessIntegers: true,
    });
    const session = inspector.session();
    try {
      return (await session.run(text)).records.map((r) => r.toObject() as Json);
    } finally {
      await session.close();
    }
  }

  async function reachable(): Promise<boolean> {
    return query("RETURN 1").then(
      () => true,
      () => false,
    );
  }

  async function snapshot(): Promise<Json> {
    return {
      constraints: await query(
        "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties RETURN * ORDER BY name",
      ),
      indexes: await query(
        "SHOW INDEXES YIELD name, type, labelsOrTypes, properties, state RETURN * ORDER BY name",
      ),
      nodes: await query(
        "MATCH (n) RETURN labels(n) AS labels, properties(n) AS props ORDER BY elementId(n)",
      ),
      relationships: await query("MATCH ()-[r]->() RETURN type(r) AS type, count(*) AS count ORDER BY type"),
    };
  }

  it("creates its constraints and indexes on a fresh database, and a second start changes nothing", async () => {
    const ours = (rows: Json[]) => rows.map((r) => r.name as string).filter((n) => n.startsWith("hallway_"));
    expect(ours(await query("SHOW CONSTRAINTS YIELD name"))).toEqual([]);
    expect(ours(await query("SHOW INDEXES YIELD name"))).toEqual([]);

    const dir = tempDir("registry");
    // Without #all: a registry enrols the users it finds at start (here, the ones the store
    // wrote behind its back), and this is about the schema, which must not change.
    const extra = ["--no-office-room"];
    const first = await startNeo4jRegistry(dir, { registry: "startup", connection, extra });
    // Start-up does its work before the registry says it listens; a SIGKILL then loses nothing.
    await first.proc.kill("SIGKILL");

    // Data of several kinds in that registry, written through the store.
    const store = await Neo4jStore.connect({ ...connection, registry: "startup" });
    for (const name of ["alice", "bob"]) await store.createUser({ name, passwordHash: "h", createdAt: 1 });
    await store.addFriendship("alice", "bob", 2);
    await store.createGroup({ name: "ops", admin: "alice", createdAt: 3 });
    await store.appendGroupMessage({ id: "g1", group: "ops", from: "alice", body: "kept", sentAt: 4 });
    await store.enqueueOffline({
      id: "m1",
      from: "alice",
      to: "bob",
      body: "kept",
      sentAt: 5,
      deliveredAt: null,
    });
    await store.close();

    const after = await snapshot();
    const constraints = after.constraints as Json[];
    const indexes = after.indexes as Json[];
    // Every named schema statement left its constraint or index, and every index is usable.
    const made = [...ours(constraints), ...ours(indexes).filter((n) => !ours(constraints).includes(n))];
    expect(made.sort()).toEqual(SCHEMA_NAMES);
    expect(
      indexes.filter((i) => String(i.name).startsWith("hallway_")).every((i) => i.state === "ONLINE"),
    ).toBe(true);

    // Start-up does its work before the registry says it listens.
    await startNeo4jRegistry(dir, { registry: "startup", connection, port: first.port, extra });
    expect(await snapshot()).toEqual(after);
  }, 120_000);

  it("answers STORE_FAILED once per request while Neo4j is gone, keeps chat going, and recovers", async () => {
    await warmUpNeo4j(connection);
    const reg = await startNeo4jRegistry(tempDir("registry"), { registry: "outage", connection });
    let carol = await login("carol", reg.port);
    await logout(carol);
    const alice = await login("alice", reg.port);
    const bob = await login("bob", reg.port);
    await must(alice, { cmd: "group.create", group: "ops" });
    await must(bob, { cmd: "group.join", group: "ops" });
    await must(alice, { cmd: "group.approve", group: "ops", user: "bob" });
    const before = await must(alice, { cmd: "send", to: "carol", text: "before the outage" });
    expect(before.via).toBe("offline");
    const from = alice.proc.events.length;

    await server.kill();
    const { port, password } = server;
    let restarting: Promise<void> | undefined;
    const restart = () => {
      restarting ??= startTestNeo4j({ dir: storeDir, port, password }).then((s) => {
        server = s;
      });
      return restarting;
    };
    // Whatever fails below (a timeout, too), the next test gets its server back, started once.
    onTestFinished(async () => {
      await restarting?.catch(() => {});
      if (await reachable()) return;
      restarting = undefined;
      await restart();
    });

    // Each request that needs the store: one answer, STORE_FAILED, naming the cause.
    for (const cmd of [
      { cmd: "history", with: "bob" },
      { cmd: "friends" },
      { cmd: "group.history", group: "ops" },
      { cmd: "suggest" },
    ]) {
      const answer = await ask(alice, cmd);
      expect(answer, JSON.stringify(cmd)).toMatchObject({
        event: "error",
        cmd: cmd.cmd,
        code: "STORE_FAILED",
      });
      expect(answer.message).toMatch(/^cannot reach Neo4j at bolt:\/\/127\.0\.0\.1:\d+: /);
    }
    const groupSend = await ask(alice, { cmd: "group.send", group: "ops", text: "during the outage" });
    expect(groupSend).toMatchObject({ event: "error", code: "STORE_FAILED" });

    // What needs no store goes on: a direct message between two online users.
    const direct = await must(alice, { cmd: "send", to: "bob", text: "still here?" });
    expect(direct.via).toBe("direct");
    await bob.proc.waitFor((e) => e.event === "message" && e.id === direct.id, "the direct message");

    // No client took the registry for lost, and every failed request was answered once.
    expect(eventsSince(alice, from, (e) => e.event === "registry")).toEqual([]);
    expect(eventsSince(bob, 0, (e) => e.event === "registry" && e.status === "lost")).toEqual([]);
    const errors = eventsSince(alice, from, (e) => e.event === "error");
    expect(errors.map((e) => e.cmd)).toEqual([
      "history",
      "friends",
      "group.history",
      "suggest",
      "group.send",
    ]);

    // Neo4j comes back on the same address and store; the same registry serves again.
    // The first request may still find no connection (the driver's pool is reopening); within
    // a few tries the same registry stores again, and nothing of the outage was stored.
    await restart();
    let sent: Json | undefined;
    for (let tries = 0; sent === undefined && tries < 20; tries++) {
      const answer = await ask(alice, { cmd: "group.send", group: "ops", text: "after the outage" }, 30_000);
      if (answer.event !== "error") sent = answer;
      else {
        expect(answer.code).toBe("STORE_FAILED");
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    expect(sent?.seq).toBe(1);
    // History takes writes again: a direct message's report after its receipt is stored.
    const directAfter = await must(alice, { cmd: "send", to: "bob", text: "back again" });
    await alice.proc.waitFor((e) => e.event === "delivered" && e.id === directAfter.id, "bob's receipt");
    // alice's client reports the message to history after bob's receipt, on its own time.
    await expect
      .poll(
        async () =>
          ((await must(bob, { cmd: "history", with: "alice" })).messages as Json[]).map((m) => m.id),
        { timeout: 30_000, interval: 500 },
      )
      .toContain(directAfter.id);
    const after = await must(alice, { cmd: "send", to: "carol", text: "after the outage" });
    expect(after.via).toBe("offline");

    // Nothing acknowledged before the outage was lost.
    carol = await login("carol", reg.port, carol.dir);
    const got = await carol.proc.waitForCount((e) => e.event === "message", 2, "carol's messages");
    expect(got.map((e) => e.text)).toEqual(["before the outage", "after the outage"]);
  }, 240_000);

  it("refuses wrong credentials at start-up with one STORE_FAILED line and exit status 1", async () => {
    const args = ["server", "--port", "0", "--data", tempDir("registry"), "--no-mdns"];
    const store = neo4jStoreArgs("refused", connection);
    const json = hallway("wrong-pw", [...args, "--json", ...store], {
      HALLWAY_NEO4J_PASSWORD: "not-the-password",
    });
    expect(await json.waitExit("fails", 30_000)).toBe(1);
    expect(json.events).toEqual([
      {
        event: "error",
        code: "STORE_FAILED",
        message: `Neo4j at ${connection.uri} refused the credentials for user "neo4j"`,
      },
    ]);
    const line = hallway("wrong-pw-line", [...args, ...store], {
      HALLWAY_NEO4J_PASSWORD: "not-the-password",
    });
    expect(await line.waitExit("fails", 30_000)).toBe(1);
    expect(line.stderr).toEqual([
      `hallway: Neo4j at ${connection.uri} refused the credentials for user "neo4j"`,
    ]);
  });
});
