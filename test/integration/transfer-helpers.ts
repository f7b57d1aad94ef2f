/**
 * Helpers for the file-transfer integration tests: a registry with alice and bob logged in
 * and seeing each other, a file of random bytes, and a matcher for transfer events.
 */

import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Json, type Proc, startClient, startRegistry, tempDir } from "./harness.js";

export const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

export const isTransfer = (id: unknown, state: string) => (e: Json) =>
  e.event === "transfer" && e.id === id && e.state === state;

/** A registry, alice (with `aliceExtra`) and bob (with `bobExtra`, in `bobDir`), each seeing the other online. */
export async function transferPair(
  opts: { aliceExtra?: string[]; bobExtra?: string[]; bobDir?: string } = {},
): Promise<{ alice: Proc; bob: Proc; port: number; bobDir: string }> {
  const reg = await startRegistry(tempDir("registry"));
  const alice = startClient("alice", reg.port, tempDir("alice"), ["--register", ...(opts.aliceExtra ?? [])]);
  await alice.waitFor((e) => e.event === "ready", "alice ready");
  const bobDir = opts.bobDir ?? tempDir("bob");
  const bob = startClient("bob", reg.port, bobDir, ["--register", ...(opts.bobExtra ?? [])]);
  await bob.waitFor((e) => e.event === "ready", "bob ready");
  await alice.waitFor(
    (e) => e.event === "presence" && e.user === "bob" && e.status === "online",
    "bob online",
  );
  return { alice, bob, port: reg.port, bobDir };
}

/** `size` random bytes in a file called `name` in a fresh directory. */
export function randomFile(name: string, size: number): { data: Uint8Array; src: string } {
  const data = new Uint8Array(randomBytes(size));
  const src = join(tempDir("src"), name);
  writeFileSync(src, data);
  return { data, src };
}
