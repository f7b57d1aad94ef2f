/**
 * One account on two devices, a registry that dies under a sender, and lists too long for
 * one answer: real registry and client processes on loopback, real SQLite files.
 *
 * No test asserts a duration: waits are bounded by timeouts, which only catch hangs.
 */

import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { systemRuntime } from "../../src/net/system-runtime.js";
import { MAX_MESSAGE_BYTES } from "../../src/protocol/limits.js";
import { hashPassword } from "../../src/server/accounts.js";
import { type DumpRecord, SqliteStore } from "../../src/server/store/index.js";
import {
  hallway,
  type Json,
  killAll,
  type Proc,
  requireBuild,
  startClient,
  startRegistry,
  tempDir,
} from "./harness.js";
import { loggedIn, stopRawClients } from "./raw-client.js";

const PASSWORD = "correct horse battery staple";
const TEST_MS = 120_000;

beforeAll(() => requireBuild());
afterEach(async () => {
  await stopRawClients();
  await killAll();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function online(user: string, port: number, dir = tempDir(user), extra: string[] = []): Promise<Proc> {
  const p = startClient(user, port, dir, ["--register", ...extra]);
  await p.waitFor((e) => e.event === "ready", `${user} ready`);
  return p;
}

async function audit(dataDir: string, ...args: string[]): Promise<Json[]> {
  const p = hallway("audit", ["server", "audit", "--data", dataDir, "--json", ...args]);
  expect(await p.waitExit("audit")).toBe(0);
  return p.events;
}

describe("one account, two devices", () => {
  it(
    "a login on another device takes over once: the first stops with SESSION_REPLACED, and nobody fights back",
    async () => {
      const dataDir = tempDir("registry");
      const reg = await startRegistry(dataDir);
      const laptopDir = tempDir("alice-laptop");
      const desktop = await online("alice", reg.port);
      const bob = await online("bob", reg.port);

      // The laptop (another device key) logs in: it takes over.
      const laptop = startClient("alice", reg.port, laptopDir);
      await laptop.waitFor((e) => e.event === "ready", "the laptop ready");
      const replaced = await desktop.waitFor(
        (e) => e.event === "error" && e.code === "SESSION_REPLACED",
        "the desktop told",
      );
      expect(replaced.message).toBe("logged in elsewhere");
      expect(await desktop.waitExit("the desktop stops")).toBe(1);
      // Exactly one error line, and no reconnect attempt before it stopped.
      expect(desktop.events.filter((e) => e.event === "error")).toHaveLength(1);
      expect(desktop.events.filter((e) => e.event === "ready")).toHaveLength(1);

      // Nobody comes back for the account: the laptop keeps its one session (the desktop would
      // have retried within 4 s: its backoff starts at 250 ms).
      await sleep(4000);
      expect(laptop.events.filter((e) => e.event === "ready")).toHaveLength(1);
      expect(laptop.events.some((e) => e.event === "registry" && e.status === "lost")).toBe(false);

      // Messages reach the laptop, the one live session.
      bob.send({ cmd: "send", to: "alice", text: "to whichever alice is here" });
      const got = await laptop.waitFor((e) => e.event === "message", "the laptop gets it");
      expect(got.text).toBe("to whichever alice is here");

      // The same device logging in again replaces its own old session quietly (no audit entry),
      // and the old process stops instead of taking it back.
      const again = startClient("alice", reg.port, laptopDir);
      await again.waitFor((e) => e.event === "ready", "the laptop's second process ready");
      expect((await laptop.waitFor((e) => e.event === "error", "the first process told")).code).toBe(
        "SESSION_REPLACED",
      );
      expect(await laptop.waitExit("the first laptop process stops")).toBe(1);
      await sleep(2000);
      expect(again.events.filter((e) => e.event === "ready")).toHaveLength(1);

      const logins = await audit(dataDir, "--user", "alice", "--event", "login,replaced");
      // The old session ends (replaced) before the new one is recorded.
      expect(logins.map((e) => e.action)).toEqual(["login", "replaced", "login", "login"]);
      expect(logins[1]?.detail).toMatch(/^by a login from 127\.0\.0\.1:\d+$/);
    },
    TEST_MS,
  );

  it(
    "offline delivery and its acknowledgement stay with one device; line mode says 'logged in elsewhere'",
    async () => {
      const reg = await startRegistry(tempDir("registry"));
      const homeDir = tempDir("alice-home");
      const workDir = tempDir("alice-work");
      const home = await online("alice", reg.port, homeDir);
      home.send({ cmd: "quit" });
      await home.waitExit("alice quit");
      const bob = await online("bob", reg.port);
      for (let i = 0; i < 3; i++) bob.send({ cmd: "send", to: "alice", text: `stored ${i}` });
      await bob.waitForCount((e) => e.event === "sent" && e.via === "offline", 3, "three stored");

      // The work device logs in and gets all three, once; it acknowledges them.
      const work = startClient("alice", reg.port, workDir);
      await work.waitForCount((e) => e.event === "message" && e.via === "offline", 3, "the backlog at work");
      await bob.waitForCount((e) => e.event === "delivered", 3, "bob hears they were picked up");

      // The home device, in line mode, takes over: the backlog is gone (acknowledged), and the
      // work device says why it stopped in one line.
      const line = hallway(
        "alice-line",
        ["client", "--server", `127.0.0.1:${reg.port}`, "--user", "alice", "--data", homeDir],
        { HALLWAY_PASSWORD: PASSWORD },
      );
      await work.waitFor((e) => e.event === "error" && e.code === "SESSION_REPLACED", "work told");
      expect(await work.waitExit("work stops")).toBe(1);
      await sleep(2000);
      const lineOut = [...line.stderr, ...line.events.map((e) => String(e.line ?? ""))].join("\n");
      expect(lineOut).not.toMatch(/stored \d/);

      // And line mode shows the takeover as one line when it is its turn to be replaced.
      const third = startClient("alice", reg.port, workDir);
      await third.waitFor((e) => e.event === "ready", "work again");
      expect(await line.waitExit("line mode stops")).toBe(1);
      const shown = line.events.map((e) => String(e.line ?? "")).filter((l) => /logged in elsewhere/.test(l));
      expect(shown).toHaveLength(1);
    },
    TEST_MS,
  );
});

describe("registry down", () => {
  it(
    "a message to someone without a live session fails with REGISTRY_UNREACHABLE, stays in the outbox, and is stored later; a live session still delivers directly",
    async () => {
      const dataDir = tempDir("registry");
      const reg = await startRegistry(dataDir);
      const alice = await online("alice", reg.port);
      const bob = await online("bob", reg.port);
      const carolDir = tempDir("carol");
      const carol = await online("carol", reg.port, carolDir);
      carol.send({ cmd: "quit" });
      await carol.waitExit("carol quit");
      // A live direct session between alice and bob.
      alice.send({ cmd: "send", to: "bob", text: "before" });
      await bob.waitFor((e) => e.event === "message" && e.text === "before", "before");

      await reg.proc.kill("SIGKILL");
      alice.send({ cmd: "send", to: "carol", text: "while the registry is down" });
      const failed = await alice.waitFor(
        (e) => e.event === "error" && e.code === "REGISTRY_UNREACHABLE",
        "the send fails",
        10_000,
      );
      expect(typeof failed.id).toBe("string");
      expect(failed.message).toMatch(/kept and sent when it is back/);

      alice.send({ cmd: "send", to: "bob", text: "still direct" });
      const direct = await bob.waitFor((e) => e.event === "message" && e.text === "still direct", "direct");
      expect(direct.via).toBe("direct");

      // The registry comes back on its port: the kept message is stored, and carol gets it.
      await startRegistry(dataDir, reg.port);
      const stored = await alice.waitFor(
        (e) => e.event === "sent" && e.id === failed.id && e.via === "offline",
        "stored after the restart",
        30_000,
      );
      expect(stored.to).toBe("carol");
      const back = startClient("carol", reg.port, carolDir);
      const got = await back.waitFor((e) => e.event === "message", "carol gets it");
      expect(got).toMatchObject({ id: failed.id, text: "while the registry is down", via: "offline" });
    },
    TEST_MS,
  );
});

describe("pages", () => {
  it(
    "10,000 accounts and 10,000 pending friend requests come in pages, none over the message limit",
    async () => {
      const dataDir = tempDir("registry");
      const store = await SqliteStore.open(join(dataDir, "registry.sqlite"));
      const passwordHash = await hashPassword(PASSWORD, systemRuntime.random);
      const user = (name: string, displayName: string | null = null): DumpRecord => ({
        kind: "user",
        name,
        passwordHash,
        publicKey: null,
        displayName,
        statusText: null,
        email: null,
        phone: null,
        department: null,
        note: null,
        createdAt: 1,
        lastSeen: null,
      });
      // Display names as long as the wire allows, in four-byte characters: the worst case for
      // the size of an answer.
      const wide = "\u{1D4D0}".repeat(64);
      const names = Array.from({ length: 10_000 }, (_, i) => `user${String(i).padStart(5, "0")}`);
      async function* records(): AsyncIterable<DumpRecord> {
        yield user("alice");
        for (const n of names) yield user(n, wide);
        for (const [i, n] of names.entries())
          yield { kind: "friendRequest", from: n, to: "alice", at: 1000 + (i % 7) };
      }
      await store.load(records());
      await store.close();
      const reg = await startRegistry(dataDir);

      // One raw page at a time: the default page, then pages of the largest size.
      const raw = await loggedIn(reg.port, "alice", PASSWORD, { register: false });
      const first = await raw.request({ t: "users" });
      expect(first.t).toBe("ok");
      const firstData = first.data as { users: Json[]; next?: string };
      expect(firstData.users).toHaveLength(500);
      expect(firstData.next).toBe((firstData.users.at(-1) as Json).name);
      let seen = 0;
      let after: string | undefined;
      for (;;) {
        const page = await raw.request({ t: "users", limit: 1000, ...(after ? { after } : {}) });
        expect(Buffer.byteLength(JSON.stringify(page))).toBeLessThan(MAX_MESSAGE_BYTES);
        const data = page.data as { users: Json[]; next?: string };
        seen += data.users.length;
        if (data.next === undefined) break;
        after = data.next;
      }
      expect(seen).toBe(10_001);
      const friends = await raw.request({ t: "friends", limit: 1000 });
      const fd = friends.data as { incoming: Json[]; next?: { incoming?: Json } };
      expect(fd.incoming).toHaveLength(1000);
      expect(fd.next?.incoming).toMatchObject({ at: expect.any(Number), name: expect.any(String) });
      expect(Buffer.byteLength(JSON.stringify(friends))).toBeLessThan(MAX_MESSAGE_BYTES);
      const search = await raw.request({ t: "search", prefix: "user", limit: 500 });
      const sd = search.data as { users: Json[]; next?: { users?: string } };
      expect(Buffer.byteLength(JSON.stringify(search))).toBeLessThan(MAX_MESSAGE_BYTES);
      expect(sd.users.length).toBeGreaterThan(0);
      expect(sd.next?.users).toBe((sd.users.at(-1) as Json).name);
      await raw.stop();

      // The client pages through by itself: one event with everything, and it stays connected.
      const alice = startClient("alice", reg.port, tempDir("alice"));
      await alice.waitFor((e) => e.event === "ready", "alice ready");
      alice.send({ cmd: "users" });
      const users = await alice.waitFor((e) => e.event === "users", "users", 60_000);
      expect((users.users as Json[]).length).toBe(10_001);
      alice.send({ cmd: "friends" });
      const all = await alice.waitFor((e) => e.event === "friends", "friends", 60_000);
      const incoming = all.incoming as Json[];
      expect(incoming).toHaveLength(10_000);
      expect(new Set(incoming.map((r) => r.from)).size).toBe(10_000);
      expect(alice.events.some((e) => e.event === "registry" && e.status === "lost")).toBe(false);
    },
    TEST_MS,
  );
});
