/**
 * Sending a folder, on real temporary directories: which files `walkFolder` offers (relative
 * folders kept, symbolic links to outside not followed, unreadable files left out, a bound on
 * the number of files), how a receiver makes the folders (`reserveFolder`, `incomingFolder`:
 * numbered, never through a symbolic link, never outside the root), and the offer's `dir` and
 * `batch` fields as the codec bounds them.
 */

import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { fileControl, MAX_BATCH_FILES } from "../../src/protocol/file-control.js";
import { incomingFolder, reserveFolder } from "../../src/transfers/file-store.js";
import { walkFolder } from "../../src/transfers/folder-walk.js";
import { requireBuild } from "./harness.js";

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "hallway-folder-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) {
    chmodAll(d);
    rmSync(d, { recursive: true, force: true });
  }
});
function chmodAll(d: string): void {
  try {
    chmodSync(d, 0o700);
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) chmodAll(join(d, e.name));
  } catch {
    // Gone already.
  }
}

const isRoot = process.getuid?.() === 0;
/** An unprivileged user: root reads everything, so the unreadable-file case runs as this one. */
const NOBODY = 65534;
const WALKER = join(import.meta.dirname, "../../dist/transfers/folder-walk.js");

/**
 * `walkFolder(root)` in a child process running as NOBODY (the built module, as the CLI runs
 * it). `root` and what should stay readable are handed to NOBODY; the 0o000 entries stay
 * root's.
 */
function walkAsNobody(root: string): { files: Array<{ name: string }>; skipped: Array<{ why: string }> } {
  requireBuild();
  chownSync(root, NOBODY, NOBODY);
  for (const e of readdirSync(root)) {
    if (e === "ok.txt") chownSync(join(root, e), NOBODY, NOBODY);
  }
  const script = `process.setgid(${NOBODY}); process.setuid(${NOBODY});
const { walkFolder } = await import(${JSON.stringify(pathToFileURL(WALKER).href)});
process.stdout.write(JSON.stringify(walkFolder(process.argv[1])));`;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script, root], {
    encoding: "utf8",
  });
  return JSON.parse(out);
}

/** photos/{a.jpg, 2024/b.jpg, 2024/march/c.jpg}, a link inside, a link outside, a link to a folder. */
function photos(): { root: string; outside: string } {
  const base = tmp();
  const root = join(base, "photos");
  mkdirSync(join(root, "2024", "march"), { recursive: true });
  writeFileSync(join(root, "a.jpg"), "a");
  writeFileSync(join(root, "2024", "b.jpg"), "bb");
  writeFileSync(join(root, "2024", "march", "c.jpg"), "ccc");
  const outside = join(base, "secret.txt");
  writeFileSync(outside, "do not send");
  symlinkSync(join(root, "a.jpg"), join(root, "link-inside.jpg"));
  symlinkSync(outside, join(root, "2024", "link-outside.txt"));
  symlinkSync(join(root, "2024"), join(root, "loop"));
  return { root, outside };
}

describe("walkFolder", () => {
  it("offers every regular file with its folder, and follows no link out of the folder", () => {
    const { root } = photos();
    const listing = walkFolder(root);
    expect(listing.name).toBe("photos");
    expect(listing.files.map((f) => [f.dir, f.name, f.size])).toEqual([
      [undefined, "a.jpg", 1],
      [undefined, "link-inside.jpg", 1],
      ["2024", "b.jpg", 2],
      ["2024/march", "c.jpg", 3],
    ]);
    expect(listing.bytes).toBe(7);
    expect(listing.skipped.map((s) => [s.path.slice(root.length + 1), s.why])).toEqual([
      ["loop", "a symbolic link to a folder (not followed)"],
      ["2024/link-outside.txt", "a symbolic link to outside the folder (not followed)"],
    ]);
  });

  it("refuses a folder over the file limit before offering anything, with FILE_TOO_MANY_FILES", () => {
    const root = tmp();
    for (let i = 0; i < 6; i++) writeFileSync(join(root, `f${i}`), "x");
    expect(() => walkFolder(root, { maxFiles: 5 })).toThrow(
      expect.objectContaining({
        code: "FILE_TOO_MANY_FILES",
        message: expect.stringMatching(/more than 5 files/),
      }),
    );
    expect(walkFolder(root, { maxFiles: 6 }).files).toHaveLength(6);
    expect(MAX_BATCH_FILES).toBe(10_000);
  });

  it("refuses a folder one file over the documented limit of 10,000", () => {
    const root = tmp();
    for (let d = 0; d <= 10; d++) {
      mkdirSync(join(root, `d${d}`));
      for (let i = 0; i < (d === 10 ? 1 : 1000); i++) writeFileSync(join(root, `d${d}`, `f${i}`), "");
    }
    expect(() => walkFolder(root)).toThrow(
      expect.objectContaining({
        code: "FILE_TOO_MANY_FILES",
        message: `${root} holds more than 10000 files; send a smaller folder (or an archive of it)`,
      }),
    );
  });

  it("refuses a folder with nothing to send, and a missing one, with FILE_NOT_FOUND", () => {
    const root = tmp();
    mkdirSync(join(root, "empty"));
    expect(() => walkFolder(join(root, "empty"))).toThrow(
      expect.objectContaining({ code: "FILE_NOT_FOUND" }),
    );
    expect(() => walkFolder(join(root, "nope"))).toThrow(expect.objectContaining({ code: "FILE_NOT_FOUND" }));
  });

  it("leaves out unreadable files and folders, saying why (as root: walked by an unprivileged child)", () => {
    const root = tmp();
    writeFileSync(join(root, "ok.txt"), "ok");
    writeFileSync(join(root, "locked.txt"), "no");
    chmodSync(join(root, "locked.txt"), 0o000);
    mkdirSync(join(root, "closed"));
    writeFileSync(join(root, "closed", "x"), "x");
    chmodSync(join(root, "closed"), 0o000);
    const listing = isRoot ? walkAsNobody(root) : walkFolder(root);
    expect(listing.files.map((f) => f.name)).toEqual(["ok.txt"]);
    expect(listing.skipped.map((s) => s.why)).toEqual(["cannot read it (EACCES)", "cannot read it (EACCES)"]);
  });
});

describe("receiving a folder", () => {
  it("gives each received folder a new folder of its name, numbered when taken", () => {
    const inbox = tmp();
    expect(reserveFolder(inbox, "photos")).toBe(join(inbox, "photos"));
    expect(reserveFolder(inbox, "photos")).toBe(join(inbox, "photos (1)"));
    expect(reserveFolder(inbox, "../..")).toBe(join(inbox, "file"));
  });

  it("makes the file's folders under the root, sanitised, and never through a symbolic link", () => {
    const inbox = tmp();
    const root = reserveFolder(inbox, "photos");
    expect(incomingFolder(root, undefined)).toBe(root);
    expect(incomingFolder(root, "2024/march")).toBe(join(root, "2024", "march"));
    expect(incomingFolder(root, "CON/a:b")).toBe(join(root, "_CON", "a_b"));
    const elsewhere = tmp();
    symlinkSync(elsewhere, join(root, "planted"));
    expect(() => incomingFolder(root, "planted/x")).toThrow(
      expect.objectContaining({ code: "FILE_WRITE_FAILED" }),
    );
    expect(readdirSync(elsewhere)).toEqual([]);
  });
});

describe("folder fields of file.offer", () => {
  const offer = {
    t: "file.offer",
    id: "abcdefgh",
    stream: 3,
    name: "c.jpg",
    size: 3,
    sha256: "0".repeat(64),
    batch: { id: "batch-0001", name: "photos", files: 3, bytes: 6 },
  };

  it("carries a relative folder and the folder's description", () => {
    const ok = fileControl.safeParse({ ...offer, dir: "2024/march" });
    expect(ok.success && ok.data).toMatchObject({ dir: "2024/march", batch: offer.batch });
  });

  it("refuses a dir that climbs, is absolute, has empty segments or backslashes, or is too deep", () => {
    for (const dir of [
      "..",
      "a/../b",
      "/etc",
      "a//b",
      "a/",
      "./a",
      "a\\b",
      `${"x/".repeat(32)}y`,
      "é".repeat(600),
    ]) {
      expect(fileControl.safeParse({ ...offer, dir }).success, dir).toBe(false);
    }
  });

  it("refuses a batch over the file limit or with a path for a name", () => {
    expect(
      fileControl.safeParse({ ...offer, batch: { ...offer.batch, files: MAX_BATCH_FILES + 1 } }).success,
    ).toBe(false);
    expect(fileControl.safeParse({ ...offer, batch: { ...offer.batch, name: "a/b" } }).success).toBe(false);
  });

  it("is ignored by a decoder that does not know it (an older receiver sees a plain offer)", () => {
    const { batch: _b, ...plain } = offer;
    expect(fileControl.safeParse({ ...plain, folder: { whatever: 1 } }).success).toBe(true);
  });
});
