/**
 * `hallway server export` and `hallway server import` as real processes over real SQLite files:
 * an office with a record of every kind goes out and into a second, empty data directory, and
 * the two stores are compared record by record. Then the ways an import must refuse, each with
 * its code, one line, and nothing imported.
 */

import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type DumpRecord, SqliteStore, type Store } from "../../src/server/store/index.js";
import { hallway, type Json, killAll, type Proc, requireBuild, tempDir } from "./harness.js";
import { collect, populateEveryKind } from "./store-contract/index.js";

function database(dataDir: string): string {
  return join(dataDir, "registry.sqlite");
}

async function withStore<T>(dataDir: string, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await SqliteStore.open(database(dataDir));
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** A data directory whose store holds a record of every kind; returns its dump. */
async function office(): Promise<{ dir: string; records: DumpRecord[] }> {
  const dir = tempDir("office");
  const records = await withStore(dir, async (store) => {
    await populateEveryKind(store);
    return collect(store.dump());
  });
  return { dir, records };
}

async function exitOf(p: Proc, what: string): Promise<number | null> {
  return p.waitExit(what, 30_000);
}

describe("hallway server export / import (SQLite to SQLite, real processes)", () => {
  beforeAll(() => {
    requireBuild();
  });
  afterEach(async () => {
    await killAll();
  });

  it("moves every record through a file, and the new store answers like the old one", async () => {
    const source = await office();
    const file = join(tempDir("export"), "office.jsonl");
    const out = hallway("export", ["server", "export", "--data", source.dir, "--out", file, "--json"]);
    expect(await exitOf(out, "export")).toBe(0);
    const exported = out.events.find((e) => e.event === "exported") as Json;
    expect(exported.records).toBe(source.records.length);
    expect(exported.counts).toMatchObject({ user: 4, audit: 4, message: 5, offline: 3, notice: 2 });

    const lines = (await readFile(file, "utf8")).trimEnd().split("\n");
    expect(JSON.parse(lines[0] as string)).toMatchObject({ format: "hallway-export", version: 1 });
    expect(lines.slice(1).map((l) => JSON.parse(l))).toEqual(source.records);

    const target = tempDir("target");
    const into = hallway("import", ["server", "import", "--data", target, "--in", file, "--json"]);
    expect(await exitOf(into, "import")).toBe(0);
    expect(into.events).toEqual([
      { event: "imported", records: source.records.length, counts: exported.counts },
    ]);

    await withStore(target, async (store) => {
      // Record by record: accounts with hashes and keys, profiles, audit, history with delivery
      // times, queue order, friendships, requests, groups, members with ackedSeq, join
      // requests, group messages with seq, notices in order.
      const copied = await collect(store.dump());
      expect(copied).toHaveLength(source.records.length);
      for (const [i, record] of source.records.entries()) expect(copied[i], `record ${i}`).toEqual(record);

      // And it behaves like the original, not only lists the same rows.
      expect((await store.getUser("alice"))?.passwordHash).toBe("scrypt$15$8$1$salt0$hash0");
      expect((await store.getUser("alice"))?.publicKey).toBe("ab".repeat(32));
      expect((await store.pendingOffline("bob", 10)).map((m) => m.id)).toEqual(["q2", "q1"]);
      expect(
        (await store.history("alice", "bob", { limit: 10 })).find((m) => m.id === "h1")?.deliveredAt,
      ).toBe(150);
      expect((await store.groupBacklog("ops", "bob", 10)).map((m) => m.seq)).toEqual([2, 3]);
      expect((await store.getGroup("ops"))?.admin).toBe("bob");
      const next = await store.appendGroupMessage({
        id: "gm4",
        group: "ops",
        from: "alice",
        body: "4",
        sentAt: 99,
      });
      expect(next.seq).toBe(4);
      expect((await store.pendingNotices("dave", 10)).map((n) => n.id)).toEqual(["n2", "n1"]);
    });
  });

  it("pipes an export on stdout into an import on stdin", async () => {
    const source = await office();
    const target = tempDir("piped");
    const out = hallway("export", ["server", "export", "--data", source.dir]);
    const into = hallway("import", ["server", "import", "--data", target]);
    (out.child.stdout as NodeJS.ReadableStream).pipe(into.child.stdin as NodeJS.WritableStream);
    expect(await exitOf(out, "export")).toBe(0);
    expect(out.stderr).toEqual([expect.stringMatching(/^exported \d+ records \(4 user, /)]);
    expect(await exitOf(into, "import")).toBe(0);
    expect(into.stderr).toEqual([]);
    expect(into.events).toEqual([
      { event: "non-json", line: expect.stringMatching(/^imported \d+ records/) },
    ]);
    expect(await withStore(target, (store) => collect(store.dump()))).toEqual(source.records);
  });

  describe("refusals: a stable code, one line, nothing imported", () => {
    async function exportFile(): Promise<string[]> {
      const source = await office();
      const file = join(tempDir("export"), "office.jsonl");
      const out = hallway("export", ["server", "export", "--data", source.dir, "--out", file]);
      expect(await exitOf(out, "export")).toBe(0);
      return (await readFile(file, "utf8")).trimEnd().split("\n");
    }

    async function importFails(lines: string[] | null, code: string, extra: string[] = []): Promise<Json> {
      const target = tempDir("refused");
      let file = join(tempDir("import"), "missing.jsonl");
      if (lines !== null) {
        file = join(tempDir("import"), "in.jsonl");
        await writeFile(file, `${lines.join("\n")}\n`);
      }
      const into = hallway("import", [
        "server",
        "import",
        "--data",
        target,
        "--in",
        file,
        "--json",
        ...extra,
      ]);
      expect(await exitOf(into, "import")).toBe(1);
      const errors = into.events.filter((e) => e.event === "error");
      expect(errors, JSON.stringify(into.events)).toHaveLength(1);
      const error = errors[0] as Json;
      expect(error.code).toBe(code);
      expect(String(error.message)).not.toContain("\n");
      expect(into.stderr.join("\n")).not.toMatch(/\bat .*\.js:\d+/);
      if (lines !== null) expect(await withStore(target, (store) => store.listUsers())).toEqual([]);
      return error;
    }

    it("a bad line: IMPORT_BAD_LINE naming the line", async () => {
      const lines = await exportFile();
      const broken = [...lines];
      broken[3] = '{"kind":"user","name":"x"';
      expect((await importFails(broken, "IMPORT_BAD_LINE")).message).toMatch(
        /^line 4: not JSON; nothing was imported$/,
      );
      const wrongType = [...lines];
      wrongType[2] = JSON.stringify({ ...JSON.parse(lines[2] as string), createdAt: "yesterday" });
      expect((await importFails(wrongType, "IMPORT_BAD_LINE")).message).toMatch(
        /^line 3: user record: createdAt: /,
      );
      const unknownKind = [...lines, '{"kind":"rumour","text":"x"}'];
      expect((await importFails(unknownKind, "IMPORT_BAD_LINE")).message).toMatch(
        new RegExp(`^line ${unknownKind.length}: unknown record kind "rumour"`),
      );
      expect((await importFails(["[1,2]"], "IMPORT_BAD_LINE")).message).toMatch(
        /^line 1: not a hallway-export header/,
      );
      expect((await importFails([], "IMPORT_BAD_LINE")).message).toMatch(/^line 1: /);
    });

    it("a record that refers to nobody: STORE_FAILED, and nothing imported", async () => {
      const lines = await exportFile();
      const orphan = [...lines, JSON.stringify({ kind: "friendship", a: "alice", b: "ghost", since: 1 })];
      expect((await importFails(orphan, "STORE_FAILED")).message).toMatch(/unknown user|refer/);
    });

    it("a newer format: IMPORT_BAD_VERSION", async () => {
      const lines = await exportFile();
      const newer = [
        JSON.stringify({ format: "hallway-export", version: 2, exportedAt: 1 }),
        ...lines.slice(1),
      ];
      expect((await importFails(newer, "IMPORT_BAD_VERSION")).message).toMatch(/version 2 is not supported/);
    });

    it("a target that has users: STORE_NOT_EMPTY, and the target is unchanged", async () => {
      const lines = await exportFile();
      const target = tempDir("occupied");
      await withStore(target, (store) => store.createUser({ name: "zed", passwordHash: "h", createdAt: 1 }));
      const file = join(tempDir("import"), "in.jsonl");
      await writeFile(file, `${lines.join("\n")}\n`);
      const into = hallway("import", ["server", "import", "--data", target, "--in", file]);
      expect(await exitOf(into, "import")).toBe(1);
      expect(into.stderr).toEqual([
        expect.stringMatching(/^hallway: cannot load into .*: it already has users$/),
      ]);
      expect((await withStore(target, (store) => store.listUsers())).map((u) => u.name)).toEqual(["zed"]);
    });

    it("a missing input file: FILE_NOT_FOUND", async () => {
      expect((await importFails(null, "FILE_NOT_FOUND")).message).toMatch(/missing\.jsonl \(ENOENT\)/);
    });
  });
});
