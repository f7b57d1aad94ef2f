/**
 * Ids and jitter drawn from the runtime's random source (`runtime.ts`), so that a simulation
 * with a seeded source draws the same ones on every run.
 */

import type { Runtime } from "../runtime.js";

/** `bytes` random bytes as lowercase hex (transfer, folder and upload ids: 12 bytes). */
export function hexId(runtime: Runtime, bytes = 12): string {
  return Buffer.from(runtime.random(bytes)).toString("hex");
}

/** An RFC 9562 version 4 UUID (122 random bits): message and group message ids. */
export function uuid(runtime: Runtime): string {
  const b = runtime.random(16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = Buffer.from(b).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A number in [0, 1), for jitter. */
export function randomFraction(runtime: Runtime): number {
  const b = runtime.random(4);
  return Buffer.from(b.buffer, b.byteOffset, 4).readUInt32BE(0) / 2 ** 32;
}
