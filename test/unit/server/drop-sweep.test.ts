/**
 * The drop box's retention sweep on a real folder, with its clock set by the test: entries
 * past retention go with their blobs, blobs and partial uploads that no entry needs go (a
 * manifest save cut short by a kill too), and what an entry still needs stays, across a
 * restart (the index is read back from disk).
 */

import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RangeSet } from "../../../src/files/range-set.js";
import { encodeManifest } from "../../../src/files/transfer-manifest.js";
import { systemRuntime } from "../../../src/net/system-runtime.js";
import { UdpHost } from "../../../src/net/udp-host.js";
import { generateIdentity } from "../../../src/protocol/noise.js";
import { DropBox } from "../../../src/server/drop-box.js";
import type { DropEntry } from "../../../src/server/drop-rules.js";
import { DEFAULT_DROP_LIMITS } from "../../../src/server/drop-rules.js";

const DAY = 86_400_000;
const T0 = 1_800_000_000_000;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const sha = (c: string) => c.repeat(64);
function entry(id: string, over: Partial<DropEntry>): DropEntry {
  return {
    id: id.repeat(24),
    from: "alice",
    to: "#ops",
    name: "f.bin",
    size: 10,
    sha256: sha("a"),
    at: T0,
    state: "stored",
    waiting: ["bob"],
    got: [],
    declined: [],
    ...over,
  };
}

function manifest(sha256: string, size: number): Uint8Array {
  return encodeManifest({
    sizeBytes: size,
    sha256: new Uint8Array(Buffer.from(sha256, "hex")),
    have: new RangeSet(size),
  });
}

function dropBox(dir: string, now: () => number, log: string[] = []): DropBox {
  return new DropBox({
    host: new UdpHost({
      identity: generateIdentity((n) => new Uint8Array(randomBytes(n))),
      acceptIncoming: true,
    }),
    dir,
    limits: DEFAULT_DROP_LIMITS,
    store: {
      getUser: async () => undefined,
      getGroup: async () => undefined,
      groupMembers: async () => [],
    },
    mayTalk: async () => {},
    push: () => {},
    isOnline: () => false,
    runtime: systemRuntime,
    wall: now,
    log: (line) => log.push(line),
  });
}

describe("drop box sweep", () => {
  it("deletes what retention and the entries no longer need, and keeps the rest across a restart", () => {
    const dir = mkdtempSync(join(tmpdir(), "hallway-drop-"));
    dirs.push(dir);
    const blobs = join(dir, "blobs");
    const incoming = join(dir, "incoming");
    mkdirSync(blobs, { recursive: true });
    mkdirSync(incoming, { recursive: true });
    const entries = [
      entry("1", { sha256: sha("a"), at: T0 - 15 * DAY }), // past retention
      entry("2", { sha256: sha("b"), at: T0 - DAY }), // kept, with its blob
      entry("3", { sha256: sha("c"), state: "uploading", at: T0 - DAY / 2 }), // its partial stays
      entry("4", { sha256: sha("e"), state: "uploading", at: T0 - 2 * DAY }), // an upload given up
    ];
    writeFileSync(join(dir, "index.json"), JSON.stringify({ version: 1, entries }));
    for (const c of ["a", "b", "d"]) writeFileSync(join(blobs, sha(c)), "0123456789");
    writeFileSync(join(incoming, "up.bin.part"), "01234");
    writeFileSync(join(incoming, "up.bin.part.manifest"), manifest(sha("c"), 10));
    writeFileSync(join(incoming, "old.bin.part"), "01234");
    writeFileSync(join(incoming, "old.bin.part.manifest"), manifest(sha("e"), 10));
    writeFileSync(join(incoming, "gone.bin.part"), "01234");
    writeFileSync(join(incoming, "gone.bin.part.manifest"), manifest(sha("f"), 10));
    writeFileSync(join(incoming, "gone.bin.part.manifest.tmp-async"), "torn");
    writeFileSync(join(incoming, "torn.bin.part.manifest.tmp-async"), "torn");

    const log: string[] = [];
    dropBox(dir, () => T0, log).sweep();

    expect(readdirSync(blobs)).toEqual([sha("b")]);
    expect(readdirSync(incoming).sort()).toEqual(["up.bin.part", "up.bin.part.manifest"]);
    const kept = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as { entries: DropEntry[] };
    expect(kept.entries.map((e) => e.id[0])).toEqual(["2", "3"]);
    expect(log.filter((l) => l.includes("expired"))).toHaveLength(2);

    // Read back after a restart; hours later nothing more has expired.
    dropBox(dir, () => T0 + DAY / 4).sweep();
    expect(readdirSync(blobs)).toEqual([sha("b")]);
    expect(readdirSync(incoming)).toHaveLength(2);
    // A day after it was announced, the unfinished upload is given up.
    dropBox(dir, () => T0 + DAY / 2).sweep();
    expect(readdirSync(incoming)).toEqual([]);
    // Two weeks after they were sent, the rest goes too.
    dropBox(dir, () => T0 + 13 * DAY).sweep();
    expect(readdirSync(blobs)).toEqual([]);
  });

  it("sets a damaged index aside and starts empty, its blobs then swept", () => {
    const dir = mkdtempSync(join(tmpdir(), "hallway-drop-"));
    dirs.push(dir);
    mkdirSync(join(dir, "blobs"), { recursive: true });
    writeFileSync(join(dir, "index.json"), '{"version":1,"entries":[{"id":');
    writeFileSync(join(dir, "blobs", sha("a")), "x");
    const log: string[] = [];
    dropBox(dir, () => T0, log).sweep();
    expect(readdirSync(dir).some((f) => f.startsWith("index.json.damaged-"))).toBe(true);
    expect(readdirSync(join(dir, "blobs"))).toEqual([]);
    expect(log.some((l) => l.includes("is damaged"))).toBe(true);
  });
});
