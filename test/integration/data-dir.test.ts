/**
 * A data directory that fails loudly and stays private, with the real CLI: an unusable
 * `--data` (procfs) ends both roles with DATA_DIR_UNUSABLE at once; a registry.sqlite cut to
 * 0 bytes stops the registry with STORE_CORRUPT until `--init` says a new store is meant; the
 * registry's files are the owner's alone; a damaged pin file stops the client with
 * REGISTRY_PINS_UNREADABLE, and `--forget-registry` re-pins deliberately; a failed login
 * leaves no message log.
 */

import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hallway, killAll, requireBuild, startClient, startRegistry, tempDir } from "./harness.js";

beforeAll(requireBuild);
afterAll(killAll);

describe("data directory", () => {
  it.runIf(process.platform === "linux")(
    "--data /proc/x: both roles fail with DATA_DIR_UNUSABLE",
    async () => {
      const server = hallway("server", ["server", "--data", "/proc/x", "--no-mdns", "--port", "0", "--json"]);
      expect(await server.waitExit("server refuses /proc/x", 10_000)).toBe(1);
      expect(server.events).toMatchObject([{ event: "error", code: "DATA_DIR_UNUSABLE" }]);
      const client = hallway(
        "client",
        ["client", "--json", "--server", "127.0.0.1:9", "--user", "bob", "--data", "/proc/x/y"],
        { HALLWAY_PASSWORD: "correct horse battery staple" },
      );
      expect(await client.waitExit("client refuses /proc/x/y", 10_000)).toBe(1);
      expect(client.events).toMatchObject([{ event: "error", code: "DATA_DIR_UNUSABLE" }]);
    },
  );

  it("a 0-byte registry.sqlite is STORE_CORRUPT until --init; the registry's files are 0600", async () => {
    const dir = tempDir("registry");
    const first = await startRegistry(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, "registry.sqlite")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "identity.json")).mode & 0o777).toBe(0o600);
    await first.proc.kill("SIGTERM");
    writeFileSync(join(dir, "registry.sqlite"), "");
    const refused = hallway("registry", ["server", "--data", dir, "--no-mdns", "--port", "0", "--json"]);
    expect(await refused.waitExit("refuses the empty store", 10_000)).toBe(1);
    expect(refused.events).toMatchObject([{ event: "error", code: "STORE_CORRUPT" }]);
    expect(statSync(join(dir, "registry.sqlite")).size).toBe(0);
    const fresh = await startRegistry(dir, 0, ["--init"]);
    expect(fresh.listening.port).toBeGreaterThan(0);
  });

  it("a damaged pin file stops the client with REGISTRY_PINS_UNREADABLE; --forget-registry re-pins", async () => {
    const reg = await startRegistry(tempDir("registry"));
    const dir = tempDir("bob");
    const bob = startClient("bob", reg.port, dir, ["--register"]);
    await bob.waitFor((e) => e.event === "ready", "bob ready", 45_000);
    bob.send({ cmd: "quit" });
    await bob.waitExit("bob quits");
    const pins = join(dir, "pinned-registries.json");
    writeFileSync(pins, readFileSync(pins, "utf8").slice(0, 10));

    const refused = startClient("bob", reg.port, dir);
    expect(await refused.waitExit("refused", 15_000)).toBe(1);
    expect(refused.events.at(-1)).toMatchObject({ event: "error", code: "REGISTRY_PINS_UNREADABLE" });
    expect(String(refused.events.at(-1)?.message)).toContain("--forget-registry");
    expect(readFileSync(pins, "utf8")).toHaveLength(10);

    const forget = hallway("forget", [
      "client",
      "--json",
      "--data",
      dir,
      "--forget-registry",
      `127.0.0.1:${reg.port}`,
    ]);
    expect(await forget.waitExit("forgets")).toBe(0);
    expect(forget.events).toMatchObject([{ event: "ok", cmd: "forget-registry", forgotten: true }]);
    const again = startClient("bob", reg.port, dir);
    await again.waitFor((e) => e.event === "ready", "bob ready again", 45_000);
    expect(statSync(pins).mode & 0o777).toBe(0o600);
  });

  it("a login that fails leaves no message log behind; one that works gets a 0600 log with the first message", async () => {
    const reg = await startRegistry(tempDir("registry"));
    const dir = tempDir("carol");
    const wrong = startClient("carol", reg.port, dir);
    expect(await wrong.waitExit("no such user", 15_000)).toBe(1);
    expect(wrong.events.at(-1)).toMatchObject({ event: "error", code: "AUTH_UNKNOWN_USER" });
    expect(readdirSync(dir).filter((f) => f.startsWith("messages-"))).toEqual([]);

    const carol = startClient("carol", reg.port, dir, ["--register"]);
    await carol.waitFor((e) => e.event === "ready", "carol ready", 45_000);
    carol.send({ cmd: "send", to: "carol", text: "a note to myself" });
    await carol.waitFor(
      (e) => e.event === "message" && e.text === "a note to myself",
      "carol's note arrives",
    );
    expect(statSync(join(dir, "messages-carol.sqlite")).mode & 0o777).toBe(0o600);
  });
});
