import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
/** Small helpers shared by the benchmarks: percentiles and the machine description. */

import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";

export function percentile(sortedMs: number[], p: number): number {
  if (sortedMs.length === 0) return Number.NaN;
  const i = Math.min(sortedMs.length - 1, Math.max(0, Math.ceil((p / 100) * sortedMs.length) - 1));
  return sortedMs[i] as number;
}

export function summarize(samplesMs: number[]): {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
} {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return {
    samples: sorted.length,
    p50Ms: r(percentile(sorted, 50)),
    p99Ms: r(percentile(sorted, 99)),
    meanMs: r(mean),
  };
}

export function machine(): { node: string; cpu: string; cores: number; loadAverage: number[] } {
  return {
    node: process.version,
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    // The machine is shared: the 1, 5 and 15 minute load averages when the run started.
    loadAverage: loadAverage(),
  };
}

export function loadAverage(): number[] {
  return loadavg().map((x) => Math.round(x * 100) / 100);
}

/** CPU time (user + system) a process has used so far, in ms, from /proc (Linux). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** Resident set size of a process, in MB, from /proc (Linux). */
export function processRssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : Number.NaN;
}

/** USER_HZ: 100 on every Linux this runs on (`getconf CLK_TCK`). */
const CLOCK_TICKS_PER_SECOND = 100;

/** Writes a bench's JSON document to bench/results/<name>.json and prints it on stdout. */
export function publish(name: string, result: unknown): void {
  const out = JSON.stringify(result, null, 2);
  const dir = join(import.meta.dirname, "../../bench/results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), `${out}\n`);
  process.stdout.write(`${out}\n`);
}
