/**
 * `{"cmd":"connect"}` on loopback, real processes: the registry coordinates, the peers'
 * connectivity checks find each other on this machine (a `lan` path), and both say so.
 * Connecting to someone who is not online is a one-line PEER_OFFLINE, and under
 * `--policy friends` the registry introduces no non-friend.
 */

import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { killAll, requireBuild, startClient, startRegistry, tempDir } from "./harness.js";

beforeAll(() => requireBuild());
afterEach(() => killAll());

describe("connect", () => {
  it("opens a direct session on request and reports its path on both sides", async () => {
    const { port } = await startRegistry(tempDir("connect-registry"));
    const alice = startClient("alice", port, tempDir("connect-alice"), ["--register"]);
    const bob = startClient("bob", port, tempDir("connect-bob"), ["--register"]);
    await alice.waitFor((e) => e.event === "ready", "alice ready");
    await bob.waitFor((e) => e.event === "ready", "bob ready");
    await alice.waitFor((e) => e.event === "presence" && e.user === "bob", "bob online");

    alice.send({ cmd: "connect", to: "bob" });
    const path = await alice.waitFor((e) => e.event === "path", "alice's path");
    expect(path).toMatchObject({ peer: "bob", kind: "lan" });
    expect(typeof path.ms).toBe("number");
    await bob.waitFor((e) => e.event === "path" && e.peer === "alice" && e.kind === "lan", "bob's path");

    alice.send({ cmd: "send", to: "bob", text: "over the path we just found" });
    const msg = await bob.waitFor((e) => e.event === "message", "message");
    expect(msg).toMatchObject({ from: "alice", via: "direct" });

    alice.send({ cmd: "connect", to: "nobody" });
    const err = await alice.waitFor((e) => e.event === "error" && e.cmd === "connect", "connect error");
    expect(err.code).toBe("MSG_UNKNOWN_RECIPIENT");
  }, 60_000);

  it("says PEER_OFFLINE for a registered user who is not online", async () => {
    const { port } = await startRegistry(tempDir("connect-registry2"));
    const carol = startClient("carol", port, tempDir("connect-carol"), ["--register"]);
    await carol.waitFor((e) => e.event === "ready", "carol ready");
    carol.send({ cmd: "quit" });
    await carol.exited;
    const alice = startClient("alice", port, tempDir("connect-alice2"), ["--register"]);
    await alice.waitFor((e) => e.event === "ready", "alice ready");
    alice.send({ cmd: "connect", to: "carol" });
    const err = await alice.waitFor((e) => e.event === "error" && e.cmd === "connect", "connect error");
    expect(err.code).toBe("PEER_OFFLINE");
  }, 60_000);

  it("under --policy friends, a non-friend cannot be connected to: POLICY_NOT_FRIENDS", async () => {
    const { port } = await startRegistry(tempDir("connect-registry3"), 0, ["--policy", "friends"]);
    const alice = startClient("alice", port, tempDir("connect-alice3"), ["--register"]);
    await alice.waitFor((e) => e.event === "ready", "alice ready");
    const bob = startClient("bob", port, tempDir("connect-bob3"), ["--register"]);
    await bob.waitFor((e) => e.event === "ready", "bob ready");
    alice.send({ cmd: "connect", to: "bob" });
    const err = await alice.waitFor((e) => e.event === "error" && e.cmd === "connect", "connect error");
    expect(err.code).toBe("POLICY_NOT_FRIENDS");
    expect(alice.events.some((e) => e.event === "path")).toBe(false);
    expect(bob.events.some((e) => e.event === "path")).toBe(false);
  }, 60_000);
});
