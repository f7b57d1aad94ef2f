/**
 * Previews off the UI thread: each decode runs in a worker thread with a deadline and a
 * heap limit, one at a time (a burst of received images queues, so at most one decode's
 * memory is held). A worker that misses its deadline is terminated: no preview, and the UI
 * never waited for it. The deadline is a timer of the caller's runtime.
 */

import { Worker } from "node:worker_threads";
import type { Runtime } from "../runtime.js";
import type { PreviewPixels } from "./downscale.js";
import { DEFAULT_LIMITS } from "./preview.js";
import type { DecodeLimits } from "./refusal.js";

/** A decode that takes longer is given up (a 40 MP JPEG takes about a second on a laptop). */
export const PREVIEW_DEADLINE_MS = 5000;
/** Larger files are not read for a preview (the file line still shows their size and dimensions). */
export const MAX_PREVIEW_FILE_BYTES = 64 * 1024 * 1024;

export interface PreviewOptions {
  limits?: DecodeLimits;
  deadlineMs?: number;
  maxFileBytes?: number;
}

let queue: Promise<unknown> = Promise.resolve();

/** The preview of the image at `path`, or undefined (not decodable, over a budget, too slow). */
export function previewFile(
  path: string,
  runtime: Pick<Runtime, "after">,
  opts: PreviewOptions = {},
): Promise<PreviewPixels | undefined> {
  const run = queue.then(() => decodeInWorker(path, runtime, opts));
  queue = run.catch(() => {});
  return run;
}

function decodeInWorker(
  path: string,
  runtime: Pick<Runtime, "after">,
  opts: PreviewOptions,
): Promise<PreviewPixels | undefined> {
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      worker = new Worker(new URL("./preview-worker.js", import.meta.url), {
        workerData: {
          path,
          limits: opts.limits ?? DEFAULT_LIMITS,
          maxFileBytes: opts.maxFileBytes ?? MAX_PREVIEW_FILE_BYTES,
        },
        resourceLimits: { maxOldGenerationSizeMb: 96, maxYoungGenerationSizeMb: 16 },
        stdout: true,
        stderr: true,
      });
    } catch {
      resolve(undefined);
      return;
    }
    let settled = false;
    const finish = (v: PreviewPixels | undefined): void => {
      if (settled) return;
      settled = true;
      timer.cancel();
      void worker.terminate().catch(() => {});
      resolve(v);
    };
    // A decode never keeps the process alive: quitting the UI does not wait for it.
    const timer = runtime.after(opts.deadlineMs ?? PREVIEW_DEADLINE_MS, () => finish(undefined), {
      weak: true,
    });
    worker.unref();
    worker.once("message", (v: PreviewPixels | null) => finish(v ?? undefined));
    worker.once("error", () => finish(undefined));
    worker.once("exit", () => finish(undefined));
  });
}
