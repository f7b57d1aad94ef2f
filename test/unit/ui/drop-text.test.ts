/**
 * The drop box in plain words (src/ui/drop-text.ts), the path a transfer took in its lines
 * (src/ui/transfer-text.ts), and `/send #group` (src/ui/send-command.ts).
 */

import { describe, expect, it } from "vitest";
import type { TransferEvent } from "../../../src/peer/index.js";
import type { DropInfo } from "../../../src/protocol/drop.js";
import { dropLine, dropsText } from "../../../src/ui/drop-text.js";
import { parseSend } from "../../../src/ui/send-command.js";
import { FolderLines } from "../../../src/ui/transfer-text.js";
import { createModel } from "../../../src/ui/tui/model.js";
import { applyEvent, openBuffer } from "../../../src/ui/tui/reducers.js";

const drop: DropInfo = {
  id: "0123456789abcdef01234567",
  from: "alice",
  to: "#ops",
  name: "plan.pdf",
  size: 2 * 1024 * 1024,
  sha256: "a".repeat(64),
  at: 1_800_000_000_000,
  state: "stored",
};

describe("drop box text", () => {
  it("announces a waiting file with its sender, group, size and short id", () => {
    expect(dropLine(drop)).toBe(
      'alice left "plan.pdf" (2.0 MB) in #ops in the drop box (01234567); fetching it',
    );
    expect(dropLine({ ...drop, to: "bob" })).toBe(
      'alice left "plan.pdf" (2.0 MB) in the drop box (01234567); fetching it',
    );
    // The registry already had it: nothing to upload.
    expect(dropLine({ ...drop, from: "" })).toBe(
      '"plan.pdf" (2.0 MB) for #ops: the registry already holds it; nothing to upload',
    );
  });

  it("lists what you sent (and who has not taken it) and what waits for you", () => {
    expect(
      dropsText(
        [
          { ...drop, from: "me", waiting: ["bob", "carol"] },
          { ...drop, id: "f".repeat(24), state: "uploading", waiting: [] },
        ],
        [drop],
      ).split("\n"),
    ).toEqual([
      '  01234567 → #ops "plan.pdf" 2.0 MB waiting for bob, carol',
      '  ffffffff → #ops "plan.pdf" 2.0 MB uploading',
      '  01234567 ← alice "plan.pdf" 2.0 MB',
    ]);
    expect(dropsText([], [])).toBe("  (the drop box holds nothing of yours)");
  });

  it("says when a transfer went through the registry, and not when it went peer to peer", () => {
    const e: TransferEvent = {
      event: "transfer",
      id: "t1234567",
      n: 4,
      direction: "receive",
      state: "done",
      peer: "alice",
      name: "plan.pdf",
      size: 10,
      bytes: 10,
      sha256: "a".repeat(64),
      path: "/dl/plan.pdf",
    };
    const lines = new FolderLines();
    expect(lines.line({ ...e, via: "registry", drop: drop.id })).toBe(
      '#4 saved "plan.pdf" from alice to /dl/plan.pdf (via the registry\'s drop box)',
    );
    expect(lines.line(e)).toBe('#4 saved "plan.pdf" from alice to /dl/plan.pdf');
  });

  it("takes #group as a recipient of /send", () => {
    const exists = (p: string) => p === "/work/a.txt";
    expect(parseSend("#ops a.txt", { home: "/home/ann", cwd: "/work", exists })).toEqual({
      to: ["#ops"],
      paths: ["/work/a.txt"],
    });
    expect(parseSend("bob,#ops a.txt", { home: "/home/ann", cwd: "/work", exists })).toEqual({
      to: ["bob", "#ops"],
      paths: ["/work/a.txt"],
    });
  });

  it("tells a group's file, and the upload to a group, in the group's buffer of the terminal UI", () => {
    const m = createModel("bob");
    const ops = openBuffer(m, "group", "ops");
    const T = 1_800_000_000_000;
    applyEvent(m, { event: "drop", drop }, T);
    const upload: TransferEvent = {
      event: "transfer",
      id: "u1234567",
      n: 2,
      direction: "send",
      state: "done",
      peer: "#ops",
      name: "notes.txt",
      size: 5,
      bytes: 5,
      sha256: "b".repeat(64),
      via: "registry",
      drop: "f".repeat(24),
    };
    applyEvent(m, upload, T);
    expect(m.buffers[ops]?.lines.map((l) => l.text).slice(-2)).toEqual([
      'alice left "plan.pdf" (2.0 MB) in #ops in the drop box (01234567); fetching it',
      '#2 sent "notes.txt" to #ops (via the registry\'s drop box)',
    ]);
  });
});
