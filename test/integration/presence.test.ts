/**
 * Presence and the fallback path with real processes: a client that stops answering is
 * timed out after 3 missed heartbeats (presence push + audit entry), and a message sent to
 * it meanwhile falls back to the registry within a bounded time and arrives exactly once.
 */

import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Json, killAll, requireBuild, startClient, startRegistry, tempDir } from "./harness.js";

beforeAll(requireBuild);
afterAll(killAll);

function auditOf(regDir: string, user: string): Array<{ event: string; address: string }> {
  // The registry keeps its SQLite file in WAL mode, so a second reader is safe.
  const db = new Database(join(regDir, "registry.sqlite"), { readonly: true, fileMustExist: true });
  try {
    const cols = db.prepare("PRAGMA table_info(audit)").all() as Array<{ name: string }>;
    const userCol = cols.some((c) => c.name === "user_name") ? "user_name" : "user";
    return db
      .prepare(`SELECT event, address FROM audit WHERE ${userCol} = ? ORDER BY id`)
      .all(user) as Array<{
      event: string;
      address: string;
    }>;
  } finally {
    db.close();
  }
}

describe("presence and fallback", () => {
  it("times out a silent client, audits it, and stores a message sent to it meanwhile", async () => {
    const regDir = tempDir("registry");
    const reg = await startRegistry(regDir);
    const alice = startClient("alice", reg.port, tempDir("alice"), [
      "--register",
      "--direct-timeout-ms",
      "1000",
    ]);
    await alice.waitFor((e) => e.event === "ready", "alice ready");
    const bob = startClient("bob", reg.port, tempDir("bob"), ["--register"]);
    await bob.waitFor((e) => e.event === "ready", "bob ready");
    await alice.waitFor(
      (e) => e.event === "presence" && e.user === "bob" && e.status === "online",
      "bob online",
    );

    // bob freezes: no heartbeats, no answers, but the registry still thinks he is online.
    bob.child.kill("SIGSTOP");
    alice.send({ cmd: "send", to: "bob", text: "are you there?" });
    // No receipt within --direct-timeout-ms: the registry stores the message instead.
    const stored = await alice.waitFor(
      (e) => e.event === "sent" && e.via === "offline" && e.to === "bob",
      "fallback to offline storage",
      15_000,
    );

    // 3 missed heartbeats of 1 s: bob is offline for everyone, and the audit log says why.
    await alice.waitFor(
      (e) => e.event === "presence" && e.user === "bob" && e.status === "offline",
      "bob timed out",
    );
    const events = auditOf(regDir, "bob").map((a) => a.event);
    expect(events).toEqual(["register", "login", "timeout"]);
    expect(auditOf(regDir, "bob").every((a) => /^127\.0\.0\.1:\d+$/.test(a.address))).toBe(true);

    // bob thaws, reconnects by himself and gets the message once, whichever path wins.
    bob.child.kill("SIGCONT");
    const isIt = (e: Json) => e.event === "message" && e.id === stored.id;
    await bob.waitFor(isIt, "the message", 30_000);
    await alice.waitFor((e) => e.event === "delivered" && e.id === stored.id, "receipt", 30_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(bob.events.filter(isIt)).toHaveLength(1);
  });

  it("records login and logout with the client's address", async () => {
    const regDir = tempDir("registry");
    const reg = await startRegistry(regDir);
    const carol = startClient("carol", reg.port, tempDir("carol"), ["--register"]);
    await carol.waitFor((e) => e.event === "ready", "carol ready");
    carol.send({ cmd: "quit" });
    expect(await carol.exited).toBe(0);
    const audit = auditOf(regDir, "carol");
    expect(audit.map((a) => a.event)).toEqual(["register", "login", "logout"]);
    expect(audit[1]?.address).toMatch(/^127\.0\.0\.1:\d+$/);
  });
});
