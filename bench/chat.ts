/**
 * bench/chat: round trip and throughput of direct chat messages on loopback.
 *
 * A real registry and a real `hallway client --json` (bob) run as child processes; alice
 * runs in this process so that timing needs no extra hop. Round trip = `send` until
 * bob's receipt comes back (`delivered`). Throughput = a burst of messages, all in
 * flight at once, until the last receipt. The same measurements run against the
 * baseline: newline-delimited JSON over one TCP connection to a child process that
 * answers each line with a receipt.
 *
 * Prints one JSON document and writes it to bench/results/chat.json.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import type { PeerEvent } from "../src/peer/events.js";
import { createClient } from "../src/peer/index.js";
import { machine, publish, summarize } from "./stats.js";

const ROOT = join(import.meta.dirname, "../..");
const CLI = join(ROOT, "dist/cli.js");
const ROUND_TRIPS = Number(process.env.BENCH_ROUND_TRIPS ?? 2000);
const BURST = Number(process.env.BENCH_BURST ?? 10_000);
const TEXT = "The quick brown fox jumps over the lazy dog, twice over."; // 57 bytes: a typical short chat line
const PASSWORD = "bench correct horse battery";

const children: ChildProcess[] = [];
const dirs: string[] = [];

function tmp(name: string): string {
  const d = mkdtempSync(join(tmpdir(), `hallway-bench-${name}-`));
  dirs.push(d);
  return d;
}

function start(
  args: string[],
  env: Record<string, string> = {},
): { child: ChildProcess; lines: AsyncIterator<string> } {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "inherit"],
  });
  children.push(child);
  const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  return { child, lines: rl[Symbol.asyncIterator]() };
}

async function until(
  lines: AsyncIterator<string>,
  pred: (e: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  for (;;) {
    const next = await lines.next();
    if (next.done) throw new Error("child exited early");
    const e = JSON.parse(next.value) as Record<string, unknown>;
    if (pred(e)) return e;
  }
}

async function hallwayChat() {
  const registry = start([
    CLI,
    "server",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--no-mdns",
    "--json",
    "--data",
    tmp("reg"),
  ]);
  const { port } = (await until(registry.lines, (e) => e.event === "listening")) as { port: number };
  const server = `127.0.0.1:${port}`;
  const bob = start(
    [CLI, "client", "--json", "--server", server, "--user", "bob", "--register", "--data", tmp("bob")],
    {
      HALLWAY_PASSWORD: PASSWORD,
    },
  );
  await until(bob.lines, (e) => e.event === "ready");

  const waiting = new Map<string, () => void>();
  let bobOnline: () => void = () => {};
  const bobSeen = new Promise<void>((r) => {
    bobOnline = r;
  });
  const alice = createClient({
    dataDir: tmp("alice"),
    server: { host: "127.0.0.1", port },
    user: "alice",
    password: PASSWORD,
    register: true,
    directTimeoutMs: 30_000,
    onEvent: (e: PeerEvent) => {
      if (e.event === "delivered") waiting.get(e.id)?.();
      if (e.event === "presence" && e.user === "bob" && e.status === "online") bobOnline();
    },
  });
  await alice.start();
  await bobSeen;
  // Drain bob's stdout so the pipe never fills.
  void (async () => {
    for (;;) if ((await bob.lines.next()).done) return;
  })();

  const result = await measure(async (onReceipt) => {
    const id = await alice.send("bob", TEXT);
    waiting.set(id, () => {
      waiting.delete(id);
      onReceipt();
    });
  });
  await alice.stop();
  return result;
}

async function tcpBaseline() {
  const echo = start([join(ROOT, "dist-bench/bench/tcp-echo.js")]);
  const port = Number((await echo.lines.next()).value);
  const socket = connect(port, "127.0.0.1");
  socket.setNoDelay(true);
  await new Promise<void>((r) => socket.once("connect", () => r()));
  const waiting = new Map<string, () => void>();
  createInterface({ input: socket }).on("line", (line) => {
    const { id } = JSON.parse(line) as { id: string };
    waiting.get(id)?.();
  });
  let n = 0;
  const send = (onReceipt: () => void) => {
    const id = `m${n++}`;
    waiting.set(id, () => {
      waiting.delete(id);
      onReceipt();
    });
    socket.write(
      `${JSON.stringify({ t: "chat", msg: { id, from: "alice", to: "bob", text: TEXT, sentAt: Date.now() } })}\n`,
    );
  };
  const result = await measure(send);
  socket.destroy();
  return result;
}

/**
 * The same measurements for any transport: `send` queues one message and calls
 * `onReceipt` when its receipt is back. Warm-up, then one at a time (round trip), then
 * a burst with every message in flight at once.
 */
async function measure(send: (onReceipt: () => void) => void | Promise<void>) {
  const sendAndWait = () =>
    new Promise<void>((resolve, reject) => {
      Promise.resolve(send(resolve)).catch(reject);
    });
  for (let i = 0; i < 50; i++) await sendAndWait(); // warm-up: session, JIT
  const rtts: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const t0 = performance.now();
    await sendAndWait();
    rtts.push(performance.now() - t0);
  }
  const t0 = performance.now();
  let left = BURST;
  let allDone: () => void = () => {};
  const finished = new Promise<void>((r) => {
    allDone = r;
  });
  for (let i = 0; i < BURST; i++) await send(() => --left === 0 && allDone());
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  return {
    roundTrip: summarize(rtts),
    burst: { messages: BURST, seconds: round(seconds), messagesPerSecond: Math.round(BURST / seconds) },
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

async function main(): Promise<void> {
  try {
    const hallway = await hallwayChat();
    const tcp = await tcpBaseline();
    const result = {
      bench: "chat",
      at: new Date().toISOString(),
      machine: machine(),
      link: "loopback",
      messageBytes: TEXT.length,
      hallway,
      tcpBaseline: tcp,
    };
    publish("chat", result);
  } finally {
    for (const c of children) c.kill("SIGKILL");
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

await main();
