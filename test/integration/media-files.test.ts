/**
 * Received media through the real CLI on loopback: the JSON mode's `done` event carries what
 * a file is, sniffed from its bytes (a PNG's dimensions, a WAV's duration, nothing for text
 * named like an image), and line mode prints the media line and answers `/open N` with one
 * line when the machine has no opener. (The terminal UI's preview: test/netlab/tui-media.test.ts.)
 */

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePng, quadrants } from "../unit/media/encode.js";
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
const TEST_MS = 60_000;

const doneFile = (name: string) => (e: Json) =>
  e.event === "transfer" && e.state === "done" && e.direction === "receive" && e.name === name;

async function line(p: Proc, re: RegExp, what: string): Promise<RegExpMatchArray> {
  const e = await p.waitFor((x) => x.event === "non-json" && re.test(String(x.line)), what, 20_000);
  return String(e.line).match(re) as RegExpMatchArray;
}

/** A small PNG whose header claims 60000×60000. */
function hugeHeader(): Buffer {
  const png = encodePng(1, 1, new Uint8Array(4));
  png.writeUInt32BE(60000, 16);
  png.writeUInt32BE(60000, 20);
  return png;
}

function wav(seconds: number): Buffer {
  const rate = 8000;
  const head = Buffer.alloc(44);
  head.write("RIFF", 0);
  head.writeUInt32LE(36 + rate * 2 * seconds, 4);
  head.write("WAVEfmt ", 8);
  head.writeUInt32LE(16, 16);
  head.writeUInt16LE(1, 20);
  head.writeUInt16LE(1, 22);
  head.writeUInt32LE(rate, 24);
  head.writeUInt32LE(rate * 2, 28);
  head.writeUInt16LE(2, 32);
  head.writeUInt16LE(16, 34);
  head.write("data", 36);
  head.writeUInt32LE(rate * 2 * seconds, 40);
  return Buffer.concat([head, Buffer.alloc(rate * 2 * seconds)]);
}

describe("received media", () => {
  it(
    "the JSON done event says what the file is, from its bytes",
    async () => {
      const reg = await startRegistry(tempDir("registry"));
      const bob = startClient("bob", reg.port, tempDir("bob"), ["--register"]);
      const dave = startClient("dave", reg.port, tempDir("dave"), [
        "--register",
        "--accept-files",
        tempDir("dave-in"),
      ]);
      await bob.waitFor((e) => e.event === "ready", "bob ready");
      await dave.waitFor((e) => e.event === "ready", "dave ready");
      const src = tempDir("src");
      const files: Record<string, Buffer> = {
        "photo.bin": encodePng(64, 48, quadrants(64, 48)),
        "memo.wav": wav(3),
        "fake.png": Buffer.from("text, whatever the name says\n"),
        "huge.png": hugeHeader(),
      };
      for (const [name, data] of Object.entries(files)) {
        writeFileSync(join(src, name), data);
        bob.send({ cmd: "sendFile", to: "dave", path: join(src, name) });
      }
      const png = await dave.waitFor(doneFile("photo.bin"), "the PNG at dave", 20_000);
      expect(png.media).toEqual({ kind: "image", format: "png", width: 64, height: 48 });
      const audio = await dave.waitFor(doneFile("memo.wav"), "the WAV at dave", 20_000);
      expect(audio.media).toEqual({ kind: "audio", format: "wav", durationMs: 3000 });
      const text = await dave.waitFor(doneFile("fake.png"), "the text at dave", 20_000);
      expect(text.media).toBeUndefined();
      // What the header claims, reported as such; nothing is decoded to find it.
      const huge = await dave.waitFor(doneFile("huge.png"), "the huge PNG at dave", 20_000);
      expect(huge.media).toEqual({ kind: "image", format: "png", width: 60000, height: 60000 });
    },
    TEST_MS,
  );

  it(
    "line mode shows the media line and says in one line that nothing can open files here",
    async () => {
      const reg = await startRegistry(tempDir("registry"));
      const bob = startClient("bob", reg.port, tempDir("bob"), ["--register"]);
      await bob.waitFor((e) => e.event === "ready", "bob ready");
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
        // A PATH with no opener on it.
        { HALLWAY_PASSWORD: PASSWORD, PATH: tempDir("empty-path") },
      );
      carol.sendLine("y");
      await line(carol, /logged in as carol/, "carol logged in");
      await bob.waitFor((e) => e.event === "presence" && e.user === "carol", "carol online at bob");
      const png = join(tempDir("src"), "team.png");
      writeFileSync(png, encodePng(120, 80, quadrants(120, 80)));
      bob.send({ cmd: "sendFile", to: "carol", path: png });
      const offer = await line(carol, /^\* #(\d+) bob offers "team\.png"/, "the offer");
      const n = offer[1] as string;
      carol.sendLine(`/accept ${n}`);
      await line(
        carol,
        new RegExp(`^\\* #${n} "team\\.png": PNG image, 120×80, \\d[\\d.]* K?B \\(/open ${n}\\)$`),
        "the media line",
      );
      carol.sendLine(`/open ${n}`);
      await line(
        carol,
        new RegExp(
          `^! no program to open files here \\(xdg-open is not installed\\); the file is at ${downloads}/team\\.png$`,
        ),
        "no opener",
      );
      carol.sendLine("/open 99");
      await line(
        carol,
        /^! no received file 99: \/open N takes the number of one that arrived$/,
        "unknown number",
      );
    },
    TEST_MS,
  );
});
