/**
 * Acknowledge after hand-over (docs/architecture.md), with real processes: bob logs in to a
 * backlog of 500 stored messages (direct, then a group's) and is SIGKILLed at several points
 * of it, reading his output at once (a fast consumer) or not for a while (a slow one: his
 * writes to stdout wait on a full pipe). Across all of his runs every message is shown
 * exactly once: the client records what arrives in its local log before it acknowledges it,
 * and hands over again at the next start what it had not handed over. A live group stream
 * survives SIGKILLs of the registry and of the member alike.
 */

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Json,
  killAll,
  type Proc,
  requireBuild,
  startClient,
  startRegistry,
  tempDir,
} from "./harness.js";
import { login, logout, must } from "./social-helpers.js";

beforeAll(requireBuild);
afterAll(killAll);

const BACKLOG = 500;
/** Long enough that the backlog is several times what a pipe and a paused reader hold. */
const text = (i: number) => `m${String(i).padStart(4, "0")} ${"x".repeat(1000)}`;

/** Registry limits that let one sender store 500 messages at once. */
function fastLimits(): string {
  const path = join(tempDir("limits"), "limits.json");
  writeFileSync(
    path,
    JSON.stringify({
      commands: { message: { perSecond: 10_000, burst: 10_000 }, read: { perSecond: 10_000, burst: 10_000 } },
    }),
  );
  return path;
}

const isChat = (e: Json) => e.event === "message" && typeof e.text === "string" && e.text.startsWith("m");

/**
 * One life of bob: started, reading its output until `shown` counts `killAt` (the fast
 * consumer) or, with `pauseAt`, stops reading there for `pauseMs` while bob goes on
 * (the slow one), then SIGKILLed; resolves once every line it wrote was read. It joins
 * `lives` at its start.
 */
async function bobLife(
  port: number,
  dir: string,
  lives: Proc[],
  shown: () => number,
  at: { killAt?: number; pauseAt?: number; pauseMs?: number },
): Promise<void> {
  const bob = startClient("bob", port, dir);
  lives.push(bob);
  const stdout = bob.child.stdout as Readable;
  const target = at.killAt ?? at.pauseAt ?? 0;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (shown() >= target || !bob.running) break;
    if (Date.now() > deadline) {
      throw new Error(
        `bob showed ${shown()}, waiting for ${target}\nevents: ${JSON.stringify(bob.events.slice(-5)).slice(0, 2000)}\nstderr: ${bob.stderr.slice(-10).join("\n")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  if (at.pauseAt !== undefined) {
    stdout.pause();
    await new Promise((r) => setTimeout(r, at.pauseMs ?? 1000));
  }
  await bob.kill("SIGKILL");
  stdout.resume();
  await bob.outputDone;
}

/** Kill points: counts of messages shown so far, read at once (`killAt`) or paused (`pauseAt`). */
const POINTS = [
  { killAt: 1 },
  { killAt: 40 },
  { pauseAt: 60, pauseMs: 1500 },
  { killAt: 200 },
  { pauseAt: 230, pauseMs: 800 },
  { killAt: 320 },
  { pauseAt: 330, pauseMs: 300 },
  { killAt: 450 },
];

/** bob's lives through `POINTS`, then one to the end: every event matching `pred` they showed. */
async function livesOfBob(port: number, dir: string, pred: (e: Json) => boolean): Promise<Json[]> {
  const lives: Proc[] = [];
  const all = () => lives.flatMap((p) => p.events.filter(pred));
  for (const at of POINTS) await bobLife(port, dir, lives, () => all().length, at);
  lives.push(startClient("bob", port, dir));
  const distinct = () => new Set(all().map((e) => e.id)).size;
  for (let i = 0; distinct() < BACKLOG && i < 3000; i++) await new Promise((r) => setTimeout(r, 10));
  // Time for a duplicate to show up, had there been one.
  await new Promise((r) => setTimeout(r, 500));
  return all();
}

describe("acknowledge after hand-over", () => {
  it("a 500-message offline backlog: bob killed at 8 points, fast and slow reader, shows each once, in order", async () => {
    const reg = await startRegistry(tempDir("registry"), 0, ["--limits", fastLimits()]);
    const alice = await login("alice", reg.port);
    const bob = await login("bob", reg.port);
    await logout(bob);
    for (let i = 0; i < BACKLOG; i++) alice.proc.send({ cmd: "send", to: "bob", text: text(i) });
    const stored = await alice.proc.waitForCount(
      (e) => e.event === "sent" && e.via === "offline",
      BACKLOG,
      "stored",
      60_000,
    );

    const shown = await livesOfBob(reg.port, bob.dir, isChat);
    const ids = shown.map((e) => e.id as string);
    const unique = new Set(ids);
    expect(
      stored.map((e) => e.id as string).filter((id) => !unique.has(id)),
      "lost",
    ).toEqual([]);
    expect(ids.length - unique.size, "shown twice").toBe(0);
    expect(shown.map((e) => (e.text as string).slice(0, 5))).toEqual(
      Array.from({ length: BACKLOG }, (_, i) => text(i).slice(0, 5)),
    );
  }, 120_000);

  it("a 500-message group backlog: bob killed at 8 points, fast and slow reader, shows each seq once", async () => {
    const reg = await startRegistry(tempDir("registry"), 0, ["--limits", fastLimits()]);
    const alice = await login("alice", reg.port);
    const bob = await login("bob", reg.port);
    await must(alice, { cmd: "group.create", group: "hall" });
    await must(bob, { cmd: "group.join", group: "hall" });
    await alice.proc.waitFor((e) => e.event === "group.joinRequest" && e.user === "bob", "join request");
    await must(alice, { cmd: "group.approve", group: "hall", user: "bob" });
    await bob.proc.waitFor((e) => e.event === "group.joined" && e.user === "bob", "bob joined");
    await logout(bob);
    for (let i = 0; i < BACKLOG; i++) alice.proc.send({ cmd: "group.send", group: "hall", text: text(i) });
    await alice.proc.waitForCount((e) => e.event === "group.sent", BACKLOG, "stored", 60_000);

    const shown = await livesOfBob(
      reg.port,
      bob.dir,
      (e) => e.event === "groupMessage" && e.group === "hall",
    );
    const seqs = shown.map((e) => e.seq as number);
    expect(new Set(shown.map((e) => e.id)).size, "distinct ids").toBe(shown.length);
    expect(seqs, "each seq once, in order").toEqual(Array.from({ length: BACKLOG }, (_, i) => i + 1));
  }, 120_000);

  it("a live 400-message group stream: the registry and then bob SIGKILLed mid-stream, bob shows each seq once", async () => {
    const STREAM = 400;
    const regDir = tempDir("registry");
    let reg = await startRegistry(regDir, 0, ["--limits", fastLimits()]);
    const port = reg.port;
    const alice = await login("alice", port);
    const bob = await login("bob", port);
    await must(alice, { cmd: "group.create", group: "hall" });
    await must(bob, { cmd: "group.join", group: "hall" });
    await alice.proc.waitFor((e) => e.event === "group.joinRequest" && e.user === "bob", "join request");
    await must(alice, { cmd: "group.approve", group: "hall", user: "bob" });
    await bob.proc.waitFor((e) => e.event === "group.joined" && e.user === "bob", "bob joined");

    const lives: Proc[] = [bob.proc];
    const inHall = (e: Json) => e.event === "groupMessage" && e.group === "hall";
    const shown = () => lives.flatMap((p) => p.events.filter(inHall));
    const until = async (what: string, done: () => boolean) => {
      for (let i = 0; !done(); i++) {
        if (i > 6000) throw new Error(`waiting for ${what}: bob showed ${shown().length}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    for (let i = 0; i < STREAM; i++) alice.proc.send({ cmd: "group.send", group: "hall", text: text(i) });

    await until("100 shown", () => shown().length >= 100);
    await reg.proc.kill("SIGKILL");
    reg = await startRegistry(regDir, port, ["--limits", fastLimits()]);
    await until("200 shown", () => shown().length >= 200);
    await bob.proc.kill("SIGKILL");
    await bob.proc.outputDone;
    lives.push(startClient("bob", port, bob.dir));
    await alice.proc.waitForCount((e) => e.event === "group.sent", STREAM, "all sent", 60_000);
    await until("all shown", () => new Set(shown().map((e) => e.seq)).size >= STREAM);
    // Time for a duplicate to show up, had there been one.
    await new Promise((r) => setTimeout(r, 500));

    const seqs = shown().map((e) => e.seq as number);
    expect(seqs, "each seq once, in order").toEqual(Array.from({ length: STREAM }, (_, i) => i + 1));
    expect(new Set(shown().map((e) => e.id)).size, "distinct ids").toBe(STREAM);
  }, 120_000);
});
