/**
 * Line mode's file commands with real processes on loopback: `hallway client` reading plain
 * lines from a pipe (no terminal), beside headless peers. `/send` to two people with a quoted
 * path, `/files` with the numbers, `/cancel N`, `/accept N` and `/decline`, each answered in
 * plain words. (The terminal's updating progress line is drawn only on a terminal; the
 * network lab's line-mode test runs one in tmux.)
 */

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  hallway,
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

const PASSWORD = "correct horse battery staple";
const TEST_MS = 90_000;

/** The first output line (past or future) matching `re`, as its match. */
async function line(p: Proc, re: RegExp, what: string): Promise<RegExpMatchArray> {
  const e = await p.waitFor((x) => x.event === "non-json" && re.test(String(x.line)), what, 20_000);
  return String(e.line).match(re) as RegExpMatchArray;
}

const transfer = (state: string) => (e: Json) => e.event === "transfer" && e.state === state;

describe("line mode file commands", () => {
  it(
    "sends to two people, lists, cancels, accepts and declines by number, in plain words",
    async () => {
      const reg = await startRegistry(tempDir("registry"));
      const bob = startClient("bob", reg.port, tempDir("bob"), ["--register"]);
      const dave = startClient("dave", reg.port, tempDir("dave"), ["--register"]);
      await bob.waitFor((e) => e.event === "ready", "bob ready");
      await dave.waitFor((e) => e.event === "ready", "dave ready");

      const downloads = tempDir("carol-downloads");
      const carol = hallway(
        "carol",
        [
          "client",
          "--server",
          `127.0.0.1:${reg.port}`,
          "--user",
          "carol",
          "--data",
          tempDir("carol"),
          "--download-dir",
          downloads,
        ],
        { HALLWAY_PASSWORD: PASSWORD },
      );
      // The answer to "Register it?" typed ahead of its question.
      carol.sendLine("y");
      await line(carol, /logged in as carol/, "carol logged in");
      await bob.waitFor((e) => e.event === "presence" && e.user === "carol", "carol online at bob");

      const src = join(tempDir("src"), "week notes.txt");
      writeFileSync(src, "notes of the week\n".repeat(1000));
      carol.sendLine(`/send bob,dave '${src}'`);
      const toBob = await line(
        carol,
        /^\* #(\d+) offering "week notes\.txt" \(.+\) to bob \(\/cancel \1 stops it\)$/,
        "offer to bob",
      );
      const toDave = await line(
        carol,
        /^\* #(\d+) offering "week notes\.txt" \(.+\) to dave/,
        "offer to dave",
      );
      expect(toBob[1]).not.toBe(toDave[1]);
      const atBob = await bob.waitFor(transfer("offered"), "offer at bob");
      await dave.waitFor(transfer("offered"), "offer at dave");

      carol.sendLine("/files");
      await line(
        carol,
        new RegExp(`^ {2}#${toDave[1]} → dave "week notes\\.txt" .* waiting for an answer$`),
        "dave's row",
      );

      bob.send({ cmd: "acceptFile", id: atBob.id });
      await line(carol, new RegExp(`^\\* #${toBob[1]} sent "week notes\\.txt" to bob$`), "sent to bob");
      const saved = await bob.waitFor(transfer("done"), "saved at bob");
      expect(readFileSync(saved.path as string)).toEqual(readFileSync(src));

      carol.sendLine(`/cancel ${toDave[1]}`);
      await line(
        carol,
        new RegExp(`^\\* #${toDave[1]} you cancelled "week notes\\.txt"$`),
        "cancelled at carol",
      );
      expect(await dave.waitFor(transfer("cancelled"), "cancelled at dave")).toMatchObject({ by: "peer" });

      // Offers to carol: accepted by number, then one declined without a number (the oldest).
      const report = join(tempDir("bob-src"), "report.bin");
      writeFileSync(report, createHash("sha256").update("r").digest());
      bob.send({ cmd: "sendFile", to: "carol", path: report });
      const offered = await line(
        carol,
        /^\* #(\d+) bob offers "report\.bin" \(32 B\): \/accept \1 or \/decline \1$/,
        "offer",
      );
      carol.sendLine(`/accept ${offered[1]}`);
      await line(
        carol,
        new RegExp(`^\\* #${offered[1]} saved "report\\.bin" from bob to ${join(downloads, "report.bin")}$`),
        "saved",
      );
      expect(readFileSync(join(downloads, "report.bin"))).toEqual(readFileSync(report));

      bob.send({ cmd: "sendFile", to: "carol", path: report });
      const second = await line(
        carol,
        new RegExp(`^\\* #(?!${offered[1]}\\b)(\\d+) bob offers "report\\.bin"`),
        "second offer",
      );
      carol.sendLine("/decline");
      await line(
        carol,
        new RegExp(`^\\* #${second[1]} you declined "report\\.bin" from bob$`),
        "declined at carol",
      );
      expect(
        await bob.waitFor(
          (e) => e.event === "transfer" && e.state === "failed" && e.code === "FILE_DECLINED",
          "declined",
        ),
      ).toMatchObject({ by: "peer" });

      carol.sendLine("/cancel 999");
      await line(carol, /^! no running transfer 999$/, "an unknown number");
      carol.sendLine("/send bob '/no/such file'");
      await line(carol, /^! no file at \/no\/such file$/, "a missing file");

      carol.sendLine("/quit");
      expect(await carol.waitExit("carol quits")).toBe(0);
    },
    TEST_MS,
  );
});
