import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { HallwayError } from "../../../src/errors.js";
import { ensureDataDir, loadOrCreateIdentity, PinStore, privacyWarnings } from "../../../src/net/data-dir.js";
import { systemRuntime } from "../../../src/net/system-runtime.js";

const dirs: string[] = [];
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), "hallway-datadir-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("data directory", () => {
  it("creates the device identity once, with mode 0600, and loads the same key again", () => {
    const dir = ensureDataDir(join(temp(), "a", "b"));
    const first = loadOrCreateIdentity(dir, systemRuntime.random);
    const path = join(dir, "identity.json");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(first.publicKey).toHaveLength(32);
    const again = loadOrCreateIdentity(dir, systemRuntime.random);
    expect(Buffer.from(again.publicKey).equals(Buffer.from(first.publicKey))).toBe(true);
    expect(Buffer.from(again.privateKey).equals(Buffer.from(first.privateKey))).toBe(true);
    // The private key is on disk only in this file.
    expect(readFileSync(path, "utf8")).toContain(Buffer.from(first.privateKey).toString("hex"));
  });

  it("tightens an identity file that others could read", () => {
    const dir = ensureDataDir(temp());
    loadOrCreateIdentity(dir, systemRuntime.random);
    const path = join(dir, "identity.json");
    chmodSync(path, 0o644);
    loadOrCreateIdentity(dir, systemRuntime.random);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("refuses a damaged identity with a one-line error instead of replacing it", () => {
    const dir = ensureDataDir(temp());
    writeFileSync(join(dir, "identity.json"), "{not json");
    expect(() => loadOrCreateIdentity(dir, systemRuntime.random)).toThrowError(HallwayError);
    expect(readFileSync(join(dir, "identity.json"), "utf8")).toBe("{not json");
  });

  const codeOf = (f: () => unknown): { code: string; message: string } => {
    try {
      f();
    } catch (err) {
      return { code: (err as HallwayError).code, message: (err as HallwayError).message };
    }
    return { code: "none", message: "" };
  };

  it("says DATA_DIR_UNUSABLE for a directory below a regular file", () => {
    const file = join(temp(), "file.txt");
    writeFileSync(file, "x");
    const { code, message } = codeOf(() => ensureDataDir(join(file, "sub")));
    expect(code).toBe("DATA_DIR_UNUSABLE");
    expect(message).not.toContain("\n");
  });

  it.runIf(process.platform === "linux")("says DATA_DIR_UNUSABLE for a directory in procfs, at once", () => {
    // A recursive mkdir used to spin there forever.
    expect(codeOf(() => ensureDataDir("/proc/x/y")).code).toBe("DATA_DIR_UNUSABLE");
    expect(codeOf(() => ensureDataDir("/proc/x")).code).toBe("DATA_DIR_UNUSABLE");
  });

  it("creates the data directory 0700 and warns about a directory or file others can read", () => {
    const dir = ensureDataDir(join(temp(), "new"));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    loadOrCreateIdentity(dir, systemRuntime.random);
    expect(privacyWarnings([dir, join(dir, "identity.json"), join(dir, "missing.json")])).toEqual([]);
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, "open.json"), "{}", { mode: 0o644 });
    chmodSync(join(dir, "open.json"), 0o644);
    const lines = privacyWarnings([dir, join(dir, "open.json")]);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/mode 755.*chmod 700/);
    expect(lines[1]).toMatch(/mode 644.*chmod 600/);
  });

  it("refuses a damaged pin file with REGISTRY_PINS_UNREADABLE, and forgets deliberately", () => {
    const dir = ensureDataDir(temp());
    const path = join(dir, "pinned-registries.json");
    new PinStore(dir).set("127.0.0.1:7743", "ab".repeat(32));
    // Truncated mid-write (as a crash of an old, non-atomic writer left it).
    writeFileSync(path, readFileSync(path, "utf8").slice(0, 20));
    const { code, message } = codeOf(() => new PinStore(dir).get("127.0.0.1:7743"));
    expect(code).toBe("REGISTRY_PINS_UNREADABLE");
    expect(message).toContain("--forget-registry");
    expect(codeOf(() => new PinStore(dir).set("127.0.0.1:7744", "cd".repeat(32))).code).toBe(
      "REGISTRY_PINS_UNREADABLE",
    );
    // Forgetting moves the damaged file aside; the next connection pins afresh.
    expect(new PinStore(dir).forget("127.0.0.1:7743")).toBe(true);
    expect(readFileSync(`${path}.damaged`, "utf8")).toHaveLength(20);
    expect(new PinStore(dir).get("127.0.0.1:7743")).toBeUndefined();
    new PinStore(dir).set("127.0.0.1:7743", "ef".repeat(32));
    new PinStore(dir).set("127.0.0.1:7744", "cd".repeat(32));
    expect(new PinStore(dir).forget("127.0.0.1:7743")).toBe(true);
    expect(new PinStore(dir).forget("127.0.0.1:7743")).toBe(false);
    expect(new PinStore(dir).get("127.0.0.1:7744")).toBe("cd".repeat(32));
    // A value that is not a key is damage too, not a missing pin.
    writeFileSync(path, JSON.stringify({ "127.0.0.1:7743": "not-a-key" }));
    expect(codeOf(() => new PinStore(dir).get("127.0.0.1:7743")).code).toBe("REGISTRY_PINS_UNREADABLE");
  });

  it("pins registry keys per address and keeps them across instances", () => {
    const dir = ensureDataDir(temp());
    const key = "ab".repeat(32);
    new PinStore(dir).set("127.0.0.1:7743", key);
    const pins = new PinStore(dir);
    expect(pins.get("127.0.0.1:7743")).toBe(key);
    expect(pins.get("127.0.0.1:7744")).toBeUndefined();
    expect(statSync(join(dir, "pinned-registries.json")).mode & 0o777).toBe(0o600);
  });
});
