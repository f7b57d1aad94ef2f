/**
 * The worker thread that decodes one preview (preview-runner.ts starts it): reads the file
 * (at most MAX_FILE_BYTES), decodes it, posts the pixels or null, and ends. Running here keeps
 * a slow or hostile image off the UI's event loop; the runner kills it at its deadline.
 */

import { readFileSync, statSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { decodePreview } from "./preview.js";
import type { DecodeLimits } from "./refusal.js";

const { path, limits, maxFileBytes } = workerData as {
  path: string;
  limits: DecodeLimits;
  maxFileBytes: number;
};

let result = null;
try {
  if (statSync(path).size <= maxFileBytes) result = decodePreview(readFileSync(path), limits) ?? null;
} catch {
  result = null;
}
parentPort?.postMessage(result);
