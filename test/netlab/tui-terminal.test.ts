/**
 * Network lab: the terminal UI in a real terminal against a real registry and a headless peer.
 *
 *        ns "tu-a" 10.203.31.1  tmux ─ hallway (bare: the TUI)   (the terminal under test)
 *        ns "tu-b" 10.203.31.2  hallway client --json --user bob
 *        ns "tu-c" 10.203.31.3  hallway server (announced over mDNS)
 *                 all on br0 in ns "tu-sw"
 *
 * The test types with send-keys and reads the screen with capture-pane: the registry screen
 * shows what mDNS found, the login screen takes the name and the masked password (a wrong
 * one first), then it receives a message and replies, goes away and back (and sees bob's
 * away mark in its contacts pane), accepts a friend request, accepts a file and sees it
 * complete, survives resizes to 80×24 and 120×40, and quits with the terminal restored. The password is typed into its field, never put on a
 * command line, and never appears on screen. A second test crashes the TUI on purpose and
 * checks that the terminal comes back and the user sees one line. A third, with no registry
 * left on the LAN, hosts one from the registry screen, registers on it, and takes it down
 * on quit.
 */

import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { stringWidth } from "../../src/ui/tui/text-width.js";
import { CLI, PASSWORD } from "./fixtures/lab-cli.js";
import { LabTerminal, shellQuote } from "./fixtures/terminal.js";
import { terminalLan } from "./fixtures/terminal-lan.js";
import { requireLab } from "./lab-guard.js";
import type { LanHost } from "./netns.js";

const lab = requireLab("the terminal UI in tmux against a registry and a headless peer", {
  commands: ["tmux"],
});

const STEP_MS = 20_000;
const FILE_BYTES = 2_000_000;
const CRASH_HOOK = fileURLToPath(new URL("./fixtures/crash-on-signal.mjs", import.meta.url));

/** A shell command line running the built CLI in a terminal, with a home of its own and no password. */
function hallwayCommand(home: string, args: readonly string[], nodeOptions: readonly string[] = []): string {
  return [
    "env -u HALLWAY_PASSWORD",
    `HALLWAY_HOME=${shellQuote(home)}`,
    `XDG_DOWNLOAD_DIR=${shellQuote(join(home, "Downloads"))}`,
    shellQuote(process.execPath),
    ...nodeOptions.map(shellQuote),
    shellQuote(CLI),
    ...args.map(shellQuote),
  ].join(" ");
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe.skipIf(!lab.canRun)("terminal UI in a real terminal (network lab)", () => {
  const fixture = terminalLan("tui", { name: "tu", subnet: "10.203.31", hosts: ["a", "b", "c"] });
  const { cli, terminals } = fixture;
  let a: LanHost;
  let b: LanHost;
  let c: LanHost;

  beforeAll(() => {
    [a, b, c] = [fixture.host("a"), fixture.host("b"), fixture.host("c")];
  });

  it("finds the registry, logs in, answers a message, goes away, accepts a friend and a file, resizes, quits", async () => {
    const registry = await cli.server(c.ns, "registry");
    const server = `${c.address}:${registry.port}`;
    const bob = cli.client(b.ns, "bob", ["--register", "--server", server]);
    await bob.waitFor((e) => e.event === "ready", "bob ready", STEP_MS);

    // alice has an account (made headless, from the same data directory as the TUI).
    const dataDir = cli.tempDir("tui-alice");
    const made = cli.client(a.ns, "alice", ["--register", "--server", server, "--data", dataDir]);
    await made.waitFor((e) => e.event === "ready", "alice registered", STEP_MS);
    await made.stop();

    // 1. The registry screen: mDNS on the lab LAN finds the registry, with its key.
    const tuiHome = cli.tempDir("tui-home");
    const t = await LabTerminal.start(
      a.ns,
      cli.tempDir("tmux"),
      hallwayCommand(tuiHome, ["--data", dataDir]),
    );
    terminals.push(t);
    await t.waitFor(/Hallway · registry found/, "the registry screen", STEP_MS);
    await t.waitFor(
      new RegExp(`1 {2}Hallway registry {2}${escapeRe(server)} *\\n +key ${escapeRe(registry.fingerprint)}`),
      "the registry's name, address and key fingerprint",
    );
    await t.press("Enter");

    // The login screen: a wrong password is refused inline, the right one logs in.
    await t.waitFor(/Hallway · log in/, "the login screen");
    await t.typeLine("alice");
    await t.waitFor(/^ {2}Password {3}\[ *\]/m, "the password field");
    await t.typeLine("not the password");
    await t.waitFor(/! AUTH_BAD_PASSWORD: /, "the wrong password's inline error", STEP_MS);
    await t.waitFor(/^ {2}Password {3}\[ *\]/m, "the password field, cleared");
    await t.type(PASSWORD);
    await t.waitFor(new RegExp(`Password {3}\\[\\*{${PASSWORD.length}} *\\]`), "the password masked");
    await t.press("Enter");
    await t.waitFor(/logged in as alice/, "login on the status buffer", STEP_MS);
    await t.waitFor(new RegExp(`alice \\(online\\) · ${escapeRe(server)}`), "status line");
    await t.waitFor(/^ 1 \*status +│status · registry/m, "contacts pane and buffer title");

    // 2. A message arrives in its own buffer, unread; Alt+2 opens it; a reply goes back.
    await bob.waitFor(
      (e) => e.event === "presence" && e.user === "alice" && e.status === "online",
      "alice online",
    );
    bob.send({ cmd: "send", to: "alice", text: "hi alice, 你好 from bob" });
    await t.waitFor(/^ 2 ●bob +1│/m, "bob's buffer with one unread line");
    await t.waitFor(/\[act: 2\]/, "the hotlist in the status line");
    await t.press("M-2");
    await t.waitFor(/bob │ hi alice, 你好 from bob/, "bob's message in the conversation pane");
    await t.typeLine("hello bob");
    const reply = await bob.waitFor(
      (e) => e.event === "message" && e.text === "hello bob",
      "the reply",
      STEP_MS,
    );
    expect(reply).toMatchObject({ from: "alice", to: "bob", via: "direct" });
    await t.waitFor(/alice │ hello bob ✓✓/, "the reply marked delivered");
    await t.waitFor(/bob via lan/, "the path to bob in the status line (both on one LAN)");

    // /away: the state on the status line and pushed to bob; the text is the note in her profile.
    await t.typeLine("/away lunch");
    await t.waitFor(/alice \(away · lunch\) ·/, "away on the status line");
    await bob.waitFor(
      (e) => e.event === "presence" && e.user === "alice" && e.status === "away",
      "alice away, as bob sees her",
      STEP_MS,
    );
    bob.send({ cmd: "profile.get", user: "alice" });
    await bob.waitFor(
      (e) => e.event === "profile" && e.user === "alice" && e.statusText === "lunch",
      "alice's note, as bob sees it",
      STEP_MS,
    );
    // /status replaces the note; /back ends away and keeps a note /away did not set.
    await t.typeLine("/status on call");
    await t.waitFor(/alice \(away · on call\) ·/, "the status text on the status line");
    const beforeBack = bob.events.length;
    await t.typeLine("/back");
    await t.waitFor(/alice \(online · on call\) ·/, "back on the status line");
    await bob.waitFor(
      (e) =>
        bob.events.indexOf(e) >= beforeBack &&
        e.event === "presence" &&
        e.user === "alice" &&
        e.status === "online",
      "alice back, as bob sees her",
      STEP_MS,
    );
    bob.send({ cmd: "profile.get", user: "alice" });
    await bob.waitFor(
      (e) => e.event === "profile" && e.user === "alice" && e.statusText === "on call",
      "alice's status text, as bob sees it",
      STEP_MS,
    );
    await t.typeLine("/status");
    await t.waitFor(/alice \(online\) ·/, "the status cleared");
    // bob goes away: his mark in alice's contacts pane follows.
    bob.send({ cmd: "presence", status: "away" });
    await t.waitFor(/^ 2 ◐bob/m, "bob away in the contacts pane", STEP_MS);
    bob.send({ cmd: "presence", status: "online" });
    await t.waitFor(/^ 2 ●bob/m, "bob back in the contacts pane", STEP_MS);

    // 3. A friend request is a prompt; Alt+Y accepts it.
    bob.send({ cmd: "friend.request", to: "alice" });
    await t.waitFor(/\? bob asks to be your friend/, "friend request prompt");
    await t.press("M-y");
    await bob.waitFor(
      (e) => e.event === "friend.accepted" && e.by === "alice",
      "bob hears the answer",
      STEP_MS,
    );
    await t.waitFor(/friend\.accept: done \(from bob\)/, "the answer on screen");
    await t.waitFor(/bob · online · friend/, "bob is a friend in the buffer title");

    // 4. A file offer is a prompt too; /accept takes it and the transfers pane shows it done.
    const file = join(cli.tempDir("tui-file"), "notes.bin");
    const content = randomBytes(FILE_BYTES);
    writeFileSync(file, content);
    bob.send({ cmd: "sendFile", to: "alice", path: file });
    const offer = await t.waitFor(/\? #(\d+) bob offers "notes\.bin" \(1\.9 MB\)/, "file offer prompt");
    await t.typeLine("/accept");
    await t.waitFor(new RegExp(`#${offer[1]} saved "notes\\.bin" from bob to\\s`), "transfer done", STEP_MS);
    await t.waitFor(
      new RegExp(`#${offer[1]} ← bob notes\\.bin 1\\.9 MB \\[#+\\] done`),
      "a full bar in the transfers pane",
    );
    await bob.waitFor((e) => e.event === "transfer" && e.state === "done", "sender done", STEP_MS);
    // Accepted files go to the download folder (XDG_DOWNLOAD_DIR here), not the data directory.
    const got = readFileSync(join(tuiHome, "Downloads", "notes.bin"));
    expect(createHash("sha256").update(got).digest("hex")).toBe(
      createHash("sha256").update(content).digest("hex"),
    );

    // Resizes: each size gets a whole frame that fits, with the status and input lines.
    for (const [cols, rows] of [
      [80, 24],
      [120, 40],
    ] as const) {
      await t.resize(cols, rows);
      const deadline = Date.now() + STEP_MS;
      let shown: string[] = await t.visible();
      // The frame is redrawn for the new size when the status line sits on the last row but one.
      while (!/alice \(online\) ·/.test(shown[rows - 2] ?? "") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        shown = await t.visible();
      }
      expect(shown, shown.join("\n")).toHaveLength(rows);
      for (const line of shown) expect(stringWidth(line), line).toBeLessThanOrEqual(cols);
      expect(shown[rows - 2]).toMatch(/alice \(online\) ·/);
      expect(shown[rows - 1]).toMatch(/^\[bob\]/);
      expect(shown[0]).toMatch(/^ 1 \*status/);
    }

    // /quit gives the terminal back: the shell after us reads lines with echo again.
    await t.typeLine("/quit");
    await t.waitForEnd(STEP_MS);
    const final = await t.screen();
    expect(final).toMatch(/\[exit 0\]/);
    expect(final).toContain("[modes icanon echo ]");
    for (const shown of t.seen) expect(shown).not.toContain(PASSWORD);
    await bob.waitFor(
      (e) => e.event === "presence" && e.user === "alice" && e.status === "offline",
      "alice offline",
      STEP_MS,
    );
  });

  it("a crash gives the terminal back and says what happened in one line", async () => {
    const registry = await cli.server(c.ns, "crash-registry", ["--port", "0"]);
    const pidFile = join(cli.tempDir("crash"), "pid");
    const command = hallwayCommand(
      cli.tempDir("crash-home"),
      ["tui", "--server", `${c.address}:${registry.port}`, "--data", cli.tempDir("crash-alice")],
      ["--import", CRASH_HOOK],
    );
    const t = await LabTerminal.start(
      a.ns,
      cli.tempDir("tmux-crash"),
      `CRASH_PID_FILE=${shellQuote(pidFile)} ${command}`,
    );
    terminals.push(t);
    await t.waitFor(/Hallway · log in/, "the login screen (the screen is up, the terminal raw)");
    expect(existsSync(pidFile)).toBe(true);
    process.kill(Number(readFileSync(pidFile, "utf8")), "SIGUSR2");
    await t.waitForEnd(STEP_MS);
    const final = await t.screen();
    expect(final).toMatch(/^hallway: injected crash \(test\)$/m);
    expect(final).not.toMatch(/^\s+at /m);
    expect(final).toMatch(/\[exit 1\]/);
    expect(final).toContain("[modes icanon echo ]");
  });

  it("with no registry on the LAN it hosts one, registers a new account on it, and stops it on quit", async () => {
    // Nothing of the earlier tests may answer mDNS now.
    await cli.stopAll();
    const t = await LabTerminal.start(
      a.ns,
      cli.tempDir("tmux-host"),
      hallwayCommand(cli.tempDir("host-home"), ["--data", cli.tempDir("host-carol")]),
    );
    terminals.push(t);
    await t.waitFor(/Hallway · no registry found/, "the offer to host", STEP_MS);
    await t.press("Enter");
    await t.waitFor(
      /Registry {3}127\.0\.0\.1:7743 \(hosted here\)/,
      "the login screen on the hosted registry",
      STEP_MS,
    );
    await t.typeLine("carol");
    await t.type(PASSWORD);
    await t.press("Enter");
    await t.waitFor(
      /no account "carol" on this registry yet: Enter creates it/,
      "the offer to register",
      STEP_MS,
    );
    await t.waitFor(/\[x\] create this account/, "register ticked");
    await t.press("Enter");
    await t.waitFor(/logged in as carol/, "carol logged in", STEP_MS);

    // bob, on another host, finds the hosted registry by mDNS alone and writes to carol.
    const bob = cli.client(b.ns, "bob", ["--register"]);
    const reg = await bob.waitFor((e) => e.event === "registry", "bob finds the registry", STEP_MS);
    expect(reg).toMatchObject({ status: "connected", address: `${a.address}:7743` });
    await bob.waitFor((e) => e.event === "ready", "bob ready", STEP_MS);
    bob.send({ cmd: "send", to: "carol", text: "found you over mDNS" });
    await t.waitFor(/^ 2 ●bob +1│/m, "bob's message in its own buffer", STEP_MS);

    await t.typeLine("/quit");
    await t.waitForEnd(STEP_MS);
    const final = await t.screen();
    expect(final).toMatch(/\[exit 0\]/);
    expect(final).toContain("[modes icanon echo ]");
    for (const shown of t.seen) expect(shown).not.toContain(PASSWORD);
    // The hosted registry went with the UI.
    await bob.waitFor(
      (e) => e.event === "registry" && e.status === "lost",
      "bob loses the registry",
      STEP_MS,
    );
  });
});
