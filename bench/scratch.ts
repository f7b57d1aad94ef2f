/** A benchmark's temp directories and child processes, all gone after `cleanUp()`. */

import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const children: ChildProcess[] = [];
const dirs: string[] = [];

/** A fresh temp directory, removed by `cleanUp()`. */
export function tmp(name: string): string {
  const d = mkdtempSync(join(tmpdir(), `hallway-bench-${name}-`));
  dirs.push(d);
  return d;
}

/** Killed by `cleanUp()` if still running. */
export function adopt(child: ChildProcess): ChildProcess {
  children.push(child);
  return child;
}

export function cleanUp(): void {
  for (const c of children) c.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
