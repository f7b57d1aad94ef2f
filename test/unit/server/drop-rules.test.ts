/**
 * The drop box's rules as pure functions: what an upload may take (per-file size, the
 * sender's quota, the total, counted per distinct content), when an entry is over or expired,
 * and what on disk no entry needs.
 */

import { describe, expect, it } from "vitest";
import {
  admitUpload,
  contentBytes,
  DEFAULT_DROP_LIMITS,
  type DropEntry,
  type DropLimits,
  isExpired,
  isFinished,
  partialWanted,
  resolveDrop,
  unreferencedBlobs,
} from "../../../src/server/drop-rules.js";

const MiB = 1024 * 1024;
const DAY = 86_400_000;
const T0 = 1_800_000_000_000;
const LIMITS: DropLimits = {
  maxFileBytes: 100 * MiB,
  perUserBytes: 150 * MiB,
  totalBytes: 250 * MiB,
  retentionMs: 14 * DAY,
};

let next = 0;
function entry(over: Partial<DropEntry> & { from: string; size: number; sha256: string }): DropEntry {
  next++;
  return {
    id: next.toString(16).padStart(24, "0"),
    to: "#ops",
    name: "f.bin",
    at: T0,
    state: "stored",
    waiting: ["bob"],
    got: [],
    declined: [],
    ...over,
  };
}
const sha = (c: string) => c.repeat(64);

describe("drop box rules", () => {
  it("has the documented defaults: 256 MiB per file, 14 days", () => {
    expect(DEFAULT_DROP_LIMITS.maxFileBytes).toBe(256 * MiB);
    expect(DEFAULT_DROP_LIMITS.retentionMs).toBe(14 * DAY);
  });

  it("refuses a file over the per-file limit with FILE_TOO_LARGE", () => {
    const r = admitUpload([], { from: "alice", size: 100 * MiB + 1, sha256: sha("a") }, LIMITS);
    expect(r?.code).toBe("FILE_TOO_LARGE");
    expect(admitUpload([], { from: "alice", size: 100 * MiB, sha256: sha("a") }, LIMITS)).toBeUndefined();
  });

  it("counts each content once: the same file again, or to another group, takes no more quota", () => {
    const held = [entry({ from: "alice", size: 100 * MiB, sha256: sha("a") })];
    expect(contentBytes(held)).toBe(100 * MiB);
    expect(admitUpload(held, { from: "alice", size: 100 * MiB, sha256: sha("a") }, LIMITS)).toBeUndefined();
    // A different 60 MiB would make alice's 160 MiB > 150.
    const r = admitUpload(held, { from: "alice", size: 60 * MiB, sha256: sha("b") }, LIMITS);
    expect(r?.code).toBe("FILE_QUOTA");
    expect(r?.message).toContain("your quota");
  });

  it("reserves what uploads still running will take, so the second is refused before it starts", () => {
    const running = [entry({ from: "alice", size: 90 * MiB, sha256: sha("a"), state: "uploading" })];
    expect(admitUpload(running, { from: "alice", size: 61 * MiB, sha256: sha("b") }, LIMITS)?.code).toBe(
      "FILE_QUOTA",
    );
    expect(admitUpload(running, { from: "alice", size: 60 * MiB, sha256: sha("b") }, LIMITS)).toBeUndefined();
  });

  it("holds the total across senders, each sender within their own quota", () => {
    const held = [
      entry({ from: "alice", size: 100 * MiB, sha256: sha("a") }),
      entry({ from: "bob", size: 100 * MiB, sha256: sha("b") }),
    ];
    const r = admitUpload(held, { from: "carol", size: 51 * MiB, sha256: sha("c") }, LIMITS);
    expect(r?.code).toBe("FILE_QUOTA");
    expect(r?.message).toContain("holds at most");
    // Content someone else already holds adds nothing to the total.
    expect(admitUpload(held, { from: "carol", size: 100 * MiB, sha256: sha("b") }, LIMITS)).toBeUndefined();
  });

  it("checks a resumed upload without itself, and stops it when the limits shrank meanwhile", () => {
    const mine = entry({ from: "alice", size: 100 * MiB, sha256: sha("a"), state: "uploading" });
    const others = [mine, entry({ from: "bob", size: 100 * MiB, sha256: sha("b") })];
    expect(admitUpload(others, mine, LIMITS, mine.id)).toBeUndefined();
    const smaller = { ...LIMITS, totalBytes: 150 * MiB };
    expect(admitUpload(others, mine, smaller, mine.id)?.code).toBe("FILE_QUOTA");
  });

  it("is finished once nobody waits, and expires after retention whether or not", () => {
    const e = entry({ from: "alice", size: 1, sha256: sha("a"), waiting: ["bob"] });
    expect(isFinished(e)).toBe(false);
    expect(isFinished({ ...e, waiting: [], got: ["bob"] })).toBe(true);
    expect(isExpired(e, T0 + 14 * DAY - 1, LIMITS)).toBe(false);
    expect(isExpired(e, T0 + 14 * DAY, LIMITS)).toBe(true);
    // An upload that never finished is given up after a day.
    expect(isExpired({ ...e, state: "uploading" }, T0 + DAY - 1, LIMITS)).toBe(false);
    expect(isExpired({ ...e, state: "uploading" }, T0 + DAY, LIMITS)).toBe(true);
  });

  it("names the blobs and partial uploads no entry needs", () => {
    const entries = [
      entry({ from: "alice", size: 5, sha256: sha("a") }),
      entry({ from: "alice", size: 7, sha256: sha("b"), state: "uploading" }),
    ];
    expect(unreferencedBlobs(entries, [sha("a"), sha("b"), sha("c")])).toEqual([sha("b"), sha("c")]);
    expect(partialWanted(entries, sha("b"), 7)).toBe(true);
    expect(partialWanted(entries, sha("b"), 8)).toBe(false);
    expect(partialWanted(entries, sha("a"), 5)).toBe(false);
  });

  it("finds a drop by the start of its id only when that names one", () => {
    const a = entry({ from: "alice", size: 1, sha256: sha("a"), id: "abcd00000000000000000001" });
    const b = entry({ from: "alice", size: 1, sha256: sha("a"), id: "abcd00000000000000000002" });
    expect(resolveDrop([a, b], "abcd")).toBeUndefined();
    expect(resolveDrop([a, b], "abcd00000000000000000002")).toBe(b);
    expect(resolveDrop([a], "abcd")).toBe(a);
    expect(resolveDrop([a], "ffff")).toBeUndefined();
  });
});
