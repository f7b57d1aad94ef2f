/**
 * Group commit in the SQLite adapter, against real database files: the appends of one turn
 * share one transaction, an append's own failure fails it alone, a batch that cannot commit
 * (SQLITE_BUSY here; a full disk in test/integration/store-disk-full.test.ts) fails every
 * append in it with STORE_FAILED and a retry-after, and a process killed with SIGKILL in the
 * middle of a batch, under a burst of 10,000 appends, loses nothing it acknowledged.
 */

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HallwayError } from "../../src/errors.js";
import { BATCH_RETRY_MS } from "../../src/server/store/group-commit.js";
import { SqliteStore } from "../../src/server/store/index.js";
import type { StoredMessage } from "../../src/server/store/store.js";

const here = dirname(fileURLToPath(import.meta.url));
const builtAdapter = resolve(here, "../../dist/server/store/sqlite/sqlite-store.js");

const message = (id: string, to = "bob"): StoredMessage => ({
  id,
  from: "alice",
  to,
  body: `text of ${id}`,
  sentAt: 1,
  deliveredAt: 2,
});

describe("SqliteStore group commit", () => {
  let dir: string;
  let path: string;
  let store: SqliteStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "hallway-group-commit-"));
    path = join(dir, "registry.sqlite");
    store = await SqliteStore.open(path, { busyTimeoutMs: 20 });
    await store.createUser({ name: "alice", passwordHash: "h", createdAt: 1 });
    await store.createUser({ name: "bob", passwordHash: "h", createdAt: 1 });
  });

  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const stored = async () => (await store.history("alice", "bob", { limit: 500 })).map((m) => m.id);

  it("commits the appends of one turn in one transaction, in call order", async () => {
    const before = { ...store.appends.stats };
    const resolved: string[] = [];
    const ids = Array.from({ length: 200 }, (_, i) => `m${String(i).padStart(3, "0")}`);
    await Promise.all([
      ...ids.map((id) => store.appendHistory(message(id)).then(() => resolved.push(id))),
      store.enqueueOffline({ ...message("q1"), deliveredAt: null }).then(() => resolved.push("q1")),
      store
        .appendAudit({ user: "alice", event: "login", at: 3, address: "a" })
        .then(() => resolved.push("au")),
    ]);
    expect(store.appends.stats.batches - before.batches).toBe(1);
    expect(store.appends.stats.items - before.items).toBe(202);
    expect(resolved).toEqual([...ids, "q1", "au"]);
    expect((await stored()).filter((id) => id !== "q1")).toEqual(ids);
    expect((await store.pendingOffline("bob", 10)).map((m) => m.id)).toEqual(["q1"]);
  });

  it("resolves an append only once it is committed: nothing is visible before", async () => {
    const pending = store.appendHistory(message("m1"));
    expect(await stored()).toEqual([]);
    await pending;
    expect(await stored()).toEqual(["m1"]);
  });

  it("fails only the append whose constraint fails; the others of its batch commit", async () => {
    const [first, unknown, last] = await Promise.allSettled([
      store.appendHistory(message("m1")),
      store.appendHistory(message("m2", "nobody")),
      store.enqueueOffline({ ...message("m3"), deliveredAt: null }),
    ]);
    expect(first.status).toBe("fulfilled");
    expect(last.status).toBe("fulfilled");
    expect(unknown.status).toBe("rejected");
    const e = (unknown as PromiseRejectedResult).reason as HallwayError;
    expect(e.code).toBe("STORE_FAILED");
    // Final, not "try again": the request itself is wrong.
    expect(e.retryAfterMs).toBeUndefined();
    expect(await stored()).toEqual(["m1", "m3"]);
  });

  it("commits the waiting appends before any other write, so writes take effect in call order", async () => {
    const appended = store.appendHistory({ ...message("m1"), deliveredAt: null });
    // Not awaited: markDelivered is called after the append and must find its row.
    await store.markDelivered("m1", 77);
    await appended;
    expect((await store.history("alice", "bob", { limit: 5 }))[0]?.deliveredAt).toBe(77);
  });

  it("fails every append of a batch that meets SQLITE_BUSY with STORE_FAILED and a retry-after, storing none", async () => {
    const other = new Database(path);
    other.exec("BEGIN IMMEDIATE"); // another writer holds the lock past the busy timeout
    const batch = ["m1", "m2", "m3"].map((id) => store.appendHistory(message(id)));
    const errors = await Promise.all(
      batch.map((p) =>
        p.then(
          () => undefined,
          (e: unknown) => e,
        ),
      ),
    );
    for (const e of errors) {
      expect(e).toBeInstanceOf(HallwayError);
      expect((e as HallwayError).code).toBe("STORE_FAILED");
      expect((e as HallwayError).retryAfterMs).toBe(BATCH_RETRY_MS);
      expect((e as HallwayError).message).toMatch(/commit of 3 appends failed: .*SQLITE_BUSY/);
    }
    expect(store.appends.stats.failedBatches).toBe(1);
    other.exec("ROLLBACK");
    other.close();
    expect(await stored()).toEqual([]);
    // Sent again, as a client does after the retry-after: all of them land, once.
    await Promise.all(["m1", "m2", "m3"].map((id) => store.appendHistory(message(id))));
    expect(await stored()).toEqual(["m1", "m2", "m3"]);
  });
});

describe("SqliteStore group commit and SIGKILL", () => {
  it("loses nothing it acknowledged when killed in the middle of a batch, under a burst of 10,000", async () => {
    if (!existsSync(builtAdapter)) {
      throw new Error(`${builtAdapter} is missing: run \`npm run build\` first (\`npm test\` does it)`);
    }
    const dir = await mkdtemp(join(tmpdir(), "hallway-group-kill-"));
    try {
      const path = join(dir, "registry.sqlite");
      const setup = await SqliteStore.open(path);
      await setup.createUser({ name: "alice", passwordHash: "h", createdAt: 1 });
      await setup.createUser({ name: "bob", passwordHash: "h", createdAt: 1 });
      await setup.close();

      // The child appends 10,000 messages, 250 per turn, and prints each id once its append
      // has resolved (stdout to a pipe is synchronous on Linux). Once 3,000 are acknowledged,
      // the next batch's transaction kills the process from inside, between BEGIN and COMMIT:
      // the batch is written to the WAL but never committed.
      const script = `
        import { SqliteStore } from ${JSON.stringify(pathToFileURL(builtAdapter).href)};
        const store = await SqliteStore.open(process.argv[2]);
        let acked = 0;
        let next = 0;
        const fire = () => {
          for (let i = 0; i < 250 && next < 10000; i++, next++) {
            const id = "m" + next;
            store.appendHistory({ id, from: "alice", to: "bob", body: "burst " + id, sentAt: next, deliveredAt: 1 })
              .then(() => { acked++; process.stdout.write(id + "\\n"); });
          }
          if (acked >= 3000) {
            store.appends.add({ op: "kill", apply: () => process.kill(process.pid, "SIGKILL") });
          }
          if (next < 10000) setImmediate(fire);
        };
        fire();
        setInterval(() => {}, 1000);
      `;
      const scriptPath = join(dir, "burst-then-die.mjs");
      await writeFile(scriptPath, script);
      const child = spawn(process.execPath, [scriptPath, path], { stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const acked: string[] = [];
      createInterface({ input: child.stdout }).on("line", (id) => acked.push(id));
      const signal = await new Promise<NodeJS.Signals | null>((done) =>
        child.on("close", (_code, sig) => done(sig)),
      );
      expect(signal, stderr).toBe("SIGKILL");
      expect(acked.length).toBeGreaterThanOrEqual(3000);
      expect(acked.length).toBeLessThan(10_000);

      const store = await SqliteStore.open(path);
      try {
        const db = new Database(path, { readonly: true });
        const ids = new Set(db.prepare("SELECT id FROM messages").pluck().all() as string[]);
        db.close();
        const lost = acked.filter((id) => !ids.has(id));
        expect(lost).toEqual([]);
        // The batch that was being written when the process died is not there, whole.
        expect(ids.size).toBe(acked.length);
      } finally {
        await store.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
