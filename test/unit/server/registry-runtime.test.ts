/**
 * The registry runs on the runtime and sockets it is given (src/runtime.ts,
 * net/datagram-socket.ts): its intervals are the runtime's timers (the log one weak), its
 * salts the runtime's random bytes, the drop box's sweep on its timers, its sockets the ones handed in, and new passwords are
 * hashed at the scrypt cost it is told. Here the runtime and sockets are the real ones,
 * recorded on the way through; a real client registers and logs in over loopback UDP.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DatagramSockets } from "../../../src/net/datagram-socket.js";
import { systemRuntime } from "../../../src/net/system-runtime.js";
import { udpSockets } from "../../../src/net/udp-socket.js";
import { generateIdentity } from "../../../src/protocol/noise.js";
import type { Runtime } from "../../../src/runtime.js";
import { DEFAULT_DROP_LIMITS } from "../../../src/server/drop-rules.js";
import { Registry } from "../../../src/server/registry.js";
import { SqliteStore } from "../../../src/server/store/index.js";
import { RawClient, stopRawClients } from "../../integration/raw-client.js";

const dirs: string[] = [];

afterEach(async () => {
  await stopRawClients();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Recorded {
  runtime: Runtime;
  intervals: Array<{ ms: number; weak: boolean; cancelled: boolean }>;
  drawn: Uint8Array[];
}

/** The process's runtime, with its periodic timers and random draws written down. */
function recordingRuntime(): Recorded {
  const intervals: Recorded["intervals"] = [];
  const drawn: Uint8Array[] = [];
  const runtime: Runtime = {
    ...systemRuntime,
    every: (ms, fn, opts) => {
      const entry = { ms, weak: opts?.weak === true, cancelled: false };
      intervals.push(entry);
      const timer = systemRuntime.every(ms, fn, opts);
      return {
        cancel: () => {
          entry.cancelled = true;
          timer.cancel();
        },
      };
    },
    random: (n) => {
      const bytes = systemRuntime.random(n);
      drawn.push(bytes);
      return bytes;
    },
  };
  return { runtime, intervals, drawn };
}

describe("the registry on an injected runtime and sockets", () => {
  it("runs its intervals on the runtime, draws salts from it, hashes at the given cost, uses the sockets given", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hallway-registry-runtime-"));
    dirs.push(dir);
    const store = await SqliteStore.open(join(dir, "registry.sqlite"));
    const rec = recordingRuntime();
    const families: string[] = [];
    const sockets: DatagramSockets = {
      open: (family) => {
        families.push(family);
        return udpSockets.open(family);
      },
      hasIPv6: () => false,
    };
    const registry = new Registry({
      store,
      identity: generateIdentity(systemRuntime.random),
      host: "127.0.0.1",
      port: 0,
      runtime: rec.runtime,
      sockets,
      passwordHashing: { log2N: 4, r: 1, p: 1 },
      drop: { dir: join(dir, "drop"), limits: DEFAULT_DROP_LIMITS },
    });
    try {
      const { port } = await registry.start();
      expect(families).toEqual(["udp4"]);
      // The sweep and the last-seen flush keep the process up; the drop box's retention sweep
      // and the counters' log line do not.
      expect(rec.intervals).toEqual([
        { ms: 60_000, weak: true, cancelled: false },
        { ms: 500, weak: false, cancelled: false },
        { ms: 5_000, weak: false, cancelled: false },
        { ms: 60_000, weak: true, cancelled: false },
      ]);

      const client = await RawClient.open(port);
      const password = "a long walk at noon";
      expect((await client.request({ t: "register", user: "alice", password })).t).toBe("ok");
      const hash = (await store.getUser("alice"))?.passwordHash ?? "";
      const [scheme, log2N, r, p, salt] = hash.split("$");
      expect([scheme, log2N, r, p]).toEqual(["scrypt", "4", "1", "1"]);
      const salts = rec.drawn.filter((b) => b.length === 16).map((b) => Buffer.from(b).toString("base64"));
      expect(salts).toContain(salt);
      // Verification reads the cost from the hash.
      const login = await client.request({
        t: "login",
        user: "alice",
        password,
        heartbeatMs: 10_000,
        addresses: [],
      });
      expect(login.t).toBe("ok");
    } finally {
      await registry.stop();
      await store.close();
    }
    expect(rec.intervals.every((t) => t.cancelled)).toBe(true);
  });

  it("refuses a scrypt cost that verification would refuse, before it starts", () => {
    expect(
      () =>
        new Registry({
          store: {} as SqliteStore,
          identity: generateIdentity(systemRuntime.random),
          passwordHashing: { log2N: 24, r: 8, p: 1 },
        }),
    ).toThrow(expect.objectContaining({ code: "MISUSE" }));
  });
});
