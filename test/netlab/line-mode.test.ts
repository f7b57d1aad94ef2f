/**
 * Network lab: line mode (`hallway client` in a terminal) on a LAN with no registry.
 *
 *        ns "lm-a" 10.203.22.1  tmux ─ node dist/cli.js client   (hosts the registry, user alice)
 *        ns "lm-b" 10.203.22.2  hallway client --json --user bob   (no --server: mDNS)
 *        ns "lm-c" 10.203.22.3  fixtures/discover.mjs   (is the registry still advertised?)
 *                 all on br0 in ns "lm-sw"
 *
 * The terminal is a tmux pane started inside lm-a; the test types with send-keys and reads
 * the screen with capture-pane. HALLWAY_HOME points into a temp dir, so the client's and
 * the embedded registry's default data directories never touch the real home.
 */

import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { assertDistFresh, CLI, CliLab, type Json, PASSWORD } from "./fixtures/lab-cli.js";
import { LabTerminal, shellQuote } from "./fixtures/terminal.js";
import { requireLab } from "./lab-guard.js";
import { buildLan, type LanHost, NetLab } from "./netns.js";

const lab = requireLab("line mode in a terminal, hosting a registry found over mDNS", {
  commands: ["tmux"],
});

const DEFAULT_PORT = 7743;
const STEP_MS = 15_000;
const DISCOVER = fileURLToPath(new URL("./fixtures/discover.mjs", import.meta.url));

describe.skipIf(!lab.canRun)("line mode in a terminal (network lab)", () => {
  let net: NetLab | undefined;
  const cli = new CliLab();
  const terminals: LabTerminal[] = [];
  let a: LanHost;
  let b: LanHost;
  let c: LanHost;

  beforeAll(async () => {
    assertDistFresh();
    net = await NetLab.create("linemode");
    const lan = await buildLan(net, { name: "lm", subnet: "10.203.22", hosts: ["a", "b", "c"] });
    [a, b, c] = [lan.hosts.a, lan.hosts.b, lan.hosts.c] as [LanHost, LanHost, LanHost];
  });

  afterEach(async () => {
    await Promise.all(terminals.splice(0).map((t) => t.kill()));
    await cli.stopAll();
  });

  afterAll(async () => {
    await cli.cleanup();
    await net?.teardown();
  });

  function theLab(): NetLab {
    if (!net) throw new Error("lab not built");
    return net;
  }

  /** `hallway client` with no arguments but --data, in a fresh terminal in `ns`. */
  async function startLineMode(ns: string): Promise<{ term: LabTerminal; home: string; dataDir: string }> {
    const home = cli.tempDir("line-home");
    const dataDir = cli.tempDir("line-data");
    const command = [
      "env -u HALLWAY_PASSWORD",
      `HALLWAY_HOME=${shellQuote(home)}`,
      shellQuote(process.execPath),
      shellQuote(CLI),
      "client",
      "--data",
      shellQuote(dataDir),
    ].join(" ");
    const term = await LabTerminal.start(ns, cli.tempDir("tmux"), command);
    terminals.push(term);
    return { term, home, dataDir };
  }

  async function registriesSeenFrom(on: LanHost): Promise<unknown[]> {
    const r = await theLab().exec(on.ns, [process.execPath, DISCOVER, JSON.stringify({ timeoutMs: 1500 })], {
      timeoutMs: STEP_MS,
    });
    const out = JSON.parse(r.stdout) as { ok: boolean; registries: unknown[] };
    expect(out.ok, r.stderr).toBe(true);
    return out.registries;
  }

  it("hosts a registry, registers, chats with a peer that found it over mDNS, and quits cleanly", async () => {
    const { term, dataDir } = await startLineMode(a.ns);

    // Nobody answers mDNS on this LAN, so it offers to host.
    await term.waitFor(/Host one on this machine\? \[Y\/n\] ?$/m, "offer to host");
    // The user name is typed ahead, in the same burst as the answer: it must wait for
    // its question while the registry starts, not be lost with the first answer.
    await term.type("Y\ralice\r");
    const [, port, hostedFp] = await term.waitFor(
      /hosting a registry on UDP port (\d+), key fingerprint (\S+)/,
      "hosted registry",
    );
    expect(Number(port)).toBe(DEFAULT_PORT);

    await term.waitFor(/^User name: alice$/m, "user name, answered from the typed-ahead line");
    await term.waitFor(/^Password: ?$/m, "password prompt");
    await term.type(PASSWORD);
    await term.press("Enter");
    await term.waitFor(/No account 'alice' yet\. Register it\? \[Y\/n\] ?$/m, "offer to register");
    await term.typeLine("y");
    await term.waitFor(/logged in as alice/, "login");
    await term.waitFor(/^> ?$/m, "chat prompt");

    // bob, on another host, finds the embedded registry by mDNS alone.
    const bob = cli.client(b.ns, "bob", ["--register"]);
    await bob.waitFor((e) => e.event === "ready", "bob ready", STEP_MS);
    const reg = await bob.waitFor((e) => e.event === "registry", "registry event");
    expect(reg).toMatchObject({
      status: "connected",
      address: `${a.address}:${DEFAULT_PORT}`,
      fingerprint: hostedFp,
    });
    await bob.waitFor(
      (e) => e.event === "presence" && e.user === "alice" && e.status === "online",
      "alice online",
    );
    await term.waitFor(/\* bob is online/, "bob's presence on screen");

    await term.typeLine("/msg bob hello");
    const hello = await bob.waitFor(
      (e) => e.event === "message" && e.text === "hello",
      "hello at bob",
      STEP_MS,
    );
    expect(hello).toMatchObject({ from: "alice", to: "bob", via: "direct" });

    bob.send({ cmd: "send", to: "alice", text: "hi alice, bob here" });
    await term.waitFor(/\] bob: hi alice, bob here$/m, "bob's reply on screen");

    await term.typeLine("/users");
    const users = await term.waitFor(/> \/users\n((?: {2}[●○] \S+\n?)+)/, "user list");
    const listed = (users[1] ?? "").split("\n").map((l) => l.trim());
    expect(listed.filter(Boolean).sort()).toEqual(["● alice", "● bob"]);

    // Tab completes a path after /send, escaping it the way it was begun.
    const docs = cli.tempDir("tab");
    mkdirSync(join(docs, "My Files"));
    writeFileSync(join(docs, "My Files", "report.txt"), "r");
    await term.type(`/send bob ${docs}/My`);
    await term.press("Tab");
    await term.waitFor(new RegExp(`^> /send bob ${docs}/My\\\\ Files/$`, "m"), "the folder completed");
    await term.press("Tab");
    await term.waitFor(
      new RegExp(`^> /send bob ${docs}/My\\\\ Files/report\\.txt$`, "m"),
      "the file completed",
    );
    await term.press("C-u");
    await term.waitFor(/^> ?$/m, "the line cleared");

    // A file from bob, accepted by its number: while it runs, its progress is one line just
    // above the prompt, rewritten in place (bob sends at 10 kB/s, so it runs for a while).
    const slow = cli.client(b.ns, "bob2", ["--register", "--transfer-rate", "10000"]);
    await slow.waitFor((e) => e.event === "ready", "bob2 ready", STEP_MS);
    const src = join(cli.tempDir("slow-src"), "big.bin");
    writeFileSync(src, randomBytes(400_000));
    slow.send({ cmd: "sendFile", to: "alice", path: src });
    const [, n] = await term.waitFor(
      /\* #(\d+) bob2 offers "big\.bin" \(390\.6 KB\): \/accept \1 or \/decline \1/,
      "offer",
    );
    await term.typeLine(`/accept ${n}`);
    await term.waitFor(
      new RegExp(`^#${n} ←bob2 [1-9]\\d?%\\n> ?$`, "m"),
      "progress above the prompt",
      STEP_MS,
    );
    const progressLines = (screen: string) => screen.split("\n").filter((l) => /^#\d+ ←bob2 \d+%/.test(l));
    const first = progressLines(await term.screen());
    await term.waitFor(
      new RegExp(`^#${n} ←bob2 (?!${first[0]?.match(/(\d+)%/)?.[1]}%)\\d+%`, "m"),
      "progress moves",
      STEP_MS,
    );
    expect(progressLines(await term.screen())).toHaveLength(1);
    // Typing goes on under it; a printed line goes above it.
    await term.typeLine("/files");
    await term.waitFor(
      new RegExp(`^ {2}#${n} ← bob2 "big\\.bin" 390\\.6 KB \\d+%\\n#${n} ←bob2 \\d+%\\n> ?$`, "m"),
      "/files above the progress",
    );
    expect(progressLines(await term.screen())).toHaveLength(1);
    await term.typeLine(`/cancel ${n}`);
    await term.waitFor(
      new RegExp(`\\* #${n} you cancelled "big\\.bin"\\n> ?$`, "m"),
      "cancelled, and the progress line gone",
    );
    await slow.waitFor(
      (e) => e.event === "transfer" && e.state === "cancelled",
      "cancelled at bob2",
      STEP_MS,
    );

    await term.typeLine("/quit");
    await term.waitForEnd(STEP_MS);
    const final = await term.screen();
    expect(final).toMatch(/\* stopped the registry\n\* bye\n\[exit 0\]/);
    // Raw mode was undone: the shell after us reads lines with echo again.
    expect(final).toContain("[modes icanon echo ]");

    // The typed password was never on screen, at any point.
    for (const shown of term.seen) expect(shown).not.toContain(PASSWORD);

    // The embedded registry was stopped, not dropped: bob lost it, its store was closed
    // (SQLite removes the WAL on a clean close), and it said goodbye over mDNS.
    await bob.waitFor((e: Json) => e.event === "registry" && e.status === "lost", "registry lost", STEP_MS);
    // A registry hosted by a client started with --data keeps its data there too.
    const registryDir = join(dataDir, "registry");
    expect(existsSync(join(registryDir, "registry.sqlite"))).toBe(true);
    expect(existsSync(join(registryDir, "registry.sqlite-wal"))).toBe(false);
    expect(await registriesSeenFrom(c)).toEqual([]);
  });

  it("finds a registry on the LAN by itself; a password typed ahead of its prompt stays hidden", async () => {
    const registry = await cli.server(c.ns, "registry-c");
    const { term, home, dataDir } = await startLineMode(a.ns);
    await term.waitFor(/^User name: ?$/m, "user name prompt");
    expect(await term.screen()).not.toMatch(/Host one/);
    // Name and password in one burst: the password arrives before "Password:" is out.
    await term.type(`carol\r${PASSWORD}\r`);
    await term.waitFor(/No account 'carol' yet\. Register it\? \[Y\/n\] ?$/m, "offer to register");
    await term.typeLine("y");
    await term.waitFor(/logged in as carol/, "login");
    const screen = await term.screen();
    expect(screen).toContain(`* connected to ${c.address}:${registry.port} (${registry.fingerprint})`);
    expect(screen).toMatch(/^User name: carol\nPassword: ?\n/m);

    await term.typeLine("/quit");
    await term.waitForEnd(STEP_MS);
    const final = await term.screen();
    expect(final).toMatch(/^\* bye\n\[exit 0\]$/m);
    expect(final).not.toMatch(/stopped the registry/);
    expect(final).toContain("[modes icanon echo ]");
    for (const shown of term.seen) expect(shown).not.toContain(PASSWORD);
    expect(registry.proc.running).toBe(true);
    // `--data DIR` holds the device identity and the pinned registry key, not HALLWAY_HOME.
    expect(existsSync(join(dataDir, "identity.json"))).toBe(true);
    expect(existsSync(join(dataDir, "pinned-registries.json"))).toBe(true);
    expect(existsSync(join(home, "identity.json"))).toBe(false);
  });

  it("declining to host ends with a one-line error, status 1 and the terminal restored", async () => {
    const { term } = await startLineMode(a.ns);
    await term.waitFor(/Host one on this machine\? \[Y\/n\] ?$/m, "offer to host");
    await term.typeLine("n");
    await term.waitForEnd(STEP_MS);
    const final = await term.screen();
    expect(final).toMatch(/^hallway: no registry to connect to\n\[exit 1\]$/m);
    expect(final).toContain("[modes icanon echo ]");
  });
});
