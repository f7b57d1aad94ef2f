/**
 * The SQLite adapter against real database files: the shared contract, then what only a file
 * on disk can show (crash durability in a separate process, unwritable and corrupt locations,
 * schema versions).
 */

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HallwayError } from "../../src/errors.js";
import { openStore, SqliteStore } from "../../src/server/store/index.js";
import { storeContract } from "./store-contract/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const builtAdapter = resolve(here, "../../dist/server/store/sqlite/sqlite-store.js");

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "hallway-store-"));
}

storeContract("SqliteStore", async () => {
  const dir = await tempDir();
  const path = join(dir, "data", "registry.sqlite");
  const opened: SqliteStore[] = [];
  const make = (): SqliteStore => {
    const store = new SqliteStore(path);
    opened.push(store);
    return store;
  };
  return {
    store: make(),
    reopen: async () => make(),
    another: async () => {
      const store = new SqliteStore(join(dir, "another", "registry.sqlite"));
      opened.push(store);
      return store;
    },
    cleanup: async () => {
      for (const store of opened) await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

async function codeOf(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HallwayError);
  const { code, message } = err as HallwayError;
  expect(message).not.toContain("\n");
  return { code, message };
}

describe("SqliteStore on disk", () => {
  let dir: string;

  beforeEach(async () => {
    dir = await tempDir();
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("creates missing data directories and a WAL-mode database with a recorded schema version", async () => {
    const path = join(dir, "a", "b", "registry.sqlite");
    const store = await openStore({ kind: "sqlite", path, now: () => 42 });
    await store.init();
    await store.close();

    const db = new Database(path, { readonly: true });
    try {
      // journal_mode is persistent in the file; synchronous and foreign_keys are per connection.
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(db.prepare("SELECT version, applied_at FROM schema_migrations").all()).toEqual([
        { version: 1, applied_at: 42 },
        { version: 2, applied_at: 42 },
        { version: 3, applied_at: 42 },
        { version: 4, applied_at: 42 },
        { version: 5, applied_at: 42 },
      ]);
      const tables = db
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .pluck()
        .all();
      // The search index's FTS5 tables keep their data in shadow tables named after them.
      expect(tables.filter((t) => !/_text_(config|content|data|docsize|idx)$/.test(t as string))).toEqual([
        "audit",
        "chat_groups",
        "friend_requests",
        "friendships",
        "group_members",
        "group_message_text",
        "group_messages",
        "join_requests",
        "message_text",
        "messages",
        "notices",
        "offline_queue",
        "schema_migrations",
        "users",
      ]);
    } finally {
      db.close();
    }

    // Opening again applies nothing twice.
    const again = await SqliteStore.open(path, { now: () => 99 });
    await again.close();
    const check = new Database(path, { readonly: true });
    expect(check.prepare("SELECT count(*) FROM schema_migrations").pluck().get()).toBe(5);
    check.close();
  });

  it("migrates a version-1 database to the latest version, keeping its data", async () => {
    const path = join(dir, "registry.sqlite");
    const setup = await SqliteStore.open(path);
    await setup.createUser({ name: "alice", passwordHash: "h1", createdAt: 1 });
    await setup.createUser({ name: "bob", passwordHash: "h2", createdAt: 2 });
    await setup.enqueueOffline({
      id: "m1",
      from: "alice",
      to: "bob",
      body: "x",
      sentAt: 3,
      deliveredAt: null,
    });
    await setup.appendAudit({ user: "alice", event: "login", at: 4, address: "10.0.0.1:1" });
    await setup.close();
    // Take the file back to what a version-1 build left: no social tables, no profile columns,
    // an audit table that names only users and four events, no search index.
    const db = new Database(path);
    db.exec(`
      DROP TRIGGER users_search_insert; DROP TRIGGER users_search_update;
      ALTER TABLE users DROP COLUMN birth_date; ALTER TABLE users DROP COLUMN gender;
      ALTER TABLE users DROP COLUMN country; ALTER TABLE users DROP COLUMN region;
      ALTER TABLE users DROP COLUMN school; ALTER TABLE users DROP COLUMN profession;
      ALTER TABLE users DROP COLUMN visibility; ALTER TABLE users DROP COLUMN profile_updated_at;
      ALTER TABLE users DROP COLUMN search_text; ALTER TABLE chat_groups DROP COLUMN description;
      DELETE FROM schema_migrations WHERE version = 5;
      DROP TRIGGER message_text_insert; DROP TRIGGER message_text_delete;
      DROP TABLE message_text; DROP TABLE group_message_text;
      DELETE FROM schema_migrations WHERE version = 4;
      DROP TABLE audit;
      CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_name TEXT NOT NULL COLLATE NOCASE REFERENCES users(name),
        event TEXT NOT NULL CHECK (event IN ('register', 'login', 'logout', 'timeout')),
        at INTEGER NOT NULL,
        address TEXT NOT NULL
      );
      CREATE INDEX audit_by_user ON audit(user_name, at);
      CREATE INDEX audit_by_time ON audit(at);
      INSERT INTO audit (user_name, event, at, address) VALUES ('alice', 'login', 4, '10.0.0.1:1');
      DELETE FROM schema_migrations WHERE version = 3;
      DROP TABLE notices; DROP TABLE group_messages; DROP TABLE join_requests;
      DROP TABLE group_members; DROP TABLE chat_groups; DROP TABLE friendships;
      DROP TABLE friend_requests; DROP INDEX users_by_display_key;
      ALTER TABLE users DROP COLUMN display_key; ALTER TABLE users DROP COLUMN note;
      ALTER TABLE users DROP COLUMN department; ALTER TABLE users DROP COLUMN phone;
      ALTER TABLE users DROP COLUMN email; ALTER TABLE users DROP COLUMN status_text;
      DELETE FROM schema_migrations WHERE version = 2;
      UPDATE users SET display_name = 'Alice Liddell' WHERE name = 'alice';
    `);
    db.close();

    const store = await SqliteStore.open(path, { now: () => 77 });
    try {
      expect(await store.getUser("alice")).toMatchObject({
        passwordHash: "h1",
        displayName: "Alice Liddell",
        email: null,
      });
      expect((await store.pendingOffline("bob", 10)).map((m) => m.id)).toEqual(["m1"]);
      expect((await store.searchMessages("bob", "X", 10)).map((m) => m.id)).toEqual(["m1"]);
      expect((await store.searchUsers("alice l", 10)).map((u) => u.name)).toEqual(["alice"]);
      // Schema 5 filled the search words of the users it found.
      expect((await store.searchUsers("liddell", 10)).map((u) => u.name)).toEqual(["alice"]);
      expect(await store.getUser("alice")).toMatchObject({ birthDate: null, profileUpdatedAt: null });
      await store.addFriendship("alice", "bob", 5);
      expect(await store.areFriends("bob", "alice")).toBe(true);
      await store.appendAudit({
        user: "ghost",
        event: "login_failed",
        at: 6,
        address: "x",
        detail: "unknown user",
      });
      expect(await store.listAudit({ limit: 10 })).toEqual([
        { user: "ghost", event: "login_failed", at: 6, address: "x", detail: "unknown user" },
        { user: "alice", event: "login", at: 4, address: "10.0.0.1:1" },
      ]);
    } finally {
      await store.close();
    }
    const check = new Database(path, { readonly: true });
    expect(check.prepare("SELECT version, applied_at FROM schema_migrations ORDER BY version").all()).toEqual(
      [
        { version: 1, applied_at: expect.any(Number) },
        { version: 2, applied_at: 77 },
        { version: 3, applied_at: 77 },
        { version: 4, applied_at: 77 },
        { version: 5, applied_at: 77 },
      ],
    );
    check.close();
  });

  it("enforces foreign keys on every connection it opens", async () => {
    const path = join(dir, "registry.sqlite");
    const store = await SqliteStore.open(path);
    await store.createUser({ name: "alice", passwordHash: "h", createdAt: 1 });
    const { code, message } = await codeOf(
      store.appendHistory({ id: "m1", from: "alice", to: "ghost", body: "x", sentAt: 1, deliveredAt: null }),
    );
    expect(code).toBe("STORE_FAILED");
    expect(message).toMatch(/unknown user/);
    await store.close();
  });

  it("reports a data directory under a regular file as DATA_DIR_UNWRITABLE, naming the path", async () => {
    // chmod does not stop root (tests may run as root); a file in the way stops everyone.
    const blocker = join(dir, "file.txt");
    await writeFile(blocker, "not a directory");
    const path = join(blocker, "sub", "registry.sqlite");
    const { code, message } = await codeOf(SqliteStore.open(path));
    expect(code).toBe("DATA_DIR_UNWRITABLE");
    expect(message).toContain(join(blocker, "sub"));
  });

  it("reports a database path that is a directory as DATA_DIR_UNWRITABLE", async () => {
    const path = join(dir, "registry.sqlite");
    await mkdir(path);
    const { code, message } = await codeOf(SqliteStore.open(path));
    expect(code).toBe("DATA_DIR_UNWRITABLE");
    expect(message).toContain(path);
  });

  it("reports a file that is not a database as STORE_CORRUPT, and leaves it alone", async () => {
    const path = join(dir, "registry.sqlite");
    await writeFile(path, Buffer.alloc(4096, 0x5a));
    const { code, message } = await codeOf(SqliteStore.open(path, { init: true }));
    expect(code).toBe("STORE_CORRUPT");
    expect(message).toContain(path);
    expect((await stat(path)).size).toBe(4096);
  });

  it("refuses an empty store file with STORE_CORRUPT unless it is a deliberately new store", async () => {
    const path = join(dir, "registry.sqlite");
    await writeFile(path, "");
    const { code, message } = await codeOf(SqliteStore.open(path));
    expect(code).toBe("STORE_CORRUPT");
    expect(message).toMatch(/--init/);
    const store = await SqliteStore.open(path, { init: true });
    await store.createUser({ name: "alice", passwordHash: "h", createdAt: 1 });
    await store.close();
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("creates a new store file readable by its owner only", async () => {
    const path = join(dir, "registry.sqlite");
    await (await SqliteStore.open(path)).close();
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("refuses a database whose schema is newer than this build", async () => {
    const path = join(dir, "registry.sqlite");
    await (await SqliteStore.open(path)).close();
    const db = new Database(path);
    db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)").run(99, 0);
    db.close();
    const { code, message } = await codeOf(SqliteStore.open(path));
    expect(code).toBe("STORE_FAILED");
    expect(message).toMatch(/schema version 99/);
  });

  it("rejects calls before init with STORE_FAILED", async () => {
    const store = new SqliteStore(join(dir, "registry.sqlite"));
    expect((await codeOf(store.listUsers())).code).toBe("STORE_FAILED");
    await store.close();
    expect((await codeOf(store.init())).code).toBe("STORE_FAILED");
  });

  it("keeps an offline message enqueued by a process killed with SIGKILL right after", async () => {
    if (!existsSync(builtAdapter)) {
      throw new Error(`${builtAdapter} is missing: run \`npm run build\` first (\`npm test\` does it)`);
    }
    const path = join(dir, "registry.sqlite");
    const setup = await SqliteStore.open(path);
    await setup.createUser({ name: "alice", passwordHash: "h", createdAt: 1 });
    await setup.createUser({ name: "bob", passwordHash: "h", createdAt: 2 });
    await setup.close();

    // The child holds the database open and never exits on its own: only SIGKILL ends it, so
    // nothing but the commit inside enqueueOffline can have put the message on disk.
    const script = `
      import { SqliteStore } from ${JSON.stringify(pathToFileURL(builtAdapter).href)};
      const store = await SqliteStore.open(process.argv[2]);
      await store.enqueueOffline({
        id: "m-crash", from: "alice", to: "bob", body: "survive", sentAt: 123, deliveredAt: null,
      });
      process.stdout.write("enqueued\\n");
      setInterval(() => {}, 1000);
    `;
    const scriptPath = join(dir, "enqueue-then-wait.mjs");
    await writeFile(scriptPath, script);

    const child = spawn(process.execPath, [scriptPath, path], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<NodeJS.Signals | null>((resolveExit) =>
      child.on("exit", (_code, signal) => resolveExit(signal)),
    );
    await new Promise<void>((resolveReady, rejectReady) => {
      child.stdout.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("enqueued")) resolveReady();
      });
      child.on("exit", (code) => rejectReady(new Error(`child exited early (${code}): ${stderr}`)));
    });
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");

    const store = await SqliteStore.open(path);
    try {
      expect(await store.pendingOffline("bob", 10)).toEqual([
        { id: "m-crash", from: "alice", to: "bob", body: "survive", sentAt: 123, deliveredAt: null },
      ]);
    } finally {
      await store.close();
    }
  });
});
