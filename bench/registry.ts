/**
 * bench/registry: the whole office online. For each N (default 1,000, 5,000, 10,000), a real
 * registry process serves N simulated clients from one load process (`registry-load.ts`: the
 * project's own UdpHost over the sans-IO SessionHost, a Noise session per client, 32 sockets
 * on 32 loopback addresses). Every client logs in and sends a heartbeat every 10 s.
 *
 * Set-up: the accounts are imported (`hallway server import`) with a cheap scrypt cost
 * (2^4), so that logins measure the registry and not scrypt (a real login pays one scrypt at
 * 2^15, about 100 ms of CPU, two at a time). The registry runs `--policy friends`: user 0 is
 * friends with everyone else, so their presence has N - 1 watchers, and every other login is
 * pushed to user 0 alone. (Under `--policy open` every login is pushed to everyone online and
 * the new client gets everyone's presence: a login storm is O(N^2) pushes; see
 * docs/benchmarks.md.)
 *
 * Reported per N:
 *  - the registry's CPU share (of one core) and RSS while the N clients heartbeat (a window
 *    of `BENCH_STEADY_S` seconds after the last login);
 *  - the time until the last client had logged in, and per-login time;
 *  - presence fan-out: user 0 flips away/online; time until the last of the N - 1 watchers
 *    has the push (measured in the load process, which also decrypts every push);
 *  - the store writes the heartbeats cause: the registry's write syscalls per second
 *    (/proc/PID/io `syscw`, which counts SQLite's writes and not the UDP sends) in the window.
 *
 * Prints one JSON document and writes it to bench/results/registry.json.
 */

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes, scryptSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { PROFILE_FIELDS } from "../src/server/store/store.js";
import { adopt, cleanUp, tmp } from "./scratch.js";
import { loadAverage, machine, processCpuMs, processRssMb, publish } from "./stats.js";

const ROOT = join(import.meta.dirname, "../..");
const CLI = join(ROOT, "dist/cli.js");
const LOAD = join(ROOT, "dist-bench/bench/registry-load.js");
const COUNTS = (process.env.BENCH_CLIENTS ?? "1000,5000,10000").split(",").map(Number);
const STEADY_S = Number(process.env.BENCH_STEADY_S ?? 30);
const FANOUTS = Number(process.env.BENCH_FANOUTS ?? 6);
const SOCKETS = 32;
/** Logins under way at once (each a handshake and a password check). */
const LOGIN_WINDOW = Number(process.env.BENCH_LOGIN_WINDOW ?? 16);
const HEARTBEAT_MS = 10_000;
const PASSWORD = "bench correct horse battery";

type Json = Record<string, unknown>;

/** `BENCH_REGISTRY_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR"` profiles the registry. */
const REGISTRY_NODE_ARGS = (process.env.BENCH_REGISTRY_NODE_ARGS ?? "").split(" ").filter(Boolean);

function start(
  args: string[],
  nodeArgs: string[] = [],
): { child: ChildProcess; next: (pred: (e: Json) => boolean) => Promise<Json> } {
  const child = spawn(process.execPath, [...nodeArgs, ...args], { stdio: ["pipe", "pipe", "inherit"] });
  adopt(child);
  const events: Json[] = [];
  const waiters: Array<{ pred: (e: Json) => boolean; resolve: (e: Json) => void }> = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    let e: Json;
    try {
      e = JSON.parse(line) as Json;
    } catch {
      return;
    }
    if (e.event === "error") process.stderr.write(`${line}\n`);
    const i = waiters.findIndex((w) => w.pred(e));
    if (i >= 0) waiters.splice(i, 1)[0]?.resolve(e);
    else events.push(e);
  });
  const next = (pred: (e: Json) => boolean) => {
    const i = events.findIndex(pred);
    if (i >= 0) return Promise.resolve(events.splice(i, 1)[0] as Json);
    return new Promise<Json>((resolve, reject) => {
      waiters.push({ pred, resolve });
      child.once("exit", (code) => reject(new Error(`${args[1] ?? args[0]} exited (${code})`)));
    });
  };
  return { child, next };
}

/** An export file with `n` users (cheap scrypt) and user 0 friends with everyone. */
function office(n: number, dir: string): { file: string; users: string[] } {
  const salt = randomBytes(16);
  const hash = scryptSync(PASSWORD, salt, 32, { N: 16, r: 1, p: 1 });
  const passwordHash = ["scrypt", 4, 1, 1, salt.toString("base64"), hash.toString("base64")].join("$");
  const users = Array.from({ length: n }, (_, i) => `user${String(i).padStart(5, "0")}`);
  const profile = Object.fromEntries(PROFILE_FIELDS.map((f) => [f, null]));
  const lines = [JSON.stringify({ format: "hallway-export", version: 1, exportedAt: Date.now() })];
  for (const name of users) {
    lines.push(
      JSON.stringify({
        kind: "user",
        name,
        passwordHash,
        publicKey: null,
        ...profile,
        createdAt: 1,
        lastSeen: null,
      }),
    );
  }
  const hub = users[0] as string;
  for (const other of users.slice(1))
    lines.push(JSON.stringify({ kind: "friendship", a: hub, b: other, since: 1 }));
  const file = join(dir, "office.jsonl");
  writeFileSync(file, `${lines.join("\n")}\n`);
  return { file, users };
}

/** Write syscalls of a process so far (/proc/PID/io). */
function writeSyscalls(pid: number): number {
  const m = /syscw:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, "utf8"));
  return m ? Number(m[1]) : Number.NaN;
}

/** Datagrams this machine's UDP sockets dropped for a full receive buffer (/proc/net/snmp). */
function udpReceiveBufferErrors(): number {
  const lines = readFileSync("/proc/net/snmp", "utf8")
    .split("\n")
    .filter((l) => l.startsWith("Udp:"));
  const [names, values] = lines.map((l) => l.split(/\s+/));
  const i = names?.indexOf("RcvbufErrors") ?? -1;
  return i < 0 ? Number.NaN : Number(values?.[i]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(n: number) {
  const dataDir = tmp(`registry-${n}`);
  const { file, users } = office(n, tmp(`office-${n}`));
  const imported = spawnSync(
    process.execPath,
    [CLI, "server", "import", "--data", dataDir, "--in", file, "--json"],
    {
      encoding: "utf8",
    },
  );
  if (imported.status !== 0) throw new Error(`import failed: ${imported.stdout}${imported.stderr}`);

  const registry = start(
    [
      CLI,
      "server",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--no-mdns",
      "--json",
      "--data",
      dataDir,
      "--policy",
      "friends",
    ],
    REGISTRY_NODE_ARGS,
  );
  const { port } = (await registry.next((e) => e.event === "listening")) as { port: number };
  const pid = registry.child.pid as number;
  const cpuAtStart = processCpuMs(pid);
  const load = start([
    LOAD,
    JSON.stringify({
      port,
      users,
      password: PASSWORD,
      sockets: SOCKETS,
      loginWindow: LOGIN_WINDOW,
      heartbeatMs: HEARTBEAT_MS,
    }),
  ]);
  const loggedIn = await load.next((e) => e.event === "loggedIn");
  process.stderr.write(`${n} clients: ${JSON.stringify(loggedIn)}\n`);
  const loginCpuMs = processCpuMs(pid) - cpuAtStart;

  // Settle one heartbeat interval, then the steady window.
  await sleep(HEARTBEAT_MS);
  const cpu0 = processCpuMs(pid);
  const w0 = writeSyscalls(pid);
  const t0 = performance.now();
  await sleep(STEADY_S * 1000);
  const seconds = (performance.now() - t0) / 1000;
  const cpuShare = (processCpuMs(pid) - cpu0) / 1000 / seconds;
  const writesPerSecond = (writeSyscalls(pid) - w0) / seconds;
  const rssMb = processRssMb(pid);

  const fanouts: number[] = [];
  const fanoutCpuMs: number[] = [];
  let reached = 0;
  let watchers = 0;
  let sessionsLost = 0;
  const drops0 = udpReceiveBufferErrors();
  for (let i = 0; i < FANOUTS; i++) {
    const cpuBefore = processCpuMs(pid);
    (load.child.stdin as NodeJS.WritableStream).write("fanout\n");
    const f = await load.next((e) => e.event === "fanout");
    fanoutCpuMs.push(processCpuMs(pid) - cpuBefore);
    process.stderr.write(`${n} clients: ${JSON.stringify(f)}\n`);
    fanouts.push(f.lastWatcherAfterMs as number);
    reached = Math.min(reached === 0 ? Number(f.reached) : reached, Number(f.reached));
    watchers = Math.max(watchers, Number(f.watchers));
    sessionsLost = Number(f.sessionsLost);
  }
  (load.child.stdin as NodeJS.WritableStream).write("stop\n");
  await new Promise((r) => load.child.once("exit", r));
  registry.child.kill(REGISTRY_NODE_ARGS.length > 0 ? "SIGINT" : "SIGKILL");
  await new Promise((r) => registry.child.once("exit", r));
  fanouts.sort((a, b) => a - b);
  return {
    clients: n,
    login: {
      lastClientAfterMs: loggedIn.lastLoginAfterMs,
      perLogin: loggedIn.perLogin,
      registryCpuMsPerLogin: Math.round((loginCpuMs / n) * 100) / 100,
    },
    heartbeating: {
      windowSeconds: Math.round(seconds),
      registryCpuShareOfOneCore: Math.round(cpuShare * 1000) / 1000,
      registryRssMb: rssMb,
      registryWriteSyscallsPerSecond: Math.round(writesPerSecond * 10) / 10,
      heartbeatsPerSecond: Math.round(n / (HEARTBEAT_MS / 1000)),
    },
    presenceFanOut: {
      // Watchers live when it was sent; sessions the registry had timed out log in again.
      watchers,
      reachedAll: reached === watchers,
      sessionsTimedOutAndBack: sessionsLost,
      // Machine-wide, so other work on the machine counts too; 0 means no datagram was lost.
      udpReceiveBufferDrops: udpReceiveBufferErrors() - drops0,
      lastWatcherMs: { median: fanouts[Math.floor(fanouts.length / 2)], max: fanouts.at(-1) },
      // What the machine's load cannot inflate: the registry's CPU for one fan-out (10 ms ticks).
      registryCpuMsPerFanOut: Math.round(fanoutCpuMs.reduce((a, b) => a + b, 0) / fanoutCpuMs.length),
    },
    loadAverageAtEnd: loadAverage(),
  };
}

async function main(): Promise<void> {
  try {
    const runs = [];
    for (const n of COUNTS) {
      runs.push(await run(n));
      process.stderr.write(`${JSON.stringify(runs.at(-1))}\n`);
    }
    publish("registry", {
      bench: "registry",
      at: new Date().toISOString(),
      machine: machine(),
      setup: {
        policy: "friends (user 0 friends with everyone)",
        heartbeatMs: HEARTBEAT_MS,
        loadProcesses: 1,
        sockets: SOCKETS,
        scrypt: "2^4, r=1 (imported accounts)",
      },
      runs,
    });
  } finally {
    cleanUp();
  }
}

await main();
