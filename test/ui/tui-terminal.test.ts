/**
 * Network lab: `hallway tui` in a real terminal against a real registry and a headless peer.
 *
 *        ns "tu-a" 10.203.31.1  tmux ─ hallway tui --user alice   (the terminal under test)
 *        ns "tu-b" 10.203.31.2  hallway client --json --user bob
 *        ns "tu-c" 10.203.31.3  hallway server
 *                 all on br0 in ns "tu-sw"
 *
 * The test types with send-keys and reads the screen with capture-pane: log in, receive a
 * message and reply, accept a friend request, accept a file and see it complete, quit with
 * the terminal restored. The password is typed at its prompt, never put on a command line.
 */

import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertDistFresh, CLI, CliLab, PASSWORD } from "../netlab/fixtures/lab-cli.js";
import { LabTerminal, shellQuote } from "../netlab/fixtures/terminal.js";
import { requireLab } from "../netlab/lab-guard.js";
import { buildLan, type LanHost, NetLab } from "../netlab/netns.js";

const lab = requireLab("the terminal UI in tmux against a registry and a headless peer", {
  commands: ["tmux"],
});

const STEP_MS = 20_000;
const FILE_BYTES = 2_000_000;

describe.skipIf(!lab.canRun)("terminal UI in a real terminal (network lab)", () => {
  let net: NetLab | undefined;
  const cli = new CliLab();
  let term: LabTerminal | undefined;
  let a: LanHost;
  let b: LanHost;
  let c: LanHost;

  beforeAll(async () => {
    assertDistFresh();
    net = await NetLab.create("tui");
    const lan = await buildLan(net, { name: "tu", subnet: "10.203.31", hosts: ["a", "b", "c"] });
    [a, b, c] = [lan.hosts.a, lan.hosts.b, lan.hosts.c] as [LanHost, LanHost, LanHost];
  });

  afterAll(async () => {
    await term?.kill();
    await cli.cleanup();
    await net?.teardown();
  });

  it("logs in, receives and answers a message, accepts a friend and a file, quits cleanly", async () => {
    const registry = await cli.server(c.ns, "registry");
    const server = `${c.address}:${registry.port}`;
    const bob = cli.client(b.ns, "bob", ["--register", "--server", server]);
    await bob.waitFor((e) => e.event === "ready", "bob ready", STEP_MS);

    // 1. Log in: the user name from --user, the password typed at its masked prompt.
    const dataDir = cli.tempDir("tui-alice");
    const command = [
      "env -u HALLWAY_PASSWORD",
      `HALLWAY_HOME=${shellQuote(cli.tempDir("tui-home"))}`,
      shellQuote(process.execPath),
      shellQuote(CLI),
      "tui --register --user alice --heartbeat-ms 1000",
      `--server ${shellQuote(server)} --data ${shellQuote(dataDir)}`,
    ].join(" ");
    const t = await LabTerminal.start(a.ns, cli.tempDir("tmux"), command);
    term = t;
    await t.waitFor(/^ {2}Password {3}\[ *\]/m, "the login screen's password field");
    await t.typeLine(PASSWORD);
    await t.waitFor(/logged in as alice/, "login on the status buffer");
    await t.waitFor(
      new RegExp(`alice \\(online\\) · ${c.address.replaceAll(".", "\\.")}:${registry.port}`),
      "status line",
    );
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
    await t.waitFor(/\? bob offers "notes\.bin" \(1\.9 MB\)/, "file offer prompt");
    await t.typeLine("/accept");
    await t.waitFor(/file "notes\.bin" from bob: done →/, "transfer done", STEP_MS);
    await t.waitFor(/← bob notes\.bin 1\.9 MB \[#+\] done/, "a full bar in the transfers pane");
    await bob.waitFor((e) => e.event === "transfer" && e.state === "done", "sender done", STEP_MS);
    const got = readFileSync(join(dataDir, "downloads", "notes.bin"));
    expect(createHash("sha256").update(got).digest("hex")).toBe(
      createHash("sha256").update(content).digest("hex"),
    );

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
});
