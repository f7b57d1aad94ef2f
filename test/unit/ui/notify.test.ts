import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { desktopNotify, findNotifySend } from "../../../src/ui/tui/notify.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), "hallway-notify-"));
  dirs.push(d);
  return d;
}

describe("desktop notifications", () => {
  it("finds notify-send on the PATH only when it is there and executable", () => {
    const empty = dir();
    const withIt = dir();
    const script = join(withIt, "notify-send");
    writeFileSync(script, "#!/bin/sh\n");
    expect(findNotifySend([empty, withIt].join(delimiter))).toBeUndefined();
    chmodSync(script, 0o755);
    expect(findNotifySend([empty, withIt].join(delimiter))).toBe(script);
    expect(findNotifySend("")).toBeUndefined();
  });

  it("hands the title and a bounded body to notify-send, after '--' so a body never reads as an option", async () => {
    const d = dir();
    const out = join(d, "args");
    const script = join(d, "notify-send");
    writeFileSync(script, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > '${out}'\n`);
    chmodSync(script, 0o755);
    desktopNotify(script, "bob", `--urgency=critical ${"x".repeat(300)}`);
    const deadline = Date.now() + 10_000;
    while (!existsSync(out) || !readFileSync(out, "utf8").includes("\n--urgency")) {
      if (Date.now() > deadline) throw new Error("notify-send stand-in never ran");
      await new Promise((r) => setTimeout(r, 50));
    }
    const args = readFileSync(out, "utf8").split("\n");
    expect(args.slice(0, 3)).toEqual(["--app-name=Hallway", "--", "bob"]);
    expect(args[3]?.startsWith("--urgency=critical xxx")).toBe(true);
    expect(args[3]?.length).toBe(200);
    expect(args[3]?.endsWith("…")).toBe(true);
  });

  it("a notify-send that cannot run costs nothing", () => {
    expect(() => desktopNotify(join(dir(), "missing"), "bob", "hi")).not.toThrow();
  });
});
