#!/usr/bin/env node
/**
 * `npm start` runs this first: it compiles (`npm run build`) only when a source file is
 * newer than its compiled file, or a compiled file is missing, or the compiler settings
 * changed since the last build. A built tree then starts without running tsc (seconds).
 */

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(repo, "src");
const dist = join(repo, "dist");

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sources(join(dir, d.name)) : d.name.endsWith(".ts") ? [join(dir, d.name)] : [],
  );
}

function stale() {
  const cli = join(dist, "cli.js");
  if (!existsSync(cli)) return "no build yet";
  const settings = ["tsconfig.json", "tsconfig.build.json"].map((f) => statSync(join(repo, f)).mtimeMs);
  if (Math.max(...settings) > statSync(cli).mtimeMs) return "the compiler settings changed";
  for (const file of sources(src)) {
    const out = join(dist, relative(src, file).replace(/\.ts$/, ".js"));
    if (!existsSync(out) || statSync(file).mtimeMs > statSync(out).mtimeMs) {
      return `${relative(repo, file)} changed`;
    }
  }
  return undefined;
}

const why = stale();
if (why !== undefined) {
  process.stderr.write(`hallway: building (${why})\n`);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const run = spawnSync(npm, ["run", "--silent", "build"], { cwd: repo, stdio: "inherit" });
  process.exit(run.status ?? 1);
}
