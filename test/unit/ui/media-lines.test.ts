/**
 * Received media in the interactive UIs, without a terminal: the media line (what the file
 * is, its size, `/open N`), the preview drawn as half-block cells in 256 colours under it
 * when the pane is wide enough, Alt+I toggling it, names from peers kept harmless, and
 * `/open` handing the path to the opener as one argument (never a shell) or saying there
 * is none.
 */

import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HallwayError } from "../../../src/errors.js";
import { decodePreview } from "../../../src/media/index.js";
import type { TransferEvent } from "../../../src/peer/index.js";
import { findOpener, openFile } from "../../../src/ui/open-file.js";
import { mediaLine } from "../../../src/ui/transfer-text.js";
import { frame, HALF_BLOCK, plainText } from "../../../src/ui/tui/frame.js";
import { handleKey, type KeyContext } from "../../../src/ui/tui/keys.js";
import { createModel, type Model } from "../../../src/ui/tui/model.js";
import { applyEvent, previewReady, switchTo } from "../../../src/ui/tui/reducers.js";
import { rowText } from "../../../src/ui/tui/render.js";
import { encodePng, quadrants } from "../media/encode.js";

const T0 = Date.UTC(2026, 0, 5, 9, 30);

function done(over: Partial<TransferEvent> = {}): TransferEvent {
  return {
    event: "transfer",
    id: "t7",
    n: 7,
    direction: "receive",
    state: "done",
    peer: "bob",
    name: "cat.png",
    size: 1234,
    bytes: 1234,
    sha256: "0".repeat(64),
    path: "/home/alice/Downloads/cat.png",
    media: { kind: "image", format: "png", width: 64, height: 48 },
    ...over,
  };
}

function received(): Model {
  const m = createModel("alice");
  applyEvent(
    m,
    { event: "message", id: "m1", from: "bob", to: "alice", text: "a cat", via: "direct", sentAt: T0 },
    T0,
  );
  switchTo(m, 1);
  applyEvent(m, done(), T0);
  return m;
}

function keys(m: Model): KeyContext {
  return {
    model: m,
    commands: [],
    pane: () => ({ cols: 80, rows: 20 }),
    submit: () => {},
    quit: () => {},
    loadOlder: () => {},
    completeArgument: () => undefined,
    now: () => T0,
  };
}

const PIXELS = decodePreview(encodePng(64, 48, quadrants(64, 48)));

describe("media lines", () => {
  it("a received image gets a line with its size and dimensions and /open N; other files none", () => {
    const m = received();
    const texts = m.buffers[1]?.lines.map((l) => l.text);
    expect(texts?.slice(-2)).toEqual([
      '#7 saved "cat.png" from bob to /home/alice/Downloads/cat.png',
      '#7 "cat.png": PNG image, 64×48, 1.2 KB (/open 7)',
    ]);
    expect(mediaLine(done({ media: { kind: "video", format: "mp4", durationMs: 61_000 } }))).toBe(
      '#7 "cat.png": MP4 video, 1:01, 1.2 KB (/open 7)',
    );
    const { media: _none, ...plain } = done();
    expect(mediaLine(plain)).toBeUndefined();
    expect(mediaLine(done({ direction: "send" }))).toBeUndefined();
  });

  it("a peer's name cannot drive the terminal: quoted, control characters escaped", () => {
    const line = mediaLine(done({ name: "\u001b[2J\u0007evil\n.png" })) as string;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
    expect(line).not.toMatch(/[\u0000-\u001f]/);
    expect(line).toContain('"\\u001b[2J\\u0007evil\\n.png"');
  });
});

describe("the preview in the conversation pane", () => {
  it("is half-block cells in 256 colours under the media line, and Alt+I hides and shows it", () => {
    const m = received();
    expect(PIXELS).toMatchObject({ width: 43, height: 32 });
    expect(previewReady(m, 7, PIXELS as NonNullable<typeof PIXELS>)).toBe(true);
    const rows = frame(m, 100, 40, T0);
    const text = plainText(rows).split("\n");
    const cellRows = text.filter((r) => r.includes(HALF_BLOCK.repeat(43)));
    expect(cellRows).toHaveLength(16);
    // Red over red in the top-left quadrant, blue over blue at the bottom-left.
    const drawn = rows.map(rowText).join("\n");
    expect(drawn).toContain("\x1b[38;5;196m\x1b[48;5;196m");
    expect(drawn).toContain("\x1b[38;5;21m\x1b[48;5;21m");
    handleKey(keys(m), undefined, { full: "M-i" });
    expect(plainText(frame(m, 100, 40, T0))).not.toContain(HALF_BLOCK);
    handleKey(keys(m), undefined, { full: "M-i" });
    expect(plainText(frame(m, 100, 40, T0))).toContain(HALF_BLOCK);
  });

  it("shrinks to a narrower pane, and is left out of one too narrow for it", () => {
    const m = received();
    previewReady(m, 7, PIXELS as NonNullable<typeof PIXELS>);
    // 60 columns: an 18-column contacts pane, and 24 columns of the conversation for cells.
    const narrow = plainText(frame(m, 60, 40, T0));
    expect(narrow).toContain(HALF_BLOCK.repeat(23));
    expect(narrow).not.toContain(HALF_BLOCK.repeat(44));
    expect(plainText(frame(m, 40, 40, T0))).not.toContain(HALF_BLOCK);
  });

  it("a preview for a line that is gone changes nothing", () => {
    const m = createModel("alice");
    expect(previewReady(m, 3, PIXELS as NonNullable<typeof PIXELS>)).toBe(false);
  });
});

describe("/open", () => {
  it("hands the path to the opener as one argument, however it is named", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hallway-open-"));
    const log = join(dir, "argv");
    const opener = join(dir, "xdg-open");
    writeFileSync(opener, `#!/bin/sh\nprintf '%s\\n' "$#" "$@" > '${log}'\n`);
    chmodSync(opener, 0o755);
    expect(findOpener(dir, "linux")).toBe(opener);
    const name = join(dir, "a cat; rm -rf $HOME `x`.png");
    expect(openFile(name, opener)).toBe("xdg-open");
    for (let i = 0; i < 100; i++) {
      try {
        if (readFileSync(log, "utf8") !== "") break;
      } catch {
        // not written yet
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(readFileSync(log, "utf8")).toBe(`1\n${name}\n`);
  });

  it("says in one line that there is no opener, with the stable code", () => {
    expect(findOpener("", "linux")).toBeUndefined();
    expect(() => openFile("/tmp/x.png", undefined)).toThrow(HallwayError);
    try {
      openFile("/tmp/x.png", undefined);
    } catch (err) {
      expect((err as HallwayError).code).toBe("FILE_NO_OPENER");
      expect((err as HallwayError).message).toBe(
        "no program to open files here (xdg-open is not installed); the file is at /tmp/x.png",
      );
    }
  });
});
