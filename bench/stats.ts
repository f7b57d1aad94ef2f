import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
/** Small helpers shared by the benchmarks: percentiles and the machine description. */

import { cpus } from "node:os";

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

export function machine(): { node: string; cpu: string; cores: number } {
  return { node: process.version, cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length };
}

/** Writes a bench's JSON document to bench/results/<name>.json and prints it on stdout. */
export function publish(name: string, result: unknown): void {
  const out = JSON.stringify(result, null, 2);
  const dir = join(import.meta.dirname, "../../bench/results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), `${out}\n`);
  process.stdout.write(`${out}\n`);
}
