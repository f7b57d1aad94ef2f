/**
 * Network lab: an image in the real terminal UI in tmux. bob (headless) sends a PNG made
 * here, under a name with escape sequences in it; alice accepts it in her terminal UI, which
 * shows the file's line with its size and dimensions and, under it, the preview as
 * half-block cells in 256 colours (checked in the escape sequences tmux keeps). Alt+I hides
 * and shows the preview; `/open N` hands the saved path to the desktop's opener (a stand-in
 * xdg-open on the PATH that writes down its arguments).
 *
 *        ns "tm-a"  tmux ─ node dist/cli.js (alice, the terminal UI)
 *        ns "tm-b"  hallway client --json (bob)      ns "tm-b"  hallway server
 *
 * With UPDATE_UI_DOCS=1 it writes the screen it captured into docs/ui.md.
 */

import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePng, quadrants } from "../unit/media/encode.js";
import { DocCaptures } from "./fixtures/doc-captures.js";
import { CLI, type Json, PASSWORD } from "./fixtures/lab-cli.js";
import { LabTerminal, shellQuote } from "./fixtures/terminal.js";
import { terminalLan } from "./fixtures/terminal-lan.js";
import { shown } from "./fixtures/tui-files.js";
import { requireLab } from "./lab-guard.js";
import type { LanHost } from "./netns.js";

const lab = requireLab("an image preview in the terminal UI in tmux", { commands: ["tmux"] });
const STEP_MS = 20_000;
const HALF_BLOCK = "\u2580";
/** What bob offers the file as: an escape sequence that would clear the screen, and a bell. */
const HOSTILE_NAME = "cat\u001b[2J\u0007.png";

const captures = new DocCaptures();

/** Rows of the screen with a whole row of the preview (43 cells). */
function previewRows(rows: string[]): number {
  return rows.filter((r) => r.includes(HALF_BLOCK.repeat(43))).length;
}

/** Polls the visible screen until `ok` holds for its rows; returns them. */
async function visibleUntil(
  t: LabTerminal,
  ok: (rows: string[]) => boolean,
  what: string,
): Promise<string[]> {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    const rows = await t.visible();
    if (ok(rows)) return rows;
    if (Date.now() > deadline) throw new Error(`terminal: no ${what}; screen:\n${rows.join("\n")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!lab.canRun)("an image in the terminal UI (network lab)", () => {
  const fixture = terminalLan("tuimedia", { name: "tm", subnet: "10.203.34", hosts: ["a", "b"] });
  const { cli, terminals } = fixture;
  let a: LanHost;
  let b: LanHost;

  beforeAll(() => {
    [a, b] = [fixture.host("a"), fixture.host("b")];
  });

  afterAll(() => captures.writeIfAsked());

  it("shows a received PNG's dimensions and its preview, toggles it, and opens it", async () => {
    const registry = await cli.server(b.ns, "registry");
    const server = `${b.address}:${registry.port}`;
    const bob = cli.client(b.ns, "bob", ["--register", "--server", server]);
    const dataDir = cli.tempDir("tm-alice");
    const made = cli.client(a.ns, "alice", ["--register", "--server", server, "--data", dataDir]);
    for (const p of [bob, made]) await p.waitFor((e: Json) => e.event === "ready", "ready", STEP_MS);
    await made.stop();

    // The PNG: 64×48, four quadrants (red, green / blue, white).
    const png = join(cli.tempDir("tm-src"), "quadrants.png");
    writeFileSync(png, encodePng(64, 48, quadrants(64, 48)));
    // A stand-in for the desktop's opener: it writes down how many arguments it got, and each.
    const bin = cli.tempDir("tm-bin");
    const opened = join(bin, "opened");
    writeFileSync(join(bin, "xdg-open"), `#!/bin/sh\nprintf '%s\\n' "$#" "$@" > ${shellQuote(opened)}\n`);
    chmodSync(join(bin, "xdg-open"), 0o755);
    const downloads = cli.tempDir("tm-downloads");

    const command = [
      "env -u HALLWAY_PASSWORD",
      `HALLWAY_HOME=${shellQuote(cli.tempDir("tm-home"))}`,
      `XDG_DOWNLOAD_DIR=${shellQuote(downloads)}`,
      `PATH=${shellQuote(`${bin}:${process.env.PATH ?? ""}`)}`,
      shellQuote(process.execPath),
      shellQuote(CLI),
      "--server",
      shellQuote(server),
      "--data",
      shellQuote(dataDir),
      "--no-notify",
    ].join(" ");
    const t = await LabTerminal.start(a.ns, cli.tempDir("tmux"), command);
    terminals.push(t);
    await t.waitFor(/Hallway · log in/, "the login screen", STEP_MS);
    await t.typeLine("alice");
    await t.waitFor(/^ {2}Password {3}\[ *\]/m, "the password field");
    await t.type(PASSWORD);
    await t.press("Enter");
    await t.waitFor(/logged in as alice/, "logged in", STEP_MS);

    bob.send({ cmd: "sendFile", to: "alice", path: png, as: HOSTILE_NAME });
    const offer = await shown(t, /#(\d+) bob offers "cat\\u001b\[2J\\u0007\.png"/, "the offer, name escaped");
    const n = offer.match[1] as string;
    await t.typeLine(`/accept ${n}`);
    await bob.waitFor((e: Json) => e.event === "transfer" && e.state === "done", "sent", STEP_MS);

    // The file's line: what it is from its bytes, its size, and the number /open takes.
    await shown(
      t,
      new RegExp(
        `#${n} "cat\\\\u001b\\[2J\\\\u0007\\.png": PNG image, 64×48, \\d[\\d.]* K?B \\(/open ${n}\\)`,
      ),
      "the image's line",
    );
    // The preview: 43×32 pixels in 16 rows of 43 half-block cells (100 columns: room for all).
    const rows = await visibleUntil(t, (r) => previewRows(r) === 16, "the preview's 16 rows of cells");
    // For docs/ui.md, the lab's temporary download folder reads as the usual one.
    captures.keep(
      "image-100",
      rows.map((r) => r.replace(downloads, "~/Downloads")),
    );
    // In colour: red over red at the top left, blue over blue at the bottom left (xterm 196, 21).
    const styled = (await t.command("capture-pane", "-e", "-p", "-t", "hw")).stdout;
    expect(styled).toMatch(/\[38;5;196m/);
    expect(styled).toMatch(/\[48;5;196m/);
    expect(styled).toMatch(/\[38;5;21m/);
    expect(styled).toMatch(/\[48;5;231m/);
    // The escape sequence in the name reached the screen as text, never as a command: the
    // lines drawn before the image's line are still there.
    expect(rows.join("\n")).toContain(`#${n} receiving "cat\\u001b[2J\\u0007.png" from bob`);

    await t.press("M-i");
    await visibleUntil(t, (r) => !r.some((row) => row.includes(HALF_BLOCK)), "the preview hidden by Alt+I");
    await t.press("M-i");
    await visibleUntil(t, (r) => previewRows(r) === 16, "the preview shown again by Alt+I");

    await t.typeLine(`/open ${n}`);
    await shown(t, /opening "cat\uFFFD\[2J\uFFFD\.png" with xdg-open/, "the opener's line");
    const deadline = Date.now() + STEP_MS;
    let argv = "";
    while (argv === "" && Date.now() < deadline) {
      try {
        argv = readFileSync(opened, "utf8");
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const [count, path] = argv.split("\n");
    expect(count).toBe("1");
    expect(path?.startsWith(`${downloads}/`)).toBe(true);
    expect(readFileSync(path as string)).toEqual(readFileSync(png));
  });
});
