/**
 * What both composition roots share about the process: stdout as JSON lines (one writer per
 * process, for the events of `hallway client --json` and the last words of a fatal error),
 * and stopping on signals.
 */

import { systemRuntime } from "../net/system-runtime.js";
import { JsonLineWriter } from "../ui/json-lines.js";

/** `process.stdout` first: for a pipe, that makes the descriptor non-blocking. */
export const stdoutLines = new JsonLineWriter(process.stdout.fd, systemRuntime);

/** SIGINT and SIGTERM run `stop`, then exit; returns what removes the handlers again. */
export function onSignals(stop: () => Promise<void>): () => void {
  let stopping = false;
  const handler = () => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}
