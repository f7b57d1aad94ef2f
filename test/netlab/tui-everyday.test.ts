/**
 * Network lab: two people start the terminal UI in two terminals on one LAN, the way an
 * office would on its first morning.
 *
 *        ns "te-a" 10.203.32.1  tmux ─ hallway (alice: hosts the registry here)
 *        ns "te-b" 10.203.32.2  tmux ─ hallway (bob: finds it over mDNS)
 *                 both on br0 in ns "te-sw"
 *
 * alice finds no registry and hosts one; one Enter on her name moves to the password (one
 * key press, one action: blessed reports a carriage return twice) and registering takes
 * one more. bob's terminal finds the registry; one Enter opens the login screen with no
 * error. Each sees the other in the contacts pane without typing a command (the office
 * directory), and alice's status buffer says "bob is online". They chat with emoji (a ZWJ
 * family, VS16), CJK and a multi-line paste, and after each step the captured screen of
 * both terminals is compared cell by cell with the frame the UI meant to draw (fixtures/
 * screen-cells.ts), also after stray output and Ctrl+L, and after a resize to 120×40.
 * bob, reading his status buffer, gets the unread marker and a desktop notification (a
 * notify-send on his PATH that writes what it is given). Readline keys edit the input line.
 * `/search` finds CJK text on the registry and `/jump` reopens a closed buffer at it; a
 * group at 120 columns shows its members and `/names`; PageUp past the 50 lines `/query`
 * loaded fetches older ones (60 lines from a headless carol).
 *
 * Then files: alice completes a folder's path with Tab and sends it to bob and carol with
 * one `/send`; bob answers the folder's one prompt with `/accept N` and gets it whole in
 * his download folder; alice finds carol's number with `/files` and stops it with
 * `/cancel N`. Both sides call their path "lan" (alice hosts the registry on 127.0.0.1 and
 * so announces no LAN address).
 *
 * With UPDATE_UI_DOCS=1 the test writes the screens it captured into docs/ui.md (between
 * `<!-- capture:NAME -->` markers), so the captures there are what tmux showed.
 */

import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DocCaptures } from "./fixtures/doc-captures.js";
import { CLI, PASSWORD } from "./fixtures/lab-cli.js";
import { expectScreenIsFrame, WidthOracle } from "./fixtures/screen-cells.js";
import { LabTerminal, shellQuote } from "./fixtures/terminal.js";
import { terminalLan } from "./fixtures/terminal-lan.js";
import { shown, TEAM_PHOTOS_BYTES, TEAM_PHOTOS_FILES, teamPhotos, tree } from "./fixtures/tui-files.js";
import { requireLab } from "./lab-guard.js";
import type { LanHost } from "./netns.js";

const lab = requireLab("two terminal UIs in tmux on a lab LAN, one hosting the registry", {
  commands: ["tmux"],
});

const STEP_MS = 20_000;
const FAMILY = "\u{1f468}\u200d\u{1f469}\u200d\u{1f467}";
const LUNCH = `Lunch at 12? 🍜 你好 ${FAMILY} ok`;
const REPLY = "好的 ❤️ see you 👍";

interface Person {
  term: LabTerminal;
  frameFile: string;
  oracle: WidthOracle;
}

const captures = new DocCaptures();

/** The visible screen, kept for docs/ui.md under `name`. */
async function capture(p: Person, name: string): Promise<void> {
  captures.keep(name, await p.term.visible());
}

describe.skipIf(!lab.canRun)("two people in the terminal UI (network lab)", () => {
  const fixture = terminalLan("tuiday", { name: "te", subnet: "10.203.32", hosts: ["a", "b"] });
  const { cli, terminals } = fixture;
  let a: LanHost;
  let b: LanHost;

  beforeAll(() => {
    [a, b] = [fixture.host("a"), fixture.host("b")];
  });

  afterAll(async () => {
    captures.writeIfAsked();
  });

  async function open(ns: string, tag: string, env: Record<string, string> = {}): Promise<Person> {
    const frameFile = join(cli.tempDir(`${tag}-frame`), "frame.json");
    const command = [
      "env -u HALLWAY_PASSWORD",
      `HALLWAY_HOME=${shellQuote(cli.tempDir(`${tag}-home`))}`,
      `HALLWAY_TUI_FRAME_FILE=${shellQuote(frameFile)}`,
      ...Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`),
      shellQuote(process.execPath),
      shellQuote(CLI),
      "--data",
      shellQuote(cli.tempDir(`${tag}-data`)),
    ].join(" ");
    const term = await LabTerminal.start(ns, cli.tempDir(`${tag}-tmux`), command);
    terminals.push(term);
    return { term, frameFile, oracle: new WidthOracle(term) };
  }

  it("host, register, see each other, chat in emoji and CJK cell by cell, paste, edit", async () => {
    // bob's desktop: a notify-send that writes down what it is asked to show.
    const notifyDir = cli.tempDir("notify");
    const notified = join(notifyDir, "shown.txt");
    writeFileSync(
      join(notifyDir, "notify-send"),
      `#!/bin/sh\nprintf '%s|' "$@" >> ${shellQuote(notified)}\necho >> ${shellQuote(notified)}\n`,
    );
    chmodSync(join(notifyDir, "notify-send"), 0o755);

    // alice: no registry on the LAN; Enter hosts one.
    const alice = await open(a.ns, "alice");
    const at = alice.term;
    await at.waitFor(/Hallway · no registry found/, "the offer to host", STEP_MS);
    await capture(alice, "registry-none");
    await at.press("Enter");
    await at.waitFor(
      /Registry {3}127\.0\.0\.1:7743 \(hosted here\)/,
      "the login screen on the hosted registry",
      STEP_MS,
    );
    // One Enter on the name: the password field has the focus, and no error is shown.
    await at.type("alice");
    await at.press("Enter");
    await at.waitFor(/^ {2}Password {3}\[ *\]/m, "the password field");
    await new Promise((r) => setTimeout(r, 300));
    expect(await at.screen()).not.toMatch(/AUTH_NO_PASSWORD|AUTH_BAD_USERNAME/);
    await at.type(PASSWORD);
    await at.press("Enter");
    await at.waitFor(
      /no account "alice" on this registry yet: Enter creates it/,
      "the offer to register",
      STEP_MS,
    );
    await at.press("Enter");
    await at.waitFor(/logged in as alice/, "alice logged in", STEP_MS);

    // bob: his terminal finds alice's registry; one Enter opens the login screen, no error.
    const bobDownloads = cli.tempDir("bob-downloads");
    const bob = await open(b.ns, "bob", {
      PATH: `${notifyDir}:${process.env.PATH ?? ""}`,
      XDG_DOWNLOAD_DIR: bobDownloads,
    });
    const bt = bob.term;
    await bt.waitFor(/Hallway · registry found/, "the registry screen", STEP_MS);
    await bt.waitFor(new RegExp(`${a.address.replaceAll(".", "\\.")}:7743`), "alice's registry, over mDNS");
    await capture(bob, "registry-found");
    await bt.press("Enter");
    await bt.waitFor(/Hallway · log in/, "the login screen");
    await new Promise((r) => setTimeout(r, 300));
    expect(await bt.screen()).not.toMatch(/AUTH_BAD_USERNAME|AUTH_NO_PASSWORD/);
    await capture(bob, "login");
    await bt.typeLine("bob");
    await bt.waitFor(/^ {2}Password {3}\[ *\]/m, "bob's password field");
    await bt.type(PASSWORD);
    await bt.press("Enter");
    await bt.waitFor(/Enter creates it/, "the offer to register bob", STEP_MS);
    await bt.press("Enter");
    await bt.waitFor(/logged in as bob/, "bob logged in", STEP_MS);

    // Without a command, each lists the other: the directory in the contacts pane.
    await bt.waitFor(/^ {3}●alice +│/m, "alice listed online in bob's contacts pane", STEP_MS);
    await at.waitFor(/^ {3}●bob +│/m, "bob listed online in alice's contacts pane", STEP_MS);
    await at.waitFor(/\* │ bob is online/, "the news in alice's status buffer", STEP_MS);

    // alice writes; bob is reading his status buffer: unread, a marker, a notification.
    await at.typeLine(`/msg bob ${LUNCH}`);
    await at.waitFor(
      new RegExp(`alice │ ${LUNCH.replace(/[?]/g, "\\?")} ✓✓`),
      "her message, delivered",
      STEP_MS,
    );
    await bt.waitFor(/^ 2 ●alice +1│/m, "alice's buffer with one unread line", STEP_MS);
    await bt.press("M-2");
    await bt.waitFor(/── new ──/, "the unread marker");
    await bt.waitFor(new RegExp(`alice │ ${LUNCH.replace(/[?]/g, "\\?")}`), "the message at bob's", STEP_MS);
    await expectScreenIsFrame(bt, bob.oracle, bob.frameFile);
    await expectScreenIsFrame(at, alice.oracle, alice.frameFile);
    const notes = await waitForFile(notified);
    expect(notes).toContain(`alice|${LUNCH}|`);

    // bob answers; both screens are the frames, also after Ctrl+L.
    await bt.typeLine(REPLY);
    await at.waitFor(new RegExp(`bob │ ${REPLY}`), "bob's reply at alice's", STEP_MS);
    await at.press("M-2");
    await at.waitFor(new RegExp(`bob │ ${REPLY}`), "bob's buffer at alice's");
    await expectScreenIsFrame(at, alice.oracle, alice.frameFile);
    await expectScreenIsFrame(bt, bob.oracle, bob.frameFile);
    // Something else writes on alice's terminal; Ctrl+L draws everything again.
    const tty = (await at.command("display-message", "-p", "-t", "hw", "#{pane_tty}")).stdout.trim();
    writeFileSync(tty, "\x1b[5;30HSTRAY OUTPUT\x1b[12;1H~~~~~~~~");
    await at.waitFor(/STRAY OUTPUT/, "the stray output on screen");
    await at.press("C-l");
    await expectScreenIsFrame(at, alice.oracle, alice.frameFile);
    expect(await at.screen()).not.toMatch(/STRAY OUTPUT|~~~~/);

    // A three-line paste stays in the input line until one Enter sends it as one message.
    await at.command("set-buffer", "-b", "p", "first line\nsecond 行\nthird\n");
    await at.command("paste-buffer", "-p", "-b", "p", "-t", "hw");
    await at.waitFor(/pasted 3 lines: Enter sends them as one message/, "the paste's note");
    await at.waitFor(/^\[bob\] first line↵second 行↵third/m, "the paste in the input line");
    await at.press("Enter");
    await bt.waitFor(
      /alice │ first line *\n[^\n]*│ +second 行 *\n[^\n]*│ +third *$/m,
      "one message of three lines at bob's",
      STEP_MS,
    );
    await expectScreenIsFrame(bt, bob.oracle, bob.frameFile);

    // /me, and readline keys: Ctrl+W drops a word, Ctrl+A and Ctrl+K clear, one Enter sends.
    await at.typeLine("/me waves 👋");
    await bt.waitFor(/\* │ alice waves 👋/, "the action at bob's", STEP_MS);
    await at.type("oops wrong words");
    await at.press("C-w", "C-w");
    await at.waitFor(/^\[bob\] oops *$/m, "two words dropped");
    await at.press("C-a", "C-k");
    await at.type("right");
    await at.press("Enter");
    await bt.waitFor(/alice │ right *$/m, "the edited line, sent once", STEP_MS);
    expect((await bt.screen()).match(/alice │ right *$/gm)).toHaveLength(1);
    await capture(bob, "main-100");

    // /search looks in the registry's index; /jump opens the conversation at the message,
    // here from the registry's history, as alice closed her buffer of bob first.
    await at.typeLine("/close");
    await at.waitFor(/^\[status\]/m, "back in the status buffer");
    await at.typeLine("/search second 行");
    await at.waitFor(/1 message contains "second 行"; \/jump N opens one:/, "the search's answer", STEP_MS);
    await at.waitFor(/\[1\] \d\d:\d\d → bob: first line second 行 third/, "the hit");
    await capture(alice, "search");
    await at.typeLine("/jump 1");
    await at.waitFor(/^\[bob\]/m, "bob's buffer open again");
    await at.waitFor(/alice │ first line *\n[^\n]*│ +second 行/, "the message, loaded from history", STEP_MS);
    await expectScreenIsFrame(at, alice.oracle, alice.frameFile);
    // At 120 columns the frame is redrawn for the new size, and is still what the terminal shows.
    await at.resize(120, 40);
    await at.waitFor(/^ 1 \*status {14}│/m, "the 120-column layout (a wider contacts pane)");
    await expectScreenIsFrame(at, alice.oracle, alice.frameFile);
    await capture(alice, "main-120");

    // A group: at 120 columns its buffer lists the members; /names says who they are.
    await at.typeLine("/create ops");
    await at.waitFor(/^ 3 #ops/m, "the group's buffer");
    await bt.typeLine("/join ops");
    await at.waitFor(/\? bob asks to join #ops/, "bob's join request at alice's", STEP_MS);
    await at.press("M-y");
    await bt.waitFor(/^ 3 #ops/m, "bob in the group: its buffer", STEP_MS);
    await at.press("M-3");
    await at.waitFor(/│2 members *\n[^\n]*│●alice *\n[^\n]*│●bob/, "the member list", STEP_MS);
    await at.typeLine("/names");
    await at.waitFor(/#ops \(2\): @●alice {2}●bob/, "the /names line", STEP_MS);
    await at.typeLine("lunch 🍜 at 12 for #ops?");
    await bt.waitFor(/^ 3 #ops +2│/m, "the group message, unread at bob's", STEP_MS);
    await bt.press("M-3");
    await bt.waitFor(/alice │ lunch 🍜 at 12 for #ops\?/, "the group message at bob's", STEP_MS);
    await expectScreenIsFrame(bt, bob.oracle, bob.frameFile);
    await expectScreenIsFrame(at, alice.oracle, alice.frameFile);
    await capture(alice, "group-120");

    // History past what is loaded: carol (headless) wrote 60 lines; /query loads the newest
    // 50, and PageUp at their top fetches the older ones from the registry.
    const carol = cli.client(b.ns, "carol", ["--register", "--server", `${a.address}:7743`]);
    await carol.waitFor((e) => e.event === "ready", "carol ready", STEP_MS);
    // First a tab, a combining accent and Hangul (a tab is drawn as four spaces).
    carol.send({ cmd: "send", to: "alice", text: "tab\there, cafe\u0301, 한국어" });
    await carol.waitFor((e) => e.event === "sent", "the first line sent", STEP_MS);
    // One after another, milliseconds apart: history is in (sentAt, id) order, and ids are
    // random, so lines sent in one millisecond would come back in any order.
    for (let i = 1; i <= 60; i++) {
      const before = carol.events.length;
      carol.send({ cmd: "send", to: "alice", text: `old line ${i}` });
      await carol.waitFor((e) => carol.events.indexOf(e) >= before && e.event === "sent", `line ${i} sent`);
      await new Promise((r) => setTimeout(r, 3));
    }
    await at.waitFor(/^ 4 ●carol/m, "carol's buffer at alice's", STEP_MS);
    await carol.waitFor(
      (e) => e.event === "delivered" && carol.events.filter((x) => x.event === "delivered").length >= 61,
      "all 61 delivered",
      STEP_MS,
    );
    await at.press("M-4");
    // carol's client reports what it delivered to the registry's history in batches: wait
    // until the registry's newest page ends with her last line (the TUI's own log has it
    // sooner, so its screen cannot tell), then open the conversation afresh.
    const deadline = Date.now() + STEP_MS;
    for (;;) {
      const before = carol.events.length;
      carol.send({ cmd: "history", with: "alice", limit: 1 });
      const page = await carol.waitFor(
        (e) => carol.events.indexOf(e) >= before && e.event === "history",
        "carol's newest history",
      );
      const last = (page.messages as Array<{ text: string }>).at(-1);
      if (last?.text === "old line 60") break;
      if (Date.now() > deadline) throw new Error("the registry's history never had carol's 60 lines");
      await new Promise((r) => setTimeout(r, 200));
    }
    await at.typeLine("/close");
    await at.waitFor(/^\[(status|bob|#ops)\]/m, "carol's buffer closed");
    await at.typeLine("/query carol");
    await at.waitFor(/carol │ old line 60 *$/m, "the newest page");
    // The top of what /query loaded is line 11; past it, PageUp asks the registry.
    await at.press("PageUp");
    await at.waitFor(/carol │ old line 11 *$/m, "the top of the loaded page");
    expect(await at.screen()).not.toMatch(/carol │ old line 10 *$/m);
    for (let i = 0; i < 8 && !/carol │ old line 1 *$/m.test(await at.screen()); i++) {
      await at.press("PageUp");
      await new Promise((r) => setTimeout(r, 400));
    }
    await at.waitFor(/carol │ old line 1 *$/m, "the oldest line, fetched by PageUp", STEP_MS);
    await at.waitFor(/carol │ tab {4}here, cafe\u0301, 한국어 *$/m, "the tab, the accent and Hangul");
    await expectScreenIsFrame(at, alice.oracle, alice.frameFile);

    // A folder to two people: Tab completes its path, one /send offers it to both.
    const base = cli.tempDir("folder");
    teamPhotos(base);
    await at.type(`/send bob,carol ${base}/team\\ ph`);
    await at.press("Tab");
    await at.waitFor(/team\\ photos\/ *$/m, "the folder's path, completed by Tab");
    await at.press("Enter");
    const atCarol = await carol.waitFor(
      (e) => e.event === "transfer" && e.state === "offered",
      "the offer at carol",
      STEP_MS,
    );
    expect(atCarol.batch).toMatchObject({ name: "team photos", files: 2, bytes: TEAM_PHOTOS_BYTES });
    // bob: one prompt for the whole folder, answered by its number.
    const offer = await bt.waitFor(
      /\? #(\d+) alice offers folder "team photos" \(2 files, 39\.1 KB\)/,
      "the folder's prompt at bob's",
      STEP_MS,
    );
    await bt.typeLine(`/accept ${offer[1]}`);
    await bt.press("M-2");
    await shown(bt, new RegExp(`#${offer[1]} saved folder "team photos" from alice to`), "the folder saved");
    expect(tree(join(bobDownloads, "team photos"))).toEqual(TEAM_PHOTOS_FILES);
    // Both call the path between them lan.
    await bt.waitFor(/· alice via lan/, "bob's path to alice");
    await at.press("M-2");
    await shown(at, /#\d+ sent folder "team photos" to bob/, "the folder sent, in bob's buffer");
    await at.waitFor(/· bob via lan/, "alice's path to bob");
    // carol has not answered: /files gives her number, /cancel takes it.
    // In carol's buffer, scrolled up to her oldest lines before: back to the newest first.
    await at.press("M-4", "PageDown", "PageDown", "PageDown");
    await at.typeLine("/files");
    const row = await shown(
      at,
      /#(\d+) → carol "team photos" 39\.1 KB 0\/2 files waiting for an answer/,
      "carol's row in /files",
    );
    await at.typeLine(`/cancel ${row.match[1]}`);
    const cancelled = await carol.waitFor(
      (e) => e.event === "transfer" && e.state === "cancelled",
      "the cancel at carol",
      STEP_MS,
    );
    expect(cancelled).toMatchObject({ code: "FILE_CANCELLED", by: "peer" });
    await shown(
      at,
      new RegExp(`#${row.match[1]} you cancelled folder "team photos"`),
      "the cancel, in plain words",
    );
    await expectScreenIsFrame(at, alice.oracle, alice.frameFile);
    await capture(alice, "files-120");

    await bt.typeLine("/quit");
    await bt.waitForEnd(STEP_MS);
    await at.waitFor(/^ 2 ○bob/m, "bob offline in alice's contacts pane", STEP_MS);
    await at.typeLine("/quit");
    await at.waitForEnd(STEP_MS);
    for (const t of [at, bt]) {
      const final = await t.screen();
      expect(final).toMatch(/\[exit 0\]/);
      expect(final).toContain("[modes icanon echo ]");
      for (const s of t.seen) expect(s).not.toContain(PASSWORD);
    }
  });
});

async function waitForFile(file: string, timeoutMs = STEP_MS): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file) || readFileSync(file, "utf8") === "") {
    if (Date.now() > deadline) throw new Error(`nothing written to ${file} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return readFileSync(file, "utf8");
}
