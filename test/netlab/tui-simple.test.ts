/**
 * Network lab: simple mode in a real terminal. alice starts `hallway --simple`; a headless bob
 * writes to her and to the office room #all; both lines appear in the one list, prefixed
 * with where they came from, and alice answers each by typing `@bob …` and `#all …`. F2 goes
 * back to the buffers, where both conversations are.
 *
 *        ns "ts-a" 10.203.33.1  tmux ─ hallway --simple (alice)
 *        ns "ts-b" 10.203.33.2  hallway client --json --user bob
 *        ns "ts-c" 10.203.33.3  hallway server
 *
 * With UPDATE_UI_DOCS=1 the screen goes into docs/ui.md (capture "simple").
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DocCaptures } from "./fixtures/doc-captures.js";
import { CLI, PASSWORD } from "./fixtures/lab-cli.js";
import { LabTerminal, shellQuote } from "./fixtures/terminal.js";
import { terminalLan } from "./fixtures/terminal-lan.js";
import { requireLab } from "./lab-guard.js";
import type { LanHost } from "./netns.js";

const lab = requireLab("simple mode of the terminal UI in tmux against a registry and a headless peer", {
  commands: ["tmux"],
});

const STEP_MS = 20_000;

describe.skipIf(!lab.canRun)("simple mode in a real terminal (network lab)", () => {
  const fixture = terminalLan("tuisimple", { name: "ts", subnet: "10.203.33", hosts: ["a", "b", "c"] });
  const { cli, terminals } = fixture;
  const docs = new DocCaptures();
  let a: LanHost;
  let b: LanHost;
  let c: LanHost;

  beforeAll(() => {
    [a, b, c] = [fixture.host("a"), fixture.host("b"), fixture.host("c")];
  });

  afterAll(() => docs.writeIfAsked());

  it("lists a person's and a group's messages in one list and answers both", async () => {
    const registry = await cli.server(c.ns, "registry");
    const server = `${c.address}:${registry.port}`;
    const dataDir = cli.tempDir("simple-alice");
    const made = cli.client(a.ns, "alice", ["--register", "--server", server, "--data", dataDir]);
    await made.waitFor((e) => e.event === "ready", "alice registered", STEP_MS);
    await made.stop();
    const bob = cli.client(b.ns, "bob", ["--register", "--server", server]);
    await bob.waitFor((e) => e.event === "ready", "bob ready", STEP_MS);

    const home = cli.tempDir("simple-home");
    const command = [
      "env -u HALLWAY_PASSWORD",
      `HALLWAY_HOME=${shellQuote(home)}`,
      shellQuote(process.execPath),
      shellQuote(CLI),
      "--simple",
      "--server",
      shellQuote(server),
      "--data",
      shellQuote(dataDir),
      "--no-notify",
    ].join(" ");
    const t = await LabTerminal.start(a.ns, cli.tempDir("simple-tmux"), command);
    terminals.push(t);
    await t.waitFor(/Hallway · log in/, "the login screen", STEP_MS);
    await t.typeLine("alice");
    await t.waitFor(/^ {2}Password {3}\[ *\]/m, "the password field");
    await t.type(PASSWORD);
    await t.press("Enter");
    await t.waitFor(
      /^simple · every message · @name text or #group text answers/m,
      "the simple list",
      STEP_MS,
    );
    await t.waitFor(/^\[simple\]/m, "the input line");

    await bob.waitFor(
      (e) => e.event === "presence" && e.user === "alice" && e.status === "online",
      "alice online",
      STEP_MS,
    );
    bob.send({ cmd: "send", to: "alice", text: "lunch at 12? 🍜" });
    await t.waitFor(/^\d\d:\d\d @bob bob: lunch at 12\? 🍜/m, "bob's message, prefixed @bob", STEP_MS);
    bob.send({ cmd: "group.send", group: "all", text: "cake in the kitchen" });
    await t.waitFor(
      /^\d\d:\d\d #all bob: cake in the kitchen/m,
      "bob's #all message, prefixed #all",
      STEP_MS,
    );

    // Answers: to the person, and to the group, without opening either.
    await t.typeLine("@bob yes, see you there");
    const direct = await bob.waitFor(
      (e) => e.event === "message" && e.from === "alice" && e.text === "yes, see you there",
      "alice's answer to bob",
      STEP_MS,
    );
    expect(direct).toMatchObject({ to: "bob" });
    await t.typeLine("#all thanks bob!");
    await bob.waitFor(
      (e) =>
        e.event === "groupMessage" && e.group === "all" && e.from === "alice" && e.text === "thanks bob!",
      "alice's answer in #all",
      STEP_MS,
    );
    await t.waitFor(/^\d\d:\d\d @bob alice: yes, see you there/m, "her answer in the list", STEP_MS);
    await t.waitFor(/^\d\d:\d\d #all alice: thanks bob!/m, "her #all answer in the list", STEP_MS);
    // Text that says nowhere is not sent anywhere.
    await t.typeLine("hello?");
    await t.waitFor(/start with @name or #group/, "the hint", STEP_MS);
    docs.keep("simple", await t.visible());

    // F2: the buffers, with both conversations in them.
    await t.press("F2");
    await t.waitFor(/^ +\d \*status +│/m, "the contacts pane again", STEP_MS);
    await t.waitFor(/●bob/, "bob's buffer", STEP_MS);
    await t.waitFor(/#all/, "the #all buffer", STEP_MS);
  });
});
