/**
 * Load process for bench/registry: N simulated clients against a real registry, driven by the
 * project's own `UdpHost` (the socket adapter over the sans-IO SessionHost and Endpoint).
 * Each client has a Noise session of its own; they share `SOCKETS` sockets, each bound to its
 * own loopback address (127.0.1.x), so that per-host limits see an office of hosts, not one.
 * Clients on one socket share that socket's static key.
 *
 * argv[2]: JSON {port, users: [names], password, sockets, loginWindow, heartbeatMs}
 * stdin: one command per line: `fanout` (user 0 flips away/online; every other client is a
 * watcher), `stop`.
 * stdout: JSON lines: {event:"loggedIn", ...} once, {event:"fanout", ...} per command,
 * {event:"error", ...}.
 */

import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { type HostedConnection, UdpHost } from "../src/net/udp-host.js";
import { generateIdentity } from "../src/protocol/noise.js";
import { summarize } from "./stats.js";

interface Config {
  port: number;
  users: string[];
  password: string;
  sockets: number;
  loginWindow: number;
  heartbeatMs: number;
}

interface Client {
  user: string;
  host: UdpHost;
  conn?: HostedConnection;
}

const config = JSON.parse(process.argv[2] ?? "{}") as Config;
const registry = { host: "127.0.0.1", port: config.port };
const utf8 = new TextEncoder();
const print = (e: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(e)}\n`);

let nextRid = 1;
const waiting = new Map<number, (answer: { t: string; code?: string; retryAfterMs?: number }) => void>();
/** Watchers that have seen user 0's newest status, and when the last one did. */
let fanout:
  | { status: string; reached: number; lastAt: number; watchers: number; done?: () => void }
  | undefined;
const hub = config.users[0] as string;

function onMessage(bytes: Uint8Array): void {
  const msg = JSON.parse(Buffer.from(bytes).toString()) as {
    t: string;
    rid?: number;
    user?: string;
    status?: string;
  };
  if ((msg.t === "ok" || msg.t === "err") && msg.rid !== undefined) {
    const w = waiting.get(msg.rid);
    waiting.delete(msg.rid);
    w?.(msg);
    return;
  }
  if (msg.t === "presence" && msg.user === hub && fanout && msg.status === fanout.status) {
    fanout.reached++;
    fanout.lastAt = performance.now();
    if (fanout.reached === fanout.watchers) fanout.done?.();
  }
}

function request(
  c: Client,
  body: Record<string, unknown>,
): Promise<{ t: string; code?: string; retryAfterMs?: number }> {
  const rid = nextRid++;
  return new Promise((resolve) => {
    waiting.set(rid, resolve);
    c.host.send(c.conn as HostedConnection, utf8.encode(JSON.stringify({ rid, ...body })));
  });
}

/** Sessions the registry closed (timed out), each logged in again as a client does. */
let lost = 0;
const relogging = new Set<Client>();

const live = (c: Client) => c.conn !== undefined && c.host.isLive(c.conn);

/** A request whose answer nobody waits for (a heartbeat); a closed session logs in again. */
function fire(c: Client, body: Record<string, unknown>): void {
  if (!live(c)) {
    if (!relogging.has(c)) {
      lost++;
      relogging.add(c);
      void logIn(c).finally(() => relogging.delete(c));
    }
    return;
  }
  c.host.send(c.conn as HostedConnection, utf8.encode(JSON.stringify({ rid: nextRid++, ...body })));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function logIn(c: Client): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    try {
      c.conn = await c.host.connect(registry);
      const answer = await request(c, {
        t: "login",
        user: c.user,
        password: config.password,
        heartbeatMs: config.heartbeatMs,
        addresses: [],
      });
      if (answer.t === "ok") return performance.now() - t0;
      if (answer.code !== "RATE_LIMITED") throw new Error(`login ${c.user}: ${JSON.stringify(answer)}`);
      c.host.close(c.conn, "retry");
      await sleep(answer.retryAfterMs ?? 500);
    } catch (err) {
      // A handshake the registry dropped (its handshake limits): try again, as a client does.
      if (err instanceof Error && err.message.startsWith("login ")) throw err;
      await sleep(200);
    }
  }
}

async function main(): Promise<void> {
  const hosts: UdpHost[] = [];
  for (let s = 0; s < config.sockets; s++) {
    const host = new UdpHost({
      identity: generateIdentity((n) => new Uint8Array(randomBytes(n))),
      acceptIncoming: false,
      host: `127.0.1.${s + 1}`,
      keepaliveMs: config.heartbeatMs,
      handshakeTimeoutMs: 5000,
    });
    host.handlers = { onMessage: (_c, bytes) => onMessage(bytes) };
    await host.start();
    hosts.push(host);
  }
  const clients: Client[] = config.users.map((user, i) => ({
    user,
    host: hosts[i % hosts.length] as UdpHost,
  }));

  // Heartbeats from the moment a client is in: every client once per heartbeatMs, spread evenly.
  const online: Client[] = [];
  const tickMs = 50;
  let due = 0;
  let cursor = 0;
  const heartbeats = setInterval(() => {
    due += (online.length * tickMs) / config.heartbeatMs;
    for (; due >= 1 && online.length > 0; due--) {
      fire(online[cursor % online.length] as Client, { t: "heartbeat" });
      cursor++;
    }
  }, tickMs);

  // Logins, `loginWindow` at a time (each takes a handshake and a password check).
  const t0 = performance.now();
  const loginMs: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: config.loginWindow }, async () => {
      while (next < clients.length) {
        const c = clients[next++] as Client;
        loginMs.push(await logIn(c));
        online.push(c);
      }
    }),
  );
  print({
    event: "loggedIn",
    clients: clients.length,
    lastLoginAfterMs: Math.round(performance.now() - t0),
    perLogin: summarize(loginMs),
  });

  const hubClient = clients[0] as Client;
  let away = false;
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === "stop") break;
    if (line !== "fanout") continue;
    away = !away;
    const status = away ? "away" : "online";
    if (!live(hubClient)) await logIn(hubClient);
    const watchers = clients.filter((c) => c !== hubClient && live(c)).length;
    const f: NonNullable<typeof fanout> = { status, reached: 0, lastAt: 0, watchers };
    const all = new Promise<void>((resolve) => {
      f.done = resolve;
    });
    fanout = f;
    const sentAt = performance.now();
    const answer = await request(hubClient, { t: "presence.set", status });
    if (answer.t !== "ok") print({ event: "error", what: "presence.set", answer });
    await Promise.race([all, sleep(30_000)]);
    print({
      event: "fanout",
      sessionsLost: lost,
      watchers: f.watchers,
      reached: f.reached,
      lastWatcherAfterMs: Math.round((f.lastAt - sentAt) * 10) / 10,
    });
  }
  clearInterval(heartbeats);
  await Promise.all(hosts.map((h) => h.stop("bench done")));
}

main().then(
  () => process.exit(0),
  (err) => {
    print({ event: "error", message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  },
);
