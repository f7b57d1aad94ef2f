/**
 * Group commit in the registry, with a real registry process and a real SQLite file: a client
 * pipelines a burst of 10,000 history entries and offline messages (100 `history.batch`
 * requests of 90 entries and 1,000 `offline.send`, all in flight at once), the registry is
 * killed with SIGKILL in the middle of it, and every entry it acknowledged is on disk.
 */

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Json, killAll, requireBuild, startRegistry, tempDir } from "./harness.js";
import { loggedIn, stopRawClients } from "./raw-client.js";

const PASSWORD = "correct horse battery staple";

beforeAll(requireBuild);
afterAll(async () => {
  await stopRawClients();
  await killAll();
});

describe("group commit in the registry", () => {
  it("loses nothing it acknowledged when killed with SIGKILL during a burst of 10,000", async () => {
    const dataDir = tempDir("burst-registry");
    // The burst is one client's: its request classes may go as fast as the test sends.
    const limits = join(tempDir("limits"), "limits.json");
    writeFileSync(
      limits,
      JSON.stringify({
        commands: {
          history: { perSecond: 10_000, burst: 10_000 },
          message: { perSecond: 10_000, burst: 10_000 },
        },
      }),
    );
    const reg = await startRegistry(dataDir, 0, ["--limits", limits]);
    const bob = await loggedIn(reg.port, "bob", PASSWORD);
    await bob.stop(); // offline: the messages to him are queued
    const alice = await loggedIn(reg.port, "alice", PASSWORD);

    const acked = new Set<string>();
    let answered = 0;
    let killedAt = -1;
    const killed = new Promise<void>((resolve, reject) => {
      const onAnswer = (ids: string[], answer: Json) => {
        answered++;
        if (answer.t !== "ok" && killedAt < 0) reject(new Error(`refused: ${JSON.stringify(answer)}`));
        if (answer.t === "ok") for (const id of ids) acked.add(id);
        if (killedAt < 0 && acked.size >= 3000) {
          killedAt = acked.size;
          void reg.proc.kill("SIGKILL").then(() => resolve());
        }
      };
      const entry = (i: number) => ({
        id: `history-${i}`,
        from: "alice",
        to: "bob",
        text: `burst ${i}`,
        sentAt: i,
        deliveredAt: i + 1,
      });
      for (let b = 0; b < 100; b++) {
        const msgs = Array.from({ length: 90 }, (_, k) => entry(b * 90 + k));
        alice.request({ t: "history.batch", msgs }, 60_000).then(
          (a) =>
            onAnswer(
              msgs.map((m) => m.id),
              a,
            ),
          () => {},
        );
        for (let k = 0; k < 10; k++) {
          const id = `offline-${b * 10 + k}`;
          const msg = { id, from: "alice", to: "bob", text: `stored ${id}`, sentAt: b };
          alice.request({ t: "offline.send", msg }, 60_000).then(
            (a) => onAnswer([id], a),
            () => {},
          );
        }
      }
    });
    await killed;
    expect(killedAt).toBeGreaterThanOrEqual(3000);

    const db = new Database(join(dataDir, "registry.sqlite"), { readonly: true });
    try {
      const stored = new Set(db.prepare("SELECT id FROM messages").pluck().all() as string[]);
      const queued = new Set(db.prepare("SELECT message_id FROM offline_queue").pluck().all() as string[]);
      const lost = [...acked].filter((id) => !stored.has(id));
      expect(lost, `${lost.length} of ${acked.size} acknowledged entries lost`).toEqual([]);
      const unqueued = [...acked].filter((id) => id.startsWith("offline-") && !queued.has(id));
      expect(unqueued).toEqual([]);
      expect(answered).toBeGreaterThan(0);
    } finally {
      db.close();
    }
  });
});
