/** Transfers in plain words, and a folder told once (src/ui/transfer-text.ts). */

import { describe, expect, it } from "vitest";
import type { TransferEvent } from "../../../src/peer/index.js";
import { FolderLines, progressLine, transferLine, transferRowText } from "../../../src/ui/transfer-text.js";

const base: TransferEvent = {
  event: "transfer",
  id: "t1234567",
  n: 3,
  direction: "receive",
  state: "offered",
  peer: "bob",
  name: "x.bin",
  size: 2048,
  bytes: 0,
  sha256: "0".repeat(64),
};
const ev = (over: Partial<TransferEvent>): TransferEvent => ({ ...base, ...over });

describe("transferLine", () => {
  it("says who did what, with the number to answer by", () => {
    expect(transferLine(base)).toBe('#3 bob offers "x.bin" (2.0 KB): /accept 3 or /decline 3');
    expect(transferLine(ev({ direction: "send" }))).toBe(
      '#3 offering "x.bin" (2.0 KB) to bob (/cancel 3 stops it)',
    );
    expect(transferLine(ev({ state: "done", path: "/dl/x.bin" }))).toBe(
      '#3 saved "x.bin" from bob to /dl/x.bin',
    );
    expect(transferLine(ev({ state: "failed", code: "FILE_DECLINED", by: "local" }))).toBe(
      '#3 you declined "x.bin" from bob',
    );
    expect(transferLine(ev({ direction: "send", state: "failed", code: "FILE_DECLINED", by: "peer" }))).toBe(
      '#3 bob declined "x.bin"',
    );
    expect(transferLine(ev({ state: "cancelled", code: "FILE_CANCELLED", by: "peer" }))).toBe(
      '#3 "x.bin" cancelled by bob',
    );
    expect(transferLine(ev({ state: "cancelled", code: "FILE_CANCELLED", by: "local" }))).toBe(
      '#3 you cancelled "x.bin"',
    );
    expect(transferLine(ev({ state: "failed", code: "FILE_OFFER_EXPIRED", by: "peer" }))).toBe(
      '#3 nobody answered the offer of "x.bin" in time',
    );
    expect(transferLine(ev({ state: "progress" }))).toBeUndefined();
    // A hostile name cannot drive the terminal: it is shown JSON-quoted.
    expect(transferLine(ev({ name: "a\u001b[2Jb" }))).toContain('"a\\u001b[2Jb"');
  });
});

describe("a folder", () => {
  const batch = {
    id: "b1234567",
    name: "photos",
    files: 2,
    bytes: 10,
    filesDone: 0,
    filesEnded: 0,
    bytesDone: 0,
  };
  it("gets one line for its offer, its answer and its end, and one for a file that failed alone", () => {
    const lines = new FolderLines();
    const said = [
      ev({ batch, name: "a.jpg" }),
      ev({ batch, name: "b.jpg", dir: "2024" }),
      ev({ batch, state: "accepted" }),
      ev({ batch, state: "accepted", name: "b.jpg" }),
      ev({ batch, state: "progress" }),
      ev({
        batch: { ...batch, filesEnded: 1 },
        name: "b.jpg",
        dir: "2024",
        state: "failed",
        code: "FILE_HASH_MISMATCH",
        message: "hash differs",
      }),
      ev({
        batch: { ...batch, filesDone: 1, filesEnded: 2, path: "/dl/photos" },
        state: "done",
        name: "a.jpg",
      }),
      ev({ batch: { ...batch, filesDone: 1, filesEnded: 2 }, state: "done" }),
    ].map((e) => lines.line(e));
    expect(said.filter(Boolean)).toEqual([
      '#3 bob offers folder "photos" (2 files, 10 B): /accept 3 or /decline 3',
      '#3 receiving folder "photos" from bob',
      '#3 "photos/2024/b.jpg" from bob failed: hash differs (FILE_HASH_MISMATCH)',
      '#3 saved folder "photos" from bob to /dl/photos (1 of 2 files)',
    ]);
  });

  it("ends at the first decline, once", () => {
    const lines = new FolderLines();
    const declined = ev({ batch, state: "failed", code: "FILE_DECLINED", by: "local" });
    expect(lines.line(declined)).toBe('#3 you declined folder "photos" from bob');
    expect(lines.line({ ...declined, name: "b.jpg" })).toBeUndefined();
  });
});

describe("/files rows and the progress line", () => {
  it("show number, direction, peer, name and how far", () => {
    const row = {
      n: 4,
      direction: "send" as const,
      peer: "carol",
      name: "photos",
      state: "progress" as const,
      size: 200,
      bytes: 50,
      files: 12,
      filesDone: 3,
    };
    expect(transferRowText(row)).toBe('  #4 → carol "photos" 200 B 3/12 files 25%');
    expect(transferRowText({ ...row, state: "offered", files: undefined })).toBe(
      '  #4 → carol "photos" 200 B waiting for an answer',
    );
    expect(progressLine([row, { ...row, n: 5, direction: "receive", peer: "bob", files: undefined }])).toBe(
      "#4 →carol 25% 3/12  #5 ←bob 25%",
    );
  });
});
