import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { HallwayError } from "../../src/errors.js";
import { ensureDataDir, loadOrCreateIdentity, PinStore } from "../../src/net/data-dir.js";

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
    const first = loadOrCreateIdentity(dir);
    const path = join(dir, "identity.json");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(first.publicKey).toHaveLength(32);
    const again = loadOrCreateIdentity(dir);
    expect(Buffer.from(again.publicKey).equals(Buffer.from(first.publicKey))).toBe(true);
    expect(Buffer.from(again.privateKey).equals(Buffer.from(first.privateKey))).toBe(true);
    // The private key is on disk only in this file.
    expect(readFileSync(path, "utf8")).toContain(Buffer.from(first.privateKey).toString("hex"));
  });

  it("tightens an identity file that others could read", () => {
    const dir = ensureDataDir(temp());
    loadOrCreateIdentity(dir);
    const path = join(dir, "identity.json");
    chmodSync(path, 0o644);
    loadOrCreateIdentity(dir);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("refuses a damaged identity with a one-line error instead of replacing it", () => {
    const dir = ensureDataDir(temp());
    writeFileSync(join(dir, "identity.json"), "{not json");
    expect(() => loadOrCreateIdentity(dir)).toThrowError(HallwayError);
    expect(readFileSync(join(dir, "identity.json"), "utf8")).toBe("{not json");
  });

  it("says DATA_DIR_UNWRITABLE for a directory below a regular file", () => {
    const file = join(temp(), "file.txt");
    writeFileSync(file, "x");
    try {
      ensureDataDir(join(file, "sub"));
      expect.unreachable();
    } catch (err) {
      expect((err as HallwayError).code).toBe("DATA_DIR_UNWRITABLE");
      expect((err as HallwayError).message).not.toContain("\n");
    }
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
