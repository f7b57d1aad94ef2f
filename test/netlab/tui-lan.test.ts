/**
 * Network lab: the terminal UI without a registry. None answers mDNS, and alice chooses LAN
 * mode on the registry screen (`l`); her terminal UI says it is in LAN mode, lists bob (found
 * over mDNS) in its status buffer and under `/lan`, and chats with him directly.
 *
 *        ns "tl-a" 10.203.52.1  tmux ─ hallway (no registry anywhere)
 *        ns "tl-b" 10.203.52.2  hallway client --json (bob, no registry: LAN mode)
 *                 both on br0 in ns "tl-sw"
 */

import { describe, expect, it } from "vitest";
import { CLI, type Json, PASSWORD } from "./fixtures/lab-cli.js";
import { LabTerminal, shellQuote } from "./fixtures/terminal.js";
import { terminalLan } from "./fixtures/terminal-lan.js";
import { requireLab } from "./lab-guard.js";

const lab = requireLab("the terminal UI in LAN mode in tmux", { commands: ["tmux"] });
const STEP_MS = 20_000;

describe.skipIf(!lab.canRun)("the terminal UI in LAN mode (network lab)", () => {
  const fixture = terminalLan("tuilan", { name: "tl", subnet: "10.203.52", hosts: ["a", "b"] });
  const { cli, terminals } = fixture;

  it("says LAN mode, shows the LAN directory, and chats without a registry", async () => {
    const [a, b] = [fixture.host("a"), fixture.host("b")];
    const bob = cli.client(b.ns, "bob");
    await bob.waitFor((e: Json) => e.event === "lan.mode" && e.lan === true, "bob in LAN mode", STEP_MS);

    const command = [
      "env -u HALLWAY_PASSWORD",
      `HALLWAY_HOME=${shellQuote(cli.tempDir("tl-home"))}`,
      shellQuote(process.execPath),
      shellQuote(CLI),
      "--data",
      shellQuote(cli.tempDir("tl-alice")),
    ].join(" ");
    const t = await LabTerminal.start(a.ns, cli.tempDir("tmux"), command);
    terminals.push(t);
    await t.waitFor(/l LAN mode/, "the offer of LAN mode", STEP_MS);
    await t.press("l");
    await t.waitFor(/Hallway · log in/, "the login screen", STEP_MS);
    await t.typeLine("alice");
    await t.waitFor(/^ {2}Password {3}\[ *\]/m, "the password field");
    await t.type(PASSWORD);
    await t.press("Enter");

    // No registry: LAN mode, said in the status buffer and the status line.
    await t.waitFor(/LAN mode: no registry/, "the LAN mode line", STEP_MS);
    await t.waitFor(/LAN mode · 1 on the LAN/, "the status line", STEP_MS);
    const seen = await t.waitFor(/bob is on the LAN at (10\.203\.52\.2):\d+/, "bob in the status buffer");
    expect(seen[1]).toBe(b.address);
    await t.typeLine("/lan");
    await t.waitFor(/LAN mode; this peer announces itself on the LAN/, "the /lan answer");

    // bob writes; alice answers from the conversation's buffer.
    await bob.waitFor((e: Json) => e.event === "lan.peer" && e.user === "alice", "alice at bob", STEP_MS);
    bob.send({ cmd: "send", to: "alice", text: "hi from the LAN" });
    await t.waitFor(/\[act: \d+\]/, "bob's buffer in the hotlist", STEP_MS);
    await t.typeLine("/query bob");
    await t.waitFor(/hi from the LAN/, "bob's message", STEP_MS);
    await t.typeLine("hello bob, no registry needed");
    const got = await bob.waitFor(
      (e: Json) => e.event === "message" && e.from === "alice",
      "alice's answer",
      STEP_MS,
    );
    expect(got).toMatchObject({ text: "hello bob, no registry needed", via: "direct" });
    await t.waitFor(/bob via lan/, "the path in the status line", STEP_MS);

    await t.typeLine("/quit");
    await t.waitForEnd(STEP_MS);
    bob.send({ cmd: "quit" });
    expect(await bob.exited).toEqual({ code: 0, signal: null });
  });
});
