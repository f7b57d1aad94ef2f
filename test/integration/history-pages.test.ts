/**
 * Every history answer fits: 500 direct messages of 16 KiB (about 8 MiB, thirty times the
 * message limit) and a group's 40 come back in full, oldest first, through pages the registry
 * cuts by bytes and continues with a cursor.
 */

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killAll, requireBuild, startRegistry, tempDir } from "./harness.js";
import { login, logout, must } from "./social-helpers.js";

beforeAll(requireBuild);
afterAll(killAll);

/** Exactly the largest text a message may carry (MAX_TEXT_BYTES), numbered at the start. */
const big = (i: number) => {
  const head = `h${String(i).padStart(4, "0")} `;
  return head + "x".repeat(16 * 1024 - head.length);
};

describe("history pages", () => {
  it("500 messages of 16 KiB come back in full, paged by bytes", async () => {
    const limits = join(tempDir("limits"), "limits.json");
    writeFileSync(
      limits,
      JSON.stringify({
        commands: {
          message: { perSecond: 10_000, burst: 10_000 },
          read: { perSecond: 10_000, burst: 10_000 },
        },
      }),
    );
    const reg = await startRegistry(tempDir("registry"), 0, ["--limits", limits]);
    const alice = await login("alice", reg.port);
    await logout(await login("bob", reg.port));
    for (let i = 0; i < 500; i++) alice.proc.send({ cmd: "send", to: "bob", text: big(i) });
    await alice.proc.waitForCount((e) => e.event === "sent" && e.via === "offline", 500, "stored", 90_000);

    const hist = await must(alice, { cmd: "history", with: "bob", limit: 500 }, 60_000);
    const messages = hist.messages as Array<{ text: string; sentAt: number; id: string }>;
    expect(messages.length).toBe(500);
    expect(new Set(messages.map((m) => m.text.slice(0, 5)))).toEqual(
      new Set(Array.from({ length: 500 }, (_, i) => big(i).slice(0, 5))),
    );
    expect(messages.every((m) => m.text.length === 16 * 1024)).toBe(true);
    // Oldest first across the pages: the store's order of (sentAt, id).
    const key = (m: { sentAt: number; id: string }) => `${String(m.sentAt).padStart(16, "0")}:${m.id}`;
    expect(messages.map(key)).toEqual(messages.map(key).sort());

    // A page before the 101st: the cursor continues the history from there.
    const at = messages[100];
    const older = await must(alice, {
      cmd: "history",
      with: "bob",
      limit: 20,
      before: { sentAt: at?.sentAt, id: at?.id },
    });
    expect((older.messages as Array<{ id: string }>).map((m) => m.id)).toEqual(
      messages.slice(80, 100).map((m) => m.id),
    );

    await must(alice, { cmd: "group.create", group: "big" });
    for (let i = 0; i < 40; i++) alice.proc.send({ cmd: "group.send", group: "big", text: big(i) });
    await alice.proc.waitForCount((e) => e.event === "group.sent", 40, "group messages stored", 60_000);
    const group = await must(alice, { cmd: "group.history", group: "big", limit: 500 }, 60_000);
    expect((group.messages as Array<{ seq: number }>).map((m) => m.seq)).toEqual(
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
  }, 180_000);
});
