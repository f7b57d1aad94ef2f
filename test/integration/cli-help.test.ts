/** The command line as a newcomer meets it: --version, `hallway help [command]`, defaults shown once. */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { hallway, requireBuild, tempDir } from "./harness.js";

beforeAll(requireBuild);

const VERSION = (
  JSON.parse(readFileSync(join(import.meta.dirname, "../../package.json"), "utf8")) as { version: string }
).version;

/** stdout, stderr and the exit status of one run. */
async function run(args: string[], env: Record<string, string> = {}) {
  const p = hallway("cli", args, env);
  const out: string[] = [];
  p.child.stdout?.on("data", (b: Buffer) => out.push(b.toString()));
  const code = await p.waitExit(args.join(" "));
  return { stdout: out.join(""), stderr: p.stderr, code };
}

describe("help and version", () => {
  it("--version prints the package version", async () => {
    expect(await run(["--version"])).toMatchObject({ stdout: `${VERSION}\n`, code: 0 });
  });

  it("hallway help [command…] shows the help of that command; an unknown one is one line, status 2", async () => {
    const top = await run(["help"]);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/^Usage: hallway \[options\] \[command\]/);
    const exp = await run(["help", "server", "export"]);
    expect(exp).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: hallway server export/) });
    expect(await run(["help", "nosuch"])).toMatchObject({
      code: 2,
      stdout: "",
      stderr: ["hallway: hallway has no command 'nosuch' (hallway help lists them)"],
    });
  });

  it("--help names HALLWAY_PASSWORD and the real default folders, and prints each default once", async () => {
    const home = tempDir("help-home");
    const downloads = join(home, "dl");
    const client = await run(["client", "--help"], { HALLWAY_HOME: home, XDG_DOWNLOAD_DIR: downloads });
    expect(client.code).toBe(0);
    const flat = client.stdout.replace(/\s+/g, " ");
    expect(flat).toContain("HALLWAY_PASSWORD");
    expect(flat).toContain(`(default: ${home})`);
    expect(flat).toContain(`(default: ${downloads})`);
    const serverHelp = (await run(["server", "--help"], { HALLWAY_HOME: home })).stdout;
    const server = serverHelp.replace(/\s+/g, " ");
    expect(server).toContain(`(default: ${join(home, "registry")})`);
    expect(server.match(/7743/g)).toHaveLength(1);
    // One entry per option (a line starting with "  -", and its continuation lines).
    for (const help of [client.stdout, serverHelp]) {
      for (const entry of help.split(/\n(?= {2}-)/))
        expect(entry.match(/\(default/g)?.length ?? 0, entry).toBeLessThan(2);
    }
  });
});
