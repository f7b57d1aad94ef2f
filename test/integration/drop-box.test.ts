/**
 * The registry's drop box end to end, with real processes and real UDP on loopback: a 50 MiB
 * file to a group of three with one member offline (the online ones get it at once, the
 * offline one at login; one copy on the registry's disk, gone after the last download), and
 * a file to someone offline whose upload survives a registry SIGKILL and resumes.
 */

import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Json,
  killAll,
  type Proc,
  requireBuild,
  startClient,
  startRegistry,
  tempDir,
} from "./harness.js";
import { loggedIn, RawClient, stopRawClients } from "./raw-client.js";
import { login, must, type Person } from "./social-helpers.js";
import { randomFile, sha256 } from "./transfer-helpers.js";

beforeAll(requireBuild);
afterAll(async () => {
  await stopRawClients();
  await killAll();
});

const MiB = 1024 * 1024;
const isDone = (direction: string) => (e: Json) =>
  e.event === "transfer" && e.direction === direction && e.state === "done" && e.via === "registry";

/** Blobs in the registry's drop box. */
const blobs = (regDir: string) => readdirSync(join(regDir, "drop", "blobs"));

/** Start `name` with an inbox that takes every offer; registered on first use. */
async function withInbox(name: string, port: number, dir: string, inbox: string, register: boolean) {
  const proc = startClient(name, port, dir, [...(register ? ["--register"] : []), "--accept-files", inbox]);
  await proc.waitFor((e) => e.event === "ready", `${name} ready`, 45_000);
  return { name, dir, proc } satisfies Person;
}

// Each test has its own registry and people: they run side by side.
/** Waits until `done()` holds, for up to `ms` (the test's next expect says what did not). */
async function until(done: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

/**
 * A registry (with `extra` options), bob registered and gone offline (his data and inbox kept
 * for a later login), and alice logged in, sending at most `rate` bytes per second.
 */
async function bobOffline(extra: string[], rate: number) {
  const regDir = tempDir("registry");
  const reg = await startRegistry(regDir, 0, extra);
  const bobDir = tempDir("bob");
  const bobInbox = tempDir("inbox-bob");
  const bob = await withInbox("bob", reg.port, bobDir, bobInbox, true);
  bob.proc.send({ cmd: "quit" });
  await bob.proc.waitExit("bob quits");
  const alice = startClient("alice", reg.port, tempDir("alice"), [
    "--register",
    "--transfer-rate",
    String(rate),
  ]);
  await alice.waitFor((e) => e.event === "ready", "alice ready", 45_000);
  return { regDir, reg, port: reg.port, bobDir, bobInbox, alice };
}

/**
 * Kills the registry (SIGKILL) once `p` has moved 2 MiB of a drop-box transfer, starts it
 * again on the same port and data, and resolves with the `accepted` of the transfer that
 * continues it (a new one, after `p`'s client logged in again by itself).
 */
async function cutMidway(p: Proc, regDir: string, port: number, registry: Proc, what: string) {
  const cut = await p.waitFor(
    (e) =>
      e.event === "transfer" &&
      e.via === "registry" &&
      e.state === "progress" &&
      (e.bytes as number) >= 2 * MiB,
    `a quarter of the ${what}`,
    60_000,
  );
  await registry.kill("SIGKILL");
  const reg = await startRegistry(regDir, port);
  const resumed = await p.waitFor(
    (e) => e.event === "transfer" && e.via === "registry" && e.state === "accepted" && e.id !== cut.id,
    `${what} resumed`,
    60_000,
  );
  return { reg, resumed };
}

describe.concurrent("drop box", () => {
  it("a 50 MiB file to a group of three, one member offline: at once, at login, one copy, then gone", async () => {
    const regDir = tempDir("registry");
    const reg = await startRegistry(regDir);
    const alice = await login("alice", reg.port);
    const inboxes = { bob: tempDir("inbox-bob"), carol: tempDir("inbox-carol"), dave: tempDir("inbox-dave") };
    const dirs = { bob: tempDir("bob"), carol: tempDir("carol"), dave: tempDir("dave") };
    const bob = await withInbox("bob", reg.port, dirs.bob, inboxes.bob, true);
    const carol = await withInbox("carol", reg.port, dirs.carol, inboxes.carol, true);
    let dave = await withInbox("dave", reg.port, dirs.dave, inboxes.dave, true);
    await must(alice, { cmd: "group.create", group: "ops" });
    for (const p of [bob, carol, dave]) {
      await must(p, { cmd: "group.join", group: "ops" });
      await must(alice, { cmd: "group.approve", group: "ops", user: p.name });
    }
    // dave goes offline before the file is sent.
    dave.proc.send({ cmd: "quit" });
    await dave.proc.waitExit("dave quits");

    const { data, src } = randomFile("plan.bin", 50 * MiB);
    const want = sha256(data);
    // `via: "registry"`: no peer-to-peer copy to the members online (the last step tests that).
    alice.proc.send({ cmd: "sendFile", to: "#ops", path: src, via: "registry", id: "s1" });
    const sent = await alice.proc.waitFor(
      (e) => e.event === "ok" && e.id === "s1",
      "sendFile answered",
      60_000,
    );
    expect(sent.n).toBeGreaterThan(0);
    const uploaded = await alice.proc.waitFor(isDone("send"), "upload done", 60_000);
    expect(uploaded).toMatchObject({ peer: "#ops", via: "registry", size: data.length, sha256: want });

    // The online members are told at once, fetch it, and have it, with the path shown.
    for (const p of [bob, carol]) {
      const told = await p.proc.waitFor((e) => e.event === "drop", `${p.name} told`, 30_000);
      expect(told.drop).toMatchObject({ from: "alice", to: "#ops", name: "plan.bin", size: data.length });
      const done = await p.proc.waitFor(isDone("receive"), `${p.name} has it`, 60_000);
      expect(done).toMatchObject({ peer: "alice", sha256: want });
      expect(sha256(readFileSync(done.path as string))).toBe(want);
    }
    // One copy on the registry's disk while dave has not taken it.
    expect(blobs(regDir)).toEqual([want]);
    expect(sha256(readFileSync(join(regDir, "drop", "blobs", want)))).toBe(want);
    const list = await must(alice, { cmd: "drops" });
    expect(list.sent).toEqual([expect.objectContaining({ to: "#ops", state: "stored", waiting: ["dave"] })]);

    // dave logs in: told, and fetches it; then the registry deletes its copy.
    dave = await withInbox("dave", reg.port, dirs.dave, inboxes.dave, false);
    const done = await dave.proc.waitFor(isDone("receive"), "dave has it", 60_000);
    expect(sha256(readFileSync(done.path as string))).toBe(want);
    await until(() => blobs(regDir).length === 0);
    expect(blobs(regDir)).toEqual([]);
    expect(readdirSync(join(regDir, "drop", "incoming"))).toEqual([]);
    expect((await must(alice, { cmd: "drops" })).sent).toEqual([]);
  }, 180_000);

  it("a file to someone offline survives a registry SIGKILL mid-upload and mid-download, and resumes", async () => {
    // alice capped, so that the registry dies in the middle of the file.
    const setup = await bobOffline([], 4_000_000);
    const { regDir, port, bobDir, bobInbox, alice } = setup;
    let reg = setup.reg;

    const { data, src } = randomFile("notes.bin", 8 * MiB);
    const want = sha256(data);
    alice.send({ cmd: "sendFile", to: "bob", path: src });
    // alice logs in again by herself and offers the rest; the registry had kept what it verified.
    const up = await cutMidway(alice, regDir, port, reg.proc, "upload");
    reg = up.reg;
    const resumed = up.resumed;
    expect(resumed.skippedBytes).toBeGreaterThan(0);
    const upload = await alice.waitFor(
      (e) => isDone("send")(e) && e.id === resumed.id,
      "upload done",
      60_000,
    );
    expect(upload).toMatchObject({ peer: "bob", sha256: want });
    expect((upload.sentBytes as number) + (upload.skippedBytes as number)).toBeGreaterThanOrEqual(
      data.length,
    );
    expect(upload.skippedBytes).toBeGreaterThan(0);

    // bob logs in later and takes it from the drop box, which is killed mid-download too
    // (capped, so that it dies in the middle): he continues from his partial file.
    await reg.proc.kill("SIGTERM");
    reg = await startRegistry(regDir, port, ["--drop-rate", "4000000"]);
    const bob2 = await withInbox("bob", port, bobDir, bobInbox, false);
    const down = await cutMidway(bob2.proc, regDir, port, reg.proc, "download");
    reg = down.reg;
    const again = down.resumed;
    expect(again.skippedBytes).toBeGreaterThan(0);
    const done = await bob2.proc.waitFor(isDone("receive"), "bob has it", 60_000);
    expect(done.peer).toBe("alice");
    expect(done.path).toBe(join(bobInbox, "notes.bin"));
    expect(sha256(readFileSync(done.path as string))).toBe(want);
    expect(readdirSync(bobInbox)).toEqual(["notes.bin"]);
    // Taken by its only recipient: gone from the registry's disk.
    await until(() => blobs(regDir).length === 0);
    expect(blobs(regDir)).toEqual([]);
  }, 180_000);

  it("refuses what is over the limits, stops an upload a smaller quota no longer holds, never offers a damaged file", async () => {
    const small = ["--drop-max-file", String(3 * MiB), "--drop-user-quota", String(4 * MiB)];
    const setup = await bobOffline(small, 1_000_000);
    const { regDir, port, bobDir, bobInbox, alice } = setup;
    let reg = setup.reg;

    // Over the per-file limit: refused before a byte goes.
    const big = randomFile("big.bin", 3 * MiB + 1);
    alice.send({ cmd: "sendFile", to: "bob", path: big.src });
    const tooLarge = await alice.waitFor((e) => e.event === "error" && e.cmd === "sendFile", "refused");
    expect(tooLarge.code).toBe("FILE_TOO_LARGE");

    // Mid-way: the registry dies, and comes back with a quota the rest no longer fits in.
    const { src } = randomFile("half.bin", 3 * MiB);
    alice.send({ cmd: "sendFile", to: "bob", path: src });
    await alice.waitFor(
      (e) =>
        e.event === "transfer" &&
        e.via === "registry" &&
        e.state === "progress" &&
        (e.bytes as number) >= MiB,
      "a third uploaded",
      60_000,
    );
    await reg.proc.kill("SIGKILL");
    const incoming = join(regDir, "drop", "incoming");
    expect(readdirSync(incoming).some((f) => f.endsWith(".part"))).toBe(true);
    reg = await startRegistry(regDir, port, ["--drop-user-quota", String(2 * MiB)]);
    const stopped = await alice.waitFor(
      (e) =>
        e.event === "transfer" && e.via === "registry" && e.state === "failed" && e.code === "FILE_QUOTA",
      "FILE_QUOTA",
      60_000,
    );
    expect(stopped.by).toBe("peer");
    // No partial file stays after the sweep, and no entry.
    await until(() => readdirSync(incoming).length === 0);
    expect(readdirSync(incoming)).toEqual([]);

    // A stored file whose bytes changed on the registry's disk is never offered.
    const ok = randomFile("ok.bin", 64 * 1024);
    alice.send({ cmd: "sendFile", to: "bob", path: ok.src });
    await alice.waitFor((e) => isDone("send")(e) && e.name === "ok.bin", "ok.bin stored", 60_000);
    const blob = join(regDir, "drop", "blobs", sha256(ok.data));
    const damaged = Buffer.from(ok.data);
    damaged[100] = (damaged[100] ?? 0) ^ 0xff;
    writeFileSync(blob, damaged);
    const bob2 = await withInbox("bob", port, bobDir, bobInbox, false);
    const refused = await bob2.proc.waitFor(
      (e) => e.event === "error" && e.code === "FILE_HASH_MISMATCH",
      "mismatch",
    );
    expect(refused.message).toBeTruthy();
    await new Promise((r) => setTimeout(r, 500));
    expect(bob2.proc.events.filter((e) => e.event === "transfer")).toEqual([]);
    expect(existsSync(blob)).toBe(false);
  }, 180_000);

  it("a group's members online take it peer to peer meanwhile, and the registry keeps nothing for them", async () => {
    const regDir = tempDir("registry");
    const reg = await startRegistry(regDir);
    // Capped, so that the upload lasts longer than making the direct sessions.
    const alice: Person = {
      name: "alice",
      dir: tempDir("alice"),
      proc: startClient("alice", reg.port, tempDir("alice"), ["--register", "--transfer-rate", "2000000"]),
    };
    await alice.proc.waitFor((e) => e.event === "ready", "alice ready", 45_000);
    const bob = await withInbox("bob", reg.port, tempDir("bob"), tempDir("inbox-bob"), true);
    const carol = await withInbox("carol", reg.port, tempDir("carol"), tempDir("inbox-carol"), true);
    await must(alice, { cmd: "group.create", group: "lab" });
    for (const p of [bob, carol]) {
      await must(p, { cmd: "group.join", group: "lab" });
      await must(alice, { cmd: "group.approve", group: "lab", user: p.name });
    }
    const { data, src } = randomFile("memo.bin", 6 * MiB);
    alice.proc.send({ cmd: "sendFile", to: "#lab", path: src });
    for (const p of [bob, carol]) {
      const done = await p.proc.waitFor(
        (e) => e.event === "transfer" && e.state === "done" && e.name === "memo.bin",
        `${p.name} has memo.bin`,
        60_000,
      );
      // Peer to peer: no `via`, and the path event says which path it took.
      expect(done.via).toBeUndefined();
      expect(done.peer).toBe("alice");
      expect(sha256(readFileSync(done.path as string))).toBe(sha256(data));
      expect(p.proc.events.some((e) => e.event === "path" && e.peer === "alice")).toBe(true);
    }
    await alice.proc.waitFor(isDone("send"), "upload done", 60_000);
    let left: Json[] = [];
    await until(async () => {
      left = (await must(alice, { cmd: "drops" })).sent as Json[];
      return left.length === 0;
    }, 15_000);
    expect(left).toEqual([]);
    expect(blobs(regDir)).toEqual([]);
    // Each has it once.
    for (const p of [bob, carol]) {
      expect(p.proc.events.filter((e) => e.event === "transfer" && e.state === "done")).toHaveLength(1);
    }
  }, 120_000);

  it("takes file messages only from logged-in sessions, and only files announced with drop.put", async () => {
    const reg = await startRegistry(tempDir("registry"));
    const offer = (id: string) => ({
      t: "file.offer",
      id,
      stream: 5,
      name: "x.bin",
      size: 1000,
      sha256: "c".repeat(64),
    });
    // Before login: no answer at all (nothing to amplify), a strike each, then the end.
    const anonymous = await RawClient.open(reg.port);
    expect(
      (await anonymous.request({ t: "drop.put", to: "bob", name: "x.bin", size: 1, sha256: "c".repeat(64) }))
        .code,
    ).toBe("AUTH_NOT_LOGGED_IN");
    for (let i = 0; i < 120 && anonymous.closedReason === undefined; i++) {
      anonymous.sendBytes(
        new TextEncoder().encode(JSON.stringify(offer(`anon${String(i).padStart(8, "0")}`))),
      );
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(await anonymous.closed()).toMatch(/^SESSION_TERMINATED: file transfer before login/);
    expect(anonymous.pushes.filter((m) => String(m.t).startsWith("file."))).toEqual([]);

    // Logged in, but nothing announced: refused by the offer's id.
    const mallory = await loggedIn(reg.port, "mallory", "correct horse battery staple");
    mallory.sendBytes(new TextEncoder().encode(JSON.stringify(offer("unannounced1"))));
    await until(() => mallory.pushes.some((m) => m.t === "file.cancel"));
    expect(mallory.pushes.find((m) => m.t === "file.cancel")).toMatchObject({
      id: "unannounced1",
      code: "FILE_PROTOCOL_ERROR",
    });
  }, 60_000);
});
