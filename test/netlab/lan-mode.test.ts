/**
 * Network lab: peers find each other over mDNS (`_hallway-peer._udp`) and work without a
 * registry (docs/discovery.md).
 *
 *        ns "lm-a" 10.203.51.1  alice            (a registry here in the "registry later" test)
 *        ns "lm-b" 10.203.51.2  bob
 *        ns "lm-c" 10.203.51.3  carol            (appears later)
 *        ns "lm-d" 10.203.51.4  "bob" again, with another key: a forged announcement
 *                 all on br0 in ns "lm-sw"
 *
 * Every process runs dist/cli.js (`npm test` builds it first) inside its namespace.
 */

import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Json, type JsonProc, PASSWORD, REPO } from "./fixtures/lab-cli.js";
import { terminalLan } from "./fixtures/terminal-lan.js";
import { type LabStatus, requireCapability, requireLab } from "./lab-guard.js";
import type { LanHost } from "./netns.js";

const lab = requireLab("peers find each other over mDNS and chat without a registry");

const STEP_MS = 15_000;
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const lanUp = (user: string) => (e: Json) => e.event === "lan.peer" && e.state === "up" && e.user === user;
const inLanMode = (e: Json) => e.event === "lan.mode" && e.lan === true;

/** python3-zeroconf from Debian (the system python), the independent browser of the interop check. */
const PYTHON = "/usr/bin/python3";
const ZEROCONF: LabStatus =
  spawnSync(PYTHON, ["-c", "import zeroconf"], { stdio: "ignore" }).status === 0
    ? { canRun: true, why: "python3-zeroconf is installed" }
    : { canRun: false, why: "python3-zeroconf is missing (apt-get install python3-zeroconf; .ci/run does)" };

describe.skipIf(!lab.canRun)("LAN discovery and LAN mode (network lab)", () => {
  // The lab of terminal tests serves headless processes as well.
  const fixture = terminalLan("lanmode", { name: "lm", subnet: "10.203.51", hosts: ["a", "b", "c", "d"] });
  const { cli } = fixture;
  let [a, b, c, d] = [] as LanHost[] as [LanHost, LanHost, LanHost, LanHost];

  beforeAll(() => {
    [a, b, c, d] = [fixture.host("a"), fixture.host("b"), fixture.host("c"), fixture.host("d")];
  });

  afterEach(() => cli.stopAll());

  async function quit(...procs: JsonProc[]): Promise<void> {
    for (const p of procs) {
      p.send({ cmd: "quit" });
      expect(await p.exited).toEqual({ code: 0, signal: null });
    }
  }

  it("without a registry: chat, a file, a message that waits, a forged name refused; then a registry appears", async () => {
    const inbox = cli.tempDir("inbox");
    // Line mode, piped: no registry found, `l` answers the offer to host one.
    const dave = cli.hallway(c.ns, "dave", ["client", "--user", "dave", "--data", cli.tempDir("dave")], {
      HALLWAY_PASSWORD: PASSWORD,
    });
    let daveSaid = "";
    dave.child.stdout?.on("data", (d: Buffer) => {
      daveSaid += d.toString("utf8");
    });
    const daveSays = async (re: RegExp, what: string): Promise<void> => {
      for (let waited = 0; !re.test(daveSaid); waited += 100) {
        if (waited > STEP_MS) throw new Error(`line mode: no ${what}; it said:\n${daveSaid}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const alice = cli.client(a.ns, "alice");
    const bob = cli.client(b.ns, "bob", ["--accept-files", inbox]);
    for (const p of [alice, bob]) {
      expect(await p.waitFor(inLanMode, "LAN mode", STEP_MS)).toMatchObject({ code: "REGISTRY_NOT_FOUND" });
    }
    const seen = await alice.waitFor(lanUp("bob"), "bob on the LAN", STEP_MS);
    expect(seen).toMatchObject({
      address: expect.stringMatching(/^10\.203\.51\.2:\d+$/),
      conflicting: false,
    });
    await bob.waitFor(lanUp("alice"), "alice on the LAN", STEP_MS);
    // Presence travels in the announcement.
    bob.send({ cmd: "presence", status: "away", id: "away" });
    expect(await bob.waitFor((e) => e.id === "away", "the answer")).toMatchObject({
      event: "ok",
      status: "away",
    });
    await alice.waitFor(
      (e) => e.event === "lan.peer" && e.user === "bob" && e.presence === "away",
      "bob away at alice",
      STEP_MS,
    );

    await daveSays(/Answer l to chat without one \(LAN mode\)/, "the offer of LAN mode");
    dave.child.stdin?.write("l\n");
    await daveSays(/\* LAN mode: no registry/, "LAN mode");
    await daveSays(/\* alice is on the LAN at 10\.203\.51\.1:\d+/, "alice in the LAN directory");
    dave.child.stdin?.write("/lan\n");
    await daveSays(/LAN mode \(no registry\); announcing this peer on the LAN/, "the /lan answer");
    dave.child.stdin?.write("/quit\n");
    expect(await dave.exited).toEqual({ code: 0, signal: null });
    await alice.waitFor(
      (e) => e.event === "lan.peer" && e.user === "dave" && e.state === "down",
      "dave's goodbye",
    );

    alice.send({ cmd: "send", to: "bob", text: "hi bob, no registry here" });
    const sent = await alice.waitFor((e) => e.event === "sent" && e.to === "bob", "sent", STEP_MS);
    expect(sent.via).toBe("direct");
    expect(await alice.waitFor((e) => e.event === "path" && e.peer === "bob", "path")).toMatchObject({
      kind: "lan",
    });
    const got = await bob.waitFor((e) => e.event === "message" && e.from === "alice", "message", STEP_MS);
    expect(got).toMatchObject({ text: "hi bob, no registry here", via: "direct", id: sent.id });
    await alice.waitFor((e) => e.event === "delivered" && e.id === sent.id, "receipt", STEP_MS);

    // A file, over the same LAN session.
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const src = join(cli.tempDir("src"), "report.bin");
    writeFileSync(src, data);
    alice.send({ cmd: "sendFile", to: "bob", path: src });
    const done = await bob.waitFor(
      (e) => e.event === "transfer" && e.state === "done" && e.direction === "receive",
      "file at bob",
      30_000,
    );
    expect(sha256(readFileSync(done.path as string))).toBe(sha256(data));

    // Carol is not here yet: the message waits, and goes when she appears.
    alice.send({ cmd: "send", to: "carol", text: "for when you are in" });
    const queued = await alice.waitFor((e) => e.event === "queued", "queued", STEP_MS);
    expect(queued).toMatchObject({ to: "carol", code: "PEER_QUEUED" });
    const carol = cli.client(c.ns, "carol", ["--register-if-missing"]);
    const waited = await carol.waitFor(
      (e) => e.event === "message" && e.from === "alice",
      "waited message",
      30_000,
    );
    expect(waited).toMatchObject({ text: "for when you are in", id: queued.id, via: "direct" });
    await alice.waitFor((e) => e.event === "delivered" && e.id === queued.id, "receipt from carol", STEP_MS);

    // Another device claims "bob" with another key. Alice pinned the real bob: the forger is
    // refused loudly, and his message never shows. Carol never met bob: she trusts neither.
    const forger = cli.client(d.ns, "bob");
    await alice.waitFor(
      (e) => e.event === "lan.peer" && e.user === "bob" && e.conflicting === true,
      "the conflict at alice",
      STEP_MS,
    );
    await forger.waitFor(lanUp("alice"), "alice at the forger", STEP_MS);
    forger.send({ cmd: "send", to: "alice", text: "I am bob, trust me" });
    const refused = await alice.waitFor(
      (e) => e.event === "error" && e.code === "PEER_KEY_CHANGED",
      "PEER_KEY_CHANGED at alice",
      STEP_MS,
    );
    expect(refused.message).toContain("bob");
    await carol.waitFor(
      (e) => e.event === "lan.peer" && e.user === "bob" && e.conflicting === true,
      "conflict",
    );
    carol.send({ cmd: "send", to: "bob", text: "which bob?", id: 7 });
    expect(
      await carol.waitFor((e) => e.event === "error" && e.id === 7, "refusal at carol", STEP_MS),
    ).toMatchObject({
      code: "PEER_KEY_CONFLICT",
    });
    // The real bob still gets alice's messages: the pinned device.
    alice.send({ cmd: "send", to: "bob", text: "still you?" });
    await bob.waitFor(
      (e) => e.event === "message" && e.text === "still you?",
      "message after the forgery",
      STEP_MS,
    );
    expect(alice.events.some((e) => e.event === "message" && e.text === "I am bob, trust me")).toBe(false);

    // A query flood gets one answer a second from alice, not one per query.
    const flood = spawnSync(
      "ip",
      [
        "netns",
        "exec",
        b.ns,
        process.execPath,
        join(REPO, "test/netlab/fixtures/query-flood.mjs"),
        JSON.stringify({ from: a.address, queries: 100, everyMs: 20, listenMs: 1000 }),
      ],
      { encoding: "utf8", timeout: 20_000, cwd: REPO },
    );
    expect(flood.status, flood.stderr).toBe(0);
    const counted = JSON.parse(flood.stdout) as { queries: number; answers: number };
    expect(counted.queries).toBe(100);
    console.log(`mDNS query flood: ${counted.queries} queries in 2 s, ${counted.answers} answers from alice`);
    // 2 s of queries and 1 s after: at most one answer a second (and the gap's end), at least one.
    expect(counted.answers).toBeGreaterThanOrEqual(1);
    expect(counted.answers).toBeLessThanOrEqual(4);

    alice.send({ cmd: "lan", id: 1 });
    const dir = await alice.waitFor((e) => e.event === "lan.peers", "directory");
    expect(dir).toMatchObject({ lan: true, announcing: true });
    expect((dir.peers as Json[]).map((p) => [p.user, p.conflicting]).sort()).toEqual([
      ["bob", true],
      ["bob", true],
      ["carol", false],
    ]);

    // A registry starts on the LAN: carol (--register-if-missing) takes it and logs in;
    // alice has no account there, hears so once, and stays in LAN mode.
    const registry = await cli.server(d.ns, "registry-later");
    await carol.waitFor((e) => e.event === "lan.mode" && e.lan === false, "carol takes the registry", 30_000);
    await carol.waitFor((e) => e.event === "ready", "carol logged in", STEP_MS);
    const turnedAway = await alice.waitFor(
      (e) => e.event === "error" && e.code === "AUTH_UNKNOWN_USER",
      "the refusal at alice",
      30_000,
    );
    expect(turnedAway.message).toContain("staying in LAN mode");
    alice.send({ cmd: "send", to: "bob", text: "still LAN mode" });
    await bob.waitFor((e) => e.event === "message" && e.text === "still LAN mode", "LAN message", STEP_MS);
    await quit(alice, bob, carol, forger);
    expect(await registry.proc.stop()).toEqual({ code: 0, signal: null });
  }, 120_000);

  it("a registry that comes back gets the LAN-mode messages once: the waiting one offline, the direct one as history", async () => {
    const regData = cli.tempDir("registry");
    const server = ["--server", `${a.address}:7743`];
    const start = () =>
      cli.hallway(a.ns, "registry", ["server", "--json", "--data", regData, "--port", "7743", "--no-mdns"]);
    let registry = start();
    await registry.waitFor((e) => e.event === "listening", "listening");
    const setup = [
      cli.client(b.ns, "bob", ["--register", ...server]),
      cli.client(c.ns, "carol", ["--register", ...server]),
    ];
    const dave = cli.client(d.ns, "dave", ["--register", ...server]);
    for (const p of [...setup, dave]) await p.waitFor((e) => e.event === "ready", "registered", STEP_MS);
    await quit(...setup, dave);
    expect(await registry.stop()).toEqual({ code: 0, signal: null });

    // The same data directories as above are not needed: the accounts are the registry's.
    const bob = cli.client(b.ns, "bob", server);
    const carol = cli.client(c.ns, "carol", server);
    for (const p of [bob, carol]) {
      expect(await p.waitFor(inLanMode, "LAN mode", STEP_MS)).toMatchObject({ code: "REGISTRY_UNREACHABLE" });
    }
    await bob.waitFor(lanUp("carol"), "carol on the LAN", STEP_MS);
    bob.send({ cmd: "send", to: "carol", text: "said in LAN mode" });
    const direct = await bob.waitFor((e) => e.event === "sent" && e.to === "carol", "sent", STEP_MS);
    await bob.waitFor((e) => e.event === "delivered" && e.id === direct.id, "receipt", STEP_MS);
    bob.send({ cmd: "send", to: "dave", text: "dave is not on the LAN" });
    const waiting = await bob.waitFor((e) => e.event === "queued" && e.to === "dave", "queued", STEP_MS);

    registry = start();
    await registry.waitFor((e) => e.event === "listening", "listening again");
    await bob.waitFor((e) => e.event === "lan.mode" && e.lan === false, "LAN mode ends", 30_000);
    const stored = await bob.waitFor((e) => e.event === "sent" && e.id === waiting.id, "stored", STEP_MS);
    expect(stored.via).toBe("offline");

    // History: the registry has the LAN-mode message, once.
    await carol.waitFor((e) => e.event === "lan.mode" && e.lan === false, "carol back", 30_000);
    let entries: Json[] = [];
    for (let i = 0; i < 20 && entries.length === 0; i++) {
      carol.send({ cmd: "history", with: "bob", id: 100 + i });
      const h = await carol.waitFor((e) => e.event === "history" && e.id === 100 + i, "history", STEP_MS);
      entries = (h.messages as Json[]).filter((m) => m.id === direct.id);
      if (entries.length === 0) await new Promise((r) => setTimeout(r, 250));
    }
    expect(entries).toEqual([
      expect.objectContaining({ text: "said in LAN mode", from: "bob", to: "carol" }),
    ]);

    // New data directories are new devices: the keys bob pinned in LAN mode are the ones
    // carol logs in with, so nothing disagrees.
    expect(bob.events.filter((e) => e.event === "error" && e.code === "PEER_KEY_CHANGED")).toEqual([]);

    // Dave gets the waiting message from the registry, once.
    const dave2 = cli.client(d.ns, "dave", server);
    const got = await dave2.waitFor(
      (e) => e.event === "message" && e.id === waiting.id,
      "offline message",
      STEP_MS,
    );
    expect(got.via).toBe("offline");
    await quit(bob, carol, dave2);
    expect(dave2.events.filter((e) => e.event === "message" && e.id === waiting.id)).toHaveLength(1);
  }, 120_000);

  // Fails under CI=true, and is a titled skip elsewhere, when python3-zeroconf is missing.
  const zeroconf = requireCapability("the mDNS interop check with python3-zeroconf", ZEROCONF).canRun;
  it.skipIf(!zeroconf)(
    "python3-zeroconf sees the announcement with the documented TXT, and none of a --no-announce peer",
    async () => {
      const alice = cli.client(a.ns, "alice");
      // erin browses but does not announce herself: the browser must not see her.
      const erin = cli.client(c.ns, "erin", ["--no-announce"]);
      await alice.waitFor(inLanMode, "LAN mode", STEP_MS);
      await erin.waitFor(lanUp("alice"), "alice at erin", STEP_MS);
      const script = join(REPO, "test/netlab/fixtures/zeroconf-browse.py");
      const out = spawnSync("ip", ["netns", "exec", b.ns, PYTHON, script, "4"], {
        encoding: "utf8",
        timeout: 20_000,
      });
      expect(out.status, out.stderr).toBe(0);
      const found = out.stdout
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as Json)
        .filter((e) => e.name !== undefined);
      expect(found).toHaveLength(1);
      const [peer] = found as [Json];
      expect(peer.name).toMatch(/^alice \([0-9a-f]{4}\)\._hallway-peer\._udp\.local\.$/);
      expect(peer.addresses).toEqual([a.address]);
      expect(peer.txt).toEqual({
        v: "1",
        user: "alice",
        fp: expect.stringMatching(/^[0-9a-f]{4}(-[0-9a-f]{4}){7}$/),
        st: "online",
      });
      erin.send({ cmd: "lan", id: 2 });
      expect(await erin.waitFor((e) => e.event === "lan.peers", "erin's directory")).toMatchObject({
        announcing: false,
        peers: [expect.objectContaining({ user: "alice" })],
      });
      await quit(alice, erin);
    },
  );
});
