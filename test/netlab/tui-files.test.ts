/**
 * Network lab: files from the real terminal UI in tmux. alice sends a folder to two people
 * with one `/send`, bob accepts it (one answer for the folder) and gets it whole in his
 * download folder, `/files` shows the numbers and `/cancel N` stops carol's.
 *
 *        ns "tf-a"  tmux ─ node dist/cli.js --data …   (alice, the terminal UI)
 *        ns "tf-b"  hallway client --json (bob)      ns "tf-c"  hallway client --json (carol)
 *        ns "tf-c"  hallway server
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CLI, type Json, PASSWORD } from "./fixtures/lab-cli.js";
import { LabTerminal, shellQuote } from "./fixtures/terminal.js";
import { terminalLan } from "./fixtures/terminal-lan.js";
import { shown, TEAM_PHOTOS_BYTES, TEAM_PHOTOS_FILES, teamPhotos, tree } from "./fixtures/tui-files.js";
import { requireLab } from "./lab-guard.js";
import type { LanHost } from "./netns.js";

const lab = requireLab("files from the terminal UI in tmux", { commands: ["tmux"] });
const STEP_MS = 20_000;

describe.skipIf(!lab.canRun)("files from the terminal UI (network lab)", () => {
  const fixture = terminalLan("tuifiles", { name: "tf", subnet: "10.203.33", hosts: ["a", "b", "c"] });
  const { cli, terminals } = fixture;
  let a: LanHost;
  let b: LanHost;
  let c: LanHost;

  beforeAll(() => {
    [a, b, c] = [fixture.host("a"), fixture.host("b"), fixture.host("c")];
  });

  it("sends a folder to two people with one /send, lists the numbers, cancels one by number", async () => {
    const registry = await cli.server(c.ns, "registry");
    const server = `${c.address}:${registry.port}`;
    const bobDownloads = cli.tempDir("bob-downloads");
    const bob = cli.client(b.ns, "bob", ["--register", "--server", server, "--download-dir", bobDownloads]);
    const carol = cli.client(c.ns, "carol", ["--register", "--server", server]);
    const dataDir = cli.tempDir("tf-alice");
    const made = cli.client(a.ns, "alice", ["--register", "--server", server, "--data", dataDir]);
    for (const p of [bob, carol, made]) await p.waitFor((e: Json) => e.event === "ready", "ready", STEP_MS);
    await made.stop();

    // A folder with a space in its name, a subfolder, and a link to outside it.
    const root = teamPhotos(cli.tempDir("tf-src"));

    const command = [
      "env -u HALLWAY_PASSWORD",
      `HALLWAY_HOME=${shellQuote(cli.tempDir("tf-home"))}`,
      shellQuote(process.execPath),
      shellQuote(CLI),
      "--server",
      shellQuote(server),
      "--data",
      shellQuote(dataDir),
    ].join(" ");
    const t = await LabTerminal.start(a.ns, cli.tempDir("tmux"), command);
    terminals.push(t);
    await t.waitFor(/Hallway · (registry found|log in)/, "the first screen", STEP_MS);
    if (/registry found/.test(await t.screen())) await t.press("Enter");
    await t.waitFor(/Hallway · log in/, "the login screen");
    await t.typeLine("alice");
    await t.waitFor(/^ {2}Password {3}\[ *\]/m, "the password field");
    await t.type(PASSWORD);
    await t.press("Enter");
    await t.waitFor(/logged in as alice/, "logged in", STEP_MS);

    // One /send, two people, the path quoted as a terminal pastes a dragged folder.
    await t.typeLine(`/send bob,carol '${root}'`);
    const atBob = await bob.waitFor(
      (e: Json) => e.event === "transfer" && e.state === "offered",
      "offer at bob",
      STEP_MS,
    );
    const atCarol = await carol.waitFor(
      (e: Json) => e.event === "transfer" && e.state === "offered",
      "offer at carol",
      STEP_MS,
    );
    for (const offer of [atBob, atCarol]) {
      expect(offer.batch).toMatchObject({ name: "team photos", files: 2, bytes: TEAM_PHOTOS_BYTES });
    }
    // Told once, however many people the folder goes to.
    const leftOut = await shown(
      t,
      /left out team photos\/escape\.txt: a symbolic link to outside the folder \(not followed\)/,
      "the link left out",
    );
    expect(leftOut.count).toBe(1);

    bob.send({ cmd: "acceptFile", id: atBob.id });
    await bob.waitFor(
      (e: Json) => e.event === "transfer" && e.state === "done" && (e.batch as Json).filesDone === 2,
      "both files at bob",
      STEP_MS,
    );
    expect(tree(join(bobDownloads, "team photos"))).toEqual(TEAM_PHOTOS_FILES);
    expect(readFileSync(join(bobDownloads, "team photos", "2024", "b.jpg"), "utf8")).toBe("bee");

    // carol has not answered: her folder is still listed, with its number.
    await t.typeLine("/files");
    const row = await shown(
      t,
      /#(\d+) → carol "team photos" 39\.1 KB 0\/2 files waiting for an answer/,
      "carol's row",
    );
    const n = row.match[1];
    expect(n).toMatch(/^\d+$/);
    await t.typeLine(`/cancel ${n}`);
    const cancelled = await carol.waitFor(
      (e: Json) => e.event === "transfer" && e.state === "cancelled",
      "cancelled at carol",
      STEP_MS,
    );
    expect(cancelled).toMatchObject({ code: "FILE_CANCELLED", by: "peer" });
    await shown(t, new RegExp(`#${n} you cancelled folder "team photos"`), "the cancel, in plain words");
    await t.typeLine("/files");
    await shown(t, /\* no transfers/, "nothing left running");
  });
});
