/**
 * Moving an office from SQLite to Neo4j and back with `hallway server export` and `import`, as
 * real processes against the run's real Neo4j: every record survives both moves (compared
 * record by record), and the registry then runs on Neo4j with the moved data: a user logs in
 * with the password they registered on SQLite and gets the messages that were waiting.
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeAll, expect, it } from "vitest";
import { type DumpRecord, SqliteStore } from "../../src/server/store/index.js";
import { describeNeo4j } from "../neo4j/test-neo4j.js";
import { hallway, type Json, killAll, requireBuild, startRegistry, tempDir } from "./harness.js";
import {
  dropRegistries,
  neo4jEnv,
  neo4jStoreArgs,
  newRegistryName,
  startNeo4jRegistry,
} from "./neo4j-helpers.js";
import { login, logout, must } from "./social-helpers.js";
import { populateEveryKind } from "./store-contract/index.js";

beforeAll(requireBuild);
afterEach(async () => {
  await killAll();
  await dropRegistries();
});

/** Runs `hallway server export|import …` to its end; returns its summary event. */
async function transfer(name: string, args: string[], env: Record<string, string> = {}): Promise<Json> {
  const p = hallway(name, ["server", ...args, "--json"], env);
  const status = await p.waitExit(name, 60_000);
  expect(status, `${name}: ${JSON.stringify(p.events)} ${p.stderr.join("\n")}`).toBe(0);
  const summary = p.events.find((e) => e.event === "exported" || e.event === "imported");
  if (summary === undefined) throw new Error(`${name} printed no summary: ${JSON.stringify(p.events)}`);
  return summary;
}

/** The records of an export file (without its header line). */
async function records(file: string): Promise<DumpRecord[]> {
  const [header, ...lines] = (await readFile(file, "utf8")).trimEnd().split("\n");
  expect(JSON.parse(header as string)).toMatchObject({ format: "hallway-export", version: 1 });
  return lines.map((l) => JSON.parse(l) as DumpRecord);
}

/** JSON with sorted keys: the same record reads the same whichever store wrote it. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Every record (as a sorted set), and the orders the port promises to keep. */
function canonical(all: DumpRecord[]): Json {
  const perRecipient = (kind: "offline" | "notice") => {
    const orders: Record<string, string[]> = {};
    const add = (to: string, id: string) => {
      orders[to] = [...(orders[to] ?? []), id];
    };
    for (const r of all) {
      if (r.kind === "offline" && kind === "offline") add(r.to, r.id);
      if (r.kind === "notice" && kind === "notice") add(r.notice.to, r.notice.id);
    }
    return orders;
  };
  return {
    records: all.map(stableJson).sort(),
    audit: all.filter((r) => r.kind === "audit").map(stableJson),
    queues: perRecipient("offline"),
    notices: perRecipient("notice"),
  };
}

describeNeo4j("moving an office between SQLite and Neo4j", () => {
  it("loses nothing from SQLite to Neo4j and back, and the registry runs on the moved data", async () => {
    // An office on SQLite: real accounts and waiting messages from the registry, and a record
    // of every kind, some at unusual values, written through the store.
    const officeDir = tempDir("office");
    const sqliteRegistry = await startRegistry(officeDir);
    let yann = await login("yann", sqliteRegistry.port);
    await logout(yann);
    const zoe = await login("zoe", sqliteRegistry.port);
    for (const text of ["one", "two", "three"]) {
      expect(await must(zoe, { cmd: "send", to: "yann", text })).toMatchObject({ via: "offline" });
    }
    await logout(zoe);
    sqliteRegistry.proc.child.kill("SIGTERM");
    expect(await sqliteRegistry.proc.waitExit("the SQLite registry stops")).toBe(0);
    const store = await SqliteStore.open(join(officeDir, "registry.sqlite"));
    await populateEveryKind(store);
    await store.close();

    const work = tempDir("files");
    const [fromSqlite, fromNeo4j, backInSqlite] = ["a", "b", "c"].map((f) => join(work, `${f}.jsonl`)) as [
      string,
      string,
      string,
    ];
    const registry = newRegistryName();
    const neo4j = neo4jStoreArgs(registry);

    const exported = await transfer("export sqlite", ["export", "--data", officeDir, "--out", fromSqlite]);
    const counts = exported.counts as Record<string, number>;
    expect(Object.keys(counts).sort()).toEqual(
      [
        "audit",
        "friendRequest",
        "friendship",
        "group",
        "groupMessage",
        "joinRequest",
        "member",
        "message",
        "notice",
        "offline",
        "user",
      ].sort(),
    );
    expect(Object.values(counts).every((n) => n > 0)).toBe(true);
    expect(counts).toMatchObject({ user: 6, message: 8, offline: 6 });
    const imported = await transfer("import neo4j", ["import", ...neo4j, "--in", fromSqlite], neo4jEnv());
    expect(imported).toMatchObject({ records: exported.records, counts: exported.counts });
    await transfer("export neo4j", ["export", ...neo4j, "--out", fromNeo4j], neo4jEnv());
    const copyDir = tempDir("copy");
    await transfer("import sqlite", ["import", "--data", copyDir, "--in", fromNeo4j]);
    await transfer("export copy", ["export", "--data", copyDir, "--out", backInSqlite]);

    // Record by record: hashes, keys, profiles, times, sequence numbers and acknowledged
    // positions, and the orders that mean something (the audit log, each recipient's queue and
    // notices). The two stores list other records in orders of their own (SQLite by insertion,
    // Neo4j by time and id), which the port leaves open.
    const original = await records(fromSqlite);
    expect(original).toHaveLength(exported.records as number);
    expect(canonical(await records(fromNeo4j))).toEqual(canonical(original));
    expect(canonical(await records(backInSqlite))).toEqual(canonical(original));

    // The registry on Neo4j with the moved data and the office's identity key: yann logs in
    // with his password and gets what waited for him, in order.
    const neo4jRegistry = await startNeo4jRegistry(officeDir, { registry });
    yann = await login("yann", neo4jRegistry.port, yann.dir);
    const got = await yann.proc.waitForCount((e) => e.event === "message", 3, "yann's messages");
    expect(got.map((e) => [e.from, e.text])).toEqual([
      ["zoe", "one"],
      ["zoe", "two"],
      ["zoe", "three"],
    ]);
  }, 120_000);
});
