/**
 * What the `hallway` command's parts share about the process: whether output is JSON (set
 * from `--json` before parsing, and by each command's own `--json`), and stopping on signals.
 */

/** `json`: errors and summaries as JSON events (`--json`). */
export const output = { json: process.argv.includes("--json") };

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
