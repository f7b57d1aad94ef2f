/** File contents for simulated transfers: deterministic from a seed, and their SHA-256. */

import { createCipheriv, createHash } from "node:crypto";
import { Prng } from "./prng.js";

/** Deterministic file contents of a given size: AES-128-CTR over zeros, keyed by the seed (fast for tens of MB). */
export function makeFile(seed: number, sizeBytes: number): Uint8Array {
  const key = new Prng(seed ^ 0xf11e).bytes(16);
  const stream = createCipheriv("aes-128-ctr", key, new Uint8Array(16));
  return new Uint8Array(stream.update(new Uint8Array(sizeBytes)));
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return createHash("sha256").update(bytes).digest();
}
