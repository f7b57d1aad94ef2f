import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LanOutbox } from "../../../src/peer/lan-outbox.js";
import { PeerPins } from "../../../src/peer/peer-pins.js";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "hallway-lan-trust-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const K1 = "11".repeat(32);
const K2 = "22".repeat(32);

describe("peer pins (TOFU per user name)", () => {
  it("pins on first contact, matches after, and reports a changed key without re-pinning", () => {
    const dir = tempDir();
    const pins = new PeerPins(dir);
    expect(pins.check("bob", K1)).toBe("pinned");
    expect(pins.check("bob", K1)).toBe("matches");
    expect(pins.check("bob", K2)).toBe("changed");
    // Durable, in its own file, 0600, for the next process too.
    expect(new PeerPins(dir).get("bob")).toBe(K1);
    expect(statSync(join(dir, "pinned-peers.json")).mode & 0o777).toBe(0o600);
    // What the registry vouches for replaces the pin.
    pins.set("bob", K2);
    expect(new PeerPins(dir).all()).toEqual({ bob: K2 });
  });

  it("refuses a damaged pin file instead of trusting anything", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "pinned-peers.json"), '{"bob": "not a key"}');
    expect(() => new PeerPins(dir).get("bob")).toThrow(
      expect.objectContaining({ code: "PEER_PINS_UNREADABLE" }),
    );
    writeFileSync(join(dir, "pinned-peers.json"), "{");
    expect(() => new PeerPins(dir).check("bob", K1)).toThrow(
      expect.objectContaining({ code: "PEER_PINS_UNREADABLE" }),
    );
    expect(readFileSync(join(dir, "pinned-peers.json"), "utf8")).toBe("{");
  });
});

describe("LAN outbox", () => {
  const msg = (id: string, to: string) => ({ id, from: "alice", to, text: `hi ${to}`, sentAt: 1 });

  it("keeps messages per recipient in order, once each, across a restart", () => {
    const dir = tempDir();
    const box = LanOutbox.open(dir, "alice");
    box.add(msg("m1", "bob"));
    box.add(msg("m2", "carol"));
    box.add(msg("m3", "bob"));
    box.add(msg("m1", "bob"));
    box.close();
    const again = LanOutbox.open(dir, "alice");
    expect(again.waiting("bob").map((m) => m.id)).toEqual(["m1", "m3"]);
    expect(again.waiting().map((m) => m.id)).toEqual(["m1", "m2", "m3"]);
    again.remove("m1");
    expect(again.has("m1")).toBe(false);
    expect(again.has("m3")).toBe(true);
    expect(statSync(again.path).mode & 0o777).toBe(0o600);
    again.close();
  });

  it("keeps LAN-mode history until the registry has it", () => {
    const dir = tempDir();
    const box = LanOutbox.open(dir, "alice");
    box.addHistory({ ...msg("h1", "bob"), deliveredAt: 2 });
    box.addHistory({ ...msg("h2", "bob"), deliveredAt: 3 });
    box.addHistory({ ...msg("h1", "bob"), deliveredAt: 2 });
    expect(box.history().map((h) => h.id)).toEqual(["h1", "h2"]);
    box.removeHistory(["h1"]);
    expect(box.history().map((h) => h.id)).toEqual(["h2"]);
    box.close();
  });
});
