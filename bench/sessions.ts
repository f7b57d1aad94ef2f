/**
 * bench/sessions: does the session layer's work grow with the number of sessions it holds?
 *
 * A registry holds thousands of sessions, nearly all idle. What a datagram of one active
 * session costs, and what a timer wake-up costs, must not grow with them (O(1) per datagram,
 * O(due timers) per wake-up). Sans-IO: one accepting `SessionHost` (the registry's side) and
 * one client `SessionHost` that opens every session to it, datagrams handed across in memory,
 * real Noise handshakes and real sealing. For each count of idle sessions it measures:
 *
 *  - µs per message round trip on one active session (both hosts' work: seal, open, ACK);
 *  - connections the accepting host visits per round trip (`connectionsPacked`): 1–2 whatever
 *    the count;
 *  - over a minute of simulated idle time, the accepting host's timer wake-ups and the
 *    connections each visits (keepalives falling due, never a scan).
 *
 * Prints one JSON document and writes it to bench/results/sessions.json.
 */

import { randomBytes } from "node:crypto";
import type { Address } from "../src/protocol/address.js";
import { generateIdentity } from "../src/protocol/noise.js";
import { type HostedConnection, SessionHost } from "../src/transport/session-host.js";
import { machine, publish } from "./stats.js";

const COUNTS = (process.env.BENCH_SESSIONS ?? "0,1000,5000").split(",").map(Number);
const ROUND_TRIPS = Number(process.env.BENCH_ROUND_TRIPS ?? 5000);
const random = (n: number) => new Uint8Array(randomBytes(n));
const SERVER: Address = { host: "10.0.0.1", port: 7000 };
const CLIENT: Address = { host: "10.0.0.2", port: 7001 };

interface Row {
  idleSessions: number;
  usPerRoundTrip: number;
  connectionsPackedPerRoundTrip: number;
  idleMinute: { wakeups: number; connectionsTimedOut: number; connectionsPacked: number; msOfCpu: number };
}

class Pair {
  readonly server = new SessionHost({
    identity: generateIdentity(random),
    random,
    acceptIncoming: true,
    // Every session comes from one address here: no per-host handshake limit in the way.
    handshakeLimits: { cookies: false, handshakesPerSecondPerHost: 1e9, maxSessions: 1e6 },
  });
  readonly client = new SessionHost({ identity: generateIdentity(random), random, acceptIncoming: false });
  now = 0;
  private readonly serverSide = new Map<number, HostedConnection>();
  received = 0;

  /** Moves datagrams both ways, with a turn on each side, until neither has anything to send. */
  settle(): void {
    for (let moved = true; moved; ) {
      moved = false;
      this.client.pack(this.now);
      for (let t = this.client.pollTransmit(); t; t = this.client.pollTransmit()) {
        this.server.handleDatagram(new Uint8Array(Buffer.concat(t.bytes)), CLIENT, this.now);
        moved = true;
      }
      this.drain(this.server);
      this.server.pack(this.now);
      for (let t = this.server.pollTransmit(); t; t = this.server.pollTransmit()) {
        this.client.handleDatagram(new Uint8Array(Buffer.concat(t.bytes)), SERVER, this.now);
        moved = true;
      }
      this.drain(this.client);
    }
  }

  private drain(host: SessionHost): void {
    for (let e = host.pollEvent(); e; e = host.pollEvent()) {
      if (e.type === "established" && host === this.server) this.serverSide.set(e.conn.session, e.conn);
      if (e.type === "message") {
        this.received++;
        // The accepting side answers every message, as the registry answers a request.
        if (host === this.server) this.server.send(e.conn, e.message, e.stream, this.now);
      }
    }
  }

  open(n: number): HostedConnection[] {
    for (let i = 0; i < n; i++) this.client.connect(SERVER, this.now);
    this.settle();
    const opened = this.client.connections();
    if (opened.length < n) throw new Error(`only ${opened.length} of ${n} established`);
    return opened;
  }

  /** Advances simulated time to `until` in timer wake-ups of the accepting host. */
  idle(until: number): { wakeups: number } {
    let wakeups = 0;
    for (;;) {
      const at = Math.min(this.server.pollTimeout() ?? Infinity, this.client.pollTimeout() ?? Infinity);
      if (!(at <= until)) break;
      this.now = Math.max(this.now, at);
      if ((this.server.pollTimeout() ?? Infinity) <= this.now) {
        this.server.handleTimeout(this.now);
        wakeups++;
      }
      if ((this.client.pollTimeout() ?? Infinity) <= this.now) this.client.handleTimeout(this.now);
      this.settle();
    }
    this.now = until;
    return { wakeups };
  }
}

function measure(idleSessions: number): Row {
  const pair = new Pair();
  const [active] = pair.open(1 + idleSessions);
  if (active === undefined) throw new Error("no session");
  const message = new Uint8Array(200).fill(7);
  // Warm up the JIT on the same path.
  for (let i = 0; i < 500; i++) {
    pair.client.send(active, message, 0, pair.now);
    pair.settle();
  }
  const packed0 = pair.server.stats.connectionsPacked;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < ROUND_TRIPS; i++) {
    pair.now += 0.01;
    pair.client.send(active, message, 0, pair.now);
    pair.settle();
  }
  const cpu = process.cpuUsage(cpu0);
  const packed = pair.server.stats.connectionsPacked - packed0;
  // A minute of idle time: keepalives fall due, one session at a time.
  const timedOut0 = pair.server.stats.timerWakeups;
  const packed1 = pair.server.stats.connectionsPacked;
  const idleCpu0 = process.cpuUsage();
  const { wakeups } = pair.idle(pair.now + 60_000);
  const idleCpu = process.cpuUsage(idleCpu0);
  const us = (cpu.user + cpu.system) / ROUND_TRIPS;
  return {
    idleSessions,
    usPerRoundTrip: Math.round(us * 10) / 10,
    connectionsPackedPerRoundTrip: Math.round((packed / ROUND_TRIPS) * 100) / 100,
    idleMinute: {
      wakeups,
      connectionsTimedOut: pair.server.stats.timerWakeups - timedOut0,
      connectionsPacked: pair.server.stats.connectionsPacked - packed1,
      msOfCpu: Math.round((idleCpu.user + idleCpu.system) / 100) / 10,
    },
  };
}

// A throwaway row first, so the JIT has compiled the path before the first measured one.
measure(0);
const rows: Row[] = [];
for (const n of COUNTS) {
  process.stderr.write(`${n} idle sessions\n`);
  const row = measure(n);
  process.stderr.write(`  ${JSON.stringify(row)}\n`);
  rows.push(row);
}
publish("sessions", {
  bench: "sessions",
  at: new Date().toISOString(),
  machine: machine(),
  roundTrips: ROUND_TRIPS,
  rows,
});
