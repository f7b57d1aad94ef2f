/**
 * The JSON mode for bots, with real processes on loopback: request ids echoed on answers and
 * errors, `bye` on SIGTERM and SIGINT (after logging out), and `--register-if-missing`.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Json,
  killAll,
  type Proc,
  requireBuild,
  startClient,
  startRegistry,
  tempDir,
} from "./harness.js";

beforeAll(requireBuild);
afterAll(killAll);

const TEST_MS = 60_000;

async function online(user: string, port: number, extra: string[] = ["--register"]): Promise<Proc> {
  const p = startClient(user, port, tempDir(user), extra);
  await p.waitFor((e) => e.event === "ready", `${user} ready`);
  return p;
}

const answerTo = (id: unknown) => (e: Json) => e.id === id;

describe("request ids", () => {
  it(
    "come back as id on the answer and on the error of every kind of command",
    async () => {
      const reg = await startRegistry(tempDir("registry"));
      const alice = await online("alice", reg.port);
      const bob = await online("bob", reg.port);

      alice.send({ cmd: "users", id: "q1" });
      expect(await alice.waitFor(answerTo("q1"), "users answer")).toMatchObject({ event: "users" });

      alice.send({ cmd: "group.create", group: "ops", id: 7 });
      expect(await alice.waitFor(answerTo(7), "group.create answer")).toMatchObject({
        event: "ok",
        cmd: "group.create",
      });

      // Answers that name a message of their own echo the request in an `ok` event.
      alice.send({ cmd: "send", to: "bob", text: "hi", id: "m-1" });
      const sent = await alice.waitFor(answerTo("m-1"), "send answer");
      expect(sent).toMatchObject({ event: "ok", cmd: "send", message: expect.any(String) });
      const got = await bob.waitFor((e) => e.event === "message" && e.text === "hi", "hi at bob");
      expect(got.id).toBe(sent.message);

      alice.send({ cmd: "group.send", group: "ops", text: "standup", id: "g-1" });
      expect(await alice.waitFor(answerTo("g-1"), "group.send answer")).toMatchObject({
        event: "ok",
        cmd: "group.send",
        group: "ops",
        seq: 1,
        message: expect.any(String),
      });

      // Errors: a refused command, an unknown one, and one that fails to parse all say which.
      alice.send({ cmd: "group.join", group: "nosuchgroup", id: "e1" });
      expect(await alice.waitFor(answerTo("e1"), "group.join error")).toMatchObject({
        event: "error",
        cmd: "group.join",
        code: expect.stringMatching(/^GROUP_/),
      });
      alice.send({ cmd: "sendFile", to: "bob", path: "/no/such/file", id: "f1" });
      expect(await alice.waitFor(answerTo("f1"), "sendFile error")).toMatchObject({
        event: "error",
        cmd: "sendFile",
        code: "FILE_NOT_FOUND",
      });
      alice.send({ cmd: "history", with: "bob", limit: 0, id: "bad" });
      expect(await alice.waitFor(answerTo("bad"), "parse error")).toMatchObject({
        event: "error",
        cmd: "history",
        code: "CLI_BAD_COMMAND",
      });
      alice.send({ cmd: "users", id: { nested: true } });
      const badId = await alice.waitFor(
        (e) => e.event === "error" && e.code === "CLI_BAD_COMMAND" && e.cmd === "users",
        "a bad id",
      );
      expect(badId.message).toMatch(/^id: /);

      // A file answer's id is the transfer, as before.
      alice.send({ cmd: "cancelFile", id: "no-such-transfer" });
      expect(await alice.waitFor(answerTo("no-such-transfer"), "cancelFile error")).toMatchObject({
        event: "error",
        cmd: "cancelFile",
        code: "FILE_UNKNOWN_TRANSFER",
      });

      alice.send({ cmd: "quit", id: "bye-1" });
      expect(await alice.waitFor((e) => e.event === "bye", "bye")).toEqual({ event: "bye", id: "bye-1" });
      expect(await alice.waitExit("alice quits")).toBe(0);
    },
    TEST_MS,
  );
});

describe("signals", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(
      `${signal} logs out, says bye and exits 0`,
      async () => {
        const reg = await startRegistry(tempDir("registry"));
        const carol = await online("carol", reg.port);
        const dave = await online("dave", reg.port);
        await dave.waitFor((e) => e.event === "presence" && e.user === "carol", "carol online");
        carol.child.kill(signal);
        expect(await carol.waitFor((e) => e.event === "bye", "bye")).toEqual({ event: "bye" });
        expect(await carol.waitExit(`carol stops on ${signal}`)).toBe(0);
        // Logged out, not timed out: dave hears it at once.
        await dave.waitFor(
          (e) => e.event === "presence" && e.user === "carol" && e.status === "offline",
          "carol offline",
        );
      },
      TEST_MS,
    );
  }

  it(
    "a registry stopped by SIGTERM the moment it says listening exits cleanly",
    async () => {
      const reg = await startRegistry(tempDir("registry"));
      reg.proc.child.kill("SIGTERM");
      expect(await reg.proc.waitExit("registry stops")).toBe(0);
    },
    TEST_MS,
  );
});

describe("--register-if-missing", () => {
  it(
    "creates the account the first time and logs in the next",
    async () => {
      const reg = await startRegistry(tempDir("registry"));
      const dir = tempDir("erin");
      const first = startClient("erin", reg.port, dir, ["--register-if-missing"]);
      await first.waitFor((e) => e.event === "ready", "erin registered and ready");
      first.send({ cmd: "quit" });
      expect(await first.waitExit("erin quits")).toBe(0);
      const again = startClient("erin", reg.port, dir, ["--register-if-missing"]);
      await again.waitFor((e) => e.event === "ready", "erin logged in");
      expect(again.events.some((e) => e.event === "error")).toBe(false);
      // A wrong password is still refused, not turned into a registration.
      const wrong = startClient(
        "erin",
        reg.port,
        tempDir("erin2"),
        ["--register-if-missing"],
        "not the password",
      );
      expect(await wrong.waitFor((e) => e.event === "error", "refused")).toMatchObject({
        code: "AUTH_BAD_PASSWORD",
      });
      expect(await wrong.waitExit("wrong password")).toBe(1);
    },
    TEST_MS,
  );
});

describe("registry log levels", () => {
  it(
    "--log-level warn keeps failed logins and replaced sessions, and drops logins",
    async () => {
      const reg = await startRegistry(tempDir("registry"), 0, ["--log-level", "warn"]);
      const dir = tempDir("fay");
      const fay = await online("fay", reg.port);
      fay.send({ cmd: "quit" });
      await fay.waitExit("fay quits");
      const wrong = startClient("fay", reg.port, dir, [], "not the password");
      expect(await wrong.waitExit("wrong password")).toBe(1);
      // The same account from two devices: the second replaces the first.
      const first = startClient("fay", reg.port, tempDir("fay-a"));
      await first.waitFor((e) => e.event === "ready", "first device");
      const second = startClient("fay", reg.port, tempDir("fay-b"));
      await second.waitFor((e) => e.event === "ready", "second device");
      await first.waitExit("replaced");
      const lines = () => reg.proc.stderr;
      await expect
        .poll(lines)
        .toEqual(
          expect.arrayContaining([
            expect.stringMatching(/^\S+Z warn failed login for "fay" from 127\.0\.0\.1:\d+: /),
            expect.stringMatching(
              /^\S+Z warn fay: the session from 127\.0\.0\.1:\d+ is replaced by a login from /,
            ),
          ]),
        );
      expect(lines().filter((l) => / info /.test(l))).toEqual([]);
    },
    TEST_MS,
  );
});
