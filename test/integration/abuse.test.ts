/**
 * Abuse limits and account integrity (docs/security.md), with real processes on loopback:
 * a real registry, real clients, and hostile sessions opened by the test process itself (or
 * by a fixture process when their CPU must not disturb a measurement).
 *
 * No test asserts a duration. The one comparison of times is a ratio of medians measured in
 * the same run (another user's round trip during a flood against idle), with hundreds of
 * samples on each side.
 */

import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { Endpoint } from "../../src/protocol/endpoint.js";
import { decodeFrames, encodeFrames } from "../../src/protocol/frames.js";
import { MAX_MESSAGE_BYTES } from "../../src/protocol/limits.js";
import {
  fixture,
  hallway,
  type Json,
  killAll,
  type Proc,
  requireBuild,
  startClient,
  startRegistry,
  tempDir,
} from "./harness.js";
import { loggedIn, median, newIdentity, RawClient, stopRawClients } from "./raw-client.js";

const PASSWORD = "correct horse battery staple";
const TEST_MS = 120_000;

beforeAll(() => requireBuild());
afterEach(async () => {
  await stopRawClients();
  await killAll();
});

/** A limits file (docs/security.md) in a fresh directory. */
function limitsFile(overrides: Json): string {
  const path = join(tempDir("limits"), "limits.json");
  writeFileSync(path, JSON.stringify(overrides));
  return path;
}

/** `hallway server audit` on `dataDir`, as JSON events. */
async function audit(dataDir: string, ...args: string[]): Promise<Json[]> {
  const p = hallway("audit", ["server", "audit", "--data", dataDir, "--json", ...args]);
  expect(await p.waitExit("audit")).toBe(0);
  return p.events;
}

async function online(user: string, port: number, dir = tempDir(user), extra: string[] = []): Promise<Proc> {
  const p = startClient(user, port, dir, ["--register", ...extra]);
  await p.waitFor((e) => e.event === "ready", `${user} ready`);
  return p;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A hostile client that writes its own segments (our channel refuses to send a message over
 * the limit): it sends `message` on stream 0 of a fresh session, segment by segment, and
 * returns the first control message the registry sends back with `rid`.
 */
async function sendRawMessage(port: number, message: Uint8Array, rid: number): Promise<Json | undefined> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const ep = new Endpoint({
    identity: newIdentity(),
    random: (n) => new Uint8Array(randomBytes(n)),
    acceptIncoming: false,
  });
  const now = () => performance.now();
  const flush = () => {
    for (let t = ep.pollTransmit(); t; t = ep.pollTransmit()) socket.send(t.bytes, t.to.port, t.to.host);
  };
  let established = false;
  let answer: Json | undefined;
  socket.on("message", (m, r) => {
    ep.handleDatagram(new Uint8Array(m), { host: r.address, port: r.port }, now());
    for (let ev = ep.pollEvent(); ev; ev = ep.pollEvent()) {
      if (ev.type === "established") established = true;
      if (ev.type !== "data") continue;
      const frames = decodeFrames(ev.payload);
      if (!frames.ok) continue;
      for (const f of frames.value) {
        if (f.type !== "segment") continue;
        try {
          const msg = JSON.parse(Buffer.from(f.payload).toString()) as Json;
          if (msg.rid === rid) answer = msg;
        } catch {}
      }
    }
    flush();
  });
  const timers = setInterval(() => {
    ep.handleTimeout(now());
    flush();
  }, 20);
  try {
    const session = ep.connect({ host: "127.0.0.1", port }, now());
    flush();
    for (let i = 0; i < 250 && !established; i++) await sleep(20);
    const piece = 900;
    const count = Math.ceil(message.length / piece);
    // Every segment again each round until the answer comes: a busy machine drops datagrams,
    // and the registry delivers nothing past a gap (repeats of what it has are dropped).
    for (let round = 0; round < 8 && answer === undefined; round++) {
      for (let seq = 0; seq < count && answer === undefined; seq++) {
        const payload = message.subarray(seq * piece, (seq + 1) * piece);
        const end = seq === count - 1;
        ep.send(session, encodeFrames([{ type: "segment", stream: 0, seq, end, payload }]), now());
        flush();
        if (seq % 8 === 7) await sleep(2); // paced: the registry's socket buffer is not infinite
      }
      for (let i = 0; i < 100 && answer === undefined; i++) await sleep(20);
    }
    return answer;
  } finally {
    clearInterval(timers);
    socket.close();
  }
}

describe("command limits", () => {
  it(
    "a command flood is limited, then ended and blocked; another user's round trips stay within 2× of idle",
    async () => {
      // The defaults would limit the measuring user too (it asks hundreds of times a second);
      // a higher read limit keeps it clear while the flooder, far above it, is still cut off.
      const limits = limitsFile({ commands: { read: { perSecond: 500, burst: 1000 } } });
      const dataDir = tempDir("registry");
      const reg = await startRegistry(dataDir, 0, ["--limits", limits]);
      const bob = await loggedIn(reg.port, "bob", PASSWORD);
      const roundTrips = async (n: number): Promise<number[]> => {
        const out: number[] = [];
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          const a = await bob.request({ t: "heartbeat" });
          out.push(performance.now() - t0);
          expect(a.t).toBe("ok");
          await sleep(2);
        }
        return out;
      };
      await roundTrips(50); // warm-up
      const idleBefore = await roundTrips(300);

      const flood = fixture("mallory", "command-flood.mjs", [
        JSON.stringify({ port: reg.port, user: "mallory", password: PASSWORD }),
      ]);
      await flood.waitFor((e) => e.event === "ready", "the flooder logged in", 30_000);
      const during = await roundTrips(300);
      const ended = await flood.waitFor((e) => e.event === "ended", "the flood ended", 30_000);
      const idleAfter = await roundTrips(300);

      // Limited first, then terminated with the reason. The session.end push waits behind the
      // answers the flooder never acknowledged; the CLOSE says the same and always arrives.
      expect(String(ended.reason)).toMatch(/^SESSION_TERMINATED: too many requests: .*blocked for \d+ s/);
      if (ended.code !== undefined) expect(ended.code).toBe("SESSION_TERMINATED");
      // "too many requests" is struck only by requests answered RATE_LIMITED, so the reason
      // proves the limit came first. Whether those answers reach the flooder before the
      // CLOSE depends on how many earlier answers still wait in its window (0 to ~50 of them
      // arrived in runs), so their count is reported, not asserted.
      expect(ended.ok as number).toBeLessThan(ended.sent as number);
      // Its address and port are blocked (the handshake goes unanswered); from a fresh port
      // the user may not log in while the block lasts.
      expect((await flood.waitFor((e) => e.event === "same-port", "same port", 30_000)).code).toBe(
        "CRYPTO_HANDSHAKE_TIMEOUT",
      );
      const fresh = await flood.waitFor((e) => e.event === "new-port", "new port", 30_000);
      expect(fresh.code).toBe("RATE_LIMITED");
      expect(fresh.retryAfterMs as number).toBeGreaterThan(0);

      const idle = median([...idleBefore, ...idleAfter]);
      const ratio = median(during) / idle;
      console.log(
        `command flood: bob's round trip ${median(during).toFixed(2)} ms during vs ${idle.toFixed(2)} ms idle (×${ratio.toFixed(2)}); mallory sent ${ended.sent}, ${ended.ok} answered, ${ended.limited} RATE_LIMITED`,
      );
      expect(ratio).toBeLessThanOrEqual(2);

      // Logged and audited.
      expect(
        reg.proc.stderr.some((l) => /terminated mallory from 127\.0\.0\.1:\d+ \(too many requests\)/.test(l)),
      ).toBe(true);
      const entries = await audit(dataDir, "--user", "mallory");
      expect(entries.map((e) => e.action)).toEqual(
        expect.arrayContaining(["login", "blocked", "terminated"]),
      );
      expect(entries.find((e) => e.action === "blocked")?.detail).toMatch(/^for \d+ s: too many requests/);
    },
    TEST_MS,
  );
});

describe("login throttling", () => {
  it(
    "200 guesses are throttled, the owner still logs in, and the failures are logged and audited",
    async () => {
      const dataDir = tempDir("registry");
      const reg = await startRegistry(dataDir);
      const aliceDir = tempDir("alice");
      const alice = await online("alice", reg.port, aliceDir);
      alice.send({ cmd: "quit" });
      expect(await alice.waitExit("alice quit")).toBe(0);

      // Guesses from the same host as the owner (loopback), one after another, through any
      // number of sessions: each time the registry cuts one off, the guesser opens another.
      const codes: string[] = [];
      let guesser = await RawClient.open(reg.port);
      let sessions = 1;
      while (codes.length < 200) {
        let answer: Json | undefined;
        try {
          answer = await guesser.request({
            t: "login",
            user: "alice",
            password: `guess number ${codes.length}`,
            heartbeatMs: 10_000,
            addresses: [],
          });
        } catch {
          answer = undefined;
        }
        if (answer) codes.push(String(answer.code));
        if (!answer || guesser.closedReason !== undefined) {
          await guesser.stop();
          guesser = await RawClient.open(reg.port);
          sessions++;
        }
      }
      const checked = codes.filter((c) => c === "AUTH_BAD_PASSWORD").length;
      const throttled = codes.filter((c) => c === "RATE_LIMITED").length;
      console.log(`200 guesses: ${checked} checked, ${throttled} RATE_LIMITED, over ${sessions} sessions`);
      expect(checked + throttled).toBe(200);
      expect(checked).toBeLessThanOrEqual(10);
      expect(codes.includes("undefined")).toBe(false);

      // The owner, on the device the registry knows, logs in at once.
      const back = startClient("alice", reg.port, aliceDir);
      await back.waitFor((e) => e.event === "ready", "alice ready again");

      // Every checked failure is in the log and the audit log.
      const failed = await audit(dataDir, "--user", "alice", "--event", "login_failed");
      expect(failed).toHaveLength(checked);
      expect(
        failed.every((e) => e.detail === "wrong password" && /^127\.0\.0\.1:\d+$/.test(String(e.address))),
      ).toBe(true);
      expect(
        reg.proc.stderr.filter((l) => /failed login for "alice" from 127\.0\.0\.1/.test(l)),
      ).toHaveLength(checked);
    },
    TEST_MS,
  );

  it(
    "password checks queued by a session that goes away are dropped",
    async () => {
      const dataDir = tempDir("registry");
      const reg = await startRegistry(dataDir);
      await (await online("carol", reg.port)).kill("SIGTERM");
      const c = await RawClient.open(reg.port);
      for (let i = 0; i < 5; i++) {
        c.fire({ t: "login", user: "carol", password: `wrong ${i}`, heartbeatMs: 10_000, addresses: [] });
      }
      await c.stop(); // says goodbye at once: four checks are still waiting
      // The one that started may finish; give it time, then count.
      await sleep(3000);
      const failed = await audit(dataDir, "--user", "carol", "--event", "login_failed");
      expect(failed.length).toBeLessThanOrEqual(1);
    },
    TEST_MS,
  );
});

describe("anonymous sessions", () => {
  it(
    "are closed when they do not log in in time, and capped per source host",
    async () => {
      const limits = limitsFile({ anonymous: { loginWithinMs: 1500, perHost: 4 } });
      const reg = await startRegistry(tempDir("registry"), 0, ["--limits", limits]);
      const idle: RawClient[] = [];
      for (let i = 0; i < 4; i++) idle.push(await RawClient.open(reg.port));
      // Over the cap: closed at once.
      const extra = await RawClient.open(reg.port);
      expect(await extra.closed()).toMatch(/not logged in/);
      // The four are reaped when their time is up.
      const reasons = await Promise.all(idle.map((c) => c.closed()));
      expect(reasons).toEqual([
        "no login in time",
        "no login in time",
        "no login in time",
        "no login in time",
      ]);
      expect(reg.proc.stderr.some((l) => /refused a session from 127\.0\.0\.1/.test(l))).toBe(true);
      // Room again: a real client gets in.
      await online("dave", reg.port);
    },
    TEST_MS,
  );
});

describe("every request gets an answer", () => {
  it(
    "ill-encoded, ill-formed, misdirected and oversized requests get an error with a stable code",
    async () => {
      const reg = await startRegistry(tempDir("registry"));
      const c = await loggedIn(reg.port, "erin", PASSWORD);
      // Answers to requests sent as raw bytes land in `pushes` (the client did not number them).
      const wait = async (rid: number) => {
        for (let i = 0; i < 400 && !c.pushes.some((m) => m.rid === rid); i++) await sleep(25);
        return c.pushes.find((m) => m.rid === rid);
      };
      const enc = new TextEncoder();
      // Invalid UTF-8 in a string.
      c.sendBytes(
        Uint8Array.from([
          ...enc.encode('{"rid":901,"t":"profile.get","user":"'),
          0xff,
          0xfe,
          ...enc.encode('"}'),
        ]),
      );
      // A lone surrogate (valid JSON, not valid Unicode).
      c.sendBytes(enc.encode('{"rid":902,"t":"profile.set","patch":{"note":"\\ud800"}}'));
      // A peer's message, not a request, with an rid.
      c.sendBytes(enc.encode('{"rid":903,"t":"hello","user":"erin"}'));
      // Bad JSON.
      c.sendBytes(enc.encode('{"rid":904,"t":"users"'));
      expect((await wait(901))?.code).toBe("PROTO_BAD_MESSAGE");
      expect((await wait(902))?.code).toBe("PROTO_BAD_MESSAGE");
      expect((await wait(903))?.code).toBe("PROTO_UNKNOWN_REQUEST");
      expect((await wait(904))?.code).toBe("PROTO_BAD_MESSAGE");
      // Over the message limit: the registry's channel drops it whole, but its first segment
      // still names the rid, so the sender hears why.
      const big = enc.encode(
        `{"rid":905,"t":"profile.set","patch":{"note":"${"x".repeat(MAX_MESSAGE_BYTES)}"}}`,
      );
      expect((await sendRawMessage(reg.port, big, 905))?.code).toBe("MSG_TOO_LARGE");
      // The session is fine afterwards.
      const after = await c.request({ t: "profile.get", user: "erin" });
      expect(after.t).toBe("ok");
    },
    TEST_MS,
  );
});

describe("quotas", () => {
  it(
    "a full mailbox or request list is a clear QUOTA_FULL to the sender",
    async () => {
      const limits = limitsFile({ quotas: { offlinePerRecipient: 3, friendRequestsPerRecipient: 2 } });
      const reg = await startRegistry(tempDir("registry"), 0, ["--limits", limits]);
      const bob = await online("bob", reg.port);
      bob.send({ cmd: "quit" });
      await bob.waitExit("bob quit");
      const alice = await online("alice", reg.port);
      for (let i = 0; i < 4; i++) alice.send({ cmd: "send", to: "bob", text: `note ${i}` });
      const full = await alice.waitFor((e) => e.event === "error" && e.code === "QUOTA_FULL", "QUOTA_FULL");
      expect(String(full.message)).toMatch(/bob has 3 stored messages waiting/);
      expect(alice.events.filter((e) => e.event === "sent" && e.via === "offline")).toHaveLength(3);

      const carol = await online("carol", reg.port);
      const dave = await online("dave", reg.port);
      alice.send({ cmd: "friend.request", to: "bob" });
      await alice.waitFor((e) => e.event === "ok" && e.cmd === "friend.request", "alice's request");
      carol.send({ cmd: "friend.request", to: "bob" });
      await carol.waitFor((e) => e.event === "ok" && e.cmd === "friend.request", "carol's request");
      dave.send({ cmd: "friend.request", to: "bob" });
      const refused = await dave.waitFor(
        (e) => e.event === "error" && e.cmd === "friend.request",
        "dave refused",
      );
      expect(refused.code).toBe("QUOTA_FULL");
    },
    TEST_MS,
  );
});
