/**
 * Ids and jitter drawn from the runtime's random source (`runtime.ts`), so that a simulation
 * with a seeded source draws the same ones on every run.
 *
 * The bytes come from a pool per runtime, refilled `POOL_BYTES` at a time, as Node's own
 * `randomUUID` caches its entropy: one `randomBytes` call costs microseconds (6.7 µs for 12
 * bytes, docs/benchmarks.md), and a message id is drawn per chat message.
 */

import type { Runtime } from "../runtime.js";

const POOL_BYTES = 2048;
const pools = new WeakMap<Runtime, { bytes: Uint8Array; at: number }>();

/** `n` random bytes (a copy), from the runtime's pool. */
function draw(runtime: Runtime, n: number): Uint8Array {
  let pool = pools.get(runtime);
  if (pool === undefined || pool.at + n > pool.bytes.length) {
    pool = { bytes: runtime.random(Math.max(POOL_BYTES, n)), at: 0 };
    pools.set(runtime, pool);
  }
  const out = pool.bytes.slice(pool.at, pool.at + n);
  pool.at += n;
  return out;
}

/** `bytes` random bytes as lowercase hex (transfer, folder and upload ids: 12 bytes). */
export function hexId(runtime: Runtime, bytes = 12): string {
  return Buffer.from(draw(runtime, bytes)).toString("hex");
}

/** An RFC 9562 version 4 UUID (122 random bits): message and group message ids. */
export function uuid(runtime: Runtime): string {
  const b = draw(runtime, 16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = Buffer.from(b).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A number in [0, 1), for jitter. */
export function randomFraction(runtime: Runtime): number {
  const b = draw(runtime, 4);
  return Buffer.from(b.buffer, b.byteOffset, 4).readUInt32BE(0) / 2 ** 32;
}
