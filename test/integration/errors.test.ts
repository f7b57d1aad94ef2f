/**
 * The "bad input" promises, with real processes on loopback: every failure a user can cause
 * is one line (an `error` event with a stable code under --json, one `hallway: …` line on
 * stderr without it), never a stack trace, and loses nothing already stored.
 *
 * Each test starts its own registry and clients and `afterEach` kills them, so a failure in
 * one cannot leak into the next. No test asserts a duration; waits are bounded by timeouts.
 */

import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type HostedConnection, UdpHost } from "../../src/net/udp-host.js";
import { generateIdentity } from "../../src/protocol/noise.js";
import { Prng } from "../sim/prng.js";
import {
  hallway,
  type Json,
  killAll,
  type Proc,
  requireBuild,
  sendDatagrams,
  startClient,
  startRegistry,
  tempDir,
  unusedPort,
} from "./harness.js";

const PASSWORD = "correct horse battery staple";
/**
 * Per test: several process starts and scrypt hashes in a row. A limit on a hung test, not a
 * speed check; at a load of 9 on 2 cores the account tests needed more than 20 s.
 */
const TEST_MS = 60_000;
/** Every spawned process gets a scratch home, so nothing here can touch a real data directory. */
const HOME = { HALLWAY_HOME: "" };
/** Sessions opened by the test process itself (see `rawSession`), stopped after each test. */
const rawHosts: UdpHost[] = [];

beforeAll(() => {
  requireBuild();
  HOME.HALLWAY_HOME = tempDir("home");
});
afterEach(async () => {
  await Promise.all(rawHosts.splice(0).map((h) => h.stop()));
  await killAll();
});

const isError = (code: string) => (e: Json) => e.event === "error" && e.code === code;
const stackTraceLines = (lines: readonly string[]) => lines.filter((l) => /^\s+at\s/.test(l));

/** A client that registered and is ready. */
async function online(user: string, port: number, dir = tempDir(user)): Promise<Proc> {
  const p = startClient(user, port, dir, ["--register"]);
  await p.waitFor((e) => e.event === "ready", `${user} ready`);
  return p;
}

/** A registered user who is offline again (quit cleanly). */
async function registeredOffline(user: string, port: number): Promise<string> {
  const dir = tempDir(user);
  const p = await online(user, port, dir);
  p.send({ cmd: "quit" });
  expect(await p.waitExit(`${user} quit`)).toBe(0);
  return dir;
}

/** A headless run that must fail at startup: exit status, then exactly one error event. */
async function expectJsonFailure(p: Proc, code: string, status = 1): Promise<Json> {
  expect(await p.waitExit(`${p.name} fails with ${code}`)).toBe(status);
  const errors = p.events.filter((e) => e.event === "error");
  expect(errors, JSON.stringify(p.events)).toHaveLength(1);
  const e = errors[0] as Json;
  expect(e.code).toBe(code);
  expect(typeof e.message).toBe("string");
  expect(e.message).not.toMatch(/\n/);
  expect(p.events.filter((x) => x.event === "non-json")).toEqual([]);
  expect(p.events.some((x) => x.event === "ready")).toBe(false);
  expect(stackTraceLines(p.stderr)).toEqual([]);
  return e;
}

/** Without --json: nothing on stdout, one `hallway: …` line on stderr. */
async function expectLineFailure(p: Proc, status = 1): Promise<string> {
  expect(await p.waitExit(`${p.name} fails`)).toBe(status);
  expect(p.events).toEqual([]);
  expect(p.stderr, p.stderr.join("\n")).toHaveLength(1);
  expect(p.stderr[0]).toMatch(/^hallway: \S/);
  return p.stderr[0] as string;
}

/** A headless client; `password` undefined leaves HALLWAY_PASSWORD unset. */
function clientOf(
  user: string,
  port: number,
  dir: string,
  password: string | undefined,
  extra: string[] = [],
): Proc {
  const args = ["--server", `127.0.0.1:${port}`, "--user", user, "--data", dir, "--heartbeat-ms", "1000"];
  return hallway(user, ["client", "--json", ...args, ...extra], { ...HOME, HALLWAY_PASSWORD: password });
}

function server(name: string, dataDir: string, port: number, json = true): Proc {
  const args = ["server", "--host", "127.0.0.1", "--port", String(port), "--data", dataDir, "--no-mdns"];
  return hallway(name, json ? [...args, "--json"] : args, HOME);
}

describe("accounts", () => {
  it(
    "wrong password and unknown user fail with one line each; the account and its mail are intact",
    async () => {
      const reg = await startRegistry(tempDir("registry"));
      const alice = await online("alice", reg.port);
      const bobDir = await registeredOffline("bob", reg.port);
      alice.send({ cmd: "send", to: "bob", text: "kept for bob" });
      await alice.waitFor((e) => e.event === "sent" && e.via === "offline", "stored for bob");

      await expectJsonFailure(clientOf("bob", reg.port, bobDir, "not the password"), "AUTH_BAD_PASSWORD");
      await expectJsonFailure(clientOf("carol", reg.port, tempDir("carol"), PASSWORD), "AUTH_UNKNOWN_USER");
      // Longer than the wire allows for a name: still nobody's name, not a lost registry.
      await expectJsonFailure(
        clientOf("x".repeat(70), reg.port, tempDir("long"), PASSWORD),
        "AUTH_UNKNOWN_USER",
      );
      await expectJsonFailure(clientOf("bob", reg.port, bobDir, `a${"b".repeat(1100)}`), "AUTH_BAD_PASSWORD");

      const bob = startClient("bob", reg.port, bobDir);
      const got = await bob.waitFor((e) => e.event === "message", "stored message");
      expect(got).toMatchObject({ from: "alice", text: "kept for bob", via: "offline" });
      expect(alice.events.filter((e) => e.event === "registry" && e.status === "lost")).toEqual([]);
      expect(stackTraceLines(reg.proc.stderr)).toEqual([]);
    },
    TEST_MS,
  );

  it(
    "a duplicate registration is AUTH_USER_EXISTS and leaves the original account alone",
    async () => {
      const reg = await startRegistry(tempDir("registry"));
      const aliceDir = tempDir("alice");
      const alice = await online("alice", reg.port, aliceDir);

      const impostorDir = tempDir("impostor");
      await expectJsonFailure(
        clientOf("alice", reg.port, impostorDir, "another long passphrase", ["--register"]),
        "AUTH_USER_EXISTS",
      );
      // Same name, same password, same device: still taken.
      await expectJsonFailure(
        clientOf("alice", reg.port, aliceDir, PASSWORD, ["--register"]),
        "AUTH_USER_EXISTS",
      );
      // The failed registration did not set its password.
      await expectJsonFailure(
        clientOf("alice", reg.port, impostorDir, "another long passphrase"),
        "AUTH_BAD_PASSWORD",
      );

      // The signed-in alice was not disturbed and the registry still answers her.
      alice.send({ cmd: "users" });
      const users = await alice.waitFor((e) => e.event === "users", "users");
      expect(users.users).toEqual([expect.objectContaining({ name: "alice", status: "online" })]);
      alice.send({ cmd: "quit" });
      expect(await alice.waitExit("alice quits")).toBe(0);
      const again = startClient("alice", reg.port, aliceDir);
      await again.waitFor((e) => e.event === "ready", "alice logs in with her own password");
    },
    TEST_MS,
  );

  it(
    "registration refuses bad user names and weak passwords with their own codes",
    async () => {
      const reg = await startRegistry(tempDir("registry"));
      const cases: Array<[user: string, password: string, code: string]> = [
        ["ab", PASSWORD, "AUTH_BAD_USERNAME"],
        ["admin", PASSWORD, "AUTH_BAD_USERNAME"],
        ["9lives", PASSWORD, "AUTH_BAD_USERNAME"],
        ["dave!", PASSWORD, "AUTH_BAD_USERNAME"],
        ["d".repeat(33), PASSWORD, "AUTH_BAD_USERNAME"],
        // Longer than a name on the wire may be: the registry must still get to say no.
        ["e".repeat(70), PASSWORD, "AUTH_BAD_USERNAME"],
        ["dave", "short", "AUTH_WEAK_PASSWORD"],
        ["dave", "password123", "AUTH_WEAK_PASSWORD"],
        ["dave", "i-am-dave-really", "AUTH_WEAK_PASSWORD"],
        [
          "dave",
          Array.from({ length: 1100 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(""),
          "AUTH_WEAK_PASSWORD",
        ],
      ];
      const runs = cases.map(([user, password, code], i) => ({
        code,
        proc: clientOf(user, reg.port, tempDir(`reg${i}`), password, ["--register"]),
      }));
      for (const r of runs) await expectJsonFailure(r.proc, r.code);

      // None of the attempts created an account: dave can still be registered.
      const dave = await online("dave", reg.port);
      dave.send({ cmd: "users" });
      const users = await dave.waitFor((e) => e.event === "users", "users");
      expect((users.users as Json[]).map((u) => u.name)).toEqual(["dave"]);
    },
    TEST_MS,
  );
});

describe("messages and commands", () => {
  it(
    "oversized, empty, malformed and misaddressed input fails alone and the client keeps chatting",
    async () => {
      const reg = await startRegistry(tempDir("registry"));
      const alice = await online("alice", reg.port);
      const bob = await online("bob", reg.port);
      await alice.waitFor((e) => e.event === "presence" && e.user === "bob", "bob online");

      const expected: string[] = [];
      const expectError = (code: string) => expected.push(code);
      alice.send({ cmd: "send", to: "bob", text: "x".repeat(16 * 1024 + 1) });
      expectError("MSG_TOO_LARGE");
      // 8193 two-byte characters: under the limit in UTF-16 units, over it in UTF-8 bytes.
      alice.send({ cmd: "send", to: "bob", text: "é".repeat(8193) });
      expectError("MSG_TOO_LARGE");
      alice.send({ cmd: "send", to: "bob", text: "" });
      expectError("MSG_EMPTY");
      for (const line of [
        "not json",
        "{",
        "[]",
        "null",
        '"send"',
        '{"cmd":"dance"}',
        '{"cmd":"send","to":"bob"}',
        '{"cmd":"send","to":"bob","text":7}',
        '{"cmd":"history","with":"bob","limit":0}',
        '{"cmd":"history","with":"bob","limit":"5"}',
      ]) {
        alice.sendLine(line);
        expectError("CLI_BAD_COMMAND");
      }
      alice.send({ cmd: "send", to: "nobody", text: "hello?" });
      expectError("MSG_UNKNOWN_RECIPIENT");
      alice.send({ cmd: "send", to: "z".repeat(64), text: "hello?" });
      expectError("MSG_UNKNOWN_RECIPIENT");
      // Blank once trimmed, and a name that only grows past the wire limit when lower-cased.
      alice.send({ cmd: "send", to: "   ", text: "hello?" });
      expectError("MSG_UNKNOWN_RECIPIENT");
      alice.send({ cmd: "send", to: "İ".repeat(40), text: "hello?" });
      expectError("MSG_UNKNOWN_RECIPIENT");

      const errors = await alice.waitForCount(
        (e) => e.event === "error",
        expected.length,
        "one error per bad command",
        10_000,
      );
      expect(errors.map((e) => e.code).sort()).toEqual([...expected].sort());
      for (const e of errors) expect(e.message).not.toMatch(/\n/);

      // Exactly at the limit goes through, and so does the next message, in order.
      const atLimit = "y".repeat(16 * 1024);
      alice.send({ cmd: "send", to: "bob", text: atLimit });
      alice.send({ cmd: "send", to: "bob", text: "still here" });
      const got = await bob.waitForCount((e) => e.event === "message", 2, "both messages");
      expect(got.map((e) => e.text)).toEqual([atLimit, "still here"]);
      alice.send({ cmd: "history", with: "  bob  ", limit: 10 });
      await alice.waitFor((e) => e.event === "history", "history answer");

      expect(alice.events.filter((e) => e.event === "error")).toHaveLength(expected.length);
      expect(alice.events.filter((e) => e.event === "registry" && e.status === "lost")).toEqual([]);
      expect(alice.events.filter((e) => e.event === "non-json")).toEqual([]);
      expect(stackTraceLines([...alice.stderr, ...reg.proc.stderr])).toEqual([]);
    },
    TEST_MS,
  );
});

/** Junk for a Hallway port: random bytes, forged and truncated headers, huge and STUN-like datagrams. */
function garbage(seed: number): Uint8Array[] {
  const rng = new Prng(seed);
  const out: Uint8Array[] = [new Uint8Array(0), Uint8Array.of(0x91), Uint8Array.of(0x94, 0, 0)];
  for (let i = 0; i < 60; i++) out.push(rng.bytes(1 + rng.int(1400)));
  // Every session kind (0x91..0x94), cut at each header boundary and padded with junk.
  for (const b0 of [0x91, 0x92, 0x93, 0x94]) {
    for (const len of [2, 5, 7, 8, 9, 12, 13, 28, 29, 30, 61, 200, 1199, 1200, 1300, 1500]) {
      const d = rng.bytes(len);
      d[0] = b0;
      out.push(d);
    }
  }
  // Well-formed HS_INIT framing around a junk, an all-zero (low-order) and an all-ones key,
  // and framing that lies about the Noise message length.
  for (const [fill, noiseLen] of [
    [-1, 32],
    [0, 32],
    [0xff, 32],
    [-1, 48],
    [-1, 1024],
    [-1, 1025],
    [-1, 0xffff],
  ] as const) {
    const d = new Uint8Array(1200);
    d.set(rng.bytes(4), 1);
    d[0] = 0x91;
    d[5] = noiseLen >> 8;
    d[6] = noiseLen & 0xff;
    d.set(fill < 0 ? rng.bytes(32) : new Uint8Array(32).fill(fill), 7);
    out.push(d);
  }
  // DATA with a random receiver index and packet numbers beyond 2^53.
  for (const hi of [0, 0x1fffff, 0x200000, 0xffffffff]) {
    const d = rng.bytes(100);
    d[0] = 0x94;
    new DataView(d.buffer).setUint32(5, hi);
    out.push(d);
  }
  // Other versions and kinds.
  for (const b0 of [0x80, 0x81, 0x90, 0x95, 0x9f, 0xa1, 0xc4, 0xff]) {
    const d = rng.bytes(1200);
    d[0] = b0;
    out.push(d);
  }
  // Oversized: past the 1500-byte limit, up to the largest IPv4 UDP payload.
  for (const [b0, len] of [
    [0x91, 1501],
    [0x94, 4000],
    [0x92, 9000],
    [0x94, 65_507],
    [0x00, 65_507],
  ] as const) {
    const d = rng.bytes(len);
    d[0] = b0;
    out.push(d);
  }
  // STUN-looking: binding requests with the magic cookie and junk attributes, and truncated ones.
  for (const len of [20, 28, 64, 548, 1400, 19, 4]) {
    const d = rng.bytes(len);
    d[0] = 0x00;
    d[1] = 0x01;
    if (len >= 8) d.set([0x21, 0x12, 0xa4, 0x42], 4);
    if (len >= 4) new DataView(d.buffer).setUint16(2, (len - 20) & 0xffff);
    out.push(d);
  }
  return out;
}

describe("malformed datagrams", () => {
  it(
    "garbage at the registry's port: no crash, no stack trace; chat and stored mail survive",
    async () => {
      const reg = await startRegistry(tempDir("registry"));
      const alice = await online("alice", reg.port);
      const bobDir = await registeredOffline("bob", reg.port);
      alice.send({ cmd: "send", to: "bob", text: "before the blast" });
      await alice.waitFor((e) => e.event === "sent" && e.via === "offline", "stored before");

      const junk = garbage(0x6a11);
      await sendDatagrams(reg.port, junk);
      await sendDatagrams(reg.port, junk);

      expect(reg.proc.running).toBe(true);
      // The registry still answers the signed-in client...
      alice.send({ cmd: "users" });
      await alice.waitFor((e) => e.event === "users", "users after the blast");
      alice.send({ cmd: "send", to: "bob", text: "after the blast" });
      await alice.waitForCount((e) => e.event === "sent" && e.via === "offline", 2, "stored after");
      // ...and accepts a new one, who gets what was stored before and after, in order.
      const bob = startClient("bob", reg.port, bobDir);
      const got = await bob.waitForCount((e) => e.event === "message", 2, "stored messages");
      expect(got.map((e) => e.text)).toEqual(["before the blast", "after the blast"]);
      // Direct chat still works both ways.
      await alice.waitFor((e) => e.event === "presence" && e.user === "bob" && e.status === "online", "bob");
      bob.send({ cmd: "send", to: "alice", text: "direct to alice" });
      await alice.waitFor((e) => e.event === "message" && e.text === "direct to alice", "direct message");

      expect(reg.proc.running).toBe(true);
      expect(alice.events.filter((e) => e.event === "registry" && e.status === "lost")).toEqual([]);
      expect(alice.events.filter((e) => e.event === "error")).toEqual([]);
      expect(stackTraceLines(reg.proc.stderr)).toEqual([]);
      expect(reg.proc.events.filter((e) => e.event !== "listening")).toEqual([]);
    },
    TEST_MS,
  );

  it(
    "garbage at a client's own port does not break it",
    async () => {
      const reg = await startRegistry(tempDir("registry"));
      const alice = await online("alice", reg.port);
      const bob = await online("bob", reg.port);
      await bob.waitFor((e) => e.event === "presence" && e.user === "alice", "alice online");
      const connected = await alice.waitFor(
        (e) => e.event === "registry" && e.status === "connected",
        "connected",
      );
      const alicePort = connected.localPort;
      expect(typeof alicePort).toBe("number");

      await sendDatagrams(alicePort as number, garbage(0xc11e));

      bob.send({ cmd: "send", to: "alice", text: "are you still there?" });
      const got = await alice.waitFor((e) => e.event === "message", "message after the blast");
      expect(got).toMatchObject({ text: "are you still there?", via: "direct" });
      alice.send({ cmd: "send", to: "bob", text: "yes" });
      await bob.waitFor((e) => e.event === "message" && e.text === "yes", "answer");
      alice.send({ cmd: "users" });
      await alice.waitFor((e) => e.event === "users", "registry still answers alice");

      expect(alice.running).toBe(true);
      expect(alice.events.filter((e) => e.event === "error" || e.event === "non-json")).toEqual([]);
      expect(stackTraceLines(alice.stderr)).toEqual([]);
    },
    TEST_MS,
  );
});

describe("environment", () => {
  it(
    "an unreachable registry is REGISTRY_UNREACHABLE with exit status 1",
    async () => {
      const port = await unusedPort();
      const p = clientOf("alice", port, tempDir("alice"), PASSWORD);
      const e = await expectJsonFailure(p, "REGISTRY_UNREACHABLE");
      expect(e.message).toContain(`127.0.0.1:${port}`);
    },
    TEST_MS,
  );

  it(
    "a second registry on a taken port is PORT_IN_USE; the first keeps serving and keeps its mail",
    async () => {
      const dir = tempDir("registry");
      const reg = await startRegistry(dir);
      const alice = await online("alice", reg.port);
      const bobDir = await registeredOffline("bob", reg.port);
      alice.send({ cmd: "send", to: "bob", text: "kept through a failed start" });
      await alice.waitFor((e) => e.event === "sent" && e.via === "offline", "stored");

      // The same port and the same data directory, then the same port and another directory.
      await expectJsonFailure(server("second", dir, reg.port), "PORT_IN_USE");
      const line = await expectLineFailure(server("third", tempDir("other"), reg.port, false));
      expect(line).toContain(String(reg.port));

      expect(reg.proc.running).toBe(true);
      const bob = startClient("bob", reg.port, bobDir);
      const got = await bob.waitFor((e) => e.event === "message", "stored message");
      expect(got.text).toBe("kept through a failed start");
      expect(alice.events.filter((e) => e.event === "registry" && e.status === "lost")).toEqual([]);
    },
    TEST_MS,
  );

  it(
    "offline mail stored before a crash survives a failed restart and is delivered after a good one",
    async () => {
      const dir = tempDir("registry");
      const reg = await startRegistry(dir);
      const alice = await online("alice", reg.port);
      const bobDir = await registeredOffline("bob", reg.port);
      for (const text of ["one", "two", "three"]) alice.send({ cmd: "send", to: "bob", text });
      await alice.waitForCount((e) => e.event === "sent" && e.via === "offline", 3, "stored");

      await reg.proc.kill("SIGKILL");
      // Something else grabs the port while the registry is down: the restart fails cleanly.
      const squatter = dgram.createSocket("udp4");
      await new Promise<void>((resolve) => squatter.bind(reg.port, "127.0.0.1", resolve));
      try {
        await expectJsonFailure(server("restart", dir, reg.port), "PORT_IN_USE");
      } finally {
        await new Promise<void>((resolve) => squatter.close(() => resolve()));
      }

      await startRegistry(dir, reg.port);
      const bob = startClient("bob", reg.port, bobDir);
      const got = await bob.waitForCount((e) => e.event === "message", 3, "stored messages");
      expect(got.map((e) => e.text)).toEqual(["one", "two", "three"]);
    },
    TEST_MS,
  );

  it(
    "an unusable data directory is DATA_DIR_UNUSABLE, for the registry and for a client",
    async () => {
      // Root ignores permission bits, but nobody can make a directory below a regular file.
      const file = join(tempDir("plain"), "not-a-directory");
      writeFileSync(file, "");
      const below = join(file, "data");

      await expectJsonFailure(server("registry", below, 0), "DATA_DIR_UNUSABLE");
      const line = await expectLineFailure(server("registry", below, 0, false));
      expect(line).toContain(below);
      const port = await unusedPort();
      await expectJsonFailure(clientOf("alice", port, below, PASSWORD), "DATA_DIR_UNUSABLE");
    },
    TEST_MS,
  );

  it(
    "no password and no terminal is AUTH_NO_PASSWORD",
    async () => {
      const port = await unusedPort();
      await expectJsonFailure(clientOf("alice", port, tempDir("alice"), undefined), "AUTH_NO_PASSWORD");
      await expectJsonFailure(clientOf("alice", port, tempDir("alice"), ""), "AUTH_NO_PASSWORD");
    },
    TEST_MS,
  );

  it(
    "bad arguments are CLI_BAD_ARGS with exit status 2, as an event or one stderr line",
    async () => {
      const dir = tempDir("data");
      const port = await unusedPort();
      const safeServer = ["server", "--host", "127.0.0.1", "--data", dir, "--no-mdns"];
      const safeClient = ["--server", `127.0.0.1:${port}`, "--data", dir];
      const jsonCases: string[][] = [
        ["client", "--json", ...safeClient],
        ["client", "--json", ...safeClient, "--user", "alice", "--heartbeat-ms", "5"],
        ["client", "--json", ...safeClient, "--user", "alice", "--direct-timeout-ms", "soon"],
        ["client", "--json", "--data", dir, "--user", "alice", "--server", "127.0.0.1:notaport"],
        ["client", "--json", "--data", dir, "--user", "alice", "--server", "127.0.0.1:70000"],
        ["client", "--json", ...safeClient, "--user", "alice", "--bogus"],
        [...safeServer, "--json", "--port", "70000"],
        [...safeServer, "--json", "--port", "0", "--verbose"],
      ];
      const lineCases: string[][] = [
        [...safeServer, "--port", "abc"],
        [...safeServer, "--port", "0", "extra-argument"],
        ["--nope"],
      ];
      const json = jsonCases.map((args, i) =>
        hallway(`json${i}`, args, { ...HOME, HALLWAY_PASSWORD: PASSWORD }),
      );
      const lines = lineCases.map((args, i) =>
        hallway(`line${i}`, args, { ...HOME, HALLWAY_PASSWORD: PASSWORD }),
      );
      for (const p of json) await expectJsonFailure(p, "CLI_BAD_ARGS", 2);
      for (const p of lines) await expectLineFailure(p, 2);
    },
    TEST_MS,
  );
});

describe("registry key", () => {
  it(
    "a client refuses a registry whose key changed, before it logs in, and keeps the pin",
    async () => {
      const dirA = tempDir("registry-a");
      const a = await startRegistry(dirA);
      const aliceDir = await registeredOffline("alice", a.port);
      const pins = readFileSync(join(aliceDir, "pinned-registries.json"), "utf8");
      expect(JSON.parse(pins)).toHaveProperty(`127.0.0.1:${a.port}`);

      a.proc.child.kill("SIGTERM");
      expect(await a.proc.waitExit("registry A stops")).toBe(0);
      const b = await startRegistry(tempDir("registry-b"), a.port);

      const e = await expectJsonFailure(startClient("alice", a.port, aliceDir), "REGISTRY_KEY_CHANGED");
      expect(e.message).toContain("pinned");
      expect(readFileSync(join(aliceDir, "pinned-registries.json"), "utf8")).toBe(pins);
      expect(b.proc.stderr.filter((l) => l.includes("alice"))).toEqual([]);

      // The real registry comes back: nothing was lost on either side.
      b.proc.child.kill("SIGTERM");
      expect(await b.proc.waitExit("registry B stops")).toBe(0);
      await startRegistry(dirA, a.port);
      await startClient("alice", a.port, aliceDir).waitFor((x) => x.event === "ready", "alice back");
    },
    TEST_MS,
  );

  it(
    "a connected client whose registry is replaced by another key stops with REGISTRY_KEY_CHANGED",
    async () => {
      const a = await startRegistry(tempDir("registry-a"));
      const alice = await online("alice", a.port);

      await a.proc.kill("SIGKILL");
      const b = await startRegistry(tempDir("registry-b"), a.port);

      await alice.waitFor(isError("REGISTRY_KEY_CHANGED"), "key changed", 15_000);
      expect(await alice.waitExit("alice stops")).toBe(1);
      expect(alice.events.filter((e) => e.event === "ready")).toHaveLength(1);
      expect(alice.events.filter((e) => e.event === "error")).toHaveLength(1);
      expect(alice.events.some((e) => e.event === "bye")).toBe(false);
      expect(stackTraceLines(alice.stderr)).toEqual([]);
      expect(b.proc.stderr.filter((l) => l.includes("alice"))).toEqual([]);
    },
    TEST_MS,
  );
});

/** A secure session from the test process itself, speaking raw control messages. */
interface RawSession {
  host: UdpHost;
  conn: HostedConnection;
  received: Json[];
  send(text: string): void;
}

const utf8 = new TextEncoder();

async function rawSession(port: number, hello?: string): Promise<RawSession> {
  const host = new UdpHost({
    identity: generateIdentity((n) => new Uint8Array(randomBytes(n))),
    acceptIncoming: false,
    host: "127.0.0.1",
  });
  rawHosts.push(host);
  const received: Json[] = [];
  host.handlers = { onMessage: (_conn, bytes) => received.push(JSON.parse(Buffer.from(bytes).toString())) };
  await host.start();
  const payload =
    hello === undefined ? {} : { payload: utf8.encode(JSON.stringify({ t: "hello", user: hello })) };
  const conn = await host.connect({ host: "127.0.0.1", port }, payload);
  return { host, conn, received, send: (text) => host.send(conn, utf8.encode(text)) };
}

async function until(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("raw sessions", () => {
  it(
    "the registry answers a request it cannot read instead of leaving it to time out",
    async () => {
      const reg = await startRegistry(tempDir("registry"));
      const raw = await rawSession(reg.port);
      raw.send('{"t":"frobnicate","rid":7}');
      raw.send('{"t":"lookup","rid":8,"user":""}');
      raw.send('{"t":"login","rid":9,"user":"alice"}');
      raw.send("not json, and no rid to answer");
      raw.send('{"t":"users","rid":10}');
      await until(() => raw.received.length >= 4, "four answers");
      expect(raw.received).toEqual([
        { t: "err", rid: 7, code: "PROTO_BAD_MESSAGE", message: expect.any(String) },
        { t: "err", rid: 8, code: "PROTO_BAD_MESSAGE", message: expect.any(String) },
        { t: "err", rid: 9, code: "PROTO_BAD_MESSAGE", message: expect.any(String) },
        { t: "err", rid: 10, code: "AUTH_NOT_LOGGED_IN", message: "log in first" },
      ]);
      expect(reg.proc.running).toBe(true);
      expect(stackTraceLines(reg.proc.stderr)).toEqual([]);
    },
    TEST_MS,
  );

  it(
    "a stranger's session that claims to be a peer is refused without breaking the real peer's",
    async () => {
      const reg = await startRegistry(tempDir("registry"));
      const alice = await online("alice", reg.port);
      const bob = startClient("bob", reg.port, tempDir("bob"), [
        "--register",
        "--direct-timeout-ms",
        "10000",
      ]);
      await bob.waitFor((e) => e.event === "ready", "bob ready");
      await alice.waitFor((e) => e.event === "presence" && e.user === "bob", "bob online");
      alice.send({ cmd: "send", to: "bob", text: "hi bob" });
      await bob.waitFor((e) => e.event === "message" && e.via === "direct", "direct message to bob");
      bob.send({ cmd: "send", to: "alice", text: "hi alice" });
      await alice.waitFor((e) => e.event === "message" && e.via === "direct", "direct message to alice");
      const connected = await alice.waitFor(
        (e) => e.event === "registry" && e.status === "connected",
        "port",
      );
      const alicePort = connected.localPort as number;

      // Someone with another key says "I am bob", and someone says they are a user nobody registered.
      await rawSession(alicePort, "bob");
      await alice.waitFor(isError("AUTH_KEY_MISMATCH"), "impostor refused");
      await rawSession(alicePort, "mallory");
      await alice.waitForCount(isError("AUTH_KEY_MISMATCH"), 2, "stranger refused", 8000);

      // The real bob's session is untouched: his next message still arrives directly.
      bob.send({ cmd: "send", to: "alice", text: "still me" });
      const got = await alice.waitFor(
        (e) => e.event === "message" && e.text === "still me",
        "still me",
        8000,
      );
      expect(got.via).toBe("direct");
      expect(alice.events.filter((e) => e.event === "error")).toHaveLength(2);
    },
    TEST_MS,
  );
});
