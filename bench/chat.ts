/**
 * bench/chat: round trip and throughput of direct chat messages on loopback, what they cost
 * the registry, and group fan-out.
 *
 * A real registry and a real `hallway client --json` (bob) run as child processes; alice
 * runs in this process so that timing needs no extra hop. Round trip = `send` until
 * bob's receipt comes back (`delivered`). Throughput = a burst of messages, all in
 * flight at once, until the last receipt. The same measurements run against the
 * baseline: newline-delimited JSON over one TCP connection to a child process that
 * answers each line with a receipt.
 *
 * CPU per message of the burst: alice (this process) and bob until the last receipt; the
 * registry until the history alice reports (`history.batch`, after each receipt) is all in
 * its database, read from the registry's SQLite file.
 *
 * Group fan-out: 50 more clients (in this process) join alice's group; one message at a time
 * is timed from `group.send` until the last member has it (members reached per second), then
 * a burst of group messages all in flight at once (deliveries per second).
 *
 * The machine's load average goes with the results (the benchmark machine is shared).
 * Prints one JSON document and writes it to bench/results/chat.json.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import Database from "better-sqlite3";
import type { PeerClient } from "../src/peer/client.js";
import type { PeerEvent } from "../src/peer/events.js";
import { createClient } from "../src/peer/index.js";
import { adopt, cleanUp, tmp } from "./scratch.js";
import { loadAverage, machine, processCpuMs, publish, summarize } from "./stats.js";

const ROOT = join(import.meta.dirname, "../..");
const CLI = join(ROOT, "dist/cli.js");
const ROUND_TRIPS = Number(process.env.BENCH_ROUND_TRIPS ?? 2000);
const BURST = Number(process.env.BENCH_BURST ?? 10_000);
const GROUP_MEMBERS = Number(process.env.BENCH_GROUP_MEMBERS ?? 50);
const GROUP_SINGLES = Number(process.env.BENCH_GROUP_SINGLES ?? 20);
const GROUP_BURST = Number(process.env.BENCH_GROUP_BURST ?? 100);
const WARM_UP = 50;
const TEXT = "The quick brown fox jumps over the lazy dog, twice over."; // 57 bytes: a typical short chat line
const PASSWORD = "bench correct horse battery";

/** `BENCH_REGISTRY_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR"` profiles the registry. */
const REGISTRY_NODE_ARGS = (process.env.BENCH_REGISTRY_NODE_ARGS ?? "").split(" ").filter(Boolean);

function start(
  args: string[],
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): { child: ChildProcess; lines: AsyncIterator<string> } {
  const child = spawn(process.execPath, [...nodeArgs, ...args], {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "inherit"],
  });
  adopt(child);
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
  const regDir = tmp("reg");
  const registry = start(
    [CLI, "server", "--host", "127.0.0.1", "--port", "0", "--no-mdns", "--json", "--data", regDir],
    {},
    REGISTRY_NODE_ARGS,
  );
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

  const registryPid = registry.child.pid as number;
  const bobPid = bob.child.pid as number;
  const db = new Database(join(regDir, "registry.sqlite"), { readonly: true });
  const storedMessages = () => db.prepare("SELECT count(*) FROM messages").pluck().get() as number;
  let cpu = { registry: 0, bob: 0, alice: process.cpuUsage() };
  const result = await measure(
    async (onReceipt) => {
      const id = await alice.send("bob", TEXT);
      waiting.set(id, () => {
        waiting.delete(id);
        onReceipt();
      });
    },
    {
      start: () => {
        cpu = { registry: processCpuMs(registryPid), bob: processCpuMs(bobPid), alice: process.cpuUsage() };
      },
      end: async () => {
        const aliceUs = process.cpuUsage(cpu.alice);
        const bobMs = processCpuMs(bobPid) - cpu.bob;
        // The registry's part ends when the history of every message is committed, or when
        // no more arrives for 3 s (the client keeps at most 10,000 entries waiting to be
        // reported: the rest of a longer backlog is dropped, and counted below).
        const t0 = performance.now();
        const want = WARM_UP + ROUND_TRIPS + BURST;
        let stored = storedMessages();
        let registryMs = processCpuMs(registryPid) - cpu.registry;
        let lastGrowth = performance.now();
        while (stored < want && performance.now() - lastGrowth < 3000) {
          await sleep(20);
          const now = storedMessages();
          if (now > stored) {
            stored = now;
            lastGrowth = performance.now();
            registryMs = processCpuMs(registryPid) - cpu.registry;
          }
        }
        return {
          cpuPerMessageUs: {
            alice: Math.round((aliceUs.user + aliceUs.system) / BURST),
            bob: Math.round((bobMs * 1000) / BURST),
            registry: Math.round((registryMs * 1000) / BURST),
          },
          historyStored: stored,
          historyNotReported: want - stored,
          historyCaughtUpMsAfterBurst: Math.round(lastGrowth - t0),
        };
      },
    },
  );
  db.close();
  const group = await groupFanOut(alice, port);
  await alice.stop();
  if (REGISTRY_NODE_ARGS.length > 0) {
    // A profile is written when the process exits by itself.
    registry.child.kill("SIGINT");
    await new Promise((r) => registry.child.once("exit", r));
  }
  return { ...result, groupFanOut: group };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `GROUP_MEMBERS` clients join a group of alice's. Each member counts the group messages it
 * has by text; a waiter resolves once all of them have one.
 */
async function groupFanOut(alice: PeerClient, port: number) {
  const reached = new Map<string, number>();
  const whenAll = new Map<string, () => void>();
  const onGroupMessage = (text: string) => {
    const n = (reached.get(text) ?? 0) + 1;
    reached.set(text, n);
    if (n === GROUP_MEMBERS) whenAll.get(text)?.();
  };
  const allHave = (text: string) =>
    new Promise<void>((resolve) => {
      if ((reached.get(text) ?? 0) >= GROUP_MEMBERS) resolve();
      else whenAll.set(text, resolve);
    });
  const members: PeerClient[] = [];
  for (let i = 0; i < GROUP_MEMBERS; i++) {
    members.push(
      createClient({
        dataDir: tmp(`m${i}`),
        server: { host: "127.0.0.1", port },
        user: `member${i}`,
        password: PASSWORD,
        register: true,
        onEvent: (e: PeerEvent) => {
          if (e.event === "groupMessage") onGroupMessage(e.text);
        },
      }),
    );
  }
  // scrypt runs two at a time at the registry and queues four per host: a few at once.
  for (let i = 0; i < members.length; i += 4)
    await Promise.all(members.slice(i, i + 4).map((m) => m.start()));
  await alice.social.groupCreate("everyone");
  for (const m of members) await m.social.groupJoin("everyone");
  for (const m of members) await alice.social.groupAnswer("group.approve", "everyone", m.user);

  const send = async (text: string) => {
    const all = allHave(text);
    await alice.social.groupSend("everyone", text);
    await all;
  };
  for (let i = 0; i < 5; i++) await send(`warm-up ${i}`);
  const fanOutMs: number[] = [];
  for (let i = 0; i < GROUP_SINGLES; i++) {
    const t0 = performance.now();
    await send(`single ${i}`);
    fanOutMs.push(performance.now() - t0);
  }
  const t0 = performance.now();
  await Promise.all(Array.from({ length: GROUP_BURST }, (_, i) => send(`burst ${i}`)));
  const burstSeconds = (performance.now() - t0) / 1000;
  for (const m of members) await m.stop();
  const single = summarize(fanOutMs);
  return {
    members: GROUP_MEMBERS,
    oneMessage: { ...single, membersReachedPerSecond: Math.round(GROUP_MEMBERS / (single.p50Ms / 1000)) },
    burst: {
      messages: GROUP_BURST,
      seconds: round(burstSeconds),
      deliveriesPerSecond: Math.round((GROUP_BURST * GROUP_MEMBERS) / burstSeconds),
    },
  };
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
async function measure(
  send: (onReceipt: () => void) => void | Promise<void>,
  burstHooks?: { start(): void; end(): Promise<Record<string, unknown>> },
) {
  const sendAndWait = () =>
    new Promise<void>((resolve, reject) => {
      Promise.resolve(send(resolve)).catch(reject);
    });
  for (let i = 0; i < WARM_UP; i++) await sendAndWait(); // warm-up: session, JIT
  const rtts: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const t0 = performance.now();
    await sendAndWait();
    rtts.push(performance.now() - t0);
  }
  burstHooks?.start();
  const t0 = performance.now();
  let left = BURST;
  let allDone: () => void = () => {};
  const finished = new Promise<void>((r) => {
    allDone = r;
  });
  for (let i = 0; i < BURST; i++) await send(() => --left === 0 && allDone());
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  const costs = (await burstHooks?.end()) ?? {};
  return {
    roundTrip: summarize(rtts),
    burst: {
      messages: BURST,
      seconds: round(seconds),
      messagesPerSecond: Math.round(BURST / seconds),
      ...costs,
    },
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
      loadAverageAtEnd: loadAverage(),
    };
    publish("chat", result);
  } finally {
    cleanUp();
  }
}

await main();
