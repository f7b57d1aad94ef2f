/**
 * `history.search` against a real registry process on loopback with a real SQLite file:
 * only the asker's own conversations and groups are searched, newest first, and a request
 * outside the limits gets its error answer.
 */

import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { killAll, requireBuild, startRegistry, tempDir } from "./harness.js";
import { loggedIn, stopRawClients } from "./raw-client.js";

const PASSWORD = "correct horse battery staple";

beforeAll(() => requireBuild());
afterEach(async () => {
  await stopRawClients();
  await killAll();
});

const chat = (id: string, from: string, to: string, text: string, sentAt: number) => ({
  id,
  from,
  to,
  text,
  sentAt,
});

describe("history.search", () => {
  it("finds the asker's messages and group messages, newest first, and nobody else's", async () => {
    const reg = await startRegistry(tempDir("registry"));
    const alice = await loggedIn(reg.port, "alice", PASSWORD);
    const bob = await loggedIn(reg.port, "bob", PASSWORD);
    const carol = await loggedIn(reg.port, "carol", PASSWORD);
    const ok = async (p: Promise<Record<string, unknown>>): Promise<Record<string, unknown>> => {
      const a = await p;
      expect(a.t, JSON.stringify(a)).toBe("ok");
      return a;
    };
    await ok(
      alice.request({ t: "offline.send", msg: chat("aaaa0001", "alice", "bob", "Lunch at 12? 🍜", 1000) }),
    );
    await ok(
      bob.request({ t: "offline.send", msg: chat("bbbb0001", "bob", "carol", "lunch without alice", 2000) }),
    );
    await ok(bob.request({ t: "group.create", group: "ops" }));
    await ok(
      bob.request({
        t: "group.send",
        group: "ops",
        id: "gggg0001",
        text: "LUNCH in #ops, 你好",
        sentAt: 3000,
      }),
    );

    const found = await ok(alice.request({ t: "history.search", text: "lunch", limit: 10 }));
    expect(found.data).toEqual({
      hits: [{ id: "aaaa0001", from: "alice", with: "bob", text: "Lunch at 12? 🍜", sentAt: 1000 }],
    });
    const bobs = await ok(bob.request({ t: "history.search", text: "LUNCH", limit: 10 }));
    expect(bobs.data).toEqual({
      hits: [
        { id: "gggg0001", from: "bob", group: "ops", seq: 1, text: "LUNCH in #ops, 你好", sentAt: 3000 },
        { id: "bbbb0001", from: "bob", with: "carol", text: "lunch without alice", sentAt: 2000 },
        { id: "aaaa0001", from: "alice", with: "alice", text: "Lunch at 12? 🍜", sentAt: 1000 },
      ],
    });
    const cjk = await ok(bob.request({ t: "history.search", text: "你好", limit: 1 }));
    expect((cjk.data as { hits: unknown[] }).hits).toHaveLength(1);

    const tooMany = await carol.request({ t: "history.search", text: "lunch", limit: 51 });
    expect(tooMany).toMatchObject({ t: "err", code: "PROTO_BAD_MESSAGE" });
    const empty = await carol.request({ t: "history.search", text: "", limit: 5 });
    expect(empty).toMatchObject({ t: "err", code: "PROTO_BAD_MESSAGE" });
  }, 60_000);
});
