/**
 * A bare `hallway` opens the terminal UI only when both its input and output are a
 * terminal (the tmux test covers that side); piped, it runs line mode instead of letting
 * blessed draw into a pipe. Real processes, a real registry on loopback.
 */

import { afterAll, expect, it } from "vitest";
import { hallway, killAll, requireBuild, startRegistry, tempDir } from "./harness.js";

const PASSWORD = "correct horse battery staple";

afterAll(killAll);

it("a bare hallway with piped input and output runs line mode, registers and leaves", async () => {
  requireBuild();
  const { port } = await startRegistry(tempDir("bare-registry"));
  const p = hallway(
    "bare",
    ["--server", `127.0.0.1:${port}`, "--user", "alice", "--data", tempDir("bare-alice")],
    { HALLWAY_HOME: tempDir("bare-home"), HALLWAY_PASSWORD: PASSWORD },
  );
  // "y" answers the offer to register the unknown name before it is asked; then input ends.
  p.child.stdin?.end("y\n");
  expect(await p.waitExit("end of input")).toBe(0);
  const out = p.events.map((e) => String(e.line ?? "")).join("\n");
  expect(out).toContain("No account 'alice' yet. Register it? [Y/n] y");
  expect(out).toContain("* logged in as alice");
  expect(out).toMatch(/\* bye$/);
  // No full-screen escape sequences (alternate screen, cursor addressing) went into the pipe.
  expect(out).not.toContain("\u001b[");
  expect(p.stderr).toEqual([]);
});
