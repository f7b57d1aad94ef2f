/**
 * bench/handshake: what one handshake initiation (HS_INIT) costs the registry's endpoint,
 * answered with a handshake (X25519 and HMACs: Noise message 2) and answered with a stateless
 * cookie (one HMAC), and what a datagram from a blocked address costs (one map lookup). This
 * is the CPU a flood buys per datagram (docs/security.md). Sans-IO: the Endpoint alone, no
 * sockets, so the figures are the cores' own.
 *
 * Prints one JSON document and writes it to bench/results/handshake.json.
 */

import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { encodeHsInit } from "../src/protocol/datagram.js";
import { DEFAULT_PROLOGUE, Endpoint } from "../src/protocol/endpoint.js";
import { generateIdentity, HandshakeState } from "../src/protocol/noise.js";
import { Blocklist } from "../src/server/blocklist.js";
import { DEFAULT_LIMITS } from "../src/server/limits.js";
import { machine, publish } from "./stats.js";

const N = Number(process.env.BENCH_HANDSHAKES ?? 20_000);
const random = (n: number) => new Uint8Array(randomBytes(n));

function initiation(): Uint8Array {
  const hs = new HandshakeState({
    initiator: true,
    staticKeys: generateIdentity(random),
    prologue: DEFAULT_PROLOGUE,
    random,
  });
  const msg1 = hs.writeMessage(new Uint8Array(0));
  if (!msg1.ok) throw new Error("msg1");
  return encodeHsInit(1, msg1.value);
}

/** Microseconds per HS_INIT, each with a fresh sender index from a fresh source port. */
function perInit(ep: Endpoint, template: Uint8Array, host: (i: number) => string): number {
  const d = Buffer.from(template);
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    d.writeUInt32BE(i + 1, 1);
    ep.handleDatagram(d, { host: host(i), port: 1024 + (i % 60_000) }, t0);
    while (ep.pollTransmit()) {}
  }
  return ((performance.now() - t0) * 1000) / N;
}

const template = initiation();
const identity = generateIdentity(random);
// Handshakes: every HS_INIT from its own host, and no limit in the way.
const open = new Endpoint({
  identity,
  random,
  acceptIncoming: true,
  cookies: false,
  maxSessions: 10 * N,
  handshakesPerSecondPerHost: 1e9,
});
const handshakeUs = perInit(open, template, (i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
// Cookies: one host, far over its bucket, so every HS_INIT is answered with a cookie.
const busy = new Endpoint({ identity, random, acceptIncoming: true, freeHandshakesPerSecond: 1 });
const cookieUs = perInit(busy, template, () => "10.9.9.9");

const blocklist = new Blocklist(DEFAULT_LIMITS.abuse);
blocklist.block({ host: "10.9.9.9", port: 4000 }, "mallory", 0);
const t0 = performance.now();
let blocked = 0;
for (let i = 0; i < N * 10; i++) if (blocklist.isBlocked("10.9.9.9", 4000, 1)) blocked++;
const blockedUs = ((performance.now() - t0) * 1000) / (N * 10);

publish("handshake", {
  bench: "handshake",
  at: new Date().toISOString(),
  machine: machine(),
  initiations: N,
  handshakeUsPerInit: Math.round(handshakeUs * 10) / 10,
  cookieUsPerInit: Math.round(cookieUs * 10) / 10,
  blockedUsPerDatagram: Math.round(blockedUs * 1000) / 1000,
  cookiesSent: busy.cookieStats.sent,
  blocked,
  ratio: Math.round((handshakeUs / cookieUs) * 10) / 10,
});
